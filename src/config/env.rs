//! Environment overrides: `JITTERD__SECTION__KEY` to `section.key`, typed.

use super::ENV_PREFIX;

/// `JITTERD__HEARTBEAT__PERIOD` → `heartbeat.period`.
pub(super) fn env_key(name: &str) -> Option<String> {
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
pub(super) fn typed_env_value(key: &str, value: &str) -> ::config::Value {
    let origin = None;
    match key {
        "counter.size" | "heartbeat.priority" => match value.trim().parse::<i64>() {
            Ok(n) => ::config::Value::new(origin, n),
            Err(_) => ::config::Value::new(origin, value),
        },
        "counter.duty_cycle" => match value.trim().parse::<f64>() {
            Ok(x) => ::config::Value::new(origin, x),
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
