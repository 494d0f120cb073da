//! The measurement: when each beat was due, and what its timestamps mean.
//!
//! Shared by every strategy. A heartbeat asks the [`Scheduler`] when the next
//! beat is due, takes the four timestamps of [`BeatTimes`], and hands them
//! back; the scheduler derives every number of the contract (lateness,
//! jitter, drift, missed slots) as pure arithmetic, tested here on made-up
//! timestamps. [`missed_slot_runs`] turns a late beat into the lateness of
//! every slot it swallowed, so the summaries count every slot (coordinated
//! omission) at a cost bounded by the buckets, not by the slots.

use std::time::Duration;

use crate::experiment::Schedule;
use crate::sys::clock::MonoTime;

/// The four timestamps of one beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeatTimes {
    /// When the beat was due.
    pub scheduled: MonoTime,
    /// When the timer returned.
    pub woke: MonoTime,
    /// When the heartbeat got the array (lock, reply or snapshot).
    pub accessed: MonoTime,
    /// When the consistency check finished: the beat's own timestamp.
    pub done: MonoTime,
}

/// Every derived number of one beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    /// 1 for the first beat of an experiment.
    pub index: u64,
    pub times: BeatTimes,
    /// *Definition*: `done − scheduled`. *Interpretation*: how late the beat's
    /// work finished, whatever held it up.
    pub lateness_ns: u64,
    /// *Definition*: `woke − scheduled`. *Interpretation*: the timer and the
    /// OS scheduler's share of the lateness.
    pub wake_lateness_ns: u64,
    /// *Definition*: `accessed − woke`. *Interpretation*: the strategy's share:
    /// waiting for the lock, the reply or the snapshot.
    pub access_wait_ns: u64,
    /// *Definition*: `done − accessed`.
    pub check_duration_ns: u64,
    /// *Definition*: `done[k] − done[k−1]`, with `done[0] = t0`.
    pub interval_ns: u64,
    /// *Definition*: `interval − period` (signed).
    pub jitter_ns: i64,
    /// *Definition*: `done[k] − t0 − k·period`, the sum of the jitters so far.
    /// *Interpretation*: how far behind (positive) a clock ticking on the
    /// heartbeat would be; missed slots add a period each.
    pub drift_ns: i64,
    /// Slots that passed while this beat ran and are skipped (absolute only).
    pub missed_slots: u64,
}

/// When each beat is due, and the bookkeeping that turns timestamps into a [`Beat`].
#[derive(Debug, Clone)]
pub struct Scheduler {
    schedule: Schedule,
    period_ns: u64,
    t0: MonoTime,
    /// Beats completed so far (k of the last beat).
    beats: u64,
    /// Absolute schedule: the slot the next beat is due in.
    next_slot: u64,
    last_done: MonoTime,
}

impl Scheduler {
    pub fn new(schedule: Schedule, period: Duration, t0: MonoTime) -> Scheduler {
        let period_ns = crate::sys::clock::nanos(period).max(1);
        Scheduler { schedule, period_ns, t0, beats: 0, next_slot: 1, last_done: t0 }
    }

    pub fn t0(&self) -> MonoTime {
        self.t0
    }

    /// When the next beat is due.
    pub fn due(&self) -> MonoTime {
        match self.schedule {
            Schedule::Absolute => self.t0.plus_ns(self.next_slot.saturating_mul(self.period_ns)),
            Schedule::Relative => self.last_done.plus_ns(self.period_ns),
        }
    }

    /// Records a finished beat and works out when the next one is due.
    pub fn complete(&mut self, times: BeatTimes) -> Beat {
        self.beats += 1;
        let missed_slots = match self.schedule {
            Schedule::Absolute => {
                let next = slot_after(self.t0, self.period_ns, times.done).max(self.next_slot + 1);
                let missed = next - self.next_slot - 1;
                self.next_slot = next;
                missed
            }
            Schedule::Relative => 0,
        };
        let interval_ns = times.done.since(self.last_done);
        self.last_done = times.done;
        Beat {
            index: self.beats,
            times,
            lateness_ns: times.done.since(times.scheduled),
            wake_lateness_ns: times.woke.since(times.scheduled),
            access_wait_ns: times.accessed.since(times.woke),
            check_duration_ns: times.done.since(times.accessed),
            interval_ns,
            jitter_ns: signed_difference(interval_ns, self.period_ns),
            drift_ns: signed_difference(times.done.since(self.t0), self.beats.saturating_mul(self.period_ns)),
            missed_slots,
        }
    }
}

/// The first slot strictly after `now`: `floor((now − t0) / period) + 1`.
pub fn slot_after(t0: MonoTime, period_ns: u64, now: MonoTime) -> u64 {
    now.since(t0) / period_ns.max(1) + 1
}

/// Where the control heartbeat's grid starts: half a period after the main
/// one's, so the two never wake on the same tick (slot k of the control is
/// due at `t0 + period/2 + k·period`).
pub fn control_origin(t0: MonoTime, period: Duration) -> MonoTime {
    t0.plus_ns(crate::sys::clock::nanos(period) / 2)
}

/// The lateness of every slot a late beat swallowed, as runs of slots that
/// share a histogram bucket.
///
/// *Definition*: a beat `lateness_ns` late that skipped `missed` slots
/// stands for them too. Missed slot *j* (j = 1..=missed, counted from the
/// beat's own slot) was due `j·period` later than the beat's own, so when
/// the beat finished it was `lateness − j·period` late (never negative: a
/// slot is missed only if it fell due before the beat finished).
///
/// Those values fall by one period per slot. `bucket_floor(v)` names the
/// smallest value that shares `v`'s bucket; each item is `(value, slots)`:
/// `slots` consecutive missed slots whose lateness lies in one bucket, the
/// largest of them `value`. So there is at most one item per bucket touched,
/// and an hour's stall at 100 µs (36 M slots) costs what its buckets cost.
pub fn missed_slot_runs<F: Fn(u64) -> u64>(
    lateness_ns: u64,
    period_ns: u64,
    missed: u64,
    bucket_floor: F,
) -> MissedSlotRuns<F> {
    MissedSlotRuns { runs: SlotRuns::new(lateness_ns, period_ns, missed), bucket_floor }
}

/// The iterator of [`missed_slot_runs`].
pub struct MissedSlotRuns<F> {
    runs: SlotRuns,
    bucket_floor: F,
}

impl<F: Fn(u64) -> u64> Iterator for MissedSlotRuns<F> {
    type Item = (u64, u64);

    fn next(&mut self) -> Option<(u64, u64)> {
        self.runs.next_run(&self.bucket_floor)
    }
}

/// [`missed_slot_runs`] as a cursor that is given the bucket floor at each
/// step, for a caller whose floor borrows what it records into.
pub struct SlotRuns {
    lateness_ns: u64,
    period_ns: u64,
    missed: u64,
    /// The next slot j to yield.
    next: u64,
}

impl SlotRuns {
    /// The missed slots of one beat; a period of 0 is taken as 1 ns.
    pub fn new(lateness_ns: u64, period_ns: u64, missed: u64) -> SlotRuns {
        SlotRuns { lateness_ns, period_ns: period_ns.max(1), missed, next: 1 }
    }

    /// The next run `(value, slots)`, as [`missed_slot_runs`] yields it.
    /// `bucket_floor` is called once per run, on the run's `value`.
    pub fn next_run(&mut self, bucket_floor: impl Fn(u64) -> u64) -> Option<(u64, u64)> {
        let first = self.next;
        if first > self.missed {
            return None;
        }
        let (lateness, period) = (self.lateness_ns, self.period_ns);
        let value = lateness.saturating_sub(first.saturating_mul(period));
        // The last slot j whose value `lateness − j·period` is still at or
        // above the bucket's floor; slots past `lateness / period` would be
        // negative and count as 0, which is the floor of the lowest bucket.
        let floor = bucket_floor(value).min(value);
        let last = if value == 0 { self.missed } else { ((lateness - floor) / period).clamp(first, self.missed) };
        self.next = last + 1;
        Some((value, last - first + 1))
    }
}

/// The sum of the lateness of the slots a beat swallowed:
/// `Σ_{j=1..missed} max(0, lateness − j·period)`, exactly.
pub fn missed_slot_sum_ns(lateness_ns: u64, period_ns: u64, missed: u64) -> u128 {
    let period = u128::from(period_ns.max(1));
    let lateness = u128::from(lateness_ns);
    let positive = u128::from(missed).min(lateness / period);
    positive * lateness - period * positive * (positive + 1) / 2
}

/// `a − b` as a signed number, saturating.
pub fn signed_difference(a: u64, b: u64) -> i64 {
    let diff = i128::from(a) - i128::from(b);
    i64::try_from(diff).unwrap_or(if diff < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn times(scheduled: u64, woke: u64, accessed: u64, done: u64) -> BeatTimes {
        BeatTimes {
            scheduled: MonoTime(scheduled),
            woke: MonoTime(woke),
            accessed: MonoTime(accessed),
            done: MonoTime(done),
        }
    }

    #[test]
    fn punctual_absolute_beats() {
        let mut s = Scheduler::new(Schedule::Absolute, Duration::from_millis(100), MonoTime(1000 * MS));
        assert_eq!(s.due(), MonoTime(1100 * MS));
        let beat = s.complete(times(1100 * MS, 1100 * MS + 20_000, 1100 * MS + 30_000, 1100 * MS + 50_000));
        assert_eq!(beat.index, 1);
        assert_eq!(beat.lateness_ns, 50_000);
        assert_eq!(beat.wake_lateness_ns, 20_000);
        assert_eq!(beat.access_wait_ns, 10_000);
        assert_eq!(beat.check_duration_ns, 20_000);
        assert_eq!(beat.interval_ns, 100 * MS + 50_000);
        assert_eq!(beat.jitter_ns, 50_000);
        assert_eq!(beat.drift_ns, 50_000);
        assert_eq!(beat.missed_slots, 0);
        // Absolute: the next beat is due on its slot, not a period after done.
        assert_eq!(s.due(), MonoTime(1200 * MS));
        let beat = s.complete(times(1200 * MS, 1200 * MS, 1200 * MS, 1200 * MS + 10_000));
        assert_eq!(beat.jitter_ns, -40_000);
        assert_eq!(beat.drift_ns, 10_000);
    }

    #[test]
    fn late_absolute_beat_skips_missed_slots() {
        let mut s = Scheduler::new(Schedule::Absolute, Duration::from_millis(100), MonoTime(0));
        // Due at 100 ms, finished at 1,050 ms: slots 2..=10 passed meanwhile.
        let beat = s.complete(times(100 * MS, 1000 * MS, 1040 * MS, 1050 * MS));
        assert_eq!(beat.lateness_ns, 950 * MS);
        assert_eq!(beat.missed_slots, 9);
        assert_eq!(s.due(), MonoTime(1100 * MS));
        let beat = s.complete(times(1100 * MS, 1100 * MS, 1100 * MS, 1100 * MS));
        assert_eq!(beat.index, 2);
        assert_eq!(beat.lateness_ns, 0);
        // Two beats in 1.1 s: drift shows the nine missed periods.
        assert_eq!(beat.drift_ns, 900 * MS as i64);
        assert_eq!(beat.jitter_ns, -50 * MS as i64);
    }

    #[test]
    fn drift_is_the_sum_of_jitters() {
        let mut s = Scheduler::new(Schedule::Absolute, Duration::from_millis(10), MonoTime(5));
        let dones = [10 * MS + 7, 20 * MS + 300, 95 * MS, 100 * MS + 1, 110 * MS + 5];
        let mut sum = 0i64;
        for done in dones {
            let due = s.due().0;
            let beat = s.complete(times(due, done, done, done));
            sum += beat.jitter_ns;
            assert_eq!(beat.drift_ns, sum);
        }
    }

    #[test]
    fn relative_schedule_accumulates() {
        let mut s = Scheduler::new(Schedule::Relative, Duration::from_millis(100), MonoTime(0));
        assert_eq!(s.due(), MonoTime(100 * MS));
        let beat = s.complete(times(100 * MS, 101 * MS, 101 * MS, 102 * MS));
        assert_eq!(s.due(), MonoTime(202 * MS));
        assert_eq!(beat.drift_ns, 2 * MS as i64);
        let beat = s.complete(times(202 * MS, 203 * MS, 203 * MS, 204 * MS));
        assert_eq!(beat.drift_ns, 4 * MS as i64);
        assert_eq!(beat.jitter_ns, 2 * MS as i64);
        assert_eq!(beat.missed_slots, 0);
    }

    /// Every missed slot's lateness, one by one: what the runs must add up to.
    fn naive_slots(lateness_ns: u64, period_ns: u64, missed: u64) -> Vec<u64> {
        (1..=missed).map(|j| lateness_ns.saturating_sub(j * period_ns)).collect()
    }

    /// Buckets `[floor, next floor)` from a sorted list of floors.
    fn floor_in(floors: &[u64]) -> impl Fn(u64) -> u64 + '_ {
        |v| floors.iter().copied().take_while(|&f| f <= v).last().unwrap_or(0)
    }

    #[test]
    fn missed_slot_runs_match_slot_by_slot() {
        let floors: Vec<u64> = [0, 1, 5, 10, 11, 40, 100, 1000].to_vec();
        let floor = floor_in(&floors);
        for (lateness, period, missed) in
            [(95, 10, 9), (100, 10, 9), (1000, 7, 142), (50, 10, 0), (33, 1, 33), (12, 5, 2), (1050, 100, 9)]
        {
            let runs: Vec<(u64, u64)> = missed_slot_runs(lateness, period, missed, &floor).collect();
            assert_eq!(runs.iter().map(|r| r.1).sum::<u64>(), missed, "{lateness} {period} {missed}: {runs:?}");
            // Expand each run bucket by bucket and compare with the naive per-slot values.
            let mut by_bucket = std::collections::BTreeMap::<u64, u64>::new();
            for &(value, slots) in &runs {
                *by_bucket.entry(floor(value)).or_default() += slots;
            }
            let mut naive = std::collections::BTreeMap::<u64, u64>::new();
            for value in naive_slots(lateness, period, missed) {
                *naive.entry(floor(value)).or_default() += 1;
            }
            assert_eq!(by_bucket, naive, "{lateness} {period} {missed}");
            // One run per bucket touched, and the first is the largest value.
            assert_eq!(runs.len(), naive.len());
            assert_eq!(runs.first().map(|r| r.0), naive_slots(lateness, period, missed).first().copied());
            let sum: u64 = naive_slots(lateness, period, missed).iter().sum();
            assert_eq!(missed_slot_sum_ns(lateness, period, missed), u128::from(sum));
        }
    }

    #[test]
    fn a_late_beat_stands_for_its_missed_slots() {
        // Due at 100 ms, done at 1,050 ms at a 100 ms period: 9 slots missed,
        // due at 200..=1000 ms, so 850, 750, …, 50 ms late.
        let mut s = Scheduler::new(Schedule::Absolute, Duration::from_millis(100), MonoTime(0));
        let beat = s.complete(times(100 * MS, 1000 * MS, 1040 * MS, 1050 * MS));
        let values: Vec<u64> = missed_slot_runs(beat.lateness_ns, 100 * MS, beat.missed_slots, |v| v)
            .flat_map(|(value, slots)| std::iter::repeat_n(value, slots as usize))
            .collect();
        assert_eq!(values, (0..9).rev().map(|i| 50 * MS + i * 100 * MS).collect::<Vec<_>>());
    }

    #[test]
    fn an_hour_stall_at_100us_is_cheap() {
        // 36 M slots in buckets of 4 per octave: a few hundred runs at most.
        let floors: Vec<u64> = (0..200).map(|i| (1000.0 * f64::powf(2.0, f64::from(i) / 4.0)) as u64).collect();
        let floor = |v: u64| floors.iter().copied().take_while(|&f| f <= v).last().unwrap_or(0);
        let (lateness, period) = (3_600 * 1000 * MS, 100_000);
        let missed = lateness / period - 1;
        let runs: Vec<(u64, u64)> = missed_slot_runs(lateness, period, missed, floor).collect();
        assert!(runs.len() < 200, "{} runs", runs.len());
        assert_eq!(runs.iter().map(|r| r.1).sum::<u64>(), missed);
    }

    #[test]
    fn control_grid_is_offset_by_half_a_period() {
        let period = Duration::from_millis(10);
        let origin = control_origin(MonoTime(1000 * MS), period);
        assert_eq!(origin, MonoTime(1005 * MS));
        let mut control = Scheduler::new(Schedule::Absolute, period, origin);
        let mut main = Scheduler::new(Schedule::Absolute, period, MonoTime(1000 * MS));
        for _ in 0..3 {
            let (m, c) = (main.due().0, control.due().0);
            assert_eq!(c - m, 5 * MS, "control due half a period after main");
            main.complete(times(m, m, m, m + 1000));
            control.complete(times(c, c, c, c + 1000));
        }
        // 1 ns periods cannot be halved: the grids then coincide, harmlessly.
        assert_eq!(control_origin(MonoTime(7), Duration::from_nanos(1)), MonoTime(7));
    }

    #[test]
    fn slot_arithmetic() {
        assert_eq!(slot_after(MonoTime(0), 100, MonoTime(0)), 1);
        assert_eq!(slot_after(MonoTime(0), 100, MonoTime(99)), 1);
        assert_eq!(slot_after(MonoTime(0), 100, MonoTime(100)), 2);
        assert_eq!(slot_after(MonoTime(50), 100, MonoTime(10)), 1);
        assert_eq!(signed_difference(0, u64::MAX), i64::MIN);
        assert_eq!(signed_difference(u64::MAX, 0), i64::MAX);
    }
}
