//! The `[record]` section and the drift window: their ranges, the drift
//! window that follows a long period, and the interval log path, checked
//! without creating anything.

use std::path::Path;
use std::time::Duration;

use super::validate::out_of_range;
use super::{Config, ConfigError};

/// The shortest and longest `record.window` accepted.
pub const RECORD_WINDOW_RANGE: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(3600));

/// The shortest and longest `record.interval` accepted.
pub const RECORD_INTERVAL_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3600));

/// The longest `alerts.drift_window` accepted; the shortest is the period.
pub const MAX_DRIFT_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// `alerts.drift_window` when the key is left out: 10 minutes, or the period
/// if that is longer (an hour-long period needs no second key to be valid).
pub const DEFAULT_DRIFT_WINDOW: Duration = Duration::from_secs(600);

impl Config {
    /// The drift window in effect: `alerts.drift_window`, or when it is left
    /// out [`DEFAULT_DRIFT_WINDOW`] or the period, whichever is longer.
    pub fn drift_window(&self) -> Duration {
        self.alerts.drift_window.unwrap_or(DEFAULT_DRIFT_WINDOW.max(self.heartbeat.period))
    }

    /// `record.*` within range, the interval log path plausible, and a
    /// drift window no shorter than the period.
    pub(super) fn validate_record(&self, fail: &impl Fn(&str, String) -> ConfigError) -> Result<(), ConfigError> {
        for (key, value, (min, max)) in [
            ("record.window", self.record.window, RECORD_WINDOW_RANGE),
            ("record.interval", self.record.interval, RECORD_INTERVAL_RANGE),
        ] {
            if value < min || value > max {
                return Err(fail(key, out_of_range(value, &humantime::format_duration(min).to_string(), max)));
            }
        }
        if let Some(path) = &self.record.interval_log {
            interval_log_problem(path).map_err(|msg| fail("record.interval_log", msg))?;
        }
        if let Some(window) = self.alerts.drift_window
            && (window < self.heartbeat.period || window > MAX_DRIFT_WINDOW)
        {
            let min = format!("the heartbeat period ({})", humantime::format_duration(self.heartbeat.period));
            return Err(fail("alerts.drift_window", out_of_range(window, &min, MAX_DRIFT_WINDOW)));
        }
        Ok(())
    }
}

/// What is plainly wrong with an interval log path, found without creating
/// anything (check-config has no side effects): empty, a directory, in a
/// directory that does not exist, or an existing file that cannot be
/// appended to. The daemon opens it for real when it starts or reloads.
fn interval_log_problem(path: &Path) -> Result<(), String> {
    let shown = path.display();
    if path.as_os_str().is_empty() {
        return Err("is empty: give a file path, or leave the key out to write no interval log".into());
    }
    if path.is_dir() {
        let example = path.join("lateness.hlog");
        return Err(format!("{shown} is a directory: give a file path, e.g. \"{}\"", example.display()));
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!("cannot write {shown}: directory {} does not exist", parent.display()));
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|err| format!("cannot open {shown} for appending: {err}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Sources;
    use super::*;

    fn load(name: &str, value: &str) -> Result<Config, String> {
        Config::load(&Sources { env: vec![(name.into(), value.into())], ..Sources::default() })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let config = Config::embedded_default();
        assert_eq!(config.record.window, Duration::from_secs(60));
        assert_eq!(config.record.interval, Duration::from_secs(5));
        assert_eq!(config.record.interval_log, None);
        assert_eq!(config.alerts.drift_window, None);
        assert_eq!(config.drift_window(), Duration::from_secs(600));
        // Left out, the drift window follows a period longer than its default.
        assert_eq!(load("JITTERD__HEARTBEAT__PERIOD", "1h").map(|c| c.drift_window()), Ok(Duration::from_secs(3600)));
        assert_eq!(load("JITTERD__ALERTS__DRIFT_WINDOW", "1s").map(|c| c.drift_window()), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn errors_name_the_key_and_the_range() {
        for (name, value, needles) in [
            ("JITTERD__RECORD__WINDOW", "5s", ["record.window", "10s"]),
            ("JITTERD__RECORD__WINDOW", "2h", ["record.window", "1h"]),
            ("JITTERD__RECORD__INTERVAL", "500ms", ["record.interval", "1s"]),
            ("JITTERD__ALERTS__DRIFT_WINDOW", "500ms", ["alerts.drift_window", "period (1s)"]),
            ("JITTERD__ALERTS__DRIFT_WINDOW", "2days", ["alerts.drift_window", "1day"]),
            (
                "JITTERD__RECORD__INTERVAL_LOG",
                "/nonexistent-jitterd/x.hlog",
                ["record.interval_log", "/nonexistent-jitterd"],
            ),
            ("JITTERD__RECORD__INTERVAL_LOG", "/", ["record.interval_log", "directory"]),
            ("JITTERD__RECORD__INTERVAL_LOG", "", ["record.interval_log", "leave the key out"]),
        ] {
            let err = load(name, value).err().unwrap_or_default();
            for needle in needles {
                assert!(err.contains(needle), "{name}={value}: {err:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn checking_the_log_path_creates_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lateness.hlog");
        let loaded = load("JITTERD__RECORD__INTERVAL_LOG", &path.display().to_string());
        assert_eq!(loaded.map(|c| c.record.interval_log), Ok(Some(path.clone())));
        assert!(!path.exists(), "validation must not create the log");
    }
}
