//! The strategies: how the counter and the heartbeat share the array.
//!
//! One file per strategy; each builds its array, starts its counter and
//! hands its heartbeat a [`Probe`](crate::heartbeat::Probe). Everything they
//! share (threads, tuning, the heartbeat loop, recording, the control
//! heartbeat) is in [`Setup`] and [`Experiment`], so a strategy file holds
//! only what makes it different. t0 is taken by [`Experiment::start`] once
//! the strategy has built its array and started its threads; the heartbeats
//! wait for it at a [`StartGate`]. Every counter keeps to
//! `counter.duty_cycle` the same way ([`duty_cycle`]).

mod async_blocking;
mod async_tasks;
mod duty_cycle;
mod threads_channel;
mod threads_fair_mutex;
mod threads_mutex;
mod threads_snapshot;
mod threads_unsync;

use std::future::Future;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;

use crate::experiment::{Heartbeat, Settings, Strategy};
use crate::explain::HostEvidence;
use crate::heartbeat::{self, NextDue, NoProbe, Probe, Recorder, Sink, StartGate};
use crate::measure::{Scheduler, control_origin};
use crate::observe::Observatory;
use crate::sys::clock::MonoTime;
use crate::sys::timer::Stop;
use duty_cycle::{Counter, DutyCycle, Windows};

/// What a strategy gets to start with.
pub(crate) struct Setup {
    pub settings: Settings,
    /// Where the heartbeats record and the counter counts its passes.
    pub observatory: Arc<Observatory>,
    pub stop: Stop,
    gate: Arc<StartGate>,
    /// The main heartbeat's next due time, which the counter's windows follow.
    next_due: Arc<NextDue>,
    /// The host-wide evidence both heartbeats share.
    host: Arc<HostEvidence>,
}

/// A thread of the experiment.
type Worker = JoinHandle<()>;

impl Setup {
    fn size_elements(&self) -> anyhow::Result<usize> {
        usize::try_from(self.settings.size_elements).context("counter.size does not fit this platform")
    }

    /// The array of `size_elements` zeros, allocated here so that a failure
    /// is reported by the start, not lost in a thread.
    fn zeroed_array(&self) -> anyhow::Result<Vec<u64>> {
        crate::array::zeroed(self.size_elements()?).map_err(anyhow::Error::msg)
    }

    /// How heartbeat threads are tuned.
    fn tuning(&self) -> Tuning {
        Tuning { timer_slack: self.settings.timer_slack, priority: self.settings.priority }
    }

    /// The main heartbeat's sink, which publishes each next due time for
    /// the counter, and its schedule once t0 is known.
    fn main_heartbeat(&self) -> (Recorder, impl FnOnce(MonoTime) -> Scheduler + Send + 'static) {
        let (schedule, period) = (self.settings.schedule, self.settings.period);
        let recorder = Recorder::new(Arc::clone(&self.observatory), Heartbeat::Main)
            .explaining(Arc::clone(&self.host))
            .publishing(Arc::clone(&self.next_due));
        (recorder, move |t0| Scheduler::new(schedule, period, t0))
    }

    /// When the counter runs: `None` continuously (`counter.duty_cycle = 1`).
    fn counter_windows(&self) -> Option<Windows> {
        DutyCycle::new(self.settings.duty_cycle, self.settings.period_ns())
            .map(|cycle| Windows::new(cycle, Arc::clone(&self.next_due)))
    }

    /// Starts the counter on a thread of its own: passes until stopped, in
    /// its duty cycle's windows.
    fn spawn_counter(&self, mut counter: impl Counter) -> anyhow::Result<Worker> {
        let (stop, observatory, windows) = (self.stop.clone(), Arc::clone(&self.observatory), self.counter_windows());
        spawn("jitterd-counter", move || {
            duty_cycle::run_blocking(&mut counter, &stop, observatory.passes(), windows.as_ref());
        })
    }

    /// Starts the main heartbeat on a thread of its own with this probe.
    fn spawn_heartbeat(&self, probe: impl Probe + Send + 'static) -> anyhow::Result<Worker> {
        let (recorder, schedule) = self.main_heartbeat();
        self.spawn_heartbeat_thread("jitterd-heartbeat", self.tuning(), probe, recorder, schedule)
    }

    /// The one way a heartbeat thread starts, main or control: tune the
    /// thread, start the sink there (its evidence is the thread's), wait for
    /// t0 at the gate (giving up if the start is called off), build the
    /// schedule from it, beat until the stop.
    fn spawn_heartbeat_thread<P, S>(
        &self,
        name: &str,
        tuning: Tuning,
        mut probe: P,
        mut sink: S,
        schedule: impl FnOnce(MonoTime) -> Scheduler + Send + 'static,
    ) -> anyhow::Result<Worker>
    where
        P: Probe + Send + 'static,
        S: Sink + Send + 'static,
    {
        let (stop, gate) = (self.stop.clone(), Arc::clone(&self.gate));
        let name_owned = name.to_owned();
        spawn(name, move || {
            tuning.apply();
            sink.started();
            let Some(t0) = gate.wait() else { return };
            if let Err(err) = heartbeat::run_blocking(schedule(t0), &stop, &mut probe, &mut sink) {
                tracing::error!("{name_owned} stopped: {err}");
            }
        })
    }

    /// Starts the control heartbeat: no probe, the main heartbeat's tuning
    /// (without priority where the main one shares its thread with the
    /// counter and cannot have it), and a grid offset by half a period, so
    /// the two heartbeats never contend for a core on the same tick.
    fn spawn_control(&self) -> anyhow::Result<Worker> {
        let tuning = if self.settings.strategy.heartbeat_shares_thread() {
            self.tuning().without_priority()
        } else {
            self.tuning()
        };
        let (schedule, period) = (self.settings.schedule, self.settings.period);
        let recorder =
            Recorder::new(Arc::clone(&self.observatory), Heartbeat::Control).explaining(Arc::clone(&self.host));
        self.spawn_heartbeat_thread("jitterd-control", tuning, NoProbe, recorder, move |t0| {
            Scheduler::new(schedule, period, control_origin(t0, period))
        })
    }

    /// Starts the async strategies' thread: a tokio current-thread runtime
    /// on which `tasks` starts the counter (given the stop) and returns the
    /// heartbeat's probe; the main heartbeat then runs as a task beside it
    /// until the stop. t0 is awaited before entering the runtime, so
    /// nothing blocks inside it.
    fn spawn_async<P, C>(
        &self,
        tuning: Tuning,
        tasks: impl FnOnce(Stop) -> (P, C) + Send + 'static,
    ) -> anyhow::Result<Worker>
    where
        P: Probe,
        C: Future + 'static,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .context("cannot start the tokio runtime")?;
        let (stop, gate, (mut recorder, schedule)) = (self.stop.clone(), Arc::clone(&self.gate), self.main_heartbeat());
        spawn("jitterd-async", move || {
            tuning.apply();
            recorder.started();
            let Some(t0) = gate.wait() else { return };
            let scheduler = schedule(t0);
            tokio::task::LocalSet::new().block_on(&runtime, async {
                let (mut probe, counter) = tasks(stop.clone());
                heartbeat_task(scheduler, &stop, &mut probe, &mut recorder).await;
                counter.await;
            });
        })
    }
}

/// Timer slack and real-time priority for a heartbeat thread.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    timer_slack: Option<std::time::Duration>,
    priority: Option<u8>,
}

impl Tuning {
    /// Applies both to the calling thread; what cannot be applied is logged.
    fn apply(self) {
        for warning in crate::sys::timer::tune_current_thread(self.timer_slack, self.priority) {
            tracing::warn!("{warning}");
        }
    }

    /// Slack only: for a heartbeat that shares its thread with the counter,
    /// where a real-time priority would let the counter monopolise a core.
    fn without_priority(self) -> Tuning {
        Tuning { priority: None, ..self }
    }
}

/// Runs the heartbeat as a task on the current runtime until the stop; a
/// timer that fails stops the whole experiment rather than leave it blind.
async fn heartbeat_task(scheduler: Scheduler, stop: &Stop, probe: &mut impl Probe, recorder: &mut Recorder) {
    let result = match crate::sys::timer::DeadlineTimer::new().and_then(|t| t.into_async(stop)) {
        Ok(timer) => heartbeat::run_async(scheduler, timer, probe, recorder).await,
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        tracing::error!("heartbeat stopped: {err}");
        stop.trigger();
    }
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> anyhow::Result<Worker> {
    std::thread::Builder::new().name(name.into()).spawn(body).with_context(|| format!("cannot start thread {name}"))
}

/// A running experiment: its threads and the signal that stops them.
/// Dropping it stops it too, so a start that fails half-way (a `?` after
/// some threads started) leaves nothing running.
pub(crate) struct Experiment {
    stop: Option<Stop>,
    gate: Arc<StartGate>,
    workers: Vec<Worker>,
    observatory: Option<Arc<Observatory>>,
}

impl Experiment {
    /// Starts `settings.strategy`, with a control heartbeat beside it when
    /// configured, recording into `observatory`. Once every thread runs, t0
    /// is taken, the observatory begins the experiment, and the heartbeats
    /// are let go.
    pub(crate) fn start(settings: &Settings, observatory: &Arc<Observatory>) -> anyhow::Result<Experiment> {
        let setup = Setup {
            settings: settings.clone(),
            observatory: Arc::clone(observatory),
            stop: Stop::new().context("cannot create the stop eventfd")?,
            gate: Arc::default(),
            next_due: Arc::default(),
            host: Arc::new(HostEvidence::open()),
        };
        if settings.priority.is_some() && settings.strategy.heartbeat_shares_thread() {
            tracing::warn!(
                strategy = %settings.strategy,
                "heartbeat.priority is not applied: this strategy's heartbeat shares its thread with the counter, which SCHED_FIFO would let monopolise a core (nor to the control heartbeat, which runs at the main one's priority)"
            );
        }
        let mut experiment = Experiment {
            stop: Some(setup.stop.clone()),
            gate: Arc::clone(&setup.gate),
            workers: Vec::new(),
            observatory: Some(Arc::clone(observatory)),
        };
        experiment.workers = start_strategy(&setup)?;
        if settings.control {
            experiment.workers.push(setup.spawn_control()?);
        }
        // Ready: the array exists, the counter and the heartbeats run. Set-up
        // time is behind us, so it never shows as lateness or drift; the
        // observatory begins before any heartbeat can beat.
        let t0 = MonoTime::now();
        observatory.begin(settings, t0);
        setup.gate.open(t0);
        tracing::debug!(t0_ns = t0.0, "experiment ready, t0 taken");
        Ok(experiment)
    }

    /// An experiment that runs nothing: a placeholder while one is replaced.
    pub(crate) fn idle() -> Experiment {
        Experiment { stop: None, gate: Arc::default(), workers: Vec::new(), observatory: None }
    }

    /// Stops every thread and waits for them.
    pub(crate) fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.trigger();
        }
        // Heartbeats still waiting for t0 (a start that failed) give up.
        self.gate.cancel();
        if let Some(observatory) = &self.observatory {
            observatory.end();
        }
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                tracing::error!("an experiment thread panicked");
            }
        }
    }
}

/// Starts the strategy's own threads: its counter and its main heartbeat.
fn start_strategy(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    match setup.settings.strategy {
        Strategy::ThreadsUnsync => threads_unsync::start(setup),
        Strategy::ThreadsMutex => threads_mutex::start(setup, false),
        Strategy::ThreadsMutexYield => threads_mutex::start(setup, true),
        Strategy::Async => async_tasks::start(setup),
        Strategy::ThreadsFairMutex => threads_fair_mutex::start(setup),
        Strategy::ThreadsChannel => threads_channel::start(setup),
        Strategy::ThreadsSnapshot => threads_snapshot::start(setup),
        Strategy::AsyncBlocking => async_blocking::start(setup),
    }
}

impl Drop for Experiment {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.halt();
        }
    }
}
