//! The real `jitterd` binary, started on a free loopback port with a
//! config of the test's choosing and talked to over real HTTP and real
//! signals: [`Daemon`] (its JSON log read as it goes, killed on drop), the
//! binary run to completion ([`run`]), and the stop every strategy owes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::scrape::{Metrics, http, scrape};
use super::{Alone, alone};

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
