//! The validated configuration, and how it is loaded.
//!
//! Three layers, each overriding the one before: the embedded default
//! (`config/jitterd.toml`, compiled in), the file given with
//! `--config.file`, then environment variables `JITTERD__SECTION__KEY`.
//! Unknown keys are errors. Every error names the key, the layer it came
//! from (file path or environment variable) and what would be valid, so a
//! typo never silently falls back to a default.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::strategy::Strategy;

/// The default configuration, verbatim; `print-default-config` prints it.
pub const DEFAULT_TOML: &str = include_str!("../config/jitterd.toml");

/// Environment variables with this prefix override config keys.
pub const ENV_PREFIX: &str = "JITTERD";

/// The shortest and longest HTTP timeouts accepted.
pub const WEB_TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(600));

/// The shortest and longest heartbeat period accepted.
pub const PERIOD_RANGE: (Duration, Duration) = (Duration::from_micros(100), Duration::from_secs(3600));

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub strategy: Strategy,
    pub counter: CounterConfig,
    pub heartbeat: HeartbeatConfig,
    pub alerts: AlertsConfig,
    pub web: WebConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterConfig {
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    #[serde(with = "duration_text")]
    pub period: Duration,
    pub schedule: Schedule,
    #[serde(default, with = "duration_text::option", skip_serializing_if = "Option::is_none")]
    pub timer_slack: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    pub control: bool,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    #[serde(with = "duration_text")]
    pub drift_threshold: Duration,
    #[serde(with = "duration_text")]
    pub jitter_threshold: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    pub listen_address: String,
    pub telemetry_path: String,
    /// Time a client has to send a request head (and finish a TLS
    /// handshake), from connecting or from the previous response.
    #[serde(with = "duration_text")]
    pub read_header_timeout: Duration,
    /// Time a response write may make no progress before the connection is dropped.
    #[serde(with = "duration_text")]
    pub write_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum LogFormat {
    Text,
    Json,
}

impl TryFrom<String> for LogFormat {
    type Error = String;

    fn try_from(text: String) -> Result<LogFormat, String> {
        match text.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format {text:?}: expected \"text\" or \"json\"")),
        }
    }
}

/// Durations as strings such as `"250ms"`, with errors that show a valid one.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text.trim()).map_err(|err| {
            format!("{text:?} is not a duration ({err}): write a non-negative number with a unit, e.g. \"250ms\", \"1s\" or \"1h 30m\"")
        })
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(f64),
    }

    fn from_raw<E: serde::de::Error>(raw: Raw) -> Result<Duration, E> {
        match raw {
            Raw::Text(text) => parse(&text).map_err(E::custom),
            Raw::Number(n) => Err(E::custom(format!(
                "{n} has no unit: durations are strings with a unit, e.g. \"{n}ms\" or \"{n}s\""
            ))),
        }
    }

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        from_raw(Raw::deserialize(deserializer)?)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(d) => super::serialize(d, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
            Option::<Raw>::deserialize(deserializer)?.map(from_raw).transpose()
        }
    }
}

/// A configuration that could not be loaded. `key` is the dotted config key
/// when one is to blame; `origin` the file or environment variable it came
/// from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub key: Option<String>,
    pub origin: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid config")?;
        if let Some(origin) = &self.origin {
            write!(f, " in {}", printable(origin))?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{}`", printable(key))?;
        }
        write!(f, ": {}", printable(&self.message))
    }
}

/// Control characters escaped (`\u{7}`), so a hostile or broken key or value
/// can neither hide in nor rewrite the terminal or log line it is shown on.
fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

impl ConfigError {
    fn new(key: Option<&str>, origin: Option<String>, message: impl Into<String>) -> Self {
        ConfigError { key: key.map(str::to_owned), origin, message: message.into() }
    }
}

/// Where the layers come from: a file (optional) and an environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub file: Option<PathBuf>,
    /// `(name, value)` pairs; normally `std::env::vars_os()` filtered to ours.
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// The file given on the command line and this process's environment.
    pub fn from_process(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let mut env = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().filter(|n| n.starts_with(&format!("{ENV_PREFIX}__"))) else {
                continue;
            };
            let value = value.into_string().map_err(|raw| {
                ConfigError::new(
                    None,
                    Some(format!("environment variable {name}")),
                    format!("value {raw:?} is not valid UTF-8"),
                )
            })?;
            env.push((name.to_owned(), value));
        }
        env.sort();
        Ok(Sources { file, env })
    }
}

impl Config {
    /// The embedded default, with no file and no environment.
    pub fn embedded_default() -> Config {
        match Config::load(&Sources::default()) {
            Ok(config) => config,
            // The default is compiled in and covered by tests.
            Err(err) => unreachable!("embedded default config is invalid: {err}"),
        }
    }

    /// Loads and validates the three layers.
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let mut builder =
            ::config::Config::builder().add_source(::config::File::from_str(DEFAULT_TOML, ::config::FileFormat::Toml));
        if let Some(path) = &sources.file {
            let text = read_config_file(path)?;
            // Parse once with `toml` directly: its errors give line and column.
            let table = toml::from_str::<toml::Table>(&text)
                .map_err(|err| ConfigError::new(None, Some(path.display().to_string()), one_line(&err.to_string())))?;
            check_file_types(&table, path)?;
            builder = builder.add_source(::config::File::from_str(&text, ::config::FileFormat::Toml));
        }
        for (name, value) in &sources.env {
            let key = env_key(name).ok_or_else(|| {
                ConfigError::new(
                    None,
                    Some(format!("environment variable {name}")),
                    format!(
                        "expected {ENV_PREFIX}__SECTION__KEY or {ENV_PREFIX}__KEY, e.g. {ENV_PREFIX}__HEARTBEAT__PERIOD"
                    ),
                )
            })?;
            let typed = typed_env_value(&key, value);
            builder = builder.set_override(&key, typed).map_err(|err| {
                ConfigError::new(Some(&key), Some(format!("environment variable {name}")), err.to_string())
            })?;
        }
        let merged = builder.build().map_err(|err| ConfigError::new(None, None, one_line(&err.to_string())))?;
        let config: Config = merged.try_deserialize().map_err(|err| describe(err, sources))?;
        config.validate(sources)?;
        Ok(config)
    }

    fn validate(&self, sources: &Sources) -> Result<(), ConfigError> {
        let fail = |key: &str, message: String| ConfigError::new(Some(key), origin_of(key, sources), message);
        if self.counter.size == 0 {
            return Err(fail("counter.size", "must be at least 1 element, got 0".into()));
        }
        crate::array::check_fits_in_memory(self.counter.size, self.strategy.arrays_in_memory())
            .map_err(|msg| fail("counter.size", msg))?;
        let (min, max) = PERIOD_RANGE;
        if self.heartbeat.period < min || self.heartbeat.period > max {
            return Err(fail(
                "heartbeat.period",
                format!(
                    "{} is out of range: must be from {} to {}",
                    humantime::format_duration(self.heartbeat.period),
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                ),
            ));
        }
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
        for (key, value) in [
            ("alerts.drift_threshold", self.alerts.drift_threshold),
            ("alerts.jitter_threshold", self.alerts.jitter_threshold),
        ] {
            if value.is_zero() {
                return Err(fail(key, "must be greater than 0, e.g. \"100ms\"".into()));
            }
        }
        self.web.socket_addr().map_err(|msg| fail("web.listen_address", msg))?;
        let (min, max) = WEB_TIMEOUT_RANGE;
        for (key, value) in
            [("web.read_header_timeout", self.web.read_header_timeout), ("web.write_timeout", self.web.write_timeout)]
        {
            if value < min || value > max {
                return Err(fail(
                    key,
                    format!(
                        "{} is out of range: must be from {} to {}",
                        humantime::format_duration(value),
                        humantime::format_duration(min),
                        humantime::format_duration(max)
                    ),
                ));
            }
        }
        if !self.web.telemetry_path.starts_with('/')
            || self.web.telemetry_path.len() < 2
            || ["/-/healthy", "/-/ready"].contains(&self.web.telemetry_path.as_str())
            || !self.web.telemetry_path.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
        {
            return Err(fail(
                "web.telemetry_path",
                format!(
                    "{:?} is not a usable path: must start with '/', be printable ASCII without '?' or '#', and not be '/', '/-/healthy' or '/-/ready'",
                    self.web.telemetry_path
                ),
            ));
        }
        crate::logging::parse_filter(&self.log.level).map_err(|msg| fail("log.level", msg))?;
        Ok(())
    }
}

impl WebConfig {
    /// The first socket address `listen_address` resolves to.
    pub fn socket_addr(&self) -> Result<SocketAddr, String> {
        parse_listen_address(&self.listen_address)
    }
}

/// Parses `host:port` (an IP, `[v6]` or a resolvable name) into one address.
pub fn parse_listen_address(text: &str) -> Result<SocketAddr, String> {
    let invalid =
        || format!("{text:?} is not a listen address: expected host:port, e.g. \"127.0.0.1:9977\" or \"[::]:9977\"");
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(invalid());
    }
    text.to_socket_addrs().ok().and_then(|mut addrs| addrs.next()).ok_or_else(invalid)
}

/// Largest config file read: a real one is a few hundred bytes, and a path
/// to something endless (`/dev/zero`, a huge log) must not eat the memory.
pub const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;

fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read as _;
    use std::os::unix::fs::FileTypeExt as _;

    let origin = Some(path.display().to_string());
    let fail = |message: String| ConfigError::new(None, origin.clone(), message);
    let cannot_read = |err: std::io::Error| fail(format!("cannot read config file: {err}"));
    let file_type = std::fs::metadata(path).map_err(cannot_read)?.file_type();
    if file_type.is_dir() {
        return Err(fail("is a directory; --config.file takes a TOML file".into()));
    }
    // A FIFO would block the start (or a reload) until someone writes to
    // it, and a device may never end: only regular files are config files.
    if !file_type.is_file() {
        let kind = if file_type.is_fifo() {
            "a FIFO"
        } else if file_type.is_socket() {
            "a socket"
        } else if file_type.is_char_device() {
            "a character device"
        } else if file_type.is_block_device() {
            "a block device"
        } else {
            "not a file"
        };
        return Err(fail(format!("is {kind}, not a regular file; --config.file takes a TOML file")));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_CONFIG_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(fail(format!("is larger than {MAX_CONFIG_FILE_BYTES} bytes; that is no jitterd config")));
    }
    let text = String::from_utf8(bytes).map_err(|err| {
        fail(format!("is not UTF-8 text (invalid byte at offset {})", err.utf8_error().valid_up_to()))
    })?;
    // An empty file is what a reader sees mid-way through a non-atomic
    // rewrite (truncate, then write). Taking it for "all defaults" would
    // silently swap the experiment, so it is refused.
    if text.trim().is_empty() {
        return Err(fail(
            "is empty (a file being rewritten?); to run on the defaults leave out --config.file, or write the keys you mean"
                .into(),
        ));
    }
    Ok(text)
}

/// The TOML type of every key, checked in the file before it is merged: the
/// `config` crate would otherwise coerce (a size of 1.5 rounded to 2, the
/// string "true" taken for a boolean), and a typo in a type must be refused
/// as plainly as a typo in a name.
const FILE_KEY_TYPES: &[(&str, &str)] = &[
    ("strategy", "string"),
    ("counter", "table"),
    ("counter.size", "integer"),
    ("heartbeat", "table"),
    ("heartbeat.period", "string"),
    ("heartbeat.schedule", "string"),
    ("heartbeat.timer_slack", "string"),
    ("heartbeat.priority", "integer"),
    ("heartbeat.control", "boolean"),
    ("alerts", "table"),
    ("alerts.drift_threshold", "string"),
    ("alerts.jitter_threshold", "string"),
    ("web", "table"),
    ("web.listen_address", "string"),
    ("web.telemetry_path", "string"),
    ("web.read_header_timeout", "string"),
    ("web.write_timeout", "string"),
    ("log", "table"),
    ("log.level", "string"),
    ("log.format", "string"),
];

fn check_file_types(table: &toml::Table, path: &Path) -> Result<(), ConfigError> {
    for (key, expected) in FILE_KEY_TYPES {
        let mut parts = key.split('.');
        let Some(mut value) = parts.next().and_then(|first| table.get(first)) else { continue };
        let mut found = true;
        for part in parts {
            match value.get(part) {
                Some(inner) => value = inner,
                None => found = false,
            }
        }
        if !found || value.type_str() == *expected {
            continue;
        }
        // Durations are strings; a bare number gets the message that says so.
        if *expected == "string" && matches!(value, toml::Value::Integer(_) | toml::Value::Float(_)) {
            continue;
        }
        let shown = match value {
            toml::Value::Table(_) => "a table".to_owned(),
            toml::Value::Array(_) => "an array".to_owned(),
            other => format!("{} {other}", other.type_str()),
        };
        let article = if expected.starts_with('i') { "an" } else { "a" };
        return Err(ConfigError::new(
            Some(key),
            Some(path.display().to_string()),
            format!("expected {article} {expected}, got {shown}"),
        ));
    }
    Ok(())
}

/// `JITTERD__HEARTBEAT__PERIOD` → `heartbeat.period`.
fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix(ENV_PREFIX)?.strip_prefix("__")?;
    let parts: Vec<&str> = rest.split("__").collect();
    if parts.is_empty() || parts.len() > 2 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some(parts.join(".").to_ascii_lowercase())
}

/// Environment values are strings; keys that hold numbers or booleans get
/// them parsed, so `JITTERD__COUNTER__SIZE=10` works and `=ten` is refused
/// with the key named.
fn typed_env_value(key: &str, value: &str) -> ::config::Value {
    let origin = None;
    match key {
        "counter.size" | "heartbeat.priority" => match value.trim().parse::<i64>() {
            Ok(n) => ::config::Value::new(origin, n),
            Err(_) => ::config::Value::new(origin, value),
        },
        "heartbeat.control" => match value.trim() {
            "true" => ::config::Value::new(origin, true),
            "false" => ::config::Value::new(origin, false),
            _ => ::config::Value::new(origin, value),
        },
        _ => ::config::Value::new(origin, value),
    }
}

/// Which layer set `key`: the environment wins over the file.
fn origin_of(key: &str, sources: &Sources) -> Option<String> {
    if let Some((name, _)) = sources.env.iter().find(|(name, _)| env_key(name).as_deref() == Some(key)) {
        return Some(format!("environment variable {name}"));
    }
    let path = sources.file.as_ref()?;
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let mut parts = key.split('.');
    let mut node = table.get(parts.next()?)?;
    for part in parts {
        node = node.get(part)?;
    }
    Some(path.display().to_string())
}

/// Turns a deserialization error of the merged layers into one that names
/// the key and the layer it came from. The config crate appends
/// "for key `a.b`" (or "in key `a`" for the section of an unknown field).
fn describe(err: ::config::ConfigError, sources: &Sources) -> ConfigError {
    let text = one_line(&err.to_string());
    let (mut message, mut key) = match text.find(" for key `").or_else(|| text.find(" in key `")) {
        Some(pos) => {
            let key = text[pos..].split('`').nth(1).unwrap_or_default().to_owned();
            (text[..pos].to_owned(), Some(key).filter(|k| !k.is_empty()))
        }
        None => (text.clone(), None),
    };
    // "unknown field `x`, expected one of `a`, `b`": name the full key.
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, valid) = rest.split_once('`').unwrap_or((rest, ""));
        key = Some(key.map_or_else(|| field.to_owned(), |section| format!("{section}.{field}")));
        message = format!("unknown key{}", valid.replacen(", expected", "; expected", 1));
    }
    let origin = key.as_deref().and_then(|k| origin_of(k, sources));
    ConfigError::new(key.as_deref(), origin, message)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let config = Config::embedded_default();
        assert_eq!(config.strategy, Strategy::Async);
        assert_eq!(config.counter.size, 100_000);
        assert_eq!(config.heartbeat.period, Duration::from_secs(1));
    }

    #[test]
    fn env_keys_map_to_dotted_keys() {
        assert_eq!(env_key("JITTERD__HEARTBEAT__PERIOD").as_deref(), Some("heartbeat.period"));
        assert_eq!(env_key("JITTERD__STRATEGY").as_deref(), Some("strategy"));
        assert_eq!(env_key("JITTERD__A__B__C"), None);
        assert_eq!(env_key("JITTERD__"), None);
    }

    #[test]
    fn environment_overrides_default() {
        let sources = Sources { file: None, env: vec![("JITTERD__HEARTBEAT__PERIOD".into(), "250ms".into())] };
        assert_eq!(Config::load(&sources).map(|c| c.heartbeat.period), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn every_key_has_a_file_type() {
        let default: toml::Table = toml::from_str(DEFAULT_TOML).expect("default is TOML");
        let mut keys: Vec<String> = vec!["heartbeat.timer_slack".into(), "heartbeat.priority".into()];
        for (name, value) in &default {
            keys.push(name.clone());
            if let Some(section) = value.as_table() {
                keys.extend(section.keys().map(|key| format!("{name}.{key}")));
            }
        }
        for key in keys {
            assert!(FILE_KEY_TYPES.iter().any(|(known, _)| *known == key), "{key} is missing from FILE_KEY_TYPES");
        }
    }

    #[test]
    fn control_characters_are_escaped_in_errors() {
        let err = ConfigError::new(Some("a\u{1}b"), None, "bad \u{7} value");
        assert_eq!(err.to_string(), "invalid config: key `a\\u{1}b`: bad \\u{7} value");
    }

    #[test]
    fn listen_addresses() {
        assert!(parse_listen_address("127.0.0.1:9977").is_ok());
        assert!(parse_listen_address("[::1]:0").is_ok());
        assert!(parse_listen_address("localhost:9977").is_ok());
        assert!(parse_listen_address("9977").is_err());
        assert!(parse_listen_address("127.0.0.1:99999").is_err());
    }
}
