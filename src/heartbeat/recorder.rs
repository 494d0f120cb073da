//! What a beat becomes: the main heartbeat's [`Recorder`] writes it to the
//! metrics, the live page's ring, liveness and the stop summary, and logs a
//! threshold crossed or recovered; the control heartbeat's
//! [`ControlRecorder`] keeps the lateness of its every slot.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Liveness, NextDue, Sink, Source, Tap};
use crate::array::Check;
use crate::clock::{MonoTime, seconds, seconds_signed};
use crate::drift::DriftGained;
use crate::experiment::Settings;
use crate::live::ring::BeatSlots;
use crate::measure::Beat;
use crate::metrics::Metrics;

/// Totals of one experiment, for the summary logged at stop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    pub beats: u64,
    pub missed: u64,
    pub inconsistent: u64,
    pub max_lateness_ns: u64,
    pub last_drift_ns: i64,
}

/// A limit that logs once when crossed and once when recovered, not every beat.
#[derive(Debug)]
struct Threshold {
    what: String,
    limit_ns: u64,
    /// Only values above the limit cross it (drift gained); otherwise the
    /// magnitude does (jitter, either way).
    one_sided: bool,
    above: bool,
}

impl Threshold {
    fn new(what: impl Into<String>, limit: Duration, one_sided: bool) -> Threshold {
        let limit_ns = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        Threshold { what: what.into(), limit_ns, one_sided, above: false }
    }

    fn observe(&mut self, value_ns: i64, beat: u64) {
        let magnitude = if self.one_sided { u64::try_from(value_ns).unwrap_or(0) } else { value_ns.unsigned_abs() };
        let above = magnitude > self.limit_ns;
        if above == self.above {
            return;
        }
        self.above = above;
        let value = format!("{:.6}s", seconds_signed(value_ns));
        let limit = format!("{:.6}s", seconds(self.limit_ns));
        if above {
            tracing::warn!(beat, value, limit, "heartbeat {} crossed its threshold", self.what);
        } else {
            tracing::info!(beat, value, limit, "heartbeat {} back within its threshold", self.what);
        }
    }
}

/// The main heartbeat's sink: metrics, threshold logs, liveness, summary.
pub struct Recorder {
    metrics: Metrics,
    liveness: Arc<Liveness>,
    t0: MonoTime,
    period_ns: u64,
    drift_gained: DriftGained,
    drift: Threshold,
    jitter: Threshold,
    tap: Option<Tap>,
    next_due: Option<Arc<NextDue>>,
    pub summary: Summary,
}

impl Recorder {
    /// The sink of an experiment whose t0 is `t0`.
    pub fn new(settings: &Settings, metrics: Metrics, liveness: Arc<Liveness>, t0: MonoTime) -> Recorder {
        let window = settings.drift_window;
        let drift = format!("drift gained within {}", humantime::format_duration(window));
        Recorder {
            metrics,
            liveness,
            t0,
            period_ns: settings.period_ns(),
            drift_gained: DriftGained::new(t0, window),
            drift: Threshold::new(drift, settings.drift_threshold, true),
            jitter: Threshold::new("jitter", settings.jitter_threshold, false),
            tap: None,
            next_due: None,
            summary: Summary::default(),
        }
    }

    /// Also hands every beat to `tap`.
    pub fn tapped(self, tap: Option<Tap>) -> Recorder {
        Recorder { tap, ..self }
    }

    /// Also publishes when each beat is next due, for the counter.
    pub fn publishing(self, next_due: Arc<NextDue>) -> Recorder {
        Recorder { next_due: Some(next_due), ..self }
    }
}

impl Sink for Recorder {
    fn into_summary(self) -> Option<Summary> {
        Some(self.summary)
    }

    fn next_due(&mut self, scheduled: MonoTime) {
        if let Some(next_due) = &self.next_due {
            next_due.publish(scheduled);
        }
    }

    fn record(&mut self, beat: &Beat, check: Check) {
        let m = &self.metrics;
        // The check is counted with its beat: every scrape has as many of one as of the other.
        m.heartbeat_slots.record(beat.lateness_ns, self.period_ns, beat.missed_slots, Some(check.is_consistent()));
        m.heartbeat_lateness_window.record_slots(beat.lateness_ns, self.period_ns, beat.missed_slots);
        m.heartbeat_wake_lateness_seconds.observe(seconds(beat.wake_lateness_ns));
        m.heartbeat_access_wait_seconds.observe(seconds(beat.access_wait_ns));
        m.heartbeat_jitter_seconds.observe(seconds(beat.jitter_ns.unsigned_abs()));
        m.heartbeat_drift_seconds.set(seconds_signed(beat.drift_ns));
        let drift_gained_ns = self.drift_gained.observe(beat.times.done, beat.drift_ns);
        m.drift_window_seconds.set(seconds_signed(drift_gained_ns));
        m.consistency_check_duration_seconds.observe(seconds(beat.check_duration_ns));
        m.consistency_mismatched_elements.set(i64::try_from(check.mismatched_elements).unwrap_or(i64::MAX));
        m.array_value.set(check.value as f64);
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        m.heartbeat_last_timestamp_seconds.set(unix);
        self.liveness.beat(beat.times.done);

        m.live.main.push(slots_of(beat, self.t0, self.period_ns, Some(check.is_consistent())));

        self.drift.observe(drift_gained_ns, beat.index);
        self.jitter.observe(beat.jitter_ns, beat.index);
        if !check.is_consistent() {
            tracing::debug!(beat = beat.index, mismatched = check.mismatched_elements, "inconsistent read");
        }
        let s = &mut self.summary;
        s.beats += 1;
        s.missed += beat.missed_slots;
        s.inconsistent += u64::from(!check.is_consistent());
        s.max_lateness_ns = s.max_lateness_ns.max(beat.lateness_ns);
        s.last_drift_ns = beat.drift_ns;
        if let Some(tap) = &self.tap {
            tap(Source::Main, beat, check);
        }
    }
}

/// What the live page's ring keeps of a beat: its slot, relative to the
/// experiment's t0, and the slots it swallowed.
fn slots_of(beat: &Beat, t0: MonoTime, period_ns: u64, consistent: Option<bool>) -> BeatSlots {
    BeatSlots {
        scheduled_offset_ns: beat.times.scheduled.since(t0),
        lateness_ns: beat.lateness_ns,
        wake_lateness_ns: beat.wake_lateness_ns,
        access_wait_ns: beat.access_wait_ns,
        consistent,
        missed_slots: beat.missed_slots,
        period_ns,
    }
}

/// The control heartbeat's sink: the lateness of its every slot.
pub struct ControlRecorder {
    pub metrics: Metrics,
    pub period: Duration,
    /// The experiment's t0 (the control's own grid is offset from it).
    pub t0: MonoTime,
    pub tap: Option<Tap>,
}

impl Sink for ControlRecorder {
    fn record(&mut self, beat: &Beat, check: Check) {
        let period_ns = u64::try_from(self.period.as_nanos()).unwrap_or(u64::MAX);
        self.metrics.control_slots.record(beat.lateness_ns, period_ns, beat.missed_slots, None);
        self.metrics.control_lateness_window.record_slots(beat.lateness_ns, period_ns, beat.missed_slots);
        self.metrics.live.control.push(slots_of(beat, self.t0, period_ns, None));
        if let Some(tap) = &self.tap {
            tap(Source::Control, beat, check);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_threshold_is_one_sided_and_jitter_two_sided() {
        let mut drift = Threshold::new("drift gained", Duration::from_millis(100), true);
        drift.observe(-200_000_000, 1);
        assert!(!drift.above, "losing drift is no alarm");
        drift.observe(200_000_000, 2);
        assert!(drift.above);
        let mut jitter = Threshold::new("jitter", Duration::from_millis(100), false);
        jitter.observe(-200_000_000, 1);
        assert!(jitter.above);
    }
}
