//! `async-blocking`: the article's caveat. The heartbeat is a task on tokio;
//! the counter, blocking code, runs in `spawn_blocking` on the runtime's
//! blocking pool, and the two share a `std::sync::Mutex`.
//!
//! Moving blocking work off the event loop keeps the loop responsive, but as
//! the article warns, "the usual thread synchronization problems may apply":
//! the heartbeat task must take the same unfair lock as `threads-mutex` and
//! shows the same kind of tails. Pick it to see what `spawn_blocking` does
//! and does not buy you. Between its duty-cycle windows the blocking thread
//! sleeps on a timerfd, as the thread strategies' counters do.

use std::sync::{Arc, Mutex};

use super::threads_mutex::{MutexProbe, lock};
use super::{Setup, Worker, duty_cycle};
use crate::array;

pub(super) fn start(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    let values = Arc::new(Mutex::new(setup.zeroed_array()?));
    let (observatory, windows) = (Arc::clone(&setup.observatory), setup.counter_windows());
    // This thread runs only the heartbeat task: slack and priority apply.
    let worker = setup.spawn_async(setup.tuning(), move |stop| {
        let counter_values = Arc::clone(&values);
        let counter = tokio::task::spawn_blocking(move || {
            let mut pass = move || array::increment(&mut lock(&counter_values));
            duty_cycle::run_blocking(&mut pass, &stop, observatory.passes(), windows.as_ref());
        });
        (MutexProbe { values }, counter)
    })?;
    Ok(vec![worker])
}
