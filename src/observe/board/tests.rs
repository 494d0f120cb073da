use std::time::Duration;

use super::*;
use crate::config::Config;
use crate::measure::{BeatTimes, Scheduler};

const MS: u64 = 1_000_000;

fn settings() -> Settings {
    Settings {
        period: Duration::from_millis(10),
        drift_threshold: Duration::from_millis(100),
        drift_window: Duration::from_secs(60),
        ..Config::embedded_default().experiment()
    }
}

/// Beats at 10 ms from t0 = 0, each `late_ms` late.
fn beat_all(board: &Board, lateness_ms: &[u64]) -> Vec<[Option<Crossing>; 2]> {
    let mut scheduler = Scheduler::new(settings().schedule, settings().period, MonoTime(0));
    lateness_ms
        .iter()
        .map(|&late| {
            let due = scheduler.due();
            let done = due.plus_ns(late * MS);
            let beat = scheduler.complete(BeatTimes { scheduled: due, woke: done, accessed: done, done });
            board.record(&beat, Some(Check { value: 1, mismatched_elements: 0 }), &Evidence::NONE)
        })
        .collect()
}

#[test]
fn a_stall_crosses_the_drift_threshold_once_and_the_status_says_so() {
    let board = Board::new(Heartbeat::Main, Keep::Window);
    board.begin(&settings(), MonoTime(0));
    let crossed = beat_all(&board, &[1, 1, 500, 1]);
    let drift_crossings: Vec<_> = crossed.iter().filter(|c| c[0].is_some()).collect();
    assert_eq!(drift_crossings.len(), 1, "{crossed:?}");
    let snapshot = board.snapshot();
    assert!(snapshot.drift_over_threshold);
    // The 500 ms beat, due at 30 ms, finished at 530 ms: slots 4 to 53 passed meanwhile.
    assert_eq!((snapshot.totals.beats, snapshot.totals.missed), (4, 50));
    assert_eq!(snapshot.tally.lateness.count(), 54);
    assert_eq!(snapshot.window.map(|w| w.window_count), Some(54));
    assert_eq!(board.ring().len(), 54);
}

#[test]
fn a_new_experiment_forgets_the_old_one_but_the_counts_go_on() {
    let board = Board::new(Heartbeat::Main, Keep::Window);
    board.begin(&settings(), MonoTime(0));
    beat_all(&board, &[1, 500]);
    board.begin(&settings(), MonoTime(0));
    let snapshot = board.snapshot();
    assert_eq!(snapshot.totals, Totals::default());
    assert_eq!((snapshot.drift_ns, snapshot.drift_gained_ns, snapshot.drift_over_threshold), (0, 0, false));
    assert_eq!(snapshot.tally.beats, 2, "counters go on");
    assert_eq!(snapshot.window.map(|w| (w.window_count, w.count)), Some((0, 52)));
    assert!(board.ring().is_empty());
}

#[test]
fn a_retune_keeps_what_was_measured_and_moves_the_limits() {
    let board = Board::new(Heartbeat::Main, Keep::Window);
    board.begin(&settings(), MonoTime(0));
    beat_all(&board, &[1, 500]);
    let before = board.snapshot();
    assert!(before.drift_over_threshold);
    board.retune(&Settings { drift_threshold: Duration::from_secs(10), ..settings() });
    let after = board.snapshot();
    assert_eq!((after.totals, after.window, after.drift_ns), (before.totals, before.window, before.drift_ns));
    assert_eq!(board.ring().len(), before.window.map_or(0, |w| w.window_count as usize));
    assert!(!after.drift_over_threshold, "a new limit starts below it");
}

#[test]
fn beats_above_the_explain_threshold_are_explained_and_a_retune_moves_it() {
    let board = Board::new(Heartbeat::Main, Keep::Window);
    let explain_at = |ms| Settings { explain_threshold: Duration::from_millis(ms), ..settings() };
    board.begin(&explain_at(5), MonoTime(0));
    beat_all(&board, &[1, 4, 6]);
    let causes = board.snapshot().tally.causes;
    // No evidence, under async (the default): the 6 ms beat is the counter's pass.
    assert_eq!(causes.late_beats, [0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(causes.explained_ns(crate::explain::Cause::Strategy), 6 * MS);
    let (slots, _) = board.ring().after(0, 10);
    assert_eq!(slots.iter().map(|s| s.why.is_some()).collect::<Vec<_>>(), [false, false, true]);
    board.retune(&explain_at(2));
    beat_all(&board, &[3]);
    assert_eq!(board.snapshot().tally.causes.late_beats[5], 2, "the new threshold applies at once");
}

#[test]
fn the_control_board_has_no_thresholds_and_a_whole_run_keeps_every_slot() {
    let board = Board::new(Heartbeat::Control, Keep::WholeRun);
    board.begin(&settings(), MonoTime(0));
    let crossed = beat_all(&board, &[1, 500]);
    assert!(crossed.iter().flatten().all(Option::is_none));
    let (slots, per_beat) = board.read_whole_run(|run| (run.lateness.len(), run.beats.is_some())).expect("kept");
    assert_eq!((slots, per_beat), (52, false));
    assert!(board.store().is_none());
}
