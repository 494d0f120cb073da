//! `GET /api/v1/status`: what runs and how it is doing, in one JSON object
//! the live page polls: the experiment, the window summaries' quantiles for
//! both heartbeats, the checks, drift and the counter.
//!
//! Built from plain readings the HTTP side takes from the metrics, so this
//! module depends on nothing above it and a test can feed it made-up numbers.

use serde::Serialize;

use super::{ExperimentView, words};
use crate::lateness::{QUANTILES, WindowSnapshot};

/// What the HTTP side reads from the metrics for one status.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Readings {
    pub uptime_seconds: f64,
    pub main_window: WindowSnapshot,
    pub control_window: WindowSnapshot,
    pub consistent: u64,
    pub inconsistent: u64,
    pub drift_seconds: f64,
    pub drift_gained_seconds: f64,
    pub array_passes_total: u64,
    pub heartbeats_total: u64,
    pub heartbeat_missed_total: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Status {
    pub version: &'static str,
    pub revision: &'static str,
    /// Since the process started serving.
    pub uptime_seconds: f64,
    /// `null` until the first experiment starts.
    pub experiment: Option<Experiment>,
    pub window: Window,
    pub checks: Checks,
    pub drift: Drift,
    /// Since the process started, across reloads.
    pub array_passes_total: u64,
    pub heartbeats_total: u64,
    pub heartbeat_missed_total: u64,
    /// What the strategy does to the heartbeat, in plain words.
    pub explanation: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Experiment {
    pub strategy: &'static str,
    pub schedule: String,
    pub size_elements: u64,
    pub period_seconds: f64,
    pub duty_cycle: f64,
    pub control: bool,
    pub jitter_threshold_seconds: f64,
    /// Since this experiment started (a reload starts a new one).
    pub running_seconds: f64,
}

/// Lateness of every slot over `record.window`, from the window summaries.
#[derive(Debug, Serialize)]
pub(crate) struct Window {
    pub seconds: Option<f64>,
    pub main: Quantiles,
    pub control: Quantiles,
}

/// The summary quantiles in seconds, `null` while the window is empty.
#[derive(Debug, Serialize)]
pub(crate) struct Quantiles {
    /// Slots in the window, missed ones included.
    pub slots: u64,
    #[serde(rename = "0.5")]
    pub p50: Option<f64>,
    #[serde(rename = "0.9")]
    pub p90: Option<f64>,
    #[serde(rename = "0.99")]
    pub p99: Option<f64>,
    #[serde(rename = "0.999")]
    pub p999: Option<f64>,
    #[serde(rename = "1")]
    pub max: Option<f64>,
}

impl From<&WindowSnapshot> for Quantiles {
    fn from(snapshot: &WindowSnapshot) -> Quantiles {
        let at = |q: f64| {
            snapshot.quantiles.iter().find(|(quantile, _)| *quantile == q).map(|(_, s)| *s).filter(|s| s.is_finite())
        };
        let [p50, p90, p99, p999, max] = QUANTILES.map(at);
        Quantiles { slots: snapshot.window_count, p50, p90, p99, p999, max }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Checks {
    pub consistent: u64,
    pub inconsistent: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Drift {
    /// The level: done − t0 − k·period of the last beat.
    pub seconds: f64,
    /// Gained within the last `window_seconds`: what the threshold acts on.
    pub gained_seconds: f64,
    pub threshold_seconds: Option<f64>,
    pub window_seconds: Option<f64>,
    pub over_threshold: bool,
}

pub(crate) fn status(experiment: Option<&ExperimentView>, readings: &Readings) -> Status {
    let threshold = experiment.map(|e| e.drift_threshold.as_secs_f64());
    Status {
        version: crate::build::VERSION,
        revision: crate::build::REVISION,
        uptime_seconds: readings.uptime_seconds,
        experiment: experiment.map(|e| Experiment {
            strategy: e.strategy.name(),
            schedule: e.schedule.to_string(),
            size_elements: e.size_elements,
            period_seconds: e.period.as_secs_f64(),
            duty_cycle: e.duty_cycle,
            control: e.control,
            jitter_threshold_seconds: e.jitter_threshold.as_secs_f64(),
            running_seconds: e.started.elapsed().as_secs_f64(),
        }),
        window: Window {
            seconds: experiment.map(|e| e.record_window.as_secs_f64()),
            main: Quantiles::from(&readings.main_window),
            control: Quantiles::from(&readings.control_window),
        },
        checks: Checks { consistent: readings.consistent, inconsistent: readings.inconsistent },
        drift: Drift {
            seconds: readings.drift_seconds,
            gained_seconds: readings.drift_gained_seconds,
            threshold_seconds: threshold,
            window_seconds: experiment.map(|e| e.drift_window.as_secs_f64()),
            // As the daemon's threshold log: only a gain crosses it.
            over_threshold: threshold.is_some_and(|limit| readings.drift_gained_seconds > limit),
        },
        array_passes_total: readings.array_passes_total,
        heartbeats_total: readings.heartbeats_total,
        heartbeat_missed_total: readings.heartbeat_missed_total,
        explanation: experiment.map(|e| words::explain(e.strategy)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::experiment::{Schedule, Strategy};

    fn window(values: [f64; 5], count: u64) -> WindowSnapshot {
        let mut quantiles = QUANTILES.map(|q| (q, f64::NAN));
        for ((_, seconds), value) in quantiles.iter_mut().zip(values) {
            *seconds = value;
        }
        WindowSnapshot { quantiles, window_count: count, count, sum_seconds: 0.0 }
    }

    #[test]
    fn numbers_land_where_the_page_reads_them() {
        let view = ExperimentView {
            strategy: Strategy::ThreadsMutex,
            schedule: Schedule::Absolute,
            size_elements: 1000,
            period: Duration::from_millis(10),
            duty_cycle: 1.0,
            control: true,
            jitter_threshold: Duration::from_millis(50),
            drift_threshold: Duration::from_millis(100),
            drift_window: Duration::from_secs(600),
            record_window: Duration::from_secs(60),
            started: Instant::now(),
        };
        let readings = Readings {
            uptime_seconds: 12.5,
            main_window: window([1e-5, 2e-5, 3e-5, 4e-5, 5e-5], 100),
            control_window: window([f64::NAN; 5], 0),
            consistent: 99,
            inconsistent: 1,
            drift_seconds: 0.3,
            drift_gained_seconds: 0.2,
            array_passes_total: 5000,
            heartbeats_total: 100,
            heartbeat_missed_total: 3,
        };
        let json = serde_json::to_value(status(Some(&view), &readings)).expect("serialises");
        assert_eq!(json["experiment"]["strategy"], "threads-mutex");
        assert_eq!(json["experiment"]["period_seconds"], 0.01);
        assert_eq!(json["window"]["main"]["0.99"], 3e-5);
        assert_eq!(json["window"]["main"]["1"], 5e-5);
        assert_eq!(json["window"]["main"]["slots"], 100);
        assert!(json["window"]["control"]["0.5"].is_null(), "an empty window has no quantiles");
        assert_eq!(json["drift"]["over_threshold"], true);
        assert_eq!(json["checks"]["inconsistent"], 1);
        assert!(json["explanation"].as_str().is_some_and(|s| s.contains("lock")));
        let before_start = serde_json::to_value(status(None, &readings)).expect("serialises");
        assert!(before_start["experiment"].is_null() && before_start["explanation"].is_null());
    }
}
