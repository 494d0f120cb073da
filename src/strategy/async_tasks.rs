//! `async`: the article's fourth program. Two tasks on one tokio
//! current-thread runtime.
//!
//! The counter task does one pass and then `tokio::task::yield_now()`; the
//! heartbeat is a task too. Nothing preempts a task, so the heartbeat never
//! sees half a pass and no lock is needed: the array is an
//! `Rc<RefCell<Vec<u64>>>` on a `LocalSet`. The heartbeat's lateness is about
//! one pass (it runs when the counter yields) plus the timer: a timerfd
//! registered with the runtime, so it is not rounded up to tokio's
//! millisecond timer wheel. Between its duty-cycle windows the counter task
//! sleeps on the same kind of timer, so the runtime idles in `epoll`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::{Setup, Worker, duty_cycle};
use crate::array;
use crate::heartbeat::Probe;
use crate::sys::clock::MonoTime;

pub(super) fn start(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    let values = setup.zeroed_array()?;
    let (observatory, windows) = (Arc::clone(&setup.observatory), setup.counter_windows());
    // Slack only: priority would also apply to the counter on this thread.
    let worker = setup.spawn_async(setup.tuning().without_priority(), move |stop| {
        let values = Rc::new(RefCell::new(values));
        let counter_values = Rc::clone(&values);
        let counter = tokio::task::spawn_local(async move {
            let pass = || array::increment(&mut counter_values.borrow_mut());
            duty_cycle::run_async(pass, &stop, observatory.passes(), windows.as_ref()).await;
        });
        (LocalProbe { values }, counter)
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
