//! The operator's last mile (issue 18): HTTP limit keys, the served
//! runbook, the man page, config errors that name what is valid, and a
//! reload that changes nothing resetting nothing. Each against the real
//! binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{self, Daemon, Metrics, Start};

const CONFIG: i32 = 78;

/// One GET over a fresh connection: status and the whole response (head and body).
fn raw_get(addr: &str, path: &str, authorization: Option<&str>) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(addr) else { return (0, String::new()) };
    // Generous: a bcrypt check at nice 19 on a busy host can take seconds.
    stream.set_read_timeout(Some(Duration::from_secs(90))).expect("timeout");
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, response)
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn json(daemon: &Daemon, path: &str) -> serde_json::Value {
    let (status, body) = daemon.get(path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("{path}: {err}: {body}"))
}

fn log_count(daemon: &Daemon, message: &str) -> usize {
    daemon.stderr_lines().iter().filter(|line| line.contains(message)).count()
}

// --- a reload that changes nothing resets nothing ----------------------------

fn reload_config(drift_threshold: &str, strategy: &str) -> String {
    format!(
        "strategy = \"{strategy}\"\n[heartbeat]\nperiod = \"20ms\"\n[alerts]\ndrift_threshold = \"{drift_threshold}\"\n"
    )
}

/// Sends SIGHUP after writing `config` and waits until the `n`th reload succeeded.
fn reload(daemon: &Daemon, config: &str, n: f64) -> Metrics {
    daemon.write_config(config);
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_metrics(Duration::from_secs(20), "the reload", |m| {
        m.get("jitterd_config_reloads_total{result=\"success\"}") == n
    })
}

/// What the running experiment has measured, from `/api/v1` and `/metrics`.
struct Measured {
    running_seconds: f64,
    window_slots: f64,
    beats: f64,
    last_index: u64,
    /// The ring's slot `last_index`, as JSON: the same slot after a kept reload.
    last_slot: serde_json::Value,
    /// When the experiment began, as seconds after the process began
    /// serving: `uptime_seconds − running_seconds` of one answer, so no
    /// latency of the request enters it.
    began_seconds: f64,
}

/// `(uptime_seconds, running_seconds)` of one status answer.
fn times(status: &serde_json::Value) -> (f64, f64) {
    let running_seconds = status["experiment"]["running_seconds"].as_f64().expect("running_seconds");
    let uptime_seconds = status["uptime_seconds"].as_f64().expect("uptime_seconds");
    (uptime_seconds, running_seconds)
}

/// When the running experiment began, as in [`Measured::began_seconds`]:
/// all a restarted experiment is asked, since its ring may still be empty
/// (a starved `threads-mutex` heartbeat need not have beaten yet).
fn began_seconds(daemon: &Daemon) -> f64 {
    let (uptime_seconds, running_seconds) = times(&json(daemon, "/api/v1/status"));
    uptime_seconds - running_seconds
}

fn measured(daemon: &Daemon) -> Measured {
    let status = json(daemon, "/api/v1/status");
    let (uptime_seconds, running_seconds) = times(&status);
    let ring = json(daemon, "/api/v1/beats?heartbeat=main&limit=1000");
    let last_index = ring["last_index"].as_u64().expect("last_index");
    let slots = ring["slots"].as_array().expect("slots");
    let last_slot = slots.iter().find(|slot| slot["index"] == last_index).cloned().expect("the last slot");
    Measured {
        running_seconds,
        window_slots: status["window"]["main"]["slots"].as_f64().expect("window slots"),
        beats: status["heartbeats_total"].as_f64().expect("heartbeats_total"),
        last_index,
        last_slot,
        began_seconds: uptime_seconds - running_seconds,
    }
}

/// The experiment measured before went on: same ring, same grid, counts and time carried on.
fn assert_carried_on(daemon: &Daemon, before: &Measured, what: &str) -> Measured {
    let after = measured(daemon);
    // A restarted experiment begins later; a kept one began when it did.
    assert!(
        (after.began_seconds - before.began_seconds).abs() < 0.05,
        "{what}: the experiment began {} s after the start, before the reload {} s: it restarted",
        after.began_seconds,
        before.began_seconds
    );
    assert!(after.running_seconds > before.running_seconds, "{what}: its running time went back");
    assert!(after.beats >= before.beats, "{what}: heartbeats_total fell from {} to {}", before.beats, after.beats);
    assert!(after.window_slots >= before.window_slots, "{what}: the window summary lost slots");
    assert!(after.last_index >= before.last_index, "{what}: the ring started again");
    let ring = json(daemon, "/api/v1/beats?heartbeat=main&limit=1000");
    let slots = ring["slots"].as_array().expect("slots");
    let same = slots.iter().find(|slot| slot["index"] == before.last_index);
    // Its scheduled offset comes from the experiment's t0: drift is measured on the same grid.
    assert_eq!(same, Some(&before.last_slot), "{what}: the ring's slot {} changed", before.last_index);
    after
}

#[test]
fn a_reload_that_changes_nothing_keeps_the_experiment_and_a_new_threshold_applies_live() {
    let config = reload_config("100ms", "async");
    let daemon = Daemon::start(&config);
    daemon.wait_for_metrics(Duration::from_secs(20), "beats", |m| m.get("jitterd_heartbeats_total") >= 25.0);
    let before = measured(&daemon);

    reload(&daemon, &config, 1.0);
    daemon.wait_for_log("config reloaded; experiment kept", Duration::from_secs(5));
    let kept = assert_carried_on(&daemon, &before, "unchanged file");
    let drift = daemon.metrics();
    assert!(drift.get("jitterd_heartbeat_drift_seconds").is_finite(), "drift is exported");

    // A new threshold: shown at once, nothing reset.
    let m = reload(&daemon, &reload_config("77ms", "async"), 2.0);
    assert_eq!(m.get("jitterd_drift_threshold_seconds"), 0.077, "{}", m.text);
    assert_carried_on(&daemon, &kept, "changed threshold");
    assert_eq!(json(&daemon, "/api/v1/status")["drift"]["threshold_seconds"], 0.077);
    assert_eq!(log_count(&daemon, "experiment kept"), 2, "{:#?}", daemon.stderr_lines());
    assert_eq!(log_count(&daemon, "experiment restarted"), 0, "{:#?}", daemon.stderr_lines());
    assert_eq!(log_count(&daemon, "experiment stopped for reload"), 0, "{:#?}", daemon.stderr_lines());
}

#[test]
fn a_reload_with_a_new_strategy_restarts_the_experiment() {
    let daemon = Daemon::start(&reload_config("100ms", "async"));
    daemon.wait_for_metrics(Duration::from_secs(20), "beats", |m| m.get("jitterd_heartbeats_total") >= 25.0);
    std::thread::sleep(Duration::from_millis(500));
    let before = measured(&daemon);
    let m = reload(&daemon, &reload_config("100ms", "threads-mutex"), 1.0);
    assert_eq!(m.get("jitterd_experiment_info{schedule=\"absolute\",strategy=\"threads-mutex\"}"), 1.0);
    let line = daemon.wait_for_log("config reloaded; experiment restarted", Duration::from_secs(5));
    assert_eq!(line["changed"].as_str(), Some("strategy"), "{line}");
    // The new experiment began after the old one had run for at least what was read.
    let after = began_seconds(&daemon);
    assert!(
        after >= before.began_seconds + before.running_seconds - 0.05,
        "the experiment began {} s after the start, the old one at {} s and ran {} s: it was not restarted",
        after,
        before.began_seconds,
        before.running_seconds
    );
    assert_eq!(log_count(&daemon, "experiment kept"), 0, "{:#?}", daemon.stderr_lines());
}

// --- HTTP limit keys ---------------------------------------------------------

#[test]
fn bad_http_limits_exit_78_naming_the_key_and_the_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("jitterd.toml");
    let cases = [
        ("max_requests", "0", "from 1 to 10000"),
        ("max_requests", "10001", "from 1 to 10000"),
        ("max_requests", "\"many\"", "integer"),
        ("max_connections", "15", "from 16 to 1048576"),
        ("max_connections", "1048577", "from 16 to 1048576"),
        ("max_password_checks", "0", "from 1 to 1000"),
        ("max_password_checks", "1001", "from 1 to 1000"),
        ("max_password_checks", "-1", "max_password_checks"),
    ];
    let mut problems = Vec::new();
    for (key, value, needle) in cases {
        std::fs::write(&file, format!("[web]\n{key} = {value}\n")).expect("write");
        let path = file.to_str().expect("path");
        let (code, _, stderr) = common::run(&["check-config", "--config.file", path], &[]);
        if code != CONFIG || !stderr.contains(&format!("web.{key}")) || !stderr.contains(needle) {
            problems.push(format!("file {key} = {value}: exit {code}: {stderr}"));
        }
        let var = format!("JITTERD__WEB__{}", key.to_uppercase());
        let (code, _, stderr) = common::run(&["check-config"], &[(&var, value.trim_matches('"'))]);
        if code != CONFIG || !stderr.contains(&format!("web.{key}")) || !stderr.contains(&var) {
            problems.push(format!("{var}={value}: exit {code}: {stderr}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn max_connections_caps_open_connections_and_counts_what_it_sheds() {
    let daemon = Daemon::start(&format!("{}[web]\nmax_connections = 16\n", common::config("async", "100ms")));
    let limits = daemon.wait_for_log("HTTP limits", Duration::from_secs(5));
    assert_eq!(limits["max_connections"], 16, "{limits}");
    let stalled: Vec<TcpStream> = (0..60).map(|_| TcpStream::connect(&daemon.addr).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(300));
    let m = daemon.wait_for_metrics(Duration::from_secs(10), "connections shed", |m| {
        m.get("jitterd_http_rejected_total{reason=\"max_connections\"}") >= 40.0
    });
    let open = std::fs::read_dir(format!("/proc/{}/fd", daemon.pid())).map_or(0, Iterator::count);
    println!("{open} descriptors with 60 stalled clients and max_connections = 16");
    assert!(open <= 16 + 40, "{open} descriptors: the cap of 16 connections did not hold");
    assert_eq!(m.get("jitterd_http_rejected_total{reason=\"max_requests\"}"), 0.0);
    drop(stalled);
}

#[test]
fn a_reload_changes_the_http_limits_live() {
    let config = common::config("async", "100ms");
    let daemon = Daemon::start(&config);
    let stalled: Vec<TcpStream> = (0..60).map(|_| TcpStream::connect(&daemon.addr).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(daemon.metrics().get("jitterd_http_rejected_total{reason=\"max_connections\"}"), 0.0);
    let limited = format!("{config}[web]\nmax_connections = 16\nmax_requests = 7\n");
    let m = reload(&daemon, &limited, 1.0);
    let line = daemon.wait_for_log("HTTP limits changed", Duration::from_secs(5));
    assert_eq!((line["max_connections"].as_u64(), line["max_requests"].as_u64()), (Some(16), Some(7)), "{line}");
    assert!(m.get("jitterd_heartbeats_total") > 0.0);
    daemon.wait_for_metrics(Duration::from_secs(10), "connections shed to the new cap", |m| {
        m.get("jitterd_http_rejected_total{reason=\"max_connections\"}") >= 40.0
    });
    assert_eq!(log_count(&daemon, "experiment kept"), 1, "{:#?}", daemon.stderr_lines());
    drop(stalled);
}

/// bcrypt at cost 10 (tens of milliseconds, at nice 19) takes long enough
/// that requests for new credentials sent together overlap: with one
/// request served at once, the others get 503.
#[test]
fn max_requests_answers_503_and_counts_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let web = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 10).expect("bcrypt");
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: {hash}\n")).expect("write");
    let config = format!("{}[web]\nmax_requests = 1\nmax_password_checks = 50\n", common::config("async", "100ms"));
    let daemon = Daemon::start_with(Start {
        config: &config,
        args: &["--web.config.file", web.to_str().expect("path")],
        ..Start::default()
    });
    let guesses: Vec<_> = (0..8)
        .map(|i| {
            let addr = daemon.addr.clone();
            std::thread::spawn(move || raw_get(&addr, "/metrics", Some(&basic("prometheus", &format!("guess{i}")))))
        })
        .collect();
    let statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().expect("guess").0).collect();
    println!("eight new credentials at once, max_requests = 1: {statuses:?}");
    let refused = statuses.iter().filter(|&&s| s == 503).count();
    assert!(refused >= 1 && statuses.iter().all(|s| [401, 503].contains(s)), "{statuses:?}");
    let (status, response) = raw_get(&daemon.addr, "/metrics", Some(&basic("prometheus", "s3cret")));
    assert_eq!(status, 200, "{response:.300}");
    let m = Metrics::parse(body(&response));
    assert!(m.get("jitterd_http_rejected_total{reason=\"max_requests\"}") >= refused as f64, "{}", m.text);
}

// --- the runbook, served --------------------------------------------------------

/// The alert sections of docs/runbook.md, read here (not by the code under test).
fn runbook_alerts() -> Vec<String> {
    let runbook = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/runbook.md")).expect("runbook");
    runbook
        .lines()
        .filter_map(|line| line.strip_prefix("## Jitterd"))
        .map(|rest| format!("Jitterd{}", rest.trim()))
        .collect()
}

#[test]
fn the_runbook_is_served_with_an_anchor_per_alert_under_the_strict_policy() {
    let daemon = Daemon::start(&common::config("async", "100ms"));
    let (status, response) = raw_get(&daemon.addr, "/runbook", None);
    assert_eq!(status, 200, "{response:.300}");
    let head = response.split_once("\r\n\r\n").map_or("", |(head, _)| head).to_ascii_lowercase();
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(head.contains("content-security-policy: default-src 'none'"), "{head}");
    let page = body(&response);
    let alerts = runbook_alerts();
    assert!(alerts.len() >= 5, "{alerts:?}");
    for alert in alerts {
        assert!(page.contains(&format!("id=\"{}\"", alert.to_lowercase())), "no anchor for {alert}");
    }
    assert!(!page.contains("style=") && !page.contains("<script"), "inline style or script under the CSP");
    let (status, css) = raw_get(&daemon.addr, "/runbook.css", None);
    assert!(status == 200 && css.to_ascii_lowercase().contains("content-type: text/css"), "{css:.300}");
}

#[test]
fn the_runbook_sits_behind_basic_auth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let web = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: {hash}\n")).expect("write");
    let daemon = Daemon::start_with(Start {
        config: &common::config("async", "100ms"),
        args: &["--web.config.file", web.to_str().expect("path")],
        ..Start::default()
    });
    assert_eq!(raw_get(&daemon.addr, "/runbook", None).0, 401);
    assert_eq!(raw_get(&daemon.addr, "/runbook.css", None).0, 401);
    assert_eq!(raw_get(&daemon.addr, "/runbook", Some(&basic("prometheus", "s3cret"))).0, 200);
    assert_eq!(raw_get(&daemon.addr, "/-/healthy", None).0, 200);
}

// --- the man page ----------------------------------------------------------------

#[test]
fn the_man_page_documents_every_key_and_renders_without_warnings() {
    let (code, page, stderr) = common::run(&["man"], &[]);
    assert_eq!(code, 0, "{stderr}");
    for section in
        ["COMMANDS", "CONFIGURATION", "ENVIRONMENT", "FILES", "SIGNALS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
    {
        assert!(page.contains(&format!("\n.SH {section}\n")), "no {section}");
    }
    // Every key of the default config, set or commented out, with its variable.
    let (_, default, _) = common::run(&["print-default-config"], &[]);
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in default.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((name, _)) = line.trim_start_matches("# ").split_once(" = ")
            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            keys.push(if section.is_empty() { name.to_owned() } else { format!("{section}.{name}") });
        }
    }
    assert!(keys.len() >= 25, "{keys:?}");
    for key in &keys {
        let var = format!("JITTERD__{}", key.replace('.', "__").to_uppercase()).replace('-', "\\-");
        assert!(page.contains(&var), "{key} ({var}) is not in the man page");
    }
    for code in ["64", "69", "78", "130"] {
        assert!(page.contains(&format!(".TP\n\\fB{code}\\fR\n")), "exit status {code} missing");
    }
    render_without_warnings(&page);
}

/// `man --warnings -l -`, as Debian's lintian runs it, when man is installed.
fn render_without_warnings(page: &str) {
    let child = std::process::Command::new("man")
        .args(["--warnings", "-l", "-"])
        .env("MANWIDTH", "80")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        common::not_tested("man is not installed: the page's rendering was not checked");
        return;
    };
    child.stdin.take().expect("stdin").write_all(page.as_bytes()).expect("write page");
    let out = child.wait_with_output().expect("man");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "man failed: {stderr}");
    assert!(stderr.trim().is_empty(), "man warns: {stderr}");
    // Bold and underline come as overstrikes (a character, backspace, itself).
    let mut shown = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            shown.pop();
        } else {
            shown.push(c);
        }
    }
    assert!(shown.contains("CONFIGURATION") && shown.contains("max_password_checks = 5"), "{shown:.2000}");
}

// --- every config error names what is valid -----------------------------------------

#[test]
fn unknown_sections_and_keys_name_what_is_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("jitterd.toml");
    let sections = ["`counter`", "`heartbeat`", "`explain`", "`metrics`", "`web`", "`log`"];
    let mut problems = Vec::new();
    let mut expect = |case: &str, (code, _, stderr): (i32, String, String), needles: &[&str]| {
        let empty =
            stderr.contains("one of \n") || stderr.trim_end().ends_with("one of") || stderr.contains("one of ;");
        if code != CONFIG || empty || needles.iter().any(|needle| !stderr.contains(needle)) {
            problems.push(format!("{case}: exit {code}: {stderr}"));
        }
    };
    let (code, _, stderr) = common::run(&["check-config"], &[("JITTERD__EXPLAIN__THRESHOLD", "1ms")]);
    assert_eq!(code, 0, "the explain section exists: {stderr}");
    let env = |name: &str| common::run(&["check-config"], &[(name, "1")]);
    expect("env unknown section", env("JITTERD__NOPE__KEY"), &[&["unknown section [nope]"][..], &sections].concat());
    expect("env unknown top-level key", env("JITTERD__NOPE"), &[&["`strategy`"][..], &sections].concat());
    expect("env unknown key", env("JITTERD__EXPLAIN__NOPE"), &["explain.nope", "`threshold`"]);
    expect("env section as a value", env("JITTERD__WEB"), &["`web`", "`max_requests`"]);
    expect("env key as a section", env("JITTERD__STRATEGY__X"), &["`strategy`", "not a section"]);
    let path = file.to_str().expect("path").to_owned();
    let mut file_case = |case: &str, text: &str, needles: &[&str]| {
        std::fs::write(&file, text).expect("write");
        expect(case, common::run(&["check-config", "--config.file", &path], &[]), needles);
    };
    file_case("file unknown section", "[nope]\nkey = 1\n", &[&["unknown section [nope]"][..], &sections].concat());
    file_case("file unknown key in a section", "[web]\nnope = 1\n", &["web.nope", "`max_password_checks`"]);
    file_case("file unknown top-level key", "nope = 1\n", &[&["`strategy`"][..], &sections].concat());
    file_case("file unknown sub-table", "[web.nope]\nx = 1\n", &["web.nope", "`listen_address`"]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
