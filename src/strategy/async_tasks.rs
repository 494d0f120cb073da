//! `async`: the article's fourth program. Two tasks on one tokio
//! current-thread runtime.
//!
//! The counter task does one pass and then `tokio::task::yield_now()`; the
//! heartbeat is a task too. Nothing preempts a task, so the heartbeat never
//! sees half a pass and no lock is needed: the array is an
//! `Rc<RefCell<Vec<u64>>>` on a `LocalSet`. The heartbeat's lateness is about
//! one pass (it runs when the counter yields) plus the timer: a timerfd
//! registered with the runtime, so it is not rounded up to tokio's
//! millisecond timer wheel.

use std::cell::RefCell;
use std::rc::Rc;

use anyhow::Context as _;

use super::{Setup, Worker, spawn};
use crate::array;
use crate::clock::MonoTime;
use crate::heartbeat::Probe;

pub fn start(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    let size = setup.size_elements()?;
    // Allocate here, so a failure is reported by `start`, not lost in the thread.
    let values = array::zeroed(size).map_err(anyhow::Error::msg)?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_io().build().context("cannot start the tokio runtime")?;
    let stop = setup.stop.clone();
    let passes = setup.metrics.array_passes_total.clone();
    let heartbeat = setup.main_heartbeat();
    let tuning = setup.tuning();
    let worker = spawn("jitterd-async", move || {
        // Slack only: priority would also apply to the counter on this thread.
        super::Tuning { priority: None, ..tuning }.apply();
        let (scheduler, mut recorder) = heartbeat.ready()?;
        let values = Rc::new(RefCell::new(values));
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async {
            let counter_values = Rc::clone(&values);
            let counter_stop = stop.clone();
            let counter = tokio::task::spawn_local(async move {
                while !counter_stop.is_triggered() {
                    array::increment(&mut counter_values.borrow_mut());
                    passes.inc();
                    tokio::task::yield_now().await;
                }
            });
            super::heartbeat_task(scheduler, &stop, &mut LocalProbe { values }, &mut recorder).await;
            let _ = counter.await;
        });
        Some(recorder.summary)
    })?;
    Ok(vec![worker])
}

pub(super) struct LocalProbe {
    values: Rc<RefCell<Vec<u64>>>,
}

impl Probe for LocalProbe {
    fn probe(&mut self) -> Option<(MonoTime, array::Check)> {
        let values = self.values.borrow();
        Some((MonoTime::now(), array::check(&values)))
    }
}
