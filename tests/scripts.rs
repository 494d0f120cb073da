//! The load and soak scripts in their short settings, against the binary
//! under test: they run, and what they report holds (no HTTP errors under
//! wrk; every strategy beats, stops with 0, and only threads-unsync sees
//! inconsistent checks). The long settings are run by hand; their figures
//! are in docs/hardening.md.

use crate::common;

use std::process::Command;

fn script(name: &str, args: &[&str]) -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/");
    let out = Command::new(format!("{path}{name}"))
        .args(args)
        .args(["--json", "-"])
        .env("JITTERD_BIN", common::BIN)
        .output()
        .unwrap_or_else(|err| panic!("run scripts/{name}: {err}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    assert!(out.status.success(), "scripts/{name} failed ({}):\n{stderr}\n{stdout}", out.status);
    serde_json::from_str(&stdout).unwrap_or_else(|err| panic!("scripts/{name} printed no JSON ({err}): {stdout}"))
}

#[test]
fn soak_short() {
    let _alone = crate::common::alone();
    let report = script("soak", &["--duration", "3s", "--warmup", "1s"]);
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), 8, "every strategy: {report}");
    for r in results {
        let strategy = r["strategy"].as_str().expect("strategy");
        assert_eq!(r["exit_code"], 0, "{strategy}: {r}");
        assert!(r["beats"].as_u64().is_some_and(|b| b >= 100), "{strategy}: {r}");
        if strategy != "threads-unsync" {
            assert_eq!(r["inconsistent"], 0, "{strategy}: {r}");
        }
        assert!(r["rss_start_bytes"].as_u64().is_some_and(|b| b > 0), "{strategy}: {r}");
        // How much CPU it got depends on the host; that it was measured is what must hold.
        assert!(r["cores"]["jitterd"].as_f64().is_some_and(|c| c > 0.0), "{strategy}: {r}");
    }
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(0), "{report}");
}

#[test]
fn load_short() {
    let _alone = crate::common::alone();
    let report = script("load", &["--duration", "3s"]);
    let wrk = &report["wrk"];
    assert!(wrk["requests"].as_u64().is_some_and(|n| n > 100), "{report}");
    assert_eq!(wrk["errors"], 0, "{report}");
    assert_eq!(wrk["non_2xx"], 0, "{report}");
    assert!(report["quiet"]["beats"].as_u64().is_some_and(|n| n > 0), "{report}");
    assert!(report["loaded"]["beats"].as_u64().is_some_and(|n| n > 0), "{report}");
    // The host's load is reported with the figures: the counter keeps about
    // a core busy; what everything else did is a number, whatever it is.
    for window in ["quiet", "loaded"] {
        let cores = &report[window]["cores"];
        assert!(cores["jitterd"].as_f64().is_some_and(|c| c > 0.0), "{window}: {report}");
        assert!(cores["other"].as_f64().is_some_and(|c| c >= 0.0), "{window}: {report}");
    }
    assert_eq!(report["exit_code"], 0, "{report}");
}
