//! Inline SVG charts for the report: line charts on linear or logarithmic
//! axes, and horizontal bars.
//!
//! Plain SVG text, no script and no external file, so the page opens offline
//! and in any browser, and stays well-formed XML that a test can parse. Each
//! line carries a `<title>`, which browsers show on hover.

use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 340.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// Escapes text for HTML and SVG content and attributes.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scale {
    Linear,
    /// Decades; values at or below zero are left out.
    Log,
}

pub(super) struct Axis {
    pub label: &'static str,
    pub scale: Scale,
    /// Tick labels.
    pub format: fn(f64) -> String,
    /// Whether the range must include zero (drift: above or below it).
    pub include_zero: bool,
}

pub(super) struct Line {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

pub(super) struct LineChart {
    pub x: Axis,
    pub y: Axis,
    pub lines: Vec<Line>,
}

/// Where an axis's values go on the page.
struct Mapping {
    scale: Scale,
    low: f64,
    high: f64,
    from_px: f64,
    to_px: f64,
}

impl Mapping {
    fn new(axis: &Axis, values: impl Iterator<Item = f64>, from_px: f64, to_px: f64) -> Option<Mapping> {
        let usable: Vec<f64> = values.filter(|v| v.is_finite() && (axis.scale == Scale::Linear || *v > 0.0)).collect();
        let mut low = usable.iter().copied().reduce(f64::min)?;
        let mut high = usable.iter().copied().reduce(f64::max)?;
        match axis.scale {
            Scale::Linear => {
                if axis.include_zero {
                    low = low.min(0.0);
                    high = high.max(0.0);
                }
                if high - low <= f64::EPSILON * high.abs().max(1e-12) {
                    (low, high) = (low - 1e-9, high + 1e-9);
                }
            }
            Scale::Log => {
                low = 10f64.powf(low.log10().floor());
                high = 10f64.powf(high.log10().ceil());
                if high <= low {
                    high = low * 10.0;
                }
            }
        }
        Some(Mapping { scale: axis.scale, low, high, from_px, to_px })
    }

    fn fraction(&self, value: f64) -> f64 {
        match self.scale {
            Scale::Linear => (value - self.low) / (self.high - self.low),
            Scale::Log => (value.max(self.low).log10() - self.low.log10()) / (self.high.log10() - self.low.log10()),
        }
    }

    fn px(&self, value: f64) -> f64 {
        self.from_px + self.fraction(value) * (self.to_px - self.from_px)
    }

    fn ticks(&self) -> Vec<f64> {
        match self.scale {
            Scale::Linear => {
                let step = nice_step((self.high - self.low) / 5.0);
                let first = (self.low / step).ceil() as i64;
                let last = (self.high / step).floor() as i64;
                (first..=last).map(|i| i as f64 * step).collect()
            }
            Scale::Log => {
                let (first, last) = (self.low.log10().round() as i32, self.high.log10().round() as i32);
                let every = if last - first > 8 { 2 } else { 1 };
                (first..=last).step_by(every).map(|e| 10f64.powi(e)).collect()
            }
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `rough`.
fn nice_step(rough: f64) -> f64 {
    let magnitude = 10f64.powf(rough.abs().max(1e-15).log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= rough).unwrap_or(10.0 * magnitude)
}

fn open_svg(out: &mut String, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{}">"#,
        escape(label)
    );
}

fn legend(out: &mut String, entries: impl Iterator<Item = (String, &'static str)>) {
    for (i, (name, color)) in entries.enumerate() {
        let y = TOP + 8.0 + 20.0 * i as f64;
        let x = WIDTH - RIGHT + 16.0;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{}" width="14" height="4" fill="{color}"/><text x="{}" y="{}" class="legend">{}</text>"#,
            y - 2.0,
            x + 20.0,
            y + 4.0,
            escape(&name)
        );
    }
}

impl LineChart {
    pub(super) fn svg(&self, label: &str) -> String {
        let (left, right, top, bottom) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
        let mut out = String::new();
        open_svg(&mut out, HEIGHT, label);
        let all = || self.lines.iter().flat_map(|l| l.points.iter());
        let x = Mapping::new(&self.x, all().map(|p| p.0), left, right);
        let y = Mapping::new(&self.y, all().map(|p| p.1), bottom, top);
        let (Some(x), Some(y)) = (x, y) else {
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" class="empty">no beats measured</text></svg>"#,
                WIDTH / 2.0,
                HEIGHT / 2.0
            );
            return out;
        };
        let _ = write!(
            out,
            r#"<rect x="{left}" y="{top}" width="{}" height="{}" class="plot"/>"#,
            right - left,
            bottom - top
        );
        for tick in x.ticks() {
            let px = x.px(tick);
            let _ = write!(
                out,
                r#"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{bottom}" class="grid"/><text x="{px:.1}" y="{}" class="tick" text-anchor="middle">{}</text>"#,
                bottom + 16.0,
                escape(&(self.x.format)(tick))
            );
        }
        for tick in y.ticks() {
            let py = y.px(tick);
            let _ = write!(
                out,
                r#"<line x1="{left}" y1="{py:.1}" x2="{right}" y2="{py:.1}" class="grid"/><text x="{}" y="{:.1}" class="tick" text-anchor="end">{}</text>"#,
                left - 6.0,
                py + 4.0,
                escape(&(self.y.format)(tick))
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" class="axis" text-anchor="middle">{}</text>"#,
            (left + right) / 2.0,
            HEIGHT - 6.0,
            escape(self.x.label)
        );
        let _ = write!(
            out,
            r#"<text x="14" y="{:.1}" class="axis" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
            (top + bottom) / 2.0,
            (top + bottom) / 2.0,
            escape(self.y.label)
        );
        for line in &self.lines {
            let mut points = String::new();
            for &(vx, vy) in &line.points {
                let usable = |v: f64, axis: &Axis| v.is_finite() && (axis.scale == Scale::Linear || v > 0.0);
                if usable(vx, &self.x) && usable(vy, &self.y) {
                    let _ = write!(points, "{:.1},{:.1} ", x.px(vx), y.px(vy));
                }
            }
            let _ = write!(
                out,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5"><title>{}</title></polyline>"#,
                points.trim_end(),
                line.color,
                escape(&line.name)
            );
        }
        legend(&mut out, self.lines.iter().map(|l| (l.name.clone(), l.color)));
        out.push_str("</svg>");
        out
    }
}

pub(super) struct Bar {
    pub name: String,
    pub color: &'static str,
    pub value: Option<f64>,
}

/// Horizontal bars from zero, one per entry, with the value written beside each.
pub(super) fn bar_chart(label: &str, bars: &[Bar], format: fn(f64) -> String) -> String {
    let row = 26.0;
    let height = TOP + BOTTOM / 2.0 + row * bars.len().max(1) as f64;
    let (left, right) = (190.0, WIDTH - 120.0);
    let mut out = String::new();
    open_svg(&mut out, height, label);
    let max = bars.iter().filter_map(|b| b.value).filter(|v| v.is_finite()).fold(0.0, f64::max);
    for (i, bar) in bars.iter().enumerate() {
        let y = TOP + row * i as f64;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(scale: Scale) -> Axis {
        Axis { label: "x", scale, format: |v| format!("{v}"), include_zero: false }
    }

    #[test]
    fn steps_and_ticks() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(1.0), 1.0);
        let log = Mapping::new(&axis(Scale::Log), [3e-5, 2e-3, 0.0, -1.0].into_iter(), 0.0, 100.0);
        let log = log.map(|m| m.ticks()).unwrap_or_default();
        assert_eq!(log.len(), 4, "{log:?}");
        let linear = Mapping::new(&axis(Scale::Linear), [0.0, 10.0].into_iter(), 0.0, 100.0);
        assert_eq!(linear.map(|m| m.ticks()).unwrap_or_default(), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    }

    #[test]
    fn escapes_and_handles_no_data() {
        assert_eq!(escape(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
        let chart = LineChart { x: axis(Scale::Linear), y: axis(Scale::Log), lines: Vec::new() };
        let svg = chart.svg("empty");
        assert!(svg.contains("no beats measured") && svg.ends_with("</svg>"));
        let flat = LineChart {
            x: axis(Scale::Linear),
            y: axis(Scale::Linear),
            lines: vec![Line { name: "a<b".into(), color: "#000", points: vec![(1.0, 5.0), (2.0, 5.0)] }],
        };
        let svg = flat.svg("flat");
        assert!(svg.contains("a&lt;b") && !svg.contains("NaN"), "{svg}");
    }
}
