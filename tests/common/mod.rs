//! What every integration test shares: taking turns on the two cores
//! ([`alone`]), saying that a check was not made ([`not_tested`]) and a
//! seeded [`Rng`]. The rest lives beside this file by job, re-exported
//! here: the daemon and the binary ([`daemon`]), scrapes ([`scrape`]),
//! golden files ([`golden`]), the host's load ([`host_load`]), what the
//! explain tests provoke a cause with ([`provoke`]) and TLS ([`tls`]).

mod daemon;
mod golden;
mod host_load;
pub(crate) mod provoke;
mod scrape;
mod tls;

pub(crate) use daemon::{BIN, Daemon, Start, config, run, stop_within_a_second, strategy_names, wait_child};
pub(crate) use golden::{assert_golden, contract_metrics};
pub(crate) use host_load::{HostLoad, memory_available_bytes};
pub(crate) use scrape::{Metrics, http};
pub(crate) use tls::{basic_auth, https_get};

use std::path::{Path, PathBuf};
use std::time::Duration;

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
