//! The exposition's shape against a golden file: every `# HELP` and
//! `# TYPE` line verbatim and every sample's series (its name and labels,
//! not its value), in the order served. Values change from scrape to
//! scrape; the names, labels, help texts and their order are what
//! dashboards, rules and users read, so whatever collector serves
//! `/metrics` must serve exactly this shape. The golden file,
//! `tests/golden/exposition.txt`, was generated from the binary; to change
//! it on purpose, `JITTERD_BLESS=1` rewrites it, and the diff is reviewed.

use crate::common;

use std::time::Duration;

use crate::common::Daemon;

/// Every setting that shows in the exposition is fixed: the strategy and
/// schedule label `experiment_info`, and the control heartbeat is on.
pub(crate) const CONFIG: &str = "strategy = \"async\"
[counter]
size = 1000
[heartbeat]
period = \"20ms\"
schedule = \"absolute\"
control = true
";

/// `jitterd_build_info`'s labels that name the build, not the exposition.
const BUILD_LABELS: [&str; 3] = ["version", "revision", "rustc"];

pub(crate) const HEADER: &str = "\
The shape of jitterd's /metrics (text format 0.0.4) as this branch's binary
serves it: every # HELP and # TYPE line verbatim, every sample's series
without its value, in the order served. jitterd_build_info's label values
read <version>, <revision> and <rustc>. The daemon's config is in
tests/exposition.rs. Regenerate with
  JITTERD_BLESS=1 cargo test --release --locked --test tests -- exposition::
and review the diff: a change here is a change to what dashboards, rules
and users read.
";

/// The exposition without its values: `# HELP` and `# TYPE` lines as they
/// are, other comments and blank lines dropped, and each sample cut to its
/// series (up to the closing brace of its labels, or its name).
pub(crate) fn shape(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| !line.starts_with('#') || line.starts_with("# HELP ") || line.starts_with("# TYPE "))
        .map(|line| {
            if line.starts_with('#') {
                return line.to_owned();
            }
            let series = match line.find('{') {
                Some(_) => line.rfind('}').map_or(line, |end| &line[..=end]),
                None => line.split_whitespace().next().unwrap_or(line),
            };
            if series.starts_with("jitterd_build_info{") { without_build(series) } else { series.to_owned() }
        })
        .collect()
}

/// `jitterd_build_info{…}` with the build's own values replaced by placeholders.
fn without_build(series: &str) -> String {
    let mut out = series.to_owned();
    for label in BUILD_LABELS {
        let open = format!("{label}=\"");
        let Some(start) = out.find(&open).map(|at| at + open.len()) else { continue };
        let Some(len) = out[start..].find('"') else { continue };
        out.replace_range(start..start + len, &format!("<{label}>"));
    }
    out
}

#[test]
fn the_exposition_keeps_its_names_labels_and_help() {
    let _alone = common::alone();
    let daemon = Daemon::start(CONFIG);
    let m =
        daemon.wait_for_metrics(Duration::from_secs(10), "three beats", |m| m.get("jitterd_heartbeats_total") >= 3.0);
    // The placeholders stand for values that must still be there.
    let info = m.series.keys().find(|s| s.starts_with("jitterd_build_info{")).expect("jitterd_build_info");
    let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(info.contains(&version), "{info}: not this crate's {version}");
    common::assert_golden("exposition.txt", HEADER, &shape(&m.text));
}

#[test]
fn the_shape_keeps_help_and_type_and_drops_values() {
    let text = "# HELP jitterd_x_total Things, with spaces and a \\\\ backslash.
# TYPE jitterd_x_total counter
jitterd_x_total 3
# a comment
jitterd_y_bucket{le=\"0.001\"} 7

jitterd_build_info{revision=\"3a9242f9113a\",rustc=\"1.95.0\",version=\"0.1.0\"} 1
";
    assert_eq!(
        shape(text),
        [
            "# HELP jitterd_x_total Things, with spaces and a \\\\ backslash.",
            "# TYPE jitterd_x_total counter",
            "jitterd_x_total",
            "jitterd_y_bucket{le=\"0.001\"}",
            "jitterd_build_info{revision=\"<revision>\",rustc=\"<rustc>\",version=\"<version>\"}",
        ]
    );
}
