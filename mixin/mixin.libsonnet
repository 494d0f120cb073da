// The jitterd monitoring mixin: alerts, recording rules and the Grafana
// dashboard, following the monitoring-mixins conventions
// (prometheusAlerts, prometheusRules, grafanaDashboards, _config).
//
// Use it as it is, or override its _config (see config.libsonnet):
//
//   local jitterd = (import 'mixin.libsonnet') + {
//     _config+:: { jitterdSelector: 'job="node-jitterd"', runbookURLPattern: 'https://…/runbook.md#%s' },
//   };
//   jitterd.prometheusAlerts   // { groups: [...] }
//
// It needs nothing but jsonnet. The files this repository ships
// (deploy/prometheus, the PrometheusRule, grafana/dashboards) are rendered
// from it by mixin/generate.
(import 'config.libsonnet') +
(import 'rules.libsonnet') +
(import 'alerts.libsonnet') +
(import 'dashboards.libsonnet') +
(import 'federation.libsonnet')
