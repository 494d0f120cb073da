//! The HdrHistogram interval log (`record.interval_log`), written off the
//! heartbeat's thread.
//!
//! [`IntervalLog::spawn`] starts a writer thread that lives for the process.
//! Every `record.interval` it takes what each heartbeat's window store in
//! the observatory recorded since its last visit and appends one line per
//! tag (`main`, `control`) to the log; the heartbeat only ever meets it on
//! the store's short mutex. A write that fails (disk full, directory gone)
//! is counted in the observatory and logged once until writing works again; what it would
//! have written is carried into the next line that succeeds, so nothing
//! recorded is dropped, only written later as one longer interval. A reload
//! [reconfigures](IntervalLog::reconfigure) the thread: it writes the partial
//! interval where it was going, then goes on with the new path or interval.

mod format;
mod target;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;

use crate::experiment::Heartbeat;
use crate::observe::{IntervalHistogram, LatenessStore, Observatory};
use target::{LogFile, Section};

/// The config key, for messages.
const KEY: &str = "record.interval_log";

/// How long [`IntervalLog::stop`] waits for the last write (a hung file
/// system must not hang the daemon's stop).
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Nice value of the writer thread: it yields to the experiment, as the HTTP thread does.
const WRITER_NICE: i32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub path: PathBuf,
    pub interval: Duration,
}

/// The handle to the writer thread.
pub struct IntervalLog {
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

enum Command {
    Reconfigure(LogSettings),
    Stop,
}

impl IntervalLog {
    /// Can this path be appended to (created if missing)? The error names
    /// the path and the OS error.
    pub fn check_writable(path: &Path) -> Result<(), String> {
        target::open_append(path)
            .map(drop)
            .map_err(|err| format!("cannot open {} for appending: {err}", path.display()))
    }

    /// Opens the log and starts the writer on `observatory`'s window
    /// stores. What they recorded before now is not the log's: the first
    /// interval starts here, so spawn it before the experiment starts.
    pub fn spawn(settings: LogSettings, observatory: Arc<Observatory>) -> std::io::Result<IntervalLog> {
        let mut file = LogFile::new(settings.path.clone());
        file.prepare()?;
        let sources = Heartbeat::BOTH.into_iter().filter(|&h| observatory.board(h).store().is_some()).collect();
        let writer = Writer::new(file, &settings, observatory, sources);
        drop(writer.take());
        let (commands, received) = mpsc::channel();
        // The thread logs where its creator logs (the global subscriber in the daemon).
        let dispatch = tracing::dispatcher::get_default(|dispatch| dispatch.clone());
        let thread = std::thread::Builder::new()
            .name("interval-log".into())
            .spawn(move || tracing::dispatcher::with_default(&dispatch, || writer.run(received)))?;
        tracing::info!(
            path = %settings.path.display(),
            interval = ?settings.interval,
            "{KEY}: appending the lateness histograms every interval"
        );
        Ok(IntervalLog { commands, thread: Some(thread) })
    }

    /// On a reload: writes the partial interval, then goes on with these
    /// settings (the same or not). Nothing recorded is lost. Returns at once.
    pub fn reconfigure(&self, settings: LogSettings) {
        // The thread only ends after `stop`, which consumes `self`.
        let _ = self.commands.send(Command::Reconfigure(settings));
    }

    /// Writes the last partial interval, then ends the thread; waits at most
    /// [`STOP_TIMEOUT`] for that.
    pub fn stop(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        let _ = self.commands.send(Command::Stop);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!(
                "{KEY}: the last interval is still being written after {STOP_TIMEOUT:?}; not waiting for it"
            );
        }
    }
}

impl Drop for IntervalLog {
    fn drop(&mut self) {
        self.finish();
    }
}

/// An interval of zero would spin.
fn usable(interval: Duration) -> Duration {
    interval.max(Duration::from_millis(1))
}

struct Writer {
    file: LogFile,
    interval: Duration,
    /// The heartbeats whose boards keep a window store, in tag order.
    sources: Vec<Heartbeat>,
    observatory: Arc<Observatory>,
    /// Taken from the stores but not written yet, one per source (empty
    /// when everything is written).
    pending: Vec<IntervalHistogram>,
    /// When this log began: every section's StartTime.
    start_time: SystemTime,
    /// The current section's BaseTime.
    section_base: SystemTime,
    serializer: V2DeflateSerializer,
    failing: bool,
}

impl Writer {
    fn new(file: LogFile, settings: &LogSettings, observatory: Arc<Observatory>, sources: Vec<Heartbeat>) -> Writer {
        Writer {
            file,
            interval: usable(settings.interval),
            sources,
            observatory,
            pending: Vec::new(),
            start_time: SystemTime::now(),
            section_base: SystemTime::now(),
            serializer: V2DeflateSerializer::new(),
            failing: false,
        }
    }

    /// What each source recorded since the last call.
    fn take(&self) -> Vec<IntervalHistogram> {
        let observatory = &self.observatory;
        self.sources
            .iter()
            .filter_map(|&h| observatory.board(h).store().and_then(LatenessStore::take_interval))
            .collect()
    }

    fn run(mut self, commands: Receiver<Command>) {
        crate::sys::timer::set_current_thread_nice(WRITER_NICE, "interval log");
        let mut deadline = Instant::now() + self.interval;
        loop {
            match commands.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Err(RecvTimeoutError::Timeout) => {
                    self.cut();
                    deadline += self.interval;
                    let now = Instant::now();
                    if deadline <= now {
                        // A write outlasted the interval: the next one is whole rather than a burst of short ones.
                        deadline = now + self.interval;
                    }
                }
                Ok(Command::Reconfigure(settings)) => {
                    self.cut();
                    if settings.path != self.file.path() {
                        tracing::info!(from = %self.file.path().display(), to = %settings.path.display(), "{KEY}: now appending to another file");
                        self.file = LogFile::new(settings.path);
                    }
                    self.interval = usable(settings.interval);
                    deadline = Instant::now() + self.interval;
                }
                Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => {
                    self.cut();
                    return;
                }
            }
        }
    }

    /// Takes each store's interval and writes it, with whatever an earlier
    /// failure left pending.
    fn cut(&mut self) {
        let taken = self.take();
        if self.pending.is_empty() {
            self.pending = taken;
        } else {
            for (pending, interval) in self.pending.iter_mut().zip(taken) {
                // Same layout: cannot fail.
                let _ = pending.histogram.add(&interval.histogram);
                pending.end = interval.end;
            }
        }
        match self.write_pending() {
            Ok(()) => {
                self.pending.clear();
                if self.failing {
                    self.failing = false;
                    tracing::info!(
                        "{KEY}: writing {} works again; what the failed writes held is in this line",
                        self.file.path().display()
                    );
                }
            }
            Err(err) => {
                self.observatory.count_write_error();
                if !self.failing {
                    self.failing = true;
                    tracing::warn!(
                        "{KEY}: cannot write {}: {err}; the lateness recorded meanwhile is kept and written once writing works again",
                        self.file.path().display()
                    );
                }
            }
        }
    }

    fn write_pending(&mut self) -> std::io::Result<()> {
        let section = self.file.prepare()?;
        let mut text = Vec::new();
        let base = match section {
            Section::Continues => self.section_base,
            Section::New { torn_tail } => {
                if torn_tail {
                    text.push(b'\n');
                }
                let base = self.pending.iter().map(|interval| interval.start).min().unwrap_or_else(SystemTime::now);
                text.extend(format::header(self.start_time.min(base), base));
                base
            }
        };
        let tagged: Vec<(&str, &IntervalHistogram)> =
            self.sources.iter().map(|h| h.name()).zip(self.pending.iter()).collect();
        text.extend(format::lines(&tagged, base, &mut self.serializer)?);
        self.file.append(&text)?;
        self.section_base = base;
        Ok(())
    }
}
