// prometheusRules: recording rules, named level:metric:operations. Level
// "instance" keeps the cluster, job and instance labels and drops
// everything else; pNN is the quantile (p999 = 99.9th percentile) and rateW
// the window of the rate it is taken over.
//
// They serve the alerts (JitterdJitterHigh reads the jitter p99) and cheap
// fleet-wide queries, e.g. topk(10, instance:jitterd_heartbeat_lateness_seconds:p99_rate1m).
// The dashboard does not read them: its panels take $__rate_interval
// throughout, so that their resolution follows the time range shown.
//
// Quantiles from histogram buckets are approximations (interpolated inside
// a bucket; the lateness histograms have 4 buckets per octave, so within
// about 10%). The exact per-instance quantiles are the daemon's window
// summaries (jitterd_heartbeat_lateness_window_seconds,
// jitterd_control_lateness_window_seconds).
//
// The windows assume a heartbeat period of a few seconds at most (the
// default is 1s). With periods near a minute or longer a 1m or 5m window
// holds too few beats for a quantile, and the jitter alert stays silent.
local text = import 'lib/text.libsonnet';

{
  local config = self._config,
  local selector = config.jitterdSelector,
  local by = '%s, job, instance' % config.clusterLabel,

  local quantile(q, name, metric, window) = {
    record: 'instance:%s:%s_rate%s' % [metric, name, window],
    expr: text.expr('histogram_quantile(%s, sum by (%s, le) (rate(%s_bucket{%s}[%s])))' % [q, by, metric, selector, window]),
  },
  local rate(level, labels, metric, recorded) = {
    record: '%s:%s:rate1m' % [level, recorded],
    expr: text.expr('sum by (%s) (rate(%s{%s}[1m]))' % [labels, metric, selector]),
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
          quantile('0.99', 'p99', 'jitterd_heartbeat_jitter_seconds', '1m'),
        ] + (
          // JitterdJitterHigh's window, unless it is the minute above.
          if config.jitterWindow == '1m' then []
          else [quantile('0.99', 'p99', 'jitterd_heartbeat_jitter_seconds', config.jitterWindow)]
        ) + [
          rate('instance', by, 'jitterd_heartbeats_total', 'jitterd_heartbeats'),
          rate('instance', by, 'jitterd_heartbeat_missed_total', 'jitterd_heartbeat_missed'),
          rate('instance', by, 'jitterd_array_passes_total', 'jitterd_array_passes'),
          rate('instance_result', by + ', result', 'jitterd_consistency_checks_total', 'jitterd_consistency_checks'),
        ],
      },
    ],
  },
}
