//! The families of the contract (DESIGN.md, "Metrics"): each one's name,
//! type, help text and label names, as a table the collector builds from.
//! Help texts are part of the exposition that dashboards and `promtool`
//! see: change one only on purpose.

use prometheus::proto::MetricType;

/// One family of the contract: its name without the `jitterd_` prefix,
/// its help text, its type and its label names (sorted).
pub(super) struct Spec {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricType,
    pub labels: &'static [&'static str],
}

const fn spec(name: &'static str, kind: MetricType, help: &'static str) -> Spec {
    Spec { name, help, kind, labels: &[] }
}

use MetricType::{COUNTER, GAUGE, HISTOGRAM, SUMMARY};

pub(super) const BUILD_INFO: Spec = Spec {
    labels: &["revision", "rustc", "version"],
    ..spec(
        "build_info",
        GAUGE,
        "A metric with a constant '1' value labeled by the version, revision and rustc version of jitterd.",
    )
};
pub(super) const EXPERIMENT_INFO: Spec = Spec {
    labels: &["schedule", "strategy"],
    ..spec(
        "experiment_info",
        GAUGE,
        "A metric with a constant '1' value labeled by the running strategy and heartbeat schedule.",
    )
};
pub(super) const ARRAY_SIZE: Spec = spec("array_size_elements", GAUGE, "Elements in the array the counter increments.");
pub(super) const DUTY_CYCLE: Spec = spec(
    "duty_cycle_ratio",
    GAUGE,
    "Configured counter.duty_cycle: the share of each period the counter runs (1: continuously).",
);
pub(super) const PERIOD: Spec = spec("heartbeat_period_seconds", GAUGE, "Configured heartbeat period.");
pub(super) const DRIFT_THRESHOLD: Spec = spec("drift_threshold_seconds", GAUGE, "Configured drift alert threshold.");
pub(super) const JITTER_THRESHOLD: Spec = spec("jitter_threshold_seconds", GAUGE, "Configured jitter alert threshold.");
pub(super) const DRIFT_WINDOW_LENGTH: Spec = spec(
    "drift_window_length_seconds",
    GAUGE,
    "Configured alerts.drift_window: how far back jitterd_drift_window_seconds looks.",
);
pub(super) const LATENESS: Spec = spec(
    "heartbeat_lateness_seconds",
    HISTOGRAM,
    "Lateness of every heartbeat slot: a beat's time from due to check finished, and for each slot it swallowed, the time from that slot being due to the beat finishing.",
);
pub(super) const BEATS: Spec = spec("heartbeats_total", COUNTER, "Heartbeats completed.");
pub(super) const MISSED: Spec = spec(
    "heartbeat_missed_total",
    COUNTER,
    "Heartbeat slots skipped because an earlier beat ran past them (absolute schedule).",
);
pub(super) const CHECKS: Spec = Spec {
    labels: &["result"],
    ..spec("consistency_checks_total", COUNTER, "Consistency checks of the array by result.")
};
pub(super) const WAKE_LATENESS: Spec =
    spec("heartbeat_wake_lateness_seconds", HISTOGRAM, "Time from when a beat was due to when its timer returned.");
pub(super) const ACCESS_WAIT: Spec = spec(
    "heartbeat_access_wait_seconds",
    HISTOGRAM,
    "Time from the heartbeat's wake-up to getting the array (lock, reply or snapshot).",
);
pub(super) const JITTER: Spec =
    spec("heartbeat_jitter_seconds", HISTOGRAM, "Absolute deviation of each beat interval from the period.");
pub(super) const DRIFT: Spec = spec(
    "heartbeat_drift_seconds",
    GAUGE,
    "Accumulated jitter: last beat time minus start minus beats times period (signed).",
);
pub(super) const DRIFT_GAINED: Spec = spec(
    "drift_window_seconds",
    GAUGE,
    "Drift gained within the last alerts.drift_window (signed): what the drift threshold acts on.",
);
pub(super) const LAST_BEAT: Spec =
    spec("heartbeat_last_timestamp_seconds", GAUGE, "Unix time of the last completed heartbeat.");
pub(super) const CHECK_DURATION: Spec =
    spec("consistency_check_duration_seconds", HISTOGRAM, "Time one consistency check took.");
pub(super) const MISMATCHED: Spec =
    spec("consistency_mismatched_elements", GAUGE, "Elements that differed from element 0 in the last check.");
pub(super) const PASSES: Spec = spec("array_passes_total", COUNTER, "Passes the counter completed over the array.");
pub(super) const VALUE: Spec = spec("array_value", GAUGE, "Element 0 of the array as the last check saw it.");
pub(super) const RELOADS: Spec =
    Spec { labels: &["result"], ..spec("config_reloads_total", COUNTER, "Configuration reloads by result.") };
pub(super) const LAST_RELOAD: Spec =
    spec("config_last_reload_successful", GAUGE, "Whether the last configuration reload attempt was successful.");
pub(super) const CONTROL_LATENESS: Spec = spec(
    "control_lateness_seconds",
    HISTOGRAM,
    "Lateness of every slot of the control heartbeat, which shares nothing with the counter and is offset by half a period: the host's share of lateness.",
);
pub(super) const WRITE_ERRORS: Spec =
    spec("record_write_errors_total", COUNTER, "Interval log writes that failed (record.interval_log).");
pub(super) const LATENESS_WINDOW: Spec = spec(
    "heartbeat_lateness_window_seconds",
    SUMMARY,
    "Lateness of every heartbeat slot over the last record.window: exact quantiles (HdrHistogram, 3 significant digits); count and sum since the process started.",
);
pub(super) const CONTROL_LATENESS_WINDOW: Spec = spec(
    "control_lateness_window_seconds",
    SUMMARY,
    "Lateness of every control heartbeat slot over the last record.window: exact quantiles (HdrHistogram, 3 significant digits); count and sum since the process started.",
);

pub(super) const JITTER_WINDOW: Spec = spec(
    "heartbeat_jitter_window_seconds",
    SUMMARY,
    "Absolute deviation of each beat interval from the period over the last record.window: exact quantiles (HdrHistogram, 3 significant digits); count and sum since the process started.",
);
pub(super) const LATE_BEATS: Spec = Spec {
    labels: &["cause"],
    ..spec(
        "heartbeat_late_beats_total",
        COUNTER,
        "Heartbeat beats later than explain.threshold, by the cause that took most of their lateness.",
    )
};
pub(super) const CONTROL_LATE_BEATS: Spec = Spec {
    labels: &["cause"],
    ..spec(
        "control_late_beats_total",
        COUNTER,
        "Control heartbeat beats later than explain.threshold, by the cause that took most of their lateness.",
    )
};
pub(super) const EXPLAINED: Spec = Spec {
    labels: &["cause"],
    ..spec(
        "heartbeat_lateness_explained_seconds_total",
        COUNTER,
        "Lateness of the heartbeat's beats later than explain.threshold, split among its causes (wake: what userland cannot see).",
    )
};
pub(super) const CONTROL_EXPLAINED: Spec = Spec {
    labels: &["cause"],
    ..spec(
        "control_lateness_explained_seconds_total",
        COUNTER,
        "Lateness of the control heartbeat's beats later than explain.threshold, split among its causes (wake: what userland cannot see).",
    )
};
pub(super) const EXPLAIN_THRESHOLD: Spec =
    spec("explain_threshold_seconds", GAUGE, "Configured explain.threshold: beats later than this name their cause.");
pub(super) const EXPLAIN_SOURCE: Spec = Spec {
    labels: &["source"],
    ..spec(
        "explain_source_available",
        GAUGE,
        "Whether the kernel offers this evidence source to jitterd (1) or not (0); causes it would show are charged to wake.",
    )
};
pub(super) const HTTP_REJECTED: Spec = Spec {
    labels: &["reason"],
    ..spec(
        "http_rejected_total",
        COUNTER,
        "Connections closed and requests refused by a limit: max_connections (closed), max_requests (503), max_password_checks (429).",
    )
};

/// Every family the collector builds.
pub(super) const SPECS: [&Spec; 36] = [
    &BUILD_INFO,
    &EXPERIMENT_INFO,
    &ARRAY_SIZE,
    &DUTY_CYCLE,
    &PERIOD,
    &DRIFT_THRESHOLD,
    &JITTER_THRESHOLD,
    &DRIFT_WINDOW_LENGTH,
    &LATENESS,
    &BEATS,
    &MISSED,
    &CHECKS,
    &WAKE_LATENESS,
    &ACCESS_WAIT,
    &JITTER,
    &DRIFT,
    &DRIFT_GAINED,
    &LAST_BEAT,
    &CHECK_DURATION,
    &MISMATCHED,
    &PASSES,
    &VALUE,
    &RELOADS,
    &LAST_RELOAD,
    &CONTROL_LATENESS,
    &WRITE_ERRORS,
    &LATENESS_WINDOW,
    &CONTROL_LATENESS_WINDOW,
    &JITTER_WINDOW,
    &LATE_BEATS,
    &CONTROL_LATE_BEATS,
    &EXPLAINED,
    &CONTROL_EXPLAINED,
    &EXPLAIN_THRESHOLD,
    &EXPLAIN_SOURCE,
    &HTTP_REJECTED,
];
