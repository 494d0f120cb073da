//! The daemon's life under real signals: the meter tells the truth about a
//! stall, SIGHUP reloads (and refuses broken configs), a second stop signal
//! forces exit 130, and systemd hears READY/RELOADING/STOPPING/WATCHDOG.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::common::{Daemon, Metrics, Start};

/// Freeze the whole daemon for a known time: the lateness histogram, the
/// missed beats and the drift must each show what that stall implies.
///
/// Lower bounds follow from the stall alone. Upper bounds follow from the
/// stall as measured (a sleep can overshoot) plus what a host may add once
/// the daemon runs again, so they are asserted only on a quiet host.
#[test]
fn the_meter_tells_the_truth_about_a_stall() {
    let daemon = Daemon::start(&common::config("async", "100ms"));
    let load = common::HostLoad::start(&[daemon.pid()]);
    let before =
        daemon.wait_for_metrics(Duration::from_secs(10), "five beats", |m| m.get("jitterd_heartbeats_total") >= 5.0);
    let stopped = Instant::now();
    daemon.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(1000));
    daemon.signal(libc::SIGCONT);
    let stall = stopped.elapsed().as_secs_f64();
    let after = daemon.wait_for_metrics(Duration::from_secs(10), "beats after the stall", |m| {
        m.get("jitterd_heartbeats_total") >= before.get("jitterd_heartbeats_total") + 4.0
    });
    let grew = |m: &Metrics, b: &Metrics, name: &str| m.get(name) - b.get(name);

    // The slots that passed meanwhile were skipped and counted: about ten.
    let missed = grew(&after, &before, "jitterd_heartbeat_missed_total");
    assert!(missed >= 6.0, "missed {missed} beats for a {stall:.3} s stall at 100 ms");
    load.assert_if_quiet(
        missed <= (stall / 0.1).ceil() + 2.0,
        &format!("missed {missed} beats for a {stall:.3} s stall at 100 ms"),
    );
    // Every slot counts: the beat that caught the stall (most of the second
    // late) and the slots it ran past, a period less late each, so those over
    // 0.262 s are about 0.75 s worth of slots.
    let late_slots = after.count_above("jitterd_heartbeat_lateness_seconds", "0.262")
        - before.count_above("jitterd_heartbeat_lateness_seconds", "0.262");
    assert!(late_slots >= 4.0, "{late_slots} slots over 0.262 s for a 1 s stall:\n{}", after.text);
    assert_eq!(
        after.get("jitterd_heartbeat_lateness_seconds_count"),
        after.get("jitterd_heartbeats_total") + after.get("jitterd_heartbeat_missed_total")
    );
    // And they show up in drift: about one second more.
    let drift = grew(&after, &before, "jitterd_heartbeat_drift_seconds");
    assert!(drift >= 0.7, "drift grew by {drift} s for a {stall:.3} s stall");
    load.assert_if_quiet(drift <= stall + 0.5, &format!("drift grew by {drift} s for a {stall:.3} s stall"));

    // Thresholds log on crossing and on recovery, never once per beat: the
    // jitter lines alternate, crossed then back, and the stall's crossing
    // is one of them (a busy host may add a crossing of its own).
    daemon.wait_for_log("heartbeat jitter back within its threshold", Duration::from_secs(5));
    let lines = daemon.stderr_lines();
    let jitter: Vec<bool> = lines
        .iter()
        .filter_map(|l| {
            if l.contains("heartbeat jitter crossed its threshold") {
                Some(true)
            } else if l.contains("heartbeat jitter back within its threshold") {
                Some(false)
            } else {
                None
            }
        })
        .collect();
    let alternates = jitter.iter().enumerate().all(|(i, &crossed)| crossed == i.is_multiple_of(2));
    assert!(alternates && !jitter.is_empty(), "jitter lines do not alternate: {lines:#?}");
    load.assert_if_quiet(jitter.len() == 2, &format!("one jitter crossing and one recovery ({} lines)", jitter.len()));
    // Drift gained only grows within the 10-minute window: crossed once, never back.
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("heartbeat drift gained within 10m crossed its threshold"), 1, "{lines:#?}");
    assert_eq!(count("heartbeat drift gained within 10m back within"), 0, "{lines:#?}");
    assert!(after.get("jitterd_drift_window_seconds") >= 0.7, "{}", after.text);
}

#[test]
fn sighup_applies_a_changed_config() {
    let daemon = Daemon::start(&common::config("async", "100ms"));
    daemon.wait_for_metrics(Duration::from_secs(10), "a beat", |m| m.get("jitterd_heartbeats_total") >= 1.0);
    daemon.write_config(&common::config("threads-mutex-yield", "50ms"));
    daemon.signal(libc::SIGHUP);
    let m = daemon.wait_for_metrics(Duration::from_secs(10), "the reload", |m| {
        m.get("jitterd_config_reloads_total{result=\"success\"}") == 1.0
    });
    assert_eq!(m.get("jitterd_heartbeat_period_seconds"), 0.05);
    assert_eq!(m.get("jitterd_experiment_info{schedule=\"absolute\",strategy=\"threads-mutex-yield\"}"), 1.0);
    assert!(!m.text.contains("strategy=\"async\""), "the old experiment_info series must go");
    assert_eq!(m.get("jitterd_config_last_reload_successful"), 1.0);
    let beats = m.get("jitterd_heartbeats_total");
    daemon.wait_for_metrics(Duration::from_secs(10), "beats at the new period", |m| {
        m.get("jitterd_heartbeats_total") >= beats + 5.0
    });
}

#[test]
fn sighup_with_a_broken_config_keeps_the_experiment() {
    let daemon = Daemon::start(&common::config("threads-mutex", "100ms"));
    daemon.wait_for_metrics(Duration::from_secs(10), "a beat", |m| m.get("jitterd_heartbeats_total") >= 1.0);
    for (n, broken) in ["strategy = \"threads-mutex\n", "[counter]\nsize = 0\n"].iter().enumerate() {
        daemon.write_config(broken);
        daemon.signal(libc::SIGHUP);
        let m = daemon.wait_for_metrics(Duration::from_secs(10), "the failed reload", |m| {
            m.get("jitterd_config_reloads_total{result=\"failure\"}") == (n + 1) as f64
        });
        assert_eq!(m.get("jitterd_config_last_reload_successful"), 0.0);
        assert_eq!(m.get("jitterd_config_reloads_total{result=\"success\"}"), 0.0);
        assert_eq!(m.get("jitterd_experiment_info{schedule=\"absolute\",strategy=\"threads-mutex\"}"), 1.0);
        let beats = m.get("jitterd_heartbeats_total");
        daemon
            .wait_for_metrics(Duration::from_secs(10), "beats going on", |m| m.get("jitterd_heartbeats_total") > beats);
    }
    assert!(daemon.log_line("config reload failed").is_some(), "the failure is logged");
}

#[test]
fn a_second_stop_signal_forces_exit_130() {
    // Long passes make the first stop take a while, so the second lands during it.
    let config = format!("{}[counter]\nsize = 30000000\n", common::config("threads-mutex", "10ms"));
    let mut daemon = Daemon::start(&config);
    daemon.wait_for_metrics(Duration::from_secs(20), "a counter pass", |m| m.get("jitterd_array_passes_total") >= 1.0);
    // Two different signals: two of the same may merge into one.
    daemon.signal(libc::SIGINT);
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(5)).expect("exit");
    assert_eq!(status.code(), Some(130), "{:?}", daemon.stderr_lines());
}

#[test]
fn sigint_stops_cleanly() {
    let mut daemon = Daemon::start(&common::config("threads-mutex-yield", "100ms"));
    daemon.wait_for_metrics(Duration::from_secs(10), "a beat", |m| m.get("jitterd_heartbeats_total") >= 1.0);
    let sent = Instant::now();
    daemon.signal(libc::SIGINT);
    let status = daemon.wait_exit(Duration::from_secs(5)).expect("exit");
    assert_eq!(status.code(), Some(0));
    assert!(sent.elapsed() < Duration::from_secs(1));
    assert!(daemon.log_line("jitterd stopped").is_some());
}

/// What systemd would hear on `NOTIFY_SOCKET`.
struct NotifySocket {
    socket: UnixDatagram,
    _dir: tempfile::TempDir,
    path: String,
}

impl NotifySocket {
    fn new() -> NotifySocket {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind notify socket");
        socket.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        NotifySocket { socket, path: path.to_str().expect("path").to_owned(), _dir: dir }
    }

    /// Waits for a datagram containing `state`; returns every datagram seen meanwhile.
    fn wait_for(&self, state: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                let found = message.lines().any(|l| l == state);
                seen.push(message);
                if found {
                    return seen;
                }
            }
        }
        panic!("no {state} within {timeout:?}; saw {seen:?}");
    }
}

#[test]
fn systemd_notify_protocol() {
    let notify = NotifySocket::new();
    let mut daemon = Daemon::start_with(Start {
        config: &common::config("async", "50ms"),
        env: &[("NOTIFY_SOCKET", &notify.path), ("WATCHDOG_USEC", "200000")],
        ..Start::default()
    });
    notify.wait_for("READY=1", Duration::from_secs(5));
    notify.wait_for("WATCHDOG=1", Duration::from_secs(5));
    daemon.signal(libc::SIGHUP);
    let seen = notify.wait_for("RELOADING=1", Duration::from_secs(5));
    assert!(seen.last().is_some_and(|m| m.contains("MONOTONIC_USEC=")), "{seen:?}");
    notify.wait_for("READY=1", Duration::from_secs(5));
    daemon.signal(libc::SIGTERM);
    notify.wait_for("STOPPING=1", Duration::from_secs(5));
    assert_eq!(daemon.wait_exit(Duration::from_secs(5)).and_then(|s| s.code()), Some(0));
}
