//! `GET /api/v1/status`: what runs and how it is doing, in one JSON object
//! the live page polls: the experiment, the window summaries' quantiles for
//! both heartbeats, the checks, drift and the counter.
//!
//! A view of one observatory snapshot: every number comes from it, so they
//! agree with each other and with a scrape taken at the same moment.

use serde::Serialize;

use crate::explain::{CauseCounts, Source};
use crate::observe::{BoardSnapshot, ByCause, QUANTILES, Snapshot, WindowSnapshot};
use crate::serve::words;
use crate::sys::clock::{seconds, seconds_signed};

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
    /// Why beats later than `explain.threshold` were late.
    pub explain: Explain,
}

/// Why late beats were late, since the process started.
#[derive(Debug, Serialize)]
pub(crate) struct Explain {
    /// `explain.threshold`; `null` until the first experiment starts.
    pub threshold_seconds: Option<f64>,
    /// Which evidence sources the kernel offers, by name.
    pub sources_available: serde_json::Map<String, serde_json::Value>,
    pub main: Causes,
    pub control: Causes,
}

/// One heartbeat's late beats by dominant cause, and their lateness split
/// among the causes.
#[derive(Debug, Serialize)]
pub(crate) struct Causes {
    pub late_beats_by_cause: ByCause<u64>,
    pub lateness_explained_seconds_by_cause: ByCause<f64>,
}

impl From<&BoardSnapshot> for Causes {
    fn from(board: &BoardSnapshot) -> Causes {
        let CauseCounts { late_beats, explained_ns } = board.tally.causes;
        Causes {
            late_beats_by_cause: ByCause(late_beats),
            lateness_explained_seconds_by_cause: ByCause(explained_ns.map(seconds)),
        }
    }
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

impl From<Option<&WindowSnapshot>> for Quantiles {
    fn from(snapshot: Option<&WindowSnapshot>) -> Quantiles {
        let Some(snapshot) = snapshot else {
            return Quantiles { slots: 0, p50: None, p90: None, p99: None, p999: None, max: None };
        };
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

pub(crate) fn status(snapshot: &Snapshot) -> Status {
    let running = snapshot.running.as_ref();
    let settings = running.map(|r| &r.settings);
    let (main, control) = (&snapshot.main, &snapshot.control);
    Status {
        version: crate::build::VERSION,
        revision: crate::build::REVISION,
        uptime_seconds: snapshot.uptime.as_secs_f64(),
        experiment: running.map(|r| Experiment {
            strategy: r.settings.strategy.name(),
            schedule: r.settings.schedule.to_string(),
            size_elements: r.settings.size_elements,
            period_seconds: r.settings.period.as_secs_f64(),
            duty_cycle: r.settings.duty_cycle,
            control: r.settings.control,
            jitter_threshold_seconds: r.settings.jitter_threshold.as_secs_f64(),
            running_seconds: r.started.elapsed().as_secs_f64(),
        }),
        window: Window {
            seconds: settings.map(|s| s.record_window.as_secs_f64()),
            main: Quantiles::from(main.window.as_ref()),
            control: Quantiles::from(control.window.as_ref()),
        },
        checks: Checks { consistent: main.tally.consistent, inconsistent: main.tally.inconsistent },
        drift: Drift {
            seconds: seconds_signed(main.drift_ns),
            gained_seconds: seconds_signed(main.drift_gained_ns),
            threshold_seconds: settings.map(|s| s.drift_threshold.as_secs_f64()),
            window_seconds: settings.map(|s| s.drift_window.as_secs_f64()),
            // The threshold's own state, as its log lines say it.
            over_threshold: main.drift_over_threshold,
        },
        array_passes_total: snapshot.passes,
        heartbeats_total: main.tally.beats,
        heartbeat_missed_total: main.tally.missed,
        explanation: settings.map(|s| words::explain(s.strategy)),
        explain: Explain {
            threshold_seconds: settings.map(|s| s.explain_threshold.as_secs_f64()),
            sources_available: Source::ALL
                .into_iter()
                .map(|source| (source.name().to_owned(), snapshot.sources[source.index()].into()))
                .collect(),
            main: Causes::from(main),
            control: Causes::from(control),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::array::Check;
    use crate::config::Config;
    use crate::experiment::{Heartbeat, Settings, Strategy};
    use crate::measure::{BeatTimes, Scheduler};
    use crate::observe::{Keep, Observatory};
    use crate::sys::clock::MonoTime;

    #[test]
    fn numbers_land_where_the_page_reads_them() {
        let observatory = Arc::new(Observatory::new(Keep::Window));
        let before_start = serde_json::to_value(status(&observatory.snapshot())).expect("serialises");
        assert!(before_start["experiment"].is_null() && before_start["explanation"].is_null());
        assert!(before_start["window"]["main"]["0.5"].is_null());

        let settings = Settings {
            strategy: Strategy::ThreadsMutex,
            period: Duration::from_millis(10),
            drift_threshold: Duration::from_millis(100),
            ..Config::embedded_default().experiment()
        };
        observatory.begin(&settings, MonoTime(0));
        let mut scheduler = Scheduler::new(settings.schedule, settings.period, MonoTime(0));
        // Two beats 30 µs late, then one 200 ms late: drift gained crosses 100 ms.
        for (late_ns, mismatched) in [(30_000, 0), (30_000, 1), (200_000_000, 0)] {
            let due = scheduler.due();
            let done = due.plus_ns(late_ns);
            let beat = scheduler.complete(BeatTimes { scheduled: due, woke: done, accessed: done, done });
            observatory.record(Heartbeat::Main, &beat, Check { value: 7, mismatched_elements: mismatched });
        }
        observatory.passes().add_one();
        let json = serde_json::to_value(status(&observatory.snapshot())).expect("serialises");
        assert_eq!(json["experiment"]["strategy"], "threads-mutex");
        assert_eq!(json["experiment"]["period_seconds"], 0.01);
        assert_eq!(json["heartbeats_total"], 3);
        // Due at 30 ms, done at 230 ms: slots 4 to 23 passed meanwhile.
        assert_eq!(json["heartbeat_missed_total"], 20);
        assert_eq!(json["window"]["main"]["slots"], 23);
        assert!(json["window"]["main"]["1"].as_f64().is_some_and(|max| (max - 0.2).abs() < 0.001), "{json}");
        assert!(json["window"]["control"]["0.5"].is_null(), "an empty window has no quantiles");
        assert_eq!(json["drift"]["over_threshold"], true);
        assert_eq!(json["checks"]["inconsistent"], 1);
        assert_eq!(json["array_passes_total"], 1);
        assert!(json["explanation"].as_str().is_some_and(|s| s.contains("lock")));
    }
}
