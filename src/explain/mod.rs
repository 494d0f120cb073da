//! Why a beat was late: the causes a late beat's lateness is split among,
//! the kernel's sources they are read from, and what a board counts of them.
//!
//! The vocabulary the heartbeat, the observatory and every view share
//! (this file); what the kernel says about one beat ([`Evidence`], read by
//! [`evidence`] on the heartbeat's thread, with the host-wide sources of
//! [`host`] read at most every 10 ms); and the [`waterfall`] that splits a
//! late beat's lateness among the causes in the order of [`Cause::ALL`],
//! its amounts summing exactly to the lateness, `wake` taking what remains
//! (DESIGN.md, "Why a beat was late"). Below the observatory: it names no
//! exporter and keeps no counts but the plain [`CauseCounts`].

pub mod evidence;
pub mod host;
pub mod waterfall;

pub use evidence::ThreadEvidence;
pub use host::HostEvidence;
pub use waterfall::{Charging, Explanation, explain};

use std::sync::atomic::{AtomicBool, Ordering};

use crate::sys::clock::MonoTime;
use crate::sys::proc::ThreadUsage;

/// One cause of lateness, in the order the waterfall charges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// The cgroup's CPU quota ran out: run-queue wait while `nr_throttled` moved.
    Throttled,
    /// Runnable, waiting for a CPU that others held: the rest of the run-queue wait.
    Cpu,
    /// The process was stopped (SIGSTOP, a debugger, a freezer).
    Stopped,
    /// Major page faults.
    Paging,
    /// The consistency check itself.
    Check,
    /// Waiting for the array: a lock, a reply; under `async` the counter's pass.
    Strategy,
    /// The hypervisor ran another guest.
    Steal,
    /// None of the above: the timer, idle exit, interrupts, the host.
    Wake,
}

impl Cause {
    /// Every cause, in the waterfall's order.
    pub const ALL: [Cause; 8] = [
        Cause::Throttled,
        Cause::Cpu,
        Cause::Stopped,
        Cause::Paging,
        Cause::Check,
        Cause::Strategy,
        Cause::Steal,
        Cause::Wake,
    ];

    /// The label value and JSON key.
    pub const fn name(self) -> &'static str {
        match self {
            Cause::Throttled => "throttled",
            Cause::Cpu => "cpu",
            Cause::Stopped => "stopped",
            Cause::Paging => "paging",
            Cause::Check => "check",
            Cause::Strategy => "strategy",
            Cause::Steal => "steal",
            Cause::Wake => "wake",
        }
    }

    /// Its place in [`Cause::ALL`] and in [`CauseCounts`]' arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// A source of evidence the kernel may or may not offer this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// `/proc/thread-self/schedstat`: time on a CPU, time waiting for one.
    Schedstat,
    /// `getrusage(RUSAGE_THREAD)`: context switches, major faults.
    Rusage,
    /// The cgroup's `cpu.stat` (and its ancestors' with a quota): throttling.
    CpuStat,
    /// `/proc/pressure/cpu`: CPU pressure stall information.
    Pressure,
    /// `/proc/stat`: steal time.
    Steal,
    /// The SIGCONT handler: when the process was last continued.
    Sigcont,
}

impl Source {
    pub const ALL: [Source; 6] =
        [Source::Schedstat, Source::Rusage, Source::CpuStat, Source::Pressure, Source::Steal, Source::Sigcont];

    /// The label value.
    pub const fn name(self) -> &'static str {
        match self {
            Source::Schedstat => "schedstat",
            Source::Rusage => "rusage",
            Source::CpuStat => "cpu_stat",
            Source::Pressure => "pressure",
            Source::Steal => "steal",
            Source::Sigcont => "sigcont",
        }
    }

    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Logs once in the process's life that `source` cannot be read, and why:
/// every experiment's heartbeats open their readers again, and say nothing new.
pub(crate) fn warn_unavailable(source: Source, why: &str) {
    static WARNED: [AtomicBool; 6] = [const { AtomicBool::new(false) }; 6];
    if !WARNED[source.index()].swap(true, Ordering::Relaxed) {
        tracing::warn!(source = source.name(), "late beats are explained without {}: {why}", source.name());
    }
}

/// What a heartbeat's late beats came to, by cause: plain `Copy` counts,
/// kept in the board's tally since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CauseCounts {
    /// Beats above the threshold, by their dominant cause.
    pub late_beats: [u64; 8],
    /// Their lateness, split among the causes, in nanoseconds.
    pub explained_ns: [u64; 8],
}

impl CauseCounts {
    /// One late beat: its dominant cause and its amounts.
    pub fn add(&mut self, explanation: &Explanation) {
        self.late_beats[explanation.dominant().index()] += 1;
        for (total, amount) in self.explained_ns.iter_mut().zip(explanation.amounts_ns) {
            *total += amount;
        }
    }

    pub fn late_beats(&self, cause: Cause) -> u64 {
        self.late_beats[cause.index()]
    }

    /// The cause with the most explained lateness; on a tie, the one the
    /// waterfall charges first, as [`Explanation::dominant`]. `None` while
    /// nothing was explained.
    ///
    /// What, over all the late beats counted, cost the heartbeat most of the
    /// time it lost beyond `explain.threshold`.
    pub fn dominant(&self) -> Option<Cause> {
        let best = Cause::ALL.into_iter().rev().max_by_key(|&cause| self.explained_ns(cause))?;
        (self.explained_ns(best) > 0).then_some(best)
    }

    pub fn explained_ns(&self, cause: Cause) -> u64 {
        self.explained_ns[cause.index()]
    }
}

/// What the kernel said about one beat: how its counters moved between
/// the previous beat's reading and this one's (both taken just after
/// `done`), and the moments it noted. `None`: the source is unavailable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// From the previous reading to this one: the span the counters cover.
    pub span_ns: u64,
    /// `/proc/thread-self/schedstat`.
    pub times: Option<ThreadTimes>,
    /// `getrusage(RUSAGE_THREAD)`.
    pub usage: Option<ThreadUsage>,
    /// The CPU the heartbeat ran on when it read this.
    pub cpu: Option<u32>,
    /// The cgroup's `cpu.stat`, and its ancestors' with a quota.
    pub throttling: Option<Throttling>,
    /// Steal time of the CPU the heartbeat ran on, whole clock ticks.
    pub steal_ns: Option<u64>,
    /// `/proc/pressure/cpu`.
    pub pressure: Option<Pressure>,
    /// When the process was last continued (SIGCONT), whenever that was.
    pub continued_at: Option<MonoTime>,
}

impl Evidence {
    /// Nothing known: every cause the kernel would show goes to `wake`.
    pub const NONE: Evidence = Evidence {
        span_ns: 0,
        times: None,
        usage: None,
        cpu: None,
        throttling: None,
        steal_ns: None,
        pressure: None,
        continued_at: None,
    };
}

/// Time on a CPU and time runnable but waiting for one, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadTimes {
    pub on_cpu_ns: u64,
    pub run_queue_wait_ns: u64,
}

/// CPU throttling: periods in which the quota ran out, and for how long.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttling {
    pub periods: u64,
    pub throttled_ns: u64,
}

/// CPU pressure (PSI): the share of the last 10 s some task waited for a
/// CPU, and the time some did within the span.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pressure {
    pub some_avg10_percent: f32,
    pub some_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_the_index() {
        for (i, cause) in Cause::ALL.into_iter().enumerate() {
            assert_eq!(cause.index(), i, "{cause:?}");
        }
        for (i, source) in Source::ALL.into_iter().enumerate() {
            assert_eq!(source.index(), i, "{source:?}");
        }
    }
}
