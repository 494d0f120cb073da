//! Config errors that name the key, the layer it came from and what is valid.
//!
//! The `config` crate reports a merged view; this module works out which key
//! is to blame and whether the file or the environment set it.

use std::fmt;

use super::Sources;
use super::env::env_key;

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
    /// An error blamed on `key`, naming the layer that set it: for checks
    /// made outside loading, such as opening `record.interval_log`.
    pub fn at_key(key: &str, sources: &Sources, message: impl Into<String>) -> ConfigError {
        ConfigError::new(Some(key), origin_of(key, sources), message)
    }

    pub(super) fn new(key: Option<&str>, origin: Option<String>, message: impl Into<String>) -> Self {
        ConfigError { key: key.map(str::to_owned), origin, message: message.into() }
    }
}

/// Which layer set `key`: flags win over the environment, which wins over the file.
pub(super) fn origin_of(key: &str, sources: &Sources) -> Option<String> {
    if let Some(flag) = sources.flags.iter().find(|flag| flag.key == key) {
        return Some(format!("command-line flag {}", flag.name));
    }
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
/// the key and the layer it came from. The key comes from the error's own
/// fields (`At` and `Type` carry it), never from its text. Unknown keys are
/// found before this, against the table of known keys.
pub(super) fn describe(err: ::config::ConfigError, sources: &Sources) -> ConfigError {
    use ::config::ConfigError as Raw;
    let (key, message) = match err {
        Raw::At { error, key, .. } => match *error {
            Raw::Type { unexpected, expected, .. } => (key, format!("invalid type: {unexpected}, expected {expected}")),
            inner => (key, one_line(&inner.to_string())),
        },
        Raw::Type { unexpected, expected, key, .. } => {
            (key, format!("invalid type: {unexpected}, expected {expected}"))
        }
        Raw::NotFound(key) => (Some(key), "is missing".to_owned()),
        other => (None, one_line(&other.to_string())),
    };
    let key = key.filter(|k| !k.is_empty());
    let origin = key.as_deref().and_then(|k| origin_of(k, sources));
    ConfigError::new(key.as_deref(), origin, message)
}

pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
