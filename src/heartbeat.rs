//! The heartbeat every strategy runs: wait for the deadline, get the array,
//! check it, record the beat.
//!
//! Strategies differ only in how the heartbeat gets at the array, which they
//! express as a [`Probe`]. The loop, the schedule and the recording are here
//! once: [`run_blocking`] for heartbeats on their own thread, [`run_async`]
//! for heartbeats that are tasks on a tokio runtime. Every heartbeat first
//! waits at the [`StartGate`] for t0, which is taken once the whole
//! experiment is set up, so set-up never counts as lateness. The main
//! heartbeat publishes when it is next due ([`NextDue`]), around which a
//! duty-cycled counter runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::array::Check;
use crate::clock::{MonoTime, seconds, seconds_signed};
use crate::drift::DriftGained;
use crate::experiment::Settings;
use crate::live::ring::BeatSlots;
use crate::measure::{Beat, BeatTimes, Scheduler};
use crate::metrics::Metrics;
use crate::timer::{AsyncDeadlineTimer, DeadlineTimer, Stop, Wake};

/// How a heartbeat gets at the shared array and checks it.
pub trait Probe {
    /// Gets the array (lock, reply, snapshot), notes when, and checks it.
    /// `None` when the experiment stopped while waiting.
    fn probe(&mut self) -> Option<(MonoTime, Check)>;
}

/// A probe that touches nothing: the control heartbeat's.
pub struct NoProbe;

impl Probe for NoProbe {
    fn probe(&mut self) -> Option<(MonoTime, Check)> {
        Some((MonoTime::now(), Check { value: 0, mismatched_elements: 0 }))
    }
}

/// Where a finished beat goes.
pub trait Sink {
    fn record(&mut self, beat: &Beat, check: Check);

    /// The next beat is due at `scheduled`: called before the heartbeat
    /// sleeps for it, for a sink that publishes it.
    fn next_due(&mut self, _scheduled: MonoTime) {}

    /// The totals to log when the heartbeat stops, for a sink that keeps them.
    fn into_summary(self) -> Option<Summary>
    where
        Self: Sized,
    {
        None
    }
}

/// Which heartbeat a beat came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Main,
    Control,
}

/// A copy of every beat, for a caller that wants more than the metrics keep
/// (`jitterd compare` keeps each one). Called on the heartbeat's thread after
/// the beat's timestamps are taken, so it costs the next beat, not this one:
/// keep it short.
pub type Tap = Arc<dyn Fn(Source, &Beat, Check) + Send + Sync>;

/// Runs a heartbeat on the calling thread until `stop`.
pub fn run_blocking(
    mut scheduler: Scheduler,
    stop: &Stop,
    probe: &mut impl Probe,
    sink: &mut impl Sink,
) -> std::io::Result<()> {
    let timer = DeadlineTimer::new()?;
    loop {
        let scheduled = scheduler.due();
        sink.next_due(scheduled);
        if timer.sleep_until(scheduled, stop)? == Wake::Stopped {
            return Ok(());
        }
        let woke = MonoTime::now();
        let Some((accessed, check)) = probe.probe() else { return Ok(()) };
        let done = MonoTime::now();
        sink.record(&scheduler.complete(BeatTimes { scheduled, woke, accessed, done }), check);
    }
}

/// Runs a heartbeat as a task on the current tokio runtime until `stop`.
pub async fn run_async(
    mut scheduler: Scheduler,
    timer: AsyncDeadlineTimer,
    probe: &mut impl Probe,
    sink: &mut impl Sink,
) -> std::io::Result<()> {
    loop {
        let scheduled = scheduler.due();
        sink.next_due(scheduled);
        if timer.sleep_until(scheduled).await? == Wake::Stopped {
            return Ok(());
        }
        let woke = MonoTime::now();
        let Some((accessed, check)) = probe.probe() else { return Ok(()) };
        let done = MonoTime::now();
        sink.record(&scheduler.complete(BeatTimes { scheduled, woke, accessed, done }), check);
    }
}

/// When the main heartbeat is next due, published for the counter: a
/// duty-cycled counter centres its running windows on it. Under the relative
/// schedule it moves with every beat's lateness, so the counter cannot work
/// it out on its own.
#[derive(Debug, Default)]
pub struct NextDue(AtomicU64);

impl NextDue {
    pub fn publish(&self, due: MonoTime) {
        self.0.store(due.0, Ordering::Relaxed);
    }

    /// `None` until the heartbeat has published its first due time.
    pub fn get(&self) -> Option<MonoTime> {
        Some(MonoTime(self.0.load(Ordering::Relaxed))).filter(|due| due.0 != 0)
    }
}

/// Where the heartbeats wait for t0: opened once the experiment is ready
/// (array allocated, every thread started), or cancelled if it never will be.
#[derive(Debug, Default)]
pub struct StartGate {
    /// `None` while closed; `Some(Some(t0))` open; `Some(None)` cancelled.
    state: Mutex<Option<Option<MonoTime>>>,
    changed: Condvar,
}

impl StartGate {
    /// The experiment is ready: t0 is now. Returns it; a second call returns the first t0.
    pub fn open(&self) -> Option<MonoTime> {
        self.settle(Some(MonoTime::now()))
    }

    /// The experiment will not run: every waiter returns `None`. Idempotent;
    /// after [`open`](Self::open) it changes nothing.
    pub fn cancel(&self) {
        self.settle(None);
    }

    fn settle(&self, outcome: Option<MonoTime>) -> Option<MonoTime> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let settled = *state.get_or_insert(outcome);
        self.changed.notify_all();
        settled
    }

    /// Blocks until the gate opens (`Some(t0)`) or is cancelled (`None`).
    /// It opens microseconds after the heartbeats are started, so this is a
    /// sleep on a condition variable, not a poll.
    pub fn wait(&self) -> Option<MonoTime> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = self.changed.wait_while(state, |s| s.is_none()).unwrap_or_else(PoisonError::into_inner);
        state.flatten()
    }
}

/// Whether the heartbeat is making progress, for `/-/ready` and the systemd watchdog.
#[derive(Debug, Default)]
pub struct Liveness {
    running: AtomicBool,
    last_progress: AtomicU64,
    period_ns: AtomicU64,
}

impl Liveness {
    /// An experiment with this period starts now.
    pub fn started(&self, period: Duration) {
        self.period_ns.store(u64::try_from(period.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.last_progress.store(MonoTime::now().0, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
    }

    pub fn stopped(&self) {
        self.running.store(false, Ordering::Release);
    }

    fn beat(&self, done: MonoTime) {
        self.last_progress.store(done.0, Ordering::Relaxed);
    }

    /// *Definition*: running, and the last beat (or the start) is no older
    /// than three periods plus one second. *Interpretation*: a heartbeat
    /// starved for longer is stalled, and the process not ready.
    pub fn is_live(&self, now: MonoTime) -> bool {
        if !self.running.load(Ordering::Acquire) {
            return false;
        }
        let allowance = self.period_ns.load(Ordering::Relaxed).saturating_mul(3).saturating_add(1_000_000_000);
        now.since(MonoTime(self.last_progress.load(Ordering::Relaxed))) <= allowance
    }
}

/// Totals of one experiment, for the summary logged at stop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub beats: u64,
    pub missed: u64,
    pub inconsistent: u64,
    pub max_lateness_ns: u64,
    pub last_drift_ns: i64,
}

/// A limit that logs once when crossed and once when recovered, not every beat.
#[derive(Debug)]
struct Threshold {
    what: String,
    limit_ns: u64,
    /// Only values above the limit cross it (drift gained); otherwise the
    /// magnitude does (jitter, either way).
    one_sided: bool,
    above: bool,
}

impl Threshold {
    fn new(what: impl Into<String>, limit: Duration, one_sided: bool) -> Threshold {
        let limit_ns = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        Threshold { what: what.into(), limit_ns, one_sided, above: false }
    }

    fn observe(&mut self, value_ns: i64, beat: u64) {
        let magnitude = if self.one_sided { u64::try_from(value_ns).unwrap_or(0) } else { value_ns.unsigned_abs() };
        let above = magnitude > self.limit_ns;
        if above == self.above {
            return;
        }
        self.above = above;
        let value = format!("{:.6}s", seconds_signed(value_ns));
        let limit = format!("{:.6}s", seconds(self.limit_ns));
        if above {
            tracing::warn!(beat, value, limit, "heartbeat {} crossed its threshold", self.what);
        } else {
            tracing::info!(beat, value, limit, "heartbeat {} back within its threshold", self.what);
        }
    }
}

/// The main heartbeat's sink: metrics, threshold logs, liveness, summary.
pub struct Recorder {
    metrics: Metrics,
    liveness: Arc<Liveness>,
    t0: MonoTime,
    period_ns: u64,
    drift_gained: DriftGained,
    drift: Threshold,
    jitter: Threshold,
    tap: Option<Tap>,
    next_due: Option<Arc<NextDue>>,
    pub summary: Summary,
}

impl Recorder {
    /// The sink of an experiment whose t0 is `t0`.
    pub fn new(settings: &Settings, metrics: Metrics, liveness: Arc<Liveness>, t0: MonoTime) -> Recorder {
        let window = settings.drift_window;
        let drift = format!("drift gained within {}", humantime::format_duration(window));
        Recorder {
            metrics,
            liveness,
            t0,
            period_ns: settings.period_ns(),
            drift_gained: DriftGained::new(t0, window),
            drift: Threshold::new(drift, settings.drift_threshold, true),
            jitter: Threshold::new("jitter", settings.jitter_threshold, false),
            tap: None,
            next_due: None,
            summary: Summary::default(),
        }
    }

    /// Also hands every beat to `tap`.
    pub fn tapped(self, tap: Option<Tap>) -> Recorder {
        Recorder { tap, ..self }
    }

    /// Also publishes when each beat is next due, for the counter.
    pub fn publishing(self, next_due: Arc<NextDue>) -> Recorder {
        Recorder { next_due: Some(next_due), ..self }
    }
}

impl Sink for Recorder {
    fn into_summary(self) -> Option<Summary> {
        Some(self.summary)
    }

    fn next_due(&mut self, scheduled: MonoTime) {
        if let Some(next_due) = &self.next_due {
            next_due.publish(scheduled);
        }
    }

    fn record(&mut self, beat: &Beat, check: Check) {
        let m = &self.metrics;
        // The check is counted with its beat: every scrape has as many of one as of the other.
        m.heartbeat_slots.record(beat.lateness_ns, self.period_ns, beat.missed_slots, Some(check.is_consistent()));
        m.heartbeat_lateness_window.record_slots(beat.lateness_ns, self.period_ns, beat.missed_slots);
        m.heartbeat_wake_lateness_seconds.observe(seconds(beat.wake_lateness_ns));
        m.heartbeat_access_wait_seconds.observe(seconds(beat.access_wait_ns));
        m.heartbeat_jitter_seconds.observe(seconds(beat.jitter_ns.unsigned_abs()));
        m.heartbeat_drift_seconds.set(seconds_signed(beat.drift_ns));
        let drift_gained_ns = self.drift_gained.observe(beat.times.done, beat.drift_ns);
        m.drift_window_seconds.set(seconds_signed(drift_gained_ns));
        m.consistency_check_duration_seconds.observe(seconds(beat.check_duration_ns));
        m.consistency_mismatched_elements.set(i64::try_from(check.mismatched_elements).unwrap_or(i64::MAX));
        m.array_value.set(check.value as f64);
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        m.heartbeat_last_timestamp_seconds.set(unix);
        self.liveness.beat(beat.times.done);

        m.live.main.push(slots_of(beat, self.t0, self.period_ns, Some(check.is_consistent())));

        self.drift.observe(drift_gained_ns, beat.index);
        self.jitter.observe(beat.jitter_ns, beat.index);
        if !check.is_consistent() {
            tracing::debug!(beat = beat.index, mismatched = check.mismatched_elements, "inconsistent read");
        }
        let s = &mut self.summary;
        s.beats += 1;
        s.missed += beat.missed_slots;
        s.inconsistent += u64::from(!check.is_consistent());
        s.max_lateness_ns = s.max_lateness_ns.max(beat.lateness_ns);
        s.last_drift_ns = beat.drift_ns;
        if let Some(tap) = &self.tap {
            tap(Source::Main, beat, check);
        }
    }
}

/// What the live page's ring keeps of a beat: its slot, relative to the
/// experiment's t0, and the slots it swallowed.
fn slots_of(beat: &Beat, t0: MonoTime, period_ns: u64, consistent: Option<bool>) -> BeatSlots {
    BeatSlots {
        scheduled_offset_ns: beat.times.scheduled.since(t0),
        lateness_ns: beat.lateness_ns,
        wake_lateness_ns: beat.wake_lateness_ns,
        access_wait_ns: beat.access_wait_ns,
        consistent,
        missed_slots: beat.missed_slots,
        period_ns,
    }
}

/// The control heartbeat's sink: the lateness of its every slot.
pub struct ControlRecorder {
    pub metrics: Metrics,
    pub period: Duration,
    /// The experiment's t0 (the control's own grid is offset from it).
    pub t0: MonoTime,
    pub tap: Option<Tap>,
}

impl Sink for ControlRecorder {
    fn record(&mut self, beat: &Beat, check: Check) {
        let period_ns = u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX);
        self.metrics.control_slots.record(beat.lateness_ns, period_ns, beat.missed_slots, None);
        self.metrics.control_lateness_window.record_slots(beat.lateness_ns, period_ns, beat.missed_slots);
        self.metrics.live.control.push(slots_of(beat, self.t0, period_ns, None));
        if let Some(tap) = &self.tap {
            tap(Source::Control, beat, check);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_hands_every_waiter_the_same_t0() {
        let gate = Arc::new(StartGate::default());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let gate = Arc::clone(&gate);
                std::thread::spawn(move || gate.wait())
            })
            .collect();
        let t0 = gate.open();
        assert!(t0.is_some());
        gate.cancel();
        assert_eq!(gate.open(), t0, "opened once");
        for waiter in waiters {
            assert_eq!(waiter.join().ok().flatten(), t0);
        }
    }

    #[test]
    fn a_cancelled_gate_releases_its_waiters() {
        let gate = Arc::new(StartGate::default());
        let waiter = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || gate.wait())
        };
        gate.cancel();
        assert_eq!(waiter.join().ok().flatten(), None);
        assert_eq!(gate.open(), None, "a cancelled experiment stays cancelled");
    }

    #[test]
    fn drift_threshold_is_one_sided_and_jitter_two_sided() {
        let mut drift = Threshold::new("drift gained", Duration::from_millis(100), true);
        drift.observe(-200_000_000, 1);
        assert!(!drift.above, "losing drift is no alarm");
        drift.observe(200_000_000, 2);
        assert!(drift.above);
        let mut jitter = Threshold::new("jitter", Duration::from_millis(100), false);
        jitter.observe(-200_000_000, 1);
        assert!(jitter.above);
    }
}
