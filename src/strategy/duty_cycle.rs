//! `counter.duty_cycle`: the counter runs for `d × period` in a window
//! centred on each beat of the main heartbeat, and sleeps the rest.
//!
//! Centred on the beat so that every beat still meets a running counter: the
//! contention the heartbeat measures is the strategy's, as with the counter
//! flat out; what is given up is the stretch between beats, which no beat
//! sees. The windows follow the heartbeat's published next due time
//! ([`NextDue`]): under the absolute schedule that is `t0 + k·period`, under
//! the relative one it moves with each beat's lateness. A beat that has not
//! come by the end of its window is not waited for: the windows go on along
//! the period's grid from the last due time published until the heartbeat
//! publishes the next. A window the counter has slept until is run, at
//! least one pass, even if the beat it surrounds came and went while the
//! counter was waking (a window shorter than a wake-up), so the counter
//! never starves. Only a projected window is looked at again on waking, in
//! time, since the late beat may have published its successor's due time
//! meanwhile. [`DutyCycle::window`] is that arithmetic, tested on
//! made-up times; [`run_blocking`] and [`run_async`] are the counter loops
//! that keep to it, on a thread and as a task. At `d = 1` there are no
//! windows and both run the counter's plain loop, with no clock read or
//! branch per pass.

use std::sync::Arc;

use crate::heartbeat::NextDue;
use crate::observe::Passes;
use crate::sys::clock::MonoTime;
use crate::sys::timer::{DeadlineTimer, Stop, Wake};

/// The running windows of a duty cycle below 1, as pure arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DutyCycle {
    period_ns: u64,
    /// Half the window: it runs from `half_width_ns` before a due time to as long after.
    half_width_ns: u64,
}

/// When the counter runs: from `start` to `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub start: MonoTime,
    pub end: MonoTime,
    /// Centred on a due time projected along the grid, not on the one published.
    pub projected: bool,
}

impl DutyCycle {
    /// The windows that make up `ratio` of each period; `None` at 1: the
    /// counter runs continuously. `ratio` is validated by the config (0 < d ≤ 1).
    pub(super) fn new(ratio: f64, period_ns: u64) -> Option<DutyCycle> {
        if ratio.is_nan() || ratio >= 1.0 {
            return None;
        }
        let period_ns = period_ns.max(1);
        let width_ns = (ratio.max(0.0) * period_ns as f64).round() as u64;
        Some(DutyCycle { period_ns, half_width_ns: width_ns.min(period_ns) / 2 })
    }

    /// *Definition*: of the windows centred on `due + j·period` (j ≥ 0),
    /// each `d × period` wide, the first that has not ended at `now`.
    /// *Interpretation*: the window the counter is in, or sleeps until. A
    /// due time whose window has passed (a beat later than its window) is
    /// projected along the period's grid: the next beat is due at least a
    /// period after it under either schedule, so the projection never
    /// starts a window after the beat it is for.
    pub(super) fn window(&self, due: MonoTime, now: MonoTime) -> Window {
        let first_end = due.plus_ns(self.half_width_ns);
        let ahead = if now < first_end { 0 } else { now.since(first_end) / self.period_ns + 1 };
        let centre = due.plus_ns(ahead.saturating_mul(self.period_ns));
        Window {
            start: MonoTime(centre.0.saturating_sub(self.half_width_ns)),
            end: centre.plus_ns(self.half_width_ns),
            projected: ahead > 0,
        }
    }
}

/// A duty cycle and the due times it follows.
#[derive(Debug, Clone)]
pub(super) struct Windows {
    cycle: DutyCycle,
    next_due: Arc<NextDue>,
}

impl Windows {
    pub(super) fn new(cycle: DutyCycle, next_due: Arc<NextDue>) -> Windows {
        Windows { cycle, next_due }
    }

    /// The window to run in at `now`; `None` until the heartbeat has
    /// published a due time (microseconds after t0): until then, the
    /// counter runs, as it always did while the experiment was set up.
    fn at(&self, now: MonoTime) -> Option<Window> {
        self.next_due.get().map(|due| self.cycle.window(due, now))
    }
}

/// One strategy's counter: a pass over the array, and how it rests between
/// windows.
pub(super) trait Counter: Send + 'static {
    fn pass(&mut self);

    /// Sleeps until `deadline` or the stop on `timer`. A counter that must
    /// answer requests while it rests (`threads-channel`) does more.
    fn rest_until(&mut self, deadline: MonoTime, timer: &DeadlineTimer, stop: &Stop) -> std::io::Result<Wake> {
        timer.sleep_until(deadline, stop)
    }
}

impl<F: FnMut() + Send + 'static> Counter for F {
    #[inline]
    fn pass(&mut self) {
        self();
    }
}

/// Runs `counter` on the calling thread until the stop: continuously, or in
/// `windows`. A timer that fails stops the experiment rather than leave the
/// counter flat out (or stopped) behind the operator's back.
pub(super) fn run_blocking(counter: &mut impl Counter, stop: &Stop, passes: &Passes, windows: Option<&Windows>) {
    let Some(windows) = windows else {
        while !stop.is_triggered() {
            counter.pass();
            passes.add_one();
        }
        return;
    };
    if let Err(err) = run_windows_blocking(counter, stop, passes, windows) {
        tracing::error!("the counter's timer failed, stopping the experiment: {err}");
        stop.trigger();
    }
}

fn run_windows_blocking(
    counter: &mut impl Counter,
    stop: &Stop,
    passes: &Passes,
    windows: &Windows,
) -> std::io::Result<()> {
    let timer = DeadlineTimer::new()?;
    while !stop.is_triggered() {
        let now = MonoTime::now();
        let window = windows.at(now);
        if let Some(window) = window.filter(|w| now < w.start) {
            if counter.rest_until(window.start, &timer, stop)? == Wake::Stopped {
                break;
            }
            if window.projected && MonoTime::now() < window.end {
                // Under the relative schedule the late beat may have
                // published a later due time meanwhile: look again.
                continue;
            }
        }
        // At least one pass, then on until the window ends.
        loop {
            counter.pass();
            passes.add_one();
            if stop.is_triggered() || window.is_none_or(|w| MonoTime::now() >= w.end) {
                break;
            }
        }
    }
    Ok(())
}

/// As [`run_blocking`], as a task on the current tokio runtime that yields
/// after every pass and sleeps on the heartbeat's kind of timer (a timerfd
/// registered with the runtime, not tokio's millisecond wheel).
pub(super) async fn run_async(mut pass: impl FnMut(), stop: &Stop, passes: &Passes, windows: Option<&Windows>) {
    let Some(windows) = windows else {
        while !stop.is_triggered() {
            pass();
            passes.add_one();
            tokio::task::yield_now().await;
        }
        return;
    };
    if let Err(err) = run_windows_async(&mut pass, stop, passes, windows).await {
        tracing::error!("the counter's timer failed, stopping the experiment: {err}");
        stop.trigger();
    }
}

async fn run_windows_async(
    pass: &mut impl FnMut(),
    stop: &Stop,
    passes: &Passes,
    windows: &Windows,
) -> std::io::Result<()> {
    let timer = DeadlineTimer::new()?.into_async(stop)?;
    while !stop.is_triggered() {
        let now = MonoTime::now();
        let window = windows.at(now);
        if let Some(window) = window.filter(|w| now < w.start) {
            if timer.sleep_until(window.start).await? == Wake::Stopped {
                break;
            }
            if window.projected && MonoTime::now() < window.end {
                continue;
            }
        }
        loop {
            pass();
            passes.add_one();
            tokio::task::yield_now().await;
            if stop.is_triggered() || window.is_none_or(|w| MonoTime::now() >= w.end) {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A window around the published due time.
    fn window(start_ms: u64, end_ms: u64) -> Window {
        Window { start: MonoTime(start_ms * MS), end: MonoTime(end_ms * MS), projected: false }
    }

    /// A window around a due time projected along the grid.
    fn projected(start_ms: u64, end_ms: u64) -> Window {
        Window { projected: true, ..window(start_ms, end_ms) }
    }

    #[test]
    fn one_means_continuously() {
        assert_eq!(DutyCycle::new(1.0, 100 * MS), None);
        assert!(DutyCycle::new(0.999, 100 * MS).is_some());
    }

    #[test]
    fn the_window_is_centred_on_the_due_time() {
        // A tenth of 100 ms: 5 ms either side of the beat due at 1,000 ms.
        let cycle = DutyCycle::new(0.1, 100 * MS).expect("below 1");
        let due = MonoTime(1000 * MS);
        assert_eq!(cycle.window(due, MonoTime(900 * MS)), window(995, 1005), "asleep before it");
        assert_eq!(cycle.window(due, MonoTime(995 * MS)), window(995, 1005));
        assert_eq!(cycle.window(due, MonoTime(1004 * MS)), window(995, 1005), "inside it");
        assert_eq!(cycle.window(due, MonoTime(1005 * MS)), projected(1095, 1105), "ended: the next one");
    }

    #[test]
    fn a_late_beat_is_not_waited_for() {
        // The heartbeat has not published a new due time (its beat due at
        // 1,000 ms is late): the windows go on along the grid.
        let cycle = DutyCycle::new(0.1, 100 * MS).expect("below 1");
        let due = MonoTime(1000 * MS);
        assert_eq!(cycle.window(due, MonoTime(1050 * MS)), projected(1095, 1105));
        assert_eq!(cycle.window(due, MonoTime(1100 * MS)), projected(1095, 1105));
        assert_eq!(cycle.window(due, MonoTime(1105 * MS)), projected(1195, 1205));
        assert_eq!(cycle.window(due, MonoTime(10_000 * MS)), projected(9995, 10_005));
        // Published at last, in the absolute schedule's next slot: the same window, not projected.
        assert_eq!(cycle.window(MonoTime(1100 * MS), MonoTime(1100 * MS)), window(1095, 1105));
    }

    #[test]
    fn relative_windows_follow_each_published_due_time() {
        // Relative schedule, 1 s period, a fifth of it: the beat due at 1 s
        // finished at 1.003 s, so the next is due at 2.003 s, and the counter,
        // done with its window at 1.1 s, sleeps until 1.903 s.
        let cycle = DutyCycle::new(0.2, 1000 * MS).expect("below 1");
        assert_eq!(cycle.window(MonoTime(1000 * MS), MonoTime(1050 * MS)), window(900, 1100));
        assert_eq!(cycle.window(MonoTime(2003 * MS), MonoTime(1100 * MS)), window(1903, 2103));
        // Had the beat been late past 1.1 s, the counter would have slept
        // towards the projected 1.9 s, and found 2.003 s published on waking.
        assert_eq!(cycle.window(MonoTime(1000 * MS), MonoTime(1100 * MS)), projected(1900, 2100));
        assert_eq!(cycle.window(MonoTime(2150 * MS), MonoTime(1900 * MS)), window(2050, 2250));
    }

    #[test]
    fn extremes_stay_in_range() {
        // The shortest period and a tiny share: a window of nothing, still one per period.
        let cycle = DutyCycle::new(1e-9, 100_000).expect("below 1");
        assert_eq!(
            cycle.window(MonoTime(100_000), MonoTime(0)),
            Window { start: MonoTime(100_000), end: MonoTime(100_000), projected: false }
        );
        assert_eq!(cycle.window(MonoTime(100_000), MonoTime(100_000)).start, MonoTime(200_000));
        // Near 1: windows touch and never overlap.
        let cycle = DutyCycle::new(0.999_999_999, 100_000).expect("below 1");
        let first = cycle.window(MonoTime(100_000), MonoTime(0));
        assert_eq!(first, Window { start: MonoTime(50_000), end: MonoTime(150_000), projected: false });
        assert_eq!(cycle.window(MonoTime(100_000), first.end).start, first.end);
        // A due time near the start of the clock and far in its future saturate.
        let cycle = DutyCycle::new(0.5, 3_600_000 * MS).expect("below 1");
        assert_eq!(cycle.window(MonoTime(1), MonoTime(0)).start, MonoTime(0));
        assert_eq!(cycle.window(MonoTime(u64::MAX - 1), MonoTime(u64::MAX)).end, MonoTime(u64::MAX));
    }
}
