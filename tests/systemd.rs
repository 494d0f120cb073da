//! The systemd unit in `deploy/systemd/`: `systemd-analyze verify` has no
//! complaint (with ExecStart pointing at the built binary, which verify
//! requires to exist) and `systemd-analyze security --offline=yes` scores its
//! exposure at 2.0 or below; the figure is printed and must be the one
//! recorded in docs/operations.md.

use crate::common;

use std::path::Path;
use std::process::Command;

const UNIT: &str = "deploy/systemd/jitterd.service";
const INSTALLED_BINARY: &str = "/usr/local/bin/jitterd";

/// The unit as shipped, in a temporary directory, running the built binary.
fn unit_for_this_build() -> (tempfile::TempDir, std::path::PathBuf) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(UNIT)).expect("unit");
    assert!(text.contains(&format!("ExecStart={INSTALLED_BINARY} --config.file /etc/jitterd/jitterd.toml")));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jitterd.service");
    std::fs::write(&path, text.replace(INSTALLED_BINARY, common::BIN)).expect("write unit");
    (dir, path)
}

fn systemd_analyze(args: &[&str], unit: &Path) -> (bool, String, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .expect("systemd-analyze (Debian package systemd; scripts/test installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unit_has_the_contract_settings() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(UNIT)).expect("unit");
    for line in [
        "Type=notify",
        "WatchdogSec=30s",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "RestartPreventExitStatus=78",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter=@system-service",
    ] {
        assert!(text.lines().any(|l| l == line), "{UNIT} lacks {line}");
    }
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    let (_dir, unit) = unit_for_this_build();
    let (ok, stdout, stderr) = systemd_analyze(&["verify"], &unit);
    assert!(ok && stderr.trim().is_empty(), "systemd-analyze verify complains:\n{stdout}\n{stderr}");
}

#[test]
fn unit_exposure_is_at_most_two_and_documented() {
    let (_dir, unit) = unit_for_this_build();
    let (_, stdout, stderr) = systemd_analyze(&["security", "--offline=yes"], &unit);
    let figure = stdout
        .lines()
        .find_map(|line| line.split_once("Overall exposure level for jitterd.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no exposure level in:\n{stdout}\n{stderr}"))
        .to_owned();
    println!("systemd-analyze security --offline=yes: exposure {figure}");
    let exposure: f64 = figure.parse().expect("exposure is a number");
    assert!(exposure <= 2.0, "exposure {exposure} above 2.0:\n{stdout}");
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"))
        .expect("docs/operations.md");
    assert!(
        docs.contains(&format!("exposure level **{figure}**")),
        "docs/operations.md does not record exposure {figure}"
    );
}
