//! The experiment's vocabulary: the strategies, the schedules, the range of
//! periods and the [`Settings`] of one run, words that the config, the
//! runtime, `compare` and the docs all use.
//!
//! A leaf but for the clock's units: every layer can depend on it and it on
//! none of them.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The shortest and longest heartbeat period accepted.
pub const PERIOD_RANGE: (Duration, Duration) = (Duration::from_micros(100), Duration::from_secs(3600));

/// Checks a period against [`PERIOD_RANGE`]; the message says the range.
pub fn check_period(period: Duration) -> Result<(), String> {
    let (min, max) = PERIOD_RANGE;
    if period < min || period > max {
        return Err(format!(
            "{} is out of range: must be from {} to {}",
            humantime::format_duration(period),
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(())
}

/// What one run of the experiment needs, and nothing else of the config:
/// the runtime (strategies, heartbeats, the observatory) takes these, so it knows
/// nothing of files, flags, the web or logging.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub strategy: Strategy,
    pub size_elements: u64,
    /// Share of each period the counter runs, in a window centred on each
    /// scheduled beat (1: continuously).
    pub duty_cycle: f64,
    pub period: Duration,
    pub schedule: Schedule,
    /// The heartbeat threads' timer slack; `None` leaves the kernel's default.
    pub timer_slack: Option<Duration>,
    /// SCHED_FIFO priority of the heartbeat threads, where permitted.
    pub priority: Option<u8>,
    /// Whether the control heartbeat runs beside the main one.
    pub control: bool,
    /// Drift gained within `drift_window` beyond this is logged (and alerted on).
    pub drift_threshold: Duration,
    pub drift_window: Duration,
    /// A beat's jitter beyond this is logged.
    pub jitter_threshold: Duration,
    /// The span of the window summaries' quantiles.
    pub record_window: Duration,
    /// Beats later than this name their cause.
    pub explain_threshold: Duration,
}

impl Settings {
    /// The period in nanoseconds, at least 1.
    pub fn period_ns(&self) -> u64 {
        crate::sys::clock::nanos(self.period).max(1)
    }

    /// The config keys whose change from `self` to `next` needs the
    /// experiment restarted; none: it can go on, retuned.
    ///
    /// What runs (strategy, size, duty cycle, period, schedule, control),
    /// and also what the threads take once, when they start: their timer
    /// slack and SCHED_FIFO priority are set by each heartbeat thread on
    /// itself, so a new value reaches them only through new threads (and a
    /// changed value is meant to apply, not to wait for a restart of the
    /// daemon). `record.window` sizes the window stores, which an
    /// experiment's start sets. The thresholds (drift, jitter, drift window,
    /// explain) apply to a running experiment.
    pub fn restart_keys(&self, next: &Settings) -> Vec<&'static str> {
        let changed = [
            ("strategy", self.strategy != next.strategy),
            ("counter.size", self.size_elements != next.size_elements),
            ("counter.duty_cycle", self.duty_cycle.to_bits() != next.duty_cycle.to_bits()),
            ("heartbeat.period", self.period != next.period),
            ("heartbeat.schedule", self.schedule != next.schedule),
            ("heartbeat.timer_slack", self.timer_slack != next.timer_slack),
            ("heartbeat.priority", self.priority != next.priority),
            ("heartbeat.control", self.control != next.control),
            ("record.window", self.record_window != next.record_window),
        ];
        changed.into_iter().filter_map(|(key, changed)| changed.then_some(key)).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum Strategy {
    ThreadsUnsync,
    ThreadsMutex,
    ThreadsMutexYield,
    Async,
    ThreadsFairMutex,
    ThreadsChannel,
    ThreadsSnapshot,
    AsyncBlocking,
}

impl Strategy {
    pub const ALL: [Strategy; 8] = [
        Strategy::ThreadsUnsync,
        Strategy::ThreadsMutex,
        Strategy::ThreadsMutexYield,
        Strategy::Async,
        Strategy::ThreadsFairMutex,
        Strategy::ThreadsChannel,
        Strategy::ThreadsSnapshot,
        Strategy::AsyncBlocking,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::ThreadsUnsync => "threads-unsync",
            Strategy::ThreadsMutex => "threads-mutex",
            Strategy::ThreadsMutexYield => "threads-mutex-yield",
            Strategy::Async => "async",
            Strategy::ThreadsFairMutex => "threads-fair-mutex",
            Strategy::ThreadsChannel => "threads-channel",
            Strategy::ThreadsSnapshot => "threads-snapshot",
            Strategy::AsyncBlocking => "async-blocking",
        }
    }

    /// How many copies of the array the strategy holds at its peak: triple
    /// buffering keeps three, plus the initial array while they are made.
    pub fn arrays_in_memory(self) -> u64 {
        match self {
            Strategy::ThreadsSnapshot => 4,
            _ => 1,
        }
    }

    /// Whether the heartbeat runs on the same thread as the counter, so
    /// `heartbeat.priority` cannot apply to it alone.
    pub fn heartbeat_shares_thread(self) -> bool {
        self == Strategy::Async
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Strategy {
    type Error = String;

    fn try_from(text: String) -> Result<Strategy, String> {
        text.parse()
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Strategy, String> {
        Strategy::ALL.into_iter().find(|s| s.name() == text).ok_or_else(|| {
            let valid: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
            format!("unknown strategy {text:?}: expected one of {}", valid.join(", "))
        })
    }
}

/// Which of the two heartbeats: the main one, which checks the array, or
/// the control one, which shares nothing with the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Heartbeat {
    Main,
    Control,
}

impl Heartbeat {
    pub const BOTH: [Heartbeat; 2] = [Heartbeat::Main, Heartbeat::Control];

    /// As the API, the interval log's tags and the docs name it.
    pub fn name(self) -> &'static str {
        match self {
            Heartbeat::Main => "main",
            Heartbeat::Control => "control",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum Schedule {
    /// Beat k is due at `t0 + k·period`; slots that pass during a late beat are skipped.
    Absolute,
    /// Sleep one period after each beat, as the article does.
    Relative,
}

impl TryFrom<String> for Schedule {
    type Error = String;

    fn try_from(text: String) -> Result<Schedule, String> {
        match text.as_str() {
            "absolute" => Ok(Schedule::Absolute),
            "relative" => Ok(Schedule::Relative),
            _ => Err(format!("unknown schedule {text:?}: expected \"absolute\" or \"relative\"")),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Schedule::Absolute => "absolute",
            Schedule::Relative => "relative",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            strategy: Strategy::Async,
            size_elements: 10,
            duty_cycle: 1.0,
            period: Duration::from_millis(100),
            schedule: Schedule::Absolute,
            timer_slack: None,
            priority: None,
            control: true,
            drift_threshold: Duration::from_millis(100),
            drift_window: Duration::from_secs(600),
            jitter_threshold: Duration::from_millis(50),
            record_window: Duration::from_secs(60),
            explain_threshold: Duration::from_millis(1),
        }
    }

    #[test]
    fn thresholds_apply_live_and_what_runs_restarts() {
        let running = settings();
        let retuned = Settings {
            drift_threshold: Duration::from_millis(7),
            drift_window: Duration::from_secs(60),
            jitter_threshold: Duration::from_millis(9),
            explain_threshold: Duration::from_millis(3),
            ..settings()
        };
        assert!(running.restart_keys(&retuned).is_empty());
        let restarted = Settings { strategy: Strategy::ThreadsMutex, priority: Some(10), ..settings() };
        assert_eq!(running.restart_keys(&restarted), ["strategy", "heartbeat.priority"]);
        let period = Settings { period: Duration::from_millis(50), ..settings() };
        assert_eq!(running.restart_keys(&period), ["heartbeat.period"]);
    }
}
