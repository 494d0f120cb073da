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
//! duty-cycled counter runs. What a beat becomes is the observatory's: the
//! [`Recorder`] reads the beat's evidence on the heartbeat's thread, just
//! after `done`, and hands both over; the observatory decides whether the
//! beat was late enough to explain.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::array::Check;
use crate::experiment::Heartbeat;
use crate::explain::{Evidence, HostEvidence, Source, ThreadEvidence};
use crate::measure::{Beat, BeatTimes, Scheduler};
use crate::observe::Observatory;
use crate::sys::clock::MonoTime;
use crate::sys::timer::{AsyncDeadlineTimer, DeadlineTimer, Stop, Wake};

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
    /// The heartbeat is about to start: called once, on its own thread,
    /// before it waits for t0 (by whoever starts it: the loops do not).
    fn started(&mut self) {}

    fn record(&mut self, beat: &Beat, check: Check);

    /// The next beat is due at `scheduled`: called before the heartbeat
    /// sleeps for it, for a sink that publishes it.
    fn next_due(&mut self, _scheduled: MonoTime) {}
}

/// A heartbeat's sink: reads each beat's evidence, hands both to the
/// observatory's board for that heartbeat and, for the main one, publishes
/// when the next is due.
pub struct Recorder {
    observatory: Arc<Observatory>,
    heartbeat: Heartbeat,
    next_due: Option<Arc<NextDue>>,
    /// Where the host-wide evidence comes from, when beats are explained.
    host: Option<Arc<HostEvidence>>,
    /// Opened on the heartbeat's thread when it starts.
    evidence: Option<ThreadEvidence>,
}

impl Recorder {
    /// Records beats without evidence: a late one is charged to `wake`
    /// but for its check and access wait.
    pub fn new(observatory: Arc<Observatory>, heartbeat: Heartbeat) -> Recorder {
        Recorder { observatory, heartbeat, next_due: None, host: None, evidence: None }
    }

    /// Also reads each beat's evidence, with the host-wide part from `host`.
    pub fn explaining(self, host: Arc<HostEvidence>) -> Recorder {
        Recorder { host: Some(host), ..self }
    }

    /// Also publishes when each beat is next due, for the counter.
    pub fn publishing(self, next_due: Arc<NextDue>) -> Recorder {
        Recorder { next_due: Some(next_due), ..self }
    }
}

impl Sink for Recorder {
    /// Opens the thread's evidence and says which sources it has.
    fn started(&mut self) {
        let Some(host) = &self.host else { return };
        let evidence = ThreadEvidence::open(Arc::clone(host));
        for source in Source::ALL {
            self.observatory.set_source_available(source, evidence.available(source));
        }
        self.evidence = Some(evidence);
    }

    #[inline]
    fn record(&mut self, beat: &Beat, check: Check) {
        let evidence = self.evidence.as_mut().map_or(Evidence::NONE, ThreadEvidence::read);
        self.observatory.record_explained(self.heartbeat, beat, check, &evidence);
    }

    fn next_due(&mut self, scheduled: MonoTime) {
        if let Some(next_due) = &self.next_due {
            next_due.publish(scheduled);
        }
    }
}

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
    /// The experiment is ready: t0 is `t0`. Returns it; a second call
    /// returns the first t0.
    pub fn open(&self, t0: MonoTime) -> Option<MonoTime> {
        self.settle(Some(t0))
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
        let t0 = gate.open(MonoTime::now());
        assert!(t0.is_some());
        gate.cancel();
        assert_eq!(gate.open(MonoTime::now()), t0, "opened once");
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
        assert_eq!(gate.open(MonoTime::now()), None, "a cancelled experiment stays cancelled");
    }
}
