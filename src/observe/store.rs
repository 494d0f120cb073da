//! Every slot's lateness, kept for the window summaries and the interval log.
//!
//! The daemon's board of each heartbeat (main and control) keeps one
//! [`LatenessStore`] for the whole process. The heartbeat records each beat
//! with the slots it swallowed ([`LatenessStore::record_slots`]) under a
//! short mutex; a snapshot reads the sliding window
//! ([`LatenessStore::window_snapshot`], exported as a Prometheus summary);
//! the interval log takes what was recorded since its last visit
//! ([`LatenessStore::take_interval`]).
//!
//! Values are nanoseconds in HdrHistograms with 3 significant digits from
//! 1 ns to 1 h; anything later is recorded as 1 h (the summary's `_sum` still
//! adds the true value). Counts are `u64`, so no bucket can saturate, whatever
//! a stall does. One histogram is 33,792 counts, 270,336 bytes (264 KiB); a
//! store keeps eight (five sub-windows, the interval, the scrape's merge
//! target and its merge of the closed sub-windows), 2,162,688 bytes
//! (2.1 MiB), allocated up front; a window-only store (the jitter's) seven.
//! The interval log
//! briefly holds one or two more while it writes (the interval it took, and
//! what a failed write left pending).

mod slots;
mod window;

use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use parking_lot::Mutex;

use crate::sys::clock::MonoTime;
pub use slots::record as record_slots;
use window::{Closed, ClosedKey, Window};

/// The quantiles a window summary exports, in order; 1 is the maximum.
pub const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 1.0];

/// The largest lateness recorded as itself: one hour, in nanoseconds.
pub const HIGHEST_NS: u64 = 3_600_000_000_000;

/// A histogram of the layout every HdrHistogram of jitterd shares: the
/// window stores', the interval log's and `compare`'s.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_NS, 3).expect("1 ns to 1 h at 3 significant digits is a valid layout")
}

/// Where the store reads the monotonic time that ages its window.
pub type Clock = Box<dyn Fn() -> MonoTime + Send + Sync>;

pub struct LatenessStore {
    state: Mutex<State>,
    /// The scrape's histograms, kept so a scrape does not allocate; its
    /// lock also keeps two scrapes from merging at once.
    scrape: Mutex<Scrape>,
    clock: Clock,
}

struct Scrape {
    /// The window: the current sub-window, then the closed ones added.
    merged: Histogram<u64>,
    /// The closed sub-windows merged, and which they were: they change only
    /// at a rotation, so most scrapes add this one histogram, not four.
    closed: Histogram<u64>,
    closed_key: Option<ClosedKey>,
}

struct State {
    window: Window,
    /// What the interval log has yet to take; `None` in a window-only store.
    interval: Option<Histogram<u64>>,
    interval_start: SystemTime,
    count: u64,
    sum_ns: u128,
}

/// What a window summary exports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowSnapshot {
    /// `(quantile, seconds)` for each of [`QUANTILES`]; NaN while the window
    /// is empty, as client_golang's summaries report.
    pub quantiles: [(f64, f64); QUANTILES.len()],
    /// Slots in the window.
    pub window_count: u64,
    /// Slots recorded since the process started, across experiments.
    pub count: u64,
    /// Their lateness added up, in seconds.
    pub sum_seconds: f64,
}

/// Everything recorded between two [`LatenessStore::take_interval`] calls.
pub struct IntervalHistogram {
    pub histogram: Histogram<u64>,
    pub start: SystemTime,
    pub end: SystemTime,
}

impl LatenessStore {
    pub fn new(window: Duration) -> LatenessStore {
        LatenessStore::with_clock(window, Box::new(MonoTime::now))
    }

    /// A store of the window alone, for a figure no interval log takes (the
    /// jitter): one histogram fewer to record into and to keep.
    pub fn window_only(window: Duration) -> LatenessStore {
        let mut store = LatenessStore::new(window);
        store.state.get_mut().interval = None;
        store
    }

    /// A store whose window ages by `clock` rather than `CLOCK_MONOTONIC`.
    pub fn with_clock(window: Duration, clock: Clock) -> LatenessStore {
        LatenessStore {
            state: Mutex::new(State {
                window: Window::new(window, clock()),
                interval: Some(new_histogram()),
                interval_start: SystemTime::now(),
                count: 0,
                sum_ns: 0,
            }),
            scrape: Mutex::new(Scrape { merged: new_histogram(), closed: new_histogram(), closed_key: None }),
            clock,
        }
    }

    /// Records one beat's lateness and, for each of its `missed` skipped
    /// slots `j = 1..=missed`, `lateness_ns − j·period_ns`: what the schedule
    /// says each slot was, as HdrHistogram's `record_correct` would, but in
    /// runs per bucket, so even a 36 M-slot stall costs at most one pass over
    /// the buckets. Allocates nothing except at the rare rotation that finds
    /// no spare histogram.
    pub fn record_slots(&self, lateness_ns: u64, period_ns: u64, missed: u64) {
        self.record_slots_at(self.now(), lateness_ns, period_ns, missed);
    }

    /// The time on the store's clock, which ages its window.
    pub fn now(&self) -> MonoTime {
        (self.clock)()
    }

    /// [`LatenessStore::record_slots`] at `now`, read from [`LatenessStore::now`]:
    /// stores that share a clock can share one reading of it.
    pub fn record_slots_at(&self, now: MonoTime, lateness_ns: u64, period_ns: u64, missed: u64) {
        let sum_ns = slots::sum_ns(lateness_ns, period_ns, missed);
        let mut state = self.state.lock();
        let State { window, interval, count, sum_ns: total_ns, .. } = &mut *state;
        match interval {
            Some(interval) => record_slots([window.current(now), interval], lateness_ns, period_ns, missed),
            None => record_slots([window.current(now)], lateness_ns, period_ns, missed),
        }
        *count = count.saturating_add(missed).saturating_add(1);
        *total_ns = total_ns.saturating_add(sum_ns);
    }

    /// A new experiment starts: the window forgets the old one. The
    /// cumulative count and sum and the interval log's histogram go on.
    pub fn reset_window(&self) {
        self.state.lock().window.clear();
    }

    /// A new window span. The window starts empty, as after
    /// [`LatenessStore::reset_window`]: its sub-windows are cut anew.
    pub fn set_window(&self, window: Duration) {
        let now = (self.clock)();
        self.state.lock().window.set_span(window, now);
    }

    /// The window's quantiles and the cumulative count and sum. Holds the
    /// heartbeat's lock for one copy of the current sub-window; merging the
    /// closed ones (only after a rotation) and reading the quantiles happen
    /// after it is released.
    pub fn window_snapshot(&self) -> WindowSnapshot {
        let mut scrape = self.scrape.lock();
        let Scrape { merged, closed: closed_merge, closed_key } = &mut *scrape;
        merged.reset();
        let mut closed = Closed::default();
        let now = (self.clock)();
        let (key, count, sum_ns) = {
            let mut state = self.state.lock();
            let key = state.window.copy_out(now, merged, &mut closed);
            (key, state.count, state.sum_ns)
        };
        if *closed_key != Some(key) {
            closed_merge.reset();
            for histogram in closed.iter().flatten() {
                // Same layout: cannot fail.
                let _ = closed_merge.add(&**histogram);
            }
            *closed_key = Some(key);
        }
        let _ = merged.add(&*closed_merge);
        let mut quantiles = QUANTILES.map(|quantile| (quantile, f64::NAN));
        if !merged.is_empty() {
            for ((_, seconds), ns) in quantiles.iter_mut().zip(merged.value_at_quantiles(QUANTILES)) {
                *seconds = ns as f64 / 1e9;
            }
        }
        WindowSnapshot { quantiles, window_count: merged.len(), count, sum_seconds: sum_ns as f64 / 1e9 }
    }

    /// Everything recorded since the previous call (or since the store was
    /// made), with the wall times it spans; `None` from a window-only store.
    /// The replacement histogram is allocated before the lock is taken.
    pub fn take_interval(&self) -> Option<IntervalHistogram> {
        let fresh = new_histogram();
        let mut state = self.state.lock();
        let end = SystemTime::now();
        let histogram = std::mem::replace(state.interval.as_mut()?, fresh);
        let start = std::mem::replace(&mut state.interval_start, end);
        Some(IntervalHistogram { histogram, start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    const MS: u64 = 1_000_000;

    /// A store whose clock the test moves; starts at 1000 s.
    fn store(window: Duration) -> (LatenessStore, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(1_000_000 * MS));
        let clock = Arc::clone(&now);
        (LatenessStore::with_clock(window, Box::new(move || MonoTime(clock.load(Ordering::Relaxed)))), now)
    }

    fn quantile(snapshot: &WindowSnapshot, q: f64) -> f64 {
        snapshot.quantiles.iter().find(|(quantile, _)| *quantile == q).map(|(_, seconds)| *seconds).expect("exported")
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 0.001
    }

    #[test]
    fn one_histogram_is_264_kib() {
        assert_eq!(new_histogram().distinct_values(), 33_792);
    }

    #[test]
    fn an_empty_window_has_nan_quantiles_and_zero_count() {
        let (store, _) = store(Duration::from_secs(60));
        let snapshot = store.window_snapshot();
        assert!(snapshot.quantiles.iter().all(|(_, seconds)| seconds.is_nan()));
        assert_eq!((snapshot.count, snapshot.window_count, snapshot.sum_seconds), (0, 0, 0.0));
    }

    #[test]
    fn quantiles_of_known_values() {
        let (store, _) = store(Duration::from_secs(60));
        // 1..=1000 ms, one slot each.
        for ms in 1..=1_000 {
            store.record_slots(ms * MS, 1_000 * MS, 0);
        }
        let snapshot = store.window_snapshot();
        assert!(close(quantile(&snapshot, 0.5), 0.5), "{snapshot:?}");
        assert!(close(quantile(&snapshot, 0.9), 0.9));
        assert!(close(quantile(&snapshot, 0.99), 0.99));
        assert!(close(quantile(&snapshot, 0.999), 0.999));
        assert!(close(quantile(&snapshot, 1.0), 1.0));
        assert_eq!(snapshot.count, 1_000);
        assert!(close(snapshot.sum_seconds, 500.5));
    }

    #[test]
    fn a_stall_counts_every_slot() {
        // The case: 1 s stall at 10 ms among 1,600 prompt beats.
        let (store, _) = store(Duration::from_secs(60));
        for _ in 0..1_600 {
            store.record_slots(100_000, 10 * MS, 0);
        }
        store.record_slots(1_000 * MS, 10 * MS, 99);
        let snapshot = store.window_snapshot();
        assert_eq!(snapshot.count, 1_700);
        assert_eq!(snapshot.window_count, 1_700);
        // 100 slots of 1,700 are 10 ms .. 1 s late: p99 is well into the stall.
        assert!(quantile(&snapshot, 0.99) >= 0.8, "{snapshot:?}");
        assert!(close(quantile(&snapshot, 1.0), 1.0));
    }

    #[test]
    fn the_window_slides_but_count_and_sum_go_on() {
        let (store, now) = store(Duration::from_secs(10));
        store.record_slots(5 * MS, 10 * MS, 0);
        now.fetch_add(10_000 * MS, Ordering::Relaxed);
        let snapshot = store.window_snapshot();
        assert_eq!(snapshot.window_count, 0);
        assert!(quantile(&snapshot, 0.5).is_nan());
        assert_eq!(snapshot.count, 1);
        assert!(close(snapshot.sum_seconds, 0.005));
    }

    #[test]
    fn scrapes_between_every_step_see_what_a_fresh_merge_sees() {
        // The closed sub-windows' merge is kept between scrapes; every
        // rotation, clear and new span must show at once.
        let (store, now) = store(Duration::from_secs(10));
        let step = |seconds: u64| now.fetch_add(seconds * 1_000 * MS, Ordering::Relaxed);
        let seen = || {
            let snapshot = store.window_snapshot();
            (snapshot.window_count, quantile(&snapshot, 1.0))
        };
        for second in 1..=12u64 {
            store.record_slots(second * MS, 10 * MS, 0);
            let (count, max) = seen();
            assert_eq!(seen(), (count, max), "the same twice at {second} s");
            // 2 s sub-windows: this second's and the four before it, so at
            // most ten values, the newest the largest.
            assert!((1..=10).contains(&count), "{count} at {second} s");
            assert!(close(max, second as f64 / 1e3), "max {max} at {second} s");
            step(1);
        }
        // At 19 s the window is [10 s, 20 s): the values of 10 s and 11 s.
        step(7);
        assert_eq!(seen().0, 2, "only the last sub-window's values are left");
        store.reset_window();
        assert_eq!(seen().0, 0, "a clear empties the kept merge too");
        store.record_slots(3 * MS, 10 * MS, 0);
        step(2);
        store.record_slots(4 * MS, 10 * MS, 0);
        assert_eq!(seen().0, 2);
        store.set_window(Duration::from_secs(60));
        assert_eq!(seen().0, 0, "a new span empties the kept merge too");
    }

    #[test]
    fn reset_window_forgets_the_window_only() {
        let (store, _) = store(Duration::from_secs(60));
        store.record_slots(5 * MS, 10 * MS, 2);
        store.reset_window();
        let snapshot = store.window_snapshot();
        assert_eq!((snapshot.window_count, snapshot.count), (0, 3));
        assert_eq!(store.take_interval().expect("an interval").histogram.len(), 3, "the interval log loses nothing");
        store.record_slots(7 * MS, 10 * MS, 0);
        assert!(close(quantile(&store.window_snapshot(), 1.0), 0.007));
    }

    #[test]
    fn set_window_changes_the_span() {
        let (store, now) = store(Duration::from_secs(10));
        store.set_window(Duration::from_secs(3_600));
        store.record_slots(5 * MS, 10 * MS, 0);
        now.fetch_add(600_000 * MS, Ordering::Relaxed);
        assert_eq!(store.window_snapshot().window_count, 1, "10 minutes later, inside 1 h");
    }

    #[test]
    fn take_interval_hands_over_what_was_recorded_since_the_last_call() {
        let (store, _) = store(Duration::from_secs(60));
        store.record_slots(3 * MS, 10 * MS, 0);
        store.record_slots(25 * MS, 10 * MS, 2);
        let first = store.take_interval().expect("an interval");
        assert_eq!(first.histogram.len(), 4);
        assert!(first.start <= first.end);
        let second = store.take_interval().expect("an interval");
        assert_eq!(second.histogram.len(), 0);
        assert_eq!(second.start, first.end, "intervals follow each other without a gap");
    }

    #[test]
    fn a_window_only_store_keeps_the_window_and_no_interval() {
        let store = LatenessStore::window_only(Duration::from_secs(60));
        let now = store.now();
        store.record_slots_at(now, 3 * MS, 10 * MS, 0);
        store.record_slots_at(now, 25 * MS, 10 * MS, 2);
        let window = store.window_snapshot();
        assert_eq!((window.window_count, window.count), (4, 4));
        assert!(store.take_interval().is_none());
    }
}
