//! What a board counts: since the process started (the exported counters
//! and histograms, which go on across reloads), and since the experiment
//! started (the stop summary). Plain `Copy` data, so a snapshot is a copy.

use crate::array::Check;
use crate::explain::CauseCounts;
use crate::measure::Beat;

use super::buckets::{BeatCounts, LatenessCounts, NativeCounts};

/// Counts since the process started, across experiments. Kept under one
/// lock with every beat, so any copy satisfies `lateness.count() =
/// beats + missed`, `consistent + inconsistent = beats` (main heartbeat)
/// and `wake_lateness.count() = beats` exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Beats completed.
    pub beats: u64,
    /// Slots skipped because a beat ran past them (absolute schedule).
    pub missed: u64,
    /// Checks that found the array consistent, and not (main heartbeat).
    pub consistent: u64,
    pub inconsistent: u64,
    /// Every slot's lateness: each beat's and each missed slot's.
    pub lateness: LatenessCounts,
    /// The same slots in native buckets (the protobuf exposition's).
    pub native_lateness: NativeCounts,
    /// Per beat: `woke − scheduled`.
    pub wake_lateness: BeatCounts,
    /// Per beat: `accessed − woke`.
    pub access_wait: BeatCounts,
    /// Per beat: `|interval − period|`.
    pub jitter: BeatCounts,
    /// Per beat: `done − accessed`.
    pub check_duration: BeatCounts,
    /// Beats above `explain.threshold` and their lateness, by cause.
    pub causes: CauseCounts,
}

impl Tally {
    /// One beat, its missed slots and, when it checked the array, the check.
    pub(crate) fn record(&mut self, beat: &Beat, period_ns: u64, check: Option<Check>) {
        self.beats += 1;
        self.missed += beat.missed_slots;
        match check.map(|check| check.is_consistent()) {
            Some(true) => self.consistent += 1,
            Some(false) => self.inconsistent += 1,
            None => {}
        }
        self.lateness.record_slots(beat.lateness_ns, period_ns, beat.missed_slots);
        self.native_lateness.record_slots(beat.lateness_ns, period_ns, beat.missed_slots);
        self.wake_lateness.record(beat.wake_lateness_ns);
        self.access_wait.record(beat.access_wait_ns);
        self.jitter.record(beat.jitter_ns.unsigned_abs());
        self.check_duration.record(beat.check_duration_ns);
    }

    /// Slots recorded: beats plus missed.
    pub fn slots(&self) -> u64 {
        self.beats + self.missed
    }
}

/// Totals of one experiment, for the summary logged at its stop: derived
/// from the tally, so they cannot disagree with it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub beats: u64,
    pub missed: u64,
    pub inconsistent: u64,
    pub max_lateness_ns: u64,
    pub last_drift_ns: i64,
}

/// What the last check saw, and when it finished (the exported gauges).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LastCheck {
    /// Unix time of the beat, in seconds.
    pub unix_seconds: f64,
    pub mismatched_elements: u64,
    /// Element 0.
    pub value: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Schedule;
    use crate::measure::{BeatTimes, Scheduler};
    use crate::sys::clock::MonoTime;

    const MS: u64 = 1_000_000;

    #[test]
    fn every_count_agrees_with_the_beats() {
        let mut scheduler = Scheduler::new(Schedule::Absolute, std::time::Duration::from_millis(10), MonoTime(0));
        let mut tally = Tally::default();
        for (k, late_ms) in [(1u64, 1u64), (2, 35), (3, 2)] {
            let due = scheduler.due().0;
            let done = MonoTime(due + late_ms * MS);
            let times = BeatTimes { scheduled: MonoTime(due), woke: done, accessed: done, done };
            let check = Check { value: k, mismatched_elements: u64::from(k == 2) };
            tally.record(&scheduler.complete(times), 10 * MS, Some(check));
        }
        assert_eq!((tally.beats, tally.missed), (3, 3));
        assert_eq!(tally.lateness.count(), tally.slots());
        assert_eq!(tally.native_lateness.count(), tally.slots());
        assert_eq!((tally.consistent, tally.inconsistent), (2, 1));
        for per_beat in [tally.wake_lateness, tally.access_wait, tally.jitter, tally.check_duration] {
            assert_eq!(per_beat.count(), 3);
        }
    }
}
