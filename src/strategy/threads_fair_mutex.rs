//! `threads-fair-mutex`: as `threads-mutex`, with a lock that hands off fairly.
//!
//! `parking_lot::FairMutex` unlocks fairly every time: when the heartbeat is
//! parked on the lock, the counter's unlock hands the lock straight to it
//! instead of letting the counter take it back. The heartbeat waits at most
//! about one pass. Cost: a hand-off (two context switches) per beat, nothing
//! per pass when nobody waits. (parking_lot 0.13 removed the plain mutex's
//! automatic eventual fairness, so the fair variant is the one to use.)
//! Pick it when a lock is the right design and waiters must not starve.

use std::sync::Arc;

use parking_lot::FairMutex;

use super::{Setup, Worker};
use crate::array;
use crate::heartbeat::Probe;
use crate::sys::clock::MonoTime;

pub(super) fn start(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    let values = Arc::new(FairMutex::new(setup.zeroed_array()?));
    let counter_values = Arc::clone(&values);
    let counter = setup.spawn_counter(move || array::increment(&mut counter_values.lock()))?;
    let heartbeat = setup.spawn_heartbeat(FairProbe { values })?;
    Ok(vec![counter, heartbeat])
}

struct FairProbe {
    values: Arc<FairMutex<Vec<u64>>>,
}

impl Probe for FairProbe {
    fn probe(&mut self) -> Option<(MonoTime, array::Check)> {
        let values = self.values.lock();
        let accessed = MonoTime::now();
        Some((accessed, array::check(&values)))
    }
}
