//! The config's reference, for the man page's CONFIGURATION section: every
//! key with its default, what it does and what is valid.
//!
//! Read from the same sources as the config itself, so the page cannot
//! drift from them: the keys, default values and comments of the embedded
//! default ([`DEFAULT_TOML`]; an optional key is a commented-out line such
//! as `# timer_slack = "1ns"`), the key list the loader checks against
//! ([`FILE_KEY_TYPES`]) and the validation constants.

use std::time::Duration;

use super::file::FILE_KEY_TYPES;
use super::{
    DEFAULT_TOML, EXPLAIN_THRESHOLD_RANGE, MAX_CONNECTIONS_RANGE, MAX_DRIFT_WINDOW, MAX_NATIVE_BUCKET_FACTOR,
    MAX_PASSWORD_CHECKS_RANGE, MAX_REQUESTS_RANGE, RECORD_INTERVAL_RANGE, RECORD_WINDOW_RANGE, WEB_TIMEOUT_RANGE,
};
use crate::experiment::{PERIOD_RANGE, Strategy};
use crate::logging::LogFormat;

/// One config key, documented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDoc {
    /// Dotted, e.g. `heartbeat.period`.
    pub key: String,
    /// The default's value as TOML (`"1s"`, `40`); `None`: unset by default.
    pub default: Option<String>,
    /// For a key unset by default, the example value the default file shows.
    pub example: Option<String>,
    /// The default file's comment above the key, joined into one paragraph.
    pub text: String,
    /// What the loader accepts.
    pub valid: String,
}

/// Every key, in the order of the default file.
pub fn reference() -> Vec<KeyDoc> {
    let mut docs = Vec::new();
    let mut section = String::new();
    let mut comment: Vec<&str> = Vec::new();
    for line in DEFAULT_TOML.lines().map(str::trim) {
        if line.is_empty() {
            comment.clear();
        } else if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            section = name.to_owned();
            comment.clear();
        } else if let Some(text) = line.strip_prefix('#').map(str::trim) {
            // A commented-out assignment is an optional key, shown with an example.
            match assignment(&section, text).filter(|(key, _)| is_value_key(key)) {
                Some((key, value)) => docs.push(doc(key, None, Some(value), &std::mem::take(&mut comment))),
                None => comment.push(text),
            }
        } else if let Some((key, value)) = assignment(&section, line) {
            docs.push(doc(key, Some(value), None, &std::mem::take(&mut comment)));
        }
    }
    docs
}

/// `name = value` in `section`: the dotted key and the value as written.
fn assignment(section: &str, line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return None;
    }
    let key = if section.is_empty() { name.to_owned() } else { format!("{section}.{name}") };
    Some((key, value.trim().to_owned()))
}

/// A key that holds a value (not a section) in [`FILE_KEY_TYPES`].
fn is_value_key(key: &str) -> bool {
    FILE_KEY_TYPES.iter().any(|(known, kind)| *known == key && *kind != "table")
}

fn doc(key: String, default: Option<String>, example: Option<String>, comment: &[&str]) -> KeyDoc {
    let valid = valid(&key);
    KeyDoc { key, default, example, text: comment.join(" "), valid }
}

fn duration(value: Duration) -> String {
    humantime::format_duration(value).to_string()
}

fn durations((min, max): (Duration, Duration)) -> String {
    format!("a duration from {} to {}", duration(min), duration(max))
}

fn integers((min, max): (u32, u32)) -> String {
    format!("an integer from {min} to {max}")
}

/// What the loader accepts for `key`, from the validation constants.
pub fn valid(key: &str) -> String {
    match key {
        "strategy" => Strategy::ALL.map(Strategy::name).join(", "),
        "counter.size" => "an integer, at least 1 (and an array that fits in memory)".into(),
        "counter.duty_cycle" => "a number above 0 and at most 1".into(),
        "heartbeat.period" => durations(PERIOD_RANGE),
        "heartbeat.schedule" => "absolute or relative".into(),
        "heartbeat.timer_slack" => durations((Duration::from_nanos(1), Duration::from_secs(1))),
        "heartbeat.priority" => "an integer from 1 to 99".into(),
        "record.window" => durations(RECORD_WINDOW_RANGE),
        "record.interval" => durations(RECORD_INTERVAL_RANGE),
        "record.interval_log" => "a path the daemon can create or append to".into(),
        "alerts.drift_threshold" | "alerts.jitter_threshold" => "a duration above 0".into(),
        "alerts.drift_window" => format!("a duration from the period to {}", duration(MAX_DRIFT_WINDOW)),
        "explain.threshold" => durations(EXPLAIN_THRESHOLD_RANGE),
        "metrics.native_histogram_bucket_factor" => format!("a number above 1 and at most {MAX_NATIVE_BUCKET_FACTOR}"),
        "web.listen_address" => "host:port, e.g. 127.0.0.1:9977 or [::]:9977".into(),
        "web.telemetry_path" => "a path starting with /, printable ASCII without ? or #, not one jitterd serves".into(),
        "web.read_header_timeout" | "web.write_timeout" => durations(WEB_TIMEOUT_RANGE),
        "web.max_requests" => integers(MAX_REQUESTS_RANGE),
        "web.max_connections" => integers(MAX_CONNECTIONS_RANGE),
        "web.max_password_checks" => integers(MAX_PASSWORD_CHECKS_RANGE),
        "log.level" => "error, warn, info, debug, trace, off, or a tracing filter".into(),
        "log.format" => [LogFormat::Text, LogFormat::Json].map(LogFormat::name).join(" or "),
        _ => match FILE_KEY_TYPES.iter().find(|(known, _)| *known == key) {
            Some((_, "boolean")) => "true or false".into(),
            Some((_, kind)) => format!("a TOML {kind}"),
            None => String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_documented_with_what_is_valid() {
        let docs = reference();
        for (key, kind) in FILE_KEY_TYPES.iter().filter(|(_, kind)| *kind != "table") {
            let doc = docs.iter().find(|doc| doc.key == *key).unwrap_or_else(|| panic!("{key} ({kind}) undocumented"));
            assert!(!doc.text.is_empty(), "{key} has no comment in config/jitterd.toml");
            assert!(!doc.valid.is_empty() && !doc.valid.starts_with("a TOML"), "{key}: {}", doc.valid);
            assert!(doc.default.is_some() != doc.example.is_some(), "{key}: {doc:?}");
        }
        assert_eq!(docs.len(), FILE_KEY_TYPES.iter().filter(|(_, kind)| *kind != "table").count(), "{docs:#?}");
    }

    #[test]
    fn defaults_are_the_default_files_and_optional_keys_show_their_example() {
        let docs = reference();
        let find = |key: &str| docs.iter().find(|doc| doc.key == key).cloned().expect(key);
        assert_eq!(find("heartbeat.period").default.as_deref(), Some("\"1s\""));
        assert_eq!(find("web.max_requests").default.as_deref(), Some("40"));
        let slack = find("heartbeat.timer_slack");
        assert_eq!((slack.default, slack.example.as_deref()), (None, Some("\"1ns\"")));
        assert!(find("heartbeat.control").text.starts_with("A second heartbeat"), "{:?}", find("heartbeat.control"));
        assert_eq!(find("heartbeat.period").valid, "a duration from 100us to 1h");
    }
}
