//! The alert and recording rules in `deploy/prometheus/` under `promtool`:
//! `check rules`, the unit tests of `test rules`, and `check metrics` on a
//! live scrape of the real daemon; and the alerts against the conventions
//! of monitoring mixins: each has a `for`, a severity (critical only where
//! someone must act now), a summary the same for every instance, an
//! absolute runbook URL to its own section of docs/runbook.md (as jitterd
//! serves it at `/runbook`), and test cases where it fires and where it
//! must not.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PROMTOOL: &str = "promtool";

fn prometheus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus")
}

/// Runs promtool in `deploy/prometheus`: success, stdout and stderr.
fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(PROMTOOL)
        .args(args)
        .current_dir(prometheus_dir())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/test installs it)");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    }
    let out = child.wait_with_output().expect("promtool output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rules_pass_promtool_check() {
    let (ok, stdout, stderr) = promtool(&["check", "rules", "jitterd.rules.yml"], None);
    assert!(ok, "promtool check rules failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("SUCCESS"), "{stdout}");
}

#[test]
fn rules_pass_their_unit_tests() {
    let (ok, stdout, stderr) = promtool(&["test", "rules", "jitterd.rules.test.yml"], None);
    assert!(ok, "promtool test rules failed:\n{stdout}\n{stderr}");
}

/// The alerts that may page. Everything else is a ticket (warning) or context (info).
const CRITICAL: &[&str] = &["JitterdHeartbeatStalled"];

#[test]
fn every_alert_follows_the_conventions_and_has_a_firing_and_a_quiet_case() {
    let rules: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(prometheus_dir().join("jitterd.rules.yml")).expect("rules"))
            .expect("rules parse");
    let tests: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(prometheus_dir().join("jitterd.rules.test.yml")).expect("rule tests"),
    )
    .expect("rule tests parse");
    let runbook = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runbook.md"))
        .expect("docs/runbook.md");
    let cases: Vec<&serde_norway::Value> = tests["tests"]
        .as_sequence()
        .expect("tests")
        .iter()
        .flat_map(|test| test["alert_rule_test"].as_sequence().into_iter().flatten())
        .collect();
    let mut alerts = Vec::new();
    for rule in
        rules["groups"].as_sequence().expect("groups").iter().flat_map(|g| g["rules"].as_sequence().expect("rules"))
    {
        let Some(alert) = rule["alert"].as_str() else { continue };
        alerts.push(alert);
        assert!(rule["for"].as_str().is_some(), "{alert} has no for: one bad evaluation would notify");
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        assert!(["critical", "warning", "info"].contains(&severity), "{alert}: severity {severity:?}");
        assert_eq!(severity == "critical", CRITICAL.contains(&alert), "{alert} is {severity}: only {CRITICAL:?} page");
        for annotation in ["summary", "description", "runbook_url"] {
            assert!(rule["annotations"][annotation].as_str().is_some(), "{alert} lacks the {annotation} annotation");
        }
        // Alertmanager groups alerts by name: one summary must read for all of them.
        let summary = rule["annotations"]["summary"].as_str().unwrap_or_default();
        assert!(!summary.contains("{{"), "{alert}: the summary differs per instance: {summary}");
        let description = rule["annotations"]["description"].as_str().unwrap_or_default();
        assert!(description.contains("$labels.instance") && description.contains("$value"), "{alert}: {description}");
        // The mixin's default: the runbook the instance serves (GET /runbook).
        let url = rule["annotations"]["runbook_url"].as_str().unwrap_or_default();
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{alert}: runbook_url {url} is not absolute"
        );
        assert!(url.contains("/runbook#"), "{alert}: runbook_url {url} is not the served runbook");
        let section = url.rsplit_once('#').map(|(_, section)| section).unwrap_or_default();
        assert_eq!(section, alert.to_lowercase(), "{alert}: runbook_url {url}");
        assert!(runbook.contains(&format!("\n## {alert}\n")), "docs/runbook.md has no section {alert}");

        let mine = || cases.iter().filter(|case| case["alertname"].as_str() == Some(alert));
        assert!(
            mine().any(|case| case["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty())),
            "{alert} has no test case where it fires"
        );
        assert!(
            mine().any(|case| case["exp_alerts"].as_sequence().is_some_and(Vec::is_empty)),
            "{alert} has no test case where it must not fire"
        );
    }
    assert!(alerts.len() >= 9, "only {} alerts", alerts.len());
    assert!(alerts.contains(&"JitterdRestartLoop"), "no alert catches a restart loop");
}

#[test]
fn live_scrape_passes_promtool_check_metrics() {
    let daemon = common::Daemon::start(&common::config("async", "100ms"));
    // Let a few beats land so the histograms carry observations.
    let metrics = daemon.wait_for_metrics(std::time::Duration::from_secs(10), "three heartbeats", |m| {
        m.get("jitterd_heartbeats_total") >= 3.0
    });
    // promtool exits 3 for lint findings, so the output decides too.
    let (ok, stdout, stderr) = promtool(&["check", "metrics"], Some(&metrics.text));
    let complaints: Vec<&str> = stdout.lines().chain(stderr.lines()).map(str::trim).filter(|l| !l.is_empty()).collect();
    assert!(ok && complaints.is_empty(), "promtool check metrics complains:\n{}", complaints.join("\n"));
}
