//! The monotonic clock every timestamp of the experiment is taken from.
//!
//! `CLOCK_MONOTONIC` in nanoseconds, read directly rather than through
//! `std::time::Instant`, because the timers arm absolute deadlines on the
//! same clock and need the raw value. The unit conversions every layer
//! shares (a `Duration` in nanoseconds, nanoseconds in seconds) are here
//! once.

use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::time::{ClockId, clock_gettime};

/// Nanoseconds on `CLOCK_MONOTONIC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MonoTime(pub u64);

impl MonoTime {
    /// Now. `CLOCK_MONOTONIC` cannot fail on Linux; should it, time stands still
    /// rather than the heartbeat panicking.
    pub fn now() -> MonoTime {
        clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(MonoTime(0), |ts| {
            MonoTime((ts.tv_sec() as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec() as u64))
        })
    }

    pub fn as_timespec(self) -> TimeSpec {
        TimeSpec::new((self.0 / 1_000_000_000) as _, (self.0 % 1_000_000_000) as _)
    }

    /// `self − earlier` in nanoseconds, zero if `earlier` is later.
    pub fn since(self, earlier: MonoTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    pub fn plus_ns(self, ns: u64) -> MonoTime {
        MonoTime(self.0.saturating_add(ns))
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (584 years).
pub fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds as seconds, for export.
pub fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Signed nanoseconds as seconds, for export.
pub fn seconds_signed(ns: i64) -> f64 {
    ns as f64 / 1e9
}
