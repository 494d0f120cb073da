//! What a scrape of `/metrics` costs in each format (issue 18: a protobuf
//! scrape must cost no more CPU than a text scrape, and `/metrics` p99
//! under load stays under 5 ms in both).
//!
//! The real binary, as `scripts/load` runs it (`async`, 10 ms, 100,000
//! elements), scraped over loopback in text and in delimited protobuf:
//!
//! * criterion: one scrape's round trip on a kept-alive connection;
//! * the exporter's own CPU per scrape: the `jitterd-http` thread's time on
//!   a CPU (`/proc/…/schedstat`, nanoseconds) over rounds of sequential
//!   scrapes, the two formats alternating, medians printed;
//! * wrk with 4 connections for 5 s in each format (as `scripts/load`,
//!   with the Accept header of Prometheus's native-histogram scrapes for
//!   protobuf), when wrk is installed: p50 and p99.
//!
//! `cargo bench --bench exposition`. Under `cargo test --all-targets`
//! criterion runs each benchmark once and the rest is skipped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::Criterion;

/// What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
const PROTOBUF_ACCEPT: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
                               encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// The two formats: a name and the Accept header that asks for it.
const FORMATS: [(&str, Option<&str>); 2] = [("text", None), ("protobuf", Some(PROTOBUF_ACCEPT))];

const CONFIG: &str = "strategy = \"async\"\n[counter]\nsize = 100000\n[heartbeat]\nperiod = \"10ms\"\n";

/// jitterd on a free loopback port; killed when dropped.
struct Jitterd {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Jitterd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Jitterd {
    fn start() -> Jitterd {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("jitterd.toml");
        std::fs::write(&config, CONFIG).expect("config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_jitterd"))
            .arg("--config.file")
            .arg(&config)
            .args(["--web.listen-address", "127.0.0.1:0", "--log.format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("jitterd");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let address = lines
            .by_ref()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
            .find(|line| line["message"].as_str().is_some_and(|m| m.contains("jitterd started")))
            .and_then(|line| line["address"].as_str().map(str::to_owned))
            .expect("jitterd started");
        // Keep draining its log, so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let jitterd = Jitterd { child, url: format!("http://{address}/metrics"), _dir: dir };
        std::thread::sleep(Duration::from_secs(1)); // first beats, the process metrics' first read
        jitterd
    }

    /// The exporter's thread, which encodes every answer.
    fn http_thread(&self) -> PathBuf {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).expect("tasks");
        tasks
            .filter_map(Result::ok)
            .map(|task| task.path())
            .find(|task| std::fs::read_to_string(task.join("comm")).is_ok_and(|comm| comm.trim() == "jitterd-http"))
            .expect("the jitterd-http thread")
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().new_agent()
}

/// One scrape; its body.
fn scrape(agent: &ureq::Agent, url: &str, accept: Option<&str>) -> Vec<u8> {
    let mut request = agent.get(url);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    request.call().expect("scrape").body_mut().read_to_vec().expect("body")
}

/// Nanoseconds the thread has spent on a CPU.
fn cpu_ns(task: &std::path::Path) -> u64 {
    let schedstat = std::fs::read_to_string(task.join("schedstat")).expect("schedstat");
    schedstat.split_whitespace().next().and_then(|ns| ns.parse().ok()).expect("schedstat's first field")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn round_trip(c: &mut Criterion, jitterd: &Jitterd) {
    let mut group = c.benchmark_group("scrape /metrics over loopback");
    let agent = agent();
    for (name, accept) in FORMATS {
        group.bench_function(name, |b| b.iter(|| scrape(&agent, &jitterd.url, accept)));
    }
    group.finish();
}

/// The exporter thread's CPU per scrape, and the client's latency, over
/// `rounds` rounds of `scrapes` sequential scrapes per format, alternating.
fn cpu_per_scrape(jitterd: &Jitterd, rounds: usize, scrapes: usize) {
    let (thread, agent) = (jitterd.http_thread(), agent());
    let mut cpu: [Vec<f64>; 2] = Default::default();
    let mut latency: [Vec<f64>; 2] = Default::default();
    let mut bytes = [0; 2];
    for _ in 0..rounds {
        for (k, (_, accept)) in FORMATS.iter().enumerate() {
            let before = cpu_ns(&thread);
            for _ in 0..scrapes {
                let start = Instant::now();
                bytes[k] = scrape(&agent, &jitterd.url, *accept).len();
                latency[k].push(start.elapsed().as_secs_f64() * 1e6);
            }
            cpu[k].push((cpu_ns(&thread) - before) as f64 / scrapes as f64 / 1e3);
        }
    }
    println!(
        "\n| format | bytes | exporter CPU per scrape (median of {rounds} × {scrapes}) | per round | round trip p50 | p99 |"
    );
    println!("|---|---:|---:|---|---:|---:|");
    for (k, (name, _)) in FORMATS.iter().enumerate() {
        let rounds: Vec<String> = cpu[k].iter().map(|us| format!("{us:.0}")).collect();
        let mut sorted = latency[k].clone();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
        let cpu_median = median(cpu[k].clone());
        println!(
            "| {name} | {} | {cpu_median:.0} µs | {} | {:.0} µs | {:.0} µs |",
            bytes[k],
            rounds.join(", "),
            at(0.5),
            at(0.99)
        );
    }
    let (text, protobuf) = (median(cpu[0].clone()), median(cpu[1].clone()));
    println!("\nprotobuf / text CPU per scrape: {:.2}", protobuf / text);
}

/// wrk against `/metrics` in each format, as `scripts/load` runs it.
fn under_wrk(jitterd: &Jitterd, seconds: u32) {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("\nwrk not installed: no load figures (Debian: apt-get install wrk)");
        return;
    }
    println!("\n| format, wrk -t2 -c4 -d{seconds}s | requests/s | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    for (name, accept) in FORMATS {
        let mut command = Command::new("wrk");
        command.args(["-t2", "-c4", &format!("-d{seconds}s"), "--latency", "--timeout", "5s"]);
        if let Some(accept) = accept {
            command.args(["-H", &format!("Accept: {accept}")]);
        }
        let output = command.arg(&jitterd.url).output().expect("wrk");
        let text = String::from_utf8_lossy(&output.stdout);
        let field = |prefix: &str| {
            text.lines()
                .map(str::trim)
                .find(|line| line.starts_with(prefix))
                .and_then(|line| line.split_whitespace().nth(1))
                .unwrap_or("?")
                .to_owned()
        };
        println!("| {name} | {} | {} | {} |", field("Requests/sec:"), field("50%"), field("99%"));
        if text.contains("Non-2xx") || text.contains("Socket errors") {
            println!("wrk reported errors:\n{text}");
        }
    }
}

/// What counting every slot in native buckets adds to the heartbeat, beside
/// the classic counts it already keeps (the observe change of issue 18).
fn native_recording(c: &mut Criterion) {
    use jitterd::observe::{LatenessCounts, NativeCounts};
    use std::hint::black_box;
    let mut group = c.benchmark_group("per-slot recording");
    let (mut classic, mut native) = (LatenessCounts::default(), NativeCounts::default());
    for (name, lateness_ns, period_ns, missed) in [
        ("one beat 50 us late", 50_000, 10_000_000, 0),
        ("1 s stall at 10 ms (99 missed)", 1_000_500_000, 10_000_000, 99),
        ("1 h stall at 100 us (36 M slots)", 3_600_000_000_000, 100_000, 35_999_999),
    ] {
        group.bench_function(format!("{name}, classic"), |b| {
            b.iter(|| classic.record_slots(black_box(lateness_ns), period_ns, missed))
        });
        group.bench_function(format!("{name}, native"), |b| {
            b.iter(|| native.record_slots(black_box(lateness_ns), period_ns, missed))
        });
    }
    group.finish();
}

fn main() {
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let jitterd = Jitterd::start();
    let mut criterion = Criterion::default().configure_from_args();
    round_trip(&mut criterion, &jitterd);
    native_recording(&mut criterion);
    criterion.final_summary();
    if measuring {
        cpu_per_scrape(&jitterd, 7, 500);
        under_wrk(&jitterd, 5);
    }
}
