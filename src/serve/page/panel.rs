//! `GET /api/v1/chart.svg?heartbeat=main|control`: the lateness of one
//! heartbeat's recent slots, drawn by the chart code `compare --report`
//! uses too ([`crate::chart`]) as a panel: a dot per slot carrying its index
//! and lateness, a cross per missed slot, the jitter threshold as a rule.
//! Both heartbeats' panels share a logarithmic lateness scale, so the page
//! can set them side by side (or one above the other in a narrow window)
//! and compare them by eye.

use crate::chart::{Axis, Dot, Dots, Layout, LineChart, Rule, Scale, tick_seconds};
use crate::experiment::Heartbeat;
use crate::observe::{Observatory, RING_CAPACITY};

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
    chart.svg(&format!("lateness of the {name}'s recent slots"))
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
    }
}
