//! Micro benchmarks (criterion): one counter pass under each strategy's
//! access path, uncontended, against the plain loop; one consistency check;
//! the heartbeat's own cost for one beat, check included; and the worst case
//! of per-slot recording, a beat that swallowed an hour at 100 µs.
//!
//! `cargo bench --bench micro`. Under `cargo test --all-targets` criterion
//! runs each benchmark once, as a smoke test, and measures nothing.

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::{Arc, Mutex};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jitterd::array;
use jitterd::config::Config;
use jitterd::experiment::{Heartbeat, Schedule, Settings};
use jitterd::heartbeat::{Recorder, Sink};
use jitterd::measure::{Beat, BeatTimes, Scheduler};
use jitterd::observe::{Keep, LatenessCounts, Observatory};
use jitterd::sys::clock::MonoTime;

const SIZE: usize = 100_000;

fn zeroed() -> Vec<u64> {
    array::zeroed(SIZE).expect("100,000 elements")
}

/// One pass through each strategy's way to the array, with nobody else waiting.
fn counter_pass(c: &mut Criterion) {
    let mut group = c.benchmark_group("counter pass, 100000 elements");
    group.throughput(Throughput::Elements(SIZE as u64));
    let mut plain = zeroed();
    group.bench_function("plain loop", |b| b.iter(|| array::increment(black_box(&mut plain))));
    let mutex = Mutex::new(zeroed());
    group.bench_function("std Mutex (threads-mutex)", |b| {
        b.iter(|| array::increment(&mut mutex.lock().unwrap_or_else(|e| e.into_inner())))
    });
    let fair = parking_lot::FairMutex::new(zeroed());
    group.bench_function("FairMutex (threads-fair-mutex)", |b| b.iter(|| array::increment(&mut fair.lock())));
    let cell = RefCell::new(zeroed());
    group.bench_function("RefCell (async)", |b| b.iter(|| array::increment(&mut cell.borrow_mut())));
    let atomics = array::zeroed_atomic(SIZE).expect("100,000 elements");
    group.bench_function("relaxed atomics (threads-unsync)", |b| {
        b.iter(|| array::increment_atomic(black_box(&atomics)))
    });
    group.finish();
}

fn check(c: &mut Criterion) {
    let mut group = c.benchmark_group("consistency check, 100000 elements");
    group.throughput(Throughput::Elements(SIZE as u64));
    let values = zeroed();
    group.bench_function("check", |b| b.iter(|| array::check(black_box(&values))));
    let atomics = array::zeroed_atomic(SIZE).expect("100,000 elements");
    group.bench_function("check_atomic (threads-unsync)", |b| b.iter(|| array::check_atomic(black_box(&atomics))));
    group.finish();
}

/// The daemon's observatory, with an experiment of `settings` begun at `t0`.
fn observatory(settings: &Settings, t0: MonoTime) -> Arc<Observatory> {
    let observatory = Arc::new(Observatory::new(Keep::Window));
    observatory.begin(settings, t0);
    observatory
}

/// What one beat costs the heartbeat besides sleeping: take the
/// timestamps, lock and check the array, derive the figures, record them
/// into the observatory (counts, window store, ring, drift, liveness).
fn heartbeat_beat(c: &mut Criterion) {
    let config = Config::embedded_default();
    let mut recorder = Recorder::new(observatory(&config.experiment(), MonoTime::now()), Heartbeat::Main);
    let values = Arc::new(Mutex::new(zeroed()));
    let mut scheduler = Scheduler::new(Schedule::Absolute, config.heartbeat.period, MonoTime::now());
    c.bench_function("heartbeat, one beat with check, 100000 elements", |b| {
        b.iter(|| {
            let scheduled = scheduler.due();
            let woke = MonoTime::now();
            let guard = values.lock().unwrap_or_else(|e| e.into_inner());
            let accessed = MonoTime::now();
            let check = array::check(&guard);
            drop(guard);
            let done = MonoTime::now();
            let beat = scheduler.complete(BeatTimes { scheduled, woke, accessed, done });
            recorder.record(&beat, check);
        })
    });
    let mut recorder_only = Recorder::new(observatory(&config.experiment(), MonoTime::now()), Heartbeat::Main);
    c.bench_function("heartbeat, recording one beat (no check)", |b| {
        b.iter(|| {
            let now = MonoTime::now();
            let beat = scheduler.complete(BeatTimes { scheduled: now, woke: now, accessed: now, done: now });
            recorder_only.record(&beat, array::Check { value: 1, mismatched_elements: 0 });
        })
    });
    // A beat after a 1 s stall at 10 ms: its own lateness and 99 missed slots,
    // into the counts, the window summary's store, the interval log's and the ring.
    let mut stall_config = config.clone();
    stall_config.heartbeat.period = std::time::Duration::from_millis(10);
    let mut recorder_stall = Recorder::new(observatory(&stall_config.experiment(), MonoTime(0)), Heartbeat::Main);
    let stalled = Beat {
        index: 1,
        times: BeatTimes {
            scheduled: MonoTime(0),
            woke: MonoTime(0),
            accessed: MonoTime(0),
            done: MonoTime(995_000_000),
        },
        lateness_ns: 995_000_000,
        wake_lateness_ns: 995_000_000,
        access_wait_ns: 0,
        check_duration_ns: 0,
        interval_ns: 995_000_000,
        jitter_ns: 985_000_000,
        drift_ns: 985_000_000,
        missed_slots: 99,
    };
    c.bench_function("heartbeat, recording one beat that missed 99 slots (1 s stall at 10 ms)", |b| {
        b.iter(|| recorder_stall.record(black_box(&stalled), array::Check { value: 1, mismatched_elements: 0 }))
    });
}

/// The worst case of counting every slot: one beat an hour late at a
/// 100 µs period stands for 36 M slots, recorded bucket by bucket.
fn stall_recording(c: &mut Criterion) {
    const HOUR_NS: u64 = 3_600_000_000_000;
    const PERIOD_NS: u64 = 100_000;
    let missed = HOUR_NS / PERIOD_NS - 1;
    let mut counts = LatenessCounts::default();
    c.bench_function("per-slot recording, 1 h stall at 100 us (36 M slots), Prometheus histogram", |b| {
        b.iter(|| counts.record_slots(black_box(HOUR_NS), PERIOD_NS, missed))
    });
    let observatory = Observatory::new(Keep::Window);
    let store = observatory.main.store().expect("the daemon's boards keep a window");
    c.bench_function("per-slot recording, 1 h stall at 100 us (36 M slots), window store and interval", |b| {
        b.iter(|| store.record_slots(black_box(HOUR_NS), PERIOD_NS, missed))
    });
    let mut histogram = jitterd::observe::new_histogram();
    c.bench_function("per-slot recording, 1 h stall at 100 us (36 M slots), HDR histogram (compare)", |b| {
        b.iter(|| jitterd::observe::record_slots([&mut histogram], black_box(HOUR_NS), PERIOD_NS, missed))
    });
}

criterion_group!(benches, counter_pass, check, heartbeat_beat, stall_recording);
criterion_main!(benches);
