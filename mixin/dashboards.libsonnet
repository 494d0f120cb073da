// grafanaDashboards: one dashboard per file name.
(import 'dashboards/jitterd.libsonnet')
