//! What the explain tests provoke a cause with, each undone on drop: a busy
//! loop pinned to a CPU ([`BusyLoop`]) and a cgroup v1 CPU quota
//! ([`CpuQuota`]).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// `sh -c 'while :; do :; done'` pinned to `cpu`; killed on drop.
pub(crate) struct BusyLoop {
    child: Child,
}

impl BusyLoop {
    pub(crate) fn pinned(cpu: u32) -> BusyLoop {
        let child = Command::new("taskset")
            .args(["-c", &cpu.to_string(), "sh", "-c", "while :; do :; done"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn a busy loop under taskset");
        BusyLoop { child }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for BusyLoop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child cgroup of the v1 CPU controller with a CFS quota, removed on
/// drop (its processes moved back to the root first).
pub(crate) struct CpuQuota {
    dir: PathBuf,
}

/// Where the v1 CPU controller is mounted on the hosts the suite runs on.
const V1_CPU: &str = "/sys/fs/cgroup/cpu";

impl CpuQuota {
    /// A cgroup allowing `quota_us` of CPU every `period_us`, or why none
    /// can be made here (no v1 CPU controller, not writable).
    pub(crate) fn new(name: &str, quota_us: u64, period_us: u64) -> Result<CpuQuota, String> {
        let root = PathBuf::from(V1_CPU);
        if !root.join("cpu.cfs_quota_us").exists() {
            return Err(format!("no cgroup v1 CPU controller at {V1_CPU}"));
        }
        let dir = root.join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        let quota = CpuQuota { dir };
        quota.write("cpu.cfs_period_us", &period_us.to_string())?;
        quota.write("cpu.cfs_quota_us", &quota_us.to_string())?;
        Ok(quota)
    }

    fn write(&self, file: &str, value: &str) -> Result<(), String> {
        let path = self.dir.join(file);
        std::fs::write(&path, value).map_err(|err| format!("cannot write {value} to {}: {err}", path.display()))
    }

    /// Moves the process `pid` (all its threads) into the cgroup.
    pub(crate) fn enter(&self, pid: i32) -> Result<(), String> {
        self.write("cgroup.procs", &pid.to_string())
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.split_whitespace() {
            let _ = std::fs::write(PathBuf::from(V1_CPU).join("cgroup.procs"), pid);
        }
        if let Err(err) = std::fs::remove_dir(&self.dir) {
            eprintln!("could not remove {}: {err}", self.dir.display());
        }
    }
}
