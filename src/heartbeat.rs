//! The heartbeat every strategy runs: wait for the deadline, get the array,
//! check it, record the beat.
//!
//! Strategies differ only in how the heartbeat gets at the array, which they
//! express as a [`Probe`]. The loop, the schedule and the recording are here
//! once: [`run_blocking`] for heartbeats on their own thread, [`run_async`]
//! for heartbeats that are tasks on a tokio runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::array::Check;
use crate::clock::{MonoTime, seconds, seconds_signed};
use crate::config::Config;
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
        if timer.sleep_until(scheduled).await? == Wake::Stopped {
            return Ok(());
        }
        let woke = MonoTime::now();
        let Some((accessed, check)) = probe.probe() else { return Ok(()) };
        let done = MonoTime::now();
        sink.record(&scheduler.complete(BeatTimes { scheduled, woke, accessed, done }), check);
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
    what: &'static str,
    limit_ns: u64,
    above: bool,
}

impl Threshold {
    fn new(what: &'static str, limit: Duration) -> Threshold {
        Threshold { what, limit_ns: u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX), above: false }
    }

    fn observe(&mut self, value_ns: i64, beat: u64) {
        let above = value_ns.unsigned_abs() > self.limit_ns;
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
    drift: Threshold,
    jitter: Threshold,
    tap: Option<Tap>,
    pub summary: Summary,
}

impl Recorder {
    pub fn new(config: &Config, metrics: Metrics, liveness: Arc<Liveness>) -> Recorder {
        Recorder {
            metrics,
            liveness,
            drift: Threshold::new("drift", config.alerts.drift_threshold),
            jitter: Threshold::new("jitter", config.alerts.jitter_threshold),
            tap: None,
            summary: Summary::default(),
        }
    }

    /// Also hands every beat to `tap`.
    pub fn tapped(self, tap: Option<Tap>) -> Recorder {
        Recorder { tap, ..self }
    }
}

impl Sink for Recorder {
    fn record(&mut self, beat: &Beat, check: Check) {
        let m = &self.metrics;
        m.heartbeats_total.inc();
        m.heartbeat_missed_total.inc_by(beat.missed_slots);
        m.heartbeat_lateness_seconds.observe(seconds(beat.lateness_ns));
        m.heartbeat_wake_lateness_seconds.observe(seconds(beat.wake_lateness_ns));
        m.heartbeat_access_wait_seconds.observe(seconds(beat.access_wait_ns));
        m.heartbeat_jitter_seconds.observe(seconds(beat.jitter_ns.unsigned_abs()));
        m.heartbeat_drift_seconds.set(seconds_signed(beat.drift_ns));
        m.consistency_check_duration_seconds.observe(seconds(beat.check_duration_ns));
        let result = if check.is_consistent() { "consistent" } else { "inconsistent" };
        m.consistency_checks_total.with_label_values(&[result]).inc();
        m.consistency_mismatched_elements.set(i64::try_from(check.mismatched_elements).unwrap_or(i64::MAX));
        m.array_value.set(check.value as f64);
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        m.heartbeat_last_timestamp_seconds.set(unix);
        self.liveness.beat(beat.times.done);

        self.drift.observe(beat.drift_ns, beat.index);
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

/// The control heartbeat's sink: its lateness only.
pub struct ControlRecorder {
    pub metrics: Metrics,
    pub tap: Option<Tap>,
}

impl Sink for ControlRecorder {
    fn record(&mut self, beat: &Beat, check: Check) {
        self.metrics.control_lateness_seconds.observe(seconds(beat.lateness_ns));
        if let Some(tap) = &self.tap {
            tap(Source::Control, beat, check);
        }
    }
}
