//! `threads-unsync`: the article's first program. Two OS threads share the
//! array with no lock at all.
//!
//! Elements are `AtomicU64` read and written with relaxed loads and stores,
//! so there is no data race in the Rust sense and no undefined behaviour, but
//! nothing orders the counter's pass against the heartbeat's check: the
//! heartbeat sees part of a pass and records an inconsistent read. That is
//! the lesson, counted in `jitterd_consistency_checks_total{result="inconsistent"}`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::{Setup, Worker};
use crate::array;
use crate::heartbeat::Probe;
use crate::sys::clock::MonoTime;

pub(super) fn start(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    let values: Arc<[AtomicU64]> = array::zeroed_atomic(setup.size_elements()?).map_err(anyhow::Error::msg)?.into();
    let counter_values = Arc::clone(&values);
    let counter = setup.spawn_counter(move || array::increment_atomic(&counter_values))?;
    let heartbeat = setup.spawn_heartbeat(UnsyncProbe { values })?;
    Ok(vec![counter, heartbeat])
}

struct UnsyncProbe {
    values: Arc<[AtomicU64]>,
}

impl Probe for UnsyncProbe {
    fn probe(&mut self) -> Option<(MonoTime, array::Check)> {
        Some((MonoTime::now(), array::check_atomic(&self.values)))
    }
}
