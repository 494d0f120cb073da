//! Horizontal bars from zero, one per entry: `compare`'s counter passes.

use std::fmt::Write as _;

use super::{Frame, Layout, escape, open_svg};

pub struct Bar {
    pub name: String,
    pub color: &'static str,
    pub value: Option<f64>,
}

/// Horizontal bars from zero, one per entry, with the value written beside each.
pub fn bar_chart(label: &str, bars: &[Bar], format: fn(f64) -> String) -> String {
    let Frame { width, top, bottom, .. } = Layout::Wide.frame();
    let row = 26.0;
    let height = top + (Layout::Wide.frame().height - bottom) / 2.0 + row * bars.len().max(1) as f64;
    let (left, right) = (190.0, width - 120.0);
    let mut out = String::new();
    open_svg(&mut out, width, height, label);
    let max = bars.iter().filter_map(|b| b.value).filter(|v| v.is_finite()).fold(0.0, f64::max);
    for (i, bar) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let value = bar.value.filter(|v| v.is_finite()).unwrap_or(0.0);
        let width = if max > 0.0 { (value / max) * (right - left) } else { 0.0 };
        let text = bar.value.map_or_else(|| "-".into(), format);
        let _ = write!(
            out,
            r#"<text x="{}" y="{:.1}" class="legend" text-anchor="end">{}</text><rect x="{left}" y="{y:.1}" width="{width:.1}" height="{}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" class="tick">{}</text>"#,
            left - 8.0,
            y + row * 0.6,
            escape(&bar.name),
            row * 0.7,
            bar.color,
            escape(&bar.name),
            escape(&text),
            left + width + 6.0,
            y + row * 0.6,
            escape(&text)
        );
    }
    out.push_str("</svg>");
    out
}
