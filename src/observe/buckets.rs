//! The bucket layouts of the exported histograms, and their counts as plain
//! data.
//!
//! Two layouts. The per-slot lateness histograms have four buckets per
//! octave from 1 µs to 67 s ([`LATENESS_BOUNDS_NS`]), so `histogram_quantile`
//! over them stays within about 10 % of the truth; they record a beat and
//! every slot it swallowed in one step, run by run
//! ([`crate::measure::missed_slot_runs`]), so an hour's stall at 100 µs costs
//! one pass over the buckets, not 36 M observations. The per-beat histograms
//! (wake lateness, access wait, jitter, check duration) double from 1 µs to
//! 67 s ([`DOUBLING_BOUNDS`]): a 20 µs wake-up and a 10 s starvation both
//! land in a real bucket. Counts are `Copy` arrays, so a snapshot is one copy
//! under the board's lock and allocates nothing.

use std::cell::Cell;
use std::sync::LazyLock;

use crate::measure::{SlotRuns, missed_slot_runs, missed_slot_sum_ns};

/// Buckets per octave of the lateness histograms.
pub(crate) const BUCKETS_PER_OCTAVE: u32 = 4;

/// Bounds of the lateness histograms: 26 octaves at four per octave, and 1 µs.
pub const LATENESS_BOUNDS: usize = 26 * BUCKETS_PER_OCTAVE as usize + 1;

/// Upper bounds of the lateness buckets in nanoseconds: `2^(i/4)` µs for
/// i = 0..=104 (1 µs to 67.1 s) rounded to three significant digits, so the
/// `le` labels stay short (`0.00000119`, `0.262`).
pub static LATENESS_BOUNDS_NS: LazyLock<[u64; LATENESS_BOUNDS]> = LazyLock::new(|| {
    std::array::from_fn(|i| {
        let exact = 1000.0 * f64::powf(2.0, i as f64 / f64::from(BUCKETS_PER_OCTAVE));
        let unit = f64::powi(10.0, exact.log10().floor() as i32 - 2);
        ((exact / unit).round() * unit).round() as u64
    })
});

/// Bounds of the per-beat histograms: 1 µs doubling 26 times, to about 67 s.
pub const DOUBLING_BOUNDS: usize = 27;

/// The per-beat histograms' upper bounds in seconds, as exported.
pub fn doubling_bounds_seconds() -> [f64; DOUBLING_BOUNDS] {
    std::array::from_fn(|i| 1e-6 * f64::powi(2.0, i as i32))
}

/// Index of the lateness bucket `value_ns` falls in (`le` semantics: at or
/// below the bound); the bounds' length for the `+Inf` bucket.
fn lateness_bucket(value_ns: u64) -> usize {
    LATENESS_BOUNDS_NS.partition_point(|&bound| bound < value_ns)
}

/// The smallest value that shares `value_ns`'s lateness bucket.
fn lateness_bucket_floor(value_ns: u64) -> u64 {
    match lateness_bucket(value_ns) {
        0 => 0,
        i => LATENESS_BOUNDS_NS[i - 1] + 1,
    }
}

/// Index of the doubling bucket `value_ns` falls in: the first `i` with
/// `value_ns ≤ 1000·2^i`; [`DOUBLING_BOUNDS`] for `+Inf`.
fn doubling_bucket(value_ns: u64) -> usize {
    if value_ns <= 1000 {
        return 0;
    }
    // ceil(log2(ceil(value / 1000))).
    let micros = value_ns.div_ceil(1000);
    let index = (u64::BITS - (micros - 1).leading_zeros()) as usize;
    index.min(DOUBLING_BOUNDS)
}

/// Counts of a histogram with `N` buckets, the last one `+Inf`; per bucket,
/// not cumulative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts<const N: usize> {
    pub buckets: [u64; N],
    pub sum_ns: u128,
}

impl<const N: usize> Default for Counts<N> {
    fn default() -> Self {
        Counts { buckets: [0; N], sum_ns: 0 }
    }
}

impl<const N: usize> Counts<N> {
    /// Observations recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The counts as exported: cumulative, one per bound (`+Inf` is the count).
    pub fn cumulative(&self) -> impl Iterator<Item = u64> + '_ {
        self.buckets[..N - 1].iter().scan(0, |total, &count| {
            *total += count;
            Some(*total)
        })
    }
}

/// Every slot's lateness, four buckets per octave.
pub type LatenessCounts = Counts<{ LATENESS_BOUNDS + 1 }>;

/// The schema of the native lateness counts: 2^5 = 32 buckets per octave,
/// growth 2^(1/32) = 1.022. Any coarser schema is a sum of these buckets,
/// so the exporter serves every `metrics.native_histogram_bucket_factor`
/// from 1.022 up exactly (1.1: schema 3); a finer factor gets schema 5.
pub const NATIVE_SCHEMA: i8 = 5;

/// Native buckets per octave.
const NATIVE_PER_OCTAVE: i32 = 1 << NATIVE_SCHEMA;

/// The native index of 1 ns (1e-9 s = 2^−29.897): the lowest a positive
/// lateness can have.
const NATIVE_LOWEST: i32 = -956;

/// Native buckets from 1 ns to `u64::MAX` ns (2^34.1 s), 64 octaves.
const NATIVE_BUCKETS: usize = 2049;

/// The upper bounds of one octave's native buckets as fractions of the
/// octave's top, `2^(j/32 − 1)` for j = 0..32 (client_golang's table).
static NATIVE_FRACTIONS: LazyLock<[f64; NATIVE_PER_OCTAVE as usize]> =
    LazyLock::new(|| std::array::from_fn(|j| f64::powf(2.0, j as f64 / f64::from(NATIVE_PER_OCTAVE) - 1.0)));

/// The native bucket `value_ns` (> 0) falls in at [`NATIVE_SCHEMA`]: the
/// `i` with `2^((i−1)/32) < value_s ≤ 2^(i/32)`, with the value in seconds
/// as a scraper reads it, computed as client_golang's `observe` does.
pub(crate) fn native_index(value_ns: u64) -> i32 {
    let seconds = value_ns as f64 / 1e9;
    // frexp: seconds = fraction · 2^exponent, fraction in [0.5, 1).
    let bits = seconds.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let fraction = f64::from_bits((bits & ((1 << 52) - 1)) | (1022 << 52));
    NATIVE_FRACTIONS.partition_point(|&bound| bound < fraction) as i32 + (exponent - 1) * NATIVE_PER_OCTAVE
}

/// Where `value_ns` (> 0) is counted: `native_index(value_ns) − NATIVE_LOWEST`,
/// found in the table of floors (a search over integers, as the classic
/// buckets', rather than the floating-point path per slot). The value's
/// binary octave, from its leading zeros, narrows the search to the 33 or
/// so floors within it.
fn native_slot(value_ns: u64) -> usize {
    let octave = value_ns.max(1).ilog2() as usize;
    let (first, last) = (NATIVE_OCTAVE_SLOTS[octave], NATIVE_OCTAVE_SLOTS[octave + 1]);
    let within = &NATIVE_FLOORS_NS[usize::from(first)..=usize::from(last)];
    usize::from(first) + within.partition_point(|&floor| floor <= value_ns).saturating_sub(1)
}

/// For `b` = 0..64, the slot of 2^b ns; at 64, the last slot. A value in
/// `[2^b, 2^(b+1))` ns is counted in a slot from the `b`th to the next.
static NATIVE_OCTAVE_SLOTS: LazyLock<[u16; 65]> = LazyLock::new(|| {
    std::array::from_fn(|b| {
        let slot = match b {
            64 => NATIVE_BUCKETS - 1,
            _ => NATIVE_FLOORS_NS.partition_point(|&floor| floor <= 1 << b).saturating_sub(1),
        };
        u16::try_from(slot).expect("2,049 slots")
    })
});

/// For each native bucket, the smallest nanosecond value whose index is at
/// least the bucket's ([`native_index`] decides, so the two never
/// disagree); buckets narrower than a nanosecond (below 46 ns) may hold none.
static NATIVE_FLOORS_NS: LazyLock<[u64; NATIVE_BUCKETS]> = LazyLock::new(|| {
    std::array::from_fn(|k| {
        let index = NATIVE_LOWEST + k as i32;
        // The bucket's lower bound, give or take a rounding; then step to
        // the first nanosecond whose index is this one or above.
        let lower = f64::powf(2.0, f64::from(index - 1) / f64::from(NATIVE_PER_OCTAVE)) * 1e9;
        let mut floor = (lower as u64).max(1);
        while floor > 1 && native_index(floor - 1) >= index {
            floor -= 1;
        }
        while floor < u64::MAX && native_index(floor) < index {
            floor += 1;
        }
        floor
    })
});

/// Every slot's lateness in native buckets at [`NATIVE_SCHEMA`], counted
/// beside [`LatenessCounts`] so one snapshot holds both; its count and sum
/// are the classic counts'. 16 KiB, a `Copy` array as the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeCounts {
    /// Slots exactly 0 ns late: the zero bucket.
    pub zero: u64,
    /// Bucket `NATIVE_LOWEST + k` at `buckets[k]`.
    pub buckets: [u64; NATIVE_BUCKETS],
}

impl Default for NativeCounts {
    fn default() -> Self {
        NativeCounts { zero: 0, buckets: [0; NATIVE_BUCKETS] }
    }
}

impl NativeCounts {
    fn record(&mut self, value_ns: u64, slots: u64) {
        match value_ns {
            0 => self.zero += slots,
            _ => self.buckets[native_slot(value_ns)] += slots,
        }
    }

    /// One beat `lateness_ns` late and each of its `missed` slots, run by
    /// run as [`LatenessCounts::record_slots`].
    pub fn record_slots(&mut self, lateness_ns: u64, period_ns: u64, missed: u64) {
        self.record(lateness_ns, 1);
        // Each run's value is looked up once: the slot found for its floor
        // is the slot it is counted in (`None`: the zero bucket).
        let found = Cell::new(None);
        let floor = |value_ns: u64| {
            let slot = (value_ns > 0).then(|| native_slot(value_ns));
            found.set(slot);
            slot.map_or(0, |slot| NATIVE_FLOORS_NS[slot])
        };
        let mut runs = SlotRuns::new(lateness_ns, period_ns, missed);
        while let Some((_, slots)) = runs.next_run(floor) {
            match found.get() {
                None => self.zero += slots,
                Some(slot) => self.buckets[slot] += slots,
            }
        }
    }

    /// Slots counted, the zero bucket's too.
    pub fn count(&self) -> u64 {
        self.zero + self.buckets.iter().sum::<u64>()
    }

    /// Each bucket that holds a slot, as `(native index, count)` in index order.
    pub fn populated(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        (NATIVE_LOWEST..).zip(self.buckets.iter().copied()).filter(|&(_, count)| count > 0)
    }
}

/// One value per beat, doubling buckets.
pub type BeatCounts = Counts<{ DOUBLING_BOUNDS + 1 }>;

impl LatenessCounts {
    /// One beat `lateness_ns` late and each of its `missed` slots.
    pub fn record_slots(&mut self, lateness_ns: u64, period_ns: u64, missed: u64) {
        self.buckets[lateness_bucket(lateness_ns)] += 1;
        for (value, slots) in missed_slot_runs(lateness_ns, period_ns, missed, lateness_bucket_floor) {
            self.buckets[lateness_bucket(value)] += slots;
        }
        self.sum_ns += u128::from(lateness_ns) + missed_slot_sum_ns(lateness_ns, period_ns, missed);
    }
}

impl BeatCounts {
    pub fn record(&mut self, value_ns: u64) {
        self.buckets[doubling_bucket(value_ns)] += 1;
        self.sum_ns += u128::from(value_ns);
    }
}

#[cfg(test)]
mod tests;
