//! End to end: Debian's Prometheus 2.42 with
//! `--enable-feature=native-histograms` scrapes jitterd (it then asks for
//! protobuf first, and keeps only the native part of a histogram that has
//! both). Its query results are the oracle: a scrape is appended to its
//! TSDB in one commit, so an instant query sees the lateness histogram and
//! the beat counters of the same scrape, one moment of jitterd's.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::Daemon;

/// One schema-3 bucket: growth 2^(1/8) = 1.0905.
const ONE_SCHEMA_3_BUCKET: f64 = 0.0905;

/// A Prometheus server with native histograms on; killed when dropped.
struct Prometheus {
    child: Child,
    base_url: String,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Scrapes `target` every second.
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let config_path = dir.path().join("prometheus.yml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n\
             scrape_configs:\n  - job_name: jitterd\n    static_configs:\n      - targets: [\"{target}\"]\n"
        );
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let log_path = dir.path().join("prometheus.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new("prometheus")
            .arg("--enable-feature=native-histograms")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian package prometheus; scripts/test installs it)");
        Prometheus { child, base_url: format!("http://127.0.0.1:{port}"), log_path, _dir: dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// An instant query at `time` (unix seconds): its result, or `None` while
    /// the server does not answer.
    fn query(&self, expr: &str, time: f64) -> Option<Vec<Value>> {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut response = agent
            .get(format!("{}/api/v1/query", self.base_url))
            .query("query", expr)
            .query("time", format!("{time:.3}"))
            .call()
            .ok()?;
        let body = response.body_mut().read_to_string().ok()?;
        let json: Value = serde_json::from_str(&body).ok()?;
        assert_eq!(json["status"], "success", "{expr}: {body}");
        json["data"]["result"].as_array().cloned()
    }

    /// The one value `expr` returns at `time`; panics on none or several.
    fn value(&self, expr: &str, time: f64) -> f64 {
        let result = self.query(expr, time).unwrap_or_default();
        assert_eq!(result.len(), 1, "{expr} at {time}: {result:?}\n{}", self.log());
        let value = result[0]["value"][1].as_str().expect("a sample value");
        value.parse().unwrap_or_else(|_| panic!("{expr}: {value}"))
    }

    /// Waits until `expr` returns a series whose value is at least `least`.
    fn wait_for(&mut self, expr: &str, least: f64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let result = self.query(expr, now()).unwrap_or_default();
            let value = result.first().and_then(|r| r["value"][1].as_str()?.parse::<f64>().ok());
            if value.is_some_and(|value| value >= least) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited with {status}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "{expr} not ≥ {least} within {timeout:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64()
}

/// A moment every scrape up to which is in the TSDB: a scrape is stamped
/// when it starts and gives up after the interval (1 s), so 1.5 s ago no
/// scrape of that moment is still being appended, and queries at it from
/// one after another read the same samples.
fn settled() -> f64 {
    now() - 1.5
}

/// The window summary covers every slot (its window, 10 minutes, is longer
/// than the test), so the native histogram since the start and the summary
/// hold the same slots.
const CONFIG: &str = "strategy = \"async\"
[counter]
size = 1000
[heartbeat]
period = \"10ms\"
[record]
window = \"10m\"
";

#[test]
fn prometheus_reads_native_histograms_that_count_every_slot() {
    let _alone = common::alone();
    let daemon = Daemon::start(CONFIG);
    let mut prometheus = Prometheus::start(&daemon.addr);
    let count = "histogram_count(jitterd_heartbeat_lateness_seconds)";
    // histogram_count returns nothing for a classic histogram: a result is native.
    prometheus.wait_for(count, 1.0, Duration::from_secs(60));
    prometheus.wait_for("count_over_time(jitterd_heartbeats_total[1m])", 5.0, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(1500)); // so the settled moment has five scrapes too
    for _ in 0..3 {
        let time = settled();
        let slots = prometheus.value("jitterd_heartbeats_total + jitterd_heartbeat_missed_total", time);
        let native = prometheus.value(count, time);
        let same_scrape = prometheus.value(
            "timestamp(jitterd_heartbeats_total) - timestamp(jitterd_heartbeat_lateness_window_seconds_count)",
            time,
        );
        let difference =
            prometheus.value(&format!("{count} - (jitterd_heartbeats_total + jitterd_heartbeat_missed_total)"), time);
        println!("at {time:.3}: histogram_count {native}, beats + missed {slots}");
        assert_eq!(difference, 0.0, "histogram_count − (beats + missed) in one query at {time}");
        assert_eq!(same_scrape, 0.0, "not one scrape");
        assert_eq!(native, slots, "histogram_count against beats + missed at {time}");
        assert!(slots >= 100.0, "{slots} slots");
        std::thread::sleep(Duration::from_millis(1100));
    }
    let time = settled();
    let quantile = prometheus.value("histogram_quantile(0.99, jitterd_heartbeat_lateness_seconds)", time);
    let summary = prometheus.value("jitterd_heartbeat_lateness_window_seconds{quantile=\"0.99\"}", time);
    let window = prometheus.value("jitterd_heartbeat_lateness_window_seconds_count", time);
    let error = (quantile - summary).abs() / summary;
    println!(
        "p99: native {quantile:.9} s, window summary {summary:.9} s over {window} slots: {:.2} % apart",
        100.0 * error
    );
    assert!(error <= ONE_SCHEMA_3_BUCKET, "native p99 {quantile} against the summary's {summary}");
    // With native histograms on, Prometheus 2.42 keeps only the native part.
    let classic = prometheus.query("jitterd_heartbeat_lateness_seconds_bucket", now()).unwrap_or_default();
    println!("classic bucket series kept beside the native histogram: {}", classic.len());
}
