//! The command line and the config: defaults, layering, and every kind of
//! bad input of the contract getting its exit code and a message that names
//! the key or value and says what is valid.

use crate::common::run;

const CONFIG: i32 = 78;
const USAGE: i32 = 64;
const UNAVAILABLE: i32 = 69;

fn with_file(text: &[u8], args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jitterd.toml");
    std::fs::write(&path, text).expect("write");
    let path = path.to_str().expect("utf-8 path").to_owned();
    let mut all = vec!["--config.file", &path];
    all.extend_from_slice(args);
    run(&all, env)
}

fn assert_fails(case: &str, (code, _, stderr): (i32, String, String), expected_code: i32, needles: &[&str]) {
    assert_eq!(code, expected_code, "{case}: exit code; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{case}: panicked: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{case}: stderr lacks {needle:?}: {stderr}");
    }
    let lines = stderr.lines().filter(|l| !l.trim().is_empty()).count();
    if expected_code == CONFIG {
        assert_eq!(lines, 1, "{case}: one-line error expected: {stderr}");
    }
}

#[test]
fn print_default_config_is_the_shipped_file() {
    let (code, stdout, _) = run(&["print-default-config"], &[]);
    assert_eq!(code, 0);
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/jitterd.toml")).expect("read");
    assert_eq!(stdout, shipped);
}

#[test]
fn check_config_prints_the_effective_config() {
    let (code, stdout, stderr) = with_file(
        b"strategy = \"threads-mutex\"\n[counter]\nsize = 42\n",
        &["check-config"],
        &[("JITTERD__HEARTBEAT__PERIOD", "250ms")],
    );
    assert_eq!(code, 0, "{stderr}");
    let effective: toml::Table = toml::from_str(&stdout).expect("check-config prints TOML");
    assert_eq!(effective["strategy"].as_str(), Some("threads-mutex"));
    assert_eq!(effective["counter"]["size"].as_integer(), Some(42));
    assert_eq!(effective["heartbeat"]["period"].as_str(), Some("250ms"));
    // Keys the file does not set keep the embedded default.
    assert_eq!(effective["web"]["listen_address"].as_str(), Some("127.0.0.1:9977"));
}

#[test]
fn embedded_default_round_trips_through_check_config() {
    let (code, stdout, _) = run(&["check-config"], &[]);
    assert_eq!(code, 0);
    let effective: toml::Table = toml::from_str(&stdout).expect("TOML");
    let (_, shipped, _) = run(&["print-default-config"], &[]);
    let shipped: toml::Table = toml::from_str(&shipped).expect("TOML");
    assert_eq!(effective, shipped, "the shipped default must state every key with its default value");
}

#[test]
fn version_and_help_exit_zero() {
    let (code, stdout, _) = run(&["--version"], &[]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("jitterd "), "{stdout}");
    let (code, stdout, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    assert!(stdout.contains("--config.file") && stdout.contains("check-config"), "{stdout}");
}

#[test]
fn bad_config_files() {
    let cases: &[(&str, &[u8], &[&str])] = &[
        ("malformed TOML", b"strategy = \"async\n", &["line 1", "jitterd.toml"]),
        ("unknown key", b"[counter]\nsizee = 3\n", &["counter.sizee", "expected `size`"]),
        ("unknown top-level key", b"bogus = 1\n", &["`bogus`", "strategy"]),
        ("wrong type", b"[counter]\nsize = \"big\"\n", &["counter.size", "integer"]),
        (
            "unknown strategy",
            b"strategy = \"fibers\"\n",
            &["strategy", "\"fibers\"", "threads-mutex", "async-blocking"],
        ),
        ("size 0", b"[counter]\nsize = 0\n", &["counter.size", "at least 1"]),
        ("size too big for memory", b"[counter]\nsize = 100000000000\n", &["counter.size", "GiB", "at most"]),
        ("negative size", b"[counter]\nsize = -5\n", &["counter.size"]),
        ("period 0s", b"[heartbeat]\nperiod = \"0s\"\n", &["heartbeat.period", "100us", "1h"]),
        ("negative period", b"[heartbeat]\nperiod = \"-1s\"\n", &["heartbeat.period", "\"-1s\"", "250ms"]),
        ("unparsable period", b"[heartbeat]\nperiod = \"soon\"\n", &["heartbeat.period", "\"soon\""]),
        ("period without unit", b"[heartbeat]\nperiod = 5\n", &["heartbeat.period", "unit"]),
        ("period above an hour", b"[heartbeat]\nperiod = \"2h\"\n", &["heartbeat.period", "1h"]),
        ("unknown schedule", b"[heartbeat]\nschedule = \"often\"\n", &["heartbeat.schedule", "absolute", "relative"]),
        ("bad log level", b"[log]\nlevel = \"loud\"\n", &["log.level", "debug"]),
        ("bad log format", b"[log]\nformat = \"xml\"\n", &["log.format", "json"]),
        ("malformed listen address", b"[web]\nlisten_address = \"1.2.3:x\"\n", &["web.listen_address", "host:port"]),
        ("bad telemetry path", b"[web]\ntelemetry_path = \"metrics\"\n", &["web.telemetry_path", "start with '/'"]),
        ("zero threshold", b"[alerts]\ndrift_threshold = \"0s\"\n", &["alerts.drift_threshold", "greater than 0"]),
        ("duplicate key", b"[counter]\nsize = 1\nsize = 2\n", &["duplicate key"]),
        ("not UTF-8", b"\xff\xfe", &["UTF-8"]),
    ];
    for (case, text, needles) in cases {
        assert_fails(case, with_file(text, &["check-config"], &[]), CONFIG, needles);
        // The daemon itself refuses the same input with the same code, before serving.
        if *case == "unknown strategy" {
            assert_fails(case, with_file(text, &["--web.listen-address", "127.0.0.1:0"], &[]), CONFIG, needles);
        }
    }
}

#[test]
fn unreadable_config_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.toml");
    let missing = missing.to_str().expect("path");
    assert_fails(
        "missing file",
        run(&["--config.file", missing, "check-config"], &[]),
        CONFIG,
        &[missing, "cannot read"],
    );
    let folder = dir.path().to_str().expect("path");
    assert_fails("directory", run(&["--config.file", folder, "check-config"], &[]), CONFIG, &["directory"]);
}

#[test]
fn bad_environment_overrides() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("JITTERD__COUNTER__SIZE", "ten", &["JITTERD__COUNTER__SIZE", "counter.size"]),
        ("JITTERD__HEARTBEAT__PERIOD", "-3ms", &["JITTERD__HEARTBEAT__PERIOD", "heartbeat.period", "\"-3ms\""]),
        ("JITTERD__HEARTBEAT__PERIODE", "1s", &["JITTERD__HEARTBEAT__PERIODE", "heartbeat.periode", "`period`"]),
        ("JITTERD__STRATEGY", "fast", &["JITTERD__STRATEGY", "\"fast\"", "threads-unsync"]),
        ("JITTERD__A__B__C", "1", &["JITTERD__A__B__C", "JITTERD__SECTION__KEY"]),
    ];
    for (name, value, needles) in cases {
        assert_fails(name, run(&["check-config"], &[(name, value)]), CONFIG, needles);
    }
}

#[test]
fn bad_command_lines() {
    assert_fails("unknown flag", run(&["--bogus"], &[]), USAGE, &["--bogus"]);
    assert_fails("unknown command", run(&["explode"], &[]), USAGE, &["explode"]);
    assert_fails(
        "malformed listen flag",
        run(&["--web.listen-address", "nope", "check-config"], &[]),
        USAGE,
        &["--web.listen-address", "\"nope\"", "host:port"],
    );
    assert_fails(
        "bad log level flag",
        run(&["--log.level", "loud", "check-config"], &[]),
        USAGE,
        &["--log.level", "loud"],
    );
    assert_fails(
        "bad log format flag",
        run(&["--log.format", "xml", "check-config"], &[]),
        USAGE,
        &["--log.format", "xml"],
    );
}

#[test]
fn listen_address_in_use_exits_69() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (code, _, stderr) = run(&["--web.listen-address", &addr], &[]);
    assert_eq!(code, UNAVAILABLE, "{stderr}");
    assert!(stderr.contains(&addr) && stderr.contains("web.listen_address"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn each_command_shows_only_its_own_options() {
    let help = |args: &[&str]| {
        let (code, stdout, stderr) = run(args, &[]);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        stdout
    };
    let compare = help(&["compare", "--help"]);
    assert!(compare.contains("--config.file") && compare.contains("--strategies"), "{compare}");
    for foreign in ["--web.listen-address", "--web.config.file", "--log.level", "--log.format"] {
        assert!(!compare.contains(foreign), "compare --help offers {foreign}:\n{compare}");
    }
    let healthcheck = help(&["healthcheck", "--help"]);
    assert!(healthcheck.contains("--web.listen-address") && healthcheck.contains("--web.config.file"));
    assert!(!healthcheck.contains("--log.level"), "{healthcheck}");
    let print = help(&["print-default-config", "--help"]);
    assert!(!print.contains("--config.file"), "{print}");
    let run_help = help(&["run", "--help"]);
    assert!(run_help.contains("--log.format") && run_help.contains("--web.listen-address"));

    // Before the command name, an option counts as the command's own where it takes it...
    let (code, stdout, _) = run(&["--log.level", "debug", "check-config"], &[]);
    assert_eq!(code, 0);
    assert!(stdout.contains("level = \"debug\""), "{stdout}");
    // ...and one it does not take is refused by name.
    assert_fails(
        "--web.listen-address before compare",
        run(&["--web.listen-address", "127.0.0.1:1", "compare"], &[]),
        USAGE,
        &["--web.listen-address", "compare"],
    );
    assert_fails(
        "log level on healthcheck",
        run(&["healthcheck", "--log.level", "debug"], &[]),
        USAGE,
        &["--log.level"],
    );
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, stdout, stderr) = run(&["completions", shell], &[]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(stdout.contains("compare") && stdout.contains("config.file"), "{shell}: {stdout}");
    }
    assert_fails("unknown shell", run(&["completions", "nosh"], &[]), USAGE, &["nosh", "bash"]);
    let (code, page, stderr) = run(&["man"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(page.contains(".TH jitterd 1") && page.contains("check\\-config"), "{page}");
}
