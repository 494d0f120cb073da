//! What explaining late beats costs (issue 17): reading one beat's evidence
//! on the heartbeat's thread (at most 2 µs a beat), its parts, one read of
//! the host-wide sources (at most 0.2 % of a core at a 100 µs period, where
//! they are read every 10 ms: a read may cost up to 20 µs), the waterfall,
//! and recording a late beat with its explanation. The figures the budget
//! speaks of are also taken in the thread's CPU time (`thread CPU time`):
//! wall time on a shared VM includes the time others held the core.
//!
//! `cargo bench --bench explain`. Under `cargo test --all-targets`
//! criterion runs each benchmark once, as a smoke test.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jitterd::array::Check;
use jitterd::config::Config;
use jitterd::experiment::Heartbeat;
use jitterd::explain::host::HostReading;
use jitterd::explain::{Charging, Evidence, HostEvidence, ThreadEvidence, ThreadTimes, explain};
use jitterd::measure::{Beat, BeatTimes};
use jitterd::observe::{Keep, Observatory};
use jitterd::sys::clock::MonoTime;
use jitterd::sys::proc::{self, KeptFile};

const MS: u64 = 1_000_000;

/// The per-beat read, whole (host figures cached, as between refreshes) and by part.
fn per_beat(c: &mut Criterion) {
    let mut group = c.benchmark_group("evidence per beat");
    let mut evidence = ThreadEvidence::open(Arc::new(HostEvidence::open()));
    group.bench_function("whole read (host-wide figures cached)", |b| b.iter(|| black_box(evidence.read())));
    group.bench_function("whole read, thread CPU time", |b| {
        b.iter_custom(|iterations| {
            on_cpu(|| {
                (0..iterations).for_each(|_| {
                    black_box(evidence.read());
                })
            })
        })
    });
    let schedstat = KeptFile::open("/proc/thread-self/schedstat").expect("schedstat");
    let mut buffer = [0u8; 96];
    group.bench_function("schedstat, kept descriptor", |b| {
        b.iter(|| proc::parse_schedstat(schedstat.read(&mut buffer).expect("read")))
    });
    group.bench_function("getrusage(RUSAGE_THREAD)", |b| b.iter(proc::thread_usage));
    group.bench_function("sched_getcpu", |b| b.iter(proc::current_cpu));
    group.finish();
}

/// One read of the host-wide files: a clock 10 ms later at each call, so
/// every call reads them (and every hundredth looks the cgroup up again,
/// as once a second does).
fn host_wide(c: &mut Criterion) {
    let host = HostEvidence::open();
    let mut out = HostReading::default();
    let mut now = MonoTime::now();
    let mut group = c.benchmark_group("host-wide read");
    group.bench_function("whole (cgroup cpu.stat, PSI, /proc/stat)", |b| {
        b.iter(|| {
            now = now.plus_ns(10 * MS);
            host.read_into(now, now, &mut out);
        })
    });
    group.bench_function("whole, thread CPU time", |b| {
        b.iter_custom(|iterations| {
            on_cpu(|| {
                for _ in 0..iterations {
                    now = now.plus_ns(10 * MS);
                    host.read_into(now, now, &mut out);
                }
            })
        })
    });
    let mut buffer = vec![0u8; 16 * 1024];
    for path in ["/sys/fs/cgroup/cpu/cpu.stat", "/proc/pressure/cpu", "/proc/stat"] {
        let Ok(file) = KeptFile::open(path) else { continue };
        group.bench_function(path, |b| b.iter(|| file.read(&mut buffer).map(str::len)));
    }
    group.finish();
}

/// The calling thread's CPU time that `work` took: what the benchmark
/// costs a core, without the time others held it (the VM is shared).
fn on_cpu(work: impl FnOnce()) -> Duration {
    let thread_cpu = || {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    };
    let before = thread_cpu();
    work();
    thread_cpu().saturating_sub(before)
}

/// A beat due at 100 ms that woke 3 ms late, waited 4 ms and checked for 1.
fn late_beat() -> Beat {
    let scheduled = MonoTime(100 * MS);
    let times = BeatTimes {
        scheduled,
        woke: scheduled.plus_ns(3 * MS),
        accessed: scheduled.plus_ns(7 * MS),
        done: scheduled.plus_ns(8 * MS),
    };
    Beat {
        index: 1,
        times,
        lateness_ns: 8 * MS,
        wake_lateness_ns: 3 * MS,
        access_wait_ns: 4 * MS,
        check_duration_ns: MS,
        interval_ns: 10 * MS,
        jitter_ns: 0,
        drift_ns: 0,
        missed_slots: 0,
    }
}

fn waterfall(c: &mut Criterion) {
    let beat = late_beat();
    let evidence = Evidence {
        times: Some(ThreadTimes { on_cpu_ns: MS / 10, run_queue_wait_ns: 2 * MS }),
        continued_at: Some(MonoTime(50 * MS)),
        steal_ns: Some(0),
        ..Evidence::NONE
    };
    c.bench_function("waterfall, one late beat", |b| {
        b.iter(|| explain(black_box(&beat), black_box(&evidence), Charging::Probe))
    });
    let observatory = Observatory::new(Keep::Window);
    let settings = Config::embedded_default().experiment();
    observatory.begin(&settings, MonoTime(0));
    let check = Check { value: 1, mismatched_elements: 0 };
    c.bench_function("recording one late beat with its explanation", |b| {
        b.iter(|| observatory.record_explained(Heartbeat::Main, black_box(&beat), check, &evidence))
    });
}

criterion_group!(benches, per_beat, host_wide, waterfall);
criterion_main!(benches);
