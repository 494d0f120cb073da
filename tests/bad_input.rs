//! Bad input, systematically, fed to the real binary and to the config
//! loader: whatever a user gets wrong ends in its exit code and a message
//! that names the offending key or value, never a panic or a hang. By theme:
//! [`table`], a table of broken config files, paths, environment overrides
//! and command lines; [`misspelled_keys`], every config key misspelled once,
//! in the file and in the environment; [`random_config`], a property test
//! that feeds random TOML and environment values to the loader in-process.

mod misspelled_keys;
mod random_config;
mod table;

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common;

const OK: i32 = 0;
const USAGE: i32 = 64;
const CONFIG: i32 = 78;

/// Runs the binary with a time limit (a hang is a failure too): code, stdout, stderr.
fn run(args: Vec<OsString>, env: Vec<(OsString, OsString)>) -> (i32, String, String) {
    let mut command = Command::new(common::BIN);
    command
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn jitterd");
    let status = common::wait_child(&mut child, Duration::from_secs(10));
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("output");
    let code = match status {
        Some(status) => status.code().unwrap_or(-1),
        None => -2,
    };
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// What is wrong with one run, for a report of every case at once: the
/// exit code if not `expected`, a panic, each needle stderr lacks.
fn check(case: &str, (code, _, stderr): (i32, String, String), expected: i32, needles: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    if code != expected {
        problems.push(format!("{case}: exit code {code}, expected {expected}; stderr: {stderr}"));
    }
    if code == 101 || stderr.contains("panicked") {
        problems.push(format!("{case}: panicked: {stderr}"));
    }
    for needle in needles {
        if !stderr.contains(needle) {
            problems.push(format!("{case}: stderr lacks {needle:?}: {stderr}"));
        }
    }
    problems
}
