//! The recent slots of one heartbeat, for the live page and `/api/v1/beats`.
//!
//! A bounded ring: the heartbeat pushes every slot (a beat, and each slot it
//! swallowed) and the HTTP thread reads what came after a cursor. Indexes
//! count slots since the process started and never go back, across reloads
//! too, so a client's cursor stays meaningful; the ring itself forgets the
//! old experiment when a new one starts. A late beat's slot carries why it
//! was late ([`Why`]): its dominant `cause`, `causes_seconds` and the
//! `evidence`, fields that a slot that was not a late beat leaves out.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::explain::{Cause, Evidence, Explanation};
use crate::sys::clock::seconds;

/// Slots kept per heartbeat.
pub const CAPACITY: usize = 1000;

/// One slot of the schedule, as the live page shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Slot {
    /// Counts slots since the process started, from 1.
    pub index: u64,
    /// When the slot was due, in seconds since the experiment's t0.
    pub scheduled_offset_seconds: f64,
    /// `done − scheduled`: for a missed slot, how late the beat that swallowed it finished.
    pub lateness_seconds: f64,
    /// `woke − scheduled`; `None` for a missed slot, which had no wake-up of its own.
    pub wake_lateness_seconds: Option<f64>,
    /// `accessed − woke`; `None` for a missed slot.
    pub access_wait_seconds: Option<f64>,
    /// A slot that passed while an earlier beat ran, and was skipped.
    pub missed: bool,
    /// What the beat's check found; `None` for a missed slot and for the control heartbeat.
    pub consistent: Option<bool>,
    /// Why the beat was late: only on a beat later than `explain.threshold`.
    /// Boxed, so the slots of punctual beats and missed slots stay small.
    #[serde(flatten)]
    pub why: Option<Box<Why>>,
}

/// Why one beat was late: the waterfall's amounts and what they came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Why {
    pub explanation: Explanation,
    pub evidence: Evidence,
    /// Whether the process was continued (SIGCONT) after the beat was due.
    pub continued: bool,
}

/// A beat as the ring takes it: its own slot, and how many slots after it were missed.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatSlots {
    pub scheduled_offset_ns: u64,
    pub lateness_ns: u64,
    pub wake_lateness_ns: u64,
    pub access_wait_ns: u64,
    pub consistent: Option<bool>,
    pub missed_slots: u64,
    pub period_ns: u64,
    pub why: Option<Box<Why>>,
}

#[derive(Debug, Default)]
struct Inner {
    slots: VecDeque<Slot>,
    /// Index of the last slot pushed (0: none yet).
    last_index: u64,
}

/// The last [`CAPACITY`] slots of one heartbeat.
#[derive(Debug, Default)]
pub struct SlotRing {
    inner: Mutex<Inner>,
}

impl SlotRing {
    /// Pushes a beat's slot and the slots it missed. Called on the
    /// heartbeat's thread: a short lock and at most [`CAPACITY`] + 1 pushes,
    /// however many slots a stall swallowed.
    pub fn push(&self, beat: BeatSlots) {
        let mut inner = self.inner.lock();
        let first = inner.last_index + 1;
        let own = Slot {
            index: first,
            scheduled_offset_seconds: seconds(beat.scheduled_offset_ns),
            lateness_seconds: seconds(beat.lateness_ns),
            wake_lateness_seconds: Some(seconds(beat.wake_lateness_ns)),
            access_wait_seconds: Some(seconds(beat.access_wait_ns)),
            missed: false,
            consistent: beat.consistent,
            why: beat.why,
        };
        inner.last_index = first.saturating_add(beat.missed_slots);
        // Missed slot j (1..=m) was due j periods after the beat's own slot.
        // Only the last CAPACITY of them can stay in the ring.
        let skip = beat.missed_slots.saturating_sub(CAPACITY as u64);
        if skip == 0 {
            push_bounded(&mut inner.slots, own);
        }
        for j in (skip + 1)..=beat.missed_slots {
            let offset = j.saturating_mul(beat.period_ns);
            push_bounded(
                &mut inner.slots,
                Slot {
                    index: first + j,
                    scheduled_offset_seconds: seconds(beat.scheduled_offset_ns.saturating_add(offset)),
                    lateness_seconds: seconds(beat.lateness_ns.saturating_sub(offset)),
                    wake_lateness_seconds: None,
                    access_wait_seconds: None,
                    missed: true,
                    consistent: None,
                    why: None,
                },
            );
        }
    }

    /// A new experiment starts: forget the old one's slots, keep counting.
    pub fn clear(&self) {
        self.inner.lock().slots.clear();
    }

    /// The slots with an index above `after`, oldest first, at most `limit`
    /// of them (the newest, when there are more), and the index of the last
    /// slot pushed.
    pub fn after(&self, after: u64, limit: usize) -> (Vec<Slot>, u64) {
        let inner = self.inner.lock();
        let newer = inner.slots.iter().filter(|slot| slot.index > after).count();
        let skip = inner.slots.len() - newer + newer.saturating_sub(limit);
        (inner.slots.iter().skip(skip).cloned().collect(), inner.last_index)
    }

    /// The least and the greatest lateness the ring holds, in seconds.
    pub fn lateness_range(&self) -> Option<(f64, f64)> {
        let inner = self.inner.lock();
        inner
            .slots
            .iter()
            .map(|slot| slot.lateness_seconds)
            .fold(None, |range, v| Some(range.map_or((v, v), |(low, high): (f64, f64)| (low.min(v), high.max(v)))))
    }

    /// How many slots the ring holds now.
    pub fn len(&self) -> usize {
        self.inner.lock().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `cause`, `causes_seconds` (every cause, in the waterfall's order) and
/// `evidence`, flattened into the slot.
impl Serialize for Why {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("cause", self.explanation.dominant().name())?;
        map.serialize_entry("causes_seconds", &ByCause(self.explanation.amounts_ns.map(seconds)))?;
        map.serialize_entry("evidence", &EvidenceJson::new(&self.evidence, self.continued))?;
        map.end()
    }
}

/// One value per cause, in [`Cause::ALL`]'s order: an object keyed by the
/// causes' names, every cause present.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ByCause<T>(pub [T; 8]);

impl<T: Serialize> Serialize for ByCause<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Cause::ALL.len()))?;
        for (cause, value) in Cause::ALL.into_iter().zip(&self.0) {
            map.serialize_entry(cause.name(), value)?;
        }
        map.end()
    }
}

/// The evidence as `/api/v1/beats` shows it: what moved between the
/// previous beat's reading and this one's; `null` where the source is
/// unavailable.
#[derive(serde::Serialize)]
struct EvidenceJson {
    span_seconds: f64,
    on_cpu_seconds: Option<f64>,
    run_queue_wait_seconds: Option<f64>,
    voluntary_switches: Option<u64>,
    involuntary_switches: Option<u64>,
    major_faults: Option<u64>,
    cpu: Option<u32>,
    throttled_periods: Option<u64>,
    throttled_seconds: Option<f64>,
    steal_seconds: Option<f64>,
    pressure_some_avg10: Option<f64>,
    pressure_some_seconds: Option<f64>,
    continued: bool,
}

impl EvidenceJson {
    fn new(evidence: &Evidence, continued: bool) -> EvidenceJson {
        let (times, usage, throttling, pressure) =
            (evidence.times, evidence.usage, evidence.throttling, evidence.pressure);
        EvidenceJson {
            span_seconds: seconds(evidence.span_ns),
            on_cpu_seconds: times.map(|t| seconds(t.on_cpu_ns)),
            run_queue_wait_seconds: times.map(|t| seconds(t.run_queue_wait_ns)),
            voluntary_switches: usage.map(|u| u.voluntary_switches),
            involuntary_switches: usage.map(|u| u.involuntary_switches),
            major_faults: usage.map(|u| u.major_faults),
            cpu: evidence.cpu,
            throttled_periods: throttling.map(|t| t.periods),
            throttled_seconds: throttling.map(|t| seconds(t.throttled_ns)),
            steal_seconds: evidence.steal_ns.map(seconds),
            pressure_some_avg10: pressure.map(|p| f64::from(p.some_avg10_percent)),
            pressure_some_seconds: pressure.map(|p| seconds(p.some_ns)),
            continued,
        }
    }
}

fn push_bounded(slots: &mut VecDeque<Slot>, slot: Slot) {
    if slots.len() == CAPACITY {
        slots.pop_front();
    }
    slots.push_back(slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn beat(offset_ms: u64, lateness_ms: u64, missed: u64) -> BeatSlots {
        BeatSlots {
            scheduled_offset_ns: offset_ms * MS,
            lateness_ns: lateness_ms * MS,
            wake_lateness_ns: MS,
            access_wait_ns: 0,
            consistent: Some(true),
            missed_slots: missed,
            period_ns: 10 * MS,
            why: None,
        }
    }

    #[test]
    fn a_stall_shows_every_slot_it_swallowed() {
        let ring = SlotRing::default();
        ring.push(beat(10, 1, 0));
        ring.push(beat(20, 35, 3));
        let (slots, last) = ring.after(0, CAPACITY);
        assert_eq!(last, 5);
        assert_eq!(slots.iter().map(|s| s.index).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        let late: Vec<f64> = slots.iter().map(|s| (s.lateness_seconds * 1e3).round()).collect();
        assert_eq!(late, [1.0, 35.0, 25.0, 15.0, 5.0]);
        assert_eq!(slots.iter().filter(|s| s.missed).count(), 3);
        assert_eq!(slots[4].scheduled_offset_seconds, 0.05);
        assert_eq!(slots[4].wake_lateness_seconds, None);
    }

    #[test]
    fn bounded_however_long_the_stall() {
        let ring = SlotRing::default();
        ring.push(beat(10, 1, 0));
        ring.push(beat(20, 3_600_000, 360_000_000));
        assert_eq!(ring.len(), CAPACITY);
        let (slots, last) = ring.after(0, 10);
        assert_eq!(last, 360_000_002);
        assert_eq!(slots.len(), 10);
        assert_eq!(slots.last().map(|s| s.index), Some(last));
        assert!(slots.iter().all(|s| s.missed));
    }

    #[test]
    fn cursor_survives_a_new_experiment() {
        let ring = SlotRing::default();
        for k in 1..=5 {
            ring.push(beat(10 * k, 1, 0));
        }
        let (slots, last) = ring.after(3, CAPACITY);
        assert_eq!((slots.len(), last), (2, 5));
        ring.clear();
        assert!(ring.after(last, CAPACITY).0.is_empty());
        ring.push(beat(10, 1, 0));
        let (slots, last) = ring.after(5, CAPACITY);
        assert_eq!(slots.iter().map(|s| s.index).collect::<Vec<_>>(), [6]);
        assert_eq!(last, 6);
    }
}
