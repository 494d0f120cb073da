//! Inline SVG charts, shared by `compare --report` and the live page: line
//! and dot charts on linear or logarithmic axes, with horizontal rules,
//! horizontal bars, and stacked bars of shares.
//!
//! Plain SVG text, no script and no external file, so a page opens offline
//! and in any browser, and stays well-formed XML that a test can parse. Each
//! line carries a `<title>`, which browsers show on hover; each dot carries
//! its data (`data-index`, `data-<value>`), so a script or a test can read
//! back what was drawn without decoding pixels. A leaf: it imports nothing
//! from the crate, and the formatting of seconds and the escaping it needs
//! are beside it ([`format`]).

mod bar;
mod format;
mod scale;
mod stack;

use std::fmt::Write as _;

pub use self::bar::{Bar, bar_chart};
pub use self::format::{escape, human_seconds, tick_seconds};
use self::scale::Mapping;
pub use self::scale::Scale;
pub use self::stack::{CAUSE_COLORS, Place, Segment, Stack, stacked_bar, stacked_bar_chart};

/// A pixel coordinate to one decimal, as `{:.1}` writes it, by integer
/// formatting: the float formatting machinery costs most of a chart of
/// 1,000 dots, which the live page asks for every second.
struct Px(f64);

impl std::fmt::Display for Px {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0 * 10.0).round() as i64;
        let sign = if tenths < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{}", tenths.unsigned_abs() / 10, tenths.unsigned_abs() % 10)
    }
}

/// The colour of a missed slot's marker, whatever its series.
pub const MISSED_COLOR: &str = "#d1361f";

pub struct Axis {
    pub label: &'static str,
    pub scale: Scale,
    /// Tick labels.
    pub format: fn(f64) -> String,
    /// Whether the range must include zero (drift: above or below it).
    pub include_zero: bool,
}

pub struct Line {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// One point of a dot series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    /// Written as `data-index`: what the point stands for (a slot's index).
    pub index: u64,
    /// Drawn as a cross in [`MISSED_COLOR`] rather than a dot.
    pub missed: bool,
}

/// Points drawn one by one, each an element carrying `data-index` and
/// `data-<value_name>` (its y value, exactly), and `data-missed` when missed.
pub struct Dots {
    pub name: String,
    pub color: &'static str,
    /// Names the y value's attribute, e.g. `lateness` for `data-lateness`.
    pub value_name: &'static str,
    pub dots: Vec<Dot>,
}

/// A labelled horizontal line across the plot at `value` (a threshold).
pub struct Rule {
    pub name: String,
    pub value: f64,
    pub color: &'static str,
}

/// How a chart sits on its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The report's: wide, the legend right of the plot.
    Wide,
    /// One of several panels in a grid: narrower, the legend above the plot.
    Panel,
}

/// The chart's size and its plot's edges, in pixels.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Layout {
    fn frame(self) -> Frame {
        let (width, height, left, right_margin, top, bottom_margin) = match self {
            Layout::Wide => (900.0, 340.0, 72.0, 190.0, 16.0, 44.0),
            Layout::Panel => (560.0, 320.0, 64.0, 14.0, 34.0, 44.0),
        };
        Frame { width, height, left, right: width - right_margin, top, bottom: height - bottom_margin }
    }
}

pub struct LineChart {
    pub x: Axis,
    pub y: Axis,
    pub lines: Vec<Line>,
    pub dots: Vec<Dots>,
    pub rules: Vec<Rule>,
    /// Values the y axis spans besides the points and rules: another
    /// chart's extremes, so that charts side by side share a scale.
    pub y_includes: Vec<f64>,
    pub layout: Layout,
}

/// What a legend entry shows beside its name.
#[derive(Clone, Copy)]
enum Swatch {
    Bar,
    Dot,
    Cross,
    Dash,
}

fn open_svg(out: &mut String, width: f64, height: f64, label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
        escape(label)
    );
}

fn cross(out: &mut String, x: f64, y: f64, color: &str) {
    let _ =
        write!(out, r#"<path d="M{:.1},{:.1}l6,6m0,-6l-6,6" stroke="{color}" stroke-width="1.5""#, x - 3.0, y - 3.0);
}

fn legend(out: &mut String, layout: Layout, frame: &Frame, entries: &[(&str, &str, Swatch)]) {
    let mut x = frame.left;
    for (i, &(name, color, swatch)) in entries.iter().enumerate() {
        let (sx, y) = match layout {
            Layout::Wide => (frame.right + 16.0, frame.top + 8.0 + 20.0 * i as f64),
            Layout::Panel => (x, 14.0),
        };
        match swatch {
            Swatch::Bar => {
                let _ = write!(out, r#"<rect x="{sx}" y="{}" width="14" height="4" fill="{color}"/>"#, y - 2.0);
            }
            Swatch::Dot => {
                let _ = write!(out, r#"<circle cx="{}" cy="{y}" r="3" fill="{color}"/>"#, sx + 7.0);
            }
            Swatch::Cross => {
                cross(out, sx + 7.0, y, color);
                out.push_str("/>");
            }
            Swatch::Dash => {
                let _ = write!(
                    out,
                    r#"<line x1="{sx}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="1.5" stroke-dasharray="4 3"/>"#,
                    sx + 14.0
                );
            }
        }
        let _ = write!(out, r#"<text x="{}" y="{}" class="legend">{}</text>"#, sx + 20.0, y + 4.0, escape(name));
        // Room for about 8 px per character: the legend's 12 px, or larger
        // where a page enlarges it for a small screen.
        x += 30.0 + 8.0 * name.chars().count() as f64;
    }
}

impl LineChart {
    /// A chart of lines only, laid out for the report.
    pub fn of_lines(x: Axis, y: Axis, lines: Vec<Line>) -> LineChart {
        LineChart { x, y, lines, dots: Vec::new(), rules: Vec::new(), y_includes: Vec::new(), layout: Layout::Wide }
    }

    pub fn svg(&self, label: &str) -> String {
        let frame = self.layout.frame();
        let dot_count: usize = self.dots.iter().map(|d| d.dots.len()).sum();
        let mut out = String::with_capacity(4096 + 80 * dot_count);
        open_svg(&mut out, frame.width, frame.height, label);
        let Some((x, y)) = self.mappings(&frame) else {
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" class="empty" text-anchor="middle">no beats measured</text></svg>"#,
                frame.width / 2.0,
                frame.height / 2.0
            );
            return out;
        };
        self.axes(&mut out, &frame, &x, &y);
        self.draw_lines(&mut out, &x, &y);
        self.draw_rules(&mut out, &frame, &y);
        self.draw_dots(&mut out, &x, &y);
        let mut entries: Vec<(&str, &str, Swatch)> = Vec::new();
        entries.extend(self.lines.iter().map(|l| (l.name.as_str(), l.color, Swatch::Bar)));
        entries.extend(self.dots.iter().map(|d| (d.name.as_str(), d.color, Swatch::Dot)));
        if !self.dots.is_empty() {
            entries.push(("missed slot", MISSED_COLOR, Swatch::Cross));
        }
        entries.extend(self.rules.iter().map(|r| (r.name.as_str(), r.color, Swatch::Dash)));
        legend(&mut out, self.layout, &frame, &entries);
        out.push_str("</svg>");
        out
    }

    /// Where values land in the plot: every line's and dot's, the rules and
    /// what the chart must include. `None` when there is nothing to draw.
    fn mappings(&self, frame: &Frame) -> Option<(Mapping, Mapping)> {
        let line_points = || self.lines.iter().flat_map(|l| l.points.iter().copied());
        let dot_points = || self.dots.iter().flat_map(|d| d.dots.iter().map(|dot| (dot.x, dot.y)));
        let x = Mapping::new(&self.x, line_points().chain(dot_points()).map(|p| p.0), frame.left, frame.right);
        let y_values = line_points()
            .chain(dot_points())
            .map(|p| p.1)
            .chain(self.rules.iter().map(|r| r.value))
            .chain(self.y_includes.iter().copied());
        let y = Mapping::new(&self.y, y_values, frame.bottom, frame.top);
        Some((x?, y?))
    }

    fn draw_lines(&self, out: &mut String, x: &Mapping, y: &Mapping) {
        for line in &self.lines {
            let mut points = String::new();
            for &(vx, vy) in &line.points {
                if self.x.scale.usable(vx) && self.y.scale.usable(vy) {
                    let _ = write!(points, "{},{} ", Px(x.px(vx)), Px(y.px(vy)));
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
    }

    fn draw_rules(&self, out: &mut String, frame: &Frame, y: &Mapping) {
        let Frame { left, right, .. } = *frame;
        for rule in &self.rules {
            let py = y.px(rule.value);
            let _ = write!(
                out,
                r#"<line x1="{left}" y1="{py:.1}" x2="{right}" y2="{py:.1}" stroke="{color}" stroke-width="1.5" stroke-dasharray="6 4" class="rule"/><text x="{:.1}" y="{:.1}" class="rule-label" text-anchor="end" fill="{color}">{}</text>"#,
                right - 4.0,
                py - 4.0,
                escape(&rule.name),
                color = rule.color,
            );
        }
    }

    fn draw_dots(&self, out: &mut String, x: &Mapping, y: &Mapping) {
        for series in &self.dots {
            // The colour once per series rather than once per dot: a chart
            // of 1,000 dots is polled every second.
            let _ = write!(out, r#"<g class="dots" fill="{}">"#, series.color);
            for dot in series.dots.iter().filter(|d| d.x.is_finite() && d.y.is_finite()) {
                let (px, py) = (x.px(dot.x), y.px(dot.y));
                if dot.missed {
                    cross(out, px, py, MISSED_COLOR);
                    out.push_str(r#" class="missed" data-missed="true""#);
                } else {
                    let _ = write!(out, r#"<circle cx="{}" cy="{}" r="2""#, Px(px), Px(py));
                }
                let _ = write!(out, r#" data-index="{}" data-{}="{}"/>"#, dot.index, series.value_name, dot.y);
            }
            out.push_str("</g>");
        }
    }

    /// The plot's frame, grid, ticks and axis labels.
    fn axes(&self, out: &mut String, frame: &Frame, x: &Mapping, y: &Mapping) {
        let Frame { left, right, top, bottom, .. } = *frame;
        let _ = write!(
            out,
            r#"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" class="plot"/>"#,
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
            frame.height - 6.0,
            escape(self.x.label)
        );
        let _ = write!(
            out,
            r#"<text x="14" y="{:.1}" class="axis" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
            (top + bottom) / 2.0,
            (top + bottom) / 2.0,
            escape(self.y.label)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(scale: Scale) -> Axis {
        Axis { label: "x", scale, format: |v| format!("{v}"), include_zero: false }
    }

    #[test]
    fn pixels_to_a_tenth() {
        let text: Vec<String> = [0.0, 12.34, 12.36, -3.26, -0.04, 546.0].map(|v| Px(v).to_string()).into();
        assert_eq!(text, ["0.0", "12.3", "12.4", "-3.3", "0.0", "546.0"]);
    }

    #[test]
    fn escapes_and_handles_no_data() {
        assert_eq!(escape(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
        let chart = LineChart::of_lines(axis(Scale::Linear), axis(Scale::Log), Vec::new());
        let svg = chart.svg("empty");
        assert!(svg.contains("no beats measured") && svg.ends_with("</svg>"));
        let flat = LineChart::of_lines(
            axis(Scale::Linear),
            axis(Scale::Linear),
            vec![Line { name: "a<b".into(), color: "#000", points: vec![(1.0, 5.0), (2.0, 5.0)] }],
        );
        let svg = flat.svg("flat");
        assert!(svg.contains("a&lt;b") && !svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn dots_carry_their_data_and_rules_widen_the_range() {
        let dots = vec![
            Dot { x: 1.0, y: 2e-5, index: 7, missed: false },
            Dot { x: 2.0, y: 0.000_123_456_789, index: 8, missed: true },
        ];
        let chart = LineChart {
            dots: vec![Dots { name: "main".into(), color: "#123456", value_name: "lateness", dots }],
            rules: vec![Rule { name: "threshold <50ms>".into(), value: 0.05, color: "#999" }],
            layout: Layout::Panel,
            ..LineChart::of_lines(axis(Scale::Linear), axis(Scale::Log), Vec::new())
        };
        let svg = chart.svg("dots");
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let drawn: Vec<_> = doc.descendants().filter(|n| n.has_attribute("data-index")).collect();
        assert_eq!(drawn.len(), 2);
        assert_eq!(drawn[0].attribute("data-lateness"), Some("0.00002"));
        assert_eq!(drawn[1].attribute("data-lateness"), Some("0.000123456789"));
        assert_eq!(drawn[1].attribute("data-missed"), Some("true"));
        assert_eq!(drawn[1].tag_name().name(), "path");
        // The rule sits inside the plot, above both dots (10 µs … 100 ms).
        let rule = doc.descendants().find(|n| n.attribute("class") == Some("rule")).expect("rule");
        let rule_y: f64 = rule.attribute("y1").and_then(|v| v.parse().ok()).expect("y1");
        let dot_y: f64 = drawn[0].attribute("cy").and_then(|v| v.parse().ok()).expect("cy");
        assert!(rule_y < dot_y && rule_y > 34.0, "rule at {rule_y}, dot at {dot_y}");
        assert!(svg.contains("threshold &lt;50ms&gt;") && svg.contains("missed slot"));
    }
}
