//! One beat and the slots it swallowed, recorded as what they are: an
//! arithmetic progression.
//!
//! A beat `lateness_ns` late that skipped `missed` slots stands for
//! `missed + 1` slots whose lateness is `lateness_ns − j·period_ns` for
//! `j = 0..=missed` (the beat's own slot, then each skipped one). HdrHistogram's
//! `record_correct` fills the same values in, one record per slot; a one-hour
//! stall at a 100 µs period would be 36 M records on the heartbeat's thread.
//! Here the progression is cut at HDR bucket edges and each run is recorded
//! with one `record_n`, so the work is bounded by the buckets touched (at most
//! a few tens of thousands), whatever `missed` is.

use hdrhistogram::Histogram;

use crate::measure::{SlotRuns, missed_slot_sum_ns};

/// Records the slots of one beat into every histogram of `targets`, which
/// must share one layout (see [`super::new_histogram`]).
///
/// The runs are [`crate::measure::missed_slot_runs`]'s, cut at the HDR
/// bucket edges. Values above the histograms' highest trackable value are
/// recorded as that value; a slot whose lateness would come out negative
/// (the caller's `missed` larger than `lateness_ns / period_ns`) is recorded
/// as 0. A period of 0 is taken as 1 ns.
pub fn record<const N: usize>(mut targets: [&mut Histogram<u64>; N], lateness_ns: u64, period_ns: u64, missed: u64) {
    let Some(layout) = targets.first() else { return };
    let highest_ns = layout.high();
    let record_run = |targets: &mut [&mut Histogram<u64>; N], value: u64, count: u64| {
        for target in targets.iter_mut() {
            target.saturating_record_n(value.min(highest_ns), count);
        }
    };
    record_run(&mut targets, lateness_ns, 1);
    // Everything above the highest trackable value is one run, clamped.
    let floor = |layout: &Histogram<u64>, value: u64| {
        if value > highest_ns { highest_ns.saturating_add(1) } else { layout.lowest_equivalent(value) }
    };
    let mut runs = SlotRuns::new(lateness_ns, period_ns, missed);
    while let Some((value, count)) = runs.next_run(|value| floor(targets[0], value)) {
        record_run(&mut targets, value, count);
    }
}

/// The sum of the slots' true lateness in nanoseconds (no clamping at the
/// top; slots that would be negative count as 0), as the summary's `_sum`.
pub(super) fn sum_ns(lateness_ns: u64, period_ns: u64, missed: u64) -> u128 {
    u128::from(lateness_ns) + missed_slot_sum_ns(lateness_ns, period_ns, missed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::store::new_histogram;
    use proptest::prelude::*;

    /// What `record` must equal: one record per slot.
    fn naive(lateness_ns: u64, period_ns: u64, missed: u64) -> (Histogram<u64>, u128) {
        let mut histogram = new_histogram();
        let mut sum = 0u128;
        for j in 0..=missed {
            let value = lateness_ns.saturating_sub(j * period_ns);
            sum += u128::from(value);
            histogram.saturating_record(value.min(histogram.high()));
        }
        (histogram, sum)
    }

    fn by_runs(lateness_ns: u64, period_ns: u64, missed: u64) -> Histogram<u64> {
        let mut histogram = new_histogram();
        record([&mut histogram], lateness_ns, period_ns, missed);
        histogram
    }

    fn assert_same(lateness_ns: u64, period_ns: u64, missed: u64) {
        let (expected, expected_sum) = naive(lateness_ns, period_ns, missed);
        let got = by_runs(lateness_ns, period_ns, missed);
        assert_eq!(got.len(), missed + 1, "count for L={lateness_ns} P={period_ns} m={missed}");
        let differing = expected
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .zip(got.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())))
            .find(|(a, b)| a != b);
        assert_eq!(differing, None, "L={lateness_ns} P={period_ns} m={missed}");
        assert_eq!(got.max(), expected.max());
        assert_eq!(got.min(), expected.min());
        assert_eq!(sum_ns(lateness_ns, period_ns, missed), expected_sum);
    }

    #[test]
    fn one_beat_on_time_is_one_slot() {
        let histogram = by_runs(42_000, 1_000_000, 0);
        assert_eq!(histogram.len(), 1);
        assert!(histogram.equivalent(histogram.max(), 42_000));
        assert_eq!(sum_ns(42_000, 1_000_000, 0), 42_000);
    }

    #[test]
    fn a_stall_matches_one_record_per_slot() {
        // 1 s stall at 10 ms: 99 missed slots, from 1.0005 s down to 10.5 ms.
        assert_same(1_000_500_000, 10_000_000, 99);
        // Periods finer than the buckets: many slots per bucket.
        assert_same(2_000_000_000, 100_000, 19_999);
        assert_same(123_456_789, 1, 123_456);
        // Period coarser than the buckets at the low end, finer at the top.
        assert_same(60_000_000_000, 1_000_000, 59_999);
    }

    #[test]
    fn period_zero_and_overlong_missed_do_not_panic() {
        // A period of 0 cannot be configured; it is taken as 1 ns.
        assert_eq!(by_runs(5_000, 0, 3), by_runs(5_000, 1, 3));
        // The caller claims more missed slots than fit: the extra come out as 0.
        assert_same(5_000, 1_000, 10);
        assert_same(0, 1_000, 0);
    }

    #[test]
    fn lateness_above_one_hour_is_clamped_but_summed_in_full() {
        let two_hours = 7_200_000_000_000;
        assert_same(two_hours, 1_000_000_000, 7_200);
        let histogram = by_runs(two_hours, 1_000_000_000, 7_200);
        assert_eq!(histogram.len(), 7_201);
        assert!(histogram.equivalent(histogram.max(), histogram.high()), "max {}", histogram.max());
        // Slots 0..=3600 are at least one hour late: all recorded as one hour.
        assert!(histogram.count_at(histogram.high()) >= 3_601);
    }

    #[test]
    fn an_hour_long_stall_at_100_us_is_counted_exactly() {
        // 36 M slots, the bound the heartbeat's thread must stay within
        // (its cost is in benches/lateness.rs, not asserted here).
        let missed = 36_000_000;
        let histogram = by_runs(3_600_000_000_000, 100_000, missed);
        assert_eq!(histogram.len(), missed + 1);
        let median = histogram.value_at_quantile(0.5) as f64;
        assert!((median - 1.8e12).abs() / 1.8e12 < 0.001, "median {median}");
    }

    #[test]
    fn records_into_several_histograms_alike() {
        let (mut a, mut b) = (new_histogram(), new_histogram());
        record([&mut a, &mut b], 1_000_000_000, 1_000_000, 999);
        assert_eq!(a, b);
        assert_eq!(a.len(), 1_000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn runs_equal_the_naive_loop(
            lateness_ns in 0u64..5_000_000_000_000,
            period_ns in prop_oneof![1u64..1_000, 1_000u64..10_000_000, 10_000_000u64..4_000_000_000_000],
            missed in 0u64..2_000,
        ) {
            assert_same(lateness_ns, period_ns, missed);
        }
    }
}
