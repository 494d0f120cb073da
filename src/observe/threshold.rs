//! The alert thresholds as the daemon applies them: a limit that is crossed
//! once and recovered once, not every beat. The one place the rule lives:
//! the threshold log lines and `/api/v1/status`'s `over_threshold` both read
//! this state.

use std::time::Duration;

use crate::explain::Cause;
use crate::sys::clock::{nanos, seconds, seconds_signed};

/// Which way a value crosses its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sides {
    /// Only values above the limit cross it: drift *gained*; losing time
    /// back is no alarm.
    Above,
    /// The magnitude crosses it, either way: jitter.
    Either,
}

/// A limit that tells when it is crossed and when recovered.
#[derive(Debug, Clone)]
pub(crate) struct Threshold {
    what: String,
    limit_ns: u64,
    sides: Sides,
    above: bool,
}

/// A threshold crossed or recovered by one beat, to log once the board's
/// lock is released.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Crossing {
    what: String,
    beat: u64,
    value_ns: i64,
    limit_ns: u64,
    above: bool,
    /// Why the beat was late, when it was later than `explain.threshold`.
    cause: Option<Cause>,
}

impl Threshold {
    pub(crate) fn new(what: impl Into<String>, limit: Duration, sides: Sides) -> Threshold {
        Threshold { what: what.into(), limit_ns: nanos(limit), sides, above: false }
    }

    /// Whether `other` watches the same thing against the same limit.
    pub(crate) fn same_as(&self, other: &Threshold) -> bool {
        (&self.what, self.limit_ns, self.sides) == (&other.what, other.limit_ns, other.sides)
    }

    /// Whether the last value observed was beyond the limit.
    pub(crate) fn is_above(&self) -> bool {
        self.above
    }

    /// Takes beat `beat`'s value (and its cause, if it was explained);
    /// returns the crossing when it changed sides.
    pub(crate) fn observe(&mut self, value_ns: i64, beat: u64, cause: Option<Cause>) -> Option<Crossing> {
        let magnitude = match self.sides {
            Sides::Above => u64::try_from(value_ns).unwrap_or(0),
            Sides::Either => value_ns.unsigned_abs(),
        };
        let above = magnitude > self.limit_ns;
        if above == self.above {
            return None;
        }
        self.above = above;
        Some(Crossing { what: self.what.clone(), beat, value_ns, limit_ns: self.limit_ns, above, cause })
    }
}

impl Crossing {
    pub(crate) fn log(&self) {
        let (beat, value) = (self.beat, format!("{:.6}s", seconds_signed(self.value_ns)));
        let limit = format!("{:.6}s", seconds(self.limit_ns));
        if self.above {
            // The crossing beat's cause; "none" for a beat within explain.threshold.
            let cause = self.cause.map_or("none", Cause::name);
            tracing::warn!(beat, value, limit, cause, "heartbeat {} crossed its threshold (cause: {cause})", self.what);
        } else {
            tracing::info!(beat, value, limit, "heartbeat {} back within its threshold", self.what);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_threshold_is_one_sided_and_jitter_two_sided() {
        let mut drift = Threshold::new("drift gained", Duration::from_millis(100), Sides::Above);
        assert_eq!(drift.observe(-200_000_000, 1, None), None, "losing drift is no alarm");
        assert!(drift.observe(200_000_000, 2, Some(Cause::Cpu)).is_some_and(|c| c.above));
        assert!(drift.is_above());
        assert_eq!(drift.observe(300_000_000, 3, None), None, "crossed once");
        let mut jitter = Threshold::new("jitter", Duration::from_millis(100), Sides::Either);
        assert!(jitter.observe(-200_000_000, 1, None).is_some());
        assert!(jitter.observe(0, 2, None).is_some_and(|c| !c.above), "and recovered once");
    }
}
