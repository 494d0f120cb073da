// The jitterd dashboard (grafanaDashboards['jitterd.json']): does this host
// keep time under contention, and which hosts of the fleet do not?
//
// Every panel query filters by the cluster, job and instance variables and
// takes rates over $__rate_interval, never a fixed window, so that its
// resolution follows the time range shown. Per-instance lateness quantiles
// come from the daemon's window summaries (exact); histogram buckets serve
// only what summaries cannot: heatmaps and quantiles across instances, which
// are approximate and say so. Queries over the per-slot lateness histograms
// read the native histogram `or` the classic buckets (lib/histogram.libsonnet),
// so that every panel shows data whichever of the two Prometheus keeps.
//
// The "Fleet by cluster" row is the exception to the instance filter: it
// reads the cluster recording rules (jitterd.fleet.rules), which have no
// instance label, so that it stays fast at 10,000 instances (docs/fleet.md).
local g = import '../lib/grafana.libsonnet';
local hist = import '../lib/histogram.libsonnet';

{
  local config = self._config,
  local cluster = config.clusterLabel,
  // The filter of every panel query.
  local q = '%s=~"$cluster", job="$job", instance=~"$instance"' % cluster,
  // The filter of the cluster-level panels (recorded series, no instance).
  local qc = '%s=~"$cluster", job="$job"' % cluster,
  local by = '%s, job, instance' % cluster,
  // The summary quantile label as a selector. A Prometheus that scrapes
  // protobuf (native histograms on) writes the labels it builds as
  // OpenMetrics does, so the max is quantile="1.0" there and "1" elsewhere.
  local quantileIs(q) = if q == '1' then 'quantile=~"1|1.0"' else 'quantile="%s"' % q,
  local window(step) =
    local unit = step[std.length(step) - 1];
    '%d%s' % [2 * std.parseInt(step[:std.length(step) - 1]), unit],

  local info = [
    [g.stat('Strategy', |||
      How the counter and the heartbeat share the array, and the heartbeat schedule (jitterd_experiment_info).
    |||, 'none', [g.target('jitterd_experiment_info{%s}' % q, '{{instance}}: {{strategy}} ({{schedule}})')], 'name'), 6, 4],
    [g.stat('Array size', |||
      Elements the counter increments every pass (counter.size).
    |||, 'short', [g.target('jitterd_array_size_elements{%s}' % q, '{{instance}}')]), 4, 4],
    [g.stat('Heartbeat period', |||
      How often the heartbeat is due (heartbeat.period).
    |||, 's', [g.target('jitterd_heartbeat_period_seconds{%s}' % q, '{{instance}}')]), 4, 4],
    [g.stat('Counter duty cycle', |||
      Share of each heartbeat period the counter runs (counter.duty_cycle, jitterd_duty_cycle_ratio), in a window
      centred on each beat, so every beat meets a running counter. 100 % runs it continuously, as the article's
      experiment does, and costs a core; below that the counter sleeps between windows (fewer passes, a fraction of a
      core). Compare instances only at the same duty cycle.
    |||, 'percentunit', [g.target('jitterd_duty_cycle_ratio{%s}' % q, '{{instance}}')]), 4, 4],
    [g.stat('Version', |||
      jitterd version and git revision (jitterd_build_info).
    |||, 'none', [g.target('jitterd_build_info{%s}' % q, '{{instance}}: {{version}} ({{revision}})')], 'name'), 6, 4],
  ],

  local fleet = [
    [g.bargauge('Worst lateness p99 in the time range (top %d)' % config.fleetTopK, |||
      The %(k)d selected instances whose heartbeat lateness p99 was highest at any time in the range shown:
      the maximum over the range of the daemon's exact window p99 (jitterd_heartbeat_lateness_window_seconds,
      every slot counted, missed ones included). Start here in a fleet, then pick an instance for its detail below.
    ||| % { k: config.fleetTopK }, 's', [g.instantTarget(
      'topk(%d, max by (%s) (max_over_time(jitterd_heartbeat_lateness_window_seconds{%s, quantile="0.99"}[$__range])))'
      % [config.fleetTopK, by, q],
      '{{instance}} {{%s}}' % cluster,
    )]), 12, 8],
    [g.bargauge('Most drift gained in the time range (top %d)' % config.fleetTopK, |||
      The %(k)d selected instances that lost the most time against their schedule within one drift window
      (alerts.drift_window) at any time in the range shown: the maximum over the range of
      jitterd_drift_window_seconds, the figure JitterdDriftHigh compares with each instance's threshold.
      A reload or restart resets an instance's figure to 0, so look at the Reloads and Restarts annotations too.
    ||| % { k: config.fleetTopK }, 's', [g.instantTarget(
      'topk(%d, max by (%s) (max_over_time(jitterd_drift_window_seconds{%s}[$__range])))' % [config.fleetTopK, by, q],
      '{{instance}} {{%s}}' % cluster,
    )]), 12, 8],
  ],

  local lateness = g.timeseries('Heartbeat lateness, every slot (window quantiles)', |||
    How late each heartbeat slot was served (done − scheduled) over the last record.window (default 1 minute), per
    instance: exact p50, p90, p99, p99.9 and the max from the daemon's window summary
    (jitterd_heartbeat_lateness_window_seconds, HdrHistogram, 3 significant digits). Every slot counts: a beat that
    ran late counts once for its own slot and once more for each slot it swallowed, at the lateness that slot was
    served with, so a 1 s stall at a 10 ms period adds about 100 samples of up to 1 s, not one. Each point describes
    the window ending at the scrape, so a stall stays in view for one window. A low, flat line therefore means every
    slot of the window, missed ones included, was served within it. A gap means the window held no slot (a period
    longer than the window).
  |||, 's', [
    g.target('jitterd_heartbeat_lateness_window_seconds{%s, %s}' % [q, quantileIs(quantile[0])], '{{instance}} %s' % quantile[1])
    for quantile in [['0.5', 'p50'], ['0.9', 'p90'], ['0.99', 'p99'], ['0.999', 'p99.9'], ['1', 'max']]
  ]),

  local controlVsStrategy = g.timeseries('Control vs strategy lateness (window p99)', |||
    p99 of every-slot lateness over the last record.window, per instance, for the strategy's heartbeat
    (jitterd_heartbeat_lateness_window_seconds) and for the control heartbeat (jitterd_control_lateness_window_seconds:
    half a period apart, same priority, sharing nothing with the counter), and main − control, the difference of the
    two p99s (not a per-beat difference). Control late too: the host is the cause. Only the strategy late: the
    strategy is. What main − control means for each strategy family, async included, is in docs/strategies.md. No
    control series when heartbeat.control = false.
  |||, 's', [
    g.target('jitterd_heartbeat_lateness_window_seconds{%s, quantile="0.99"}' % q, '{{instance}} strategy p99'),
    g.target('jitterd_control_lateness_window_seconds{%s, quantile="0.99"}' % q, '{{instance}} control p99'),
    g.target(
      'jitterd_heartbeat_lateness_window_seconds{%(q)s, quantile="0.99"} - jitterd_control_lateness_window_seconds{%(q)s, quantile="0.99"}'
      % { q: q },
      '{{instance}} main − control p99',
    ),
  ]),

  local driftGained = g.timeseries('Drift gained in window and its threshold', |||
    How much the heartbeat fell behind its schedule within the last alerts.drift_window (default 10 minutes;
    jitterd_drift_window_seconds) against the configured drift threshold (dashed, jitterd_drift_threshold_seconds).
    JitterdDriftHigh fires once the gain has stayed above the threshold for %(for)s, and clears when it drops back
    below: a window after drift stops growing. A reload or restart starts a new experiment and resets it to 0 (see the
    Reloads and Restarts annotations): a drop at one of them is not a recovery. Under the absolute schedule drift grows
    through missed slots, under the relative one through every beat's lateness; near zero means no time was lost in
    the window, not that every beat was on time (see lateness).
  ||| % { 'for': config.driftGainedFor }, 's', [
    g.target('jitterd_drift_window_seconds{%s}' % q, '{{instance}} drift gained'),
    g.target('jitterd_drift_threshold_seconds{%s}' % q, '{{instance}} threshold'),
  ]) + g.override('.*threshold', [g.dashed, g.color('red')]),

  local missed = g.timeseries('Missed slots', |||
    Heartbeat slots per second that passed while an earlier beat was still running (absolute schedule,
    jitterd_heartbeat_missed_total): beats more than a whole period late. Each of these slots is also in the lateness
    panels, at the lateness it was served with, and adds a period to drift. Zero means no beat overran a whole period;
    it says nothing about shorter lateness.
  |||, 'ops', [
    g.target('rate(jitterd_heartbeat_missed_total{%s}[$__rate_interval])' % q, '{{instance}} missed'),
  ]),

  local driftLevel = g.timeseries('Drift since the experiment started', |||
    How far the heartbeat is behind the grid it started on (jitterd_heartbeat_drift_seconds: done − t0 − beats ×
    period, the sum of the jitters). It keeps every stall for good, like a clock that stopped for a while, until a
    reload or restart starts a new experiment at 0, so no threshold applies to it: alerts use the drift gained in a
    window (panel above).
  |||, 's', [g.target('jitterd_heartbeat_drift_seconds{%s}' % q, '{{instance}} drift')]),

  local latenessAcross = g.timeseries('Lateness across instances (approximate, from buckets)', |||
    p50 and p99 of every-slot lateness across all selected instances together, from the
    jitterd_heartbeat_lateness_seconds and jitterd_control_lateness_seconds histogram buckets over each interval: what
    summaries cannot give, since quantiles do not add up across instances. An approximation: histogram_quantile
    interpolates inside a bucket (4 per octave, so within about 10 %; native buckets, where Prometheus keeps them,
    are finer). For one instance, use the exact window quantiles.
  |||, 's', [
    g.target(hist.quantile(p[0], 'jitterd_%s_lateness_seconds' % p[1], q, '', '$__rate_interval'), '%s (approx.)' % p[2])
    for p in [['0.5', 'heartbeat', 'strategy p50'], ['0.99', 'heartbeat', 'strategy p99'], ['0.99', 'control', 'control p99']]
  ]),

  local jitterHeatmap = g.heatmap('Jitter heatmap, all selected instances', |||
    Distribution of |interval − period| per beat that ran (jitterd_heartbeat_jitter_seconds), summed over the selected
    instances: each cell is the beats per second whose jitter fell in that bucket. A band high up means regular large
    deviations; scattered dots, occasional ones. Missed slots have no interval of their own: see Missed slots and the
    lateness panels.
  |||, 's', 'ops', [
    g.target('sum by (le) (rate(jitterd_heartbeat_jitter_seconds_bucket{%s}[$__rate_interval]))' % q, '{{le}}'),
  ]),

  local accessWait = g.timeseries('Heartbeat access wait', |||
    Time from the heartbeat's wake-up to getting the array: the lock wait, the channel reply or the snapshot
    (jitterd_heartbeat_access_wait_seconds), p50 and p99 per beat that ran. Approximate: histogram_quantile
    interpolates inside the histogram's buckets, so a value can be off by up to a bucket's width.
  |||, 's', [
    g.target(
      'histogram_quantile(%s, sum by (%s, le) (rate(jitterd_heartbeat_access_wait_seconds_bucket{%s}[$__rate_interval])))'
      % [p[0], by, q],
      '{{instance}} %s' % p[1],
    )
    for p in [['0.5', 'p50'], ['0.99', 'p99']]
  ]),

  local wakeLateness = g.timeseries('Wake-up lateness', |||
    Time from when a beat was due to when its timer returned (jitterd_heartbeat_wake_lateness_seconds), p50 and p99 per
    beat that ran: the timer's and the scheduler's share of the lateness. Approximate: histogram_quantile interpolates
    inside the histogram's buckets, so a value can be off by up to a bucket's width.
  |||, 's', [
    g.target(
      'histogram_quantile(%s, sum by (%s, le) (rate(jitterd_heartbeat_wake_lateness_seconds_bucket{%s}[$__rate_interval])))'
      % [p[0], by, q],
      '{{instance}} %s' % p[1],
    )
    for p in [['0.5', 'p50'], ['0.99', 'p99']]
  ]),

  // Repeated once per selected instance: a heatmap cannot keep instances
  // apart, and lateness summed over a fleet hides which host was late.
  local latenessHeatmap = g.heatmap('Lateness heatmap, every slot: $instance', |||
    Distribution of every slot's lateness on this instance over time (jitterd_heartbeat_lateness_seconds, 4 buckets
    per octave from 1 µs to 64 s): each cell is the slots per second served with a lateness in that bucket, missed
    slots included at the lateness each was served with. A steady band is the host's usual lateness; a column
    reaching up is a stall, as long as the highest cell. Bucket bounds are approximate by a quarter octave (an
    eighth with native buckets, which Grafana 10 and later draws from the same query); the exact quantiles are in
    the window-quantile panel.
  |||, 's', 'ops', [
    g.target(hist.rate('jitterd_heartbeat_lateness_seconds', q, '', '$__rate_interval'), '{{le}}'),
  ]) + g.repeat('instance', 4),

  local jitterWindow = g.timeseries('Jitter, every beat (window quantiles) and its threshold', |||
    How far each interval between beats strayed from the period (|interval − period|, per beat that ran) over the
    last record.window, per instance: exact p50, p99 and the max from the daemon's window summary
    (jitterd_heartbeat_jitter_window_seconds, HdrHistogram, 3 significant digits), against the jitter threshold
    (dashed, jitterd_jitter_threshold_seconds). JitterdJitterHigh fires once the p99 has stayed above the threshold
    for %(for)s.
  ||| % { 'for': config.jitterFor }, 's', [
    g.target('jitterd_heartbeat_jitter_window_seconds{%s, %s}' % [q, quantileIs(quantile[0])], '{{instance}} %s' % quantile[1])
    for quantile in [['0.5', 'p50'], ['0.99', 'p99'], ['1', 'max']]
  ] + [
    g.target('jitterd_jitter_threshold_seconds{%s}' % q, '{{instance}} threshold'),
  ]) + g.override('.*threshold', [g.dashed, g.color('red')]),

  // Why beats were late (DESIGN.md, "Why a beat was late").
  local causes(heartbeat, title, who) = g.timeseries(title, |||
    Lateness above explain.threshold (jitterd_explain_threshold_seconds, default 1 ms) split among its causes, summed
    over the selected instances: seconds of lateness charged to each cause per second
    (jitterd_%(hb)s_lateness_explained_seconds_total), stacked, so the top of the stack is all the lateness of the
    %(who)s's late beats. throttled: the cgroup's CPU quota ran out; cpu: runnable, waiting for a CPU others held;
    stopped: SIGSTOP, a debugger, a freezer; paging: major faults; check and strategy (main heartbeat only): the
    consistency check, and the wait for the array (a lock, a reply, the async counter's pass); steal: the hypervisor
    ran another guest; wake: none of these, the timer, idle exit, interrupts, the host. Each cause has its section in
    the runbook. A cause whose source the kernel lacks (panel "Explanation sources") reads as wake.
  ||| % { hb: heartbeat, who: who }, 's', [
    g.target(
      'sum by (cause) (rate(jitterd_%s_lateness_explained_seconds_total{%s}[$__rate_interval]))' % [heartbeat, q],
      '{{cause}}',
    ),
  ]) + g.stacked,

  local lateBeats = g.timeseries('Late beats by dominant cause', |||
    Beats per second later than explain.threshold, by the cause that took the largest share of each
    (jitterd_heartbeat_late_beats_total, jitterd_control_late_beats_total), summed over the selected instances, for
    the strategy's heartbeat and the control one. Many late beats with a small lateness by cause (left) are a host
    that is often a little late; few beats with a large one, rare stalls.
  |||, 'ops', [
    g.target('sum by (cause) (rate(jitterd_heartbeat_late_beats_total{%s}[$__rate_interval]))' % q, 'strategy {{cause}}'),
    g.target('sum by (cause) (rate(jitterd_control_late_beats_total{%s}[$__rate_interval]))' % q, 'control {{cause}}'),
  ]) + g.stacked,

  local sources = g.stat('Explanation sources', |||
    Whether each source of evidence behind the causes works on every selected instance
    (jitterd_explain_source_available, the lowest over the instances): schedstat and rusage (run-queue wait,
    switches, major faults), cpu_stat (cgroup throttling), pressure (PSI), steal (/proc/stat), sigcont (stops). An
    unavailable source is one the kernel lacks or forbids (logged once at start): the causes it would have named
    read as wake there, so "wake" on such a host is not the host's timer alone.
  |||, 'none', [
    g.instantTarget('min by (source) (jitterd_explain_source_available{%s})' % q, '{{source}}'),
  ], 'value_and_name') + g.valueText({ '0': ['unavailable', 'red'], '1': ['available', 'green'] }),

  local rejected = g.timeseries('HTTP requests and connections shed', |||
    What jitterd's web limits refused, per second (jitterd_http_rejected_total): idle connections closed to make
    room (max_connections), requests answered 503 (max_requests) and 429 (max_password_checks). Anything above zero
    means a client (a scraper, a browser, a password guesser) wanted more than the limits allow; scrapes that were
    refused show as gaps and as up = 0. See docs/hardening.md.
  |||, 'ops', [
    g.target(
      'sum by (%s, reason) (rate(jitterd_http_rejected_total{%s}[$__rate_interval]))' % [by, q],
      '{{instance}} {{reason}}',
    ),
  ]),

  // The fleet by cluster, from the recording rules of jitterd.fleet.rules,
  // whose window is fleetWindow: a few series per cluster, however many
  // instances.
  local fleetNote = 'From the fleet recording rules (jitterd.fleet.rules, over %s), one series per cluster and job whatever the number of instances, so this row stays fast on a large fleet; the cluster variable applies, the instance variable does not.' % config.fleetWindow,
  local clusterLateness = g.timeseries('Lateness by cluster, every slot (approximate)', |||
    p50, p99 and p99.9 of every slot's lateness across all instances of each cluster and job, and the control
    heartbeat's p99: the quantiles of the fleet's lateness histograms summed by cluster. An approximation:
    histogram_quantile interpolates inside a bucket (4 per octave, within about 10 %%). %s
  ||| % fleetNote, 's', [
    g.target('cluster:jitterd_heartbeat_lateness_seconds:%s_rate%s{%s}' % [p[0], config.fleetWindow, qc], '{{%s}} {{job}} %s' % [cluster, p[1]])
    for p in [['p50', 'p50'], ['p99', 'p99'], ['p999', 'p99.9']]
  ] + [
    g.target('cluster:jitterd_control_lateness_seconds:p99_rate%s{%s}' % [config.fleetWindow, qc], '{{%s}} {{job}} control p99' % cluster),
  ]),
  local clusterCauses = g.timeseries('Late beats by dominant cause, by cluster', |||
    Late beats per second (later than explain.threshold) across each cluster, by dominant cause, for the strategy's
    heartbeat: which cause dominates where. %s
  ||| % fleetNote, 'ops', [
    g.target(
      'sum by (%s, cause) (cluster_cause:jitterd_heartbeat_late_beats:rate%s{%s})' % [cluster, config.fleetWindow, qc],
      '{{%s}} {{cause}}' % cluster,
    ),
  ]) + g.stacked,
  local clusterUp = g.timeseries('Instances scraped, by cluster', |||
    jitterd instances Prometheus scraped successfully, per cluster and job (up summed). A drop is hosts gone or
    unreachable (JitterdDown); the quantiles beside it describe only the instances still scraped. %s
  ||| % fleetNote, 'short', [
    g.target('cluster:jitterd_up:sum{%s}' % qc, '{{%s}} {{job}}' % cluster),
  ]),

  local checks = g.timeseries('Consistency checks by result', |||
    Consistency checks per second, by result (jitterd_consistency_checks_total). Inconsistent ones are expected only
    under threads-unsync; anywhere else JitterdInconsistentReads fires.
  |||, 'ops', [
    g.target(
      'sum by (%s, result) (rate(jitterd_consistency_checks_total{%s}[$__rate_interval]))' % [by, q],
      '{{instance}} {{result}}',
    ),
  ]) + g.override('.*inconsistent', [g.color('red')]),

  local throughput = g.timeseries('Counter throughput', |||
    Passes per second the counter completes over the array (jitterd_array_passes_total, left axis), and elements
    incremented per second (passes times the array size, right axis): the contention the heartbeat competes with.
    Below a duty cycle of 100 % the counter runs only in windows around the beats, so passes fall by about as much.
  |||, 'ops', [
    g.target('rate(jitterd_array_passes_total{%s}[$__rate_interval])' % q, '{{instance}} passes'),
    g.target(
      'rate(jitterd_array_passes_total{%(q)s}[$__rate_interval]) * on (%(by)s) jitterd_array_size_elements{%(q)s}'
      % { q: q, by: by },
      '{{instance}} elements',
    ),
  ]) + g.override('.*elements', [{ id: 'custom.axisPlacement', value: 'right' }]),

  local cpu = g.timeseries('CPU used (cores)', |||
    CPU time the whole jitterd process uses per second of wall time (process_cpu_seconds_total), in cores: the
    counter, both heartbeats and the exporter. About the counter's duty cycle (top row) of one core: a whole core with
    the counter flat out (duty cycle 100 %, the experiment as the article runs it), about 0.1 at 10 %.
  |||, 'short', [
    g.target('rate(process_cpu_seconds_total{%s}[$__rate_interval])' % q, '{{instance}} cores'),
  ]),

  local reloads = g.timeseries('Config reloads', |||
    Configuration reloads (SIGHUP) since the process started, by result (jitterd_config_reloads_total), and whether
    the last one succeeded (jitterd_config_last_reload_successful, 1 = yes). A successful reload starts a new
    experiment (drift back to 0; see the Reloads annotation); a failed one leaves the previous experiment running and
    fires JitterdConfigReloadFailed after a while.
  |||, 'short', [
    g.target('sum by (%s, result) (jitterd_config_reloads_total{%s})' % [by, q], '{{instance}} {{result}}'),
    g.target('jitterd_config_last_reload_successful{%s}' % q, '{{instance}} last successful'),
  ]),

  local annotation(name, color, expr, title, text) = {
    name: name,
    datasource: g.datasource,
    enable: true,
    iconColor: color,
    expr: expr,
    step: config.annotationStep,
    titleFormat: title,
    textFormat: text,
    tagKeys: 'instance',
    useValueForTime: false,
  },

  local variable(name, label, query, extra={}) = {
    name: name,
    label: label,
    type: 'query',
    datasource: g.datasource,
    query: { query: query, refId: name },
    definition: query,
    refresh: 2,
    sort: 1,
    current: {},
    hide: 0,
    includeAll: false,
    multi: false,
    options: [],
    regex: '',
  } + extra,

  grafanaDashboards+:: {
    'jitterd.json': {
      uid: config.dashboardUid,
      title: config.dashboardTitle,
      description: std.join(' ', [
        'Does this host keep time under contention? Lateness of every heartbeat slot (missed ones included),',
        'jitter and drift of the jitterd heartbeat, its correctness and the load it competes with,',
        'and across a fleet the instances that keep time worst.',
      ]),
      tags: config.dashboardTags,
      timezone: config.dashboardTimezone,
      editable: true,
      graphTooltip: 1,
      refresh: config.dashboardRefresh,
      schemaVersion: 39,
      version: 1,
      time: { from: 'now-1h', to: 'now' },
      links: [],
      annotations: {
        list: [
          {
            name: 'Annotations & Alerts',
            builtIn: 1,
            datasource: { type: 'grafana', uid: '-- Grafana --' },
            enable: true,
            hide: true,
            iconColor: 'rgba(0, 211, 255, 1)',
            type: 'dashboard',
          },
          // Windows twice the step: changes() needs a sample on each side of
          // the change, so a window of one step could fall between them.
          annotation(
            'Restarts',
            'red',
            'changes(process_start_time_seconds{%s}[%s]) > 0' % [q, window(config.annotationStep)],
            'jitterd restarted',
            '{{instance}}: a new process and a new experiment; drift, drift gained and the counters start again at 0.',
          ),
          annotation(
            'Reloads',
            'orange',
            'sum by (%s) (increase(jitterd_config_reloads_total{%s, result="success"}[%s])) > 0'
            % [by, q, window(config.annotationStep)],
            'configuration reloaded',
            '{{instance}}: a new experiment; drift and drift gained start again at 0, which is not a recovery.',
          ),
        ],
      },
      templating: {
        list: [
          {
            name: 'datasource',
            label: 'Data source',
            type: 'datasource',
            query: 'prometheus',
            current: {},
            hide: 0,
            refresh: 1,
            regex: '',
            includeAll: false,
            multi: false,
            options: [],
          },
          variable(
            'cluster',
            'Cluster',
            'label_values(jitterd_build_info{%s}, %s)' % [config.jitterdSelector, cluster],
            // "All" also matches series without the label: one cluster, no label.
            { includeAll: true, allValue: '.*', multi: true, hide: if config.showMultiCluster then 0 else 2 },
          ),
          variable('job', 'Job', 'label_values(jitterd_build_info{%s, %s=~"$cluster"}, job)' % [config.jitterdSelector, cluster]),
          variable(
            'instance',
            'Instance',
            'label_values(jitterd_build_info{%s=~"$cluster", job="$job"}, instance)' % cluster,
            { includeAll: true, allValue: '.+', multi: true },
          ),
        ],
      },
      panels: g.layout([
        g.row('Info', info),
        g.row('Fleet', fleet),
        g.row('Fleet by cluster', [[clusterLateness, 10, 8], [clusterCauses, 8, 8], [clusterUp, 6, 8]]),
        g.row('Timekeeping', [
          [lateness, 12, 8],
          [controlVsStrategy, 12, 8],
          [driftGained, 12, 8],
          [missed, 12, 8],
          [driftLevel, 8, 8],
          [latenessAcross, 8, 8],
          [jitterHeatmap, 8, 8],
          [accessWait, 12, 8],
          [wakeLateness, 12, 8],
          [jitterWindow, 12, 8],
        ]),
        g.row('Why beats were late', [
          [causes('heartbeat', 'Lateness by cause, strategy heartbeat', 'strategy heartbeat'), 9, 8],
          [causes('control', 'Lateness by cause, control heartbeat', 'control heartbeat'), 9, 8],
          [sources, 6, 8],
          [lateBeats, 24, 8],
        ]),
        g.row('Lateness heatmap per instance', [[latenessHeatmap, 24, 9]], collapsed=true),
        g.row('Correctness and load', [
          [checks, 12, 8],
          [throughput, 12, 8],
          [cpu, 12, 8],
          [reloads, 12, 8],
          [rejected, 12, 8],
        ]),
      ]),
    },
  },
}
