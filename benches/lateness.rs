//! What the lateness store costs (criterion): the heartbeat's record, on
//! time and after stalls; the rotation a record sometimes pays; a scrape's
//! snapshot over a full window and the part of it spent holding the
//! heartbeat's lock; the interval log's take.
//!
//! `cargo bench --bench lateness`. Under `cargo test --all-targets`
//! criterion runs each benchmark once, as a smoke test, and measures nothing.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jitterd::observe::{LatenessStore, new_histogram};
use jitterd::sys::clock::MonoTime;

const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const WINDOW: Duration = Duration::from_secs(60);
/// A sub-window of the 1 m window (five age buckets).
const SUB_WINDOW_NS: u64 = 12_000 * MS;

/// A store whose clock the benchmark moves.
fn store() -> (LatenessStore, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(1_000_000 * MS));
    let clock = Arc::clone(&now);
    (LatenessStore::with_clock(WINDOW, Box::new(move || MonoTime(clock.load(Ordering::Relaxed)))), now)
}

/// Lateness values spread like a busy host's: tens of µs with a tail to 100 ms.
fn spread(i: u64) -> u64 {
    20 * US + (i * 7_919) % (200 * US) + if i.is_multiple_of(1_000) { 100 * MS } else { 0 }
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_slots");
    let (on_time, _) = store();
    let mut i = 0u64;
    group.bench_function("one beat on time (missed = 0)", |b| {
        b.iter(|| {
            i += 1;
            on_time.record_slots(black_box(spread(i)), 10 * MS, 0)
        })
    });
    let (stalled, _) = store();
    group.bench_function("1 s stall at 10 ms (99 missed)", |b| {
        b.iter(|| stalled.record_slots(black_box(1_000 * MS), 10 * MS, 99))
    });
    group.bench_function("1 h stall at 100 us (36 M missed)", |b| {
        b.iter(|| stalled.record_slots(black_box(3_600_000 * MS), 100 * US, 36_000_000))
    });
    let (rotating, now) = store();
    group.bench_function("one beat that rotates the window", |b| {
        b.iter(|| {
            now.fetch_add(SUB_WINDOW_NS, Ordering::Relaxed);
            rotating.record_slots(black_box(50 * US), 10 * MS, 0)
        })
    });
    group.finish();
}

fn scrape(c: &mut Criterion) {
    let mut group = c.benchmark_group("scrape");
    // A full window: five sub-windows of 100,000 spread values each.
    let (full, now) = store();
    for sub_window in 0..5u64 {
        for i in 0..100_000 {
            full.record_slots(spread(sub_window * 100_000 + i), 10 * MS, 0);
        }
        if sub_window < 4 {
            now.fetch_add(SUB_WINDOW_NS, Ordering::Relaxed);
        }
    }
    assert_eq!(full.window_snapshot().window_count, 500_000);
    group.bench_function("window_snapshot, full 1 m window", |b| b.iter(|| black_box(full.window_snapshot())));

    // The part of a snapshot under the heartbeat's lock: one copy of the current sub-window.
    let mut current = new_histogram();
    for i in 0..100_000 {
        current.record(spread(i)).expect("in range");
    }
    group.bench_function("copy of the current sub-window (lock held)", |b| {
        b.iter_batched_ref(
            new_histogram,
            |into| into.add(black_box(&current)).expect("same layout"),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("take_interval", |b| b.iter(|| black_box(full.take_interval())));
    group.finish();
}

criterion_group!(benches, record, scrape);
criterion_main!(benches);
