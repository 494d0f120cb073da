//! The `run` command: serve metrics, run the experiment, obey signals.
//!
//! Signals come from [`crate::signals`]; everything else happens on the
//! calling thread, one event at a time: start, reloads, stop. The interval
//! log (`record.interval_log`) lives beside the experiments: opened before
//! the first, reconfigured at each reload, and stopped after the last, so it
//! covers every slot.

use std::sync::Arc;

use anyhow::Context as _;

use crate::config::{Config, ConfigError, Sources};
use crate::error::Failure;
use crate::heartbeat::{Liveness, Summary};
use crate::interval_log::{IntervalLog, LogSettings};
use crate::logging::LevelHandle;
use crate::metrics::Metrics;
use crate::signals::{Event, Listener};
use crate::strategy::Experiment;
use crate::timer::Stop;
use crate::web_config::WebSecurity;
use crate::{clock, http, notify};

/// Runs until a stop signal; returns the failure that ended it early, if any.
pub(crate) fn run(
    config: Config,
    sources: Sources,
    web: WebSecurity,
    log_level: LevelHandle,
    signals: Listener,
) -> Result<(), Failure> {
    let events = signals.events;
    check_interval_log(&config, &sources)?;
    let addr = config.web.listen_address;
    let listener = http::bind(addr)
        .map_err(|err| Failure::Unavailable(format!("cannot listen on {addr} (web.listen_address): {err}")))?;
    let bound = listener.local_addr().unwrap_or(addr);
    let metrics = Metrics::new().context("cannot register metrics").map_err(Failure::Other)?;
    // Before the experiment, so the log holds its every slot.
    let interval_log = match &config.record.interval_log {
        Some(_) => Some(spawn_interval_log(&config, &metrics).map_err(|err| {
            Failure::Config(ConfigError::at_key("record.interval_log", &sources, err.to_string()).to_string())
        })?),
        None => None,
    };
    let liveness = Arc::new(Liveness::default());
    let serving = Stop::new().context("cannot create the stop eventfd").map_err(Failure::Other)?;
    let state = http::State {
        metrics: metrics.clone(),
        liveness: Arc::clone(&liveness),
        telemetry_path: config.web.telemetry_path.clone(),
    };
    let settings = http::Settings {
        read_header_timeout: config.web.read_header_timeout,
        write_timeout: config.web.write_timeout,
        security: web,
    };
    let https = settings.security.tls.is_some();
    let http_thread = http::spawn(listener, state, settings, serving.clone()).map_err(Failure::Other)?;
    // A stop that came during start-up (signals are read from the first
    // moment): obey it before starting an experiment only to stop it again,
    // which with a large array would cost most of the second a stop may take.
    let mut early = events.try_recv().ok();
    let stop_at_once = matches!(early, Some(Event::Stop(_)));
    let (experiment, watchdog) = if stop_at_once {
        tracing::info!(address = %bound, "stopping during start-up, before the experiment began");
        (Experiment::idle(), None)
    } else {
        let experiment = Experiment::start(&config.experiment(), &metrics, &liveness).map_err(Failure::Other)?;
        let watchdog = notify::spawn_watchdog(Arc::clone(&liveness), serving.clone())
            .context("cannot start the watchdog thread")
            .map_err(Failure::Other)?;
        tracing::info!(
            strategy = %config.strategy,
            size = config.counter.size,
            period = %humantime::format_duration(config.heartbeat.period),
            schedule = %config.heartbeat.schedule,
            address = %bound,
            tls = https,
            version = crate::build::VERSION,
            "jitterd started"
        );
        notify::ready(&format!("measuring {}", describe(&config)));
        (experiment, watchdog)
    };

    let mut running = Running { config, experiment, metrics: metrics.clone(), liveness, interval_log };
    let signal = loop {
        match early.take().map_or_else(|| events.recv(), Ok) {
            Ok(Event::Stop(signal)) => break signal,
            Err(_) => break 0,
            Ok(Event::Reload) => {
                notify::reloading();
                let previous = running.config.clone();
                running.reload(&sources);
                let config = &running.config;
                if config.web != previous.web {
                    tracing::warn!("web settings changed; they take effect at the next restart");
                }
                if config.log.format != previous.log.format {
                    tracing::warn!("log.format changed; it takes effect at the next restart");
                }
                // A --log.level flag is a layer of its own, so it still wins here.
                log_level.set(&config.log.level);
                notify::ready(&format!("measuring {}", describe(config)));
            }
        }
    };
    notify::stopping();
    tracing::info!(signal, "stopping");
    let Running { config, experiment, interval_log, .. } = running;
    let summary = experiment.stop();
    // After the experiment: the last partial interval holds its last slots.
    if let Some(log) = interval_log {
        log.stop();
    }
    serving.trigger();
    let _ = http_thread.join();
    if let Some(watchdog) = watchdog {
        let _ = watchdog.join();
    }
    log_summary("jitterd stopped", &config, summary, &metrics);
    Ok(())
}

/// The experiment that runs, the config it runs with, and the interval log.
struct Running {
    config: Config,
    experiment: Experiment,
    metrics: Metrics,
    liveness: Arc<Liveness>,
    interval_log: Option<IntervalLog>,
}

impl Running {
    /// Loads the config again and restarts the experiment with it. An invalid
    /// config, or one whose experiment cannot start, leaves the old settings
    /// running and is counted as a failure.
    fn reload(&mut self, sources: &Sources) {
        let candidate = match Config::load(sources) {
            Ok(candidate) => candidate,
            Err(err) => {
                tracing::error!("config reload failed, the running experiment goes on: {err}");
                self.count_reload(false);
                return;
            }
        };
        if let Err(err) = check_interval_log(&candidate, sources) {
            tracing::error!("config reload failed, the running experiment goes on: {err}");
            self.count_reload(false);
            return;
        }
        let old = std::mem::replace(&mut self.experiment, Experiment::idle());
        log_summary("experiment stopped for reload", &self.config, old.stop(), &self.metrics);
        match Experiment::start(&candidate.experiment(), &self.metrics, &self.liveness) {
            Ok(next) => {
                tracing::info!(
                    strategy = %candidate.strategy,
                    size = candidate.counter.size,
                    period = %humantime::format_duration(candidate.heartbeat.period),
                    "config reloaded"
                );
                self.count_reload(true);
                self.experiment = next;
                self.config = candidate;
                self.sync_interval_log();
            }
            Err(err) => {
                tracing::error!("cannot start the reloaded experiment, restarting the previous one: {err:#}");
                self.count_reload(false);
                match Experiment::start(&self.config.experiment(), &self.metrics, &self.liveness) {
                    Ok(previous) => self.experiment = previous,
                    // Nothing can run: keep serving, not ready, rather than exit.
                    Err(err) => tracing::error!("cannot restart the previous experiment either: {err:#}"),
                }
            }
        }
    }

    /// Brings the interval log in line with the config now running: the
    /// same log goes on with the new path or interval, starts, or stops.
    fn sync_interval_log(&mut self) {
        match (&self.config.record.interval_log, self.interval_log.take()) {
            (Some(path), Some(log)) => {
                log.reconfigure(LogSettings { path: path.clone(), interval: self.config.record.interval });
                self.interval_log = Some(log);
            }
            (Some(_), None) => match spawn_interval_log(&self.config, &self.metrics) {
                Ok(log) => self.interval_log = Some(log),
                Err(err) => tracing::error!("record.interval_log: cannot start the interval log: {err}"),
            },
            (None, Some(log)) => log.stop(),
            (None, None) => {}
        }
    }

    fn count_reload(&self, ok: bool) {
        // Gauge first: a scrape that sees the new count sees the new gauge too.
        self.metrics.config_last_reload_successful.set(i64::from(ok));
        let result = if ok { "success" } else { "failure" };
        self.metrics.config_reloads_total.with_label_values(&[result]).inc();
    }
}

/// Opens `record.interval_log` for appending, creating it: a path the daemon
/// cannot write is a config error, found before anything runs or changes.
fn check_interval_log(config: &Config, sources: &Sources) -> Result<(), ConfigError> {
    match &config.record.interval_log {
        Some(path) => {
            IntervalLog::check_writable(path).map_err(|msg| ConfigError::at_key("record.interval_log", sources, msg))
        }
        None => Ok(()),
    }
}

/// Starts the interval log of `config` (which has one) on the metrics' stores.
fn spawn_interval_log(config: &Config, metrics: &Metrics) -> std::io::Result<IntervalLog> {
    let path = config.record.interval_log.clone().unwrap_or_default();
    IntervalLog::spawn(
        LogSettings { path, interval: config.record.interval },
        vec![
            ("main", Arc::clone(&metrics.heartbeat_lateness_window)),
            ("control", Arc::clone(&metrics.control_lateness_window)),
        ],
        metrics.record_write_errors_total.clone(),
    )
}

fn describe(config: &Config) -> String {
    format!(
        "{} ({} schedule, {} elements, period {})",
        config.strategy,
        config.heartbeat.schedule,
        config.counter.size,
        humantime::format_duration(config.heartbeat.period)
    )
}

fn log_summary(what: &str, config: &Config, summary: Summary, metrics: &Metrics) {
    tracing::info!(
        strategy = %config.strategy,
        beats = summary.beats,
        missed = summary.missed,
        inconsistent = summary.inconsistent,
        max_lateness_seconds = clock::seconds(summary.max_lateness_ns),
        drift_seconds = clock::seconds_signed(summary.last_drift_ns),
        array_passes_total = metrics.array_passes_total.get(),
        "{what}"
    );
}
