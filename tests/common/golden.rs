//! Oracles kept in files under `tests/golden/`, written from outside the
//! code under test: the contract's metric families (from the design
//! contract) and files compared line by line with what the binary serves,
//! which `JITTERD_BLESS=1` regenerates.

use std::path::Path;

use super::not_tested;
use super::scrape::Family;

/// The metric families of the contract, from `tests/golden/contract-metrics.txt`.
pub(crate) struct ContractMetrics {
    /// What the daemon must export.
    pub exported: Vec<Family>,
    /// In the contract but not yet in the code, with the issue that adds
    /// each: the daemon must not export them yet.
    pub pending: Vec<(String, Family)>,
}

/// Reads the golden list of the contract's metric families, written from
/// the design contract rather than read from the code, so it can tell
/// when the code forgot one.
pub(crate) fn contract_metrics() -> ContractMetrics {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/contract-metrics.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let mut contract = ContractMetrics { exported: Vec::new(), pending: Vec::new() };
    let mut pending_for = None;
    for (number, line) in text.lines().enumerate().map(|(i, line)| (i + 1, line.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(issue) = line.strip_prefix("pending:") {
            pending_for = Some(issue.trim().to_owned());
            continue;
        }
        let at = || format!("{}:{number}: {line:?}", path.display());
        let (name, kind) = line.split_once(' ').unwrap_or_else(|| panic!("{}: not \"family type\"", at()));
        let kind = kind.trim();
        assert!(["counter", "gauge", "histogram", "summary"].contains(&kind), "{}: no such type", at());
        let family = Family { name: name.to_owned(), kind: kind.to_owned() };
        let listed = contract.exported.iter().chain(contract.pending.iter().map(|(_, f)| f));
        assert!(listed.clone().all(|f| f.name != family.name), "{}: listed twice", at());
        match &pending_for {
            Some(issue) => contract.pending.push((issue.clone(), family)),
            None => contract.exported.push(family),
        }
    }
    assert!(!contract.exported.is_empty(), "{}: no families", path.display());
    contract
}

/// Compares `actual` with the golden file `tests/golden/{name}` (its lines
/// that start with `## ` are its header, not compared), showing the first
/// lines that differ. With `JITTERD_BLESS=1` it writes the file instead,
/// `header` (each line prefixed `## `) and then `actual`, and reports the
/// comparison as not made.
#[track_caller]
pub(crate) fn assert_golden(name: &str, header: &str, actual: &[String]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("JITTERD_BLESS").is_some_and(|v| v == "1") {
        let mut text: String = header.lines().map(|line| format!("## {line}\n").replace("## \n", "##\n")).collect();
        text.extend(actual.iter().map(|line| format!("{line}\n")));
        std::fs::write(&path, text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        not_tested(&format!("JITTERD_BLESS=1 wrote {} ({} lines) instead of comparing", path.display(), actual.len()));
        return;
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("{}: {err} (JITTERD_BLESS=1 writes it)", path.display()));
    let golden: Vec<&str> = text.lines().filter(|line| *line != "##" && !line.starts_with("## ")).collect();
    if golden.iter().eq(actual.iter()) {
        return;
    }
    panic!("{} differs from what was served:\n{}", path.display(), diff(&golden, actual));
}

/// A line diff of `golden` against `actual` (the longest common
/// subsequence, as `diff` finds it): the first hunks with two lines of
/// context, `-` for a golden line not served, `+` for a served line not in
/// the golden file; and a note when only the order differs.
fn diff(golden: &[&str], actual: &[String]) -> String {
    const CONTEXT: usize = 2;
    const SHOWN: usize = 60;
    let (n, m) = (golden.len(), actual.len());
    // common[i][j]: the longest common subsequence of golden[i..] and actual[j..].
    let mut common = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] =
                if golden[i] == actual[j] { common[i + 1][j + 1] + 1 } else { common[i + 1][j].max(common[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut edits) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && golden[i] == actual[j] {
            edits.push((' ', i + 1, golden[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || common[i + 1][j] >= common[i][j + 1]) {
            edits.push(('-', i + 1, golden[i]));
            i += 1;
        } else {
            edits.push(('+', j + 1, actual[j].as_str()));
            j += 1;
        }
    }
    let changed: Vec<usize> = edits.iter().enumerate().filter(|(_, e)| e.0 != ' ').map(|(k, _)| k).collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
    let mut out = format!(
        "{} lines differ ({} golden lines, {} served; - golden only, + served only, with line numbers):\n",
        changed.len(),
        n,
        m
    );
    let (mut shown, mut last) = (0, None);
    for (k, (sign, line_number, line)) in edits.iter().enumerate().filter(|&(k, _)| near(k)) {
        if shown == SHOWN {
            out.push_str(&format!("… and more; {} differing lines in all\n", changed.len()));
            break;
        }
        if last.is_some_and(|last| last + 1 != k) {
            out.push_str("  ...\n");
        }
        out.push_str(&format!("{sign} {line_number:>5} {line}\n"));
        (shown, last) = (shown + 1, Some(k));
    }
    let mut sorted_golden = golden.to_vec();
    let mut sorted_actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    sorted_golden.sort_unstable();
    sorted_actual.sort_unstable();
    if sorted_golden == sorted_actual {
        out.push_str("(the same lines, in another order)\n");
    }
    out
}
