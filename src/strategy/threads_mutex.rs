//! `threads-mutex` and `threads-mutex-yield`: the article's second and third
//! programs.
//!
//! A `std::sync::Mutex<Vec<u64>>`; the counter holds it for one whole pass,
//! so every check is consistent. The lock is not fair: the counter releases
//! and re-acquires it before the woken heartbeat gets to run, so the
//! heartbeat waits with long tails. The `-yield` variant calls
//! `std::thread::yield_now()` before each lock, as the article's
//! `time.sleep(0)` does, which gives the heartbeat a better chance and
//! shortens the tails without removing them. The two differ in one line,
//! hence one file.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Setup, Worker};
use crate::array;
use crate::heartbeat::Probe;
use crate::sys::clock::MonoTime;

pub(super) fn start(setup: &Setup, yield_before_lock: bool) -> anyhow::Result<Vec<Worker>> {
    let values = Arc::new(Mutex::new(setup.zeroed_array()?));
    let counter_values = Arc::clone(&values);
    let counter = setup.spawn_counter(move || {
        if yield_before_lock {
            std::thread::yield_now();
        }
        array::increment(&mut lock(&counter_values));
    })?;
    let heartbeat = setup.spawn_heartbeat(MutexProbe { values })?;
    Ok(vec![counter, heartbeat])
}

/// Nothing panics while holding the lock; should it, the array is still a
/// plain array of numbers and the check will say whether it is consistent.
pub(super) fn lock(values: &Mutex<Vec<u64>>) -> MutexGuard<'_, Vec<u64>> {
    values.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) struct MutexProbe {
    pub(super) values: Arc<Mutex<Vec<u64>>>,
}

impl Probe for MutexProbe {
    fn probe(&mut self) -> Option<(MonoTime, array::Check)> {
        let values = lock(&self.values);
        let accessed = MonoTime::now();
        Some((accessed, array::check(&values)))
    }
}
