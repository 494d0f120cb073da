//! The sliding window behind the summaries: a ring of age buckets, as
//! client_golang's summaries keep (`AgeBuckets`, default 5).
//!
//! Time is cut into sub-windows of `window / AGE_BUCKETS`; the heartbeat
//! records into the current one, and the window is the current sub-window
//! plus the `AGE_BUCKETS − 1` before it, so it covers between 4/5 of the
//! window and all of it, never anything older. Rotation happens lazily, by
//! whoever touches the window first in a new sub-window (a record or a
//! scrape), and costs one reset of a recycled histogram; closed sub-windows
//! are shared behind `Arc`s so a scrape merges them outside the lock.
//! Every method takes `now`, so tests drive it with made-up times.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::new_histogram;
use crate::sys::clock::MonoTime;

/// Sub-windows per window: as client_golang's `DefAgeBuckets`.
pub(super) const AGE_BUCKETS: u64 = 5;

/// The closed sub-windows a scrape merges after the lock is released.
pub(super) type Closed = [Option<Arc<Histogram<u64>>>; (AGE_BUCKETS - 1) as usize];

/// Which closed sub-windows a window holds: equal keys, equal histograms.
/// Closed sub-windows never change, so a merge of them can be kept until
/// a rotation, a clear or a new span changes the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ClosedKey {
    epoch: u64,
    oldest_age: Option<u64>,
    newest_age: Option<u64>,
}

pub(super) struct Window {
    sub_window_ns: u64,
    origin: MonoTime,
    current_age: u64,
    current: Arc<Histogram<u64>>,
    /// Oldest first, each with its age (sub-windows since `origin`).
    closed: VecDeque<(u64, Arc<Histogram<u64>>)>,
    /// Reset histograms ready to become the current one, so rotation does
    /// not allocate once the ring is full.
    spares: Vec<Arc<Histogram<u64>>>,
    /// Counts clears and new spans, which may reuse ages.
    epoch: u64,
}

impl Window {
    pub(super) fn new(window: Duration, now: MonoTime) -> Window {
        let ring = AGE_BUCKETS as usize;
        let mut spares = Vec::with_capacity(ring);
        spares.extend((1..ring).map(|_| Arc::new(new_histogram())));
        Window {
            sub_window_ns: sub_window_ns(window),
            origin: now,
            current_age: 0,
            current: Arc::new(new_histogram()),
            closed: VecDeque::with_capacity(ring),
            spares,
            epoch: 0,
        }
    }

    /// The histogram to record into at `now`.
    pub(super) fn current(&mut self, now: MonoTime) -> &mut Histogram<u64> {
        self.rotate(now);
        // Never shared: scrapes copy the current histogram, they do not hold it.
        Arc::make_mut(&mut self.current)
    }

    /// Copies the current sub-window into `into` (which must be empty, so
    /// this is one memory copy) and hands out the closed ones with their
    /// key, for a scrape to merge after releasing the lock (or to reuse its
    /// merge of them when the key has not changed).
    pub(super) fn copy_out(&mut self, now: MonoTime, into: &mut Histogram<u64>, closed: &mut Closed) -> ClosedKey {
        self.rotate(now);
        // Same layout, so this cannot fail; an error would only drop this sub-window from one scrape.
        let _ = into.add(&*self.current);
        for (slot, (_, histogram)) in closed.iter_mut().zip(self.closed.iter()) {
            *slot = Some(Arc::clone(histogram));
        }
        ClosedKey {
            epoch: self.epoch,
            oldest_age: self.closed.front().map(|(age, _)| *age),
            newest_age: self.closed.back().map(|(age, _)| *age),
        }
    }

    /// Forgets everything recorded; the sub-window boundaries stay.
    pub(super) fn clear(&mut self) {
        self.epoch += 1;
        while let Some((_, histogram)) = self.closed.pop_front() {
            self.recycle(histogram);
        }
        Arc::make_mut(&mut self.current).reset();
    }

    /// A new span: forgets everything and starts sub-windows at `now`.
    pub(super) fn set_span(&mut self, window: Duration, now: MonoTime) {
        self.clear();
        self.sub_window_ns = sub_window_ns(window);
        self.origin = now;
        self.current_age = 0;
    }

    fn rotate(&mut self, now: MonoTime) {
        let age = now.since(self.origin) / self.sub_window_ns;
        if age <= self.current_age {
            return;
        }
        while let Some(&(oldest, _)) = self.closed.front() {
            if oldest + AGE_BUCKETS > age {
                break;
            }
            if let Some((_, histogram)) = self.closed.pop_front() {
                self.recycle(histogram);
            }
        }
        if self.current_age + AGE_BUCKETS <= age {
            // Nothing was recorded for a whole window: the current one is too old as well.
            Arc::make_mut(&mut self.current).reset();
        } else if !self.current.is_empty() {
            let fresh = self.spares.pop().unwrap_or_else(|| Arc::new(new_histogram()));
            let full = std::mem::replace(&mut self.current, fresh);
            self.closed.push_back((self.current_age, full));
        }
        self.current_age = age;
    }

    /// Keeps an expired histogram for reuse unless a scrape still holds it
    /// (then the scrape frees it and a later rotation allocates anew).
    fn recycle(&mut self, mut histogram: Arc<Histogram<u64>>) {
        if let Some(unshared) = Arc::get_mut(&mut histogram) {
            unshared.reset();
            self.spares.push(histogram);
        }
    }
}

fn sub_window_ns(window: Duration) -> u64 {
    let window_ns = crate::sys::clock::nanos(window);
    (window_ns / AGE_BUCKETS).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn at(seconds: f64) -> MonoTime {
        MonoTime(1_000 * SECOND + (seconds * 1e9) as u64)
    }

    /// What a scrape at `now` would see: (count, max in ns).
    fn seen(window: &mut Window, now: MonoTime) -> (u64, u64) {
        let mut merged = new_histogram();
        let mut closed = Closed::default();
        window.copy_out(now, &mut merged, &mut closed);
        for histogram in closed.iter().flatten() {
            merged.add(&**histogram).expect("same layout");
        }
        (merged.len(), if merged.is_empty() { 0 } else { merged.max() })
    }

    #[test]
    fn a_value_stays_between_four_fifths_of_the_window_and_all_of_it() {
        // 10 s window: 2 s sub-windows.
        let mut window = Window::new(Duration::from_secs(10), at(0.0));
        window.current(at(0.5)).record(7_000).expect("in range");
        assert_eq!(seen(&mut window, at(0.5)).0, 1);
        assert_eq!(seen(&mut window, at(7.9)).0, 1, "8 s later: still inside (4/5 of the window)");
        assert_eq!(seen(&mut window, at(9.9)).0, 1, "recorded in [0 s, 2 s): kept until 10 s");
        assert_eq!(seen(&mut window, at(10.0)).0, 0, "a whole window later: gone");
    }

    #[test]
    fn rotation_keeps_the_last_five_sub_windows() {
        let mut window = Window::new(Duration::from_secs(10), at(0.0));
        // One value per second, value = its second, for 30 s.
        for second in 0..30u64 {
            window.current(at(second as f64 + 0.1)).record((second + 1) * 1_000).expect("in range");
            let (count, max) = seen(&mut window, at(second as f64 + 0.2));
            // Sub-window of `second` starts at an even second; the window holds it and four before.
            let oldest_kept = (second / 2).saturating_sub(4) * 2;
            assert_eq!(count, second - oldest_kept + 1, "at {second} s");
            assert!(new_histogram().equivalent(max, (second + 1) * 1_000));
        }
        assert!(window.closed.len() <= (AGE_BUCKETS - 1) as usize);
    }

    #[test]
    fn a_quiet_spell_longer_than_the_window_forgets_everything() {
        let mut window = Window::new(Duration::from_secs(60), at(0.0));
        window.current(at(1.0)).record(5_000).expect("in range");
        window.current(at(13.0)).record(6_000).expect("in range");
        assert_eq!(seen(&mut window, at(59.0)).0, 2);
        assert_eq!(seen(&mut window, at(3_600.0)), (0, 0));
        window.current(at(3_601.0)).record(9_000).expect("in range");
        assert_eq!(seen(&mut window, at(3_601.0)).0, 1);
    }

    #[test]
    fn rotation_reuses_histograms_once_the_ring_is_full() {
        let mut window = Window::new(Duration::from_secs(10), at(0.0));
        for second in 0..40u64 {
            window.current(at(second as f64)).record(1_000).expect("in range");
        }
        // current + closed + spares never exceeds the ring: nothing allocated past it.
        assert_eq!(1 + window.closed.len() + window.spares.len(), AGE_BUCKETS as usize);
    }

    #[test]
    fn a_scrape_holding_a_closed_histogram_does_not_block_rotation() {
        let mut window = Window::new(Duration::from_secs(10), at(0.0));
        window.current(at(0.0)).record(1_000).expect("in range");
        let mut merged = new_histogram();
        let mut held = Closed::default();
        window.copy_out(at(2.0), &mut merged, &mut held);
        assert_eq!(held.iter().flatten().count(), 1);
        // The held sub-window expires while the scrape still has it.
        window.current(at(10.5)).record(2_000).expect("in range");
        assert_eq!(seen(&mut window, at(10.5)).0, 1);
        assert_eq!(held[0].as_ref().map(|h| h.len()), Some(1), "the scrape's copy is intact");
    }

    #[test]
    fn clear_and_set_span_forget_the_window() {
        let mut window = Window::new(Duration::from_secs(10), at(0.0));
        window.current(at(0.0)).record(1_000).expect("in range");
        window.current(at(3.0)).record(1_000).expect("in range");
        window.clear();
        assert_eq!(seen(&mut window, at(3.0)).0, 0);
        window.current(at(3.5)).record(1_000).expect("in range");
        window.set_span(Duration::from_secs(3_600), at(4.0));
        assert_eq!(seen(&mut window, at(4.0)).0, 0);
        window.current(at(5.0)).record(1_000).expect("in range");
        assert_eq!(seen(&mut window, at(3_000.0)).0, 1, "the new 1 h span keeps it");
    }
}
