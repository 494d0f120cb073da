//! The Prometheus exposition: a read-only view of the observatory, and the
//! only place that names the `prometheus` crate.
//!
//! As node_exporter's collectors do, [`ObservatoryCollector`] owns no state:
//! at each scrape it takes one [`Snapshot`] and builds every family of the
//! contract from it, so one scrape is one moment (checks = beats, lateness
//! `_count` = beats + missed, wake lateness `_count` = beats) and nothing is
//! ever read back from a gauge. The crate's registry adds the standard
//! `process_*` families, sorts the families by name and the text encoder
//! writes format 0.0.4. The families' names, types and help texts are the
//! contract's table, in [`families`].
//!
//! A scraper that prefers the delimited protobuf format ([`negotiate`]) gets
//! the same families in it, and there the two per-slot lateness histograms
//! also carry native buckets ([`native`]); everyone else gets text, byte for
//! byte as before. With `metrics.native_histograms` off, everyone gets text.

mod families;
mod native;
mod negotiate;

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Bucket, Counter, Gauge, LabelPair, Metric, MetricFamily, Quantile, Summary};
use prometheus::{Encoder, ProtobufEncoder, Registry, TextEncoder};

use self::families::*;
use self::native::NativeCounts;
use self::negotiate::Format;
use super::rejected::{Reason, Rejected};
use crate::explain::{Cause, Source};
use crate::observe::{
    BeatCounts, BoardSnapshot, LATENESS_BOUNDS_NS, LatenessCounts, NATIVE_SCHEMA, Observatory, QUANTILES, Snapshot,
    WindowSnapshot, doubling_bounds_seconds,
};
use crate::sys::clock::seconds_signed;

/// The exposition of one observatory: a registry whose collector builds the
/// classic families for text, and, with native histograms on, one whose
/// collector adds the native buckets for protobuf, so a text scrape does not
/// build buckets it would drop.
pub(crate) struct Exporter {
    text: Registry,
    /// For scrapers that prefer protobuf (native histograms on).
    protobuf: Option<Registry>,
}

/// One answer to a scrape: its body and the content type that names its format.
pub(crate) struct Exposition {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The text format's content type.
pub(crate) const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The delimited protobuf format's content type, as client_golang writes it.
pub(crate) const PROTOBUF_FORMAT: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

impl Exporter {
    pub(crate) fn new(
        observatory: Arc<Observatory>,
        rejected: Arc<Rejected>,
        native_histograms: Option<f64>,
    ) -> Result<Exporter, prometheus::Error> {
        let registry = |native_schema: Option<i8>| -> Result<Registry, prometheus::Error> {
            let registry = Registry::new();
            let collector = ObservatoryCollector::new(Arc::clone(&observatory), Arc::clone(&rejected), native_schema)?;
            registry.register(Box::new(collector))?;
            registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
            Ok(registry)
        };
        let protobuf = native_histograms.map(|factor| registry(Some(native::schema_for(factor)))).transpose()?;
        Ok(Exporter { text: registry(None)?, protobuf })
    }

    /// The answer to a scraper whose Accept header is `accept`: protobuf
    /// when it prefers that and native histograms are on, else the text
    /// format, byte for byte as [`Exporter::render`] writes it.
    pub(crate) fn answer(&self, accept: Option<&str>) -> Result<Exposition, prometheus::Error> {
        match (negotiate::preferred(accept), &self.protobuf) {
            (Format::Protobuf, Some(registry)) => {
                let mut body = Vec::with_capacity(32 * 1024);
                ProtobufEncoder::new().encode(&registry.gather(), &mut body)?;
                Ok(Exposition { content_type: PROTOBUF_FORMAT, body })
            }
            _ => Ok(Exposition { content_type: TEXT_FORMAT, body: self.render()? }),
        }
    }

    /// Every family in the Prometheus text format.
    pub(crate) fn render(&self) -> Result<Vec<u8>, prometheus::Error> {
        let mut buffer = Vec::with_capacity(32 * 1024);
        TextEncoder::new().encode(&self.text.gather(), &mut buffer)?;
        Ok(buffer)
    }
}

/// Builds the contract's families from the observatory at scrape time.
struct ObservatoryCollector {
    observatory: Arc<Observatory>,
    rejected: Arc<Rejected>,
    /// The schema of the lateness histograms' native buckets, when on.
    native_schema: Option<i8>,
    descs: Vec<Desc>,
}

impl ObservatoryCollector {
    fn new(
        observatory: Arc<Observatory>,
        rejected: Arc<Rejected>,
        native_schema: Option<i8>,
    ) -> Result<ObservatoryCollector, prometheus::Error> {
        let mut descs = Vec::new();
        for spec in SPECS {
            let labels = spec.labels.iter().map(|&label| label.to_owned()).collect();
            descs.push(Desc::new(format!("jitterd_{}", spec.name), spec.help.to_owned(), labels, HashMap::new())?);
        }
        Ok(ObservatoryCollector { observatory, rejected, native_schema, descs })
    }
}

impl Collector for ObservatoryCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let snapshot = self.observatory.snapshot();
        let mut families = experiment_families(&snapshot);
        families.extend(heartbeat_families(&snapshot, self.native_schema));
        families.extend(run_families(&snapshot));
        families.extend(explain_families(&snapshot));
        families.push(family(
            &HTTP_REJECTED,
            Reason::ALL
                .into_iter()
                .map(|reason| labelled(counter(self.rejected.get(reason)), &[("reason", reason.name())]))
                .collect(),
        ));
        families
    }
}

/// The build and the running experiment's settings (0 before the first).
fn experiment_families(snapshot: &Snapshot) -> Vec<MetricFamily> {
    let build =
        [("revision", crate::build::REVISION), ("rustc", crate::build::RUSTC), ("version", crate::build::VERSION)];
    let mut families = vec![family(&BUILD_INFO, vec![labelled(gauge(1.0), &build)])];
    let settings = snapshot.running.as_ref().map(|running| &running.settings);
    // No series before the first experiment: there is none to describe.
    let info = settings
        .map(|s| labelled(gauge(1.0), &[("schedule", &s.schedule.to_string()), ("strategy", s.strategy.name())]));
    families.push(family(&EXPERIMENT_INFO, info.into_iter().collect()));
    let setting = |read: fn(&crate::experiment::Settings) -> f64| gauge(settings.map_or(0.0, read));
    families.extend([
        family(&ARRAY_SIZE, vec![setting(|s| s.size_elements as f64)]),
        family(&DUTY_CYCLE, vec![setting(|s| s.duty_cycle)]),
        family(&PERIOD, vec![setting(|s| s.period.as_secs_f64())]),
        family(&DRIFT_THRESHOLD, vec![setting(|s| s.drift_threshold.as_secs_f64())]),
        family(&JITTER_THRESHOLD, vec![setting(|s| s.jitter_threshold.as_secs_f64())]),
        family(&DRIFT_WINDOW_LENGTH, vec![setting(|s| s.drift_window.as_secs_f64())]),
    ]);
    families
}

/// What the heartbeats measured: both boards; the lateness histograms with
/// native buckets at `native_schema`, when on.
fn heartbeat_families(snapshot: &Snapshot, native_schema: Option<i8>) -> Vec<MetricFamily> {
    let (main, control) = (&snapshot.main, &snapshot.control);
    let tally = &main.tally;
    let checks = vec![
        labelled(counter(tally.consistent), &[("result", "consistent")]),
        labelled(counter(tally.inconsistent), &[("result", "inconsistent")]),
    ];
    let last = main.last_check;
    vec![
        family(&LATENESS, vec![lateness_histogram(main, native_schema)]),
        family(&BEATS, vec![counter(tally.beats)]),
        family(&MISSED, vec![counter(tally.missed)]),
        family(&CHECKS, checks),
        family(&WAKE_LATENESS, vec![beat_histogram(&tally.wake_lateness)]),
        family(&ACCESS_WAIT, vec![beat_histogram(&tally.access_wait)]),
        family(&JITTER, vec![beat_histogram(&tally.jitter)]),
        family(&CHECK_DURATION, vec![beat_histogram(&tally.check_duration)]),
        family(&DRIFT, vec![gauge(seconds_signed(main.drift_ns))]),
        family(&DRIFT_GAINED, vec![gauge(seconds_signed(main.drift_gained_ns))]),
        family(&LAST_BEAT, vec![gauge(last.unix_seconds)]),
        family(&MISMATCHED, vec![gauge(last.mismatched_elements as f64)]),
        family(&VALUE, vec![gauge(last.value as f64)]),
        family(&CONTROL_LATENESS, vec![lateness_histogram(control, native_schema)]),
        family(&LATENESS_WINDOW, vec![summary(main.window.as_ref())]),
        family(&CONTROL_LATENESS_WINDOW, vec![summary(control.window.as_ref())]),
        family(&JITTER_WINDOW, vec![summary(main.jitter_window.as_ref())]),
    ]
}

/// Why late beats were late: by cause on both boards, the threshold and
/// which sources the kernel offers.
fn explain_families(snapshot: &Snapshot) -> Vec<MetricFamily> {
    let by_cause = |read: &dyn Fn(Cause) -> Metric| {
        Cause::ALL.into_iter().map(|cause| labelled(read(cause), &[("cause", cause.name())])).collect()
    };
    let (main, control) = (&snapshot.main.tally.causes, &snapshot.control.tally.causes);
    let threshold = snapshot.running.as_ref().map_or(0.0, |running| running.settings.explain_threshold.as_secs_f64());
    vec![
        family(&LATE_BEATS, by_cause(&|cause| counter(main.late_beats(cause)))),
        family(&CONTROL_LATE_BEATS, by_cause(&|cause| counter(control.late_beats(cause)))),
        family(&EXPLAINED, by_cause(&|cause| counter_seconds(main.explained_ns(cause)))),
        family(&CONTROL_EXPLAINED, by_cause(&|cause| counter_seconds(control.explained_ns(cause)))),
        family(&EXPLAIN_THRESHOLD, vec![gauge(threshold)]),
        family(
            &EXPLAIN_SOURCE,
            Source::ALL
                .into_iter()
                .map(|source| {
                    let available = f64::from(u8::from(snapshot.sources[source.index()]));
                    labelled(gauge(available), &[("source", source.name())])
                })
                .collect(),
        ),
    ]
}

/// What the process did around the experiment: passes, reloads, the log.
fn run_families(snapshot: &Snapshot) -> Vec<MetricFamily> {
    let reloads = snapshot.reloads;
    vec![
        family(&PASSES, vec![counter(snapshot.passes)]),
        family(
            &RELOADS,
            vec![
                labelled(counter(reloads.failed), &[("result", "failure")]),
                labelled(counter(reloads.succeeded), &[("result", "success")]),
            ],
        ),
        family(&LAST_RELOAD, vec![gauge(f64::from(u8::from(reloads.last_successful)))]),
        family(&WRITE_ERRORS, vec![counter(snapshot.write_errors)]),
    ]
}

fn family(spec: &Spec, metrics: Vec<Metric>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(format!("jitterd_{}", spec.name));
    family.set_help(spec.help.to_owned());
    family.set_field_type(spec.kind);
    family.set_metric(metrics);
    family
}

fn labelled(mut metric: Metric, labels: &[(&str, &str)]) -> Metric {
    metric.set_label(
        labels
            .iter()
            .map(|&(name, value)| {
                let mut pair = LabelPair::default();
                pair.set_name(name.to_owned());
                pair.set_value(value.to_owned());
                pair
            })
            .collect(),
    );
    metric
}

fn gauge(value: f64) -> Metric {
    let mut gauge = Gauge::default();
    gauge.set_value(value);
    let mut metric = Metric::default();
    metric.set_gauge(gauge);
    metric
}

fn counter(value: u64) -> Metric {
    counter_value(value as f64)
}

/// A counter of nanoseconds, exported in seconds.
fn counter_seconds(nanos: u64) -> Metric {
    counter_value(nanos as f64 / 1e9)
}

fn counter_value(value: f64) -> Metric {
    let mut counter = Counter::default();
    counter.set_value(value);
    let mut metric = Metric::default();
    metric.set_counter(counter);
    metric
}

/// A histogram from its bounds in seconds and cumulative counts; the
/// encoder adds `+Inf`, which is the count.
fn histogram(buckets: impl Iterator<Item = (f64, u64)>, count: u64, sum_ns: u128) -> Metric {
    let mut histogram = prometheus::proto::Histogram::default();
    histogram.set_bucket(
        buckets
            .map(|(upper_bound, cumulative)| {
                let mut bucket = Bucket::default();
                bucket.set_upper_bound(upper_bound);
                bucket.set_cumulative_count(cumulative);
                bucket
            })
            .collect(),
    );
    histogram.set_sample_count(count);
    histogram.set_sample_sum(sum_ns as f64 / 1e9);
    let mut metric = Metric::default();
    metric.set_histogram(histogram);
    metric
}

/// Every slot's lateness on `board`: the classic buckets, and the native
/// ones at `native_schema` when on and the observatory counts them. Count
/// and sum are the classic ones, so both parts agree exactly.
fn lateness_histogram(board: &BoardSnapshot, native_schema: Option<i8>) -> Metric {
    let counts: &LatenessCounts = &board.tally.lateness;
    let bounds = LATENESS_BOUNDS_NS.iter().map(|&bound_ns| bound_ns as f64 / 1e9);
    let mut metric = histogram(bounds.zip(counts.cumulative()), board.tally.slots(), counts.sum_ns);
    if let Some(native) = native_schema.and_then(|schema| Some(native::encode(native_lateness(board)?, schema))) {
        native::add_to(metric.histogram.mut_or_insert_default(), &native);
    }
    metric
}

/// The observatory's native counts of every slot's lateness on `board`,
/// counted in the same step as the classic ones, so one snapshot holds both.
fn native_lateness(board: &BoardSnapshot) -> Option<NativeCounts<impl Iterator<Item = (i32, u64)> + '_>> {
    let counts = &board.tally.native_lateness;
    Some(NativeCounts { schema: NATIVE_SCHEMA, zero_count: counts.zero, buckets: counts.populated() })
}

fn beat_histogram(counts: &BeatCounts) -> Metric {
    histogram(doubling_bounds_seconds().into_iter().zip(counts.cumulative()), counts.count(), counts.sum_ns)
}

/// The window's quantiles (NaN while it is empty, as client_golang writes
/// them) with the count and sum since the process started.
fn summary(window: Option<&WindowSnapshot>) -> Metric {
    let empty =
        WindowSnapshot { quantiles: QUANTILES.map(|q| (q, f64::NAN)), window_count: 0, count: 0, sum_seconds: 0.0 };
    let window = window.unwrap_or(&empty);
    let mut summary = Summary::default();
    summary.set_sample_count(window.count);
    summary.set_sample_sum(window.sum_seconds);
    summary.set_quantile(
        window
            .quantiles
            .iter()
            .map(|&(quantile, seconds)| {
                let mut exported = Quantile::default();
                exported.set_quantile(quantile);
                exported.set_value(seconds);
                exported
            })
            .collect(),
    );
    let mut metric = Metric::default();
    metric.set_summary(summary);
    metric
}

#[cfg(test)]
mod tests;
