//! `threads-snapshot`: counter and heartbeat never wait for each other.
//!
//! Triple buffering (the `triple_buffer` crate): the counter writes a pass
//! into a back buffer and publishes it with one atomic swap; the heartbeat
//! takes the latest published buffer with another swap and checks it at
//! leisure. The recycled back buffer holds an older whole pass, so the
//! counter brings it up to date in one read-modify-write pass (every element
//! plus the number of passes it is behind) and each published buffer is
//! consistent. Cost: three arrays of memory and a publish per pass.
//! Pick it when readers must never block the writer nor be blocked by it,
//! and may see a value one pass old.

use triple_buffer::{Input, Output, triple_buffer};

use super::{Setup, Worker};
use crate::array;
use crate::heartbeat::Probe;
use crate::sys::clock::MonoTime;

pub(super) fn start(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    let initial = setup.zeroed_array()?;
    let (mut input, output) = triple_buffer(&initial);
    drop(initial);
    let mut published: u64 = 0;
    let counter = setup.spawn_counter(move || {
        published = published.wrapping_add(1);
        publish_pass(&mut input, published);
    })?;
    let heartbeat = setup.spawn_heartbeat(SnapshotProbe { output })?;
    Ok(vec![counter, heartbeat])
}

/// Brings the back buffer to pass `target` and publishes it.
fn publish_pass(input: &mut Input<Vec<u64>>, target: u64) {
    let buffer = input.input_buffer_mut();
    // Every published buffer is consistent, so element 0 says how far behind it is.
    let behind = target.wrapping_sub(buffer.first().copied().unwrap_or(target));
    for value in buffer.iter_mut() {
        *value = value.wrapping_add(behind);
    }
    input.publish();
}

struct SnapshotProbe {
    output: Output<Vec<u64>>,
}

impl Probe for SnapshotProbe {
    fn probe(&mut self) -> Option<(MonoTime, array::Check)> {
        let snapshot = self.output.read();
        let accessed = MonoTime::now();
        Some((accessed, array::check(snapshot)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_buffers_catch_up() {
        let (mut input, mut output) = triple_buffer(&vec![0u64; 8]);
        for pass in 1..=5 {
            publish_pass(&mut input, pass);
            if pass % 2 == 1 {
                assert_eq!(array::check(output.read()), array::Check { value: pass, mismatched_elements: 0 });
            }
        }
        assert_eq!(array::check(output.read()).value, 5);
    }
}
