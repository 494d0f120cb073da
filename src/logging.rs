//! Logs through `tracing-subscriber`: text or JSON on stderr.
//!
//! The level comes from `RUST_LOG` if set, else `--log.level`, else
//! `log.level` in the config; a config reload can change it at run time
//! (unless `RUST_LOG` pins it). The format is fixed at start.

use std::fmt;
use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt as _;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// How log lines are written: fixed at start. The config's `log.format` and
/// the `--log.format` flag both take these, spelt as [`LogFormat::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// As written in the config and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for LogFormat {
    type Error = String;

    fn try_from(text: String) -> Result<LogFormat, String> {
        LogFormat::value_variants()
            .iter()
            .copied()
            .find(|format| format.name() == text)
            .ok_or_else(|| format!("unknown log format {text:?}: expected \"text\" or \"json\""))
    }
}

/// Parses a level or filter directive, naming what is valid when it fails.
pub(crate) fn parse_filter(level: &str) -> Result<EnvFilter, String> {
    let plain = ["error", "warn", "info", "debug", "trace", "off"];
    let looks_like_directive = level.contains('=') || level.contains(',') || level.contains("::");
    if level.trim().is_empty() || (!looks_like_directive && !plain.contains(&level.to_ascii_lowercase().as_str())) {
        return Err(format!(
            "{level:?} is not a log level: expected one of error, warn, info, debug, trace, off, or a filter such as \"info,jitterd=debug\""
        ));
    }
    EnvFilter::try_new(level).map_err(|err| format!("{level:?} is not a valid log filter: {err}"))
}

/// Changes the level after start, unless `RUST_LOG` pinned it.
pub(crate) struct LevelHandle {
    handle: Option<reload::Handle<EnvFilter, tracing_subscriber::Registry>>,
}

impl LevelHandle {
    pub(crate) fn set(&self, level: &str) {
        let Some(handle) = &self.handle else { return };
        if let Ok(filter) = parse_filter(level)
            && let Err(err) = handle.reload(filter)
        {
            tracing::warn!("cannot change the log level to {level:?}: {err}");
        }
    }
}

/// Installs the global subscriber. Called once, before anything logs.
pub(crate) fn init(level: &str, format: LogFormat) -> LevelHandle {
    let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let pinned = from_env.is_some();
    let filter = from_env
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| parse_filter(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = match format {
        LogFormat::Text => registry.with(fmt).try_init(),
        LogFormat::Json => registry.with(fmt.json().flatten_event(true)).try_init(),
    };
    LevelHandle { handle: (!pinned).then_some(handle) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert!(parse_filter("info").is_ok());
        assert!(parse_filter("DEBUG").is_ok());
        assert!(parse_filter("info,jitterd=trace").is_ok());
        assert!(parse_filter("loud").is_err());
        assert!(parse_filter("").is_err());
    }

    /// The config, the flag and `Options::flags` spell each format alike.
    #[test]
    fn one_spelling_per_format() {
        for format in LogFormat::value_variants() {
            let name = format.name();
            assert_eq!(format.to_string(), name);
            assert_eq!(format.to_possible_value().map(|value| value.get_name().to_owned()).as_deref(), Some(name));
            assert_eq!(
                toml::Value::try_from(format).ok().and_then(|v| v.as_str().map(str::to_owned)).as_deref(),
                Some(name)
            );
            assert_eq!(LogFormat::try_from(name.to_owned()), Ok(*format));
        }
        assert_eq!(
            LogFormat::try_from("xml".to_owned()),
            Err("unknown log format \"xml\": expected \"text\" or \"json\"".to_owned())
        );
    }
}
