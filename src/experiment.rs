//! The experiment's vocabulary: the strategies, the schedules and the range
//! of periods, words that the config, the runtime, `compare` and the docs
//! all use.
//!
//! A leaf: it imports nothing from the crate, so every layer can depend on
//! it and it on none of them.

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
