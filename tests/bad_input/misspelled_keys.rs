//! Every key of the default config, plus the optional ones, misspelled
//! once, in the file and through the environment: refused, naming the
//! misspelled key and the valid ones.

use super::{CONFIG, OK, check, run};

#[test]
fn every_key_misspelled_once() {
    let (code, default, _) = run(vec!["print-default-config".into()], vec![]);
    assert_eq!(code, OK);
    let table: toml::Table = toml::from_str(&default).expect("default config is TOML");
    let mut keys: Vec<(Option<String>, String, toml::Value)> = Vec::new();
    for (name, value) in &table {
        match value.as_table() {
            Some(section) => {
                keys.extend(section.iter().map(|(key, value)| (Some(name.clone()), key.clone(), value.clone())));
            }
            None => keys.push((None, name.clone(), value.clone())),
        }
    }
    keys.push((Some("heartbeat".into()), "timer_slack".into(), toml::Value::String("1ns".into())));
    keys.push((Some("heartbeat".into()), "priority".into(), toml::Value::Integer(50)));
    keys.push((Some("record".into()), "interval_log".into(), toml::Value::String("/tmp/x.hlog".into())));
    keys.push((Some("alerts".into()), "drift_window".into(), toml::Value::String("10m".into())));
    assert!(keys.len() >= 13, "{keys:?}");

    let mut problems = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("jitterd.toml");
    for (section, key, value) in &keys {
        // Drop the last letter ("period" → "perio"): a typo a reviewer would miss.
        let typo = &key[..key.len() - 1];
        let (text, dotted) = match section {
            Some(section) => (format!("[{section}]\n{typo} = {value}\n"), format!("{section}.{typo}")),
            None => (format!("{typo} = {value}\n"), typo.to_owned()),
        };
        std::fs::write(&config, &text).expect("write");
        let argv = vec!["--config.file".into(), config.clone().into(), "check-config".into()];
        let valid = format!("`{key}`");
        problems.extend(check(&text, run(argv, vec![]), CONFIG, &[&dotted, "unknown key", &valid]));
        // The same typo through the environment.
        let var = format!("JITTERD__{}", dotted.replace('.', "__").to_ascii_uppercase());
        let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        problems.extend(check(
            &var,
            run(vec!["check-config".into()], vec![(var.clone().into(), value.into())]),
            CONFIG,
            &[&var, &dotted],
        ));
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
