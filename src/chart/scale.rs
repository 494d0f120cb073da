//! Where values go on a chart's axis: linear or logarithmic mappings from
//! data to pixels, and the ticks worth labelling.

use super::Axis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Decades; values at or below zero sit at the axis's low end.
    Log,
}

impl Scale {
    /// Whether `value` can set this scale's range.
    pub fn usable(self, value: f64) -> bool {
        value.is_finite() && (self == Scale::Linear || value > 0.0)
    }
}

/// Where an axis's values go on the page.
pub(super) struct Mapping {
    scale: Scale,
    low: f64,
    high: f64,
    from_px: f64,
    to_px: f64,
}

impl Mapping {
    /// The range of the usable `values` on `axis`, drawn from `from_px` to
    /// `to_px`; `None` when no value is usable.
    pub(super) fn new(axis: &Axis, values: impl Iterator<Item = f64>, from_px: f64, to_px: f64) -> Option<Mapping> {
        let (mut low, mut high) = values
            .filter(|v| axis.scale.usable(*v))
            .fold(None, |range: Option<(f64, f64)>, v| Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v)))))?;
        match axis.scale {
            Scale::Linear => {
                if axis.include_zero {
                    low = low.min(0.0);
                    high = high.max(0.0);
                }
                if high - low <= f64::EPSILON * high.abs().max(1e-12) {
                    (low, high) = (low - 1e-9, high + 1e-9);
                }
            }
            Scale::Log => {
                low = 10f64.powf(low.log10().floor());
                high = 10f64.powf(high.log10().ceil());
                if high <= low {
                    high = low * 10.0;
                }
            }
        }
        Some(Mapping { scale: axis.scale, low, high, from_px, to_px })
    }

    fn fraction(&self, value: f64) -> f64 {
        match self.scale {
            Scale::Linear => (value - self.low) / (self.high - self.low),
            Scale::Log => (value.max(self.low).log10() - self.low.log10()) / (self.high.log10() - self.low.log10()),
        }
    }

    pub(super) fn px(&self, value: f64) -> f64 {
        self.from_px + self.fraction(value) * (self.to_px - self.from_px)
    }

    pub(super) fn ticks(&self) -> Vec<f64> {
        match self.scale {
            Scale::Linear => {
                let step = nice_step((self.high - self.low) / 5.0);
                let first = (self.low / step).ceil() as i64;
                let last = (self.high / step).floor() as i64;
                (first..=last).map(|i| i as f64 * step).collect()
            }
            Scale::Log => {
                let (first, last) = (self.low.log10().round() as i32, self.high.log10().round() as i32);
                let every = if last - first > 8 { 2 } else { 1 };
                (first..=last).step_by(every).map(|e| 10f64.powi(e)).collect()
            }
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `rough`.
fn nice_step(rough: f64) -> f64 {
    let magnitude = 10f64.powf(rough.abs().max(1e-15).log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= rough).unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(scale: Scale) -> Axis {
        Axis { label: "x", scale, format: |v| format!("{v}"), include_zero: false }
    }

    #[test]
    fn steps_and_ticks() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(1.0), 1.0);
        let log = Mapping::new(&axis(Scale::Log), [3e-5, 2e-3, 0.0, -1.0].into_iter(), 0.0, 100.0);
        let log = log.map(|m| m.ticks()).unwrap_or_default();
        assert_eq!(log.len(), 4, "{log:?}");
        let linear = Mapping::new(&axis(Scale::Linear), [0.0, 10.0].into_iter(), 0.0, 100.0);
        assert_eq!(linear.map(|m| m.ticks()).unwrap_or_default(), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    }

    #[test]
    fn values_below_a_log_range_sit_at_its_low_end() {
        let log = Mapping::new(&axis(Scale::Log), [1e-3, 1e-1].into_iter(), 100.0, 0.0);
        let log = log.expect("a range");
        assert_eq!(log.px(0.0), 100.0);
        assert_eq!(log.px(1e-3), 100.0);
        assert_eq!(log.px(1e-1), 0.0);
    }
}
