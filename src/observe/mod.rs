//! The observatory: the one owner of everything a beat becomes.
//!
//! Each heartbeat's sink writes its beats here, to the heartbeat's
//! [`Board`] (counts, histograms' counts, the window store, the ring of
//! recent slots, drift and drift gained, threshold state, the stop totals);
//! the experiment's counter adds its passes; the daemon notes reloads and
//! the interval log its write errors. An experiment's start is one call
//! ([`Observatory::begin`]) that resets what is the experiment's, and a
//! reader takes one consistent [`Snapshot`]. The readers (the Prometheus
//! collector, `/api/v1`, the live page, the interval log, the stop summary,
//! `compare`) are views: none of them writes, and none of them is named
//! here. Like tokio-metrics' model, this is plain data and atomics: no
//! exporter's types.

mod board;
mod buckets;
mod drift;
mod liveness;
mod ring;
mod run;
mod store;
mod tally;
mod threshold;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;

pub use board::{Board, BoardSnapshot};
pub use buckets::{
    BeatCounts, DOUBLING_BOUNDS, LATENESS_BOUNDS, LATENESS_BOUNDS_NS, LatenessCounts, NATIVE_SCHEMA, NativeCounts,
    doubling_bounds_seconds,
};
pub use liveness::Liveness;
pub use ring::{ByCause, CAPACITY as RING_CAPACITY, Slot, SlotRing, Why};
pub use run::{BeatHistograms, MAX_POINTS, Point, Series, WholeRun};
pub use store::{
    Clock, HIGHEST_NS, IntervalHistogram, LatenessStore, QUANTILES, WindowSnapshot, new_histogram, record_slots,
};
pub use tally::{LastCheck, Tally, Totals};

use crate::array::Check;
use crate::experiment::{Heartbeat, Settings};
use crate::explain::{Evidence, Source};
use crate::measure::Beat;
use crate::sys::clock::MonoTime;

/// The window summaries' span until an experiment sets its `record.window`.
const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// What the boards keep beyond their counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The daemon's: a sliding window of every slot's lateness (the window
    /// summaries, `/api/v1/status`) and the interval histogram (the
    /// interval log); 2.1 MiB a board.
    Window,
    /// `compare`'s: every beat of the whole run in HdrHistograms, and a
    /// bounded series for the charts; 1.3 MiB for the main board, 264 KiB
    /// for the control's.
    WholeRun,
}

/// The experiment that runs, as it was begun.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub settings: Settings,
    /// When the heartbeats' grid starts.
    pub t0: MonoTime,
    /// When it began, for "running for".
    pub started: Instant,
}

/// The counter's passes over the array, since the process started.
#[derive(Debug, Default)]
pub struct Passes(AtomicU64);

impl Passes {
    /// One pass done. On the counter's thread, once a pass: one relaxed add.
    #[inline]
    pub fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Config reloads by result, and whether the last one succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloads {
    pub succeeded: u64,
    pub failed: u64,
    pub last_successful: bool,
}

pub struct Observatory {
    pub main: Board,
    pub control: Board,
    running: RwLock<Option<Running>>,
    passes: Passes,
    liveness: Liveness,
    reloads_succeeded: AtomicU64,
    reloads_failed: AtomicU64,
    last_reload_successful: AtomicBool,
    write_errors: AtomicU64,
    /// Which of the kernel's evidence sources this process can read.
    sources: [AtomicBool; 6],
    /// When the process started observing.
    started: Instant,
}

/// The observatory at one moment, for the readers.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `None` until the first experiment begins.
    pub running: Option<Running>,
    pub main: BoardSnapshot,
    pub control: BoardSnapshot,
    pub passes: u64,
    pub reloads: Reloads,
    /// Interval log writes that failed.
    pub write_errors: u64,
    /// Which evidence sources are available, in [`Source::ALL`]'s order.
    pub sources: [bool; 6],
    /// Since the observatory was made (the process started serving).
    pub uptime: Duration,
}

impl Observatory {
    pub fn new(keep: Keep) -> Observatory {
        Observatory {
            main: Board::new(Heartbeat::Main, keep),
            control: Board::new(Heartbeat::Control, keep),
            running: RwLock::new(None),
            passes: Passes::default(),
            liveness: Liveness::default(),
            reloads_succeeded: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            last_reload_successful: AtomicBool::new(true),
            write_errors: AtomicU64::new(0),
            sources: Default::default(),
            started: Instant::now(),
        }
    }

    pub fn board(&self, heartbeat: Heartbeat) -> &Board {
        match heartbeat {
            Heartbeat::Main => &self.main,
            Heartbeat::Control => &self.control,
        }
    }

    /// The experiment with `settings` begins at `t0`, before its heartbeats
    /// may beat: every board forgets the last experiment, and a reader sees
    /// either the old one whole or the new one whole.
    pub fn begin(&self, settings: &Settings, t0: MonoTime) {
        let mut running = self.running.write();
        for heartbeat in Heartbeat::BOTH {
            self.board(heartbeat).begin(settings, t0);
        }
        *running = Some(Running { settings: settings.clone(), t0, started: Instant::now() });
        self.liveness.started(settings.period);
    }

    /// The running experiment goes on under `settings`, whose experiment
    /// (strategy, size, period, schedule, duty cycle, control) is the
    /// running one's: its thresholds and the settings readers see change,
    /// and nothing it measured is reset. Before any experiment, nothing.
    pub fn retune(&self, settings: &Settings) {
        let mut running = self.running.write();
        let Some(running) = running.as_mut() else { return };
        for heartbeat in Heartbeat::BOTH {
            self.board(heartbeat).retune(settings);
        }
        running.settings = settings.clone();
    }

    /// The experiment stopped: not live until the next begins.
    pub fn end(&self) {
        self.liveness.stopped();
    }

    /// A beat of `heartbeat`, with the main heartbeat's check, and no
    /// evidence of why it was late.
    pub fn record(&self, heartbeat: Heartbeat, beat: &Beat, check: Check) {
        self.record_explained(heartbeat, beat, check, &Evidence::NONE);
    }

    /// A beat of `heartbeat`, with the main heartbeat's check and what the
    /// kernel said about it: a beat later than `explain.threshold` (as the
    /// experiment is tuned now) is explained from it. On the heartbeat's
    /// thread, after the beat's timestamps are taken.
    pub fn record_explained(&self, heartbeat: Heartbeat, beat: &Beat, check: Check, evidence: &Evidence) {
        let check = (heartbeat == Heartbeat::Main).then_some(check);
        let crossings = self.board(heartbeat).record(beat, check, evidence);
        if heartbeat == Heartbeat::Main {
            self.liveness.beat(beat.times.done);
        }
        if let Some(check) = check.filter(|check| !check.is_consistent()) {
            tracing::debug!(beat = beat.index, mismatched = check.mismatched_elements, "inconsistent read");
        }
        for crossing in crossings.iter().flatten() {
            crossing.log();
        }
    }

    pub fn passes(&self) -> &Passes {
        &self.passes
    }

    pub fn liveness(&self) -> &Liveness {
        &self.liveness
    }

    /// A config reload was applied (`true`) or refused.
    pub fn count_reload(&self, succeeded: bool) {
        // The flag first: a reader that sees the new count sees the new flag too.
        self.last_reload_successful.store(succeeded, Ordering::Release);
        let counter = if succeeded { &self.reloads_succeeded } else { &self.reloads_failed };
        counter.fetch_add(1, Ordering::Release);
    }

    /// An interval log write failed.
    pub fn count_write_error(&self) {
        self.write_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the kernel offers `source` to this process: set by whoever
    /// reads it, when it first tries.
    pub fn set_source_available(&self, source: Source, available: bool) {
        self.sources[source.index()].store(available, Ordering::Relaxed);
    }

    /// The running experiment, once one has begun.
    pub fn running(&self) -> Option<Running> {
        self.running.read().clone()
    }

    /// Everything at once. The experiment's description and both boards are
    /// read under the lock [`Observatory::begin`] takes, so a snapshot never
    /// mixes one experiment's settings with another's figures.
    pub fn snapshot(&self) -> Snapshot {
        let running = self.running.read();
        let (main, control) = (self.main.snapshot(), self.control.snapshot());
        let reloads_failed = self.reloads_failed.load(Ordering::Acquire);
        let reloads_succeeded = self.reloads_succeeded.load(Ordering::Acquire);
        Snapshot {
            running: running.clone(),
            main,
            control,
            passes: self.passes.get(),
            reloads: Reloads {
                succeeded: reloads_succeeded,
                failed: reloads_failed,
                last_successful: self.last_reload_successful.load(Ordering::Acquire),
            },
            write_errors: self.write_errors.load(Ordering::Relaxed),
            sources: std::array::from_fn(|i| self.sources[i].load(Ordering::Relaxed)),
            uptime: self.started.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::measure::{BeatTimes, Scheduler};

    #[test]
    fn one_begin_one_snapshot() {
        let observatory = Observatory::new(Keep::Window);
        let before = observatory.snapshot();
        assert_eq!(before.running, None);
        assert!(before.reloads.last_successful && before.reloads.succeeded == 0);
        let settings = Config::embedded_default().experiment();
        observatory.begin(&settings, MonoTime::now());
        assert!(observatory.liveness().is_live(MonoTime::now()));
        let t0 = observatory.running().map(|r| r.t0).unwrap_or_default();
        let mut scheduler = Scheduler::new(settings.schedule, settings.period, t0);
        let due = scheduler.due();
        let beat = scheduler.complete(BeatTimes { scheduled: due, woke: due, accessed: due, done: due.plus_ns(5) });
        observatory.record(Heartbeat::Main, &beat, Check { value: 3, mismatched_elements: 1 });
        observatory.record(Heartbeat::Control, &beat, Check { value: 3, mismatched_elements: 1 });
        observatory.passes().add_one();
        observatory.count_reload(false);
        let after = observatory.snapshot();
        assert_eq!(after.running.map(|r| r.settings), Some(settings));
        assert_eq!((after.main.tally.beats, after.main.tally.inconsistent, after.main.last_check.value), (1, 1, 3));
        assert_eq!(
            (after.control.tally.beats, after.control.tally.consistent + after.control.tally.inconsistent),
            (1, 0)
        );
        assert_eq!((after.passes, after.reloads.failed, after.reloads.last_successful), (1, 1, false));
        observatory.end();
        assert!(!observatory.liveness().is_live(MonoTime::now()));
    }
}
