//! The paths jitterd serves itself, in one list: the config refuses each of
//! them (and anything under [`API`]) as `web.telemetry_path`, and the server
//! routes them, so the two cannot drift apart. A leaf: it imports nothing
//! from the crate, so both can use it without depending on each other.

/// The live page.
pub(crate) const PAGE: &str = "/";
/// 200 while the process serves; open without credentials.
pub(crate) const HEALTHY: &str = "/-/healthy";
/// 200 once the experiment runs and its heartbeat keeps time.
pub(crate) const READY: &str = "/-/ready";
/// The live page's script.
pub(crate) const SCRIPT: &str = "/live.js";
/// The live page's style sheet.
pub(crate) const STYLE: &str = "/live.css";
/// What runs and how it is doing, as JSON.
pub(crate) const STATUS: &str = "/api/v1/status";
/// The recent slots of one heartbeat, as JSON.
pub(crate) const BEATS: &str = "/api/v1/beats";
/// The lateness chart of one heartbeat, as SVG.
pub(crate) const CHART: &str = "/api/v1/chart.svg";
/// The runbook, embedded: every alert's `runbook_url` points here by default.
pub(crate) const RUNBOOK: &str = "/runbook";
/// The runbook's style sheet.
pub(crate) const RUNBOOK_STYLE: &str = "/runbook.css";

/// Everything under this is jitterd's, served or not, so the API can grow
/// without taking a telemetry path someone already uses.
pub(crate) const API: &str = "/api/";

/// Every path jitterd serves besides the telemetry path.
pub(crate) const SERVED: [&str; 10] =
    [PAGE, HEALTHY, READY, SCRIPT, STYLE, RUNBOOK, RUNBOOK_STYLE, STATUS, BEATS, CHART];

/// Whether jitterd keeps `path` for itself: one it serves, or under [`API`].
pub(crate) fn is_reserved(path: &str) -> bool {
    SERVED.contains(&path) || path.starts_with(API)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_paths() {
        for path in SERVED {
            assert!(is_reserved(path), "{path}");
        }
        for path in ["/api/", "/api/v2/anything", "/api/v1/status/"] {
            assert!(is_reserved(path), "{path}");
        }
        for path in ["/metrics", "/api", "/apix", "//", "/-/healthy/", "/live.js.map", "/runbook/", ""] {
            assert!(!is_reserved(path), "{path}");
        }
    }
}
