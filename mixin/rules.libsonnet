// prometheusRules: recording rules, named level:metric:operations. Level
// "instance" keeps the cluster, job and instance labels and drops
// everything else; "cluster" keeps the cluster and job labels, and
// "cluster_cause" the cause too; pNN is the quantile (p999 = 99.9th percentile) and rateW
// the window of the rate it is taken over.
//
// Group jitterd.rules serves cheap fleet-wide queries per instance, e.g.
// topk(10, instance:jitterd_heartbeat_lateness_seconds:p99_rate1m). Group
// jitterd.fleet.rules aggregates by cluster and job (level "cluster"): the
// fleet quantiles, which summaries cannot give, at a cost that does not
// grow with every dashboard load. The dashboard's per-instance panels take
// $__rate_interval throughout, so that their resolution follows the time
// range shown; its "Fleet by cluster" row reads the cluster rules, which
// keeps it fast at 10,000 instances (docs/fleet.md).
//
// The per-slot lateness histograms may reach Prometheus as native
// histograms or as classic buckets (lib/histogram.libsonnet): every rule
// over them reads the native histogram `or` the classic buckets, and
// works in both modes.
//
// Quantiles from histogram buckets are approximations (interpolated inside
// a bucket; the lateness histograms have 4 buckets per octave, so within
// about 10%). The exact per-instance quantiles are the daemon's window
// summaries (jitterd_heartbeat_lateness_window_seconds,
// jitterd_control_lateness_window_seconds).
//
// The windows assume a heartbeat period of a few seconds at most (the
// default is 1s). With periods near a minute or longer a 1m or 5m window
// holds too few beats for a quantile.
local text = import 'lib/text.libsonnet';
local hist = import 'lib/histogram.libsonnet';

{
  local config = self._config,
  local selector = config.jitterdSelector,
  local by = '%s, job, instance' % config.clusterLabel,
  local byCluster = '%s, job' % config.clusterLabel,
  local fleetWindow = config.fleetWindow,

  local quantile(q, name, metric, window) = {
    record: 'instance:%s:%s_rate%s' % [metric, name, window],
    expr: text.expr(
      if std.member(hist.lateness, metric) then hist.quantile(q, metric, selector, by, window)
      else 'histogram_quantile(%s, sum by (%s, le) (rate(%s_bucket{%s}[%s])))' % [q, by, metric, selector, window]
    ),
  },
  local rate(level, labels, metric, recorded, window='1m') = {
    record: '%s:%s:rate%s' % [level, recorded, window],
    expr: text.expr('sum by (%s) (rate(%s{%s}[%s]))' % [labels, metric, selector, window]),
  },

  // Fleet quantiles: the histograms of every instance summed by cluster and
  // job, native or classic, then their quantile. (No recorded sum for the
  // quantiles to share: recording a native histogram was not checked with
  // Prometheus 2.42, so each quantile takes its own rate; docs/fleet.md has
  // what that costs, and fleetInterval keeps it to once a minute.)
  local clusterQuantile(q, name, metric) = {
    record: 'cluster:%s:%s_rate%s' % [metric, name, fleetWindow],
    expr: text.expr(hist.quantile(q, metric, selector, byCluster, fleetWindow)),
  },

  prometheusRules+:: {
    groups+: [
      {
        name: 'jitterd.rules',
        rules: [
          quantile('0.5', 'p50', 'jitterd_heartbeat_lateness_seconds', '1m'),
          quantile('0.9', 'p90', 'jitterd_heartbeat_lateness_seconds', '1m'),
          quantile('0.99', 'p99', 'jitterd_heartbeat_lateness_seconds', '1m'),
          quantile('0.999', 'p999', 'jitterd_heartbeat_lateness_seconds', '1m'),
          quantile('0.99', 'p99', 'jitterd_heartbeat_wake_lateness_seconds', '1m'),
          quantile('0.99', 'p99', 'jitterd_heartbeat_access_wait_seconds', '1m'),
          quantile('0.99', 'p99', 'jitterd_consistency_check_duration_seconds', '1m'),
          quantile('0.99', 'p99', 'jitterd_control_lateness_seconds', '1m'),
          // Doubling buckets: within a factor of 2 at best. JitterdJitterHigh
          // reads the exact window summary instead.
          quantile('0.99', 'p99', 'jitterd_heartbeat_jitter_seconds', '1m'),
          rate('instance', by, 'jitterd_heartbeats_total', 'jitterd_heartbeats'),
          rate('instance', by, 'jitterd_heartbeat_missed_total', 'jitterd_heartbeat_missed'),
          rate('instance', by, 'jitterd_array_passes_total', 'jitterd_array_passes'),
          rate('instance_result', by + ', result', 'jitterd_consistency_checks_total', 'jitterd_consistency_checks'),
        ],
      },
      {
        name: 'jitterd.fleet.rules',
        interval: config.fleetInterval,
        rules: [
          clusterQuantile('0.5', 'p50', 'jitterd_heartbeat_lateness_seconds'),
          clusterQuantile('0.9', 'p90', 'jitterd_heartbeat_lateness_seconds'),
          clusterQuantile('0.99', 'p99', 'jitterd_heartbeat_lateness_seconds'),
          clusterQuantile('0.999', 'p999', 'jitterd_heartbeat_lateness_seconds'),
          clusterQuantile('0.5', 'p50', 'jitterd_control_lateness_seconds'),
          clusterQuantile('0.99', 'p99', 'jitterd_control_lateness_seconds'),
          // Instances scraped successfully (up summed) per cluster and job.
          {
            record: 'cluster:jitterd_up:sum',
            expr: text.expr('sum by (%s) (up{%s})' % [byCluster, selector]),
          },
          rate('cluster', byCluster, 'jitterd_heartbeats_total', 'jitterd_heartbeats', fleetWindow),
          rate('cluster', byCluster, 'jitterd_heartbeat_missed_total', 'jitterd_heartbeat_missed', fleetWindow),
          rate('cluster_cause', byCluster + ', cause', 'jitterd_heartbeat_late_beats_total', 'jitterd_heartbeat_late_beats', fleetWindow),
          rate('cluster_cause', byCluster + ', cause', 'jitterd_control_late_beats_total', 'jitterd_control_late_beats', fleetWindow),
          rate(
            'cluster_cause',
            byCluster + ', cause',
            'jitterd_heartbeat_lateness_explained_seconds_total',
            'jitterd_heartbeat_lateness_explained_seconds',
            fleetWindow,
          ),
          rate(
            'cluster_cause',
            byCluster + ', cause',
            'jitterd_control_lateness_explained_seconds_total',
            'jitterd_control_lateness_explained_seconds',
            fleetWindow,
          ),
        ],
      },
    ],
  },
}
