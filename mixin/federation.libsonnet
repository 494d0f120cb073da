// federation.match: the match[] selectors with which a global Prometheus
// pulls jitterd's series from each cluster's (or host's) Prometheus through
// /federate. They cover every series a dashboard panel, variable or
// annotation queries and every series an alert reads, so that the dashboard
// and the alerts work unchanged on the global Prometheus
// (tests/prometheus_e2e.rs checks that on a real pair of servers).
// Recording rules are evaluated where the raw data is: the global one
// receives their results (the first selector), not their inputs.
//
// The histogram buckets are most of the volume (about 105 series per
// instance for each lateness histogram): drop that selector to federate
// less, and the global dashboard loses its heatmaps and bucket quantiles
// per instance; the fleet rules' results (per cluster) stay. The two
// lateness histograms are also selected by their own name, which is the
// native histogram where the source Prometheus keeps native histograms
// (and matches nothing where it does not). The global Prometheus receives
// them only if it too runs with native histograms on, which makes it ask
// /federate for protobuf (checked with Prometheus 2.42: docs/fleet.md).
{
  local config = self._config,
  local selector = config.jitterdSelector,
  local names(pattern) = '{__name__=~"%s", %s}' % [pattern, selector],

  federation+:: {
    match: [
      // Recording rules' results, per instance and per cluster.
      names('(instance|instance_result|cluster|cluster_cause):jitterd_.+'),
      // What runs and its settings: info and threshold gauges.
      names('jitterd_(build_info|experiment_info|array_size_elements|duty_cycle_ratio|heartbeat_period_seconds|drift_threshold_seconds|jitter_threshold_seconds|drift_window_length_seconds|explain_threshold_seconds|explain_source_available)'),
      // Timekeeping gauges, the window summaries' quantiles among them.
      names('jitterd_(heartbeat_lateness_window_seconds|control_lateness_window_seconds|heartbeat_jitter_window_seconds|drift_window_seconds|heartbeat_drift_seconds|heartbeat_last_timestamp_seconds)'),
      // Counters and the reload gauge.
      names('jitterd_(heartbeats_total|heartbeat_missed_total|consistency_checks_total|array_passes_total|config_reloads_total|config_last_reload_successful|record_write_errors_total|http_rejected_total)'),
      // Late beats and lateness by cause.
      names('jitterd_(heartbeat|control)_(late_beats|lateness_explained_seconds)_total'),
      // Histogram buckets: heatmaps, quantiles across instances, access wait and wake-up lateness.
      names('jitterd_(heartbeat_lateness|control_lateness|heartbeat_jitter|heartbeat_wake_lateness|heartbeat_access_wait)_seconds_bucket'),
      // The lateness histograms as native histograms, where they are.
      names('jitterd_(heartbeat|control)_lateness_seconds'),
      // The process: restarts (annotation, JitterdRestartLoop, JitterdHeartbeatStalled) and CPU.
      names('process_start_time_seconds|process_cpu_seconds_total'),
      // Scrape health (JitterdDown).
      'up{%s}' % selector,
    ],
  },
}
