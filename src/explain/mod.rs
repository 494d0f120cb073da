//! Why a beat was late: the causes a late beat's lateness is split among,
//! the kernel's sources they are read from, and what a board counts of them.
//!
//! A leaf: the vocabulary the heartbeat, the observatory and every view
//! share. The causes are charged in the order of [`Cause::ALL`], a
//! waterfall whose amounts sum exactly to the beat's lateness; `wake` takes
//! what remains (DESIGN.md, "Why a beat was late").

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
    pub fn late_beats(&self, cause: Cause) -> u64 {
        self.late_beats[cause.index()]
    }

    pub fn explained_ns(&self, cause: Cause) -> u64 {
        self.explained_ns[cause.index()]
    }
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
