//! Stacked bars of shares: one bar per row, split among its segments in
//! proportion to their values. The live page's "lateness by cause" strip
//! under each heartbeat's panel, and `compare --report`'s lateness by cause
//! per strategy.
//!
//! Each segment is a `<rect>` carrying `data-name`, `data-value` and
//! `data-share`, and a `<title>` a browser shows on hover, so a test or a
//! script reads back what was drawn. A row whose values sum to nothing is
//! drawn as an empty outline with its caption.

use std::fmt::Write as _;

use super::{Px, escape, open_svg};

/// One colour per cause of lateness, in the order the waterfall charges
/// them (`throttled`, `cpu`, `stopped`, `paging`, `check`, `strategy`,
/// `steal`, `wake`): Paul Tol's "muted" scheme, whose colours colour-blind
/// readers tell apart, with `wake` (what userland cannot explain) a neutral
/// grey. The live page's style sheet repeats them as `--cause-<name>`.
pub const CAUSE_COLORS: [&str; 8] =
    ["#882255", "#cc6677", "#aa4499", "#999933", "#44aa99", "#332288", "#88ccee", "#8c8c8c"];

/// One part of a bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub name: &'static str,
    pub color: &'static str,
    /// Anything additive (seconds, counts); negative and non-finite count as 0.
    pub value: f64,
}

/// One bar: its name (left of it in a chart), a caption (under it) and its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub name: String,
    pub caption: String,
    pub segments: Vec<Segment>,
}

impl Stack {
    fn total(&self) -> f64 {
        self.segments.iter().map(|s| usable(s.value)).sum()
    }
}

fn usable(value: f64) -> f64 {
    if value.is_finite() && value > 0.0 { value } else { 0.0 }
}

/// Where a bar goes, in the SVG's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// Draws `stack`'s bar at `place` (segments left to right, in their order;
/// empty ones left out) and its caption just under it, into `out`: a `<g>`
/// of class `stack`, for a chart of the caller's.
pub fn stacked_bar(out: &mut String, stack: &Stack, place: Place) {
    let Place { x, y, width, height } = place;
    let total = stack.total();
    let _ = write!(out, r#"<g class="stack" data-name="{}" data-total="{total}">"#, escape(&stack.name));
    let _ = write!(
        out,
        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="none" class="plot"/>"#,
        Px(x),
        Px(y),
        Px(width),
        Px(height)
    );
    let mut left = x;
    for segment in stack.segments.iter().filter(|s| usable(s.value) > 0.0) {
        let share = usable(segment.value) / total;
        let segment_width = share * width;
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}" class="segment" data-name="{}" data-value="{}" data-share="{share}"><title>{}: {:.1} %</title></rect>"#,
            Px(left),
            Px(y),
            Px(segment_width),
            Px(height),
            segment.color,
            escape(segment.name),
            segment.value,
            escape(segment.name),
            share * 100.0
        );
        left += segment_width;
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" class="tick">{}</text></g>"#,
        Px(x),
        Px(y + height + 13.0),
        escape(&stack.caption)
    );
}

/// A chart of stacked bars, one row per stack with its name on the left,
/// and a legend of the segments' names and colours (from the first stack) under them.
pub fn stacked_bar_chart(label: &str, stacks: &[Stack]) -> String {
    let (width, row, left, right) = (900.0, 44.0, 190.0, 880.0);
    let legend_y = 16.0 + row * stacks.len().max(1) as f64 + 8.0;
    let mut out = String::new();
    open_svg(&mut out, width, legend_y + 20.0, label);
    for (i, stack) in stacks.iter().enumerate() {
        let y = 16.0 + row * i as f64;
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" class="legend" text-anchor="end">{}</text>"#,
            Px(left - 8.0),
            Px(y + 12.0),
            escape(&stack.name)
        );
        stacked_bar(&mut out, stack, Place { x: left, y, width: right - left, height: 16.0 });
    }
    let mut x = left;
    for segment in stacks.first().map(|s| s.segments.as_slice()).unwrap_or_default() {
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}" class="legend">{}</text>"#,
            Px(x),
            Px(legend_y - 10.0),
            segment.color,
            Px(x + 16.0),
            Px(legend_y),
            escape(segment.name)
        );
        x += 28.0 + 8.0 * segment.name.chars().count() as f64;
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(values: [f64; 3]) -> Stack {
        let names = ["cpu", "strategy", "wake"];
        Stack {
            name: "main <heartbeat>".into(),
            caption: "3 late beats".into(),
            segments: names
                .iter()
                .zip(values)
                .zip(CAUSE_COLORS)
                .map(|((name, value), color)| Segment { name, color, value })
                .collect(),
        }
    }

    #[test]
    fn segments_share_the_bar_in_proportion() {
        let svg = stacked_bar_chart("by cause", &[stack([3.0, 0.0, 1.0]), stack([0.0, 0.0, 0.0])]);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let segments: Vec<_> = doc.descendants().filter(|n| n.attribute("class") == Some("segment")).collect();
        // The empty segment and the empty row draw nothing.
        assert_eq!(segments.len(), 2, "{svg}");
        assert_eq!(segments[0].attribute("data-name"), Some("cpu"));
        assert_eq!(segments[0].attribute("data-share"), Some("0.75"));
        assert_eq!(segments[1].attribute("data-share"), Some("0.25"));
        let width = |n: &roxmltree::Node| n.attribute("width").and_then(|w| w.parse::<f64>().ok()).unwrap_or(0.0);
        assert!((width(&segments[0]) - 3.0 * width(&segments[1])).abs() < 0.2);
        assert!((width(&segments[0]) + width(&segments[1]) - 690.0).abs() < 0.2);
        assert!(svg.contains("main &lt;heartbeat&gt;") && svg.contains("cpu: 75.0 %"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn bad_values_count_as_nothing() {
        let svg = stacked_bar_chart("bad", &[stack([f64::NAN, -1.0, f64::INFINITY])]);
        assert!(!svg.contains("class=\"segment\"") && !svg.contains("NaN"), "{svg}");
        roxmltree::Document::parse(&svg).expect("well-formed");
    }
}
