//! The figures side by side as text: an aligned table, Markdown or JSON.
//!
//! One list, [`COLUMNS`], drives all three and the report's table, so a
//! figure has the same name and the same value everywhere. JSON names end in
//! their unit (`lateness_p99_seconds`, `passes_per_second`) and carry full
//! precision; the text forms round to three significant digits with a unit
//! that suits the value. Under the tables, a line per strategy says how
//! much CPU other processes used during its run ([`others_lines`]).

use std::fmt::Write as _;

use serde_json::json;

use super::Comparison;
use super::figures::Figures;
use crate::chart::human_seconds;
use crate::explain::Cause;
use crate::sys::clock::seconds;

/// Other processes using this much CPU during a run (a busy loop is 1.0)
/// make it a busy host's figures, and the line says so.
pub(super) const BUSY_CORES: f64 = 0.5;

/// One figure's value, typed for formatting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Value {
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
    pub(super) fn text(self) -> String {
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

    pub(super) fn json(self) -> serde_json::Value {
        match self {
            Value::Count(n) => json!(n),
            Value::Seconds(s) | Value::PerSecond(s) | Value::Cores(s) => json!(s),
            Value::Name(name) => json!(name),
            Value::Flag(flag) => json!(flag),
        }
    }
}

/// A figure: its headers and its value for one strategy.
pub(super) struct Column {
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

pub(super) const COLUMNS: &[Column] = &[
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
pub(super) fn table_columns() -> impl Iterator<Item = &'static Column> {
    COLUMNS.iter().filter(|c| c.in_table)
}

/// Rows of cells: the strategy name, then each table column.
fn rows(comparison: &Comparison) -> Vec<Vec<String>> {
    comparison
        .strategies
        .iter()
        .map(|f| {
            let name = if f.completed { f.strategy.name().to_owned() } else { format!("{} (cut short)", f.strategy) };
            std::iter::once(name).chain(table_columns().map(|c| (c.value)(f).text())).collect()
        })
        .collect()
}

/// An aligned table for a terminal, with a line saying what the run was.
pub(super) fn text(comparison: &Comparison) -> String {
    let headers: Vec<String> =
        std::iter::once("strategy").chain(table_columns().map(|c| c.short)).map(String::from).collect();
    let rows = rows(comparison);
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([headers[i].chars().count()]).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in std::iter::once(&headers).chain(&rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i == 0 {
                let _ = write!(line, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(line, "  {}{cell}", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&settings_line(comparison));
    out.push('\n');
    for line in others_lines(comparison) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// A GitHub-flavoured Markdown table.
pub(super) fn markdown(comparison: &Comparison) -> String {
    let mut out = String::from("| strategy |");
    for column in table_columns() {
        let _ = write!(out, " {} |", column.header);
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(table_columns().count()));
    out.push('\n');
    for row in rows(comparison) {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    let _ = writeln!(out, "\n{}", settings_line(comparison));
    let mut lines = others_lines(comparison).into_iter();
    if let Some(heading) = lines.next() {
        let _ = writeln!(out, "\n{heading}\n");
        for line in lines {
            let _ = writeln!(out, "* {}", line.trim_start());
        }
    }
    out
}

/// What one strategy's run shared the host with, in words: "others used
/// 0.93 cores", plus steal when there was any, and a warning on a busy host.
pub(super) fn others_text(figures: &Figures) -> Option<String> {
    let other = figures.other_cpu?;
    let mut text = format!("others used {:.2} cores", other.other_processes_cores);
    if other.steal_cores >= 0.005 {
        let _ = write!(text, ", steal {:.2} cores", other.steal_cores);
    }
    if other.other_processes_cores >= BUSY_CORES {
        text.push_str(": a busy host, so these figures include its contention");
    }
    Some(text)
}

/// A heading and a line per strategy on the CPU other processes used
/// during its run; nothing when no run has the figure.
pub(super) fn others_lines(comparison: &Comparison) -> Vec<String> {
    let width = comparison.strategies.iter().map(|f| f.strategy.name().len()).max().unwrap_or(0);
    let lines: Vec<String> = comparison
        .strategies
        .iter()
        .filter_map(|f| Some(format!("  {:<width$}  {}", f.strategy.name(), others_text(f)?)))
        .collect();
    if lines.is_empty() {
        return lines;
    }
    let heading = format!(
        "CPU used by other processes during each run ({} CPUs; /proc/stat's busy time less jitterd's own):",
        comparison.host.cpus
    );
    std::iter::once(heading).chain(lines).collect()
}

/// What was run, where: one line under the tables.
pub(super) fn settings_line(comparison: &Comparison) -> String {
    let s = &comparison.settings;
    let h = &comparison.host;
    let mut line = format!(
        "{} per strategy, period {}, {} elements, {} schedule",
        human_seconds(s.duration_seconds),
        human_seconds(s.period_seconds),
        s.size_elements,
        s.schedule
    );
    if let Some(slack) = s.timer_slack_seconds {
        let _ = write!(line, ", timer slack {}", human_seconds(slack));
    }
    let _ = write!(line, "; {} CPUs ({}), Linux {}", h.cpus, h.cpu_model, h.kernel);
    if comparison.interrupted {
        line.push_str("; interrupted");
    }
    line
}

/// The JSON document: settings, host, and one object per strategy.
pub(super) fn json(comparison: &Comparison) -> serde_json::Value {
    let strategies: Vec<serde_json::Value> = comparison
        .strategies
        .iter()
        .map(|f| {
            let mut object = serde_json::Map::new();
            object.insert("strategy".into(), json!(f.strategy.name()));
            for column in COLUMNS {
                object.insert(column.json.into(), (column.value)(f).json());
            }
            let by_cause = |value: &dyn Fn(Cause) -> serde_json::Value| {
                Cause::ALL.into_iter().map(|c| (c.name().to_owned(), value(c))).collect::<serde_json::Map<_, _>>()
            };
            object.insert("late_beats_by_cause".into(), json!(by_cause(&|c| json!(f.causes.late_beats(c)))));
            object.insert(
                "lateness_explained_seconds_by_cause".into(),
                json!(by_cause(&|c| json!(seconds(f.causes.explained_ns(c))))),
            );
            serde_json::Value::Object(object)
        })
        .collect();
    json!({
        "jitterd_version": crate::build::VERSION,
        "interrupted": comparison.interrupted,
        "settings": comparison.settings,
        "host": comparison.host,
        "strategies": strategies,
    })
}

#[cfg(test)]
mod tests;
