//! The monitoring mixin in `mixin/`, rendered with `jsonnet` (Debian package
//! `jsonnet`; `scripts/test` installs it): the files it renders are the ones
//! checked in (a stale one is named with the command that regenerates it);
//! it has the monitoring-mixins shape (`prometheusAlerts`, `prometheusRules`,
//! `grafanaDashboards`, `_config`); and its `_config` reaches every output,
//! so that a user's selector, cluster label, severities and runbook URL
//! pattern show up in every rule, alert, dashboard query and federation
//! selector.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `jsonnet -J mixin ARGS` in the repository, parsed as JSON.
fn jsonnet(args: &[&str]) -> Value {
    let out = Command::new("jsonnet")
        .args(["-J", "mixin"])
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("jsonnet (Debian package jsonnet; scripts/test installs it)");
    assert!(out.status.success(), "jsonnet {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("jsonnet prints JSON")
}

/// The mixin with `overrides` added to its `_config`, as `{ rules, alerts, dashboard, federation, config }`.
fn mixin(overrides: &str) -> Value {
    jsonnet(&[
        "-e",
        &format!(
            "local m = (import 'mixin.libsonnet') + {{ _config+:: {{ {overrides} }} }};\n\
             {{ rules: m.prometheusRules, alerts: m.prometheusAlerts, dashboards: m.grafanaDashboards,\n\
                federation: m.federation, config: m._config }}"
        ),
    ])
}

fn rules(groups: &Value) -> Vec<&Value> {
    groups["groups"].as_array().expect("groups").iter().flat_map(|g| g["rules"].as_array().expect("rules")).collect()
}

/// Every `expr` in a dashboard: panel targets (nested rows too), annotations and variables.
fn dashboard_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for key in ["expr", "definition"] {
                if let Some(expr) = map.get(key).and_then(Value::as_str) {
                    out.push(expr.to_owned());
                }
            }
            map.values().for_each(|v| dashboard_exprs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

#[test]
fn checked_in_files_are_what_the_mixin_renders() {
    let rendered = jsonnet(&["mixin/build.jsonnet"]);
    let files = rendered.as_object().expect("build.jsonnet renders an object of files");
    assert!(files.len() >= 4, "build.jsonnet renders {} files", files.len());
    let mut stale = Vec::new();
    for (path, text) in files {
        // `jsonnet -S -m` (mixin/generate) ends each file with a newline.
        let want = format!("{}\n", text.as_str().expect("file text"));
        let have = std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_default();
        if have != want {
            let want = want.as_str();
            let line = have
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(have.lines().count().min(want.lines().count()));
            stale.push(format!(
                "{path} is stale: from line {}, the file has\n    {:?}\n  and the mixin renders\n    {:?}",
                line + 1,
                have.lines().nth(line).unwrap_or("<end of file>"),
                want.lines().nth(line).unwrap_or("<end of file>"),
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nThese files are rendered from mixin/: edit the mixin, then run mixin/generate and commit what it writes.",
        stale.join("\n")
    );
}

#[test]
fn mixin_has_the_monitoring_mixins_shape() {
    let mixin = mixin("");
    let alerts = rules(&mixin["alerts"]);
    assert!(alerts.len() >= 9, "only {} alerts", alerts.len());
    assert!(alerts.iter().all(|rule| rule["alert"].is_string()), "prometheusAlerts holds alerting rules only");
    let recorded = rules(&mixin["rules"]);
    assert!(!recorded.is_empty() && recorded.iter().all(|rule| rule["record"].is_string()), "prometheusRules records");
    assert!(mixin["dashboards"]["jitterd.json"]["panels"].is_array(), "grafanaDashboards['jitterd.json']");
    for key in ["jitterdSelector", "clusterLabel", "severities", "runbookURLPattern", "driftGainedFor", "dashboardUid"]
    {
        assert!(!mixin["config"][key].is_null(), "_config has no {key}");
    }
    for alert in &alerts {
        let severity = alert["labels"]["severity"].as_str().expect("severity");
        assert!(["critical", "warning", "info"].contains(&severity), "{}: severity {severity}", alert["alert"]);
    }
}

#[test]
fn config_overrides_reach_every_rule_alert_query_and_selector() {
    let mixin = mixin(
        "jitterdSelector: 'job=\"node-jitterd\"', clusterLabel: 'k8s_cluster', \
         runbookURLPattern: 'https://runbooks.test/jitterd/%s', severities+: { heartbeatStalled: 'page' }, \
         dashboardUid: 'fleet-jitterd', showMultiCluster: false",
    );
    let mut exprs: Vec<String> = Vec::new();
    for rule in rules(&mixin["rules"]).into_iter().chain(rules(&mixin["alerts"])) {
        exprs.push(rule["expr"].as_str().expect("expr").to_owned());
    }
    for expr in &exprs {
        assert!(expr.contains(r#"job="node-jitterd""#), "the selector is missing from {expr}");
        assert!(!expr.contains(r#"job="jitterd""#), "the default selector is left in {expr}");
        let groups = expr.contains("by (") || expr.contains("on (");
        assert!(!groups || expr.contains("(k8s_cluster, job, instance"), "the cluster label is missing from {expr}");
        assert!(!expr.contains("(cluster,"), "the default cluster label is left in {expr}");
    }
    for alert in rules(&mixin["alerts"]) {
        let name = alert["alert"].as_str().expect("alert");
        let url = alert["annotations"]["runbook_url"].as_str().expect("runbook_url");
        assert_eq!(url, format!("https://runbooks.test/jitterd/{}", name.to_lowercase()));
        if name == "JitterdHeartbeatStalled" {
            assert_eq!(alert["labels"]["severity"], "page");
        }
    }

    let dashboard = &mixin["dashboards"]["jitterd.json"];
    assert_eq!(dashboard["uid"], "fleet-jitterd");
    let variables = dashboard["templating"]["list"].as_array().expect("variables");
    let cluster = variables.iter().find(|v| v["name"] == "cluster").expect("cluster variable");
    assert_eq!(cluster["hide"], 2, "showMultiCluster: false hides the cluster variable");
    let mut queries = Vec::new();
    dashboard_exprs(dashboard, &mut queries);
    assert!(queries.len() >= 20, "only {} dashboard queries", queries.len());
    for query in &queries {
        let reads_series = query.contains('{');
        assert!(!reads_series || query.contains("k8s_cluster"), "the cluster label is missing from {query}");
        assert!(!query.contains("{cluster=~") && !query.contains(" cluster=~"), "the default label is left in {query}");
    }
    assert!(cluster["definition"].as_str().is_some_and(|d| d.contains(r#"job="node-jitterd""#)), "{cluster}");

    for selector in mixin["federation"]["match"].as_array().expect("federation.match") {
        assert!(selector.as_str().is_some_and(|s| s.contains(r#"job="node-jitterd""#)), "federation: {selector}");
    }
}
