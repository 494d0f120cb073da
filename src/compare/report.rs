//! `compare --report`: one self-contained HTML page with the table and
//! the charts, to open offline and to keep beside the figures.
//!
//! Written as well-formed XML (every element closed, text escaped), which
//! HTML parsers read as usual and a test can check strictly. Each chart is a
//! `<figure>` whose `id` names it; each strategy keeps its colour in every
//! chart.

use std::fmt::Write as _;

use super::Comparison;
use super::figures::Figures;
use super::table;
use crate::chart::{Axis, Bar, Line, LineChart, Scale, bar_chart, escape, tick_seconds};
use crate::clock::seconds;
use crate::experiment::Strategy;

/// The ids of the figures the page holds, in order.
pub(super) const FIGURES: [&str; 4] = ["lateness", "drift", "lateness-cdf", "passes"];

/// One colour per strategy (Tableau 10), the same in every report.
fn color(strategy: Strategy) -> &'static str {
    const PALETTE: [&str; 8] = ["#e15759", "#4e79a7", "#76b7b2", "#59a14f", "#f28e2b", "#b07aa1", "#9c755f", "#edc948"];
    let index = Strategy::ALL.iter().position(|s| *s == strategy).unwrap_or(0);
    PALETTE[index % PALETTE.len()]
}

fn seconds_axis(label: &'static str, scale: Scale) -> Axis {
    Axis { label, scale, format: tick_seconds, include_zero: scale == Scale::Linear }
}

fn time_axis() -> Axis {
    Axis { label: "time since start (s)", scale: Scale::Linear, format: |s| format!("{s}"), include_zero: true }
}

fn lines(comparison: &Comparison, points: impl Fn(&Figures) -> Vec<(f64, f64)>) -> Vec<Line> {
    comparison
        .strategies
        .iter()
        .map(|f| Line { name: f.strategy.name().into(), color: color(f.strategy), points: points(f) })
        .collect()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}\
table{border-collapse:collapse;font-size:0.85em}th,td{padding:3px 8px;border-bottom:1px solid #ddd}\
td{text-align:right;font-variant-numeric:tabular-nums}td:first-child,th:first-child{text-align:left}\
figure{margin:2em 0}figcaption{margin-bottom:0.5em}figcaption b{display:block;font-size:1.1em}\
.plot{fill:none;stroke:#999}.grid{stroke:#eee}.tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}\
.legend{font-size:12px;fill:#222}.empty{font-size:14px;fill:#999}.facts{color:#555;font-size:0.9em}";

pub(super) fn html(comparison: &Comparison) -> String {
    let mut page = String::from("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>");
    let _ = write!(
        page,
        "<meta charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width\"/><title>jitterd compare</title><style>{STYLE}</style></head>\n<body>\n<h1>jitterd compare</h1>\n<p class=\"facts\">{}</p>\n",
        escape(&table::settings_line(comparison))
    );
    if comparison.interrupted {
        page.push_str("<p><b>Interrupted:</b> the figures are what was measured until then.</p>\n");
    }
    page.push_str(&html_table(comparison));

    let lateness = LineChart::of_lines(
        time_axis(),
        seconds_axis("lateness", Scale::Log),
        lines(comparison, |f| f.series.iter().map(|p| (seconds(p.time_ns), seconds(p.lateness_ns))).collect()),
    );
    figure(
        &mut page,
        FIGURES[0],
        "Lateness per beat",
        "How late each beat's check finished (done − scheduled), logarithmic. Where a run had more beats than the chart holds, each point is the worst of the beats it stands for.",
        &lateness.svg("lateness per beat"),
    );
    let drift = LineChart::of_lines(
        time_axis(),
        seconds_axis("drift", Scale::Linear),
        lines(comparison, |f| f.series.iter().map(|p| (seconds(p.time_ns), p.drift_ns as f64 / 1e9)).collect()),
    );
    figure(
        &mut page,
        FIGURES[1],
        "Drift over time",
        "Accumulated jitter: done[k] − t0 − k·period. Missed slots add a period each; the absolute schedule keeps it from growing without bound.",
        &drift.svg("drift over time"),
    );
    let cdf = LineChart::of_lines(
        seconds_axis("lateness", Scale::Log),
        Axis {
            label: "beats at or below",
            scale: Scale::Linear,
            format: |f| format!("{:.0}%", f * 100.0),
            include_zero: true,
        },
        lines(comparison, |f| f.lateness_cdf.iter().map(|&(ns, q)| (seconds(ns), q)).collect()),
    );
    figure(
        &mut page,
        FIGURES[2],
        "Lateness distribution",
        "The share of slots (beats and the slots they missed) at most this late: the further left and the steeper, the better; the tail on the right is what a lock costs.",
        &cdf.svg("lateness distribution"),
    );
    let bars: Vec<Bar> = comparison
        .strategies
        .iter()
        .map(|f| Bar { name: f.strategy.name().into(), color: color(f.strategy), value: f.passes_per_second })
        .collect();
    figure(
        &mut page,
        FIGURES[3],
        "Counter passes per second",
        "What each strategy leaves the counter: passes over the whole array per second.",
        &bar_chart("counter passes per second", &bars, |rate| format!("{rate:.0}/s")),
    );
    let _ = write!(
        page,
        "<p class=\"facts\">jitterd {} (revision {}). Generated by <code>jitterd compare --report</code>.</p>\n</body>\n</html>\n",
        escape(crate::build::VERSION),
        escape(crate::build::REVISION)
    );
    page
}

fn figure(page: &mut String, id: &str, title: &str, caption: &str, svg: &str) {
    let _ = write!(
        page,
        "<figure id=\"{id}\"><figcaption><b>{}</b>{}</figcaption>\n{svg}\n</figure>\n",
        escape(title),
        escape(caption)
    );
}

fn html_table(comparison: &Comparison) -> String {
    let mut out = String::from("<table>\n<thead><tr><th>strategy</th>");
    for column in table::table_columns() {
        let _ = write!(out, "<th>{}</th>", escape(column.header));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for f in &comparison.strategies {
        let _ = write!(
            out,
            "<tr><td><span style=\"color:{}\">&#9632;</span> {}</td>",
            color(f.strategy),
            escape(f.strategy.name())
        );
        for column in table::table_columns() {
            let _ = write!(out, "<td>{}</td>", escape(&(column.value)(f).text()));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}
