//! How busy the host is: what the rest of it kept busy while a timing
//! test ran ([`HostLoad`], read from `/proc`), and the memory a large
//! array would need. A timing assertion means something only on a host no
//! busier than the suite is built for; beyond that the test says NOT TESTED.

use std::time::Instant;

use super::not_tested;

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

/// Less than this, and every thread of the test's own has a core: what an
/// assertion about a starved lock needs (preemption by anything else opens
/// gaps for the starved thread and makes every hand-off wait for a CPU).
pub(crate) const FREE_HOST_CORES: f64 = 0.3;

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

    /// Asserts `holds` when the rest of the host left every thread a core
    /// ([`FREE_HOST_CORES`]); otherwise prints that this was not tested.
    pub(crate) fn assert_if_free(&self, holds: bool, what: &str) {
        let other = self.other_cores();
        if other > FREE_HOST_CORES {
            not_tested(&format!(
                "{what}: needs a core per thread, and the rest of the host kept {other:.2} cores busy"
            ));
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
