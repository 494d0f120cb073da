// PromQL over the two per-slot lateness histograms, which jitterd exports
// with classic and native buckets together (DESIGN.md, "Native histograms").
// A Prometheus started with --enable-feature=native-histograms (2.40 to
// 2.44) keeps only the native part of such a histogram: one series per
// instance named after the family, no _bucket, _count or _sum. Any other
// Prometheus keeps only the classic part. So every query over them reads
// the native histogram `or` the classic buckets: in each mode one side
// matches nothing and costs an index lookup, and the other answers.
{
  // The per-slot lateness histograms, the only ones with native buckets.
  lateness:: ['jitterd_heartbeat_lateness_seconds', 'jitterd_control_lateness_seconds'],

  local sumBy(by, extra) =
    local labels = std.filter(function(l) l != '', [by, extra]);
    if std.length(labels) == 0 then 'sum' else 'sum by (%s)' % std.join(', ', labels),

  // sum by (`by`) of the rate of `metric` over `window`, as a native
  // histogram or as classic buckets (`by` plus le): what histogram_quantile
  // and a heatmap take. `by` may be '' (everything summed).
  rate(metric, selector, by, window)::
    '%s (rate(%s{%s}[%s]))\nor\n%s (rate(%s_bucket{%s}[%s]))'
    % [sumBy(by, ''), metric, selector, window, sumBy(by, 'le'), metric, selector, window],

  // The q-quantile of `metric` per `by` over `window`, native or classic.
  quantile(q, metric, selector, by, window)::
    'histogram_quantile(%s, %s (rate(%s{%s}[%s])))\nor\nhistogram_quantile(%s, %s (rate(%s_bucket{%s}[%s])))'
    % [q, sumBy(by, ''), metric, selector, window, q, sumBy(by, 'le'), metric, selector, window],
}
