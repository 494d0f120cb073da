//! Reading the config file: only a regular, bounded, UTF-8, non-empty file,
//! with every key's TOML type checked before the `config` crate can coerce it.

use std::path::Path;

use super::ConfigError;
use crate::sys::files::{ReadError, read_bounded};

/// Largest config file read: a real one is a few hundred bytes, and a path
/// to something endless (`/dev/zero`, a huge log) must not eat the memory.
pub const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;

pub(super) fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    let origin = Some(path.display().to_string());
    let fail = |message: String| ConfigError::new(None, origin.clone(), message);
    let bytes = read_bounded(path, MAX_CONFIG_FILE_BYTES).map_err(|err| match err {
        ReadError::Io(err) => fail(format!("cannot read config file: {err}")),
        ReadError::NotAFile("a directory") => fail("is a directory; --config.file takes a TOML file".into()),
        ReadError::NotAFile(kind) => fail(format!("is {kind}, not a regular file; --config.file takes a TOML file")),
        ReadError::TooLarge(max) => fail(format!("is larger than {max} bytes; that is no jitterd config")),
    })?;
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
pub(super) const FILE_KEY_TYPES: &[(&str, &str)] = &[
    ("strategy", "string"),
    ("counter", "table"),
    ("counter.size", "integer"),
    ("counter.duty_cycle", "float"),
    ("heartbeat", "table"),
    ("heartbeat.period", "string"),
    ("heartbeat.schedule", "string"),
    ("heartbeat.timer_slack", "string"),
    ("heartbeat.priority", "integer"),
    ("heartbeat.control", "boolean"),
    ("record", "table"),
    ("record.window", "string"),
    ("record.interval_log", "string"),
    ("record.interval", "string"),
    ("alerts", "table"),
    ("alerts.drift_threshold", "string"),
    ("alerts.drift_window", "string"),
    ("alerts.jitter_threshold", "string"),
    ("explain", "table"),
    ("explain.threshold", "string"),
    ("metrics", "table"),
    ("metrics.native_histograms", "boolean"),
    ("metrics.native_histogram_bucket_factor", "float"),
    ("web", "table"),
    ("web.listen_address", "string"),
    ("web.telemetry_path", "string"),
    ("web.read_header_timeout", "string"),
    ("web.write_timeout", "string"),
    ("web.max_requests", "integer"),
    ("web.max_connections", "integer"),
    ("web.max_password_checks", "integer"),
    ("log", "table"),
    ("log.level", "string"),
    ("log.format", "string"),
];

pub(super) fn check_file_types(table: &toml::Table, path: &Path) -> Result<(), ConfigError> {
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
        // A whole number is a fine fraction: `duty_cycle = 1`.
        if *expected == "float" && matches!(value, toml::Value::Integer(_)) {
            continue;
        }
        // Durations are strings; a bare number gets the message that says so.
        // A number is never a path, though: `interval_log = 5` is a typo.
        if *expected == "string"
            && *key != "record.interval_log"
            && matches!(value, toml::Value::Integer(_) | toml::Value::Float(_))
        {
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

/// The keys a section holds (the top level for `""`: its keys and sections).
fn keys_in(section: &str) -> Vec<&'static str> {
    FILE_KEY_TYPES
        .iter()
        .filter_map(|(key, _)| match key.rsplit_once('.') {
            Some((parent, name)) if parent == section => Some(name),
            None if section.is_empty() => Some(*key),
            _ => None,
        })
        .collect()
}

/// The sections, in the order of the default file.
pub(super) fn sections() -> Vec<&'static str> {
    FILE_KEY_TYPES.iter().filter(|(_, kind)| *kind == "table").map(|(key, _)| *key).collect()
}

/// Whether `key` names a section (`web`), not a value.
pub(super) fn is_section(key: &str) -> bool {
    FILE_KEY_TYPES.iter().any(|(known, kind)| *known == key && *kind == "table")
}

/// `` `a` ``, `` `a` or `b` ``, `` one of `a`, `b`, `c` ``: never an empty list.
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    match quoted.as_slice() {
        [] => "nothing (no keys are known here)".to_owned(),
        [one] => one.clone(),
        [first, second] => format!("{first} or {second}"),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

/// An error for a key that is not in [`FILE_KEY_TYPES`], saying what is
/// valid where it stands: the section's keys, the top level's keys and
/// sections, or, for a section that does not exist, the sections.
pub(super) fn unknown_key(key: &str, origin: Option<String>) -> ConfigError {
    let Some((parent, _)) = key.split_once('.') else {
        let top: Vec<&str> = keys_in("").into_iter().filter(|name| !is_section(name)).collect();
        let message = format!("unknown key; expected {} or a section: {}", one_of(&top), one_of(&sections()));
        return ConfigError::new(Some(key), origin, message);
    };
    if is_section(parent) {
        return ConfigError::new(
            Some(key),
            origin,
            format!("unknown key in section [{parent}]; expected {}", one_of(&keys_in(parent))),
        );
    }
    if is_known(parent) {
        return ConfigError::new(Some(parent), origin, format!("is a value, not a section: `{key}` does not exist"));
    }
    unknown_section(key, parent, origin)
}

/// An error for `key` in the section `section` that does not exist, naming
/// the sections and the top-level keys.
fn unknown_section(key: &str, section: &str, origin: Option<String>) -> ConfigError {
    let top: Vec<&str> = keys_in("").into_iter().filter(|name| !is_section(name)).collect();
    let message =
        format!("unknown section [{section}]; expected {} (top level: {})", one_of(&sections()), one_of(&top));
    ConfigError::new(Some(key), origin, message)
}

/// An error for a section set to a value (`JITTERD__WEB=1`), naming its keys.
pub(super) fn section_as_value(key: &str, origin: Option<String>) -> ConfigError {
    let message = format!("is a section, not a value: set its keys, {}", one_of(&keys_in(key)));
    ConfigError::new(Some(key), origin, message)
}

/// Whether `key` is a config key or section.
pub(super) fn is_known(key: &str) -> bool {
    FILE_KEY_TYPES.iter().any(|(known, _)| *known == key)
}

/// Every key the file sets must be a known one: found here from the file's
/// own table, so the error names the whole key.
pub(super) fn check_known_keys(table: &toml::Table, path: &Path) -> Result<(), ConfigError> {
    fn walk(table: &toml::Table, prefix: &str, path: &Path) -> Result<(), ConfigError> {
        for (name, value) in table {
            let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            if !is_known(&key) {
                let origin = Some(path.display().to_string());
                return Err(match value {
                    toml::Value::Table(_) if prefix.is_empty() => unknown_section(&key, &key, origin),
                    _ => unknown_key(&key, origin),
                });
            }
            // A section's keys are checked too; a table where a value
            // belongs is a type error, which check_file_types reports.
            if let (toml::Value::Table(inner), true) = (value, is_section(&key)) {
                walk(inner, &key, path)?;
            }
        }
        Ok(())
    }
    walk(table, "", path)
}
