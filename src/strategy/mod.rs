//! The strategies: how the counter and the heartbeat share the array.
//!
//! One file per strategy; each builds its array, starts its counter and
//! hands its heartbeat a [`Probe`](crate::heartbeat::Probe). Everything they
//! share (threads, tuning, the heartbeat loop, recording, the control
//! heartbeat) is in [`Setup`] and [`Experiment`], so a strategy file holds
//! only what makes it different. t0 is taken by [`Experiment::start`] once
//! the strategy has built its array and started its threads; the heartbeats
//! wait for it at a [`StartGate`].

mod async_blocking;
mod async_tasks;
mod threads_channel;
mod threads_fair_mutex;
mod threads_mutex;
mod threads_snapshot;
mod threads_unsync;

use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;

use crate::config::Config;
use crate::experiment::Strategy;
use crate::heartbeat::{self, ControlRecorder, Liveness, NoProbe, Probe, Recorder, StartGate, Summary, Tap};
use crate::measure::{Scheduler, control_origin};
use crate::metrics::Metrics;
use crate::timer::Stop;

/// What a strategy gets to start with.
pub struct Setup {
    pub config: Config,
    pub metrics: Metrics,
    pub liveness: Arc<Liveness>,
    pub stop: Stop,
    gate: Arc<StartGate>,
    tap: Option<Tap>,
}

/// What the main heartbeat needs before its first beat; moved into its thread.
struct MainHeartbeat {
    gate: Arc<StartGate>,
    config: Config,
    metrics: Metrics,
    liveness: Arc<Liveness>,
    tap: Option<Tap>,
}

impl MainHeartbeat {
    /// Waits for t0, then builds the schedule and the sink; `None` if the
    /// experiment was called off before it started.
    fn ready(self) -> Option<(Scheduler, Recorder)> {
        let t0 = self.gate.wait()?;
        let heartbeat = &self.config.heartbeat;
        let scheduler = Scheduler::new(heartbeat.schedule, heartbeat.period, t0);
        let recorder = Recorder::new(&self.config, self.metrics, self.liveness, t0).tapped(self.tap);
        Some((scheduler, recorder))
    }
}

/// A thread of the experiment; heartbeats return their summary.
type Worker = JoinHandle<Option<Summary>>;

impl Setup {
    pub fn size_elements(&self) -> anyhow::Result<usize> {
        usize::try_from(self.config.counter.size).context("counter.size does not fit this platform")
    }

    /// The main heartbeat, to be started once t0 is known.
    fn main_heartbeat(&self) -> MainHeartbeat {
        MainHeartbeat {
            gate: Arc::clone(&self.gate),
            config: self.config.clone(),
            metrics: self.metrics.clone(),
            liveness: Arc::clone(&self.liveness),
            tap: self.tap.clone(),
        }
    }

    /// How heartbeat threads are tuned.
    fn tuning(&self) -> Tuning {
        Tuning { timer_slack: self.config.heartbeat.timer_slack, priority: self.config.heartbeat.priority }
    }

    /// Starts the counter on a thread of its own: `pass` until stopped.
    fn spawn_counter(&self, mut pass: impl FnMut() + Send + 'static) -> anyhow::Result<Worker> {
        let stop = self.stop.clone();
        let passes = self.metrics.array_passes_total.clone();
        spawn("jitterd-counter", move || {
            while !stop.is_triggered() {
                pass();
                passes.inc();
            }
            None
        })
    }

    /// Starts the heartbeat on a thread of its own with this probe.
    fn spawn_heartbeat(&self, mut probe: impl Probe + Send + 'static) -> anyhow::Result<Worker> {
        let heartbeat = self.main_heartbeat();
        let stop = self.stop.clone();
        let tuning = self.tuning();
        spawn("jitterd-heartbeat", move || {
            tuning.apply();
            let (scheduler, mut recorder) = heartbeat.ready()?;
            if let Err(err) = heartbeat::run_blocking(scheduler, &stop, &mut probe, &mut recorder) {
                tracing::error!("heartbeat stopped: {err}");
            }
            Some(recorder.summary)
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
        for warning in crate::timer::tune_current_thread(self.timer_slack, self.priority) {
            tracing::warn!("{warning}");
        }
    }
}

/// Runs the heartbeat as a task on the current runtime until the stop; a
/// timer that fails stops the whole experiment rather than leave it blind.
/// The caller waits for t0 first ([`MainHeartbeat::ready`]), before entering
/// the runtime: nothing blocks inside it.
async fn heartbeat_task(scheduler: Scheduler, stop: &Stop, probe: &mut impl Probe, recorder: &mut Recorder) {
    let result = match crate::timer::DeadlineTimer::new().and_then(|t| t.into_async(stop)) {
        Ok(timer) => heartbeat::run_async(scheduler, timer, probe, recorder).await,
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        tracing::error!("heartbeat stopped: {err}");
        stop.trigger();
    }
}

fn spawn(name: &str, body: impl FnOnce() -> Option<Summary> + Send + 'static) -> anyhow::Result<Worker> {
    std::thread::Builder::new().name(name.into()).spawn(body).with_context(|| format!("cannot start thread {name}"))
}

/// A running experiment: its threads and the signal that stops them.
pub struct Experiment {
    stop: Option<Stop>,
    gate: Arc<StartGate>,
    workers: Vec<Worker>,
    liveness: Arc<Liveness>,
}

impl Experiment {
    /// Starts `config.strategy` with a control heartbeat beside it when configured.
    pub fn start(config: &Config, metrics: &Metrics, liveness: &Arc<Liveness>) -> anyhow::Result<Experiment> {
        Experiment::start_tapped(config, metrics, liveness, None)
    }

    /// As [`Experiment::start`], and hands every beat of both heartbeats to `tap`.
    pub fn start_tapped(
        config: &Config,
        metrics: &Metrics,
        liveness: &Arc<Liveness>,
        tap: Option<Tap>,
    ) -> anyhow::Result<Experiment> {
        metrics.describe_experiment(config);
        let setup = Setup {
            config: config.clone(),
            metrics: metrics.clone(),
            liveness: Arc::clone(liveness),
            stop: Stop::new().context("cannot create the stop eventfd")?,
            gate: Arc::default(),
            tap,
        };
        if config.heartbeat.priority.is_some() && config.strategy.heartbeat_shares_thread() {
            tracing::warn!(
                strategy = %config.strategy,
                "heartbeat.priority is not applied: this strategy's heartbeat shares its thread with the counter, which SCHED_FIFO would let monopolise a core (nor to the control heartbeat, which runs at the main one's priority)"
            );
        }
        let mut experiment = Experiment {
            stop: Some(setup.stop.clone()),
            gate: Arc::clone(&setup.gate),
            workers: Vec::new(),
            liveness: Arc::clone(liveness),
        };
        let started = match config.strategy {
            Strategy::ThreadsUnsync => threads_unsync::start(&setup),
            Strategy::ThreadsMutex => threads_mutex::start(&setup, false),
            Strategy::ThreadsMutexYield => threads_mutex::start(&setup, true),
            Strategy::Async => async_tasks::start(&setup),
            Strategy::ThreadsFairMutex => threads_fair_mutex::start(&setup),
            Strategy::ThreadsChannel => threads_channel::start(&setup),
            Strategy::ThreadsSnapshot => threads_snapshot::start(&setup),
            Strategy::AsyncBlocking => async_blocking::start(&setup),
        };
        // On a failed start, stop whatever did start before reporting.
        match started {
            Ok(workers) => experiment.workers = workers,
            Err(err) => {
                experiment.stop();
                return Err(err);
            }
        }
        if config.heartbeat.control {
            let stop = setup.stop.clone();
            let gate = Arc::clone(&setup.gate);
            let (schedule, period) = (config.heartbeat.schedule, config.heartbeat.period);
            let (metrics, tap) = (metrics.clone(), setup.tap.clone());
            // The same tuning as the main heartbeat gets: no priority where
            // the main one shares its thread with the counter and cannot have it.
            let tuning = if config.strategy.heartbeat_shares_thread() {
                Tuning { priority: None, ..setup.tuning() }
            } else {
                setup.tuning()
            };
            let control = spawn("jitterd-control", move || {
                tuning.apply();
                // Its grid is offset by half a period, so the two heartbeats
                // never contend for a core on the same tick.
                let t0 = gate.wait()?;
                let scheduler = Scheduler::new(schedule, period, control_origin(t0, period));
                let mut recorder = ControlRecorder { metrics, period, t0, tap };
                if let Err(err) = heartbeat::run_blocking(scheduler, &stop, &mut NoProbe, &mut recorder) {
                    tracing::error!("control heartbeat stopped: {err}");
                }
                None
            });
            match control {
                Ok(worker) => experiment.workers.push(worker),
                Err(err) => {
                    experiment.stop();
                    return Err(err);
                }
            }
        }
        // Ready: the array exists, the counter and the heartbeats run. Set-up
        // time is behind us, so it never shows as lateness or drift.
        if let Some(t0) = setup.gate.open() {
            tracing::debug!(t0_ns = t0.0, "experiment ready, t0 taken");
        }
        liveness.started(config.heartbeat.period);
        Ok(experiment)
    }

    /// An experiment that runs nothing: a placeholder while one is replaced.
    pub fn idle() -> Experiment {
        Experiment { stop: None, gate: Arc::default(), workers: Vec::new(), liveness: Arc::new(Liveness::default()) }
    }

    /// Stops every thread, waits for them and returns the heartbeat's totals.
    pub fn stop(self) -> Summary {
        if let Some(stop) = &self.stop {
            stop.trigger();
        }
        // Heartbeats still waiting for t0 (a start that failed) give up.
        self.gate.cancel();
        self.liveness.stopped();
        let mut summary = Summary::default();
        for worker in self.workers {
            match worker.join() {
                Ok(Some(s)) => summary = s,
                Ok(None) => {}
                Err(_) => tracing::error!("an experiment thread panicked"),
            }
        }
        summary
    }
}
