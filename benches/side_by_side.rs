//! Side by side, in one run on one machine: each strategy against the
//! baselines the issue names, repeated over several rounds, medians reported.
//!
//! * counter passes/s of every strategy against a plain increment loop over
//!   the same array on one thread;
//! * heartbeat wake lateness of every strategy against `cyclictest` (Debian
//!   `rt-tests`, default policy, same interval) when it is installed, with
//!   the kernel's default timer slack and with `timer_slack = "1ns"`;
//! * the `async` strategy's lateness against a plain `tokio::time::interval`
//!   heartbeat at the same period (an idle runtime: tokio's best case).
//!
//! Every strategy runs through `jitterd::cmd::compare`, exactly as the command
//! does. Prints Markdown with a verdict per target of issue 3.
//!
//! `cargo bench --bench side_by_side -- [--rounds N] [--duration 5s]`;
//! `bench/run` does it with the micro benchmarks. Under `cargo test
//! --all-targets` it returns at once: it is a measurement, not a test.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use jitterd::cli::CompareFormat;
use jitterd::cmd::compare::{self, Figures, Plan, Progress};
use jitterd::config::Config;
use jitterd::experiment::Schedule;
use jitterd::experiment::Strategy;

const PERIOD: Duration = Duration::from_millis(10);
const SIZE: u64 = 100_000;

/// Figures of one round, by name; medians are taken name by name.
type Round = BTreeMap<String, f64>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("side_by_side: a measurement, not a test; run `cargo bench --bench side_by_side`");
        return;
    }
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let rounds: usize = option("--rounds").and_then(|r| r.parse().ok()).unwrap_or(5);
    let duration =
        option("--duration").and_then(|d| humantime::parse_duration(&d).ok()).unwrap_or(Duration::from_secs(5));
    let cyclictest = Command::new("cyclictest").arg("--help").output().is_ok();

    let mut results: Vec<Round> = Vec::new();
    for round in 1..=rounds {
        eprintln!("side_by_side: round {round}/{rounds}");
        let mut r = Round::new();
        r.insert("plain loop passes/s".into(), plain_loop_passes_per_second(duration));
        for (label, slack) in [("", None), (" slack 1ns", Some(Duration::from_nanos(1)))] {
            for f in compare_all(duration, slack) {
                let name = f.strategy.name();
                let ns = |v: Option<u64>| v.map_or(f64::NAN, |ns| ns as f64);
                r.insert(format!("{name}{label} wake p50 ns"), ns(f.wake_lateness_p50_ns));
                r.insert(format!("{name}{label} lateness p50 ns"), ns(f.lateness_p50_ns));
                r.insert(format!("{name}{label} lateness p99 ns"), ns(f.lateness_p99_ns));
                r.insert(format!("{name}{label} control p50 ns"), ns(f.control_lateness_p50_ns));
                if slack.is_none() {
                    let passes = f.passes_per_second.unwrap_or(f64::NAN);
                    r.insert(format!("{name} passes/s"), passes);
                    r.insert(format!("{name} passes/plain"), passes / r["plain loop passes/s"]);
                }
            }
        }
        if cyclictest {
            match cyclictest_p50_ns(duration) {
                Ok(p50) => {
                    r.insert("cyclictest wake p50 ns".into(), p50);
                }
                Err(err) => eprintln!("side_by_side: cyclictest failed: {err}"),
            }
        }
        r.insert("tokio interval lateness p50 ns".into(), tokio_interval_p50_ns(duration));
        results.push(r);
    }
    print!("{}", report(&results, rounds, duration, cyclictest));
}

/// Passes per second of the bare loop: one thread, nobody else.
fn plain_loop_passes_per_second(duration: Duration) -> f64 {
    let mut values = jitterd::array::zeroed(SIZE as usize).expect("array");
    let started = Instant::now();
    let mut passes = 0u64;
    while started.elapsed() < duration {
        jitterd::array::increment(std::hint::black_box(&mut values));
        passes += 1;
    }
    passes as f64 / started.elapsed().as_secs_f64()
}

fn compare_all(duration: Duration, timer_slack: Option<Duration>) -> Vec<Figures> {
    let plan = Plan {
        strategies: Strategy::ALL.to_vec(),
        duration,
        period: PERIOD,
        size_elements: SIZE,
        schedule: Schedule::Absolute,
        format: CompareFormat::Json,
        report: None,
    };
    let mut config = Config::embedded_default();
    config.heartbeat.timer_slack = timer_slack;
    let comparison = compare::run(&plan, &config, &AtomicBool::new(false), &mut Progress::hidden()).expect("compare");
    comparison.strategies
}

/// Median wake-up latency of `cyclictest` with its defaults (SCHED_OTHER,
/// the kernel's timer slack) at the same interval, from its histogram.
fn cyclictest_p50_ns(duration: Duration) -> Result<f64, String> {
    let out = Command::new("cyclictest")
        .args(["-q", "-t1", "-i", &PERIOD.as_micros().to_string(), "-h", "100000"])
        .arg(format!("-D{}", duration.as_secs().max(1)))
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut histogram: Vec<(u64, u64)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split_whitespace().map(|f| f.parse::<u64>());
        if let (Some(Ok(us)), Some(Ok(count))) = (fields.next(), fields.next()) {
            histogram.push((us, count));
        }
    }
    let total: u64 = histogram.iter().map(|(_, c)| c).sum();
    let mut seen = 0;
    for (us, count) in histogram {
        seen += count;
        if seen * 2 >= total && total > 0 {
            return Ok(us as f64 * 1000.0);
        }
    }
    Err(format!("no histogram in cyclictest output: {}", text.lines().take(5).collect::<Vec<_>>().join(" / ")))
}

/// Median lateness of a plain `tokio::time::interval` heartbeat on an idle
/// current-thread runtime: tokio's timer wheel has millisecond slots.
fn tokio_interval_p50_ns(duration: Duration) -> f64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let mut lateness: Vec<u64> = runtime.block_on(async {
        let mut interval = tokio::time::interval(PERIOD);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        interval.tick().await;
        let mut lateness = Vec::new();
        let started = Instant::now();
        while started.elapsed() < duration {
            let due = interval.tick().await;
            lateness.push(jitterd::sys::clock::nanos(tokio::time::Instant::now().duration_since(due)));
        }
        lateness
    });
    lateness.sort_unstable();
    lateness.get(lateness.len() / 2).map_or(f64::NAN, |&ns| ns as f64)
}

fn median(results: &[Round], name: &str) -> f64 {
    let mut values: Vec<f64> = results.iter().filter_map(|r| r.get(name).copied()).filter(|v| v.is_finite()).collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn us(ns: f64) -> String {
    if ns.is_finite() { format!("{:.1} µs", ns / 1000.0) } else { "-".into() }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

fn report(results: &[Round], rounds: usize, duration: Duration, cyclictest: bool) -> String {
    let mut out = table(results, rounds, duration, cyclictest);
    out.push_str(&targets(results, cyclictest));
    out
}

/// The medians side by side, with cyclictest and tokio's interval below.
fn table(results: &[Round], rounds: usize, duration: Duration, cyclictest: bool) -> String {
    let m = |name: &str| median(results, name);
    let mut out = format!(
        "Medians over {rounds} rounds of {} per strategy, period {}, {SIZE} elements.\n\n",
        humantime::format_duration(duration),
        humantime::format_duration(PERIOD)
    );
    out.push_str("| strategy | passes/s | of plain loop | lateness p50 | lateness p99 | wake p50 | wake p50, slack 1ns | control p50 |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    out.push_str(&format!("| plain loop | {:.0} | 100% | | | | | |\n", m("plain loop passes/s")));
    for s in Strategy::ALL {
        let n = s.name();
        out.push_str(&format!(
            "| {n} | {:.0} | {:.1}% | {} | {} | {} | {} | {} |\n",
            m(&format!("{n} passes/s")),
            100.0 * m(&format!("{n} passes/plain")),
            us(m(&format!("{n} lateness p50 ns"))),
            us(m(&format!("{n} lateness p99 ns"))),
            us(m(&format!("{n} wake p50 ns"))),
            us(m(&format!("{n} slack 1ns wake p50 ns"))),
            us(m(&format!("{n} control p50 ns"))),
        ));
    }
    let cyclic = m("cyclictest wake p50 ns");
    let tokio = m("tokio interval lateness p50 ns");
    out.push_str(&format!(
        "| cyclictest (default policy and slack) | | | | | {} | | |\n| tokio::time::interval (idle runtime) | | | {} | | | | |\n\n",
        if cyclictest { us(cyclic) } else { "not installed".into() },
        us(tokio)
    ));
    out
}

/// Each of issue 3's targets, met or not.
fn targets(results: &[Round], cyclictest: bool) -> String {
    let m = |name: &str| median(results, name);
    let (cyclic, tokio) = (m("cyclictest wake p50 ns"), m("tokio interval lateness p50 ns"));
    let mut out = String::from("Targets of issue 3:\n\n");
    let async_p50 = m("async lateness p50 ns");
    out.push_str(&format!(
        "* async lateness p50 under 200 µs: {} ({}); at least 5× better than tokio::time::interval ({}): {} ({:.1}×)\n",
        verdict(async_p50 < 200_000.0),
        us(async_p50),
        us(tokio),
        verdict(tokio / async_p50 >= 5.0),
        tokio / async_p50
    ));
    let threads: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).filter(|n| n.starts_with("threads-")).collect();
    if cyclictest {
        for n in &threads {
            let wake = m(&format!("{n} wake p50 ns"));
            let slack = m(&format!("{n} slack 1ns wake p50 ns"));
            out.push_str(&format!(
                "* {n} wake p50 ≤ 1.25× cyclictest ({}): {} ({}, {:.2}×); with slack 1ns below cyclictest: {} ({})\n",
                us(cyclic),
                verdict(wake <= 1.25 * cyclic),
                us(wake),
                wake / cyclic,
                verdict(slack < cyclic),
                us(slack)
            ));
        }
    } else {
        out.push_str("* thread heartbeats against cyclictest: not measured, cyclictest is not installed\n");
    }
    for n in ["threads-fair-mutex", "threads-channel", "threads-snapshot"] {
        let p99 = m(&format!("{n} lateness p99 ns"));
        out.push_str(&format!("* {n} lateness p99 under 1 ms: {} ({})\n", verdict(p99 < 1e6), us(p99)));
    }
    let mutex_p99 = m("threads-mutex lateness p99 ns");
    out.push_str(&format!(
        "* threads-mutex shows multi-millisecond tails: {} (p99 {})\n",
        verdict(mutex_p99 >= 2e6),
        us(mutex_p99)
    ));
    for (n, within) in [
        ("threads-mutex", 0.10),
        ("async", 0.10),
        ("threads-channel", 0.10),
        ("threads-fair-mutex", 0.10),
        ("threads-snapshot", 0.25),
    ] {
        let ratio = m(&format!("{n} passes/plain"));
        out.push_str(&format!(
            "* {n} passes/s within {:.0}% of the plain loop: {} ({:.1}%)\n",
            within * 100.0,
            verdict(ratio >= 1.0 - within),
            ratio * 100.0
        ));
    }
    out
}
