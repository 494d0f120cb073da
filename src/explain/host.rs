//! The host-wide evidence: CPU throttling of the process's cgroup (and of
//! each ancestor with a quota), CPU pressure, and each CPU's steal time.
//!
//! These files cost more to read than a beat may spend (`/proc/stat` most),
//! and they change slowly or in coarse steps, so both heartbeats share one
//! [`HostEvidence`] that reads them at most every [`REFRESH`] and otherwise
//! hands out what it read last, through kept descriptors. The process's
//! cgroup is looked up again every [`CGROUP_RECHECK`], so a move (by
//! systemd, an operator, a test) is followed; throttling is compared only
//! between readings of the same cgroups (their `generation`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::Mutex;

use super::{Source, Throttling, warn_unavailable};
use crate::sys::clock::{MonoTime, nanos};
use crate::sys::proc::{self, CgroupVersion, KeptFile};

/// How often the host-wide files are read at most.
pub const REFRESH: Duration = Duration::from_millis(10);

/// How often the process's cgroup is looked up again.
pub const CGROUP_RECHECK: Duration = Duration::from_secs(1);

/// `/proc/stat` is read up to this much: its `cpuN` lines come first.
const STAT_BYTES: usize = 16 * 1024;

/// The host-wide sources, shared by the heartbeats of an experiment.
pub struct HostEvidence {
    state: Mutex<State>,
    available: [bool; 3],
}

/// The host-wide figures at one reading: cumulative, so a beat takes the
/// difference from the reading its previous beat saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostReading {
    /// Which set of cgroups the throttling was summed over, and the sum.
    pub throttling: Option<(u64, Throttling)>,
    /// PSI `some`: avg10 (percent) and total (µs).
    pub pressure: Option<(f32, u64)>,
    /// Steal ticks by CPU; empty when unavailable.
    pub steal_ticks: Vec<u64>,
}

struct State {
    refreshed: Option<MonoTime>,
    /// When throttling alone was last read again (see [`HostEvidence::read_into`]).
    throttling_refreshed: Option<MonoTime>,
    cgroups: Option<Cgroups>,
    pressure: Option<KeptFile>,
    stat: Option<KeptFile>,
    reading: HostReading,
    buffer: Vec<u8>,
}

/// The `cpu.stat` files that throttling is read from.
struct Cgroups {
    version: CgroupVersion,
    mount: PathBuf,
    /// `/proc/self/cgroup`, read again every [`CGROUP_RECHECK`].
    membership: KeptFile,
    checked: MonoTime,
    path: String,
    cpu_stats: Vec<KeptFile>,
    generation: u64,
}

impl HostEvidence {
    /// Opens the host-wide files; a source the kernel lacks is logged once
    /// and left out.
    pub fn open() -> HostEvidence {
        let cgroups = Cgroups::open().map_err(|why| warn_unavailable(Source::CpuStat, &why)).ok();
        let pressure = KeptFile::open("/proc/pressure/cpu")
            .and_then(|file| file.read(&mut [0; 256]).map(|text| (file, proc::parse_pressure(text).is_some())))
            .map_err(|err| err.to_string())
            .and_then(|(file, parsed)| parsed.then_some(file).ok_or_else(|| "no \"some\" line".to_owned()))
            .map_err(|why| warn_unavailable(Source::Pressure, &format!("/proc/pressure/cpu: {why}")))
            .ok();
        let stat = KeptFile::open("/proc/stat")
            .map_err(|err| warn_unavailable(Source::Steal, &format!("/proc/stat: {err}")))
            .ok();
        let available = [cgroups.is_some(), pressure.is_some(), stat.is_some()];
        let state = State {
            refreshed: None,
            throttling_refreshed: None,
            cgroups,
            pressure,
            stat,
            reading: HostReading::default(),
            buffer: vec![0; STAT_BYTES],
        };
        HostEvidence { state: Mutex::new(state), available }
    }

    /// Whether `source` (one of the host-wide ones) can be read.
    pub fn available(&self, source: Source) -> Option<bool> {
        match source {
            Source::CpuStat => Some(self.available[0]),
            Source::Pressure => Some(self.available[1]),
            Source::Steal => Some(self.available[2]),
            _ => None,
        }
    }

    /// The latest figures into `out`, read again first when the last
    /// reading is [`REFRESH`] old. Reuses `out`'s memory.
    ///
    /// `waited_since` is when the caller's thread last ran before waiting
    /// for a CPU: throttling read by the other heartbeat while this one
    /// waited, on another CPU whose share of the quota lasted longer, may
    /// predate the period that ended the wait, so the throttling is read
    /// again (one `cpu.stat`, not the rest). At most once per refresh the
    /// other heartbeat made, so within the same bound.
    pub fn read_into(&self, now: MonoTime, waited_since: MonoTime, out: &mut HostReading) {
        let mut state = self.state.lock();
        match state.refreshed {
            Some(at) if now.since(at) < nanos(REFRESH) => {
                if at > waited_since && state.throttling_refreshed.is_none_or(|read| read <= waited_since) {
                    state.refresh_throttling(now);
                }
            }
            _ => state.refresh(now),
        }
        out.clone_from(&state.reading);
    }
}

impl State {
    fn refresh_throttling(&mut self, now: MonoTime) {
        self.throttling_refreshed = Some(now);
        let State { cgroups, reading, buffer, .. } = self;
        reading.throttling = cgroups.as_mut().and_then(|cgroups| cgroups.read(now, buffer));
    }

    fn refresh(&mut self, now: MonoTime) {
        self.refreshed = Some(now);
        let State { cgroups, pressure, stat, reading, buffer, .. } = self;
        reading.throttling = cgroups.as_mut().and_then(|cgroups| cgroups.read(now, buffer));
        reading.pressure = pressure.as_ref().and_then(|file| proc::parse_pressure(file.read(buffer).ok()?));
        match stat.as_ref().and_then(|file| file.read(buffer).ok()) {
            Some(text) => proc::parse_steal(text, &mut reading.steal_ticks),
            None => reading.steal_ticks.clear(),
        }
    }
}

impl Cgroups {
    fn open() -> Result<Cgroups, String> {
        let membership = KeptFile::open("/proc/self/cgroup").map_err(|err| format!("/proc/self/cgroup: {err}"))?;
        let (version, path) = proc::parse_own_cgroup(membership.read(&mut [0; 4096]).map_err(|e| e.to_string())?)
            .ok_or("/proc/self/cgroup names no cgroup of the cpu controller")?;
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").map_err(|err| err.to_string())?;
        let mount = proc::parse_cgroup_mount(&mountinfo, version)
            .ok_or_else(|| format!("no {version:?} cgroup hierarchy with the cpu controller is mounted"))?;
        let mut cgroups = Cgroups {
            version,
            mount,
            membership,
            checked: MonoTime::now(),
            path,
            cpu_stats: Vec::new(),
            generation: 0,
        };
        cgroups.open_cpu_stats();
        if cgroups.cpu_stats.is_empty() {
            return Err(format!("cannot open {}", cgroups.dir(&cgroups.path).join("cpu.stat").display()));
        }
        Ok(cgroups)
    }

    fn dir(&self, path: &str) -> PathBuf {
        self.mount.join(path.trim_start_matches('/'))
    }

    /// The process's own `cpu.stat` and those of its ancestors with a quota.
    fn open_cpu_stats(&mut self) {
        let own = self.dir(&self.path);
        let ancestors = own.ancestors().skip(1).take_while(|dir| dir.starts_with(&self.mount));
        let with_quota = ancestors.filter(|dir| proc::has_quota(dir, self.version));
        let dirs: Vec<&Path> = std::iter::once(own.as_path()).chain(with_quota).collect();
        self.cpu_stats = dirs.iter().filter_map(|dir| KeptFile::open(dir.join("cpu.stat")).ok()).collect();
        self.generation += 1;
    }

    /// Throttling summed over the cgroups, after following a move.
    fn read(&mut self, now: MonoTime, buffer: &mut [u8]) -> Option<(u64, Throttling)> {
        if now.since(self.checked) >= nanos(CGROUP_RECHECK) {
            self.checked = now;
            let moved = self.membership.read(buffer).ok().and_then(proc::parse_own_cgroup);
            if let Some((_, path)) = moved.filter(|(_, path)| *path != self.path) {
                self.path = path;
                self.open_cpu_stats();
            }
        }
        let (time_key, ns_per_unit) = match self.version {
            CgroupVersion::V1 => ("throttled_time", 1),
            CgroupVersion::V2 => ("throttled_usec", 1000),
        };
        let mut sum = Throttling::default();
        for file in &self.cpu_stats {
            let text = file.read(buffer).ok()?;
            sum.periods += proc::parse_keyed(text, "nr_throttled")?;
            sum.throttled_ns += proc::parse_keyed(text, time_key)? * ns_per_unit;
        }
        Some((self.generation, sum))
    }
}
