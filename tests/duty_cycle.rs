//! `counter.duty_cycle` below 1, run for real: in every strategy, at a
//! tenth of a 100 ms period, heartbeats and counter passes keep coming,
//! checks stay consistent (except under `threads-unsync`, which may tear),
//! the gauge says the setting, the process uses a fraction of a core, and
//! SIGTERM stops it within a second, also while the counter sleeps a long
//! rest; under `threads-channel` a beat later than its window is answered at
//! once, not at the next window; and windows shorter than a wake-up (the
//! shortest period) still run the counter.
//!
//! The CPU bound is generous (0.6 cores, where a counter flat out takes a
//! whole one): the 2-core host is shared. The figure the setting is meant
//! to reach (about 0.25 cores at most) is measured in docs/benchmarks.md.

use std::time::{Duration, Instant};

use crate::common::{self, Daemon, Metrics};

/// Loose enough for a shared 2-core host, tight enough that a counter flat
/// out (a whole core) fails it.
const MAX_CORES: f64 = 0.6;

fn config(strategy: &str, period: &str, schedule: &str) -> String {
    format!(
        "strategy = \"{strategy}\"\n[counter]\nduty_cycle = 0.1\n[heartbeat]\nperiod = \"{period}\"\nschedule = \"{schedule}\"\n"
    )
}

/// CPU time the process has used so far (user + system), from `/proc/<pid>/stat`.
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    // The command name may hold spaces: count the fields after its closing parenthesis.
    let (_, fields) = stat.rsplit_once(") ").expect("stat has a command name");
    let fields: Vec<&str> = fields.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf reads a constant of the system.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100).max(1);
    Duration::from_nanos(ticks * 1_000_000_000 / per_second)
}

fn exercise(strategy: &str, schedule: &str) {
    let _alone = crate::common::alone();
    let daemon = Daemon::start(&config(strategy, "100ms", schedule));
    let first = daemon
        .wait_for_metrics(Duration::from_secs(10), "two heartbeats", |m| m.get("jitterd_heartbeats_total") >= 2.0);
    assert_eq!(first.get("jitterd_duty_cycle_ratio"), 0.1, "{strategy}: the gauge");

    // Measure CPU once set-up (the array's allocation) is behind us.
    let (cpu_before, wall_before) = (cpu_time(daemon.pid()), Instant::now());
    std::thread::sleep(Duration::from_millis(1500));
    let measured = daemon.metrics();
    let cores = (cpu_time(daemon.pid()) - cpu_before).as_secs_f64() / wall_before.elapsed().as_secs_f64();
    println!(
        "{strategy} ({schedule}): {cores:.3} cores at duty cycle 0.1, 100 ms; {} beats, {} passes in {:?}",
        measured.get("jitterd_heartbeats_total") - first.get("jitterd_heartbeats_total"),
        measured.get("jitterd_array_passes_total") - first.get("jitterd_array_passes_total"),
        wall_before.elapsed()
    );
    assert!(cores < MAX_CORES, "{strategy} ({schedule}): {cores:.3} cores at duty cycle 0.1");

    // Beats and passes go on: waited for, not expected at a pace.
    let later = daemon.wait_for_metrics(Duration::from_secs(10), "five more beats and a pass", |m| {
        m.get("jitterd_heartbeats_total") >= first.get("jitterd_heartbeats_total") + 5.0
            && m.get("jitterd_array_passes_total") > first.get("jitterd_array_passes_total")
    });
    let beats = later.get("jitterd_heartbeats_total");
    assert_eq!(
        later.get("jitterd_heartbeat_lateness_seconds_count"),
        beats + later.get("jitterd_heartbeat_missed_total"),
        "{strategy}: every slot counts"
    );
    let inconsistent = later.get("jitterd_consistency_checks_total{result=\"inconsistent\"}");
    let consistent = later.get("jitterd_consistency_checks_total{result=\"consistent\"}");
    // Counted with its beat, from one snapshot: every scrape has as many.
    assert_eq!(consistent + inconsistent, beats, "{strategy}: one check per beat");
    if strategy != "threads-unsync" {
        assert_eq!(inconsistent, 0.0, "{strategy}: inconsistent reads");
    }
    let (status, _) = daemon.get("/-/ready");
    assert_eq!(status, 200, "{strategy}: not ready while beating");
    common::stop_within_a_second(daemon, strategy);
}

#[test]
fn every_strategy_beats_on_a_fraction_of_a_core() {
    for strategy in common::strategy_names() {
        exercise(strategy, "absolute");
    }
}

/// Under the relative schedule the windows follow each beat's published
/// due time; the two strategies whose counter answers the heartbeat itself
/// (`threads-channel`) or shares its thread (`async`).
#[test]
fn relative_windows_follow_the_heartbeat() {
    for strategy in ["threads-channel", "async"] {
        exercise(strategy, "relative");
    }
}

/// At a 2 s period the counter sleeps 1.8 s of every 2: SIGTERM then finds
/// it asleep (before its first window, here) and must still end it at once.
#[test]
fn sigterm_ends_a_long_rest() {
    let _alone = crate::common::alone();
    // They all sleep, so they can sleep side by side.
    let daemons: Vec<(Daemon, &str)> = common::strategy_names()
        .map(|strategy| (Daemon::start(&config(strategy, "2s", "absolute")), strategy))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let sent: Vec<(Daemon, &str, Instant)> = daemons
        .into_iter()
        .map(|(daemon, strategy)| {
            daemon.signal(libc::SIGTERM);
            (daemon, strategy, Instant::now())
        })
        .collect();
    for (mut daemon, strategy, sent) in sent {
        let status = daemon.wait_exit(Duration::from_secs(5)).expect("jitterd did not exit");
        assert_eq!(status.code(), Some(0), "{strategy}: exit status");
        assert!(sent.elapsed() < Duration::from_secs(1), "{strategy}: took {:?} to stop", sent.elapsed());
    }
}

/// At the shortest period a window of a tenth (10 µs) is shorter than a
/// pass and than the counter's own wake-up, so the counter wakes after the
/// window it slept for: it must still run (a pass per window), not go back
/// to sleep for ever later windows.
#[test]
fn windows_shorter_than_a_wake_up_still_run_the_counter() {
    let _alone = crate::common::alone();
    for strategy in ["async", "threads-mutex"] {
        let daemon = Daemon::start(&config(strategy, "100us", "absolute"));
        let first = daemon
            .wait_for_metrics(Duration::from_secs(10), "heartbeats", |m| m.get("jitterd_heartbeats_total") >= 100.0);
        std::thread::sleep(Duration::from_secs(1));
        let later = daemon.metrics();
        let passes = later.get("jitterd_array_passes_total") - first.get("jitterd_array_passes_total");
        println!("{strategy}: {passes} passes in a second at 100 µs");
        // About 10,000 (one a window); a counter that keeps missing its
        // windows manages a few dozen.
        assert!(passes >= 200.0, "{strategy}: only {passes} passes in a second at 100 µs");
        common::stop_within_a_second(daemon, strategy);
    }
}

/// Heartbeat observations above `seconds` (the first bucket bound at or above it).
fn count_above(metrics: &Metrics, histogram: &str, seconds: f64) -> f64 {
    let prefix = format!("{histogram}_bucket{{le=\"");
    let bound = metrics
        .series
        .keys()
        .filter_map(|series| series.strip_prefix(&prefix)?.strip_suffix("\"}"))
        .filter(|le| le.parse::<f64>().is_ok_and(|le| le >= seconds))
        .min_by(|a, b| a.parse::<f64>().unwrap_or(f64::MAX).total_cmp(&b.parse::<f64>().unwrap_or(f64::MAX)))
        .unwrap_or_else(|| panic!("no bucket of {histogram} at or above {seconds} s:\n{}", metrics.text))
        .to_owned();
    metrics.count_above(histogram, &bound)
}

/// A beat that comes after its window has ended (the whole process was
/// stopped across it) finds the counter resting until the next window, most
/// of a period away: under `threads-channel` the counter must answer at
/// once, not when that window opens.
#[test]
fn a_late_beat_is_answered_while_the_counter_rests() {
    let _alone = crate::common::alone();
    // Windows of 100 ms every second. A stop of more than two periods
    // swallows a due time and ends over a period after it, so the late beat
    // also misses a slot, which tells when it has been recorded.
    let daemon = Daemon::start(&config("threads-channel", "1s", "absolute"));
    daemon.wait_for_metrics(Duration::from_secs(10), "a heartbeat", |m| m.get("jitterd_heartbeats_total") >= 1.0);
    daemon.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2200));
    daemon.signal(libc::SIGCONT);
    let stalled = Instant::now();
    let after = daemon.wait_for_metrics(Duration::from_secs(10), "a missed slot and the late beat", |m| {
        m.get("jitterd_heartbeat_missed_total") >= 1.0
    });
    println!("late beat recorded {:?} after SIGCONT", stalled.elapsed());
    // Answered at the next window it would have waited up to 0.9 s; on time
    // it waits for a pass and a wake-up.
    let waited = count_above(&after, "jitterd_heartbeat_access_wait_seconds", 0.25);
    assert_eq!(waited, 0.0, "a beat waited more than 0.25 s for the counter's reply:\n{}", after.text);
    common::stop_within_a_second(daemon, "threads-channel");
}
