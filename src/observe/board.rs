//! One heartbeat's board: everything its beats become.
//!
//! The heartbeat's thread is the only writer ([`Board::record`]): one short
//! lock for the counts, drift and thresholds, then the window store, the
//! ring of recent slots and, for `compare`, the whole run, each behind its
//! own short lock so a reader of one never holds up another. Readers take a
//! [`BoardSnapshot`]. A beat later than `explain.threshold` is explained
//! here, under the same lock, from the evidence the heartbeat read: the
//! threshold is the experiment's as tuned now, so a reload that keeps the
//! experiment moves it at once. An experiment's start resets what is the experiment's
//! ([`Board::begin`]); the counts go on for the process's life, as
//! Prometheus counters must.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::Keep;
use super::drift::DriftGained;
use super::ring::{BeatSlots, SlotRing, Why};
use super::run::WholeRun;
use super::store::{LatenessStore, WindowSnapshot};
use super::tally::{LastCheck, Tally, Totals};
use super::threshold::{Crossing, Sides, Threshold};
use crate::array::Check;
use crate::experiment::{Heartbeat, Settings};
use crate::explain::{self, CauseCounts, Charging, Evidence};
use crate::measure::Beat;
use crate::sys::clock::MonoTime;

pub struct Board {
    heartbeat: Heartbeat,
    state: Mutex<State>,
    /// The sliding window and the interval histogram (the daemon's).
    store: Option<LatenessStore>,
    /// Every beat's jitter over the same window (the daemon's main board,
    /// beside `store`); no interval log takes it.
    jitter_store: Option<LatenessStore>,
    /// Every beat of the run, exactly (`compare`'s).
    whole_run: Option<Mutex<WholeRun>>,
    ring: SlotRing,
}

#[derive(Default)]
struct State {
    tally: Tally,
    last_check: LastCheck,
    /// `None` until the first experiment begins.
    experiment: Option<Experiment>,
}

/// What belongs to one experiment: reset when the next begins.
struct Experiment {
    t0: MonoTime,
    period_ns: u64,
    /// The tally when the experiment began: its totals are what came since.
    baseline: Tally,
    max_lateness_ns: u64,
    drift_ns: i64,
    drift_window: Duration,
    drift_gained: DriftGained,
    drift_gained_ns: i64,
    /// The main heartbeat's alert thresholds; the control has none.
    thresholds: Option<Thresholds>,
    /// Beats later than this are explained.
    explain_threshold_ns: u64,
    charging: Charging,
}

struct Thresholds {
    drift_gained: Threshold,
    jitter: Threshold,
}

impl Thresholds {
    fn new(settings: &Settings) -> Thresholds {
        Thresholds {
            drift_gained: Threshold::new(
                format!("drift gained within {}", humantime::format_duration(settings.drift_window)),
                settings.drift_threshold,
                Sides::Above,
            ),
            jitter: Threshold::new("jitter", settings.jitter_threshold, Sides::Either),
        }
    }
}

/// A board as it was at one moment. The counts, drift and thresholds come
/// from one lock, so they agree with each other exactly; the window is read
/// just after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoardSnapshot {
    /// Since the process started.
    pub tally: Tally,
    /// Since the experiment started.
    pub totals: Totals,
    /// The last beat's drift (0 before the experiment's first beat).
    pub drift_ns: i64,
    /// Drift gained within `alerts.drift_window`.
    pub drift_gained_ns: i64,
    /// Whether drift gained is over `alerts.drift_threshold`, as the
    /// threshold log last said.
    pub drift_over_threshold: bool,
    pub last_check: LastCheck,
    /// The window summary's figures, on a board that keeps a window.
    pub window: Option<WindowSnapshot>,
    /// The jitter window summary's figures, on the main board that keeps a window.
    pub jitter_window: Option<WindowSnapshot>,
}

impl Board {
    pub(crate) fn new(heartbeat: Heartbeat, keep: Keep) -> Board {
        let (store, whole_run) = match keep {
            Keep::Window => (Some(LatenessStore::new(super::DEFAULT_WINDOW)), None),
            Keep::WholeRun => (None, Some(Mutex::new(WholeRun::new(heartbeat == Heartbeat::Main)))),
        };
        let jitter_store = (keep == Keep::Window && heartbeat == Heartbeat::Main)
            .then(|| LatenessStore::window_only(super::DEFAULT_WINDOW));
        Board { heartbeat, state: Mutex::default(), store, jitter_store, whole_run, ring: SlotRing::default() }
    }

    /// An experiment with `settings` starts at `t0`: drift, thresholds,
    /// totals, the window, the ring and the whole run forget the last one.
    /// The counts, the window's count and sum and the interval log go on.
    pub(crate) fn begin(&self, settings: &Settings, t0: MonoTime) {
        let mut state = self.state.lock();
        let thresholds = (self.heartbeat == Heartbeat::Main).then(|| Thresholds::new(settings));
        let baseline = state.tally;
        state.experiment = Some(Experiment {
            t0,
            period_ns: settings.period_ns(),
            baseline,
            max_lateness_ns: 0,
            drift_ns: 0,
            drift_window: settings.drift_window,
            drift_gained: DriftGained::new(t0, settings.drift_window),
            drift_gained_ns: 0,
            thresholds,
            explain_threshold_ns: crate::sys::clock::nanos(settings.explain_threshold),
            charging: charging(self.heartbeat, settings),
        });
        for store in [&self.store, &self.jitter_store].into_iter().flatten() {
            store.reset_window();
            store.set_window(settings.record_window);
        }
        self.ring.clear();
        if let Some(run) = &self.whole_run {
            run.lock().clear();
        }
    }

    /// The running experiment goes on with `settings`' thresholds, which
    /// may differ from its own; everything it measured stays. A threshold
    /// whose limit changed starts again below it (and says so when next
    /// crossed); one that did not change keeps its state.
    pub(crate) fn retune(&self, settings: &Settings) {
        let mut state = self.state.lock();
        let Some(experiment) = state.experiment.as_mut() else { return };
        experiment.explain_threshold_ns = crate::sys::clock::nanos(settings.explain_threshold);
        if settings.drift_window != experiment.drift_window {
            // Drift gained looks back over a new span: it starts afresh.
            experiment.drift_window = settings.drift_window;
            experiment.drift_gained = DriftGained::new(experiment.t0, settings.drift_window);
        }
        let Some(thresholds) = experiment.thresholds.as_mut() else { return };
        let new = Thresholds::new(settings);
        if !new.drift_gained.same_as(&thresholds.drift_gained) {
            thresholds.drift_gained = new.drift_gained;
        }
        if !new.jitter.same_as(&thresholds.jitter) {
            thresholds.jitter = new.jitter;
        }
    }

    /// Records one beat, on the main heartbeat its check, and why it was
    /// late if it was. Returns the thresholds it crossed, to log after the
    /// locks are released. On the heartbeat's thread: short locks, no
    /// allocation but at a window's rotation that finds no spare.
    pub(crate) fn record(&self, beat: &Beat, check: Option<Check>, evidence: &Evidence) -> [Option<Crossing>; 2] {
        let checked = check.map(|check| {
            let unix_seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
            LastCheck { unix_seconds, mismatched_elements: check.mismatched_elements, value: check.value }
        });
        let (t0, period_ns, why, crossings) = {
            let mut state = self.state.lock();
            let State { tally, last_check, experiment } = &mut *state;
            // Before any experiment began (never, through the start gate): a period of 1 ns.
            let period_ns = experiment.as_ref().map_or(1, |e| e.period_ns);
            tally.record(beat, period_ns, check);
            if let Some(checked) = checked {
                *last_check = checked;
            }
            let why = experiment.as_ref().and_then(|e| e.explain(beat, evidence));
            if let Some(why) = &why {
                tally.causes.add(&why.explanation);
            }
            match experiment {
                Some(experiment) => {
                    let crossings = experiment.record(beat, why.as_deref());
                    (experiment.t0, period_ns, why, crossings)
                }
                None => (MonoTime(0), period_ns, why, [None, None]),
            }
        };
        if let Some(store) = &self.store {
            let now = store.now();
            store.record_slots_at(now, beat.lateness_ns, period_ns, beat.missed_slots);
            if let Some(jitter) = &self.jitter_store {
                // Made beside the store, on the same clock: one reading ages both windows.
                jitter.record_slots_at(now, beat.jitter_ns.unsigned_abs(), period_ns, 0);
            }
        }
        self.ring.push(BeatSlots {
            scheduled_offset_ns: beat.times.scheduled.since(t0),
            lateness_ns: beat.lateness_ns,
            wake_lateness_ns: beat.wake_lateness_ns,
            access_wait_ns: beat.access_wait_ns,
            consistent: check.map(|check| check.is_consistent()),
            missed_slots: beat.missed_slots,
            period_ns,
            why,
        });
        if let Some(run) = &self.whole_run {
            run.lock().record(beat, period_ns);
        }
        crossings
    }

    pub fn snapshot(&self) -> BoardSnapshot {
        let mut snapshot = {
            let state = self.state.lock();
            let experiment = state.experiment.as_ref();
            BoardSnapshot {
                tally: state.tally,
                totals: experiment.map(|e| e.totals(&state.tally)).unwrap_or_default(),
                drift_ns: experiment.map_or(0, |e| e.drift_ns),
                drift_gained_ns: experiment.map_or(0, |e| e.drift_gained_ns),
                drift_over_threshold: experiment
                    .and_then(|e| e.thresholds.as_ref())
                    .is_some_and(|t| t.drift_gained.is_above()),
                last_check: state.last_check,
                window: None,
                jitter_window: None,
            }
        };
        snapshot.window = self.store.as_ref().map(LatenessStore::window_snapshot);
        snapshot.jitter_window = self.jitter_store.as_ref().map(LatenessStore::window_snapshot);
        snapshot
    }

    /// Beats since the process started: a cheap look, for progress.
    pub fn beats(&self) -> u64 {
        self.state.lock().tally.beats
    }

    /// Late beats and their lateness by cause since the process started: a
    /// cheap look, for the live page, without the window's quantiles.
    pub fn causes(&self) -> CauseCounts {
        self.state.lock().tally.causes
    }

    /// The recent slots.
    pub fn ring(&self) -> &SlotRing {
        &self.ring
    }

    /// The window store, on a board that keeps one (the interval log takes from it).
    pub fn store(&self) -> Option<&LatenessStore> {
        self.store.as_ref()
    }

    /// Reads the whole run, on a board that keeps one, under its lock: the
    /// heartbeat waits meanwhile, so read, do not linger.
    pub fn read_whole_run<R>(&self, read: impl FnOnce(&WholeRun) -> R) -> Option<R> {
        self.whole_run.as_ref().map(|run| read(&run.lock()))
    }
}

impl Experiment {
    /// Since it began: the tally's growth, the worst lateness, the last drift.
    fn totals(&self, tally: &Tally) -> Totals {
        Totals {
            beats: tally.beats - self.baseline.beats,
            missed: tally.missed - self.baseline.missed,
            inconsistent: tally.inconsistent - self.baseline.inconsistent,
            max_lateness_ns: self.max_lateness_ns,
            last_drift_ns: self.drift_ns,
        }
    }

    /// Why `beat` was late, if it was later than the explain threshold.
    fn explain(&self, beat: &Beat, evidence: &Evidence) -> Option<Box<Why>> {
        (beat.lateness_ns > self.explain_threshold_ns).then(|| {
            Box::new(Why {
                explanation: explain::explain(beat, evidence, self.charging),
                continued: explain::waterfall::stopped_within(beat, evidence) > 0,
                evidence: *evidence,
            })
        })
    }

    fn record(&mut self, beat: &Beat, why: Option<&Why>) -> [Option<Crossing>; 2] {
        self.max_lateness_ns = self.max_lateness_ns.max(beat.lateness_ns);
        self.drift_ns = beat.drift_ns;
        self.drift_gained_ns = self.drift_gained.observe(beat.times.done, beat.drift_ns);
        let cause = why.map(|why| why.explanation.dominant());
        match &mut self.thresholds {
            Some(thresholds) => [
                thresholds.drift_gained.observe(self.drift_gained_ns, beat.index, cause),
                thresholds.jitter.observe(beat.jitter_ns, beat.index, cause),
            ],
            None => [None, None],
        }
    }
}

/// What `heartbeat` of `settings`' strategy can be charged with.
fn charging(heartbeat: Heartbeat, settings: &Settings) -> Charging {
    match heartbeat {
        Heartbeat::Control => Charging::NoProbe,
        Heartbeat::Main if settings.strategy.heartbeat_shares_thread() => Charging::SharedThread,
        Heartbeat::Main => Charging::Probe,
    }
}

#[cfg(test)]
mod tests;
