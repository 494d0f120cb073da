// What a user of the mixin may change. Override any key with
//
//   (import 'mixin.libsonnet') + { _config+:: { jitterdSelector: 'job="node-jitterd"' } }
//
// Every alert, recording rule, dashboard query and the federation match[]
// list is built from these, so one override reaches all of them.
{
  _config+:: {
    // The series of jitterd's scrape job(s). Every alert and recording rule
    // selects with it, the dashboard's job variable lists only jobs it
    // matches, and the federation match[] list pulls only those. The shipped
    // scrape configs (compose, ServiceMonitor) name the job "jitterd".
    jitterdSelector: 'job="jitterd"',

    // The label that tells clusters (or sites) apart in a global Prometheus:
    // each source Prometheus's external_labels, or a label added by the
    // federation job. Series without it are fine: aggregations keep it where
    // it exists. showMultiCluster shows the dashboard's cluster variable.
    clusterLabel: 'cluster',
    showMultiCluster: true,

    // Severity of each alert. Only a heartbeat that has stopped for minutes
    // pages by default: the host cannot schedule a thread, and nothing
    // measures it meanwhile. Everything else is a ticket (warning) or
    // context for other alerts (info).
    severities: {
      heartbeatStalled: 'critical',
      driftHigh: 'warning',
      jitterHigh: 'warning',
      restartLoop: 'warning',
      down: 'warning',
      configReloadFailed: 'warning',
      recordWriteErrors: 'warning',
      inconsistentReads: 'warning',
      missedBeats: 'info',
    },

    // Where each alert's runbook_url points: %s is the alert's name in lower
    // case, which is also the anchor of its section in docs/runbook.md.
    //
    // The default links to the runbook jitterd serves itself (GET /runbook,
    // docs/runbook.md embedded in the binary, so it always matches the
    // running version) on the instance that fired: the alert's instance
    // label is the address Prometheus scraped. That works wherever the
    // reader's browser reaches the scrape address (hosts on the operators'
    // network, a VPN). It does not where instance is relabelled to a name
    // that is no address, or where pod IPs are private to the cluster: then
    // point the pattern at a copy you render or at an Ingress, e.g.
    // 'https://git.example.com/ops/jitterd/-/blob/main/docs/runbook.md#%s'.
    // /runbook sits behind the same TLS and basic auth as /metrics
    // (--web.config.file): set jitterdScheme to 'https' when jitterd serves
    // TLS. JitterdDown's link names another instance of the job that is up,
    // since the one that fired may not answer (mixin/alerts.libsonnet).
    jitterdScheme: 'http',
    runbookURLPattern: self.jitterdScheme + '://{{ $labels.instance }}/runbook#%s',

    // Drift gained is measured by the daemon over its own alerts.drift_window
    // (default 10m) and exported as jitterd_drift_window_seconds, with the
    // window itself as jitterd_drift_window_length_seconds: the rules read
    // the daemon's gauge rather than repeating its window here, so the two
    // can never disagree. What the mixin decides is how long drift gained
    // must stay above the threshold before JitterdDriftHigh fires; keep it
    // well below the daemon's window, or a single stall, which stays in the
    // gauge for one window, never fires.
    driftGainedFor: '1m',

    // JitterdJitterHigh: the p99 of jitter over the daemon's record.window
    // (jitterd_heartbeat_jitter_window_seconds, exact), above the threshold
    // for this long.
    jitterFor: '5m',

    // JitterdHeartbeatStalled: no beat for 3 periods + 1 s, for this long.
    stalledFor: '2m',

    // JitterdDown: unscraped for this long (as kube-prometheus's TargetDown).
    downFor: '10m',

    // JitterdRestartLoop: more than restartLoopRestarts new processes within
    // restartLoopWindow. The systemd watchdog restarts a stalled jitterd
    // about every 35 s, too often for JitterdHeartbeatStalled's "for".
    restartLoopWindow: '15m',
    restartLoopRestarts: 2,
    restartLoopFor: '5m',

    // Windows of the counter alerts (torn reads, missed slots, log writes).
    inconsistentReadsWindow: '5m',
    missedBeatsWindow: '10m',
    recordWriteErrorsWindow: '10m',
    counterAlertsFor: '1m',

    // The window of the fleet recording rules (jitterd.fleet.rules: lateness
    // quantiles, late beats and lateness by cause, per cluster and job),
    // which the dashboard's "Fleet by cluster" row reads.
    fleetWindow: '5m',
    // How often that group is evaluated: each evaluation reads every
    // instance's buckets over fleetWindow, the costliest rules at fleet size
    // (docs/fleet.md), and a point a minute is plenty for a fleet view.
    fleetInterval: '1m',

    // The dashboard.
    dashboardUid: 'jitterd-overview',
    dashboardTitle: 'jitterd',
    dashboardTags: ['jitterd'],
    dashboardRefresh: '30s',
    dashboardTimezone: '',
    // Instances in each fleet panel (worst lateness, most drift gained).
    fleetTopK: 10,
    // Grafana evaluates annotation queries at this step. Their windows are
    // twice the step, so that no restart or reload falls between two steps
    // (changes() needs a sample on each side of the change).
    annotationStep: '1m',
  },
}
