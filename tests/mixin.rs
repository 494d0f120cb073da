//! The monitoring mixin in `mixin/`, rendered with `jsonnet` (Debian package
//! `jsonnet`; `scripts/test` installs it): the files it renders are the ones
//! checked in (a stale one is named with the command that regenerates it);
//! it has the monitoring-mixins shape (`prometheusAlerts`, `prometheusRules`,
//! `grafanaDashboards`, `_config`); and its `_config` reaches every output,
//! so that a user's selector, cluster label, severities and runbook URL
//! pattern show up in every rule, alert, dashboard query and federation
//! selector; and the dashboard it renders keeps its uid, filters every
//! query by cluster, job and instance, takes rates over `$__rate_interval`
//! in ops/s, reads exact quantiles per instance, and has its fleet views,
//! per-instance heatmap and restart and reload annotations. Every query over
//! the two lateness histograms reads the native histogram `or` the classic
//! buckets (DESIGN.md, "Native histograms"); the fleet rules aggregate by
//! cluster and feed the "Fleet by cluster" row, which reads nothing else;
//! and every alert links to its section of the runbook jitterd serves.

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
        // Per instance, or per cluster and job (the fleet rules).
        let groups = expr.contains("by (") || expr.contains("on (");
        assert!(!groups || expr.contains("(k8s_cluster, job"), "the cluster label is missing from {expr}");
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

// ------------------------------------------------------------ The dashboard

fn dashboard() -> Value {
    let text = std::fs::read_to_string(Path::new(ROOT).join("grafana/dashboards/jitterd.json")).expect("dashboard");
    serde_json::from_str(&text).expect("dashboard parses")
}

/// Every panel but rows, those inside collapsed rows included.
fn panels(list: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in list.as_array().into_iter().flatten() {
        if panel["type"] != "row" {
            out.push(panel);
        }
        out.extend(panels(&panel["panels"]));
    }
    out
}

/// Whether `expr` reads the fleet recording rules (level `cluster`).
fn reads_cluster_rules(expr: &str) -> bool {
    expr.contains("cluster:jitterd_") || expr.contains("cluster_cause:jitterd_")
}

fn exprs(panel: &Value) -> Vec<&str> {
    panel["targets"].as_array().into_iter().flatten().filter_map(|t| t["expr"].as_str()).collect()
}

#[test]
fn dashboard_keeps_its_uid_and_variables_and_documents_and_filters_every_panel() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "jitterd-overview", "links and bookmarks depend on the uid");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, ["datasource", "cluster", "job", "instance"]);
    let panels = panels(&dashboard["panels"]);
    assert!(panels.len() >= 20, "only {} panels", panels.len());
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "a panel without a title: {panel}");
        assert!(panel["description"].as_str().is_some_and(|d| !d.is_empty()), "{title}: no description");
        let unit = panel["fieldConfig"]["defaults"]["unit"].as_str();
        assert!(unit.is_some(), "{title}: no unit");
        let exprs = exprs(panel);
        assert!(!exprs.is_empty(), "{title}: no query");
        for expr in &exprs {
            // The fleet-by-cluster panels read the cluster recording rules,
            // which have no instance label; everything else is per instance.
            let filter = match reads_cluster_rules(expr) {
                true => r#"{cluster=~"$cluster", job="$job"}"#,
                false => r#"cluster=~"$cluster", job="$job", instance=~"$instance""#,
            };
            assert!(expr.contains(filter), "{title}: unfiltered query: {expr}");
            // Ranges follow the time range shown: no fixed [1m] beside $__rate_interval.
            for range in expr.split('[').skip(1).filter_map(|rest| rest.split_once(']')).map(|(range, _)| range) {
                assert!(["$__rate_interval", "$__range"].contains(&range), "{title}: fixed range [{range}] in {expr}");
            }
        }
        // Rates of events are in ops/s; CPU seconds per second are cores.
        let rates_events = exprs
            .iter()
            .any(|e| e.contains("rate(") && !e.contains("histogram_quantile") && !e.contains("_seconds_total"));
        if panel["type"] == "heatmap" {
            assert_eq!(panel["options"]["cellValues"]["unit"], "ops", "{title}: heatmap cells are rates");
            assert_eq!(panel["options"]["yAxis"]["unit"], "s", "{title}: heatmap buckets are seconds");
        } else if rates_events {
            assert_eq!(unit, Some("ops"), "{title}: a rate of events in {unit:?}, not ops/s");
        }
    }
}

#[test]
fn dashboard_reads_exact_quantiles_per_instance_and_names_its_approximations() {
    let dashboard = dashboard();
    let mut all = Vec::new();
    for panel in panels(&dashboard["panels"]) {
        let title = panel["title"].as_str().unwrap_or_default();
        let description = panel["description"].as_str().unwrap_or_default();
        let exprs = exprs(panel);
        // Quantiles interpolated inside buckets, directly or through a pNN recording rule.
        let from_buckets =
            exprs.iter().any(|e| e.contains("histogram_quantile(") || e.contains(":p9") || e.contains(":p5"));
        assert!(!from_buckets || description.contains("pproximat"), "{title}: bucket quantiles not called approximate");
        for expr in &exprs {
            // Lateness per instance comes from the window summaries; buckets
            // only across instances, or in a heatmap of one instance.
            let lateness_buckets = expr.contains("_lateness_seconds_bucket") && !expr.contains("wake_lateness");
            let one_instance_heatmap = panel["type"] == "heatmap" && panel["repeat"] == "instance";
            assert!(
                !lateness_buckets || expr.contains("sum by (le)") && (one_instance_heatmap || from_buckets),
                "{title}: per-instance lateness from buckets instead of the window summary: {expr}"
            );
        }
        all.extend(exprs);
    }
    for needed in [
        "jitterd_heartbeat_lateness_window_seconds{",
        "jitterd_control_lateness_window_seconds{",
        "jitterd_drift_window_seconds{",
        "jitterd_drift_threshold_seconds{",
        "rate(jitterd_heartbeat_missed_total{",
        "jitterd_heartbeat_jitter_window_seconds{",
        "jitterd_jitter_threshold_seconds{",
        "rate(jitterd_heartbeat_lateness_explained_seconds_total{",
        "rate(jitterd_control_lateness_explained_seconds_total{",
        "rate(jitterd_heartbeat_late_beats_total{",
        "rate(jitterd_control_late_beats_total{",
        "jitterd_explain_source_available{",
        "rate(jitterd_http_rejected_total{",
        "cluster:jitterd_heartbeat_lateness_seconds:p99_rate5m{",
    ] {
        assert!(all.iter().any(|e| e.contains(needed)), "no dashboard query reads {needed}");
    }
}

#[test]
fn dashboard_has_fleet_views_a_heatmap_per_instance_and_restart_and_reload_annotations() {
    let dashboard = dashboard();
    let panels = panels(&dashboard["panels"]);
    let heatmap = panels
        .iter()
        .find(|p| {
            p["type"] == "heatmap" && exprs(p).iter().any(|e| e.contains("jitterd_heartbeat_lateness_seconds_bucket"))
        })
        .expect("a lateness heatmap");
    assert_eq!(heatmap["repeat"], "instance", "one lateness heatmap per instance");
    assert_eq!(heatmap["targets"][0]["format"], "heatmap");
    for (what, series) in [
        ("lateness p99", r#"jitterd_heartbeat_lateness_window_seconds{"#),
        ("drift gained", "jitterd_drift_window_seconds{"),
    ] {
        let fleet = panels.iter().flat_map(|p| exprs(p)).find(|e| e.starts_with("topk(") && e.contains(series));
        assert!(fleet.is_some(), "no top-k view of instances by {what}");
    }
    let annotations = dashboard["annotations"]["list"].as_array().expect("annotations");
    for (what, series) in [("restarts", "process_start_time_seconds{"), ("reloads", "jitterd_config_reloads_total{")] {
        let annotation = annotations
            .iter()
            .find(|a| a["expr"].as_str().is_some_and(|e| e.contains(series)))
            .unwrap_or_else(|| panic!("no annotation for {what}"));
        let text = annotation["textFormat"].as_str().unwrap_or_default();
        assert!(text.contains("drift"), "the {what} annotation should say that drift starts again at 0: {text}");
    }
}

// ------------------------------------------------ Both histogram modes, links

/// The two histograms with native buckets (DESIGN.md, "Native histograms").
const NATIVE: [&str; 2] = ["jitterd_heartbeat_lateness_seconds", "jitterd_control_lateness_seconds"];

#[test]
fn every_lateness_histogram_query_reads_the_native_histogram_or_the_classic_buckets() {
    let mixin = mixin("");
    let mut exprs: Vec<(String, String)> = Vec::new();
    for rule in rules(&mixin["rules"]).into_iter().chain(rules(&mixin["alerts"])) {
        let name = rule["record"].as_str().or(rule["alert"].as_str()).expect("name");
        exprs.push((name.to_owned(), rule["expr"].as_str().expect("expr").to_owned()));
    }
    let mut queries = Vec::new();
    dashboard_exprs(&mixin["dashboards"]["jitterd.json"], &mut queries);
    exprs.extend(queries.into_iter().map(|q| ("dashboard".to_owned(), q)));
    let mut both = 0;
    for (name, expr) in &exprs {
        for metric in NATIVE {
            let classic = expr.contains(&format!("{metric}_bucket{{"));
            let native = expr.contains(&format!("{metric}{{"));
            // A Prometheus with native histograms on keeps only the native
            // part, and one without only the classic one: a query must read both.
            assert_eq!(
                classic,
                native,
                "{name}: reads only the {} part of {metric}: {expr}",
                match classic {
                    true => "classic",
                    false => "native",
                }
            );
            // Scraping protobuf, Prometheus writes the summaries' max as quantile="1.0".
            assert!(!expr.contains(r#"quantile="1""#), "{name}: quantile=\"1\" is \"1.0\" in native mode: {expr}");
            for suffix in ["_count{", "_sum{"] {
                assert!(
                    !expr.contains(&format!("{metric}{suffix}")),
                    "{name}: {metric}{suffix} is gone in native mode"
                );
            }
            if classic {
                assert!(expr.contains("\nor\n"), "{name}: native and classic not joined by or: {expr}");
                both += 1;
            }
        }
    }
    assert!(both >= 12, "only {both} queries read the lateness histograms");
}

#[test]
fn fleet_rules_aggregate_by_cluster_and_feed_the_fleet_by_cluster_row() {
    let mixin = mixin("");
    let recorded: Vec<String> =
        rules(&mixin["rules"]).iter().filter_map(|r| r["record"].as_str().map(str::to_owned)).collect();
    for needed in [
        "cluster:jitterd_heartbeat_lateness_seconds:p50_rate5m",
        "cluster:jitterd_heartbeat_lateness_seconds:p99_rate5m",
        "cluster:jitterd_heartbeat_lateness_seconds:p999_rate5m",
        "cluster:jitterd_control_lateness_seconds:p99_rate5m",
        "cluster_cause:jitterd_heartbeat_late_beats:rate5m",
    ] {
        assert!(recorded.iter().any(|r| r == needed), "no recording rule {needed}");
    }
    for rule in rules(&mixin["rules"]) {
        let (name, expr) = (rule["record"].as_str().unwrap_or_default(), rule["expr"].as_str().unwrap_or_default());
        if name.starts_with("cluster") {
            assert!(expr.contains("(cluster, job"), "{name} does not aggregate by cluster and job: {expr}");
            assert!(!expr.contains("instance"), "{name} keeps the instance: {expr}");
        }
    }
    // The row reads recorded series only: a few per cluster, whatever the fleet's size.
    let dashboard = &mixin["dashboards"]["jitterd.json"];
    let row = dashboard["panels"].as_array().expect("panels").iter().position(|p| p["title"] == "Fleet by cluster");
    let row = row.expect("a Fleet by cluster row");
    let panels: Vec<&Value> =
        dashboard["panels"].as_array().expect("panels")[row + 1..].iter().take_while(|p| p["type"] != "row").collect();
    assert!(panels.len() >= 3, "the Fleet by cluster row has {} panels", panels.len());
    for panel in panels {
        for expr in exprs(panel) {
            assert!(reads_cluster_rules(expr), "{}: reads raw series at fleet size: {expr}", panel["title"]);
            assert!(recorded.iter().any(|r| expr.contains(r.as_str())), "{}: reads no recording rule", panel["title"]);
        }
    }
}

#[test]
fn runbook_links_default_to_the_served_runbook_and_every_alert_has_its_section() {
    let runbook = std::fs::read_to_string(Path::new(ROOT).join("docs/runbook.md")).expect("docs/runbook.md");
    for (overrides, scheme) in [("", "http"), ("jitterdScheme: 'https'", "https")] {
        let mixin = mixin(overrides);
        for alert in rules(&mixin["alerts"]) {
            let name = alert["alert"].as_str().expect("alert");
            let url = alert["annotations"]["runbook_url"].as_str().expect("runbook_url");
            // The served runbook gives each `## JitterdXxx` heading the id
            // jitterdxxx: a link works only if that heading exists.
            assert!(runbook.contains(&format!("\n## {name}\n")), "docs/runbook.md has no heading `## {name}`");
            let anchor = format!("/runbook#{}", name.to_lowercase());
            assert!(url.starts_with(&format!("{scheme}://")) && url.ends_with(&anchor), "{name}: {url}");
            let host = &url[scheme.len() + 3..url.len() - anchor.len()];
            match name {
                // The instance that is down may not answer: another of its job.
                "JitterdDown" => assert!(host.contains("query `up{") && host.contains("$labels.instance"), "{url}"),
                _ => assert_eq!(host, "{{ $labels.instance }}", "{name}: {url}"),
            }
        }
    }
}
