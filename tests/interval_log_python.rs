//! The interval log, read by a reader jitterd did not write: the PyPI
//! package `hdrhistogram`'s `HistogramLogReader`, through
//! `tests/support/read_hlog.py`. The log is written through the library
//! with known values, in two sections (a restart appending to the same
//! file after a crash tore its last line), and every interval must come back with its tag, count, max,
//! quantiles and times. Installs the package with pip when it is missing.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use jitterd::experiment::Heartbeat;
use jitterd::interval_log::{IntervalLog, LogSettings};
use jitterd::observe::{HIGHEST_NS, Keep, LatenessStore, Observatory};
use serde_json::Value;

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000_000_000;
const READER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/read_hlog.py");

/// python3 with `hdrh`, installing the package if needed.
fn ensure_python_reader() {
    let has_hdrh =
        || Command::new("python3").args(["-c", "import hdrh.log"]).status().is_ok_and(|status| status.success());
    if has_hdrh() {
        return;
    }
    let _ = Command::new("python3").args(["-m", "pip", "install", "--quiet", "hdrhistogram"]).status();
    assert!(
        has_hdrh(),
        "this test needs python3 and the PyPI package hdrhistogram (module hdrh); `python3 -m pip install hdrhistogram` failed"
    );
}

/// One interval as the test recorded it: each slot's true lateness.
struct Expected {
    tag: &'static str,
    values_ns: Vec<u64>,
}

/// Records `lateness_ns, period_ns, missed` into the store and the expectation.
fn record(store: &LatenessStore, expected: &mut Expected, lateness_ns: u64, period_ns: u64, missed: u64) {
    store.record_slots(lateness_ns, period_ns, missed);
    expected.values_ns.extend((0..=missed).map(|j| lateness_ns - j * period_ns));
}

fn interval_lines(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter(|line| line.starts_with("Tag=")).count()
}

fn wait_for_lines(path: &Path, lines: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while interval_lines(path) < lines {
        assert!(Instant::now() < deadline, "waited 30 s for {lines} interval lines in {}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The log, on an observatory of the daemon's kind.
fn spawn(path: &Path) -> (IntervalLog, Arc<Observatory>) {
    let observatory = Arc::new(Observatory::new(Keep::Window));
    // An hour: only reconfigure and stop cut intervals, so each line holds what the test put in it.
    let settings = LogSettings { path: path.to_path_buf(), interval: Duration::from_secs(3_600) };
    let log = IntervalLog::spawn(settings, Arc::clone(&observatory)).expect("spawns");
    (log, observatory)
}

/// The window stores of the main and the control heartbeat, which the log takes from.
fn stores(observatory: &Observatory) -> (&LatenessStore, &LatenessStore) {
    let store = |heartbeat| observatory.board(heartbeat).store().expect("the daemon's boards keep a window");
    (store(Heartbeat::Main), store(Heartbeat::Control))
}

fn ms_since_epoch(time: SystemTime) -> f64 {
    time.duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_secs_f64() * 1e3
}

#[test]
fn python_hdrh_reads_every_interval_of_both_sections() {
    ensure_python_reader();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lateness.hlog");
    let began = SystemTime::now();
    let mut expected = Vec::new();
    let new = |tag| Expected { tag, values_ns: Vec::new() };

    // Section 1: two intervals.
    let (log, observatory) = spawn(&path);
    let (main, control) = stores(&observatory);
    let (mut main_1, mut control_1) = (new("main"), new("control"));
    for us in 1..=1_000 {
        record(main, &mut main_1, us * 1_000, SECOND, 0);
    }
    record(control, &mut control_1, 500 * MS, 10 * MS, 49);
    for _ in 0..10 {
        record(control, &mut control_1, 50_000, 10 * MS, 0);
    }
    log.reconfigure(LogSettings { path: path.clone(), interval: Duration::from_secs(3_600) });
    wait_for_lines(&path, 2);
    expected.extend([main_1, control_1]);
    let (mut main_2, control_2) = (new("main"), new("control"));
    for _ in 0..100 {
        record(main, &mut main_2, 2 * MS, 10 * MS, 0);
    }
    log.stop();
    expected.extend([main_2, control_2]);

    // A crash in the middle of a write left a torn line.
    let mut torn = std::fs::OpenOptions::new().append(true).open(&path).expect("the log");
    std::io::Write::write_all(&mut torn, b"Tag=main,9.000,5.000,2.001,HISTFAAAACZ4nJNpmSzMwMDAygA").expect("appends");
    drop(torn);

    // Section 2: the daemon restarted and appends to the same file.
    let (log, observatory) = spawn(&path);
    let (main, control) = stores(&observatory);
    let (mut main_3, mut control_3) = (new("main"), new("control"));
    record(main, &mut main_3, 7 * SECOND, SECOND, 6);
    record(main, &mut main_3, 7_200 * SECOND, SECOND, 0);
    record(control, &mut control_3, 1_000, 10 * MS, 0);
    log.stop();
    expected.extend([main_3, control_3]);
    let ended = SystemTime::now();

    let text = std::fs::read_to_string(&path).expect("the log");
    assert_eq!(text.matches("#[StartTime: ").count(), 2, "{text}");
    assert_eq!(text.matches("#[BaseTime: ").count(), 2, "{text}");

    let output = Command::new("python3").arg(READER).arg(&path).output().expect("python3 runs");
    assert!(output.status.success(), "read_hlog.py failed: {}\n{text}", String::from_utf8_lossy(&output.stderr));
    let read: Value = serde_json::from_slice(&output.stdout).expect("JSON from read_hlog.py");
    let intervals = read["intervals"].as_array().expect("intervals");
    assert_eq!(intervals.len(), expected.len(), "{read}");

    let mut previous_start_ms = 0.0;
    for (line, (got, want)) in intervals.iter().zip(&expected).enumerate() {
        let context = format!("line {line}: {got}");
        assert_eq!(got["tag"], want.tag, "{context}");
        assert_eq!(got["count"], want.values_ns.len(), "{context}");
        let (start_ms, end_ms) = (got["start_ms"].as_f64().expect("start"), got["end_ms"].as_f64().expect("end"));
        assert!(start_ms >= ms_since_epoch(began) - 1.0 && end_ms <= ms_since_epoch(ended) + 1.0, "{context}");
        assert!(start_ms <= end_ms && start_ms >= previous_start_ms - 1.0, "{context}");
        previous_start_ms = start_ms;
        if want.values_ns.is_empty() {
            continue;
        }
        // The true values, clamped at 1 h as the store records them.
        let mut sorted: Vec<u64> = want.values_ns.iter().map(|&value| value.min(HIGHEST_NS)).collect();
        sorted.sort_unstable();
        let true_max = sorted[sorted.len() - 1] as f64;
        let max = got["max"].as_f64().expect("max");
        assert!((max - true_max).abs() <= true_max * 0.001, "max {max} vs {true_max}: {context}");
        let column_ms = got["max_column_ms"].as_f64().expect("max column");
        assert!(
            (column_ms * 1e6 - max).abs() <= 500.0 + max * 1e-6,
            "max column {column_ms} ms vs {max} ns: {context}"
        );
        for (label, quantile) in [("0.5", 0.5), ("0.9", 0.9), ("0.99", 0.99), ("0.999", 0.999), ("1", 1.0)] {
            // HdrHistogram implementations pick the rank ⌈q·n⌉ (Java, Rust) or ⌊q·n + ½⌋ (Python):
            // either true value will do, to within the histogram's 3 significant digits.
            let at_rank = |rank: f64| sorted[(rank as usize).clamp(1, sorted.len()) - 1] as f64;
            let n = sorted.len() as f64;
            let (a, b) = (at_rank((quantile * n).ceil()), at_rank((quantile * n + 0.5).floor()));
            let value = got["quantiles"][label].as_f64().expect("quantile");
            assert!(
                value >= a.min(b) * 0.999 - 1.0 && value <= a.max(b) * 1.001 + 1.0,
                "q{label} {value} vs the true {a} or {b}: {context}"
            );
        }
    }
}
