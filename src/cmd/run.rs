//! The `run` command: serve the observatory, run the experiment, obey signals.
//!
//! Signals come from [`crate::sys::signals`]; everything else happens on the
//! calling thread, one event at a time: start, reloads, stop. One
//! observatory lives for the whole process: each experiment records into
//! it, the HTTP thread and the interval log read it. The interval log
//! (`record.interval_log`) lives beside the experiments: opened before the
//! first, reconfigured at each reload, and stopped after the last, so it
//! covers every slot.

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;

use anyhow::Context as _;

use crate::config::{Config, ConfigError, Sources};
use crate::error::Failure;
use crate::interval_log::{IntervalLog, LogSettings};
use crate::logging::LevelHandle;
use crate::observe::{Keep, Observatory};
use crate::serve;
use crate::strategy::Experiment;
use crate::sys::signals::{Event, Listener};
use crate::sys::timer::Stop;
use crate::sys::{clock, notify};
use crate::web_config::WebSecurity;

/// Runs until a stop signal; returns the failure that ended it early, if any.
pub(crate) fn command(
    config: Config,
    sources: Sources,
    web: WebSecurity,
    log_level: LevelHandle,
    signals: Listener,
) -> Result<(), Failure> {
    let events = signals.events;
    check_interval_log(&config, &sources)?;
    let addr = config.web.listen_address;
    let listener = serve::bind(addr)
        .map_err(|err| Failure::Unavailable(format!("cannot listen on {addr} (web.listen_address): {err}")))?;
    let bound = listener.local_addr().unwrap_or(addr);
    let observatory = Arc::new(Observatory::new(Keep::Window));
    // Before the experiment, so the log holds its every slot.
    let interval_log = match &config.record.interval_log {
        Some(_) => Some(spawn_interval_log(&config, &observatory).map_err(|err| {
            Failure::Config(ConfigError::at_key("record.interval_log", &sources, err.to_string()).to_string())
        })?),
        None => None,
    };
    let serving = Stop::new().context("cannot create the stop eventfd").map_err(Failure::Other)?;
    let settings = serve::Settings {
        telemetry_path: config.web.telemetry_path.clone(),
        read_header_timeout: config.web.read_header_timeout,
        write_timeout: config.web.write_timeout,
        max_requests: config.web.max_requests,
        max_connections: config.web.max_connections,
        max_password_checks: config.web.max_password_checks,
        native_histograms: config.metrics.native_histograms.then_some(config.metrics.native_histogram_bucket_factor),
        security: web,
    };
    let https = settings.security.tls.is_some();
    let (http_thread, limits) =
        serve::spawn(listener, Arc::clone(&observatory), settings, serving.clone()).map_err(Failure::Other)?;
    // A stop that came during start-up (signals are read from the first
    // moment): obey it before starting an experiment only to stop it again,
    // which with a large array would cost most of the second a stop may take.
    let early = events.try_recv().ok();
    let (experiment, watchdog) = if matches!(early, Some(Event::Stop(_))) {
        tracing::info!(address = %bound, "stopping during start-up, before the experiment began");
        (Experiment::idle(), None)
    } else {
        start(&config, &observatory, &serving, &format!("{bound}"), https)?
    };
    let mut running = Running { config, experiment, observatory, interval_log, limits };
    let signal = running.obey(early, &events, &sources, &log_level);
    notify::stopping();
    tracing::info!(signal, "stopping");
    running.stop();
    serving.trigger();
    let _ = http_thread.join();
    if let Some(watchdog) = watchdog {
        let _ = watchdog.join();
    }
    Ok(())
}

/// Starts the first experiment and the watchdog, and says so.
fn start(
    config: &Config,
    observatory: &Arc<Observatory>,
    serving: &Stop,
    address: &str,
    tls: bool,
) -> Result<(Experiment, Option<JoinHandle<()>>), Failure> {
    let experiment = Experiment::start(&config.experiment(), observatory).map_err(Failure::Other)?;
    let watched = Arc::clone(observatory);
    let is_live = move || watched.liveness().is_live(clock::MonoTime::now());
    let watchdog = notify::spawn_watchdog(is_live, serving.clone())
        .context("cannot start the watchdog thread")
        .map_err(Failure::Other)?;
    tracing::info!(
        strategy = %config.strategy,
        size = config.counter.size,
        period = %humantime::format_duration(config.heartbeat.period),
        schedule = %config.heartbeat.schedule,
        address,
        tls,
        version = crate::build::VERSION,
        "jitterd started"
    );
    notify::ready(&format!("measuring {}", describe(config)));
    Ok((experiment, watchdog))
}

/// The experiment that runs, the config it runs with, and the interval log.
struct Running {
    config: Config,
    experiment: Experiment,
    observatory: Arc<Observatory>,
    interval_log: Option<IntervalLog>,
    /// The HTTP limits a reload changes live.
    limits: serve::Limits,
}

impl Running {
    /// Reloads on SIGHUP until a stop signal (`early`, if one came during
    /// start-up, first); returns the signal's number (0: the listener went).
    fn obey(
        &mut self,
        mut early: Option<Event>,
        events: &Receiver<Event>,
        sources: &Sources,
        log_level: &LevelHandle,
    ) -> i32 {
        loop {
            match early.take().map_or_else(|| events.recv(), Ok) {
                Ok(Event::Stop(signal)) => return signal,
                Err(_) => return 0,
                Ok(Event::Reload) => {
                    notify::reloading();
                    let previous = self.config.clone();
                    self.reload(sources);
                    self.apply_web(&previous);
                    let config = &self.config;
                    if config.log.format != previous.log.format {
                        tracing::warn!("log.format changed; it takes effect at the next restart");
                    }
                    // A --log.level flag is a layer of its own, so it still wins here.
                    log_level.set(&config.log.level);
                    notify::ready(&format!("measuring {}", describe(config)));
                }
            }
        }
    }

    /// Loads the config again and applies it. An invalid config, or one
    /// whose experiment cannot start, leaves the old settings running and
    /// is counted as a failure. A config that leaves the experiment's
    /// settings as they are ([`crate::experiment::Settings::restart_keys`])
    /// keeps it running, with everything it measured, and retunes its
    /// thresholds; otherwise the experiment restarts with the new settings.
    fn reload(&mut self, sources: &Sources) {
        let candidate = Config::load(sources).map_err(|err| err.to_string()).and_then(|candidate| {
            check_interval_log(&candidate, sources).map(|()| candidate).map_err(|e| e.to_string())
        });
        let candidate = match candidate {
            Ok(candidate) => candidate,
            Err(err) => {
                tracing::error!("config reload failed, the running experiment goes on: {err}");
                self.observatory.count_reload(false);
                return;
            }
        };
        let next = candidate.experiment();
        let changed = self.config.experiment().restart_keys(&next);
        if changed.is_empty() {
            self.observatory.retune(&next);
            tracing::info!(strategy = %candidate.strategy, "config reloaded; experiment kept");
            self.observatory.count_reload(true);
            self.apply(candidate);
        } else {
            self.restart(candidate, &changed.join(", "));
        }
    }

    /// Stops the experiment and starts the one `candidate` describes; if
    /// that cannot start, the previous one again.
    fn restart(&mut self, candidate: Config, changed: &str) {
        std::mem::replace(&mut self.experiment, Experiment::idle()).stop();
        log_summary("experiment stopped for reload", &self.config, &self.observatory);
        match Experiment::start(&candidate.experiment(), &self.observatory) {
            Ok(next) => {
                tracing::info!(
                    strategy = %candidate.strategy,
                    size = candidate.counter.size,
                    period = %humantime::format_duration(candidate.heartbeat.period),
                    changed,
                    "config reloaded; experiment restarted"
                );
                self.observatory.count_reload(true);
                self.experiment = next;
                self.apply(candidate);
            }
            Err(err) => {
                tracing::error!("cannot start the reloaded experiment, restarting the previous one: {err:#}");
                self.observatory.count_reload(false);
                match Experiment::start(&self.config.experiment(), &self.observatory) {
                    Ok(previous) => self.experiment = previous,
                    // Nothing can run: keep serving, not ready, rather than exit.
                    Err(err) => tracing::error!("cannot restart the previous experiment either: {err:#}"),
                }
            }
        }
    }

    /// The HTTP limits follow a reloaded config at once; the rest of `[web]`
    /// and `[metrics]` (the socket, the path, the timeouts, the exposition)
    /// only at the next start, which is said.
    fn apply_web(&self, previous: &Config) {
        let (web, old) = (&self.config.web, &previous.web);
        let limits = |w: &crate::config::WebConfig| (w.max_requests, w.max_connections, w.max_password_checks);
        if limits(web) != limits(old) {
            self.limits.apply(web.max_requests, web.max_connections, web.max_password_checks);
        }
        let fixed = [
            ("web.listen_address", web.listen_address != old.listen_address),
            ("web.telemetry_path", web.telemetry_path != old.telemetry_path),
            ("web.read_header_timeout", web.read_header_timeout != old.read_header_timeout),
            ("web.write_timeout", web.write_timeout != old.write_timeout),
            ("metrics", self.config.metrics != previous.metrics),
        ];
        let changed: Vec<&str> = fixed.into_iter().filter_map(|(key, changed)| changed.then_some(key)).collect();
        if !changed.is_empty() {
            tracing::warn!(changed = changed.join(", "), "these settings take effect at the next start");
        }
    }

    /// `config` is the one running now: the interval log follows it.
    fn apply(&mut self, config: Config) {
        let previous = std::mem::replace(&mut self.config, config);
        let log_missing = self.config.record.interval_log.is_some() && self.interval_log.is_none();
        if previous.record != self.config.record || log_missing {
            self.sync_interval_log();
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
            (Some(_), None) => match spawn_interval_log(&self.config, &self.observatory) {
                Ok(log) => self.interval_log = Some(log),
                Err(err) => tracing::error!("record.interval_log: cannot start the interval log: {err}"),
            },
            (None, Some(log)) => log.stop(),
            (None, None) => {}
        }
    }

    /// Stops the experiment, then the interval log (so its last partial
    /// interval holds the last slots), and logs the summary.
    fn stop(self) {
        let Running { config, experiment, observatory, interval_log, .. } = self;
        experiment.stop();
        if let Some(log) = interval_log {
            log.stop();
        }
        log_summary("jitterd stopped", &config, &observatory);
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

/// Starts the interval log of `config` (which has one) on the observatory's window stores.
fn spawn_interval_log(config: &Config, observatory: &Arc<Observatory>) -> std::io::Result<IntervalLog> {
    let path = config.record.interval_log.clone().unwrap_or_default();
    IntervalLog::spawn(LogSettings { path, interval: config.record.interval }, Arc::clone(observatory))
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

/// The experiment's totals, as the observatory has them.
fn log_summary(what: &str, config: &Config, observatory: &Observatory) {
    let totals = observatory.main.snapshot().totals;
    tracing::info!(
        strategy = %config.strategy,
        beats = totals.beats,
        missed = totals.missed,
        inconsistent = totals.inconsistent,
        max_lateness_seconds = clock::seconds(totals.max_lateness_ns),
        drift_seconds = clock::seconds_signed(totals.last_drift_ns),
        array_passes_total = observatory.passes().get(),
        "{what}"
    );
}
