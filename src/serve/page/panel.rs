//! `GET /api/v1/chart.svg?heartbeat=main|control`: the lateness of one
//! heartbeat's recent slots, drawn by the chart code `compare --report`
//! uses too ([`crate::chart`]) as a panel: a dot per slot carrying its index
//! and lateness, a cross per missed slot, the jitter threshold as a rule.
//! Both heartbeats' panels share a logarithmic lateness scale, so the page
//! can set them side by side (or one above the other in a narrow window)
//! and compare them by eye.
//!
//! Under the chart, a strip splits the heartbeat's lateness above
//! `explain.threshold` among its causes, since jitterd started (the board's
//! tally, as the `*_lateness_explained_seconds_total` counters have it), so
//! main and control sit side by side there too. The page's script colours
//! each late dot by its cause from `/api/v1/beats`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::chart::{
    Axis, CAUSE_COLORS, Dot, Dots, Layout, LineChart, Place, Rule, Scale, Segment, Stack, escape, human_seconds,
    stacked_bar, tick_seconds,
};
use crate::experiment::Heartbeat;
use crate::explain::{Cause, CauseCounts};
use crate::observe::{Observatory, RING_CAPACITY};
use crate::sys::clock::seconds;

/// The chart panel's size (the chart's [`Layout::Panel`]) and the strip's height under it.
const WIDTH: f64 = 560.0;
const CHART_HEIGHT: f64 = 320.0;
const STRIP_HEIGHT: f64 = 40.0;

pub(crate) const MAIN_COLOR: &str = "#1f6fd1";
pub(crate) const CONTROL_COLOR: &str = "#7b808a";
const THRESHOLD_COLOR: &str = "#b7791f";

/// Seconds on the time axis: `12.5`, not `12.500000000000002`.
fn tick_time(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub(crate) fn svg(observatory: &Observatory, heartbeat: Heartbeat) -> String {
    let (other, name, color) = match heartbeat {
        Heartbeat::Main => (Heartbeat::Control, "main heartbeat", MAIN_COLOR),
        Heartbeat::Control => (Heartbeat::Main, "control heartbeat", CONTROL_COLOR),
    };
    let (own, other) = (observatory.board(heartbeat).ring(), observatory.board(other).ring());
    let (slots, _) = own.after(0, RING_CAPACITY);
    let dots = slots
        .iter()
        .map(|slot| Dot {
            x: slot.scheduled_offset_seconds,
            y: slot.lateness_seconds,
            index: slot.index,
            missed: slot.missed,
        })
        .collect();
    let rules = observatory
        .running()
        .map(|running| {
            let threshold = running.settings.jitter_threshold.as_secs_f64();
            Rule {
                name: format!("jitter threshold {}", tick_seconds(threshold)),
                value: threshold,
                color: THRESHOLD_COLOR,
            }
        })
        .into_iter()
        .collect();
    let chart = LineChart {
        x: Axis {
            label: "due at (seconds since the experiment started)",
            scale: Scale::Linear,
            format: tick_time,
            include_zero: false,
        },
        y: Axis { label: "lateness", scale: Scale::Log, format: tick_seconds, include_zero: false },
        lines: Vec::new(),
        dots: vec![Dots { name: name.into(), color, value_name: "lateness", dots }],
        rules,
        y_includes: other.lateness_range().map(|(low, high)| vec![low, high]).unwrap_or_default(),
        layout: Layout::Panel,
    };
    let chart = chart.svg(&format!("lateness of the {name}'s recent slots"));
    let causes = observatory.board(heartbeat).causes();
    let threshold = observatory.running().map(|running| running.settings.explain_threshold);
    with_causes(&chart, name, &causes, threshold)
}

/// The cause with the most explained lateness, the first in the waterfall
/// on a tie; `None` when nothing was explained. (`compare`'s dominant cause
/// by the same rule; both belong in `explain` once it offers one.)
/// `chart` with the strip of `causes` under it, in one SVG document.
fn with_causes(chart: &str, name: &str, causes: &CauseCounts, threshold: Option<Duration>) -> String {
    let height = CHART_HEIGHT + STRIP_HEIGHT;
    let mut out = String::with_capacity(chart.len() + 2048);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="{}">"#,
        escape(&format!("lateness of the {name}'s recent slots, and its lateness by cause"))
    );
    out.push_str(chart);
    let late: u64 = causes.late_beats.iter().sum();
    let explained_ns: u64 = causes.explained_ns.iter().sum();
    let over = threshold.map_or_else(|| "explain.threshold".to_owned(), |t| tick_seconds(t.as_secs_f64()));
    let caption = match causes.dominant() {
        Some(cause) => format!(
            "since start: {late} beats over {over}, {}; mostly {} {:.0} %",
            human_seconds(seconds(explained_ns)),
            cause.name(),
            100.0 * causes.explained_ns(cause) as f64 / explained_ns as f64
        ),
        None => format!("since start: no beat over {over}"),
    };
    let stack = Stack {
        name: name.to_owned(),
        caption,
        segments: Cause::ALL
            .into_iter()
            .map(|c| Segment { name: c.name(), color: CAUSE_COLORS[c.index()], value: seconds(causes.explained_ns(c)) })
            .collect(),
    };
    stacked_bar(&mut out, &stack, Place { x: 64.0, y: CHART_HEIGHT + 6.0, width: WIDTH - 78.0, height: 12.0 });
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Check;
    use crate::config::Config;
    use crate::measure::{Beat, BeatTimes};
    use crate::observe::Keep;
    use crate::sys::clock::MonoTime;

    /// A beat due at `offset_ms`, `lateness_us` late, that swallowed `missed` slots of 10 ms.
    fn beat(index: u64, offset_ms: u64, lateness_us: u64, missed: u64) -> Beat {
        let scheduled = MonoTime(offset_ms * 1_000_000);
        let done = scheduled.plus_ns(lateness_us * 1000);
        Beat {
            index,
            times: BeatTimes { scheduled, woke: done, accessed: done, done },
            lateness_ns: lateness_us * 1000,
            wake_lateness_ns: lateness_us * 1000,
            access_wait_ns: 0,
            check_duration_ns: 0,
            interval_ns: 10_000_000,
            jitter_ns: 0,
            drift_ns: 0,
            missed_slots: missed,
        }
    }

    fn y_of(svg: &str, index: u64) -> f64 {
        let doc = roxmltree::Document::parse(svg).expect("well-formed");
        let node = doc.descendants().find(|n| n.attribute("data-index") == Some(&index.to_string())).expect("drawn");
        let y = node.attribute("cy").or_else(|| node.attribute("d").and_then(|d| d.split(',').nth(1)));
        y.and_then(|y| y.split('l').next()?.parse().ok()).expect("a y coordinate")
    }

    #[test]
    fn one_element_per_slot_on_a_scale_both_panels_share() {
        let observatory = Observatory::new(Keep::Window);
        let settings = crate::experiment::Settings {
            period: std::time::Duration::from_millis(10),
            ..Config::embedded_default().experiment()
        };
        observatory.begin(&settings, MonoTime(0));
        let check = Check { value: 1, mismatched_elements: 0 };
        observatory.record(Heartbeat::Main, &beat(1, 10, 50, 0), check);
        observatory.record(Heartbeat::Main, &beat(2, 20, 25_000, 2), check);
        observatory.record(Heartbeat::Control, &beat(1, 15, 50, 0), check);
        observatory.record(Heartbeat::Control, &beat(2, 25, 40, 0), check);
        let main = svg(&observatory, Heartbeat::Main);
        let control = svg(&observatory, Heartbeat::Control);
        let count = |svg: &str| svg.matches("data-index=").count();
        assert_eq!((count(&main), count(&control)), (4, 2));
        assert_eq!(main.matches("data-missed=\"true\"").count(), 2);
        assert!(main.contains("data-index=\"2\" data-lateness=\"0.025\""), "{main}");
        // 50 µs sits at the same height in both panels.
        assert_eq!(y_of(&main, 1), y_of(&control, 1));
        assert!(tick_time(0.1 + 0.2) == "0.3" && tick_time(20.0) == "20");
        // Each panel has its strip; no control beat was over the threshold,
        // so its strip says so and draws no segment.
        assert!(main.contains("<g class=\"stack\"") && control.contains("<g class=\"stack\""), "{main}");
        assert!(control.contains("no beat over 1ms") && !control.contains("class=\"segment\""), "{control}");
    }

    #[test]
    fn the_strip_splits_the_lateness_among_its_causes() {
        let mut causes = CauseCounts::default();
        causes.late_beats[Cause::Cpu.index()] = 3;
        causes.explained_ns[Cause::Cpu.index()] = 30_000_000;
        causes.late_beats[Cause::Wake.index()] = 1;
        causes.explained_ns[Cause::Wake.index()] = 10_000_000;
        let chart = r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 560 320"><circle data-index="1"/></svg>"#;
        let svg = with_causes(chart, "main heartbeat", &causes, Some(Duration::from_millis(1)));
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let root = doc.root_element();
        assert_eq!(root.attribute("viewBox"), Some("0 0 560 360"));
        assert_eq!(root.children().filter(|n| n.has_tag_name("svg")).count(), 1, "the chart, whole, inside");
        let segments: Vec<(&str, &str, &str)> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("segment"))
            .filter_map(|n| Some((n.attribute("data-name")?, n.attribute("data-share")?, n.attribute("fill")?)))
            .collect();
        assert_eq!(segments, [("cpu", "0.75", CAUSE_COLORS[1]), ("wake", "0.25", CAUSE_COLORS[7])]);
        assert!(svg.contains(">since start: 4 beats over 1ms, 40.0ms; mostly cpu 75 %<"), "{svg}");
        // The strip carries no slot index: the page reads dots by data-index.
        assert_eq!(svg.matches("data-index").count(), 1);
    }

    #[test]
    fn the_style_sheet_has_every_cause_in_its_colour() {
        for cause in Cause::ALL {
            let variable = format!("--cause-{}: {};", cause.name(), CAUSE_COLORS[cause.index()]);
            assert!(super::super::STYLE.contains(&variable), "page.css lacks {variable}");
        }
        assert_eq!(CAUSE_COLORS[Cause::Wake.index()], "#8c8c8c", "wake, the unexplained rest, is a neutral grey");
    }
}
