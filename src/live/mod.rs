//! The live view of the experiment: the recent slots of both heartbeats and
//! what is running, served as JSON under `/api/v1/` and drawn by the page
//! at `/`.
//!
//! [`Live`] lives for the whole process beside the metrics: the heartbeats
//! push their slots into its rings, each experiment start describes itself
//! in it, and the HTTP thread reads it.

pub(crate) mod ring;

use std::time::{Duration, Instant};

use parking_lot::RwLock;

use crate::experiment::{Schedule, Strategy};
use ring::SlotRing;

/// What runs, as the live page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentView {
    pub strategy: Strategy,
    pub schedule: Schedule,
    pub size_elements: u64,
    pub period: Duration,
    /// Share of each period the counter runs (1 = continuously).
    pub duty_cycle: f64,
    pub control: bool,
    pub jitter_threshold: Duration,
    pub drift_threshold: Duration,
    pub drift_window: Duration,
    pub record_window: Duration,
    /// When this experiment started (a reload starts a new one).
    pub started: Instant,
}

/// The rings and the running experiment's description.
#[derive(Debug)]
pub struct Live {
    pub main: SlotRing,
    pub control: SlotRing,
    experiment: RwLock<Option<ExperimentView>>,
    /// When the process started serving.
    pub started: Instant,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            main: SlotRing::default(),
            control: SlotRing::default(),
            experiment: RwLock::new(None),
            started: Instant::now(),
        }
    }
}

impl Live {
    /// A new experiment starts: the rings forget the old one.
    pub fn describe(&self, view: ExperimentView) {
        let mut experiment = self.experiment.write();
        self.main.clear();
        self.control.clear();
        *experiment = Some(view);
    }

    /// The running experiment, once one has started.
    pub fn experiment(&self) -> Option<ExperimentView> {
        self.experiment.read().clone()
    }
}
