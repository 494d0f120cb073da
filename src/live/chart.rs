//! `GET /api/v1/chart.svg?heartbeat=main|control`: the lateness of one
//! heartbeat's recent slots, drawn by the report's chart code
//! ([`crate::compare::chart`]) as a panel: a dot per slot carrying its index
//! and lateness, a cross per missed slot, the jitter threshold as a rule.
//! Both heartbeats' panels share a logarithmic lateness scale, so the page
//! can set them side by side (or one above the other in a narrow window)
//! and compare them by eye.

use super::Live;
use super::query::Heartbeat;
use super::ring::CAPACITY;
use crate::compare::chart::{Axis, Dot, Dots, Layout, LineChart, Rule, Scale, tick_seconds};

pub(crate) const MAIN_COLOR: &str = "#1f6fd1";
pub(crate) const CONTROL_COLOR: &str = "#7b808a";
const THRESHOLD_COLOR: &str = "#b7791f";

/// Seconds on the time axis: `12.5`, not `12.500000000000002`.
fn tick_time(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub(crate) fn svg(live: &Live, heartbeat: Heartbeat) -> String {
    let (own, other, name, color) = match heartbeat {
        Heartbeat::Main => (&live.main, &live.control, "main heartbeat", MAIN_COLOR),
        Heartbeat::Control => (&live.control, &live.main, "control heartbeat", CONTROL_COLOR),
    };
    let (slots, _) = own.after(0, CAPACITY);
    let dots = slots
        .iter()
        .map(|slot| Dot {
            x: slot.scheduled_offset_seconds,
            y: slot.lateness_seconds,
            index: slot.index,
            missed: slot.missed,
        })
        .collect();
    let experiment = live.experiment();
    let rules = experiment
        .iter()
        .map(|e| Rule {
            name: format!("jitter threshold {}", tick_seconds(e.jitter_threshold.as_secs_f64())),
            value: e.jitter_threshold.as_secs_f64(),
            color: THRESHOLD_COLOR,
        })
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
    use crate::live::ring::BeatSlots;

    fn beat(offset_ms: u64, lateness_us: u64, missed: u64) -> BeatSlots {
        BeatSlots {
            scheduled_offset_ns: offset_ms * 1_000_000,
            lateness_ns: lateness_us * 1000,
            wake_lateness_ns: 1000,
            access_wait_ns: 0,
            consistent: Some(true),
            missed_slots: missed,
            period_ns: 10_000_000,
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
        let live = Live::default();
        live.main.push(beat(10, 50, 0));
        live.main.push(beat(20, 25_000, 2));
        live.control.push(beat(15, 50, 0));
        live.control.push(beat(25, 40, 0));
        let main = svg(&live, Heartbeat::Main);
        let control = svg(&live, Heartbeat::Control);
        let count = |svg: &str| svg.matches("data-index=").count();
        assert_eq!((count(&main), count(&control)), (4, 2));
        assert_eq!(main.matches("data-missed=\"true\"").count(), 2);
        assert!(main.contains("data-index=\"2\" data-lateness=\"0.025\""), "{main}");
        // 50 µs sits at the same height in both panels.
        assert_eq!(y_of(&main, 1), y_of(&control, 1));
        assert!(tick_time(0.1 + 0.2) == "0.3" && tick_time(20.0) == "20");
    }
}
