//! Drift gained: how much the heartbeat fell behind within the last
//! `alerts.drift_window`, which is what the drift threshold acts on.
//!
//! Drift keeps every stall for good (a clock that stopped stays behind), so
//! a threshold on its level would fire forever after one stall. What an
//! operator wants to know is whether the host is losing time *now*: drift
//! now minus drift a window ago. Pure arithmetic on made-up timestamps,
//! tested here; the main heartbeat's board feeds it each beat, and the
//! result is exported as `jitterd_drift_window_seconds`.

use std::time::Duration;

use crate::sys::clock::MonoTime;

/// Samples kept per window: the window's start is known to a 60th of it,
/// whatever the period, in constant memory.
pub(crate) const SAMPLES_PER_WINDOW: u64 = 60;

const RING: usize = SAMPLES_PER_WINDOW as usize + 1;

/// Drift gained within a sliding window.
///
/// *Definition*: the window is cut into 60 steps of `window / 60` from t0.
/// For a beat finishing in step `s`, the gain is its drift minus the drift
/// at the start of step `s − 60` (the drift of the last beat before that
/// moment, or 0 at t0). So the span looked back over is between the window
/// and a 60th more; before a whole window has passed it reaches back to t0,
/// where drift is 0. *Interpretation*: a stall adds its length for one
/// window and then drops out; steady losses keep it up.
#[derive(Debug, Clone)]
pub(crate) struct DriftGained {
    t0: MonoTime,
    step_ns: u64,
    /// `(step, drift at the start of that step)`, indexed by `step % RING`.
    ring: [(u64, i64); RING],
    last_step: u64,
    last_drift_ns: i64,
}

impl DriftGained {
    pub(crate) fn new(t0: MonoTime, window: Duration) -> DriftGained {
        let window_ns = crate::sys::clock::nanos(window);
        let mut ring = [(u64::MAX, 0); RING];
        ring[0] = (0, 0);
        DriftGained { t0, step_ns: (window_ns / SAMPLES_PER_WINDOW).max(1), ring, last_step: 0, last_drift_ns: 0 }
    }

    /// A beat finished at `done` with this drift; returns the drift gained
    /// within the window.
    pub(crate) fn observe(&mut self, done: MonoTime, drift_ns: i64) -> i64 {
        let step = done.since(self.t0) / self.step_ns;
        if step > self.last_step {
            // Every step boundary crossed since the previous beat began with
            // that beat's drift; older than a window they are not needed.
            let first = (self.last_step + 1).max(step.saturating_sub(SAMPLES_PER_WINDOW));
            for crossed in first..=step {
                self.ring[slot(crossed)] = (crossed, self.last_drift_ns);
            }
            self.last_step = step;
        }
        self.last_drift_ns = drift_ns;
        let baseline = match step.checked_sub(SAMPLES_PER_WINDOW) {
            Some(start) => match self.ring[slot(start)] {
                (recorded, drift) if recorded == start => drift,
                // Unreachable by construction (every step up to the last is recorded).
                _ => 0,
            },
            None => 0,
        };
        drift_ns.saturating_sub(baseline)
    }
}

fn slot(step: u64) -> usize {
    (step % RING as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;

    /// Beats every 10 ms for `seconds`, each `lateness` late, from `from` on.
    fn steady(gained: &mut DriftGained, from: u64, seconds: u64, drift_ns: i64) -> i64 {
        let mut last = 0;
        for k in 0..seconds * 100 {
            last = gained.observe(MonoTime(from + k * 10 * MS), drift_ns);
        }
        last
    }

    #[test]
    fn a_stall_counts_for_one_window_then_drops_out() {
        let mut gained = DriftGained::new(MonoTime(0), Duration::from_secs(60));
        // Punctual for 30 s: nothing gained.
        assert_eq!(steady(&mut gained, 10 * MS, 30, 50_000), 50_000);
        // A 1 s stall at 30 s: drift jumps by a second and stays.
        let stalled = S as i64 + 50_000;
        assert_eq!(gained.observe(MonoTime(31 * S), stalled), stalled);
        // Within the window the gain is still the stall (the drift before it was 50 µs)...
        assert_eq!(steady(&mut gained, 31 * S + 10 * MS, 59, stalled), S as i64);
        // ...a window and a step after it, the stall is the baseline: nothing gained.
        assert_eq!(steady(&mut gained, 90 * S + 10 * MS, 10, stalled), 0);
    }

    #[test]
    fn steady_growth_stays_gained() {
        let mut gained = DriftGained::new(MonoTime(0), Duration::from_secs(10));
        // Losing 1 ms every second, for a minute.
        let mut last = 0;
        for second in 1..=60u64 {
            last = gained.observe(MonoTime(second * S), (second * MS) as i64);
        }
        // About 10 ms per 10 s window (the start is known to a 60th of it).
        assert!((10 * MS as i64..=11 * MS as i64).contains(&last), "{last}");
    }

    #[test]
    fn before_a_whole_window_the_start_is_t0() {
        let mut gained = DriftGained::new(MonoTime(5 * S), Duration::from_secs(600));
        assert_eq!(gained.observe(MonoTime(6 * S), 3 * MS as i64), 3 * MS as i64);
        assert_eq!(gained.observe(MonoTime(400 * S), 7 * MS as i64), 7 * MS as i64);
    }

    #[test]
    fn long_gaps_between_beats_are_bounded() {
        // Period longer than a step (window = period = 1 h): each beat crosses
        // 60 steps; a beat after a day crosses millions and still costs 61.
        let mut gained = DriftGained::new(MonoTime(0), Duration::from_secs(3600));
        assert_eq!(gained.observe(MonoTime(3600 * S), 0), 0);
        assert_eq!(gained.observe(MonoTime(7200 * S + MS), MS as i64), MS as i64);
        assert_eq!(gained.observe(MonoTime(24 * 3600 * S), 5 * MS as i64), 4 * MS as i64);
        // A window and a step later with no further loss: nothing gained.
        assert_eq!(gained.observe(MonoTime(25 * 3600 * S + 61 * S), 5 * MS as i64), 0);
    }

    #[test]
    fn a_drift_that_shrinks_gains_negatively() {
        let mut gained = DriftGained::new(MonoTime(0), Duration::from_secs(1));
        gained.observe(MonoTime(100 * MS), 40 * MS as i64);
        assert_eq!(gained.observe(MonoTime(2 * S), MS as i64), -39 * MS as i64);
    }
}
