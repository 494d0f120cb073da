//! `async-blocking`: the article's caveat. The heartbeat is a task on tokio;
//! the counter, blocking code, runs in `spawn_blocking` on the runtime's
//! blocking pool, and the two share a `std::sync::Mutex`.
//!
//! Moving blocking work off the event loop keeps the loop responsive, but as
//! the article warns, "the usual thread synchronization problems may apply":
//! the heartbeat task must take the same unfair lock as `threads-mutex` and
//! shows the same kind of tails. Pick it to see what `spawn_blocking` does
//! and does not buy you.

use std::sync::{Arc, Mutex};

use anyhow::Context as _;

use super::threads_mutex::{MutexProbe, lock};
use super::{Setup, Worker, spawn};
use crate::array;

pub fn start(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    let values = Arc::new(Mutex::new(array::zeroed(setup.size_elements()?).map_err(anyhow::Error::msg)?));
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_io().build().context("cannot start the tokio runtime")?;
    let stop = setup.stop.clone();
    let passes = setup.metrics.array_passes_total.clone();
    let heartbeat = setup.main_heartbeat();
    let tuning = setup.tuning();
    let worker = spawn("jitterd-async", move || {
        // This thread runs only the heartbeat task: slack and priority apply.
        tuning.apply();
        let (scheduler, mut recorder) = heartbeat.ready()?;
        runtime.block_on(async {
            let counter_values = Arc::clone(&values);
            let counter_stop = stop.clone();
            let counter = tokio::task::spawn_blocking(move || {
                while !counter_stop.is_triggered() {
                    array::increment(&mut lock(&counter_values));
                    passes.inc();
                }
            });
            super::heartbeat_task(scheduler, &stop, &mut MutexProbe { values }, &mut recorder).await;
            let _ = counter.await;
        });
        Some(recorder.summary)
    })?;
    Ok(vec![worker])
}
