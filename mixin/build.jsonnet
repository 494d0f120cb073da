// The files of this repository rendered from the mixin, by path. Run
// mixin/generate to write them (`jsonnet -S -m`, which ends each file with a
// newline); tests/mixin.rs renders them again and fails on any difference.
local mixin = import 'mixin.libsonnet';
local manifest = import 'lib/manifest.libsonnet';

local header(lines) = std.join('', [if line == '' then '#\n' else '# %s\n' % line for line in lines]);
local generated = [
  'Generated from mixin/ by mixin/generate: edit the mixin, not this file.',
];
local yaml(value) = manifest.yaml(value);

{
  'deploy/prometheus/jitterd.rules.yml':
    header(generated + [
      '',
      'Recording and alerting rules for jitterd. Load it with rule_files: (see',
      'prometheus.yml) and name the scrape job "jitterd", or render the mixin',
      'with your own _config. Thresholds and the period come from the gauges the',
      'daemon exports and drift gained from its own window, so changing',
      'jitterd.toml needs no change here. Each alert is explained in',
      'docs/runbook.md; why each rule reads as it does, in mixin/*.libsonnet.',
    ]) + yaml({ groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups }),

  'deploy/kubernetes/prometheusrule.yaml':
    header(generated + [
      '',
      'The rules of deploy/prometheus/jitterd.rules.yml for the Prometheus',
      "Operator. The Prometheus resource's ruleSelector must match these labels;",
      'kube-prometheus selects every PrometheusRule in the namespaces it watches.',
    ]) + yaml({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: {
        name: 'jitterd',
        namespace: 'jitterd',
        labels: {
          'app.kubernetes.io/name': 'jitterd',
          'app.kubernetes.io/component': 'alert-rules',
          role: 'alert-rules',
        },
      },
      spec: { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups },
    }),

  'deploy/prometheus/federation.yml':
    header(generated + [
      '',
      "A scrape job for a global Prometheus that pulls jitterd's series from each",
      "cluster's (or host's) Prometheus through /federate: add it to the global",
      "one's scrape_configs and list your Prometheus servers as targets. The",
      'match[] list covers every series the dashboard and the alerts read, and no',
      'more (see mixin/federation.libsonnet). Evaluate the alerts in each source',
      'Prometheus, where the raw data is, and the global one can do without',
      'rules: it receives the recording rules\' results.',
    ]) + yaml({
      scrape_configs: [{
        job_name: 'federate-jitterd',
        // Keep each source's job and instance labels (and its cluster label).
        honor_labels: true,
        metrics_path: '/federate',
        scrape_interval: '30s',
        params: { 'match[]': mixin.federation.match },
        static_configs: [
          { targets: ['prometheus.cluster-a.example:9090'], labels: { [mixin._config.clusterLabel]: 'a' } },
          { targets: ['prometheus.cluster-b.example:9090'], labels: { [mixin._config.clusterLabel]: 'b' } },
        ],
      }],
    }),
} + {
  ['grafana/dashboards/' + name]: manifest.json(mixin.grafanaDashboards[name])
  for name in std.objectFields(mixin.grafanaDashboards)
}
