//! Whether the heartbeat is making progress, for `/-/ready` and the systemd
//! watchdog.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::sys::clock::{MonoTime, nanos};

#[derive(Debug, Default)]
pub struct Liveness {
    running: AtomicBool,
    last_progress: AtomicU64,
    period_ns: AtomicU64,
}

impl Liveness {
    /// An experiment with this period starts now.
    pub(crate) fn started(&self, period: Duration) {
        self.period_ns.store(nanos(period), Ordering::Relaxed);
        self.last_progress.store(MonoTime::now().0, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
    }

    pub(crate) fn stopped(&self) {
        self.running.store(false, Ordering::Release);
    }

    pub(crate) fn beat(&self, done: MonoTime) {
        self.last_progress.store(done.0, Ordering::Relaxed);
    }

    /// *Definition*: running, and the last beat (or the start) is no older
    /// than three periods plus one second. *Interpretation*: a heartbeat
    /// starved for longer is stalled, and the process not ready.
    pub fn is_live(&self, now: MonoTime) -> bool {
        if !self.running.load(Ordering::Acquire) {
            return false;
        }
        let allowance = self.period_ns.load(Ordering::Relaxed).saturating_mul(3).saturating_add(1_000_000_000);
        now.since(MonoTime(self.last_progress.load(Ordering::Relaxed))) <= allowance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_while_beating_not_before_nor_after() {
        let liveness = Liveness::default();
        assert!(!liveness.is_live(MonoTime::now()), "nothing runs yet");
        liveness.started(Duration::from_millis(10));
        let now = MonoTime::now();
        assert!(liveness.is_live(now));
        assert!(!liveness.is_live(now.plus_ns(1_030_000_001)), "three periods and a second without a beat");
        liveness.beat(now.plus_ns(1_000_000_000));
        assert!(liveness.is_live(now.plus_ns(1_030_000_001)));
        liveness.stopped();
        assert!(!liveness.is_live(now));
    }
}
