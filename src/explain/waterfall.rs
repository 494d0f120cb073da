//! The waterfall: one late beat's lateness split among the causes, from its
//! timestamps and the [`Evidence`] read after it.
//!
//! Pure arithmetic, tested below on made-up evidence. The causes are
//! charged in [`Cause::ALL`]'s order, each capped by what is left, so the
//! amounts always sum to the lateness exactly and `wake` takes the rest.
//!
//! The intervals differ, and that is where the biases come from. The
//! lateness runs from `scheduled` to `done`; the evidence's counters moved
//! between the previous beat's reading (just after its `done`) and this
//! one's (just after this `done`), a span that also holds the sleep before
//! `scheduled`. A sleeping thread neither runs nor waits for a CPU, so the
//! run-queue wait of that span falls within the lateness but for what the
//! previous beat's recording waited, which is small; the time on a CPU
//! holds that recording too, so off-CPU time is a slight underestimate.
//! Known biases, documented rather than corrected:
//!
//! * run-queue wait after a lock hand-off (the heartbeat woken by the
//!   unlock, waiting for a CPU) counts as `cpu`, not `strategy`;
//! * under `async` the heartbeat is a task on the counter's thread, seen
//!   only when the counter yields: the counter's pass counts as `strategy`
//!   (all that the earlier causes leave), so `steal` and `wake` stay 0 on
//!   that heartbeat;
//! * a stop is charged only when the SIGCONT handler has noted the continue
//!   by the time the beat reads its evidence, and at most from `scheduled`
//!   to that note;
//! * steal is the CPU's the heartbeat finished on, in whole clock ticks.

use super::{Cause, Evidence};
use crate::measure::Beat;

/// Which causes a heartbeat can be charged with beyond the kernel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charging {
    /// A heartbeat on its own thread that gets the array: `check` from its
    /// check duration, `strategy` from its access wait.
    Probe,
    /// A heartbeat that is a task on the counter's thread (`async`):
    /// `check` as above, `strategy` all that the earlier causes leave.
    SharedThread,
    /// The control heartbeat: no check, no strategy.
    NoProbe,
}

/// One beat's lateness by cause, in nanoseconds; sums to the lateness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Explanation {
    pub amounts_ns: [u64; 8],
}

impl Explanation {
    pub fn amount_ns(&self, cause: Cause) -> u64 {
        self.amounts_ns[cause.index()]
    }

    /// The cause with the largest amount; on a tie, the one charged first.
    pub fn dominant(&self) -> Cause {
        Cause::ALL.into_iter().rev().max_by_key(|cause| self.amount_ns(*cause)).unwrap_or(Cause::Wake)
    }

    pub fn total_ns(&self) -> u64 {
        self.amounts_ns.iter().sum()
    }
}

/// Splits `beat`'s lateness among the causes, from `evidence`.
pub fn explain(beat: &Beat, evidence: &Evidence, charging: Charging) -> Explanation {
    let mut waterfall = Waterfall { left_ns: beat.lateness_ns, explanation: Explanation::default() };
    let run_queue_wait = evidence.times.map_or(0, |t| t.run_queue_wait_ns);
    let throttled = evidence.throttling.filter(|t| t.periods > 0).map_or(0, |t| t.throttled_ns.min(run_queue_wait));
    waterfall.charge(Cause::Throttled, throttled);
    waterfall.charge(Cause::Cpu, run_queue_wait - throttled);
    // Off-CPU time within the lateness: what the run-queue wait leaves, less
    // the time on a CPU (a sleep, a stop, a fault, a lock, the timer).
    let off_cpu = waterfall.left_ns.saturating_sub(evidence.times.map_or(0, |t| t.on_cpu_ns));
    let stopped = off_cpu.min(stopped_within(beat, evidence));
    waterfall.charge(Cause::Stopped, stopped);
    let faulted = evidence.usage.is_some_and(|u| u.major_faults > 0);
    waterfall.charge(Cause::Paging, if faulted { off_cpu - stopped } else { 0 });
    if charging != Charging::NoProbe {
        waterfall.charge(Cause::Check, beat.check_duration_ns);
    }
    match charging {
        Charging::Probe => waterfall.charge(Cause::Strategy, beat.access_wait_ns),
        Charging::SharedThread => waterfall.charge(Cause::Strategy, u64::MAX),
        Charging::NoProbe => {}
    }
    waterfall.charge(Cause::Steal, evidence.steal_ns.unwrap_or(0));
    waterfall.charge(Cause::Wake, u64::MAX);
    waterfall.explanation
}

/// How much of the beat the process can have spent stopped: from
/// `scheduled` to when it was continued, if that was after `scheduled`
/// (a continue noted before the beat was due delayed nothing of it).
pub fn stopped_within(beat: &Beat, evidence: &Evidence) -> u64 {
    match evidence.continued_at {
        Some(continued) if continued > beat.times.scheduled => {
            continued.min(beat.times.done).since(beat.times.scheduled)
        }
        _ => 0,
    }
}

struct Waterfall {
    left_ns: u64,
    explanation: Explanation,
}

impl Waterfall {
    /// Charges `cause` with `wanted_ns`, or with what is left if less.
    fn charge(&mut self, cause: Cause, wanted_ns: u64) {
        let charged = wanted_ns.min(self.left_ns);
        self.left_ns -= charged;
        self.explanation.amounts_ns[cause.index()] = charged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{ThreadTimes, Throttling};
    use crate::measure::{Beat, BeatTimes};
    use crate::sys::clock::MonoTime;
    use crate::sys::proc::ThreadUsage as Usage;

    const MS: u64 = 1_000_000;

    /// A beat due at 100 ms that woke `wake` ms late, waited `access` ms and
    /// checked for `check` ms.
    fn beat(wake: u64, access: u64, check: u64) -> Beat {
        let scheduled = MonoTime(100 * MS);
        let woke = scheduled.plus_ns(wake * MS);
        let accessed = woke.plus_ns(access * MS);
        let done = accessed.plus_ns(check * MS);
        Beat {
            index: 1,
            times: BeatTimes { scheduled, woke, accessed, done },
            lateness_ns: done.since(scheduled),
            wake_lateness_ns: wake * MS,
            access_wait_ns: access * MS,
            check_duration_ns: check * MS,
            interval_ns: 0,
            jitter_ns: 0,
            drift_ns: 0,
            missed_slots: 0,
        }
    }

    fn times(on_cpu_ms: u64, run_queue_ms: u64) -> Option<ThreadTimes> {
        Some(ThreadTimes { on_cpu_ns: on_cpu_ms * MS, run_queue_wait_ns: run_queue_ms * MS })
    }

    fn amounts_ms(explanation: &Explanation) -> [u64; 8] {
        explanation.amounts_ns.map(|ns| ns / MS)
    }

    fn check_sums(beat: &Beat, explanation: &Explanation) {
        assert_eq!(explanation.total_ns(), beat.lateness_ns, "{explanation:?}");
    }

    #[test]
    fn no_evidence_leaves_the_check_the_strategy_and_wake() {
        let late = beat(3, 4, 2);
        let explanation = explain(&late, &Evidence::NONE, Charging::Probe);
        check_sums(&late, &explanation);
        assert_eq!(amounts_ms(&explanation), [0, 0, 0, 0, 2, 4, 0, 3]);
        assert_eq!(explanation.dominant(), Cause::Strategy);
        let control = explain(&late, &Evidence::NONE, Charging::NoProbe);
        assert_eq!(amounts_ms(&control), [0, 0, 0, 0, 0, 0, 0, 9], "the control has no check or strategy");
    }

    #[test]
    fn run_queue_wait_is_cpu_and_evidence_larger_than_the_lateness_is_capped() {
        let late = beat(10, 0, 0);
        let evidence = Evidence { times: times(1, 8), ..Evidence::NONE };
        let explanation = explain(&late, &evidence, Charging::NoProbe);
        assert_eq!(amounts_ms(&explanation), [0, 8, 0, 0, 0, 0, 0, 2]);
        assert_eq!(explanation.dominant(), Cause::Cpu);
        // Every source at once, each larger than the whole lateness.
        let huge = Evidence {
            times: times(50, 40),
            usage: Some(Usage { major_faults: 3, ..Usage::default() }),
            throttling: Some(Throttling { periods: 2, throttled_ns: 30 * MS }),
            steal_ns: Some(90 * MS),
            continued_at: Some(MonoTime(200 * MS)),
            ..Evidence::NONE
        };
        let late = beat(10, 10, 10);
        let explanation = explain(&late, &huge, Charging::Probe);
        check_sums(&late, &explanation);
        assert_eq!(amounts_ms(&explanation), [30, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn throttling_takes_the_run_queue_wait_it_covers_and_only_when_it_moved() {
        let late = beat(20, 0, 0);
        let throttled = |periods, ms| Evidence {
            times: times(0, 15),
            throttling: Some(Throttling { periods, throttled_ns: ms * MS }),
            ..Evidence::NONE
        };
        assert_eq!(amounts_ms(&explain(&late, &throttled(1, 10), Charging::NoProbe)), [10, 5, 0, 0, 0, 0, 0, 5]);
        assert_eq!(amounts_ms(&explain(&late, &throttled(1, 95), Charging::NoProbe)), [15, 0, 0, 0, 0, 0, 0, 5]);
        // Throttled time without nr_throttled moving (another CPU's runqueue): cpu.
        assert_eq!(amounts_ms(&explain(&late, &throttled(0, 10), Charging::NoProbe)), [0, 15, 0, 0, 0, 0, 0, 5]);
    }

    #[test]
    fn throttling_without_run_queue_wait_charges_nothing() {
        let late = beat(5, 0, 0);
        let evidence = Evidence {
            times: times(0, 0),
            throttling: Some(Throttling { periods: 3, throttled_ns: 90 * MS }),
            ..Evidence::NONE
        };
        let explanation = explain(&late, &evidence, Charging::NoProbe);
        assert_eq!(amounts_ms(&explanation), [0, 0, 0, 0, 0, 0, 0, 5]);
    }

    #[test]
    fn a_stop_is_charged_from_scheduled_to_the_continue() {
        // Due at 100 ms, stopped, continued at 400 ms, done at 401 ms.
        let late = beat(301, 0, 0);
        let stopped_at = |ms| Evidence { times: times(0, 0), continued_at: Some(MonoTime(ms * MS)), ..Evidence::NONE };
        let explanation = explain(&late, &stopped_at(400), Charging::NoProbe);
        check_sums(&late, &explanation);
        assert_eq!(amounts_ms(&explanation), [0, 0, 300, 0, 0, 0, 0, 1]);
        assert_eq!(explanation.dominant(), Cause::Stopped);
        // Noted between done and the evidence read: the stop is capped at done.
        assert_eq!(explain(&late, &stopped_at(450), Charging::NoProbe).amount_ns(Cause::Stopped), 301 * MS);
        // A continue before the beat was due delayed nothing of it.
        assert_eq!(explain(&late, &stopped_at(90), Charging::NoProbe).amount_ns(Cause::Stopped), 0);
    }

    #[test]
    fn a_sigcont_noted_after_the_beat_was_recorded_counts_for_no_later_beat() {
        // The handler ran after beat 1 read its evidence: beat 1 saw no
        // continue (wake takes it), and beat 2, due after the note, sees it
        // before its own `scheduled`, so nothing of beat 2 is charged.
        let first = beat(301, 0, 0);
        let unseen = explain(&first, &Evidence { times: times(0, 0), ..Evidence::NONE }, Charging::NoProbe);
        assert_eq!(unseen.dominant(), Cause::Wake);
        let mut second = beat(2, 0, 0);
        second.times.scheduled = MonoTime(410 * MS);
        second.times.done = MonoTime(412 * MS);
        let noted = Evidence { times: times(0, 0), continued_at: Some(MonoTime(402 * MS)), ..Evidence::NONE };
        assert_eq!(explain(&second, &noted, Charging::NoProbe).amount_ns(Cause::Stopped), 0);
    }

    #[test]
    fn paging_takes_off_cpu_time_only_when_major_faults_moved() {
        let late = beat(6, 0, 2);
        let faulted = |faults| Evidence {
            times: times(2, 1),
            usage: Some(Usage { major_faults: faults, ..Usage::default() }),
            ..Evidence::NONE
        };
        // 8 ms late: 1 ms waiting for a CPU, 2 on one, so 5 off-CPU.
        assert_eq!(amounts_ms(&explain(&late, &faulted(1), Charging::Probe)), [0, 1, 0, 5, 2, 0, 0, 0]);
        assert_eq!(amounts_ms(&explain(&late, &faulted(0), Charging::Probe)), [0, 1, 0, 0, 2, 0, 0, 5]);
    }

    #[test]
    fn strategy_is_the_access_wait_or_under_async_what_is_left() {
        let late = beat(1, 6, 1);
        let evidence = Evidence { times: times(1, 0), steal_ns: Some(MS), ..Evidence::NONE };
        assert_eq!(amounts_ms(&explain(&late, &evidence, Charging::Probe)), [0, 0, 0, 0, 1, 6, 1, 0]);
        let pass = beat(7, 0, 1);
        let explanation = explain(&pass, &evidence, Charging::SharedThread);
        assert_eq!(amounts_ms(&explanation), [0, 0, 0, 0, 1, 7, 0, 0]);
        assert_eq!(explanation.dominant(), Cause::Strategy);
    }

    #[test]
    fn ties_go_to_the_cause_charged_first_and_a_punctual_beat_is_all_zero() {
        let late = beat(2, 2, 0);
        let evidence = Evidence { times: times(0, 2), ..Evidence::NONE };
        assert_eq!(explain(&late, &evidence, Charging::Probe).dominant(), Cause::Cpu);
        let punctual = beat(0, 0, 0);
        let explanation = explain(&punctual, &Evidence { times: times(5, 5), ..Evidence::NONE }, Charging::Probe);
        assert_eq!(explanation, Explanation::default());
    }
}
