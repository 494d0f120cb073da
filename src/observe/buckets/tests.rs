use super::*;

/// The smallest value in nanoseconds that shares `value_ns`'s native
/// bucket (0 for 0, the zero bucket).
fn native_bucket_floor(value_ns: u64) -> u64 {
    match value_ns {
        0 => 0,
        _ => NATIVE_FLOORS_NS[native_slot(value_ns)],
    }
}

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
    assert_eq!(lateness_bucket(0), 0);
    assert_eq!(lateness_bucket(1000), 0);
    assert_eq!(lateness_bucket(1001), 1);
    assert_eq!(lateness_bucket_floor(1001), 1001);
    assert_eq!(lateness_bucket_floor(1190), 1001);
    assert_eq!(lateness_bucket(u64::MAX), LATENESS_BOUNDS);
}

#[test]
fn doubling_buckets_match_their_bounds_in_seconds() {
    let bounds = doubling_bounds_seconds();
    assert!(bounds[0] <= 2e-6 && bounds[DOUBLING_BOUNDS - 1] >= 60.0);
    // Every value lands in the first bucket whose bound (in seconds, as
    // the exposition says) is at or above it, as an observation in
    // seconds would.
    for value_ns in [0, 1, 999, 1000, 1001, 1999, 2000, 2001, 33_000, 65_536_000, 67_108_864_000, u64::MAX] {
        let seconds = value_ns as f64 / 1e9;
        let expected = bounds.iter().position(|&bound| seconds <= bound).unwrap_or(DOUBLING_BOUNDS);
        assert_eq!(doubling_bucket(value_ns), expected, "{value_ns} ns");
    }
}

#[test]
fn native_buckets_hold_values_within_their_bounds() {
    // Bucket i at schema 5 holds (2^((i−1)/32), 2^(i/32)] seconds; the
    // index range covers every u64 of nanoseconds.
    assert_eq!(native_index(1), NATIVE_LOWEST);
    assert_eq!((native_index(u64::MAX) - NATIVE_LOWEST) as usize, NATIVE_BUCKETS - 1);
    assert_eq!(native_index(1_000_000_000), 0, "1 s is bucket 0's upper bound");
    assert_eq!(native_index(1_000_000_001), 1);
    assert_eq!(native_index(500_000_000), -32);
    for value_ns in [1, 2, 3, 999, 1000, 33_000, 50_003_967, 1_000_500_000, 67_108_864_000, u64::MAX / 3] {
        let seconds = value_ns as f64 / 1e9;
        let index = f64::from(native_index(value_ns));
        let per_octave = f64::from(NATIVE_PER_OCTAVE);
        assert!(seconds <= f64::powf(2.0, index / per_octave) * (1.0 + 1e-12), "{value_ns}");
        assert!(seconds > f64::powf(2.0, (index - 1.0) / per_octave) * (1.0 - 1e-12), "{value_ns}");
        let floor = native_bucket_floor(value_ns);
        assert_eq!(native_index(floor), native_index(value_ns), "{value_ns}");
        assert!(floor == 1 || native_index(floor - 1) < native_index(value_ns), "{value_ns}");
    }
}

#[test]
fn every_native_floor_is_the_first_nanosecond_of_its_bucket() {
    for (k, &floor) in NATIVE_FLOORS_NS.iter().enumerate() {
        let index = NATIVE_LOWEST + k as i32;
        assert!(native_index(floor) >= index, "{index}: {floor}");
        assert!(floor == 1 || native_index(floor - 1) < index, "{index}: {floor}");
    }
    // The table search finds the index the definition gives, near every
    // floor and across the range.
    let near = NATIVE_FLOORS_NS.iter().flat_map(|&f| [f.saturating_sub(1).max(1), f, f.saturating_add(1)]);
    let octaves = (0..64).flat_map(|b| [(1u64 << b).saturating_sub(1).max(1), 1 << b, (1u64 << b) + 1]);
    for value_ns in near.chain(octaves).chain((1..200_000).step_by(7)).chain([u64::MAX, u64::MAX - 1]) {
        assert_eq!(NATIVE_LOWEST + native_slot(value_ns) as i32, native_index(value_ns), "{value_ns} ns");
    }
}

#[test]
fn native_counts_are_every_slot_as_the_classic_ones() {
    let mut counts = NativeCounts::default();
    let mut classic = LatenessCounts::default();
    for (lateness, missed) in [(0, 0), (50_000, 0), (1_000_500_000, 99), (35 * MS, 3), (3_600_000 * MS, 36_000)] {
        counts.record_slots(lateness, 10 * MS, missed);
        classic.record_slots(lateness, 10 * MS, missed);
    }
    assert_eq!(counts.count(), classic.count());
    assert_eq!(counts.zero, 1);
    // Slot by slot, the same buckets.
    let mut naive = std::collections::BTreeMap::<i32, u64>::new();
    for j in 0..=99u64 {
        *naive.entry(native_index(1_000_500_000 - j * 10 * MS)).or_default() += 1;
    }
    let mut stall = NativeCounts::default();
    stall.record_slots(1_000_500_000, 10 * MS, 99);
    assert_eq!(stall.populated().collect::<std::collections::BTreeMap<_, _>>(), naive);
}

#[test]
fn native_runs_are_every_slot_one_by_one() {
    // Periods finer and coarser than the buckets, slots that reach 0
    // (the zero bucket) and a lateness exactly on a floor.
    let cases =
        [(7_300, 3, 5_000), (1_000_000_000, 1_000_000, 999), (2_100, 1, 4_000), (NATIVE_FLOORS_NS[1500], 997, 300)];
    for (lateness, period, missed) in cases {
        let mut runs = NativeCounts::default();
        runs.record_slots(lateness, period, missed);
        let mut naive = NativeCounts::default();
        for j in 0..=missed {
            naive.record(lateness.saturating_sub(j * period), 1);
        }
        assert_eq!((runs.zero, runs.count()), (naive.zero, naive.count()), "{lateness} {period} {missed}");
        assert!(runs.buckets == naive.buckets, "{lateness} {period} {missed}");
    }
}

#[test]
fn a_stall_is_every_slot_it_swallowed() {
    // 10 ms period, one beat 1,000.5 ms late that skipped 99 slots.
    let mut counts = LatenessCounts::default();
    counts.record_slots(50_000, 10 * MS, 0);
    counts.record_slots(1_000_500_000, 10 * MS, 99);
    assert_eq!(counts.count(), 101);
    // Slot by slot, the same counts.
    let mut naive = [0u64; LATENESS_BOUNDS + 1];
    naive[lateness_bucket(50_000)] += 1;
    naive[lateness_bucket(1_000_500_000)] += 1;
    for j in 1..=99u64 {
        naive[lateness_bucket(1_000_500_000 - j * 10 * MS)] += 1;
    }
    assert_eq!(counts.buckets, naive);
    let slot_sum: u128 = (1..=99u128).map(|j| 1_000_500_000 - j * 10_000_000).sum();
    assert_eq!(counts.sum_ns, 50_000 + 1_000_500_000 + slot_sum);
    assert_eq!(counts.cumulative().last(), Some(101));
}
