//! The lateness histograms that count every slot, and the beat counters
//! they must agree with, exported as one consistent view.
//!
//! The `prometheus` crate's histogram takes one observation at a time: a
//! beat that swallowed an hour of slots at 100 µs would be 36 M calls. This
//! one records a beat and all its missed slots in one step, bucket by bucket
//! ([`missed_slot_runs`]), so the cost is bounded by the buckets. Its
//! buckets are finer than the other histograms' (four per octave, 1 µs to
//! 67 s), so `histogram_quantile` over them stays within about 10 % of the
//! truth. The beat, missed-slot and consistency-check counters live under
//! the same lock and are gathered from the same snapshot, so every scrape
//! satisfies `lateness_count = heartbeats_total + heartbeat_missed_total`
//! and `consistency_checks_total = heartbeats_total` exactly.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};

use crate::measure::{missed_slot_runs, missed_slot_sum_ns};

/// Buckets per octave of the lateness histograms.
pub(crate) const BUCKETS_PER_OCTAVE: u32 = 4;

/// Upper bounds of the lateness buckets in nanoseconds: `2^(i/4)` µs for
/// i = 0..=104 (1 µs to 67.1 s) rounded to three significant digits, so the
/// `le` labels stay short (`0.00000119`, `0.262`).
pub(crate) static LATENESS_BOUNDS_NS: LazyLock<Vec<u64>> = LazyLock::new(|| {
    (0..=26 * BUCKETS_PER_OCTAVE)
        .map(|i| {
            let exact = 1000.0 * f64::powf(2.0, f64::from(i) / f64::from(BUCKETS_PER_OCTAVE));
            let unit = f64::powi(10.0, exact.log10().floor() as i32 - 2);
            ((exact / unit).round() * unit).round() as u64
        })
        .collect()
});

/// Index of the bucket `value_ns` falls in (`le` semantics: at or below the
/// bound); the bounds' length for the `+Inf` bucket.
fn bucket_of(value_ns: u64) -> usize {
    LATENESS_BOUNDS_NS.partition_point(|&bound| bound < value_ns)
}

/// The smallest value that shares `value_ns`'s bucket.
fn bucket_floor(value_ns: u64) -> u64 {
    match bucket_of(value_ns) {
        0 => 0,
        i => LATENESS_BOUNDS_NS[i - 1] + 1,
    }
}

/// Per-slot lateness counts, plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotCounts {
    /// Beats completed.
    pub beats: u64,
    /// Slots skipped because a beat ran past them.
    pub missed: u64,
    /// Beats whose check found the array consistent, and not.
    pub consistent: u64,
    pub inconsistent: u64,
    /// Per bucket (not cumulative); the last one is `+Inf`.
    pub buckets: Vec<u64>,
    pub sum_ns: u128,
}

impl Default for SlotCounts {
    fn default() -> SlotCounts {
        SlotCounts {
            beats: 0,
            missed: 0,
            consistent: 0,
            inconsistent: 0,
            buckets: vec![0; LATENESS_BOUNDS_NS.len() + 1],
            sum_ns: 0,
        }
    }
}

impl SlotCounts {
    /// One beat `lateness_ns` late and each of its `missed` slots.
    pub fn record(&mut self, lateness_ns: u64, period_ns: u64, missed: u64) {
        self.beats += 1;
        self.missed += missed;
        self.buckets[bucket_of(lateness_ns)] += 1;
        for (value, slots) in missed_slot_runs(lateness_ns, period_ns, missed, bucket_floor) {
            self.buckets[bucket_of(value)] += slots;
        }
        self.sum_ns += u128::from(lateness_ns) + missed_slot_sum_ns(lateness_ns, period_ns, missed);
    }

    /// Slots recorded: beats plus missed.
    pub fn slots(&self) -> u64 {
        self.beats + self.missed
    }
}

/// Names and help of one exported family.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
}

/// The counters a heartbeat's slots are exported with: beats, missed
/// slots, and consistency checks by `result`.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    pub beats: Family,
    pub missed: Family,
    pub checks: Family,
}

/// A lateness histogram over every slot, optionally with the beat,
/// missed-slot and check counters; a Prometheus collector. Cheap to clone.
#[derive(Clone)]
pub struct SlotHistogram {
    counts: Arc<Mutex<SlotCounts>>,
    histogram: Desc,
    /// `heartbeats_total`, `heartbeat_missed_total` and
    /// `consistency_checks_total{result}`, when exported.
    counters: Option<[Desc; 3]>,
}

impl SlotHistogram {
    /// `histogram` names the lateness histogram; `counters`, when given, the
    /// counters exported with it.
    pub fn new(histogram: Family, counters: Option<Counters>) -> Result<SlotHistogram, prometheus::Error> {
        let desc = |f: Family, labels: &[&str]| {
            Desc::new(f.name.into(), f.help.into(), labels.iter().map(|&l| l.to_owned()).collect(), HashMap::new())
        };
        let counters = match counters {
            Some(Counters { beats, missed, checks }) => {
                Some([desc(beats, &[])?, desc(missed, &[])?, desc(checks, &["result"])?])
            }
            None => None,
        };
        Ok(SlotHistogram { counts: Arc::default(), histogram: desc(histogram, &[])?, counters })
    }

    /// Records one beat, its missed slots and, when the beat checked the
    /// array, whether it was consistent. Called on the heartbeat's thread:
    /// one short lock, no allocation.
    pub fn record(&self, lateness_ns: u64, period_ns: u64, missed: u64, consistent: Option<bool>) {
        let mut counts = self.counts.lock();
        counts.record(lateness_ns, period_ns, missed);
        match consistent {
            Some(true) => counts.consistent += 1,
            Some(false) => counts.inconsistent += 1,
            None => {}
        }
    }

    /// A copy of the counts as they are now.
    pub fn snapshot(&self) -> SlotCounts {
        self.counts.lock().clone()
    }

    pub fn beats(&self) -> u64 {
        self.counts.lock().beats
    }
}

fn family(desc: &Desc, kind: MetricType, metric: proto::Metric) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(desc.fq_name.clone());
    family.set_help(desc.help.clone());
    family.set_field_type(kind);
    family.set_metric(vec![metric]);
    family
}

fn counter(labels: &[(&str, &str)], value: u64) -> proto::Metric {
    let mut counter = proto::Counter::default();
    counter.set_value(value as f64);
    let mut metric = proto::Metric::default();
    metric.set_counter(counter);
    metric.set_label(
        labels
            .iter()
            .map(|&(name, value)| {
                let mut pair = proto::LabelPair::default();
                pair.set_name(name.to_owned());
                pair.set_value(value.to_owned());
                pair
            })
            .collect(),
    );
    metric
}

impl Collector for SlotHistogram {
    fn desc(&self) -> Vec<&Desc> {
        std::iter::once(&self.histogram).chain(self.counters.iter().flatten()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // One snapshot for every family: a scrape never sees a beat counted
        // but not its slots.
        let counts = self.snapshot();
        let mut histogram = proto::Histogram::default();
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(LATENESS_BOUNDS_NS.len());
        for (&bound_ns, &count) in LATENESS_BOUNDS_NS.iter().zip(&counts.buckets) {
            cumulative += count;
            let mut bucket = proto::Bucket::default();
            bucket.set_upper_bound(bound_ns as f64 / 1e9);
            bucket.set_cumulative_count(cumulative);
            buckets.push(bucket);
        }
        histogram.set_bucket(buckets);
        histogram.set_sample_count(counts.slots());
        histogram.set_sample_sum(counts.sum_ns as f64 / 1e9);
        let mut metric = proto::Metric::default();
        metric.set_histogram(histogram);
        let mut families = vec![family(&self.histogram, MetricType::HISTOGRAM, metric)];
        if let Some([beats, missed, checks]) = &self.counters {
            families.push(family(beats, MetricType::COUNTER, counter(&[], counts.beats)));
            families.push(family(missed, MetricType::COUNTER, counter(&[], counts.missed)));
            let mut by_result =
                family(checks, MetricType::COUNTER, counter(&[("result", "consistent")], counts.consistent));
            by_result.mut_metric().push(counter(&[("result", "inconsistent")], counts.inconsistent));
            families.push(by_result);
        }
        families
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn four_buckets_per_octave_from_1us_past_64s() {
        let bounds = &*LATENESS_BOUNDS_NS;
        assert_eq!(bounds.first(), Some(&1000));
        assert!(bounds.last().is_some_and(|&b| b >= 64_000 * MS), "{:?}", bounds.last());
        assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        // 4 per octave over 26 octaves: neighbours differ by 2^(1/4) = 1.189,
        // give or take the rounding to three digits.
        assert_eq!(bounds.len(), 105);
        assert!(bounds.windows(2).all(|w| (w[1] as f64 / w[0] as f64) < 1.2));
        assert_eq!(LATENESS_BOUNDS_NS[72] as f64 / 1e9, 0.262);
    }

    #[test]
    fn buckets_hold_values_at_or_below_their_bound() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1000), 0);
        assert_eq!(bucket_of(1001), 1);
        assert_eq!(bucket_floor(1001), 1001);
        assert_eq!(bucket_floor(1190), 1001);
        assert_eq!(bucket_of(u64::MAX), LATENESS_BOUNDS_NS.len());
    }

    #[test]
    fn a_stall_is_every_slot_it_swallowed() {
        // 10 ms period, one beat 1,000.5 ms late that skipped 99 slots.
        let mut counts = SlotCounts::default();
        counts.record(50_000, 10 * MS, 0);
        counts.record(1_000_500_000, 10 * MS, 99);
        assert_eq!((counts.beats, counts.missed, counts.slots()), (2, 99, 101));
        assert_eq!(counts.buckets.iter().sum::<u64>(), 101);
        // Slot by slot, the same counts.
        let mut naive = vec![0u64; LATENESS_BOUNDS_NS.len() + 1];
        naive[bucket_of(50_000)] += 1;
        naive[bucket_of(1_000_500_000)] += 1;
        for j in 1..=99u64 {
            naive[bucket_of(1_000_500_000 - j * 10 * MS)] += 1;
        }
        assert_eq!(counts.buckets, naive);
        let slot_sum: u128 = (1..=99u128).map(|j| 1_000_500_000 - j * 10_000_000).sum();
        assert_eq!(counts.sum_ns, 50_000 + 1_000_500_000 + slot_sum);
    }

    #[test]
    fn exported_count_is_beats_plus_missed_and_checks_are_beats() -> Result<(), prometheus::Error> {
        let family = |name| Family { name, help: "h" };
        let counters = Counters { beats: family("b"), missed: family("m"), checks: family("c") };
        let slots = SlotHistogram::new(family("l"), Some(counters))?;
        slots.record(30 * MS, 10 * MS, 2, Some(true));
        slots.record(20_000, 10 * MS, 0, Some(false));
        let registry = prometheus::Registry::new();
        registry.register(Box::new(slots.clone()))?;
        let mut text = Vec::new();
        prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &registry.gather(), &mut text)?;
        let text = String::from_utf8(text).unwrap_or_default();
        for line in [
            "l_count 4",
            "b 2",
            "m 2",
            "c{result=\"consistent\"} 1",
            "c{result=\"inconsistent\"} 1",
            "# TYPE c counter",
        ]
        .into_iter()
        .chain(["# TYPE l histogram", "# TYPE b counter", "l_bucket{le=\"0.0000226\"} 1"])
        {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        Ok(())
    }
}
