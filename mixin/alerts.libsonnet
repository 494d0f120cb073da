// prometheusAlerts: the alerting rules. Summaries are the same for every
// instance, so that Alertmanager's grouped notifications read as one
// sentence; the instance, job, cluster and value go into the description.
// Every alert has a "for", a severity from _config.severities and an
// absolute runbook_url from _config.runbookURLPattern.
local text = import 'lib/text.libsonnet';

{
  local config = self._config,
  local selector = config.jitterdSelector,
  local on = 'on (%s, job, instance)' % config.clusterLabel,
  // Where the alert is, for descriptions.
  local where = '{{ $labels.instance }} (job {{ $labels.job }}{{ with $labels.%s }}, cluster {{ . }}{{ end }})' % config.clusterLabel,

  local alert(name, severity, expr, forDuration, summary, description, runbookHost=null) = {
    alert: name,
    expr: text.expr(expr),
    'for': forDuration,
    labels: { severity: config.severities[severity] },
    annotations: {
      summary: summary,
      description: text.oneLine(description),
      runbook_url: (
        if runbookHost == null then config.runbookURLPattern
        else std.strReplace(config.runbookURLPattern, '{{ $labels.instance }}', runbookHost)
      ) % std.asciiLower(name),
    },
  },

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'jitterd.alerts',
        rules: [
          // Drift keeps every stall for good (a clock that stopped), so an
          // alert on its level would fire forever after one stall. This one
          // acts on drift gained within the daemon's alerts.drift_window
          // (jitterd_drift_window_seconds): it fires while the heartbeat
          // loses more than the threshold per window and clears once drift
          // has stopped growing for a window. A reload starts a new
          // experiment and sets the gauge to 0. The short "for" ignores
          // lateness won back at the next beat (a late beat that missed no
          // slot); time lost for good stays in the gauge for a whole window.
          alert(
            'JitterdDriftHigh',
            'driftHigh',
            'jitterd_drift_window_seconds{%s} > %s jitterd_drift_threshold_seconds{%s}' % [selector, on, selector],
            config.driftGainedFor,
            'jitterd is losing time: drift gained within its drift window is above the threshold.',
            |||
              The heartbeat of %s fell {{ $value | humanizeDuration }} further
              behind its schedule within its drift window (alerts.drift_window{{ with
              printf `jitterd_drift_window_length_seconds{job="%%s",instance="%%s"}` $labels.job $labels.instance
              | query }}, {{ . | first | value | humanizeDuration }}{{ end }}), more than the configured drift
              threshold: it is losing time now, through missed slots or, under the relative
              schedule, late beats. The alert clears once drift has stopped growing for a
              whole window; a reload resets it.
            ||| % where,
          ),

          // The exact p99 of jitter over the daemon's record.window (the
          // window summary), not a quantile of the doubling jitter buckets:
          // those read every beat at 33 µs as 64 µs, fire when 3 % of beats
          // sit at 34 ms (a bucket up to 65.5 ms) and miss 1.5 % at 64 ms
          // against a 50 ms threshold. The quantile label goes, so that the
          // alert carries the instance's labels only.
          alert(
            'JitterdJitterHigh',
            'jitterHigh',
            |||
              max without (quantile) (jitterd_heartbeat_jitter_window_seconds{%s, quantile="0.99"})
              > %s
                jitterd_jitter_threshold_seconds{%s}
            ||| % [selector, on, selector],
            config.jitterFor,
            "jitterd's heartbeat intervals deviate from the period by more than the jitter threshold.",
            |||
              1%% of the heartbeat intervals on %s within the daemon's window (record.window)
              deviated from the period by {{ $value | humanizeDuration }} or more (p99, exact,
              jitterd_heartbeat_jitter_window_seconds), beyond the configured jitter threshold,
              for more than %s.
            ||| % [where, config.jitterFor],
          ),

          // threads-unsync reads without synchronisation on purpose: torn
          // reads are the result that experiment exists to show, not a fault.
          // Anywhere else a torn read is a bug to file, not a page.
          alert(
            'JitterdInconsistentReads',
            'inconsistentReads',
            |||
              increase(jitterd_consistency_checks_total{%s, result="inconsistent"}[%s]) > 0
              unless %s jitterd_experiment_info{%s, strategy="threads-unsync"}
            ||| % [selector, config.inconsistentReadsWindow, on, selector],
            config.counterAlertsFor,
            'jitterd read a torn array under a strategy that should make that impossible.',
            |||
              About {{ $value | printf "%%.0f" }} consistency checks on %s found the
              array torn in the last %s, under a strategy that is meant to make that
              impossible: a bug in jitterd, or faulty hardware.
            ||| % [where, config.inconsistentReadsWindow],
          ),

          // Age of the last beat at scrape time (not at evaluation time, so
          // the scrape interval does not count), or the age of the process
          // before the first beat; stalled past 3 periods + 1 s, the daemon's
          // own readiness limit.
          alert(
            'JitterdHeartbeatStalled',
            'heartbeatStalled',
            |||
              (
                  timestamp(jitterd_heartbeat_last_timestamp_seconds{%(s)s}) - jitterd_heartbeat_last_timestamp_seconds{%(s)s}
                and %(on)s
                  jitterd_heartbeat_last_timestamp_seconds{%(s)s} > 0
              or
                  timestamp(process_start_time_seconds{%(s)s}) - process_start_time_seconds{%(s)s}
                and %(on)s
                  jitterd_heartbeat_last_timestamp_seconds{%(s)s} == 0
              )
              > %(on)s
                3 * jitterd_heartbeat_period_seconds{%(s)s} + 1
            ||| % { s: selector, on: on },
            config.stalledFor,
            "jitterd's heartbeat has stalled.",
            |||
              The heartbeat of %s last completed a beat {{ $value | humanizeDuration }}
              ago, more than three periods: it is starved or stuck, nothing measures this
              host's timekeeping meanwhile, and jitterd reports not ready.
            ||| % where,
          ),

          // Context rather than a call to act: at the default period every
          // missed slot also adds a second of drift, so JitterdDriftHigh fires
          // for the same event; at sub-millisecond periods a few missed slots
          // are routine.
          alert(
            'JitterdMissedBeats',
            'missedBeats',
            'increase(jitterd_heartbeat_missed_total{%s}[%s]) > 0' % [selector, config.missedBeatsWindow],
            config.counterAlertsFor,
            "jitterd's heartbeat skipped slots.",
            |||
              About {{ $value | printf "%%.0f" }} heartbeat slots on %s passed in the
              last %s while an earlier beat was still running: beats ran more than a
              whole period late.
            ||| % [where, config.missedBeatsWindow],
          ),

          // Only with record.interval_log set. A write error never stops the
          // experiment; the daemon logs the first one and counts them all.
          alert(
            'JitterdRecordWriteErrors',
            'recordWriteErrors',
            'increase(jitterd_record_write_errors_total{%s}[%s]) > 0' % [selector, config.recordWriteErrorsWindow],
            config.counterAlertsFor,
            'jitterd could not write its interval log.',
            |||
              About {{ $value | printf "%%.0f" }} writes to the interval log
              (record.interval_log) of %s failed in the last %s. The experiment and its
              metrics carry on, but the raw record on disk may lack those intervals.
            ||| % [where, config.recordWriteErrorsWindow],
          ),

          alert(
            'JitterdConfigReloadFailed',
            'configReloadFailed',
            'jitterd_config_last_reload_successful{%s} == 0' % selector,
            '5m',
            'jitterd could not reload its configuration.',
            |||
              The last configuration reload of %s failed
              (jitterd_config_last_reload_successful = {{ $value }}) and it still runs the
              previous configuration; the file on disk is not what is measured.
            ||| % where,
          ),

          // A new process every few minutes: under systemd most likely the
          // watchdog killing a stalled heartbeat (which then never stays
          // stalled for JitterdHeartbeatStalled's "for"), else a crash.
          alert(
            'JitterdRestartLoop',
            'restartLoop',
            'changes(process_start_time_seconds{%s}[%s]) > %d'
            % [selector, config.restartLoopWindow, config.restartLoopRestarts],
            config.restartLoopFor,
            'jitterd keeps restarting.',
            |||
              jitterd on %s started {{ $value | printf "%%.0f" }} new processes in the
              last %s. Each restart begins a new experiment (drift back to 0) and may hide
              a stalled heartbeat: under systemd the watchdog restarts a heartbeat that
              stopped for 30 s.
            ||| % [where, config.restartLoopWindow],
          ),

          alert(
            'JitterdDown',
            'down',
            'up{%s} == 0' % selector,
            config.downFor,
            'jitterd cannot be scraped.',
            |||
              Prometheus has failed to scrape %s for more than %s (up = {{ $value }}):
              nothing measures this host's timekeeping, and the other jitterd alerts
              cannot fire for it.
            ||| % [where, config.downFor],
            // The instance that is down may not serve its runbook: link to
            // one of the job's instances that is up, if there is one.
            runbookHost=
            '{{ with query `up{%s} == 1` }}{{ . | sortByLabel "instance" | first | label "instance" }}{{ else }}{{ $labels.instance }}{{ end }}'
            % selector,
          ),
        ],
      },
    ],
  },
}
