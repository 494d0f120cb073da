//! The live view of the experiment: the recent slots of both heartbeats and
//! what is running, served as JSON under `/api/v1/` and drawn by the page
//! at `/`.
//!
//! [`Live`] lives for the whole process beside the metrics: the heartbeats
//! push their slots into its rings, each experiment start describes itself
//! in it, and the HTTP thread reads it. The HTTP side routes; what each
//! answer holds is decided here: the page ([`page`]), the chart ([`chart`]),
//! the status ([`status`]) and the slots ([`Live::beats_json`]), with the
//! query parameters checked strictly ([`query`]).

pub(crate) mod chart;
pub(crate) mod page;
pub(crate) mod query;
pub(crate) mod ring;
pub(crate) mod status;
pub(crate) mod words;

use std::time::{Duration, Instant};

use parking_lot::RwLock;
use serde::Serialize;

use crate::experiment::{Schedule, Strategy};
use query::{BeatsQuery, Heartbeat};
use ring::{CAPACITY, Slot, SlotRing};

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

    /// `GET /api/v1/beats`: the slots the query asks for, and the cursor
    /// to ask with next time (`last_index`).
    pub fn beats_json(&self, query: BeatsQuery) -> Vec<u8> {
        let ring = match query.heartbeat {
            Heartbeat::Main => &self.main,
            Heartbeat::Control => &self.control,
        };
        let (slots, last_index) = ring.after(query.after, query.limit);
        let reply = BeatsReply { heartbeat: query.heartbeat.name(), capacity: CAPACITY, last_index, slots: &slots };
        serde_json::to_vec(&reply).unwrap_or_default()
    }
}

/// The body of `/api/v1/beats`.
#[derive(Serialize)]
struct BeatsReply<'a> {
    heartbeat: &'static str,
    /// Slots the ring keeps per heartbeat.
    capacity: usize,
    /// Index of the newest slot (0: none yet): pass it as `after` next time.
    last_index: u64,
    slots: &'a [Slot],
}
