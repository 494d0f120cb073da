//! Every strategy, run for real: the metric families of the contract's
//! golden list (`tests/golden/contract-metrics.txt`) exported with their
//! types and sane values, heartbeats and counter passes advancing,
//! consistency as the article predicts, and a clean stop within a second of
//! SIGTERM.

use crate::common;

use std::time::Duration;

use crate::common::{Daemon, Metrics};

fn exercise(strategy: &str, expect_inconsistent: bool) {
    let _alone = crate::common::alone();
    let daemon = Daemon::start(&common::config(strategy, "100ms"));

    let (status, body) = daemon.get("/-/healthy");
    assert_eq!(status, 200, "{body}");
    let first = daemon
        .wait_for_metrics(Duration::from_secs(10), "three heartbeats", |m| m.get("jitterd_heartbeats_total") >= 3.0);
    let later = daemon.wait_for_metrics(Duration::from_secs(10), "more heartbeats", |m| {
        m.get("jitterd_heartbeats_total") >= first.get("jitterd_heartbeats_total") + 5.0
    });
    assert_exports_the_contract(strategy, &later);
    assert_eq!(later.get(&format!("jitterd_experiment_info{{schedule=\"absolute\",strategy=\"{strategy}\"}}")), 1.0);
    assert_eq!(later.get("jitterd_heartbeat_period_seconds"), 0.1);
    assert_eq!(later.get("jitterd_array_size_elements"), 100_000.0);
    assert!(
        later.get("jitterd_array_passes_total") > first.get("jitterd_array_passes_total"),
        "{strategy}: counter stalled"
    );
    assert!(later.get("jitterd_array_value") > 0.0);
    let beats = later.get("jitterd_heartbeats_total");
    // Every slot counts: the beats and the slots they ran past, in one consistent scrape.
    let slots = later.get("jitterd_heartbeat_lateness_seconds_count");
    assert_eq!(slots, beats + later.get("jitterd_heartbeat_missed_total"));
    assert!(later.get("jitterd_control_lateness_seconds_count") >= 3.0, "{strategy}: control heartbeat silent");
    // Generous: even threads-mutex on a loaded 2-core VM beats well within a second.
    let mean_lateness = later.get("jitterd_heartbeat_lateness_seconds_sum") / slots;
    assert!((0.0..1.0).contains(&mean_lateness), "{strategy}: mean lateness {mean_lateness}");
    assert!(later.get("jitterd_heartbeat_drift_seconds").abs() < 5.0);
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    assert!((now - later.get("jitterd_heartbeat_last_timestamp_seconds")).abs() < 10.0);

    let inconsistent = later.get("jitterd_consistency_checks_total{result=\"inconsistent\"}");
    let consistent = later.get("jitterd_consistency_checks_total{result=\"consistent\"}");
    // Counted with its beat, from one snapshot: every scrape has as many.
    assert_eq!(consistent + inconsistent, beats, "{strategy}: one check per beat");
    // Every per-beat histogram is counted with its beat, in the same moment.
    for per_beat in ["heartbeat_wake_lateness_seconds", "heartbeat_access_wait_seconds", "heartbeat_jitter_seconds"] {
        assert_eq!(later.get(&format!("jitterd_{per_beat}_count")), beats, "{strategy}: {per_beat} counts every beat");
    }
    assert_eq!(
        later.get("jitterd_consistency_check_duration_seconds_count"),
        beats,
        "{strategy}: one duration per check"
    );
    if expect_inconsistent {
        assert!(inconsistent > 0.0, "{strategy}: the unsynchronised strategy must tear reads");
    } else {
        assert_eq!(inconsistent, 0.0, "{strategy}: inconsistent reads");
        assert_eq!(later.get("jitterd_consistency_mismatched_elements"), 0.0);
    }
    let (status, _) = daemon.get("/-/ready");
    assert_eq!(status, 200, "{strategy}: not ready while beating");

    let summary = common::stop_within_a_second(daemon, strategy);
    assert!(summary["beats"].as_u64().unwrap_or(0) >= 3, "{summary}");
}

/// The scrape declares every family of the contract's golden list with its
/// type, none that the list keeps pending, and none the contract lacks.
fn assert_exports_the_contract(strategy: &str, scrape: &Metrics) {
    let contract = common::contract_metrics();
    let exported = scrape.families();
    for family in &contract.exported {
        let found = exported.iter().find(|f| f.name == family.name);
        assert_eq!(found, Some(family), "{strategy}: /metrics lacks {} of type {}", family.name, family.kind);
    }
    for (issue, family) in &contract.pending {
        assert!(
            !scrape.has(&family.name),
            "{strategy}: {} is exported now: move it out of the pending section ({issue}) of \
             tests/golden/contract-metrics.txt",
            family.name
        );
    }
    for family in &exported {
        assert!(
            contract.exported.iter().any(|f| f.name == family.name),
            "{strategy}: {} is exported but not in the contract (tests/golden/contract-metrics.txt)",
            family.name
        );
    }
}

#[test]
fn threads_unsync_tears_reads_and_keeps_running() {
    exercise("threads-unsync", true);
}

#[test]
fn threads_mutex_is_consistent() {
    exercise("threads-mutex", false);
}

#[test]
fn threads_mutex_yield_is_consistent() {
    exercise("threads-mutex-yield", false);
}

#[test]
fn async_is_consistent() {
    exercise("async", false);
}

#[test]
fn threads_fair_mutex_is_consistent() {
    exercise("threads-fair-mutex", false);
}

#[test]
fn threads_channel_is_consistent() {
    exercise("threads-channel", false);
}

#[test]
fn threads_snapshot_is_consistent() {
    exercise("threads-snapshot", false);
}

#[test]
fn async_blocking_is_consistent() {
    exercise("async-blocking", false);
}

/// A large array makes the mutex counter hold the lock for long passes, so
/// the heartbeat is starved while SIGTERM arrives: the stop must not wait
/// for the heartbeat to get the lock on its own.
#[test]
fn sigterm_while_the_heartbeat_is_starved() {
    // 100 million elements (800 MB) for the plain mutex: the contract's largest size.
    for (strategy, size) in
        [("threads-mutex", 100_000_000), ("async-blocking", 20_000_000), ("threads-unsync", 20_000_000)]
    {
        let available = common::memory_available_bytes();
        if available < size * 8 * 2 {
            let need = (size * 8) >> 20;
            common::not_tested(&format!(
                "{strategy} at {size} elements: {} MiB available, {need} MiB needed twice over",
                available >> 20
            ));
            continue;
        }
        let _alone = crate::common::alone();
        let config = format!("{}[counter]\nsize = {size}\n", common::config(strategy, "10ms"));
        let daemon = Daemon::start(&config);
        daemon.wait_for_metrics(Duration::from_secs(20), "a counter pass", |m| {
            m.get("jitterd_array_passes_total") >= 2.0
        });
        common::stop_within_a_second(daemon, strategy);
    }
}

/// The smallest array and the extremes of the period range work in every strategy.
#[test]
fn extremes_of_size_and_period() {
    for strategy in common::strategy_names() {
        let _alone = crate::common::alone();
        let config = format!("{}[counter]\nsize = 1\n", common::config(strategy, "1ms"));
        let daemon = Daemon::start(&config);
        let m = daemon
            .wait_for_metrics(Duration::from_secs(10), "beats at 1 ms", |m| m.get("jitterd_heartbeats_total") >= 50.0);
        assert_eq!(
            m.get("jitterd_consistency_checks_total{result=\"inconsistent\"}"),
            0.0,
            "{strategy}: one element cannot tear"
        );
        common::stop_within_a_second(daemon, strategy);

        // An hour-long period: nothing beats, yet the daemon is ready and stops at once.
        let daemon = Daemon::start(&common::config(strategy, "1h"));
        assert_eq!(daemon.get("/-/ready").0, 200, "{strategy}");
        common::stop_within_a_second(daemon, strategy);
    }
}

/// Every scrape is one moment: beating every 200 µs while scraped back to
/// back, each of 200 scrapes has as many checks, wake-ups and accesses as
/// beats, and as many lateness slots as beats plus missed. Counted, not
/// timed: a host of any speed must satisfy it.
#[test]
fn every_scrape_is_one_moment() {
    let _alone = crate::common::alone();
    let daemon = Daemon::start(&common::config("threads-mutex", "200us"));
    daemon.wait_for_metrics(Duration::from_secs(10), "beats", |m| m.get("jitterd_heartbeats_total") >= 10.0);
    for _ in 0..200 {
        let m = daemon.metrics();
        let beats = m.get("jitterd_heartbeats_total");
        let checks = m.get("jitterd_consistency_checks_total{result=\"consistent\"}")
            + m.get("jitterd_consistency_checks_total{result=\"inconsistent\"}");
        assert_eq!(checks, beats, "checks and beats in one scrape");
        for per_beat in ["heartbeat_wake_lateness_seconds", "heartbeat_access_wait_seconds", "heartbeat_jitter_seconds"]
        {
            assert_eq!(m.get(&format!("jitterd_{per_beat}_count")), beats, "{per_beat} and beats in one scrape");
        }
        let slots = m.get("jitterd_heartbeats_total") + m.get("jitterd_heartbeat_missed_total");
        assert_eq!(m.get("jitterd_heartbeat_lateness_seconds_count"), slots, "slots and beats in one scrape");
    }
}
