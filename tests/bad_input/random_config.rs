//! Random config files and environment values fed to the loader
//! in-process (proptest): an error or a valid config, never a panic.

use jitterd::config::{Config, Sources};
use proptest::prelude::*;

/// Values a fuzzer should try: boundaries, wrong types, unicode, control characters.
fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        prop_oneof![Just(0i64), Just(1), Just(-1), Just(99), Just(100), Just(256), Just(i64::MAX), Just(i64::MIN)]
            .prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        duration_text().prop_map(toml::Value::String),
        "\\PC{0,12}".prop_map(toml::Value::String),
        "[\\x00-\\x1f\\x7f\\u{80}-\\u{10ffff}a-z0-9 /:.-]{0,10}".prop_map(toml::Value::String),
        prop_oneof![
            Just("async"),
            Just("threads-mutex"),
            Just("threads-unsync"),
            Just("absolute"),
            Just("relative"),
            Just("json"),
            Just("text"),
            Just("info"),
            Just("/metrics"),
            Just("127.0.0.1:0"),
        ]
        .prop_map(|s| toml::Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(toml::Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

fn duration_text() -> impl Strategy<Value = String> {
    (any::<u64>(), prop_oneof![Just(""), Just("ns"), Just("us"), Just("ms"), Just("s"), Just("h"), Just("d")])
        .prop_map(|(n, unit)| format!("{}{unit}", n >> (n % 64)))
}

/// Known keys, with typos and strangers among them.
fn key() -> impl Strategy<Value = (String, String)> {
    let section = prop_oneof![
        Just("counter"),
        Just("heartbeat"),
        Just("alerts"),
        Just("web"),
        Just("log"),
        Just("record"),
        Just("bogus"),
        Just(""),
    ];
    let name = prop_oneof![
        Just("size"),
        Just("period"),
        Just("schedule"),
        Just("timer_slack"),
        Just("priority"),
        Just("control"),
        Just("drift_threshold"),
        Just("drift_window"),
        Just("jitter_threshold"),
        Just("window"),
        Just("interval"),
        Just("interval_log"),
        Just("telemetry_path"),
        Just("level"),
        Just("format"),
        Just("strategy"),
        Just("sizee"),
        Just("\u{e9}"),
    ];
    (section, name).prop_map(|(s, n)| (s.to_owned(), n.to_owned()))
}

/// A random config: known and unknown keys with random values, as TOML.
fn config_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec((key(), toml_value()), 0..6).prop_map(|entries| {
            let mut root = toml::Table::new();
            for ((section, name), value) in entries {
                // Names would need DNS, and this test must not touch the network.
                if name == "listen_address" {
                    continue;
                }
                if section.is_empty() {
                    root.insert(name, value);
                } else if let Some(table) = root
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                {
                    table.insert(name, value);
                }
            }
            toml::to_string(&root).unwrap_or_default()
        }),
        // Arbitrary text: mostly not TOML at all.
        1 => "[\\[\\]=\"a-z0-9\\n .#\\x00-\\x1f]{0,60}",
    ]
}

fn env_var() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        Just("JITTERD__COUNTER__SIZE"),
        Just("JITTERD__HEARTBEAT__PERIOD"),
        Just("JITTERD__HEARTBEAT__PRIORITY"),
        Just("JITTERD__HEARTBEAT__CONTROL"),
        Just("JITTERD__HEARTBEAT__TIMER_SLACK"),
        Just("JITTERD__STRATEGY"),
        Just("JITTERD__LOG__LEVEL"),
        Just("JITTERD__WEB__TELEMETRY_PATH"),
        Just("JITTERD__RECORD__WINDOW"),
        Just("JITTERD__ALERTS__DRIFT_WINDOW"),
        Just("JITTERD__HEARTBEAT"),
        Just("JITTERD__X__Y__Z"),
        Just("JITTERD__"),
    ];
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        duration_text(),
        "\\PC{0,10}",
        "[\\x00-\\x1f0-9a-z]{0,6}"
    ];
    (name, value).prop_map(|(n, v)| (n.to_owned(), v))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random TOML and environment values: an error or a valid config, never
    /// a panic; a valid one survives a round trip through its own TOML.
    #[test]
    fn the_loader_never_panics(text in config_text(), env in prop::collection::vec(env_var(), 0..3)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jitterd.toml");
        std::fs::write(&path, &text).expect("write");
        let sources = Sources { file: Some(path.clone()), env, ..Sources::default() };
        if let Ok(config) = Config::load(&sources) {
            let again = toml::to_string(&config).expect("a valid config serializes");
            std::fs::write(&path, &again).expect("write");
            let reloaded = Config::load(&Sources { file: Some(path), ..Sources::default() });
            prop_assert_eq!(reloaded.as_ref(), Ok(&config), "{}", again);
        }
    }
}
