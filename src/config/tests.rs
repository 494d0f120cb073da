use super::file::FILE_KEY_TYPES;
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
    let sources = Sources { env: vec![("JITTERD__HEARTBEAT__PERIOD".into(), "250ms".into())], ..Sources::default() };
    assert_eq!(Config::load(&sources).map(|c| c.heartbeat.period), Ok(Duration::from_millis(250)));
}

#[test]
fn every_key_has_a_file_type() {
    let default: toml::Table = toml::from_str(DEFAULT_TOML).expect("default is TOML");
    let mut keys: Vec<String> = vec![
        "heartbeat.timer_slack".into(),
        "heartbeat.priority".into(),
        "record.interval_log".into(),
        "alerts.drift_window".into(),
        "web.max_connections".into(),
    ];
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

fn env_error(name: &str) -> String {
    let sources = Sources { env: vec![(name.into(), "1".into())], ..Sources::default() };
    Config::load(&sources).map(|_| ()).map_err(|err| err.to_string()).expect_err(name)
}

#[test]
fn unknown_names_say_what_is_valid_where_they_stand() {
    let sections = "`counter`, `heartbeat`, `record`, `alerts`, `explain`, `metrics`, `web`, `log`";
    assert!(env_error("JITTERD__NOPE__KEY").contains(&format!("unknown section [nope]; expected one of {sections}")));
    assert!(env_error("JITTERD__NOPE").contains(&format!("expected `strategy` or a section: one of {sections}")));
    assert!(env_error("JITTERD__EXPLAIN__NOPE").ends_with("unknown key in section [explain]; expected `threshold`"));
    assert!(env_error("JITTERD__COUNTER__NOPE").ends_with("expected `size` or `duty_cycle`"));
    assert!(env_error("JITTERD__WEB").contains("is a section, not a value: set its keys, one of `listen_address`"));
    assert!(env_error("JITTERD__STRATEGY__X").contains("key `strategy`: is a value, not a section"));
    assert!(env_error("JITTERD__A__B__C").contains("sections: counter, heartbeat"));
    for name in ["JITTERD__NOPE__KEY", "JITTERD__NOPE", "JITTERD__WEB__NOPE", "JITTERD__A__B__C"] {
        let message = env_error(name);
        assert!(!message.contains("one of ;") && !message.trim_end().ends_with("one of"), "{message}");
    }
}

#[test]
fn control_characters_are_escaped_in_errors() {
    let err = ConfigError::new(Some("a\u{1}b"), None, "bad \u{7} value");
    assert_eq!(err.to_string(), "invalid config: key `a\\u{1}b`: bad \\u{7} value");
}

#[test]
fn reserved_telemetry_paths_are_refused_as_before() {
    let reserved = ["/", "/-/healthy", "/-/ready", "/live.js", "/live.css", "/runbook", "/api/", "/api/v1/beats"];
    for path in reserved.into_iter().chain(["/runbook.css", "/api/x"]) {
        let sources = Sources { env: vec![("JITTERD__WEB__TELEMETRY_PATH".into(), path.into())], ..Sources::default() };
        let expected = format!(
            "invalid config in environment variable JITTERD__WEB__TELEMETRY_PATH: key `web.telemetry_path`: \
             {path:?} is not a usable path: must start with '/', be printable ASCII without '?' or '#', and not \
             be a path jitterd serves itself ('/', '/-/healthy', '/-/ready', '/live.js', '/live.css', '/runbook', \
             '/runbook.css', '/api/…')"
        );
        assert_eq!(Config::load(&sources).map_err(|err| err.to_string()), Err(expected), "{path}");
    }
    for path in ["/metrics", "/api", "//", "/runbook/"] {
        let sources = Sources { env: vec![("JITTERD__WEB__TELEMETRY_PATH".into(), path.into())], ..Sources::default() };
        assert_eq!(Config::load(&sources).map(|config| config.web.telemetry_path), Ok(path.to_owned()));
    }
}

#[test]
fn listen_addresses() {
    assert!(parse_listen_address("127.0.0.1:9977").is_ok());
    assert!(parse_listen_address("[::1]:0").is_ok());
    assert!(parse_listen_address("localhost:9977").is_ok());
    assert!(parse_listen_address("9977").is_err());
    assert!(parse_listen_address("127.0.0.1:99999").is_err());
}
