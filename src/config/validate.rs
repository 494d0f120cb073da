//! What the types cannot say: the checks a merged config must pass, one
//! function per section in the order of the file. The first failure is
//! reported, naming the key, the layer that set it and what would be valid.

use std::time::Duration;

use super::error::origin_of;
use super::{
    Config, ConfigError, EXPLAIN_THRESHOLD_RANGE, MAX_CONNECTIONS_RANGE, MAX_NATIVE_BUCKET_FACTOR,
    MAX_PASSWORD_CHECKS_RANGE, MAX_REQUESTS_RANGE, Sources, WEB_TIMEOUT_RANGE,
};
use crate::endpoints;

impl Config {
    /// Every section's checks, in the order of the file.
    pub(super) fn validate(&self, sources: &Sources) -> Result<(), ConfigError> {
        let fail = |key: &str, message: String| ConfigError::new(Some(key), origin_of(key, sources), message);
        self.validate_counter(&fail)?;
        self.validate_heartbeat(&fail)?;
        self.validate_record(&fail)?;
        self.validate_alerts(&fail)?;
        self.validate_explain(&fail)?;
        self.validate_metrics(&fail)?;
        self.validate_web(&fail)?;
        crate::logging::parse_filter(&self.log.level).map_err(|msg| fail("log.level", msg))?;
        Ok(())
    }

    /// At least one element, arrays that fit in memory, a duty cycle in (0, 1].
    fn validate_counter(&self, fail: &impl Fn(&str, String) -> ConfigError) -> Result<(), ConfigError> {
        if self.counter.size == 0 {
            return Err(fail("counter.size", "must be at least 1 element, got 0".into()));
        }
        crate::array::check_fits_in_memory(self.counter.size, self.strategy.arrays_in_memory())
            .map_err(|msg| fail("counter.size", msg))?;
        let duty_cycle = self.counter.duty_cycle;
        // Written so that NaN fails too.
        if !(duty_cycle > 0.0 && duty_cycle <= 1.0) {
            return Err(fail(
                "counter.duty_cycle",
                format!(
                    "{duty_cycle} is out of range: must be above 0 and at most 1 (1 runs the counter continuously; 0.1 runs it a tenth of each period)"
                ),
            ));
        }
        Ok(())
    }

    /// The period within range; timer slack and priority, where given, too.
    fn validate_heartbeat(&self, fail: &impl Fn(&str, String) -> ConfigError) -> Result<(), ConfigError> {
        crate::experiment::check_period(self.heartbeat.period).map_err(|msg| fail("heartbeat.period", msg))?;
        if let Some(slack) = self.heartbeat.timer_slack
            && (slack.is_zero() || slack > Duration::from_secs(1))
        {
            return Err(fail(
                "heartbeat.timer_slack",
                format!(
                    "{} is out of range: must be from 1ns to 1s (0 would mean the kernel default; leave the key out for that)",
                    humantime::format_duration(slack)
                ),
            ));
        }
        if let Some(priority) = self.heartbeat.priority
            && !(1..=99).contains(&priority)
        {
            return Err(fail(
                "heartbeat.priority",
                format!("{priority} is out of range: SCHED_FIFO priorities are 1 to 99"),
            ));
        }
        Ok(())
    }

    /// Both thresholds above zero. The drift window is checked with
    /// `[record]` ([`Config::validate_record`]), against the period.
    fn validate_alerts(&self, fail: &impl Fn(&str, String) -> ConfigError) -> Result<(), ConfigError> {
        for (key, value) in [
            ("alerts.drift_threshold", self.alerts.drift_threshold),
            ("alerts.jitter_threshold", self.alerts.jitter_threshold),
        ] {
            if value.is_zero() {
                return Err(fail(key, "must be greater than 0, e.g. \"100ms\"".into()));
            }
        }
        Ok(())
    }

    /// The explain threshold within [`EXPLAIN_THRESHOLD_RANGE`].
    fn validate_explain(&self, fail: &impl Fn(&str, String) -> ConfigError) -> Result<(), ConfigError> {
        let (min, max) = EXPLAIN_THRESHOLD_RANGE;
        let value = self.explain.threshold;
        if value < min || value > max {
            return Err(fail("explain.threshold", out_of_range(value, &humantime::format_duration(min).to_string(), max)));
        }
        Ok(())
    }

    /// A bucket factor above 1 and at most [`MAX_NATIVE_BUCKET_FACTOR`].
    fn validate_metrics(&self, fail: &impl Fn(&str, String) -> ConfigError) -> Result<(), ConfigError> {
        let factor = self.metrics.native_histogram_bucket_factor;
        // Written so that NaN fails too.
        if !(factor > 1.0 && factor <= MAX_NATIVE_BUCKET_FACTOR) {
            return Err(fail(
                "metrics.native_histogram_bucket_factor",
                format!(
                    "{factor} is out of range: must be above 1 and at most {MAX_NATIVE_BUCKET_FACTOR} (1.1 gives schema 3, 8 buckets per octave; 2 gives schema 0)"
                ),
            ));
        }
        Ok(())
    }

    /// Timeouts within [`WEB_TIMEOUT_RANGE`], and a telemetry path that is a
    /// plain path and none of jitterd's own.
    fn validate_web(&self, fail: &impl Fn(&str, String) -> ConfigError) -> Result<(), ConfigError> {
        let (min, max) = WEB_TIMEOUT_RANGE;
        for (key, value) in
            [("web.read_header_timeout", self.web.read_header_timeout), ("web.write_timeout", self.web.write_timeout)]
        {
            if value < min || value > max {
                return Err(fail(key, out_of_range(value, &humantime::format_duration(min).to_string(), max)));
            }
        }
        let path = &self.web.telemetry_path;
        if !path.starts_with('/')
            || endpoints::is_reserved(path)
            || !path.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
        {
            return Err(fail("web.telemetry_path", unusable_telemetry_path(path)));
        }
        let limits = [
            ("web.max_requests", Some(self.web.max_requests), MAX_REQUESTS_RANGE),
            ("web.max_connections", self.web.max_connections, MAX_CONNECTIONS_RANGE),
            ("web.max_password_checks", Some(self.web.max_password_checks), MAX_PASSWORD_CHECKS_RANGE),
        ];
        for (key, value, (min, max)) in limits {
            if let Some(value) = value
                && !(min..=max).contains(&value)
            {
                return Err(fail(key, format!("{value} is out of range: must be from {min} to {max}")));
            }
        }
        Ok(())
    }
}

/// `value` outside `min` (a duration, or what it follows) to `max`.
pub(super) fn out_of_range(value: Duration, min: &str, max: Duration) -> String {
    format!(
        "{} is out of range: must be from {min} to {}",
        humantime::format_duration(value),
        humantime::format_duration(max)
    )
}

/// Why `path` cannot be the telemetry path, naming the paths jitterd keeps
/// for itself as [`endpoints`] lists them.
fn unusable_telemetry_path(path: &str) -> String {
    let served: Vec<String> = endpoints::SERVED
        .iter()
        .filter(|served| !served.starts_with(endpoints::API))
        .map(|served| format!("'{served}'"))
        .collect();
    format!(
        "{path:?} is not a usable path: must start with '/', be printable ASCII without '?' or '#', and not be a path jitterd serves itself ({}, '{}…')",
        served.join(", "),
        endpoints::API
    )
}
