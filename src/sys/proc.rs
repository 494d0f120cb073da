//! What the kernel tells an unprivileged process about its own scheduling,
//! for explaining late beats: kept descriptors to `/proc` and cgroup files
//! read again from offset 0 ([`KeptFile`]), the calling thread's resource
//! usage and CPU, and the parsers of the files' text.
//!
//! Opening a `/proc` file costs several times what reading it does, so the
//! files are opened once and re-read with `pread`; a file under
//! `/proc/thread-self` names the thread that opened it, so a heartbeat opens
//! its own. The parsers are pure and tested here on the kernel's formats.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

/// A file opened once and read whole, from offset 0, each time.
#[derive(Debug)]
pub struct KeptFile {
    file: File,
}

impl KeptFile {
    pub fn open(path: impl AsRef<Path>) -> io::Result<KeptFile> {
        Ok(KeptFile { file: File::open(path)? })
    }

    /// Reads the file's text as the kernel makes it now, at most
    /// `buffer.len()` bytes of it.
    pub fn read<'b>(&self, buffer: &'b mut [u8]) -> io::Result<&'b str> {
        let length = self.file.read_at(buffer, 0)?;
        std::str::from_utf8(&buffer[..length]).map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
    }
}

/// The calling thread's context switches and major faults since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadUsage {
    pub voluntary_switches: u64,
    pub involuntary_switches: u64,
    pub major_faults: u64,
}

/// `getrusage(RUSAGE_THREAD)`.
pub fn thread_usage() -> io::Result<ThreadUsage> {
    // SAFETY: getrusage writes one `rusage` into the zeroed value we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to that value.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let count = |value: libc::c_long| u64::try_from(value).unwrap_or(0);
    Ok(ThreadUsage {
        voluntary_switches: count(usage.ru_nvcsw),
        involuntary_switches: count(usage.ru_nivcsw),
        major_faults: count(usage.ru_majflt),
    })
}

/// The CPU the calling thread runs on now (`sched_getcpu`).
pub fn current_cpu() -> Option<u32> {
    // SAFETY: no arguments; returns -1 on failure.
    u32::try_from(unsafe { libc::sched_getcpu() }).ok()
}

/// Clock ticks per second (`USER_HZ`), the unit of `/proc/stat`.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf reads a constant of the system.
    u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok().filter(|&t| t > 0).unwrap_or(100)
}

/// `/proc/<thread>/schedstat`: nanoseconds on a CPU, nanoseconds runnable
/// but waiting for one.
pub fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_ascii_whitespace().map(|f| f.parse::<u64>().ok());
    Some((fields.next()??, fields.next()??))
}

/// The value of `key` in a `key value` per line file (`cpu.stat`).
pub fn parse_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok()).flatten()
    })
}

/// `/proc/pressure/cpu`'s `some` line: `avg10` (percent) and `total` (µs).
pub fn parse_pressure(text: &str) -> Option<(f32, u64)> {
    let line = text.lines().find(|line| line.starts_with("some "))?;
    let field = |name: &str| line.split_ascii_whitespace().find_map(|f| f.strip_prefix(name));
    Some((field("avg10=")?.parse().ok()?, field("total=")?.parse().ok()?))
}

/// The steal ticks of each `cpuN` line of `/proc/stat`, into `steal` (index N).
pub fn parse_steal(text: &str, steal: &mut Vec<u64>) {
    steal.clear();
    for line in text.lines().skip(1).take_while(|line| line.starts_with("cpu")) {
        let mut fields = line.split_ascii_whitespace();
        let Some(cpu) = fields.next().and_then(|name| name.strip_prefix("cpu")?.parse::<usize>().ok()) else {
            continue;
        };
        // user nice system idle iowait irq softirq steal
        let ticks = fields.nth(7).and_then(|f| f.parse().ok()).unwrap_or(0);
        if steal.len() <= cpu {
            steal.resize(cpu + 1, 0);
        }
        steal[cpu] = ticks;
    }
}

/// Which cgroup hierarchy holds the CPU controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// `cpu.cfs_quota_us`; `cpu.stat` has `nr_throttled`, `throttled_time` (ns).
    V1,
    /// `cpu.max`; `cpu.stat` has `nr_throttled`, `throttled_usec`.
    V2,
}

/// This process's cgroup of the CPU controller, from `/proc/self/cgroup`:
/// the v1 line whose controllers include `cpu`, else the v2 line.
pub fn parse_own_cgroup(text: &str) -> Option<(CgroupVersion, String)> {
    let mut v2 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        if controllers.split(',').any(|c| c == "cpu") {
            return Some((CgroupVersion::V1, path.to_owned()));
        }
        if id == "0" && controllers.is_empty() {
            v2 = Some((CgroupVersion::V2, path.to_owned()));
        }
    }
    v2
}

/// Where the hierarchy of `version` is mounted, from `/proc/self/mountinfo`.
pub fn parse_cgroup_mount(mountinfo: &str, version: CgroupVersion) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split_ascii_whitespace().nth(4)?;
        let mut right = right.split_ascii_whitespace();
        let (fstype, options) = (right.next()?, right.nth(1)?);
        let wanted = match version {
            CgroupVersion::V1 => fstype == "cgroup" && options.split(',').any(|o| o == "cpu"),
            CgroupVersion::V2 => fstype == "cgroup2",
        };
        wanted.then(|| PathBuf::from(mount_point))
    })
}

/// Whether the cgroup directory `dir` sets a CPU quota.
pub fn has_quota(dir: &Path, version: CgroupVersion) -> bool {
    match version {
        CgroupVersion::V1 => std::fs::read_to_string(dir.join("cpu.cfs_quota_us"))
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .is_some_and(|quota| quota > 0),
        CgroupVersion::V2 => std::fs::read_to_string(dir.join("cpu.max"))
            .is_ok_and(|text| text.split_ascii_whitespace().next().is_some_and(|quota| quota != "max")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_formats() {
        assert_eq!(parse_schedstat("203527643 206585855 4060\n"), Some((203_527_643, 206_585_855)));
        assert_eq!(parse_schedstat("1\n"), None);
        let v1 = "nr_periods 10\nnr_throttled 3\nthrottled_time 95000000\nnr_bursts 0\n";
        assert_eq!(parse_keyed(v1, "nr_throttled"), Some(3));
        assert_eq!(parse_keyed(v1, "throttled_time"), Some(95_000_000));
        assert_eq!(parse_keyed(v1, "throttled_usec"), None);
        let psi = "some avg10=34.26 avg60=17.09 avg300=5.46 total=1839472584\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        assert_eq!(parse_pressure(psi), Some((34.26, 1_839_472_584)));
        let stat = "cpu  7 2 7 3 2 0 1 799 0 0\ncpu0 1 1 1 1 1 0 0 300 0 0\ncpu1 1 1 1 1 1 0 0 499 0 0\nintr 5\n";
        let mut steal = Vec::new();
        parse_steal(stat, &mut steal);
        assert_eq!(steal, [300, 499]);
    }

    #[test]
    fn the_process_cgroup_and_its_mount() {
        let hybrid = "9:name=systemd:/\n4:memory:/x\n1:cpu:/jitterd\n0::/\n";
        assert_eq!(parse_own_cgroup(hybrid), Some((CgroupVersion::V1, "/jitterd".into())));
        assert_eq!(parse_own_cgroup("3:cpu,cpuacct:/a/b\n"), Some((CgroupVersion::V1, "/a/b".into())));
        assert_eq!(parse_own_cgroup("0::/system.slice/jitterd.service\n").map(|c| c.0), Some(CgroupVersion::V2));
        let mountinfo = "30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n\
                         33 25 0:29 / /sys/fs/cgroup/cpu rw,nosuid shared:12 - cgroup cgroup rw,cpu\n\
                         34 25 0:30 / /sys/fs/cgroup/cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpuacct\n";
        assert_eq!(parse_cgroup_mount(mountinfo, CgroupVersion::V1), Some(PathBuf::from("/sys/fs/cgroup/cpu")));
        assert_eq!(parse_cgroup_mount(mountinfo, CgroupVersion::V2), Some(PathBuf::from("/sys/fs/cgroup/unified")));
    }
}
