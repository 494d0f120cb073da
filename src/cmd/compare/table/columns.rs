//! The list of figures, [`COLUMNS`]: for each, its headers, its JSON name
//! and how its value is read from one strategy's [`Figures`] and typed for
//! formatting ([`Value`]). The tables, the JSON and the report all take
//! their columns from here.

use serde_json::json;

use super::super::figures::Figures;
use crate::chart::human_seconds;
use crate::explain::Cause;
use crate::sys::clock::seconds;

/// One figure's value, typed for formatting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(in crate::cmd::compare) enum Value {
    Count(u64),
    /// Seconds, signed; `None` when nothing was measured.
    Seconds(Option<f64>),
    PerSecond(Option<f64>),
    /// CPUs' worth of time, e.g. what other processes used.
    Cores(Option<f64>),
    /// A name; `None` when there is none (no late beat has no cause).
    Name(Option<&'static str>),
    Flag(bool),
}

impl Value {
    /// For people: `1.23ms`, `45.6µs`, `-2.10ms`, `8123`; `-` for nothing.
    pub(in crate::cmd::compare) fn text(self) -> String {
        match self {
            Value::Count(n) => n.to_string(),
            Value::Seconds(Some(s)) => human_seconds(s),
            Value::PerSecond(Some(rate)) => format!("{rate:.0}"),
            Value::Cores(Some(cores)) => format!("{cores:.2}"),
            Value::Name(Some(name)) => name.into(),
            Value::Seconds(None) | Value::PerSecond(None) | Value::Cores(None) | Value::Name(None) => "-".into(),
            Value::Flag(flag) => if flag { "yes" } else { "no" }.into(),
        }
    }

    pub(in crate::cmd::compare) fn json(self) -> serde_json::Value {
        match self {
            Value::Count(n) => json!(n),
            Value::Seconds(s) | Value::PerSecond(s) | Value::Cores(s) => json!(s),
            Value::Name(name) => json!(name),
            Value::Flag(flag) => json!(flag),
        }
    }
}

/// A figure: its headers and its value for one strategy.
pub(in crate::cmd::compare) struct Column {
    /// Header of the text table, kept short so eight columns fit a terminal.
    pub short: &'static str,
    /// Header of the Markdown and HTML tables.
    pub header: &'static str,
    /// Field name in the JSON output.
    pub json: &'static str,
    /// Shown in the tables; JSON has every column.
    pub in_table: bool,
    pub value: fn(&Figures) -> Value,
}

fn secs(ns: Option<u64>) -> Value {
    Value::Seconds(ns.map(seconds))
}

pub(in crate::cmd::compare) const COLUMNS: &[Column] = &[
    Column { short: "beats", header: "beats", json: "beats", in_table: true, value: |f| Value::Count(f.beats) },
    Column {
        short: "missed",
        header: "missed slots",
        json: "missed_slots",
        in_table: true,
        value: |f| Value::Count(f.missed_slots),
    },
    Column {
        short: "inconsist",
        header: "inconsistent checks",
        json: "inconsistent_checks",
        in_table: true,
        value: |f| Value::Count(f.inconsistent_checks),
    },
    Column {
        short: "slots",
        header: "lateness slots (beats + missed)",
        json: "lateness_slots",
        in_table: false,
        value: |f| Value::Count(f.lateness_slots),
    },
    Column {
        short: "late p50",
        header: "lateness p50",
        json: "lateness_p50_seconds",
        in_table: true,
        value: |f| secs(f.lateness_p50_ns),
    },
    Column {
        short: "late p99",
        header: "lateness p99",
        json: "lateness_p99_seconds",
        in_table: true,
        value: |f| secs(f.lateness_p99_ns),
    },
    Column {
        short: "late max",
        header: "lateness max",
        json: "lateness_max_seconds",
        in_table: true,
        value: |f| secs(f.lateness_max_ns),
    },
    Column {
        short: "late mean",
        header: "lateness mean",
        json: "lateness_mean_seconds",
        in_table: false,
        value: |f| Value::Seconds(f.lateness_mean_ns.map(|ns| ns / 1e9)),
    },
    Column {
        short: "wake p50",
        header: "wake lateness p50",
        json: "wake_lateness_p50_seconds",
        in_table: true,
        value: |f| secs(f.wake_lateness_p50_ns),
    },
    Column {
        short: "wake p99",
        header: "wake lateness p99",
        json: "wake_lateness_p99_seconds",
        in_table: false,
        value: |f| secs(f.wake_lateness_p99_ns),
    },
    Column {
        short: "wait p50",
        header: "access wait p50",
        json: "access_wait_p50_seconds",
        in_table: false,
        value: |f| secs(f.access_wait_p50_ns),
    },
    Column {
        short: "wait p99",
        header: "access wait p99",
        json: "access_wait_p99_seconds",
        in_table: true,
        value: |f| secs(f.access_wait_p99_ns),
    },
    Column {
        short: "check p50",
        header: "check duration p50",
        json: "check_duration_p50_seconds",
        in_table: false,
        value: |f| secs(f.check_duration_p50_ns),
    },
    Column {
        short: "jitter p99",
        header: "jitter p99",
        json: "jitter_p99_seconds",
        in_table: false,
        value: |f| secs(f.jitter_p99_ns),
    },
    Column {
        short: "drift",
        header: "final drift",
        json: "final_drift_seconds",
        in_table: true,
        value: |f| Value::Seconds(f.final_drift_ns.map(|ns| ns as f64 / 1e9)),
    },
    Column {
        short: "passes",
        header: "counter passes",
        json: "counter_passes",
        in_table: false,
        value: |f| Value::Count(f.counter_passes),
    },
    Column {
        short: "passes/s",
        header: "passes/s",
        json: "passes_per_second",
        in_table: true,
        value: |f| Value::PerSecond(f.passes_per_second),
    },
    Column {
        short: "ctrl beats",
        header: "control beats",
        json: "control_beats",
        in_table: false,
        value: |f| Value::Count(f.control_beats),
    },
    Column {
        short: "ctrl slots",
        header: "control slots (beats + missed)",
        json: "control_slots",
        in_table: false,
        value: |f| Value::Count(f.control_slots),
    },
    Column {
        short: "ctrl p50",
        header: "control lateness p50",
        json: "control_lateness_p50_seconds",
        in_table: true,
        value: |f| secs(f.control_lateness_p50_ns),
    },
    Column {
        short: "ctrl p99",
        header: "control lateness p99",
        json: "control_lateness_p99_seconds",
        in_table: false,
        value: |f| secs(f.control_lateness_p99_ns),
    },
    Column {
        short: "cause",
        header: "dominant cause",
        json: "dominant_cause",
        in_table: true,
        value: |f| Value::Name(f.dominant_cause().map(Cause::name)),
    },
    Column {
        short: "late beats",
        header: "late beats (above explain.threshold)",
        json: "late_beats",
        in_table: false,
        value: |f| Value::Count(f.causes.late_beats.iter().sum()),
    },
    Column {
        short: "others",
        header: "CPU used by other processes (cores)",
        json: "other_processes_cores",
        in_table: false,
        value: |f| Value::Cores(f.other_cpu.map(|o| o.other_processes_cores)),
    },
    Column {
        short: "steal",
        header: "steal (cores)",
        json: "steal_cores",
        in_table: false,
        value: |f| Value::Cores(f.other_cpu.map(|o| o.steal_cores)),
    },
    Column {
        short: "elapsed",
        header: "elapsed",
        json: "elapsed_seconds",
        in_table: false,
        value: |f| secs(Some(f.elapsed_ns)),
    },
    Column {
        short: "completed",
        header: "completed",
        json: "completed",
        in_table: false,
        value: |f| Value::Flag(f.completed),
    },
];

/// The columns the tables show.
pub(in crate::cmd::compare) fn table_columns() -> impl Iterator<Item = &'static Column> {
    COLUMNS.iter().filter(|c| c.in_table)
}
