//! `heartbeat.timer_slack` and `heartbeat.priority` reach the heartbeat
//! threads, and a priority the process may not have is a warning, not a
//! failure.

use crate::common;

use std::time::Duration;

use crate::common::{Daemon, Start};

fn tuned(strategy: &str) -> String {
    format!("{}timer_slack = \"1ns\"\npriority = 10\n", common::config(strategy, "10ms"))
}

fn field(task: &std::path::Path, file: &str, key: &str) -> String {
    let text = std::fs::read_to_string(task.join(file)).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split(':').nth(1))
        .map_or_else(String::new, |v| v.trim().to_owned())
}

/// A thread's timer slack: `/proc/TID` is reachable though not listed.
fn timer_slack_ns(task: &std::path::Path) -> String {
    let tid = task.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    std::fs::read_to_string(format!("/proc/{tid}/timerslack_ns")).unwrap_or_default().trim().to_owned()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn slack_and_priority_reach_the_heartbeat_threads() {
    if !is_root() {
        crate::common::not_tested("SCHED_FIFO needs CAP_SYS_NICE; the warning path is tested beside it");
        return;
    }
    let daemon = Daemon::start(&tuned("threads-mutex-yield"));
    daemon.wait_for_metrics(Duration::from_secs(10), "beats", |m| m.get("jitterd_heartbeats_total") >= 3.0);
    for name in ["jitterd-heartbe", "jitterd-control"] {
        let threads = daemon.threads_named(name);
        assert_eq!(threads.len(), 1, "{name}");
        let task = &threads[0];
        // Recent kernels give real-time threads no slack at all: 0 is as good as 1 ns.
        assert!(["0", "1"].contains(&timer_slack_ns(task).as_str()), "{name} slack {}", timer_slack_ns(task));
        assert_eq!(field(task, "sched", "policy"), "1", "{name} runs SCHED_FIFO");
    }
    // The counter keeps normal scheduling: a real-time busy loop would own a core.
    let counter = &daemon.threads_named("jitterd-counter")[0];
    assert_eq!(field(counter, "sched", "policy"), "0");
    assert!(daemon.stderr_lines().iter().all(|l| !l.contains("SCHED_FIFO")), "no warning expected");
}

#[test]
fn async_heartbeat_shares_its_thread_so_priority_is_refused_with_a_warning() {
    let daemon = Daemon::start(&tuned("async"));
    daemon.wait_for_metrics(Duration::from_secs(10), "beats", |m| m.get("jitterd_heartbeats_total") >= 3.0);
    let runtime = &daemon.threads_named("jitterd-async")[0];
    assert_eq!(field(runtime, "sched", "policy"), "0", "the runtime thread also runs the counter");
    assert_eq!(timer_slack_ns(runtime), "1");
    // The control heartbeat runs at the main one's priority, not above it.
    let control = &daemon.threads_named("jitterd-control")[0];
    assert_eq!(field(control, "sched", "policy"), "0", "control at the main heartbeat's priority");
    assert_eq!(timer_slack_ns(control), "1");
    assert!(daemon.log_line("heartbeat.priority is not applied").is_some(), "{:?}", daemon.stderr_lines());
}

#[test]
fn priority_without_permission_is_a_warning() {
    if std::process::Command::new("setpriv").arg("--version").output().is_err() {
        crate::common::not_tested("setpriv (util-linux) is not installed");
        return;
    }
    let daemon = Daemon::start_with(Start {
        config: &tuned("threads-fair-mutex"),
        // No CAP_SYS_NICE and the default RLIMIT_RTPRIO of 0: SCHED_FIFO is refused.
        wrapper: &["setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice", "--"],
        ..Start::default()
    });
    daemon.wait_for_metrics(Duration::from_secs(10), "beats", |m| m.get("jitterd_heartbeats_total") >= 3.0);
    let warning = daemon.wait_for_log("cannot run the heartbeat at SCHED_FIFO priority 10", Duration::from_secs(5));
    assert_eq!(warning["level"].as_str(), Some("WARN"));
    let heartbeat = &daemon.threads_named("jitterd-heartbe")[0];
    assert_eq!(field(heartbeat, "sched", "policy"), "0");
}
