//! One heartbeat's evidence: read on its own thread just after each beat's
//! `done` (never inside the measured interval), as the difference from
//! the reading taken after the previous beat.
//!
//! Per beat: `/proc/thread-self/schedstat` through a descriptor the thread
//! opened once (it names the thread that opened it), `getrusage
//! (RUSAGE_THREAD)`, `sched_getcpu()` and when the process was last
//! continued; the host-wide figures come from the shared [`HostEvidence`],
//! which reads them at most every 10 ms. About a microsecond a beat
//! (benches/explain.rs).

use std::sync::Arc;

use super::host::HostReading;
use super::{Evidence, HostEvidence, Pressure, Source, ThreadTimes, Throttling, warn_unavailable};
use crate::sys::clock::MonoTime;
use crate::sys::proc::{self, KeptFile, ThreadUsage};
use crate::sys::signals;

/// The counters at one moment, cumulative.
#[derive(Debug, Clone, Default)]
struct Reading {
    at: MonoTime,
    times: Option<ThreadTimes>,
    usage: Option<ThreadUsage>,
    cpu: Option<u32>,
    host: HostReading,
}

/// A heartbeat's evidence reader: open it on the heartbeat's thread.
pub struct ThreadEvidence {
    host: Arc<HostEvidence>,
    schedstat: Option<KeptFile>,
    sigcont: bool,
    tick_ns: u64,
    previous: Reading,
    current: Reading,
}

impl ThreadEvidence {
    /// Opens the calling thread's sources, notes SIGCONT from now on, and
    /// takes the first reading, which the first beat is compared with. The
    /// thread's own counters are compared with zero, their value at its
    /// birth: a heartbeat thread opens this as it starts, and what it
    /// waited before it first ran (on a busy CPU, tens of milliseconds)
    /// belongs to its first beat.
    pub fn open(host: Arc<HostEvidence>) -> ThreadEvidence {
        let schedstat = KeptFile::open("/proc/thread-self/schedstat")
            .and_then(|file| {
                let parsed = proc::parse_schedstat(file.read(&mut [0; 96])?).is_some();
                Ok(parsed.then_some(file))
            })
            .map_err(|err| err.to_string())
            .and_then(|file| file.ok_or_else(|| "unexpected format".to_owned()))
            .map_err(|why| warn_unavailable(Source::Schedstat, &format!("/proc/thread-self/schedstat: {why}")))
            .ok();
        if let Err(err) = proc::thread_usage() {
            warn_unavailable(Source::Rusage, &format!("getrusage(RUSAGE_THREAD): {err}"));
        }
        let sigcont = signals::watch_continue();
        let tick_ns = 1_000_000_000 / proc::clock_ticks_per_second();
        let mut evidence = ThreadEvidence {
            host,
            schedstat,
            sigcont,
            tick_ns,
            previous: Reading::default(),
            current: Reading::default(),
        };
        evidence.take(MonoTime::now());
        std::mem::swap(&mut evidence.previous, &mut evidence.current);
        let born = &mut evidence.previous;
        born.times = born.times.map(|_| ThreadTimes::default());
        born.usage = born.usage.map(|_| ThreadUsage::default());
        evidence
    }

    /// Whether this reader has `source`.
    pub fn available(&self, source: Source) -> bool {
        match source {
            Source::Schedstat => self.schedstat.is_some(),
            Source::Rusage => self.previous.usage.is_some(),
            Source::Sigcont => self.sigcont,
            host => self.host.available(host).unwrap_or(false),
        }
    }

    /// What moved since the last call (or the opening): call just after a
    /// beat's `done`, on the thread that opened this.
    pub fn read(&mut self) -> Evidence {
        self.take(MonoTime::now());
        let (before, now) = (&self.previous, &self.current);
        let evidence = Evidence {
            span_ns: now.at.since(before.at),
            times: now.times.zip(before.times).map(|(now, before)| ThreadTimes {
                on_cpu_ns: now.on_cpu_ns.saturating_sub(before.on_cpu_ns),
                run_queue_wait_ns: now.run_queue_wait_ns.saturating_sub(before.run_queue_wait_ns),
            }),
            usage: now.usage.zip(before.usage).map(|(now, before)| ThreadUsage {
                voluntary_switches: now.voluntary_switches.saturating_sub(before.voluntary_switches),
                involuntary_switches: now.involuntary_switches.saturating_sub(before.involuntary_switches),
                major_faults: now.major_faults.saturating_sub(before.major_faults),
            }),
            cpu: now.cpu,
            throttling: throttling(&before.host, &now.host),
            steal_ns: self.steal_ns(),
            pressure: now.host.pressure.zip(before.host.pressure).map(|((avg10, now), (_, before))| Pressure {
                some_avg10_percent: avg10,
                some_ns: now.saturating_sub(before).saturating_mul(1000),
            }),
            continued_at: if self.sigcont { signals::last_continued() } else { None },
        };
        std::mem::swap(&mut self.previous, &mut self.current);
        evidence
    }

    fn take(&mut self, at: MonoTime) {
        let reading = &mut self.current;
        reading.at = at;
        reading.times = self.schedstat.as_ref().and_then(|file| {
            let (on_cpu_ns, run_queue_wait_ns) = proc::parse_schedstat(file.read(&mut [0; 96]).ok()?)?;
            Some(ThreadTimes { on_cpu_ns, run_queue_wait_ns })
        });
        reading.usage = proc::thread_usage().ok();
        reading.cpu = proc::current_cpu();
        // How long this thread waited for a CPU since the last reading: the
        // host's figures must not predate the end of that wait.
        let waited_ns = reading
            .times
            .zip(self.previous.times)
            .map_or(0, |(now, before)| now.run_queue_wait_ns.saturating_sub(before.run_queue_wait_ns));
        let waited_since = MonoTime(at.0.saturating_sub(waited_ns));
        self.host.read_into(at, waited_since, &mut reading.host);
    }

    /// Steal of the CPU the heartbeat is on now, since the last reading.
    fn steal_ns(&self) -> Option<u64> {
        let cpu = usize::try_from(self.current.cpu?).ok()?;
        let (now, before) = (self.current.host.steal_ticks.get(cpu)?, self.previous.host.steal_ticks.get(cpu)?);
        Some(now.saturating_sub(*before).saturating_mul(self.tick_ns))
    }
}

/// Throttling since the last reading, if both read the same cgroups (after
/// a move, one beat's is unknown: the counters of two cgroups do not subtract).
fn throttling(before: &HostReading, now: &HostReading) -> Option<Throttling> {
    let ((generation, now), (generation_before, before)) = (now.throttling?, before.throttling?);
    (generation == generation_before).then(|| Throttling {
        periods: now.periods.saturating_sub(before.periods),
        throttled_ns: now.throttled_ns.saturating_sub(before.throttled_ns),
    })
}
