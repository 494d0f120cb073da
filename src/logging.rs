//! Logs through `tracing-subscriber`: text or JSON on stderr.
//!
//! The level comes from `RUST_LOG` if set, else `--log.level`, else
//! `log.level` in the config; a config reload can change it at run time
//! (unless `RUST_LOG` pins it). The format is fixed at start.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::reload;
use tracing_subscriber::util::SubscriberInitExt as _;

use serde::{Deserialize, Serialize};

/// How log lines are written: fixed at start.
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
}
