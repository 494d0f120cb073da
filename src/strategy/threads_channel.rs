//! `threads-channel`: the counter thread owns the array; nobody shares it.
//!
//! The heartbeat sends a request over a channel and blocks on the reply. The
//! counter looks at the channel between passes (a `try_recv` on an empty
//! channel, a few nanoseconds), checks its own array, which is consistent
//! there by construction, and replies. No lock exists, so nothing can be
//! starved; the heartbeat waits at most one pass plus a wake-up. The check
//! runs on the counter's thread, so `access_wait` includes it and the
//! heartbeat's own check duration is about zero. Pick it when one thread can
//! own the state and others only ask about it: message passing instead of
//! sharing.

use std::sync::mpsc::{self, Receiver, SyncSender};

use super::{Setup, Worker};
use crate::array;
use crate::clock::MonoTime;
use crate::heartbeat::Probe;

type Reply = SyncSender<array::Check>;

pub fn start(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    let mut values = setup.zeroed_array()?;
    let (requests, inbox) = mpsc::sync_channel::<Reply>(1);
    let counter = setup.spawn_counter(move || {
        array::increment(&mut values);
        if let Ok(reply) = inbox.try_recv() {
            // The heartbeat may have gone (stopping); nothing to answer then.
            let _ = reply.send(array::check(&values));
        }
    })?;
    let heartbeat = setup.spawn_heartbeat(ChannelProbe { requests })?;
    Ok(vec![counter, heartbeat])
}

struct ChannelProbe {
    requests: SyncSender<Reply>,
}

impl Probe for ChannelProbe {
    fn probe(&mut self) -> Option<(MonoTime, array::Check)> {
        // A reply channel per request: when the counter stops it drops the
        // only sender, which ends this wait instead of hanging it.
        let (reply, answer): (Reply, Receiver<array::Check>) = mpsc::sync_channel(1);
        self.requests.send(reply).ok()?;
        let check = answer.recv().ok()?;
        Some((MonoTime::now(), check))
    }
}
