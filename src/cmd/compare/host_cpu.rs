//! How much CPU the rest of the host used while a strategy ran, so that a
//! table taken on a busy host says so: the busy time of every CPU in
//! `/proc/stat` minus this process's own CPU time over the run, in cores.
//!
//! Busy is user, nice, system, irq and softirq (a guest's time is inside
//! user and nice); idle and iowait are not busy, and steal, time the
//! hypervisor gave another guest, is reported on its own. `/proc/stat`
//! counts in clock ticks (10 ms), so over a run of a few seconds the figure
//! is good to about a hundredth of a core. Where `/proc/stat` cannot be read
//! there is no figure, rather than a wrong one.

use crate::sys::clock::MonoTime;

/// The CPU counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CpuMark {
    at: MonoTime,
    /// All CPUs' busy and steal time from `/proc/stat`, in seconds.
    host: Option<HostCpu>,
    /// This process's CPU time (every thread), in seconds.
    own_seconds: f64,
}

/// What `/proc/stat`'s first line adds up to, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HostCpu {
    busy_seconds: f64,
    steal_seconds: f64,
}

/// What the rest of the host used over a run, in cores (1.0: one CPU kept busy throughout).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OtherCpu {
    /// Other processes: the host's busy time less this process's own.
    pub other_processes_cores: f64,
    /// Steal: the hypervisor ran another guest on our CPUs.
    pub steal_cores: f64,
}

impl CpuMark {
    pub(super) fn now() -> CpuMark {
        let host = std::fs::read_to_string("/proc/stat").ok().and_then(|text| parse_stat(&text, ticks_per_second()));
        CpuMark { at: MonoTime::now(), host, own_seconds: own_cpu_seconds() }
    }

    /// What the rest of the host used between `self` and `later`; `None`
    /// without `/proc/stat` or over no time at all.
    pub(super) fn others_until(&self, later: &CpuMark) -> Option<OtherCpu> {
        let (before, after) = (self.host?, later.host?);
        let seconds = later.at.since(self.at) as f64 / 1e9;
        if seconds <= 0.0 {
            return None;
        }
        let own = later.own_seconds - self.own_seconds;
        let busy = after.busy_seconds - before.busy_seconds;
        let steal = after.steal_seconds - before.steal_seconds;
        // The two clocks are sampled differently: a quiet host can come out
        // a tick below nothing, which is nothing.
        Some(OtherCpu {
            other_processes_cores: ((busy - own) / seconds).max(0.0),
            steal_cores: (steal / seconds).max(0.0),
        })
    }
}

/// The first line of `/proc/stat` (`cpu user nice system idle iowait irq
/// softirq steal guest guest_nice`, in ticks) as seconds.
fn parse_stat(text: &str, ticks_per_second: f64) -> Option<HostCpu> {
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    if fields.len() < 4 {
        return None;
    }
    let busy = [0, 1, 2, 5, 6].into_iter().map(field).sum::<u64>();
    Some(HostCpu { busy_seconds: busy as f64 / ticks_per_second, steal_seconds: field(7) as f64 / ticks_per_second })
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU time of every thread of this process so far.
fn own_cpu_seconds() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map_or(0.0, |ts| ts.tv_sec() as f64 + ts.tv_nsec() as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_steal_from_the_first_line() {
        let text = "cpu  100 20 30 5000 40 5 6 7 50 0\ncpu0 1 2 3 4 5 6 7 8 9 0\nintr 1\n";
        let host = parse_stat(text, 100.0).expect("parsed");
        // user + nice + system + irq + softirq; guest is inside user already.
        assert!((host.busy_seconds - 1.61).abs() < 1e-9, "{host:?}");
        assert!((host.steal_seconds - 0.07).abs() < 1e-9);
        assert_eq!(parse_stat("cpu0 1 2 3 4\n", 100.0), None);
        assert_eq!(parse_stat("cpu  1 2 x 4\n", 100.0), None);
        assert_eq!(parse_stat("", 100.0), None);
    }

    #[test]
    fn others_are_the_host_less_this_process() {
        let mark = |at_s: u64, busy: f64, steal: f64, own: f64| CpuMark {
            at: MonoTime(at_s * 1_000_000_000),
            host: Some(HostCpu { busy_seconds: busy, steal_seconds: steal }),
            own_seconds: own,
        };
        let (before, after) = (mark(10, 100.0, 1.0, 5.0), mark(12, 104.0, 1.2, 7.0));
        let others = before.others_until(&after).expect("a figure");
        assert!((others.other_processes_cores - 1.0).abs() < 1e-9, "{others:?}");
        assert!((others.steal_cores - 0.1).abs() < 1e-9);
        // A tick of sampling noise below zero is no load at all.
        let quiet = before.others_until(&mark(12, 101.9, 1.0, 7.0)).expect("a figure");
        assert_eq!(quiet.other_processes_cores, 0.0);
        assert_eq!(before.others_until(&before), None, "no time, no figure");
        let blind = CpuMark { host: None, ..before };
        assert_eq!(blind.others_until(&after), None);
        // On this machine the figures exist and are sane.
        let now = CpuMark::now();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let later = CpuMark::now();
        if let Some(real) = now.others_until(&later) {
            assert!(real.other_processes_cores >= 0.0 && real.other_processes_cores < 1024.0, "{real:?}");
        }
    }
}
