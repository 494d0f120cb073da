//! Headless Chromium driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: it reads commands on fd 3 and writes on fd 4,
//! each message JSON ended by a NUL), so no websocket client and no port.
//! Used by the live page's test (tests/live.rs).

use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one protocol command may take on a busy host.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// `CHROMIUM`, or `chromium` on the PATH; a clear failure otherwise.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium not found: this test needs a real browser. Install Debian's chromium \
                 (scripts/test does: apt-get install -y chromium) or set CHROMIUM to its path"
            )
        })
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2(2) fills the two descriptors, which we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and nothing else owns them.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// One page in its own browser, killed on drop.
pub(crate) struct Page {
    child: Child,
    commands: File,
    messages: Receiver<Value>,
    events: Vec<Value>,
    next_id: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl Page {
    /// Starts the browser with a fresh profile and opens `url` in it.
    pub(crate) fn open(url: &str) -> Page {
        let profile = tempfile::tempdir().expect("tempdir");
        let (browser_reads, commands) = pipe();
        let (replies, browser_writes) = pipe();
        let (read_fd, write_fd) = (browser_reads.as_raw_fd(), browser_writes.as_raw_fd());
        let mut command = Command::new(chromium());
        command
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
            .args(["--disable-extensions", "--disable-dev-shm-usage", "--remote-debugging-pipe"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Moved above 4 first, so placing one cannot close the other.
                let read_high = libc::fcntl(read_fd, libc::F_DUPFD_CLOEXEC, 10);
                let write_high = libc::fcntl(write_fd, libc::F_DUPFD_CLOEXEC, 10);
                if read_high < 0 || write_high < 0 || libc::dup2(read_high, 3) < 0 || libc::dup2(write_high, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|err| panic!("cannot start chromium: {err}"));
        drop((browser_reads, browser_writes));
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(File::from(replies));
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                message.pop_if(|byte| *byte == 0);
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && sender.send(value).is_err()
                {
                    return;
                }
                message.clear();
            }
        });
        let mut page = Page {
            child,
            commands: File::from(commands),
            messages,
            events: Vec::new(),
            next_id: 0,
            session: None,
            _profile: profile,
        };
        let target = page.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = page.call("Target.attachToTarget", json!({"targetId": target, "flatten": true}));
        page.session = Some(attached["sessionId"].as_str().expect("sessionId").to_owned());
        for domain in ["Page", "Network", "Runtime", "Log"] {
            page.call(&format!("{domain}.enable"), json!({}));
        }
        page.viewport(1200, 1900, false);
        page.call("Page.navigate", json!({"url": url}));
        page
    }

    /// Sends one command (to the page once attached) and waits for its
    /// result, keeping the events that arrive meanwhile.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params).unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    /// As [`Page::call`], with the protocol's error rather than a panic.
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap_or_else(|err| panic!("{method}: the browser went away: {err}"));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(reply) if reply["id"] == id && reply["error"].is_null() => return Ok(reply["result"].clone()),
                Ok(reply) if reply["id"] == id => return Err(reply["error"].clone()),
                Ok(event) => self.events.push(event),
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer in {COMMAND_TIMEOUT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: the browser exited"),
            }
        }
    }

    /// The value of a JavaScript expression on the page.
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression).unwrap_or_else(|error| panic!("{expression}: {error}"))
    }

    /// As [`Page::eval`], with the exception (or the protocol's error,
    /// while a document loads) rather than a panic.
    pub(crate) fn try_eval(&mut self, expression: &str) -> Result<Value, Value> {
        let result = self.try_call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true}))?;
        match result.get("exceptionDetails") {
            Some(exception) => Err(exception.clone()),
            None => Ok(result["result"]["value"].clone()),
        }
    }

    /// Polls `done` every 200 ms until it holds; fails after `timeout`.
    pub(crate) fn wait_until(&mut self, timeout: Duration, what: &str, mut done: impl FnMut(&mut Page) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// How many times the page has polled (0 while it loads).
    pub(crate) fn polls(&mut self) -> u64 {
        let polls = self.try_eval("Number(document.documentElement.dataset.polls || 0)");
        polls.ok().and_then(|polls| polls.as_u64()).unwrap_or(0)
    }

    /// Waits until the page has polled `more` more times.
    pub(crate) fn wait_for_polls(&mut self, timeout: Duration, more: u64) {
        let target = self.polls() + more;
        self.wait_until(timeout, "the page to poll", |page| page.polls() >= target);
    }

    pub(crate) fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.call("Emulation.setDeviceMetricsOverride", metrics);
    }

    pub(crate) fn screenshot(&mut self, path: &Path) {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": true}));
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("data"));
        std::fs::write(path, png.expect("base64")).expect("write the screenshot");
    }

    /// The events of `method` received so far (those that came while
    /// waiting for a command's result, and any queued now).
    pub(crate) fn events(&mut self, method: &str) -> Vec<Value> {
        self.events.extend(self.messages.try_iter());
        self.events.iter().filter(|e| e["method"] == method).cloned().collect()
    }
}

impl Drop for Page {
    /// Asks the browser to close (so it takes its helper processes
    /// along), and kills it if it has not within a few seconds.
    fn drop(&mut self) {
        let _ = self.commands.write_all(b"{\"id\":0,\"method\":\"Browser.close\"}\0");
        if crate::common::wait_child(&mut self.child, Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
