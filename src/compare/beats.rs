//! What `compare` keeps of each beat, and the figures it derives.
//!
//! The Prometheus histograms have doubling buckets: good for alerting, too
//! coarse to tell a 60 µs p99 from a 110 µs one. So every beat the tap hands
//! over also goes into HDR histograms (three significant digits: every
//! percentile is within 0.1 % of the exact value, at any scale, in constant
//! memory) and into a [`Series`] for the charts, which keeps at most
//! [`MAX_POINTS`] points however long the run. Lateness counts every slot,
//! as the daemon's histograms do: a beat that swallowed missed slots adds
//! each one's `lateness − j·period` ([`record_slots`]), so a stall weighs in
//! the percentiles as much as the time it took.

use hdrhistogram::Histogram;

use crate::array::Check;
use crate::experiment::Strategy;
use crate::heartbeat::Source;
use crate::measure::Beat;

/// Chart points kept per strategy; beyond that neighbours are merged.
pub(super) const MAX_POINTS: usize = 2000;

/// One hour in nanoseconds: the largest value a histogram tells apart.
const HISTOGRAM_MAX_NS: u64 = 3_600_000_000_000;

/// A chart point: one beat, or several merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// Index of the last beat merged into this point.
    pub beat: u64,
    /// `done − t0` of that beat.
    pub time_ns: u64,
    /// The worst lateness of the merged beats, so a spike never disappears.
    pub lateness_ns: u64,
    /// Drift after the last merged beat.
    pub drift_ns: i64,
    /// How many beats this point stands for.
    pub beats: u64,
}

impl Point {
    fn merge(self, later: Point) -> Point {
        Point { lateness_ns: self.lateness_ns.max(later.lateness_ns), beats: self.beats + later.beats, ..later }
    }
}

/// Per-beat lateness and drift, bounded: when full, pairs of neighbours are
/// merged and each point stands for twice as many beats from then on.
#[derive(Debug, Clone)]
pub(super) struct Series {
    points: Vec<Point>,
    beats_per_point: u64,
    max_points: usize,
}

impl Series {
    pub(super) fn new(max_points: usize) -> Series {
        Series { points: Vec::new(), beats_per_point: 1, max_points: max_points.max(2) }
    }

    pub(super) fn push(&mut self, point: Point) {
        match self.points.last_mut() {
            Some(last) if last.beats < self.beats_per_point => *last = last.merge(point),
            _ => self.points.push(point),
        }
        if self.points.len() > self.max_points {
            self.points = self.points.chunks(2).filter_map(|pair| pair.iter().copied().reduce(Point::merge)).collect();
            self.beats_per_point *= 2;
        }
    }

    pub(super) fn points(&self) -> &[Point] {
        &self.points
    }
}

/// A latency histogram in nanoseconds.
fn histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, 3) {
        Ok(histogram) => histogram,
        // Constant, valid bounds: covered by the tests.
        Err(err) => unreachable!("histogram bounds: {err}"),
    }
}

/// Records a beat's lateness and that of each slot it swallowed, as the
/// daemon's lateness store does (`lateness::record_slots`):
/// HdrHistogram's `record_correct`, exact for the absolute schedule, and one
/// `record_n` per HDR bucket touched rather than one per slot.
pub fn record_slots(histogram: &mut Histogram<u64>, lateness_ns: u64, period_ns: u64, missed: u64) {
    crate::lateness::record_slots([histogram], lateness_ns, period_ns, missed);
}

/// Everything kept of one strategy's beats; fed by the tap.
#[derive(Debug, Clone)]
pub struct BeatLog {
    period_ns: u64,
    beats: u64,
    missed_slots: u64,
    inconsistent_checks: u64,
    max_lateness_ns: u64,
    last_drift_ns: i64,
    /// Every slot's lateness: beats and missed slots.
    lateness: Histogram<u64>,
    wake_lateness: Histogram<u64>,
    access_wait: Histogram<u64>,
    check_duration: Histogram<u64>,
    jitter: Histogram<u64>,
    control_beats: u64,
    /// Every slot of the control heartbeat.
    control_lateness: Histogram<u64>,
    series: Series,
}

impl BeatLog {
    pub fn new(period_ns: u64) -> BeatLog {
        BeatLog {
            period_ns,
            beats: 0,
            missed_slots: 0,
            inconsistent_checks: 0,
            max_lateness_ns: 0,
            last_drift_ns: 0,
            lateness: histogram(),
            wake_lateness: histogram(),
            access_wait: histogram(),
            check_duration: histogram(),
            jitter: histogram(),
            control_beats: 0,
            control_lateness: histogram(),
            series: Series::new(MAX_POINTS),
        }
    }

    pub fn record(&mut self, source: Source, beat: &Beat, check: Check) {
        if source == Source::Control {
            record_slots(&mut self.control_lateness, beat.lateness_ns, self.period_ns, beat.missed_slots);
            self.control_beats += 1;
            return;
        }
        self.beats += 1;
        self.missed_slots += beat.missed_slots;
        self.inconsistent_checks += u64::from(!check.is_consistent());
        self.max_lateness_ns = self.max_lateness_ns.max(beat.lateness_ns);
        self.last_drift_ns = beat.drift_ns;
        record_slots(&mut self.lateness, beat.lateness_ns, self.period_ns, beat.missed_slots);
        self.wake_lateness.saturating_record(beat.wake_lateness_ns);
        self.access_wait.saturating_record(beat.access_wait_ns);
        self.check_duration.saturating_record(beat.check_duration_ns);
        self.jitter.saturating_record(beat.jitter_ns.unsigned_abs());
        // By the definition of drift, done − t0 = k·period + drift.
        let time_ns = beat.index.saturating_mul(self.period_ns).saturating_add_signed(beat.drift_ns);
        self.series.push(Point {
            beat: beat.index,
            time_ns,
            lateness_ns: beat.lateness_ns,
            drift_ns: beat.drift_ns,
            beats: 1,
        });
    }

    /// The figures of this log, for a run of `elapsed_ns` with `counter_passes`.
    pub fn figures(&self, strategy: Strategy, elapsed_ns: u64, counter_passes: u64, completed: bool) -> Figures {
        let quantile = |h: &Histogram<u64>, q: f64| (!h.is_empty()).then(|| h.value_at_quantile(q));
        Figures {
            strategy,
            completed,
            elapsed_ns,
            beats: self.beats,
            missed_slots: self.missed_slots,
            inconsistent_checks: self.inconsistent_checks,
            lateness_p50_ns: quantile(&self.lateness, 0.5),
            lateness_p99_ns: quantile(&self.lateness, 0.99),
            lateness_max_ns: (self.beats > 0).then_some(self.max_lateness_ns),
            lateness_mean_ns: (self.beats > 0).then(|| self.lateness.mean()),
            lateness_slots: self.lateness.len(),
            wake_lateness_p50_ns: quantile(&self.wake_lateness, 0.5),
            wake_lateness_p99_ns: quantile(&self.wake_lateness, 0.99),
            access_wait_p50_ns: quantile(&self.access_wait, 0.5),
            access_wait_p99_ns: quantile(&self.access_wait, 0.99),
            check_duration_p50_ns: quantile(&self.check_duration, 0.5),
            jitter_p99_ns: quantile(&self.jitter, 0.99),
            final_drift_ns: (self.beats > 0).then_some(self.last_drift_ns),
            counter_passes,
            passes_per_second: rate(counter_passes, elapsed_ns),
            control_beats: self.control_beats,
            control_slots: self.control_lateness.len(),
            control_lateness_p50_ns: quantile(&self.control_lateness, 0.5),
            control_lateness_p99_ns: quantile(&self.control_lateness, 0.99),
            series: self.series.points().to_vec(),
            lateness_cdf: cdf(&self.lateness),
        }
    }
}

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
    pub series: Vec<Point>,
    pub lateness_cdf: Vec<(u64, f64)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MonoTime;
    use crate::experiment::Schedule;
    use crate::measure::{BeatTimes, Scheduler};
    use std::time::Duration;

    const MS: u64 = 1_000_000;

    fn point(beat: u64, lateness_ns: u64) -> Point {
        Point { beat, time_ns: beat * 10, lateness_ns, drift_ns: beat as i64, beats: 1 }
    }

    #[test]
    fn series_stays_bounded_and_keeps_spikes() {
        let mut series = Series::new(10);
        for beat in 1..=1000 {
            series.push(point(beat, if beat == 501 { 99 } else { 1 }));
        }
        let points = series.points();
        assert!(points.len() <= 10, "{} points", points.len());
        assert_eq!(points.iter().map(|p| p.beats).sum::<u64>(), 1000);
        assert_eq!(points.iter().map(|p| p.lateness_ns).max(), Some(99));
        let last = points.last().copied().unwrap_or(point(0, 0));
        assert_eq!((last.beat, last.drift_ns), (1000, 1000));
        assert!(points.windows(2).all(|w| w[0].beat < w[1].beat));
    }

    #[test]
    fn short_series_is_every_beat() {
        let mut series = Series::new(10);
        for beat in 1..=7 {
            series.push(point(beat, beat));
        }
        assert_eq!(series.points().len(), 7);
        assert_eq!(series.points()[3], point(4, 4));
    }

    #[test]
    fn figures_from_made_up_beats() {
        let mut scheduler = Scheduler::new(Schedule::Absolute, Duration::from_millis(10), MonoTime(0));
        let mut log = BeatLog::new(10 * MS);
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
            log.record(Source::Main, &beat, check);
            log.record(Source::Control, &beat, check);
        }
        let f = log.figures(Strategy::Async, 2_000 * MS, 500, true);
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
        let mut scheduler = Scheduler::new(Schedule::Absolute, Duration::from_millis(10), MonoTime(0));
        let mut log = BeatLog::new(10 * MS);
        for k in 1..=100u64 {
            let due = scheduler.due().0;
            let done = if k == 100 { due + 995 * MS } else { due + 50_000 };
            let beat = scheduler.complete(BeatTimes {
                scheduled: MonoTime(due),
                woke: MonoTime(done),
                accessed: MonoTime(done),
                done: MonoTime(done),
            });
            log.record(Source::Main, &beat, Check { value: k, mismatched_elements: 0 });
        }
        let f = log.figures(Strategy::Async, 2_000 * MS, 1, true);
        assert_eq!((f.beats, f.missed_slots, f.lateness_slots), (100, 99, 199));
        // Per beat, p99 would be 50 µs; per slot, the top 1 % are the stall's.
        let p99 = f.lateness_p99_ns.unwrap_or(0);
        assert!(p99 >= 970 * MS, "{p99}");
        // The 99 punctual beats are under half of the 199 slots: the median is
        // the stall's least late slot, 5 ms.
        assert_eq!(f.lateness_p50_ns.map(|v| v / MS), Some(5));
        // Slot by slot with record_correct's idea, the same histogram.
        let mut naive = histogram();
        naive.saturating_record(995 * MS);
        for j in 1..=99 {
            naive.saturating_record(995 * MS - j * 10 * MS);
        }
        let mut runs = histogram();
        record_slots(&mut runs, 995 * MS, 10 * MS, 99);
        assert_eq!(runs, naive);
    }

    #[test]
    fn record_slots_clamps_what_the_histogram_cannot_hold() {
        let mut h = histogram();
        record_slots(&mut h, u64::MAX, HISTOGRAM_MAX_NS, 3);
        assert_eq!(h.len(), 4);
    }

    #[test]
    fn no_beats_no_figures() {
        let f = BeatLog::new(MS).figures(Strategy::ThreadsMutex, 0, 0, false);
        assert_eq!((f.lateness_p50_ns, f.final_drift_ns, f.passes_per_second), (None, None, None));
        assert!(f.lateness_cdf.is_empty() && f.series.is_empty());
    }
}
