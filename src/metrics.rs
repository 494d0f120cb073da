//! The Prometheus metrics of the contract, in one registry.
//!
//! One [`Metrics`] lives for the whole process: counters and histograms go
//! on across config reloads, the info and setting gauges are replaced when
//! an experiment starts. Heartbeats and counters write to it; the HTTP
//! thread gathers it. The per-slot lateness histograms and the counters they
//! must agree with are a [`SlotHistogram`] each (main and control); the
//! window summaries read a [`LatenessStore`] each, which the interval log
//! reads too.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use std::sync::Arc;

use crate::experiment::Settings;
use crate::lateness::{LatenessStore, WindowSummary};
use crate::slot_histogram::{Counters, Family, SlotHistogram};

const NAMESPACE: &str = "jitterd";

/// The window summaries' span until an experiment sets its `record.window`.
const DEFAULT_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Histogram buckets from 1 µs to about 67 s, doubling: a 20 µs wake-up
/// and a 10 s starvation both land in a real bucket. The lateness
/// histograms have finer ones ([`crate::slot_histogram::LATENESS_BOUNDS_NS`]).
pub fn latency_buckets() -> Vec<f64> {
    (0..27).map(|i| 1e-6 * f64::powi(2.0, i)).collect()
}

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub build_info: GaugeVec,
    pub experiment_info: GaugeVec,
    pub array_size_elements: IntGauge,
    pub duty_cycle_ratio: Gauge,
    pub heartbeat_period_seconds: Gauge,
    pub drift_threshold_seconds: Gauge,
    pub jitter_threshold_seconds: Gauge,
    /// `heartbeat_lateness_seconds` (every slot) with `heartbeats_total`
    /// and `heartbeat_missed_total`.
    pub heartbeat_slots: SlotHistogram,
    pub heartbeat_wake_lateness_seconds: Histogram,
    pub heartbeat_access_wait_seconds: Histogram,
    pub heartbeat_jitter_seconds: Histogram,
    pub heartbeat_drift_seconds: Gauge,
    pub drift_window_seconds: Gauge,
    pub drift_window_length_seconds: Gauge,
    pub heartbeat_last_timestamp_seconds: Gauge,
    pub consistency_check_duration_seconds: Histogram,
    pub consistency_mismatched_elements: IntGauge,
    pub array_passes_total: IntCounter,
    pub array_value: Gauge,
    pub config_reloads_total: IntCounterVec,
    pub config_last_reload_successful: IntGauge,
    /// `control_lateness_seconds` (every slot).
    pub control_slots: SlotHistogram,
    /// Every slot of the main heartbeat over `record.window`, for
    /// `heartbeat_lateness_window_seconds` and the interval log's `main` tag.
    pub heartbeat_lateness_window: Arc<LatenessStore>,
    /// Likewise for the control heartbeat (`control_lateness_window_seconds`, tag `control`).
    pub control_lateness_window: Arc<LatenessStore>,
    pub record_write_errors_total: IntCounter,
    /// The recent slots and the running experiment, for the live page.
    pub live: Arc<crate::live::Live>,
    /// Held while the experiment's description changes and while a scrape
    /// gathers, so no scrape sees the info gauge reset but not yet set, or
    /// one experiment's strategy with another's period.
    describing: std::sync::Arc<std::sync::Mutex<()>>,
}

/// Makes each metric and registers it in the same step, so a metric is
/// named once, where its field is set.
struct Registrar {
    registry: Registry,
}

impl Registrar {
    fn add<C: Collector + Clone + 'static>(&self, made: Result<C, prometheus::Error>) -> Result<C, prometheus::Error> {
        let metric = made?;
        self.registry.register(Box::new(metric.clone()))?;
        Ok(metric)
    }

    fn opts(name: &str, help: &str) -> Opts {
        Opts::new(name, help).namespace(NAMESPACE)
    }

    fn gauge(&self, name: &str, help: &str) -> Result<Gauge, prometheus::Error> {
        self.add(Gauge::with_opts(Self::opts(name, help)))
    }

    fn int_gauge(&self, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
        self.add(IntGauge::with_opts(Self::opts(name, help)))
    }

    fn info(&self, name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec, prometheus::Error> {
        self.add(GaugeVec::new(Self::opts(name, help), labels))
    }

    fn counter(&self, name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
        self.add(IntCounter::with_opts(Self::opts(name, help)))
    }

    /// A counter by label, with every label value present from the start, so
    /// rates and alerts see zero, not absence.
    fn counter_by(
        &self,
        name: &str,
        help: &str,
        label: &str,
        values: &[&str],
    ) -> Result<IntCounterVec, prometheus::Error> {
        let counter = self.add(IntCounterVec::new(Self::opts(name, help), &[label]))?;
        for value in values {
            counter.with_label_values(&[value]);
        }
        Ok(counter)
    }

    fn histogram(&self, name: &str, help: &str) -> Result<Histogram, prometheus::Error> {
        self.add(Histogram::with_opts(HistogramOpts::new(name, help).namespace(NAMESPACE).buckets(latency_buckets())))
    }

    fn slots(&self, lateness: Family, counts: Option<Counters>) -> Result<SlotHistogram, prometheus::Error> {
        self.add(SlotHistogram::new(lateness, counts))
    }

    /// A lateness store, exported as a window summary.
    fn window(&self, name: &str, help: &str) -> Result<Arc<LatenessStore>, prometheus::Error> {
        let store = Arc::new(LatenessStore::new(DEFAULT_WINDOW));
        self.registry.register(Box::new(WindowSummary::new(name, help, Arc::clone(&store))?))?;
        Ok(store)
    }
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let r = Registrar { registry: Registry::new() };
        let metrics = Metrics {
            build_info: r.info(
                "build_info",
                "A metric with a constant '1' value labeled by the version, revision and rustc version of jitterd.",
                &["version", "revision", "rustc"],
            )?,
            experiment_info: r.info(
                "experiment_info",
                "A metric with a constant '1' value labeled by the running strategy and heartbeat schedule.",
                &["strategy", "schedule"],
            )?,
            array_size_elements: r.int_gauge("array_size_elements", "Elements in the array the counter increments.")?,
            duty_cycle_ratio: r.gauge(
                "duty_cycle_ratio",
                "Configured counter.duty_cycle: the share of each period the counter runs (1: continuously).",
            )?,
            heartbeat_period_seconds: r.gauge("heartbeat_period_seconds", "Configured heartbeat period.")?,
            drift_threshold_seconds: r.gauge("drift_threshold_seconds", "Configured drift alert threshold.")?,
            jitter_threshold_seconds: r.gauge("jitter_threshold_seconds", "Configured jitter alert threshold.")?,
            heartbeat_slots: r.slots(
                Family {
                    name: "jitterd_heartbeat_lateness_seconds",
                    help: "Lateness of every heartbeat slot: a beat's time from due to check finished, and for each slot it swallowed, the time from that slot being due to the beat finishing.",
                },
                Some(Counters {
                    beats: Family { name: "jitterd_heartbeats_total", help: "Heartbeats completed." },
                    missed: Family {
                        name: "jitterd_heartbeat_missed_total",
                        help: "Heartbeat slots skipped because an earlier beat ran past them (absolute schedule).",
                    },
                    checks: Family {
                        name: "jitterd_consistency_checks_total",
                        help: "Consistency checks of the array by result.",
                    },
                }),
            )?,
            heartbeat_wake_lateness_seconds: r.histogram(
                "heartbeat_wake_lateness_seconds",
                "Time from when a beat was due to when its timer returned.",
            )?,
            heartbeat_access_wait_seconds: r.histogram(
                "heartbeat_access_wait_seconds",
                "Time from the heartbeat's wake-up to getting the array (lock, reply or snapshot).",
            )?,
            heartbeat_jitter_seconds: r.histogram(
                "heartbeat_jitter_seconds",
                "Absolute deviation of each beat interval from the period.",
            )?,
            heartbeat_drift_seconds: r.gauge(
                "heartbeat_drift_seconds",
                "Accumulated jitter: last beat time minus start minus beats times period (signed).",
            )?,
            drift_window_seconds: r.gauge(
                "drift_window_seconds",
                "Drift gained within the last alerts.drift_window (signed): what the drift threshold acts on.",
            )?,
            drift_window_length_seconds: r.gauge(
                "drift_window_length_seconds",
                "Configured alerts.drift_window: how far back jitterd_drift_window_seconds looks.",
            )?,
            heartbeat_last_timestamp_seconds: r
                .gauge("heartbeat_last_timestamp_seconds", "Unix time of the last completed heartbeat.")?,
            consistency_check_duration_seconds: r
                .histogram("consistency_check_duration_seconds", "Time one consistency check took.")?,
            consistency_mismatched_elements: r.int_gauge(
                "consistency_mismatched_elements",
                "Elements that differed from element 0 in the last check.",
            )?,
            array_passes_total: r.counter("array_passes_total", "Passes the counter completed over the array.")?,
            array_value: r.gauge("array_value", "Element 0 of the array as the last check saw it.")?,
            config_reloads_total: r.counter_by(
                "config_reloads_total",
                "Configuration reloads by result.",
                "result",
                &["success", "failure"],
            )?,
            config_last_reload_successful: r.int_gauge(
                "config_last_reload_successful",
                "Whether the last configuration reload attempt was successful.",
            )?,
            control_slots: r.slots(
                Family {
                    name: "jitterd_control_lateness_seconds",
                    help: "Lateness of every slot of the control heartbeat, which shares nothing with the counter and is offset by half a period: the host's share of lateness.",
                },
                None,
            )?,
            record_write_errors_total: r
                .counter("record_write_errors_total", "Interval log writes that failed (record.interval_log).")?,
            heartbeat_lateness_window: r.window(
                "heartbeat_lateness_window_seconds",
                "Lateness of every heartbeat slot over the last record.window: exact quantiles (HdrHistogram, 3 significant digits); count and sum since the process started.",
            )?,
            control_lateness_window: r.window(
                "control_lateness_window_seconds",
                "Lateness of every control heartbeat slot over the last record.window: exact quantiles (HdrHistogram, 3 significant digits); count and sum since the process started.",
            )?,
            live: Arc::default(),
            describing: std::sync::Arc::default(),
            registry: r.registry,
        };
        metrics.registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), crate::build::REVISION, crate::build::RUSTC])
            .set(1.0);
        metrics.config_last_reload_successful.set(1);
        Ok(metrics)
    }

    /// Sets the info and setting gauges for an experiment about to start.
    pub fn describe_experiment(&self, settings: &Settings) {
        let _describing = self.describing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.experiment_info.reset();
        self.experiment_info.with_label_values(&[settings.strategy.name(), &settings.schedule.to_string()]).set(1.0);
        self.array_size_elements.set(i64::try_from(settings.size_elements).unwrap_or(i64::MAX));
        self.duty_cycle_ratio.set(settings.duty_cycle);
        self.heartbeat_period_seconds.set(settings.period.as_secs_f64());
        self.drift_threshold_seconds.set(settings.drift_threshold.as_secs_f64());
        self.jitter_threshold_seconds.set(settings.jitter_threshold.as_secs_f64());
        self.heartbeat_drift_seconds.set(0.0);
        self.drift_window_seconds.set(0.0);
        self.drift_window_length_seconds.set(settings.drift_window.as_secs_f64());
        // A new experiment: the windows forget the old one (their counts and
        // sums, and the interval log, go on) and take the configured span.
        for store in [&self.heartbeat_lateness_window, &self.control_lateness_window] {
            store.reset_window();
            store.set_window(settings.record_window);
        }
        self.live.describe(crate::live::ExperimentView {
            strategy: settings.strategy,
            schedule: settings.schedule,
            size_elements: settings.size_elements,
            period: settings.period,
            duty_cycle: settings.duty_cycle,
            control: settings.control,
            jitter_threshold: settings.jitter_threshold,
            drift_threshold: settings.drift_threshold,
            drift_window: settings.drift_window,
            record_window: settings.record_window,
            started: std::time::Instant::now(),
        });
    }

    /// The registry in the Prometheus text format.
    pub fn render(&self) -> Result<Vec<u8>, prometheus::Error> {
        let mut buffer = Vec::with_capacity(16 * 1024);
        let families = {
            let _describing = self.describing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.registry.gather()
        };
        TextEncoder::new().encode(&families, &mut buffer)?;
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_span_microseconds_to_a_minute() {
        let buckets = latency_buckets();
        assert!(buckets[0] <= 2e-6);
        assert!(*buckets.last().unwrap_or(&0.0) >= 60.0);
    }

    #[test]
    fn renders_every_family() -> Result<(), prometheus::Error> {
        let metrics = Metrics::new()?;
        metrics.describe_experiment(&crate::config::Config::embedded_default().experiment());
        let text = String::from_utf8(metrics.render()?).unwrap_or_default();
        for name in [
            "jitterd_build_info",
            "jitterd_experiment_info",
            "jitterd_consistency_checks_total",
            "process_cpu_seconds_total",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
        Ok(())
    }
}
