//! Starts the real `jitterd` binary on a free loopback port and talks to it
//! over real HTTP and real signals. Shared by every integration test.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_jitterd");

/// A running daemon; killed on drop. It holds [`alone`] while it lives, so
/// no two daemons' counters share the two cores.
pub(crate) struct Daemon {
    pub child: Child,
    pub addr: String,
    /// Holds the config file; removed when the daemon is dropped.
    _dir: tempfile::TempDir,
    _alone: Alone,
    pub config_path: PathBuf,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Reads stderr into `stderr` until the daemon closes it.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

/// How to start a daemon.
#[derive(Default)]
pub(crate) struct Start<'a> {
    /// Config file contents (TOML), written to a temporary file.
    pub config: &'a str,
    pub args: &'a [&'a str],
    pub env: &'a [(&'a str, &'a str)],
    /// A program (and its arguments) that execs jitterd, e.g. `setpriv …`.
    pub wrapper: &'a [&'a str],
}

/// A config for `strategy` at `period`, small enough to be quick.
pub(crate) fn config(strategy: &str, period: &str) -> String {
    format!("strategy = \"{strategy}\"\n[heartbeat]\nperiod = \"{period}\"\n")
}

impl Daemon {
    /// Starts the daemon with this config and waits until it serves.
    pub(crate) fn start(config: &str) -> Daemon {
        Daemon::start_with(Start { config, ..Start::default() })
    }

    pub(crate) fn start_with(start: Start<'_>) -> Daemon {
        let alone = alone();
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("jitterd.toml");
        std::fs::write(&config_path, start.config).expect("write config");
        let mut command = match start.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(BIN);
                command
            }
            None => Command::new(BIN),
        };
        command
            .arg("--config.file")
            .arg(&config_path)
            .args(["--web.listen-address", "127.0.0.1:0", "--log.format", "json"])
            .args(start.args)
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in start.env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn jitterd");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let reader = BufReader::new(child.stderr.take().expect("stderr"));
        let lines = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                lines.lock().expect("lines").push(line);
            }
        });
        let mut daemon = Daemon {
            child,
            addr: String::new(),
            _dir: dir,
            _alone: alone,
            config_path,
            stderr,
            stderr_reader: Some(stderr_reader),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(addr) = daemon.log_field("jitterd started", "address") {
                daemon.addr = addr;
                return daemon;
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("jitterd exited early with {status}: {:?}", daemon.stderr_lines());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("jitterd did not start: {:?}", daemon.stderr_lines());
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GET `path`: status and body; status 0 when the request failed.
    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        http("GET", &self.url(path))
    }

    /// The current `/metrics`, parsed. A scrape that fails (no answer, a
    /// status other than 200, a body cut short or empty) fails the test
    /// here, saying so, rather than reaching [`Metrics::get`] as a scrape
    /// that lacks every series.
    pub(crate) fn metrics(&self) -> Metrics {
        scrape(&self.url("/metrics")).unwrap_or_else(|why| panic!("{why}\n{}", self.stderr_tail()))
    }

    /// Waits until `check` holds on a scrape; panics with the last scrape
    /// otherwise. Every family jitterd exports is there once
    /// [`Daemon::start`] returns (the start is logged after the experiment
    /// is described; before the first beat the values are zeros), so `check`
    /// may read any of them with [`Metrics::get`]. A failed scrape is not
    /// retried: the exporter must answer every one, and [`Daemon::metrics`]
    /// says why it did not.
    pub(crate) fn wait_for_metrics(&self, timeout: Duration, what: &str, check: impl Fn(&Metrics) -> bool) -> Metrics {
        let deadline = Instant::now() + timeout;
        loop {
            let metrics = self.metrics();
            if check(&metrics) {
                return metrics;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; last scrape:\n{}", metrics.text);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill {signal}");
    }

    /// Waits for the daemon to exit; once it has, everything it wrote to
    /// stderr has been read, so its last lines (the summary) are there.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = wait_child(&mut self.child, timeout)?;
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        Some(status)
    }

    /// `/proc` directories of the daemon's threads named `name` (15 bytes at most).
    pub(crate) fn threads_named(&self, name: &str) -> Vec<PathBuf> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.pid())).expect("read /proc task");
        tasks
            .map_while(Result::ok)
            .map(|entry| entry.path())
            .filter(|task| std::fs::read_to_string(task.join("comm")).is_ok_and(|comm| comm.trim() == name))
            .collect()
    }

    pub(crate) fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("lines").clone()
    }

    /// The daemon's last log lines, for a failure message.
    fn stderr_tail(&self) -> String {
        let lines = self.stderr_lines();
        let tail = &lines[lines.len().saturating_sub(20)..];
        format!("the daemon's last {} log lines:\n{}", tail.len(), tail.join("\n"))
    }

    /// A JSON log line whose message contains `message`, parsed.
    pub(crate) fn log_line(&self, message: &str) -> Option<serde_json::Value> {
        self.stderr_lines().iter().rev().find_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            value.get("message")?.as_str()?.contains(message).then_some(value)
        })
    }

    /// Waits up to `timeout` for a JSON log line whose message contains
    /// `message`. The daemon writes a line before what it announces can be
    /// seen (a response, a metric), but the test's reader thread may not
    /// have stored it yet, so a line is waited for, never looked up once.
    pub(crate) fn wait_for_log(&self, message: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.log_line(message) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {message:?} within {timeout:?}: {:#?}",
                self.stderr_lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn log_field(&self, message: &str, field: &str) -> Option<String> {
        let line = self.log_line(message)?;
        let value = line.get(field)?;
        Some(value.as_str().map_or_else(|| value.to_string(), str::to_owned))
    }

    pub(crate) fn write_config(&self, text: &str) {
        write_atomically(&self.config_path, text);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

pub(crate) fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One HTTP request: status and body; status 0 when it failed to complete.
pub(crate) fn http(method: &str, url: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let request = ureq::http::Request::builder().method(method).uri(url).body(()).expect("request");
    match agent.run(request) {
        Ok(mut response) => {
            let status = response.status().as_u16();
            (status, response.body_mut().read_to_string().unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

/// GET `url` as a Prometheus server would, parsed; or why the scrape
/// failed: no answer, a status other than 200, a body that could not be
/// read to its end, or an empty one (none of which is a scrape).
pub(crate) fn scrape(url: &str) -> Result<Metrics, String> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut response = agent.get(url).call().map_err(|err| format!("scrape of {url} failed: {err}"))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|err| format!("scrape of {url}: HTTP {status}, body unreadable: {err}"))?;
    if status != 200 {
        return Err(format!("scrape of {url}: HTTP {status}: {body}"));
    }
    if body.trim().is_empty() {
        return Err(format!("scrape of {url}: HTTP 200 with an empty body"));
    }
    Ok(Metrics::parse(&body))
}

/// Runs the binary to completion: exit code, stdout, stderr.
pub(crate) fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("RUST_LOG").stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().expect("run jitterd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A parsed Prometheus text exposition: series (name plus labels as printed) to value.
pub(crate) struct Metrics {
    pub text: String,
    pub series: BTreeMap<String, f64>,
}

impl Metrics {
    pub(crate) fn parse(text: &str) -> Metrics {
        let mut series = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            if let Some((name, value)) = line.rsplit_once(' ') {
                let value = match value {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    v => v.parse().unwrap_or(f64::NAN),
                };
                series.insert(name.to_owned(), value);
            }
        }
        Metrics { text: text.to_owned(), series }
    }

    /// The value of a series that must be in the scrape, e.g.
    /// `jitterd_heartbeats_total` or
    /// `jitterd_consistency_checks_total{result="consistent"}` (labels as
    /// printed). Every family jitterd exports is there from the start, so
    /// an absent series is a typo or a family the daemon lost: it panics,
    /// naming the series and listing the scraped ones that share the
    /// longest prefix with it.
    #[track_caller]
    pub(crate) fn get(&self, series: &str) -> f64 {
        match self.series.get(series) {
            Some(&value) => value,
            None => panic!("{}", self.absent(series)),
        }
    }

    /// The value of a series, or 0 when the scrape lacks it: only for a
    /// series whose absence legitimately means zero (a label value that
    /// appears with its first event, say). Say why at the call site;
    /// anything else reads with [`Metrics::get`].
    pub(crate) fn value_or_zero(&self, series: &str) -> f64 {
        self.series.get(series).copied().unwrap_or(0.0)
    }

    pub(crate) fn has(&self, family: &str) -> bool {
        self.text.lines().any(|l| l.starts_with(&format!("# TYPE {family} ")))
    }

    /// Every family the scrape declares, from its `# TYPE` lines, in order.
    pub(crate) fn families(&self) -> Vec<Family> {
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split_once(' '))
            .map(|(name, kind)| Family { name: name.to_owned(), kind: kind.trim().to_owned() })
            .collect()
    }

    /// Observations in a histogram above the bucket bound `le`, which must be
    /// one of the histogram's bounds as exported (count − bucket{le}).
    #[track_caller]
    pub(crate) fn count_above(&self, histogram: &str, le: &str) -> f64 {
        let bucket = format!("{histogram}_bucket{{le=\"{le}\"}}");
        let Some(&below) = self.series.get(&bucket) else {
            let prefix = format!("{histogram}_bucket{{le=\"");
            let bounds: Vec<&str> =
                self.series.keys().filter_map(|s| s.strip_prefix(&prefix)?.strip_suffix("\"}")).collect();
            panic!("no bucket {bucket} in the scrape; the bounds of {histogram} are: {}", bounds.join(" "));
        };
        self.get(&format!("{histogram}_count")) - below
    }

    /// Why `series` is not in the scrape: the scraped series that share the
    /// longest prefix of whole words with its family (so `jitterd_heartbeat_total`
    /// lists `jitterd_heartbeat_*`, and `jitterd_heartbeats_total`), or that
    /// the scrape holds nothing.
    fn absent(&self, series: &str) -> String {
        const SHOWN: usize = 40;
        let name = series.split('{').next().unwrap_or(series);
        let family = ["_bucket", "_count", "_sum"].iter().find_map(|suffix| name.strip_suffix(suffix)).unwrap_or(name);
        let words: Vec<&str> = family.split('_').collect();
        for kept in (1..=words.len()).rev() {
            let prefix = words[..kept].join("_");
            let near: Vec<&str> = self.series.keys().filter(|s| s.starts_with(&prefix)).map(String::as_str).collect();
            if near.is_empty() {
                continue;
            }
            let more = near.len().saturating_sub(SHOWN);
            let more = if more > 0 { format!("\n  … and {more} more") } else { String::new() };
            return format!(
                "series {series} is not in the scrape; the scraped series starting with {prefix}:\n  {}{more}",
                near[..near.len().min(SHOWN)].join("\n  ")
            );
        }
        match self.series.len() {
            0 => format!("series {series} is not in the scrape, which holds no series at all:\n{}", self.text),
            n => format!("series {series} is not in the scrape; none of its {n} series starts as it does"),
        }
    }
}

/// A metric family as the contract names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Family {
    /// As its `# TYPE` line names it, e.g. `jitterd_heartbeats_total`.
    pub name: String,
    /// `counter`, `gauge`, `histogram` or `summary`.
    pub kind: String,
}

/// The metric families of the contract, from `tests/golden/contract-metrics.txt`.
pub(crate) struct ContractMetrics {
    /// What the daemon must export.
    pub exported: Vec<Family>,
    /// In the contract but not yet in the code, with the issue that adds
    /// each: the daemon must not export them yet.
    pub pending: Vec<(String, Family)>,
}

/// Reads the golden list of the contract's metric families, written from
/// the design contract rather than read from the code, so it can tell
/// when the code forgot one.
pub(crate) fn contract_metrics() -> ContractMetrics {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/contract-metrics.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let mut contract = ContractMetrics { exported: Vec::new(), pending: Vec::new() };
    let mut pending_for = None;
    for (number, line) in text.lines().enumerate().map(|(i, line)| (i + 1, line.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(issue) = line.strip_prefix("pending:") {
            pending_for = Some(issue.trim().to_owned());
            continue;
        }
        let at = || format!("{}:{number}: {line:?}", path.display());
        let (name, kind) = line.split_once(' ').unwrap_or_else(|| panic!("{}: not \"family type\"", at()));
        let kind = kind.trim();
        assert!(["counter", "gauge", "histogram", "summary"].contains(&kind), "{}: no such type", at());
        let family = Family { name: name.to_owned(), kind: kind.to_owned() };
        let listed = contract.exported.iter().chain(contract.pending.iter().map(|(_, f)| f));
        assert!(listed.clone().all(|f| f.name != family.name), "{}: listed twice", at());
        match &pending_for {
            Some(issue) => contract.pending.push((issue.clone(), family)),
            None => contract.exported.push(family),
        }
    }
    assert!(!contract.exported.is_empty(), "{}: no families", path.display());
    contract
}

/// Compares `actual` with the golden file `tests/golden/{name}` (its lines
/// that start with `## ` are its header, not compared), showing the first
/// lines that differ. With `JITTERD_BLESS=1` it writes the file instead,
/// `header` (each line prefixed `## `) and then `actual`, and reports the
/// comparison as not made.
#[track_caller]
pub(crate) fn assert_golden(name: &str, header: &str, actual: &[String]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("JITTERD_BLESS").is_some_and(|v| v == "1") {
        let mut text: String = header.lines().map(|line| format!("## {line}\n").replace("## \n", "##\n")).collect();
        text.extend(actual.iter().map(|line| format!("{line}\n")));
        std::fs::write(&path, text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        not_tested(&format!("JITTERD_BLESS=1 wrote {} ({} lines) instead of comparing", path.display(), actual.len()));
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("{}: {err} (JITTERD_BLESS=1 writes it)", path.display()));
    let golden: Vec<&str> = text.lines().filter(|line| *line != "##" && !line.starts_with("## ")).collect();
    if golden.iter().eq(actual.iter()) {
        return;
    }
    panic!("{} differs from what was served:\n{}", path.display(), diff(&golden, actual));
}

/// A line diff of `golden` against `actual` (the longest common
/// subsequence, as `diff` finds it): the first hunks with two lines of
/// context, `-` for a golden line not served, `+` for a served line not in
/// the golden file; and a note when only the order differs.
fn diff(golden: &[&str], actual: &[String]) -> String {
    const CONTEXT: usize = 2;
    const SHOWN: usize = 60;
    let (n, m) = (golden.len(), actual.len());
    // common[i][j]: the longest common subsequence of golden[i..] and actual[j..].
    let mut common = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] =
                if golden[i] == actual[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut edits) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && golden[i] == actual[j] {
            edits.push((' ', i + 1, golden[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || common[i + 1][j] >= common[i][j + 1]) {
            edits.push(('-', i + 1, golden[i]));
            i += 1;
        } else {
            edits.push(('+', j + 1, actual[j].as_str()));
            j += 1;
        }
    }
    let changed: Vec<usize> = edits.iter().enumerate().filter(|(_, e)| e.0 != ' ').map(|(k, _)| k).collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
    let mut out = format!(
        "{} lines differ ({} golden lines, {} served; - golden only, + served only, with line numbers):\n",
        changed.len(),
        n,
        m
    );
    let (mut shown, mut last) = (0, None);
    for (k, (sign, line_number, line)) in edits.iter().enumerate().filter(|&(k, _)| near(k)) {
        if shown == SHOWN {
            out.push_str(&format!("… and more; {} differing lines in all\n", changed.len()));
            break;
        }
        if last.is_some_and(|last| last + 1 != k) {
            out.push_str("  ...\n");
        }
        out.push_str(&format!("{sign} {line_number:>5} {line}\n"));
        (shown, last) = (shown + 1, Some(k));
    }
    let mut sorted_golden = golden.to_vec();
    let mut sorted_actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    sorted_golden.sort_unstable();
    sorted_actual.sort_unstable();
    if sorted_golden == sorted_actual {
        out.push_str("(the same lines, in another order)\n");
    }
    out
}

/// Held by a test that measures time or loads the machine (and by every
/// [`Daemon`]): such tests take turns, so each shares the two cores only
/// with its own clients. Re-entrant, so a test that holds it can start a daemon.
pub(crate) type Alone = parking_lot::ReentrantMutexGuard<'static, ()>;

pub(crate) fn alone() -> Alone {
    static ALONE: parking_lot::ReentrantMutex<()> = parking_lot::ReentrantMutex::new(());
    ALONE.lock()
}

/// xorshift64*: enough randomness to choose test moments and variants,
/// reproducible from the seed it prints (`JITTERD_TEST_SEED`).
pub(crate) struct Rng(u64);

impl Rng {
    /// Seeded from `JITTERD_TEST_SEED` or the clock; prints the seed under `label`.
    pub(crate) fn new(label: &str) -> Rng {
        let seed = std::env::var("JITTERD_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
        });
        println!("{label}: seed {seed} (set JITTERD_TEST_SEED={seed} to repeat)");
        Rng(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A duration below `below` milliseconds, in microsecond steps.
    pub(crate) fn millis(&mut self, below: u64) -> Duration {
        Duration::from_micros(self.next() % (below * 1000).max(1))
    }

    /// SIGTERM or SIGINT.
    pub(crate) fn stop_signal(&mut self) -> i32 {
        if self.next().is_multiple_of(2) { libc::SIGTERM } else { libc::SIGINT }
    }
}

/// Says that a check was not made, and why: on stderr, and appended to
/// the run's report (`$JITTERD_TEST_REPORT`, or `not-tested.txt` in
/// cargo's target tmp directory), which `scripts/test` prints at the end.
/// The harness hides a passing test's output, so without the report a
/// skipped check would pass silently.
pub(crate) fn not_tested(why: &str) {
    use std::io::Write as _;
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let line = format!("NOT TESTED in {test}: {why}");
    eprintln!("{line}");
    let report = std::env::var_os("JITTERD_TEST_REPORT")
        .map_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("not-tested.txt"), PathBuf::from);
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&report)
        .and_then(|mut file| writeln!(file, "{}", line.replace('\n', " ")));
    if let Err(err) = appended {
        eprintln!("could not append to {}: {err}", report.display());
    }
}

/// Memory the kernel says is available to a new process, in bytes.
pub(crate) fn memory_available_bytes() -> u64 {
    let kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("MemAvailable:"))?.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    kib * 1024
}

/// How busy the rest of the host was while a test ran: CPU time of every
/// process but this test process and the given daemons, in cores. A timing
/// assertion means something only on a host no busier than CI's worst case
/// (a busy loop holding one core); on a busier one the test says it cannot
/// tell rather than fail or pass silently.
pub(crate) struct HostLoad {
    started: Instant,
    busy_ticks: u64,
    own_ticks: u64,
    pids: Vec<i32>,
    /// Cores the rest of the host kept busy up to [`HostLoad::stop`], once called.
    stopped: Option<f64>,
}

/// More than a busy loop's one core (plus the noise of a shared VM): the
/// host is busier than the suite is built to measure on.
pub(crate) const BUSY_HOST_CORES: f64 = 1.3;

impl HostLoad {
    pub(crate) fn start(pids: &[i32]) -> HostLoad {
        let pids = pids.to_vec();
        HostLoad {
            started: Instant::now(),
            busy_ticks: host_busy_ticks(),
            own_ticks: own_ticks(&pids),
            pids,
            stopped: None,
        }
    }

    pub(crate) fn elapsed_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Ends the measurement here, while the given processes still exist (an
    /// exited one's CPU time can no longer be read, so it would count as the
    /// rest of the host's).
    pub(crate) fn stop(&mut self) {
        self.stopped = Some(self.other_cores());
    }

    /// Cores the rest of the host kept busy since the start (until the stop).
    pub(crate) fn other_cores(&self) -> f64 {
        if let Some(other) = self.stopped {
            return other;
        }
        let busy = host_busy_ticks().saturating_sub(self.busy_ticks);
        let own = own_ticks(&self.pids).saturating_sub(self.own_ticks);
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        busy.saturating_sub(own) as f64 / clock_ticks_per_second() / seconds
    }

    /// Asserts `holds` when the host was quiet enough to tell; otherwise
    /// prints that this was not tested, and why.
    pub(crate) fn assert_if_quiet(&self, holds: bool, what: &str) {
        let other = self.other_cores();
        if other > BUSY_HOST_CORES {
            not_tested(&format!("{what}: the rest of the host kept {other:.2} cores busy"));
            return;
        }
        assert!(holds, "{what} (the rest of the host kept {other:.2} cores busy)");
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Busy ticks of all CPUs (everything but idle and iowait) from /proc/stat.
fn host_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest is within user).
    fields.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum()
}

/// utime + stime of this process and the given ones, from /proc/<pid>/stat.
fn own_ticks(pids: &[i32]) -> u64 {
    let of = |path: String| {
        let stat = std::fs::read_to_string(path).unwrap_or_default();
        // Fields after the command name, which may hold spaces: state is the third field.
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<i64> = rest.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect();
        // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the state.
        let ticks = fields.get(10).copied().unwrap_or(0) + fields.get(11).copied().unwrap_or(0);
        u64::try_from(ticks).unwrap_or(0)
    };
    of("/proc/self/stat".into()) + pids.iter().map(|pid| of(format!("/proc/{pid}/stat"))).sum::<u64>()
}

/// A basic-auth `Authorization` value.
pub(crate) fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// One HTTPS GET trusting `cert_pem`, with basic auth if given: the status
/// (0 if the request failed) and the whole response.
pub(crate) fn https_get(addr: &str, path: &str, authorization: Option<&str>, cert_pem: &str) -> (u16, String) {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    use std::io::{Read as _, Write as _};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("pem")).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let connection = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let socket = std::net::TcpStream::connect(addr).expect("connect");
    socket.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut stream = rustls::StreamOwned::new(connection, socket);
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    (text.get(9..12).and_then(|code| code.parse().ok()).unwrap_or(0), text)
}

/// SIGTERM, then what every strategy must do: exit 0 within a second and
/// log the summary naming the strategy. Returns the summary.
pub(crate) fn stop_within_a_second(mut daemon: Daemon, strategy: &str) -> serde_json::Value {
    let sent = Instant::now();
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit(Duration::from_secs(5)).expect("jitterd did not exit");
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "{strategy}: exit status");
    assert!(took < Duration::from_secs(1), "{strategy}: took {took:?} to stop: {:?}", daemon.stderr_lines());
    println!("{strategy}: stopped in {took:?}");
    let summary = daemon
        .log_line("jitterd stopped")
        .unwrap_or_else(|| panic!("{strategy}: no summary: {:?}", daemon.stderr_lines()));
    assert_eq!(summary["strategy"].as_str(), Some(strategy), "{summary}");
    summary
}

/// Every strategy's name, from the crate's own list.
pub(crate) fn strategy_names() -> impl Iterator<Item = &'static str> {
    jitterd::experiment::Strategy::ALL.into_iter().map(jitterd::experiment::Strategy::name)
}

/// The scrape reader is an oracle too: these show that a series read by
/// mistake fails instead of reading as zero.
mod reading_a_scrape {
    use super::Metrics;

    const SCRAPE: &str = "# HELP jitterd_heartbeats_total Heartbeats completed.
# TYPE jitterd_heartbeats_total counter
jitterd_heartbeats_total 7
# TYPE jitterd_heartbeat_missed_total counter
jitterd_heartbeat_missed_total 0
# TYPE jitterd_consistency_checks_total counter
jitterd_consistency_checks_total{result=\"consistent\"} 7
# TYPE jitterd_heartbeat_lateness_seconds histogram
jitterd_heartbeat_lateness_seconds_bucket{le=\"0.001\"} 5
jitterd_heartbeat_lateness_seconds_bucket{le=\"+Inf\"} 7
jitterd_heartbeat_lateness_seconds_sum 0.01
jitterd_heartbeat_lateness_seconds_count 7
";

    #[test]
    fn a_present_series_reads_its_value() {
        let m = Metrics::parse(SCRAPE);
        assert_eq!(m.get("jitterd_heartbeats_total"), 7.0);
        assert_eq!(m.get("jitterd_heartbeat_missed_total"), 0.0);
        assert_eq!(m.get("jitterd_consistency_checks_total{result=\"consistent\"}"), 7.0);
        assert_eq!(m.count_above("jitterd_heartbeat_lateness_seconds", "0.001"), 2.0);
    }

    #[test]
    #[should_panic(expected = "series jitterd_typo is not in the scrape")]
    fn a_typo_fails_instead_of_reading_zero() {
        let _ = Metrics::parse(SCRAPE).get("jitterd_typo");
    }

    #[test]
    #[should_panic(expected = "starting with jitterd_heartbeat:\n  jitterd_heartbeat_lateness_seconds_bucket")]
    fn an_absent_series_lists_its_neighbours() {
        let _ = Metrics::parse(SCRAPE).get("jitterd_heartbeat_total");
    }

    #[test]
    #[should_panic(expected = "jitterd_consistency_checks_total{result=\"consistent\"}")]
    fn an_absent_label_value_lists_the_family() {
        let _ = Metrics::parse(SCRAPE).get("jitterd_consistency_checks_total{result=\"inconsistent\"}");
    }

    #[test]
    #[should_panic(expected = "holds no series at all")]
    fn an_empty_scrape_says_so() {
        let _ = Metrics::parse("").get("jitterd_heartbeats_total");
    }

    #[test]
    #[should_panic(expected = "the bounds of jitterd_heartbeat_lateness_seconds are: +Inf 0.001")]
    fn a_bucket_bound_that_is_not_exported_fails() {
        let _ = Metrics::parse(SCRAPE).count_above("jitterd_heartbeat_lateness_seconds", "0.002");
    }

    #[test]
    fn absent_or_zero_is_explicit() {
        let m = Metrics::parse(SCRAPE);
        assert_eq!(m.value_or_zero("jitterd_consistency_checks_total{result=\"inconsistent\"}"), 0.0);
        assert_eq!(m.value_or_zero("jitterd_heartbeats_total"), 7.0);
    }
}
