//! The figures `compare` derives from one strategy's run, read from the
//! observatory it ran on.
//!
//! The run's boards keep every beat exactly ([`crate::observe::Keep::WholeRun`]):
//! HdrHistograms with three significant digits, so every percentile is
//! within 0.1 % of the exact value, and a bounded series of points for the
//! charts. Lateness counts every slot, as the daemon's histograms do, so a
//! stall weighs in the percentiles as much as the time it took. Why the late
//! beats were late comes from the main board's tally, which on a
//! comparison's fresh observatory holds exactly this run.

use hdrhistogram::Histogram;

use super::host_cpu::OtherCpu;
use crate::experiment::Strategy;
use crate::explain::{Cause, CauseCounts};
use crate::observe::{Observatory, Point, WholeRun};

/// `count` per second over `elapsed_ns`; `None` for an empty interval.
pub(super) fn rate(count: u64, elapsed_ns: u64) -> Option<f64> {
    (elapsed_ns > 0).then(|| count as f64 * 1e9 / elapsed_ns as f64)
}

/// Points of the cumulative distribution, `(value_ns, fraction at or below)`:
/// evenly spaced fractions plus the tail, where the strategies differ.
pub(super) fn cdf(histogram: &Histogram<u64>) -> Vec<(u64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let even = (0..=100).map(|i| f64::from(i) / 100.0);
    let tail = [0.995, 0.999, 0.9999];
    let mut fractions: Vec<f64> = even.chain(tail).collect();
    fractions.sort_by(f64::total_cmp);
    fractions.into_iter().map(|q| (histogram.value_at_quantile(q), q)).collect()
}

/// The figures of one strategy's run. Times in nanoseconds; `None` where
/// there was nothing to measure (no beat in the run).
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub strategy: Strategy,
    /// Ran its whole duration (false when interrupted).
    pub completed: bool,
    pub elapsed_ns: u64,
    pub beats: u64,
    pub missed_slots: u64,
    pub inconsistent_checks: u64,
    /// Every slot's lateness counts in the lateness figures: beats plus missed slots.
    pub lateness_slots: u64,
    pub lateness_p50_ns: Option<u64>,
    pub lateness_p99_ns: Option<u64>,
    pub lateness_max_ns: Option<u64>,
    pub lateness_mean_ns: Option<f64>,
    pub wake_lateness_p50_ns: Option<u64>,
    pub wake_lateness_p99_ns: Option<u64>,
    pub access_wait_p50_ns: Option<u64>,
    pub access_wait_p99_ns: Option<u64>,
    pub check_duration_p50_ns: Option<u64>,
    /// Of the absolute jitter.
    pub jitter_p99_ns: Option<u64>,
    pub final_drift_ns: Option<i64>,
    pub counter_passes: u64,
    pub passes_per_second: Option<f64>,
    pub control_beats: u64,
    /// Control beats plus the control's missed slots.
    pub control_slots: u64,
    pub control_lateness_p50_ns: Option<u64>,
    pub control_lateness_p99_ns: Option<u64>,
    /// The main heartbeat's late beats (above `explain.threshold`) by
    /// dominant cause, and their lateness split among the causes.
    pub causes: CauseCounts,
    /// What the rest of the host used during the run; `None` where
    /// `/proc/stat` could not be read.
    pub other_cpu: Option<OtherCpu>,
    pub series: Vec<Point>,
    pub lateness_cdf: Vec<(u64, f64)>,
}

impl Figures {
    /// The figures of `strategy`'s run on `observatory`, which lasted
    /// `elapsed_ns` (and ran its whole duration, if `completed`).
    pub fn of(strategy: Strategy, observatory: &Observatory, elapsed_ns: u64, completed: bool) -> Figures {
        let snapshot = observatory.snapshot();
        let totals = snapshot.main.totals;
        let ran = totals.beats > 0;
        let mut figures = Figures {
            strategy,
            completed,
            elapsed_ns,
            beats: totals.beats,
            missed_slots: totals.missed,
            inconsistent_checks: totals.inconsistent,
            lateness_max_ns: ran.then_some(totals.max_lateness_ns),
            final_drift_ns: ran.then_some(totals.last_drift_ns),
            counter_passes: snapshot.passes,
            passes_per_second: rate(snapshot.passes, elapsed_ns),
            control_beats: snapshot.control.totals.beats,
            causes: snapshot.main.tally.causes,
            ..Figures::empty(strategy)
        };
        observatory.main.read_whole_run(|run| figures.read_main(run, ran));
        observatory.control.read_whole_run(|run| {
            figures.control_slots = run.lateness.len();
            figures.control_lateness_p50_ns = quantile(&run.lateness, 0.5);
            figures.control_lateness_p99_ns = quantile(&run.lateness, 0.99);
        });
        figures
    }

    /// What the main heartbeat's whole run tells.
    fn read_main(&mut self, run: &WholeRun, ran: bool) {
        self.lateness_slots = run.lateness.len();
        self.lateness_p50_ns = quantile(&run.lateness, 0.5);
        self.lateness_p99_ns = quantile(&run.lateness, 0.99);
        self.lateness_mean_ns = ran.then(|| run.lateness.mean());
        if let Some(beats) = &run.beats {
            self.wake_lateness_p50_ns = quantile(&beats.wake_lateness, 0.5);
            self.wake_lateness_p99_ns = quantile(&beats.wake_lateness, 0.99);
            self.access_wait_p50_ns = quantile(&beats.access_wait, 0.5);
            self.access_wait_p99_ns = quantile(&beats.access_wait, 0.99);
            self.check_duration_p50_ns = quantile(&beats.check_duration, 0.5);
            self.jitter_p99_ns = quantile(&beats.jitter, 0.99);
        }
        self.series = run.series.points().to_vec();
        self.lateness_cdf = cdf(&run.lateness);
    }

    /// The cause with the most explained lateness; `None` when no beat was late.
    pub fn dominant_cause(&self) -> Option<Cause> {
        self.causes.dominant()
    }

    /// Nothing measured yet.
    pub(super) fn empty(strategy: Strategy) -> Figures {
        Figures {
            strategy,
            completed: false,
            elapsed_ns: 0,
            beats: 0,
            missed_slots: 0,
            inconsistent_checks: 0,
            lateness_slots: 0,
            lateness_p50_ns: None,
            lateness_p99_ns: None,
            lateness_max_ns: None,
            lateness_mean_ns: None,
            wake_lateness_p50_ns: None,
            wake_lateness_p99_ns: None,
            access_wait_p50_ns: None,
            access_wait_p99_ns: None,
            check_duration_p50_ns: None,
            jitter_p99_ns: None,
            final_drift_ns: None,
            counter_passes: 0,
            passes_per_second: None,
            control_beats: 0,
            control_slots: 0,
            control_lateness_p50_ns: None,
            control_lateness_p99_ns: None,
            causes: CauseCounts::default(),
            other_cpu: None,
            series: Vec::new(),
            lateness_cdf: Vec::new(),
        }
    }
}

/// The value at quantile `q`; `None` for an empty histogram.
fn quantile(histogram: &Histogram<u64>, q: f64) -> Option<u64> {
    (!histogram.is_empty()).then(|| histogram.value_at_quantile(q))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::array::Check;
    use crate::config::Config;
    use crate::experiment::{Heartbeat, Schedule, Settings};
    use crate::measure::{BeatTimes, Scheduler};
    use crate::observe::{Keep, new_histogram};
    use crate::sys::clock::MonoTime;

    const MS: u64 = 1_000_000;

    /// A comparison's observatory with a 10 ms experiment begun at t0 = 0.
    fn observatory() -> (Arc<Observatory>, Scheduler) {
        let settings = Settings { period: Duration::from_millis(10), ..Config::embedded_default().experiment() };
        let observatory = Arc::new(Observatory::new(Keep::WholeRun));
        observatory.begin(&settings, MonoTime(0));
        (observatory, Scheduler::new(Schedule::Absolute, settings.period, MonoTime(0)))
    }

    #[test]
    fn figures_from_made_up_beats() {
        let (observatory, mut scheduler) = observatory();
        // 100 beats late by 1..=100 µs; the 50th is inconsistent.
        for k in 1..=100u64 {
            let due = scheduler.due().0;
            let done = due + k * 1000;
            let beat = scheduler.complete(BeatTimes {
                scheduled: MonoTime(due),
                woke: MonoTime(due + 500),
                accessed: MonoTime(due + 700),
                done: MonoTime(done),
            });
            let check = Check { value: k, mismatched_elements: u64::from(k == 50) };
            observatory.record(Heartbeat::Main, &beat, check);
            observatory.record(Heartbeat::Control, &beat, check);
        }
        for _ in 0..500 {
            observatory.passes().add_one();
        }
        let f = Figures::of(Strategy::Async, &observatory, 2_000 * MS, true);
        assert_eq!((f.beats, f.missed_slots, f.inconsistent_checks), (100, 0, 1));
        // Three significant digits: within 0.1 % of the exact value.
        let near = |got: Option<u64>, exact: u64| got.is_some_and(|v| v.abs_diff(exact) * 1000 <= exact);
        assert!(near(f.lateness_p50_ns, 50_000), "{:?}", f.lateness_p50_ns);
        assert!(near(f.lateness_p99_ns, 99_000), "{:?}", f.lateness_p99_ns);
        assert_eq!(f.lateness_max_ns, Some(100_000));
        assert!(near(f.wake_lateness_p50_ns, 500));
        assert!(near(f.access_wait_p99_ns, 200));
        assert_eq!(f.final_drift_ns, Some(100_000));
        assert_eq!(f.passes_per_second, Some(250.0));
        assert_eq!(f.control_beats, 100);
        assert_eq!(f.series.len(), 100);
        assert_eq!(f.series[0].time_ns, 10 * MS + 1000);
        let cdf = &f.lateness_cdf;
        assert!(cdf.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1));
        assert!(near(cdf.last().map(|p| p.0), 100_000));
    }

    #[test]
    fn a_stall_weighs_in_the_percentiles() {
        // 10 ms period: 99 punctual beats, then one 995 ms late that skipped 99 slots.
        let (observatory, mut scheduler) = observatory();
        for k in 1..=100u64 {
            let due = scheduler.due().0;
            let done = if k == 100 { due + 995 * MS } else { due + 50_000 };
            let beat = scheduler.complete(BeatTimes {
                scheduled: MonoTime(due),
                woke: MonoTime(done),
                accessed: MonoTime(done),
                done: MonoTime(done),
            });
            observatory.record(Heartbeat::Main, &beat, Check { value: k, mismatched_elements: 0 });
        }
        let f = Figures::of(Strategy::Async, &observatory, 2_000 * MS, true);
        assert_eq!((f.beats, f.missed_slots, f.lateness_slots), (100, 99, 199));
        // Per beat, p99 would be 50 µs; per slot, the top 1 % are the stall's.
        let p99 = f.lateness_p99_ns.unwrap_or(0);
        assert!(p99 >= 970 * MS, "{p99}");
        // The 99 punctual beats are under half of the 199 slots: the median is
        // the stall's least late slot, 5 ms.
        assert_eq!(f.lateness_p50_ns.map(|v| v / MS), Some(5));
        // Slot by slot with record_correct's idea, the same histogram.
        let mut naive = new_histogram();
        naive.saturating_record(995 * MS);
        for j in 1..=99 {
            naive.saturating_record(995 * MS - j * 10 * MS);
        }
        for _ in 0..99 {
            naive.saturating_record(50_000);
        }
        assert_eq!(observatory.main.read_whole_run(|run| run.lateness.clone()), Some(naive));
    }

    #[test]
    fn no_beats_no_figures() {
        let (observatory, _) = observatory();
        let f = Figures::of(Strategy::ThreadsMutex, &observatory, 0, false);
        assert_eq!((f.lateness_p50_ns, f.final_drift_ns, f.passes_per_second), (None, None, None));
        assert!(f.lateness_cdf.is_empty() && f.series.is_empty());
        assert_eq!((f.causes, f.dominant_cause()), (CauseCounts::default(), None));
    }

    #[test]
    fn the_dominant_cause_is_the_most_explained_lateness() {
        let mut causes = CauseCounts::default();
        assert_eq!(causes.dominant(), None, "no late beat");
        // Three beats dominated by cpu, but one long stop explains more.
        causes.late_beats[Cause::Cpu.index()] = 3;
        causes.explained_ns[Cause::Cpu.index()] = 6 * MS;
        causes.late_beats[Cause::Stopped.index()] = 1;
        causes.explained_ns[Cause::Stopped.index()] = 300 * MS;
        causes.explained_ns[Cause::Wake.index()] = 2 * MS;
        assert_eq!(causes.dominant(), Some(Cause::Stopped));
        // A tie goes to the cause the waterfall charges first.
        causes.explained_ns[Cause::Cpu.index()] = 300 * MS;
        assert_eq!(causes.dominant(), Some(Cause::Cpu));
        // Late beats whose amounts are all zero name nothing.
        let odd = CauseCounts { late_beats: [0, 0, 0, 0, 0, 0, 0, 1], explained_ns: [0; 8] };
        assert_eq!(odd.dominant(), None);
    }
}
