//! What `compare` says on stderr while it runs: a progress bar on a
//! terminal, one plain line per strategy otherwise (logs, CI), nothing in
//! tests and benchmarks.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::figures::Figures;
use crate::chart::human_seconds;
use crate::experiment::Strategy;
use crate::sys::clock::seconds;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Silent,
}

pub struct Progress {
    mode: Mode,
    bar: Option<ProgressBar>,
    label: String,
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines when it is not.
    pub fn stderr() -> Progress {
        let mode = if std::io::stderr().is_terminal() { Mode::Bar } else { Mode::Lines };
        Progress { mode, bar: None, label: String::new() }
    }

    pub fn hidden() -> Progress {
        Progress { mode: Mode::Silent, bar: None, label: String::new() }
    }

    pub(super) fn start(&mut self, index: usize, count: usize, strategy: Strategy, duration: Duration) {
        self.label = format!("[{}/{count}] {strategy}", index + 1);
        if self.mode != Mode::Bar {
            return;
        }
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let bar = ProgressBar::with_draw_target(Some(millis), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:<28} [{bar:30}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(self.label.clone());
        self.bar = Some(bar);
    }

    pub(super) fn tick(&self, elapsed: Duration, beats: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
            bar.set_message(format!("{:.1}s, {beats} beats", elapsed.as_secs_f64()));
        }
    }

    pub(super) fn finish(&mut self, figures: &Figures) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.mode == Mode::Silent {
            return;
        }
        let p99 = figures.lateness_p99_ns.map_or_else(|| "-".into(), |ns| human_seconds(seconds(ns)));
        let passes = figures.passes_per_second.map_or_else(|| "-".into(), |rate| format!("{rate:.0}"));
        let cut = if figures.completed { "" } else { " (interrupted)" };
        let cause =
            figures.dominant_cause().map_or_else(String::new, |c| format!(", mostly late through {}", c.name()));
        let others = super::table::others_text(figures).map_or_else(String::new, |o| format!("; {o}"));
        eprintln!(
            "jitterd compare: {}: {} beats, {} inconsistent, lateness p99 {p99}{cause}, {passes} passes/s{cut}{others}",
            self.label, figures.beats, figures.inconsistent_checks
        );
    }
}
