//! `threads-channel`: the counter thread owns the array; nobody shares it.
//!
//! The heartbeat sends a request over a channel and blocks on the reply. The
//! counter looks at the channel between passes (a `try_recv` on an empty
//! channel, a few nanoseconds), checks its own array, which is consistent
//! there by construction, and replies. No lock exists, so nothing can be
//! starved; the heartbeat waits at most one pass plus a wake-up. The check
//! runs on the counter's thread, so `access_wait` includes it and the
//! heartbeat's own check duration is about zero. Between duty-cycle windows
//! the counter rests on the channel itself, so a request that comes while it
//! rests (a beat later than its window) is answered at once. Pick it when
//! one thread can own the state and others only ask about it: message
//! passing instead of sharing.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use super::duty_cycle::Counter;
use super::{Setup, Worker};
use crate::array;
use crate::heartbeat::Probe;
use crate::sys::clock::MonoTime;
use crate::sys::timer::{DeadlineTimer, Stop, Wake};

type Reply = SyncSender<array::Check>;

pub(super) fn start(setup: &Setup) -> anyhow::Result<Vec<Worker>> {
    let (requests, inbox) = mpsc::sync_channel::<Reply>(1);
    let counter = setup.spawn_counter(ChannelCounter { values: setup.zeroed_array()?, inbox })?;
    let heartbeat = setup.spawn_heartbeat(ChannelProbe { requests })?;
    Ok(vec![counter, heartbeat])
}

struct ChannelCounter {
    values: Vec<u64>,
    inbox: Receiver<Reply>,
}

impl ChannelCounter {
    fn answer(&self, reply: &Reply) {
        // The heartbeat may have gone (stopping); nothing to answer then.
        let _ = reply.send(array::check(&self.values));
    }
}

impl Counter for ChannelCounter {
    fn pass(&mut self) {
        array::increment(&mut self.values);
        if let Ok(reply) = self.inbox.try_recv() {
            self.answer(&reply);
        }
    }

    /// Rests on the channel rather than the timer (a std channel has no
    /// descriptor to poll beside the stop's), answering what comes. The stop
    /// ends the rest too: the heartbeat leaves at the stop, and its leaving
    /// disconnects the channel; from then on the rest is the timer's.
    fn rest_until(&mut self, deadline: MonoTime, timer: &DeadlineTimer, stop: &Stop) -> std::io::Result<Wake> {
        loop {
            if stop.is_triggered() {
                return Ok(Wake::Stopped);
            }
            let left_ns = deadline.since(MonoTime::now());
            if left_ns == 0 {
                return Ok(Wake::Due);
            }
            match self.inbox.recv_timeout(Duration::from_nanos(left_ns)) {
                Ok(reply) => self.answer(&reply),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return timer.sleep_until(deadline, stop),
            }
        }
    }
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
