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

mod columns;

use self::columns::COLUMNS;
pub(super) use self::columns::table_columns;
use super::Comparison;
use super::figures::Figures;
use crate::chart::human_seconds;
use crate::explain::Cause;
use crate::sys::clock::seconds;

/// Other processes using this much CPU during a run (a busy loop is 1.0)
/// make it a busy host's figures, and the line says so.
pub(super) const BUSY_CORES: f64 = 0.5;

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
