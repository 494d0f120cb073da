//! Reload under fire: a few hundred SIGHUPs while `/metrics` is scraped
//! continuously, the config file alternating between valid variants and
//! broken ones, some of them half written (truncated in place) when the
//! signal arrives. The daemon stays up, the reload counters equal what was
//! sent, the running experiment is always the last valid config, and no
//! scrape fails.
//!
//! What "valid" means for each file is decided by the library's own loader
//! on the same bytes, so a half-written file whose prefix happens to be a
//! complete config counts as the valid config it is.

use crate::common;

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{Daemon, Metrics, Rng};
use jitterd::config::{Config, Sources};

const VALID: &[(&str, &str, &str, u32)] = &[
    ("async", "absolute", "20ms", 1000),
    ("threads-mutex", "absolute", "30ms", 1000),
    ("threads-channel", "relative", "40ms", 2000),
    ("threads-snapshot", "absolute", "25ms", 500),
    ("async-blocking", "relative", "35ms", 1000),
    ("threads-mutex-yield", "absolute", "45ms", 1000),
    ("threads-fair-mutex", "relative", "15ms", 1000),
    ("threads-unsync", "absolute", "50ms", 1000),
];

const BROKEN: &[&str] = &[
    "strategy = \"async\n",
    "[counter]\nsize = 0\n",
    "[heartbeat]\nperiod = \"1 fortnight\"\n",
    "[counter]\nsize = 1.5\n",
    "bogus = 1\n",
    "",
    "[heartbeat]\nperiod = \"100000000000h\"\n",
];

fn valid_text((strategy, schedule, period, size): (&str, &str, &str, u32)) -> String {
    format!(
        "strategy = \"{strategy}\"\n[counter]\nsize = {size}\n[heartbeat]\nperiod = \"{period}\"\nschedule = \"{schedule}\"\ncontrol = false\n"
    )
}

/// What a scrape says the running experiment is: strategy, schedule, period.
fn running(m: &Metrics) -> Option<(String, String, String)> {
    let mut infos = m.series.iter().filter(|(name, _)| name.starts_with("jitterd_experiment_info{"));
    let (info, value) = infos.next()?;
    if infos.next().is_some() || *value != 1.0 {
        return None;
    }
    let label = |name: &str| {
        let start = info.find(&format!("{name}=\""))? + name.len() + 2;
        Some(info[start..].split('"').next()?.to_owned())
    };
    Some((label("strategy")?, label("schedule")?, format!("{}", m.get("jitterd_heartbeat_period_seconds"))))
}

fn describe(config: &Config) -> (String, String, String) {
    (
        config.strategy.name().to_owned(),
        config.heartbeat.schedule.to_string(),
        format!("{}", config.heartbeat.period.as_secs_f64()),
    )
}

#[test]
fn reload_storm() {
    let rounds: usize = std::env::var("JITTERD_STORM_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let mut rng = Rng::new("reload_storm");
    let started = Instant::now();
    let initial = valid_text(VALID[0]);
    let mut daemon = Daemon::start(&initial);
    let oracle_dir = tempfile::tempdir().expect("tempdir");
    let oracle_path = oracle_dir.path().join("jitterd.toml");
    let judge = |text: &str| {
        std::fs::write(&oracle_path, text).expect("write");
        Config::load(&Sources { file: Some(oracle_path.clone()), ..Sources::default() })
    };
    let mut current = describe(&judge(&initial).expect("the initial config is valid"));

    // Every experiment a scrape may show: those that were valid when sent.
    let allowed = Arc::new(Mutex::new(HashSet::from([current.clone()])));
    let done = Arc::new(AtomicBool::new(false));
    let scrapes = Arc::new(AtomicU64::new(0));
    let scraper = {
        let (url, allowed, done, scrapes) =
            (daemon.url("/metrics"), Arc::clone(&allowed), Arc::clone(&done), Arc::clone(&scrapes));
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let (status, body) = common::http("GET", &url);
                scrapes.fetch_add(1, Ordering::Relaxed);
                let seen = (status == 200).then(|| running(&Metrics::parse(&body))).flatten();
                match seen {
                    Some(seen) if allowed.lock().expect("allowed").contains(&seen) => {}
                    other => failures.push(format!("HTTP {status}, experiment {other:?}")),
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            failures
        })
    };

    let (mut successes, mut failures, mut half_written) = (0.0, 0.0, 0);
    for round in 0..rounds {
        let kind = rng.below(10);
        let text = match kind {
            0..=4 => valid_text(VALID[rng.below(VALID.len())]),
            5..=7 => BROKEN[rng.below(BROKEN.len())].to_owned(),
            _ => valid_text(VALID[rng.below(VALID.len())]),
        };
        // Kinds 8 and 9: the signal arrives while the file is half written.
        let sent_bytes = if kind >= 8 { &text[..rng.below(text.len())] } else { &text[..] };
        let verdict = judge(sent_bytes);
        if let Ok(config) = &verdict {
            allowed.lock().expect("allowed").insert(describe(config));
        }
        if kind >= 8 {
            half_written += 1;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&daemon.config_path)
                .expect("open config in place");
            file.write_all(sent_bytes.as_bytes()).expect("write prefix");
            daemon.signal(libc::SIGHUP);
            wait_for_reloads(&daemon, successes + failures + 1.0, round);
            file.write_all(&text.as_bytes()[sent_bytes.len()..]).expect("write the rest");
        } else {
            daemon.write_config(&text);
            daemon.signal(libc::SIGHUP);
            wait_for_reloads(&daemon, successes + failures + 1.0, round);
        }
        let last_ok = verdict.is_ok();
        match verdict {
            Ok(config) => {
                successes += 1.0;
                current = describe(&config);
            }
            Err(_) => failures += 1.0,
        }
        let m = daemon.metrics();
        let context = || format!("round {round}, sent {sent_bytes:?}:\n{}", m.text);
        assert_eq!(m.get("jitterd_config_reloads_total{result=\"success\"}"), successes, "{}", context());
        assert_eq!(m.get("jitterd_config_reloads_total{result=\"failure\"}"), failures, "{}", context());
        let last_ok = if last_ok { 1.0 } else { 0.0 };
        assert_eq!(m.get("jitterd_config_last_reload_successful"), last_ok, "{}", context());
        assert_eq!(running(&m).as_ref(), Some(&current), "{}", context());
    }

    // The scraper runs beside the reloads at whatever pace the host gives it;
    // how many scrapes overlapped them is reported, never asserted (on a fast,
    // idle host the reloads can finish before a sleeping thread wakes often).
    // What must hold is that it scraped at all, so wait for one if need be.
    let deadline = Instant::now() + Duration::from_secs(30);
    while scrapes.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    done.store(true, Ordering::Relaxed);
    let scrape_failures = scraper.join().expect("scraper");
    let scrapes = scrapes.load(Ordering::Relaxed);
    println!(
        "{rounds} reloads ({successes} valid, {failures} broken, {half_written} half written), {scrapes} scrapes, {:?}",
        started.elapsed()
    );
    assert!(scrape_failures.is_empty(), "{} of {scrapes} scrapes failed: {scrape_failures:#?}", scrape_failures.len());
    assert!(scrapes > 0, "the scraper never completed a scrape in 30 s");
    assert!(successes > 0.0 && failures > 0.0, "both kinds were sent");

    // Still measuring, and still stops cleanly.
    let beats = daemon.metrics().get("jitterd_heartbeats_total");
    daemon.wait_for_metrics(Duration::from_secs(10), "beats after the storm", |m| {
        m.get("jitterd_heartbeats_total") > beats
    });
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(5)).expect("exit");
    assert_eq!(status.code(), Some(0), "{:?}", daemon.stderr_lines());
}

/// Waits until the daemon has counted `expected` reloads. Signals of one kind
/// coalesce when sent faster than handled, so each is sent only after the
/// previous one was counted.
fn wait_for_reloads(daemon: &Daemon, expected: f64, round: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = daemon.metrics();
        let counted = m.get("jitterd_config_reloads_total{result=\"success\"}")
            + m.get("jitterd_config_reloads_total{result=\"failure\"}");
        if counted >= expected {
            assert_eq!(counted, expected, "round {round}: more reloads counted than sent");
            return;
        }
        assert!(Instant::now() < deadline, "round {round}: reload {expected} not counted; {:?}", daemon.stderr_lines());
        std::thread::sleep(Duration::from_millis(1));
    }
}
