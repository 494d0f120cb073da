//! Every beat of a whole run, exactly: what a board keeps for `compare`.
//!
//! The exported histograms have coarse buckets: good for alerting, too
//! coarse to tell a 60 µs p99 from a 110 µs one. A board made for a
//! comparison ([`super::Keep::WholeRun`]) also records every beat into
//! HdrHistograms (three significant digits: every percentile within 0.1 % of
//! the exact value, at any scale, in constant memory) and into a [`Series`]
//! for the charts, which keeps at most [`MAX_POINTS`] points however long
//! the run. Lateness counts every slot, as everywhere: a beat that
//! swallowed missed slots adds each one's `lateness − j·period`.

use hdrhistogram::Histogram;

use super::store::{new_histogram, record_slots};
use crate::measure::Beat;

/// Chart points kept per heartbeat; beyond that neighbours are merged.
pub const MAX_POINTS: usize = 2000;

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
pub struct Series {
    points: Vec<Point>,
    beats_per_point: u64,
    max_points: usize,
}

impl Series {
    pub fn new(max_points: usize) -> Series {
        Series { points: Vec::new(), beats_per_point: 1, max_points: max_points.max(2) }
    }

    pub fn push(&mut self, point: Point) {
        match self.points.last_mut() {
            Some(last) if last.beats < self.beats_per_point => *last = last.merge(point),
            _ => self.points.push(point),
        }
        if self.points.len() > self.max_points {
            self.points = self.points.chunks(2).filter_map(|pair| pair.iter().copied().reduce(Point::merge)).collect();
            self.beats_per_point *= 2;
        }
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }
}

/// The per-beat numbers of the main heartbeat, exactly.
#[derive(Debug, Clone)]
pub struct BeatHistograms {
    pub wake_lateness: Histogram<u64>,
    pub access_wait: Histogram<u64>,
    pub check_duration: Histogram<u64>,
    /// Of the absolute jitter.
    pub jitter: Histogram<u64>,
}

/// Everything kept of one heartbeat's whole run.
#[derive(Debug, Clone)]
pub struct WholeRun {
    /// Every slot's lateness: beats and missed slots.
    pub lateness: Histogram<u64>,
    /// The main heartbeat's per-beat numbers; `None` on the control's board,
    /// which has no access or check to time.
    pub beats: Option<BeatHistograms>,
    pub series: Series,
}

impl WholeRun {
    pub(crate) fn new(per_beat: bool) -> WholeRun {
        let beats = per_beat.then(|| BeatHistograms {
            wake_lateness: new_histogram(),
            access_wait: new_histogram(),
            check_duration: new_histogram(),
            jitter: new_histogram(),
        });
        WholeRun { lateness: new_histogram(), beats, series: Series::new(MAX_POINTS) }
    }

    /// Forgets the previous run, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.lateness.reset();
        if let Some(beats) = &mut self.beats {
            for histogram in
                [&mut beats.wake_lateness, &mut beats.access_wait, &mut beats.check_duration, &mut beats.jitter]
            {
                histogram.reset();
            }
        }
        self.series = Series::new(MAX_POINTS);
    }

    pub(crate) fn record(&mut self, beat: &Beat, period_ns: u64) {
        record_slots([&mut self.lateness], beat.lateness_ns, period_ns, beat.missed_slots);
        if let Some(beats) = &mut self.beats {
            beats.wake_lateness.saturating_record(beat.wake_lateness_ns);
            beats.access_wait.saturating_record(beat.access_wait_ns);
            beats.check_duration.saturating_record(beat.check_duration_ns);
            beats.jitter.saturating_record(beat.jitter_ns.unsigned_abs());
        }
        // By the definition of drift, done − t0 = k·period + drift.
        let time_ns = beat.index.saturating_mul(period_ns).saturating_add_signed(beat.drift_ns);
        self.series.push(Point {
            beat: beat.index,
            time_ns,
            lateness_ns: beat.lateness_ns,
            drift_ns: beat.drift_ns,
            beats: 1,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::store::HIGHEST_NS;

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
    fn record_slots_clamps_what_the_histogram_cannot_hold() {
        let mut h = new_histogram();
        record_slots([&mut h], u64::MAX, HIGHEST_NS, 3);
        assert_eq!(h.len(), 4);
    }
}
