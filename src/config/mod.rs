//! The validated configuration, and how it is loaded.
//!
//! Three layers, each overriding the one before: the embedded default
//! (`config/jitterd.toml`, compiled in), the file given with
//! `--config.file`, then environment variables `JITTERD__SECTION__KEY`.
//! Unknown keys are errors. Every error names the key, the layer it came
//! from (file path or environment variable) and what would be valid, so a
//! typo never silently falls back to a default.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::experiment::{self, Schedule, Strategy};
use crate::logging::LogFormat;

mod duration_text;
pub use duration_text::parse_or_show as parse_duration;
mod env;
mod error;
mod file;
mod record;
mod reference;
mod validate;

use env::{env_key, typed_env_value};
pub use error::ConfigError;
use error::{describe, one_line};
pub use file::MAX_CONFIG_FILE_BYTES;
use file::{check_file_types, check_known_keys, is_known, is_section, read_config_file, section_as_value, unknown_key};
pub use record::{DEFAULT_DRIFT_WINDOW, MAX_DRIFT_WINDOW, RECORD_INTERVAL_RANGE, RECORD_WINDOW_RANGE};
pub use reference::{KeyDoc, reference, valid as valid_values};

/// The default configuration, verbatim; `print-default-config` prints it.
pub const DEFAULT_TOML: &str = include_str!("../../config/jitterd.toml");

/// Environment variables with this prefix override config keys.
pub const ENV_PREFIX: &str = "JITTERD";

/// The shortest and longest `explain.threshold` accepted.
pub const EXPLAIN_THRESHOLD_RANGE: (Duration, Duration) = (Duration::from_micros(10), Duration::from_secs(3600));

/// The coarsest native histogram schema (-4) grows by 2^16 a bucket.
pub const MAX_NATIVE_BUCKET_FACTOR: f64 = 65536.0;

/// `web.max_requests`, `web.max_connections` and `web.max_password_checks`.
pub const MAX_REQUESTS_RANGE: (u32, u32) = (1, 10_000);
pub const MAX_CONNECTIONS_RANGE: (u32, u32) = (16, 1 << 20);
pub const MAX_PASSWORD_CHECKS_RANGE: (u32, u32) = (1, 1000);

/// The shortest and longest HTTP timeouts accepted.
pub const WEB_TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(600));

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub strategy: Strategy,
    pub counter: CounterConfig,
    pub heartbeat: HeartbeatConfig,
    pub record: RecordConfig,
    pub alerts: AlertsConfig,
    pub explain: ExplainConfig,
    pub metrics: MetricsConfig,
    pub web: WebConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterConfig {
    pub size: u64,
    /// Share of each period the counter runs, in a window centred on each
    /// scheduled beat: 0 < d ≤ 1; 1 runs it continuously, as the article does.
    pub duty_cycle: f64,
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

/// What is kept of every slot's lateness beyond the histograms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// The sliding span of the window summaries' quantiles.
    #[serde(with = "duration_text")]
    pub window: Duration,
    /// Where the HdrHistogram interval log is appended; unset means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_log: Option<PathBuf>,
    /// How much time each interval log line covers.
    #[serde(with = "duration_text")]
    pub interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Drift gained within `drift_window` above which the daemon warns.
    #[serde(with = "duration_text")]
    pub drift_threshold: Duration,
    /// How far back drift gained looks; left out, [`DEFAULT_DRIFT_WINDOW`]
    /// or the period if longer. Read it with [`Config::drift_window`].
    #[serde(default, with = "duration_text::option", skip_serializing_if = "Option::is_none")]
    pub drift_window: Option<Duration>,
    #[serde(with = "duration_text")]
    pub jitter_threshold: Duration,
}

/// Why a beat was late: which beats name their cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainConfig {
    /// Beats later than this name their cause and split their lateness.
    #[serde(with = "duration_text")]
    pub threshold: Duration,
}

/// How `/metrics` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Answer a scraper that prefers protobuf with native histograms.
    pub native_histograms: bool,
    /// The growth factor of neighbouring native buckets: the largest schema
    /// whose factor is at most this one is used (1.1: schema 3).
    pub native_histogram_bucket_factor: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Parsed when the config is loaded: a name resolves then, once.
    #[serde(with = "listen_address_text")]
    pub listen_address: SocketAddr,
    pub telemetry_path: String,
    /// Time a client has to send a request head (and finish a TLS
    /// handshake), from connecting or from the previous response.
    #[serde(with = "duration_text")]
    pub read_header_timeout: Duration,
    /// Time a response write may make no progress before the connection is dropped.
    #[serde(with = "duration_text")]
    pub write_timeout: Duration,
    /// Requests served at once; beyond, 503 with `Retry-After: 1`.
    pub max_requests: u32,
    /// Open sockets; beyond, the one waiting longest for its headers is
    /// closed. Left out: half of RLIMIT_NOFILE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// bcrypt checks running plus waiting; beyond, 429.
    pub max_password_checks: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

/// Where the layers come from: a file (optional), an environment and the
/// command line's flags, each over the one before.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub file: Option<PathBuf>,
    /// `(name, value)` pairs; normally `std::env::vars_os()` filtered to ours.
    pub env: Vec<(String, String)>,
    /// Command-line flags that set a config key (`--web.listen-address`).
    pub flags: Vec<Flag>,
}

/// A command-line flag that sets a config key: the top layer, read again
/// with the others at every reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// As typed, e.g. `--log.level`.
    pub name: &'static str,
    /// The dotted key it sets, e.g. `log.level`.
    pub key: &'static str,
    pub value: String,
}

impl Sources {
    /// The file and flags given on the command line and this process's environment.
    pub fn from_process(file: Option<PathBuf>, flags: Vec<Flag>) -> Result<Self, ConfigError> {
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
        Ok(Sources { file, env, flags })
    }
}

impl Config {
    /// What the experiment itself needs of this config.
    pub fn experiment(&self) -> experiment::Settings {
        experiment::Settings {
            strategy: self.strategy,
            size_elements: self.counter.size,
            duty_cycle: self.counter.duty_cycle,
            period: self.heartbeat.period,
            schedule: self.heartbeat.schedule,
            timer_slack: self.heartbeat.timer_slack,
            priority: self.heartbeat.priority,
            control: self.heartbeat.control,
            drift_threshold: self.alerts.drift_threshold,
            drift_window: self.drift_window(),
            jitter_threshold: self.alerts.jitter_threshold,
            record_window: self.record.window,
            explain_threshold: self.explain.threshold,
        }
    }

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
            check_known_keys(&table, path)?;
            check_file_types(&table, path)?;
            builder = builder.add_source(::config::File::from_str(&text, ::config::FileFormat::Toml));
        }
        for (name, value) in &sources.env {
            let key = env_key(name).ok_or_else(|| {
                ConfigError::new(
                    None,
                    Some(format!("environment variable {name}")),
                    format!(
                        "expected {ENV_PREFIX}__SECTION__KEY or {ENV_PREFIX}__KEY, e.g. {ENV_PREFIX}__HEARTBEAT__PERIOD; sections: {}",
                        file::sections().join(", ")
                    ),
                )
            })?;
            let origin = || Some(format!("environment variable {name}"));
            if !is_known(&key) {
                return Err(unknown_key(&key, origin()));
            }
            if is_section(&key) {
                return Err(section_as_value(&key, origin()));
            }
            let typed = typed_env_value(&key, value);
            builder = builder.set_override(&key, typed).map_err(|err| {
                ConfigError::new(Some(&key), Some(format!("environment variable {name}")), err.to_string())
            })?;
        }
        for flag in &sources.flags {
            builder = builder.set_override(flag.key, flag.value.as_str()).map_err(|err| {
                ConfigError::new(Some(flag.key), Some(format!("command-line flag {}", flag.name)), err.to_string())
            })?;
        }
        let merged = builder.build().map_err(|err| ConfigError::new(None, None, one_line(&err.to_string())))?;
        let config: Config = merged.try_deserialize().map_err(|err| describe(err, sources))?;
        config.validate(sources)?;
        Ok(config)
    }
}

/// `web.listen_address` as a `host:port` string in the file, a socket address once loaded.
mod listen_address_text {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &SocketAddr, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_listen_address(&text).map_err(serde::de::Error::custom)
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

#[cfg(test)]
mod tests;
