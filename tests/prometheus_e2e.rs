//! End to end against real Prometheus servers. jitterd (period 100 ms) is
//! scraped every second by two cluster Prometheus servers (external label
//! `cluster="e2e"`) that load the rules of `deploy/prometheus/`: one as
//! shipped, one with `--enable-feature=native-histograms`, which asks for
//! protobuf and keeps only the native part of a histogram that has both
//! (DESIGN.md, "Native histograms"). A global Prometheus pulls from the
//! first through `/federate` with the match[] list of
//! `deploy/prometheus/federation.yml`. jitterd is reloaded once and
//! restarted once on its address, so that the dashboard's annotations have
//! something to mark. Then every dashboard query (panels, repeated and
//! collapsed ones included, annotations and variables) must return data on
//! all three servers, which is what "the federation list covers every
//! panel" and "the mixin works in both modes" mean; every rule expression
//! must evaluate on both cluster servers and read only metrics the daemon
//! exports or the rules record (a rule on a misspelt metric evaluates fine
//! and never fires), and every recording rule must record something;
//! everything an alert reads and every recorded series must reach the
//! global one; and every alert's runbook link must open its section of the
//! runbook jitterd serves.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const PROMETHEUS: &str = "prometheus";
/// What Grafana would put for `$__rate_interval` at a 1 s scrape interval.
const RATE_INTERVAL: &str = "10s";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A Prometheus server, killed when dropped (also when a test panics).
struct Prometheus {
    child: Child,
    base_url: String,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
    /// The rules it loads, when they are a copy.
    _rules: Option<tempfile::NamedTempFile>,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus on a free loopback port with this configuration.
    fn start(config: &str, flags: &[&str]) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let log_path = dir.path().join("prometheus.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian package prometheus; scripts/test installs it)");
        Prometheus { child, base_url: format!("http://127.0.0.1:{port}"), log_path, _dir: dir, _rules: None }
    }

    /// A cluster's Prometheus: scrapes `target` every second as job
    /// "jitterd", evaluates the jitterd rules every second (the groups' own
    /// intervals, e.g. the fleet rules' minute, dropped so that they run
    /// within the test), and labels what it federates with `cluster="e2e"`.
    /// With `flags`, e.g. native histograms on.
    fn cluster(target: &str, flags: &[&str]) -> Prometheus {
        let text = std::fs::read_to_string(repo("deploy/prometheus/jitterd.rules.yml")).expect("rules");
        let mut rules: serde_norway::Value = serde_norway::from_str(&text).expect("rules parse");
        for group in rules["groups"].as_sequence_mut().expect("groups") {
            group.as_mapping_mut().expect("group").remove("interval");
        }
        let rules_file = tempfile::NamedTempFile::new().expect("rules file");
        std::fs::write(rules_file.path(), serde_norway::to_string(&rules).expect("rules")).expect("write rules");
        let mut prometheus = Prometheus::start(
            &format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels:\n    cluster: e2e\n\
                 rule_files:\n  - {rules}\n\
                 scrape_configs:\n  - job_name: jitterd\n    static_configs:\n      - targets: [\"{target}\"]\n",
                rules = rules_file.path().display()
            ),
            flags,
        );
        prometheus._rules = Some(rules_file);
        prometheus
    }

    /// A global Prometheus running the federation job of
    /// `deploy/prometheus/federation.yml` against `source`, every second.
    fn global(source: &Prometheus) -> Prometheus {
        let text = std::fs::read_to_string(repo("deploy/prometheus/federation.yml")).expect("federation.yml");
        let mut config: serde_norway::Value = serde_norway::from_str(&text).expect("federation.yml parses");
        let job = &mut config["scrape_configs"][0];
        assert!(job["params"]["match[]"].as_sequence().is_some_and(|m| !m.is_empty()), "no match[] in {text}");
        job["scrape_interval"] = "1s".into();
        let target = source.base_url.trim_start_matches("http://");
        job["static_configs"] = serde_norway::from_str(&format!("[{{targets: [\"{target}\"]}}]")).expect("targets");
        Prometheus::start(&serde_norway::to_string(&config).expect("global config"), &[])
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// A query, instant or over the last three minutes: the API's status, its
    /// `data.result` and the whole body.
    fn query(&self, expr: &str, range: bool) -> (String, Vec<Value>, String) {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        // To the millisecond: a sample scraped within the last second counts.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64();
        let request = match range {
            false => agent.get(format!("{}/api/v1/query", self.base_url)).query("query", expr),
            true => agent
                .get(format!("{}/api/v1/query_range", self.base_url))
                .query("query", expr)
                .query("start", format!("{:.3}", now - 180.0))
                .query("end", format!("{now:.3}"))
                .query("step", "5"),
        };
        let body = match request.call() {
            Ok(mut response) => response.body_mut().read_to_string().unwrap_or_default(),
            Err(err) => return (format!("request failed: {err}"), Vec::new(), String::new()),
        };
        let json: Value = serde_json::from_str(&body).unwrap_or_default();
        let status = json["status"].as_str().unwrap_or("unparsable").to_owned();
        let result = json["data"]["result"].as_array().cloned().unwrap_or_default();
        (status, result, body)
    }

    /// Waits until `expr` returns at least one series.
    fn wait_for(&mut self, expr: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.query(expr, false).1.is_empty() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited with {status}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "no result for {expr} within {timeout:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Every metric name this server holds (native histograms included,
    /// which not every aggregation of Prometheus 2.42 passes on).
    fn names(&self) -> BTreeSet<String> {
        let url = format!("{}/api/v1/label/__name__/values", self.base_url);
        let mut response = ureq::get(&url).call().expect("label values");
        let body = response.body_mut().read_to_string().expect("body");
        let json: Value = serde_json::from_str(&body).expect("label values parse");
        let names = json["data"].as_array().unwrap_or_else(|| panic!("label values: {body}"));
        names.iter().filter_map(|name| name.as_str().map(str::to_owned)).collect()
    }
}

/// jitterd started again on the address an earlier one listened on: a
/// restart. Killed when dropped; its config lives in `_dir`.
struct Restarted {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn restart(daemon: common::Daemon) -> Restarted {
    let addr = daemon.addr.clone();
    // The old daemon's directory goes with it: keep its config in one of ours.
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("jitterd.toml");
    std::fs::copy(&daemon.config_path, &config_path).expect("copy config");
    drop(daemon);
    let mut child = Command::new(common::BIN)
        .arg("--config.file")
        .arg(&config_path)
        .args(["--web.listen-address", &addr])
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("restart jitterd");
    let deadline = Instant::now() + Duration::from_secs(20);
    while common::http("GET", &format!("http://{addr}/-/ready")).0 != 200 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the restarted jitterd exited with {status}");
        }
        assert!(Instant::now() < deadline, "the restarted jitterd did not get ready on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Restarted { child, _dir: dir }
}

/// The dashboard's queries: `(what, expr, range)`, range for annotations,
/// which Grafana evaluates over the time range shown.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String, bool)> {
    fn panels(list: &Value, out: &mut Vec<(String, String, bool)>) {
        for panel in list.as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let title = panel["title"].as_str().unwrap_or_default();
                out.push((format!("panel {title:?}"), target["expr"].as_str().expect("expr").to_owned(), false));
            }
            panels(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    panels(&dashboard["panels"], &mut out);
    for annotation in dashboard["annotations"]["list"].as_array().expect("annotations") {
        if let Some(expr) = annotation["expr"].as_str() {
            out.push((format!("annotation {}", annotation["name"]), expr.to_owned(), true));
        }
    }
    out
}

/// The dashboard's variables as Grafana would fill them for this daemon.
fn substitute(expr: &str, instance: &str, cluster: &str) -> String {
    expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", "1s")
        .replace("$__range", "5m")
        .replace("$cluster", cluster)
        .replace("$job", "jitterd")
        .replace("$instance", instance)
}

/// The rules' `(name recorded or alert, expr, the alert's runbook_url)`.
fn rules() -> Vec<(String, String, Option<String>)> {
    let text = std::fs::read_to_string(repo("deploy/prometheus/jitterd.rules.yml")).expect("rules");
    let rules: serde_norway::Value = serde_norway::from_str(&text).expect("rules parse");
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().expect("rules").iter())
        .map(|rule| {
            let name = rule["record"].as_str().or(rule["alert"].as_str()).expect("record or alert");
            let runbook = rule["annotations"]["runbook_url"].as_str().map(str::to_owned);
            (name.to_owned(), rule["expr"].as_str().expect("expr").to_owned(), runbook)
        })
        .collect()
}

/// The words of `expr` that could be metric names.
fn tokens(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).filter(|token| !token.is_empty())
}

/// Whether `name` is held by a server holding `known`. A histogram read as
/// native `or` classic needs only one of its two forms: a Prometheus with
/// native histograms on keeps `jitterd_x_seconds` and drops
/// `jitterd_x_seconds_bucket`, one without keeps the buckets.
fn held(name: &str, known: &BTreeSet<String>) -> bool {
    let other = match name.strip_suffix("_bucket") {
        Some(native) => native.to_owned(),
        None => format!("{name}_bucket"),
    };
    known.contains(name) || known.contains(&other)
}

/// Every alert's runbook link, opened on the running jitterd (whose
/// address is the instance label): it must answer and hold the section's
/// id. Says NOT TESTED while jitterd serves no `/runbook`.
fn runbook_links_open_their_sections(
    addr: &str,
    rules: &[(String, String, Option<String>)],
    failures: &mut Vec<String>,
) {
    for (alert, _, url) in rules {
        let Some(url) = url else { continue };
        let (Some((_, rest)), Some((_, anchor))) = (url.split_once("://"), url.rsplit_once('#')) else {
            failures.push(format!("{alert}: runbook_url {url} is not a URL with an anchor"));
            continue;
        };
        // The host part is a template ({{ $labels.instance }}, or a query for
        // an instance that is up): here, the one jitterd there is.
        let path = &rest[rest.find("/runbook").unwrap_or(0)..rest.len() - anchor.len() - 1];
        let (status, body) = common::http("GET", &format!("http://{addr}{path}"));
        if status == 404 {
            common::not_tested(&format!("runbook links: jitterd answers 404 to GET {path} (not served yet)"));
            return;
        }
        let id = [format!("id=\"{anchor}\""), format!("id='{anchor}'"), format!("id={anchor}")];
        if status != 200 || !id.iter().any(|id| body.contains(id.as_str())) {
            failures.push(format!("{alert}: GET {path} answered {status} without the id {anchor}"));
        }
    }
}

#[test]
fn dashboard_and_rules_work_on_a_cluster_prometheus_and_through_federation() {
    // Held for the whole test: the restarted jitterd and the Prometheus
    // servers outlive the first Daemon, which held the lock only till then.
    let _alone = common::alone();
    let started = Instant::now();
    let config = common::config("async", "100ms");
    let daemon = common::Daemon::start(&config);
    let addr = daemon.addr.clone();
    let mut cluster = Prometheus::cluster(&addr, &[]);
    let mut native = Prometheus::cluster(&addr, &["--enable-feature=native-histograms"]);
    let mut global = Prometheus::global(&cluster);
    cluster.wait_for(r#"count_over_time(up{job="jitterd"}[1m]) >= 4"#, Duration::from_secs(30));
    native.wait_for(r#"count_over_time(up{job="jitterd"}[1m]) >= 4"#, Duration::from_secs(30));

    // A reload, then a restart on the same address: one of each to annotate.
    daemon.write_config(&config);
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_metrics(Duration::from_secs(10), "the reload", |m| {
        m.get("jitterd_config_reloads_total{result=\"success\"}") >= 1.0
    });
    // Every server must hold the reload before the restart resets the counter,
    // or the global one never sees it to annotate.
    for server in [&mut cluster, &mut native, &mut global] {
        server.wait_for(r#"jitterd_config_reloads_total{result="success"} >= 1"#, Duration::from_secs(20));
    }
    let _restarted = restart(daemon);
    // The new process scraped for a few seconds, so that rates over
    // $__rate_interval have samples of it; federated too, recording rules included.
    let restarted_a_while_ago = "changes(process_start_time_seconds[1m]) >= 1 \
         and timestamp(process_start_time_seconds) - process_start_time_seconds >= 4";
    for server in [&mut cluster, &mut native, &mut global] {
        server.wait_for(restarted_a_while_ago, Duration::from_secs(30));
    }
    global.wait_for(r#"instance:jitterd_heartbeats:rate1m{cluster="e2e"}"#, Duration::from_secs(30));
    // The native run means something once jitterd answers protobuf: say so until then.
    let native_names = native.names();
    if !native_names.contains("jitterd_heartbeat_lateness_seconds") {
        common::not_tested(
            "native-histogram mode: Prometheus with --enable-feature=native-histograms got no native \
             jitterd_heartbeat_lateness_seconds (jitterd answered the text format), so that run read classic buckets",
        );
    }

    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(repo("grafana/dashboards/jitterd.json")).expect("dashboard"))
            .expect("dashboard parses");
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 25, "only {} dashboard queries", queries.len());
    let mut failures = Vec::new();
    // The cluster's own Prometheus has no cluster label: "All" (.*) matches its absence.
    for (server, name, cluster_value) in
        [(&cluster, "cluster", ".*"), (&native, "native", ".*"), (&global, "global", "e2e")]
    {
        for (what, expr, range) in &queries {
            let query = substitute(expr, &addr, cluster_value);
            assert!(!query.contains('$'), "unsubstituted variable in {query}");
            let (status, result, body) = server.query(&query, *range);
            if status != "success" || result.is_empty() {
                failures.push(format!("{name}: {what}: {query}\n  -> {status}, {} series: {body}", result.len()));
            }
        }
        // The variables' own queries: label_values(<selector>, <label>).
        for variable in dashboard["templating"]["list"].as_array().expect("variables") {
            let Some(definition) = variable["definition"].as_str() else { continue };
            let inner = definition.strip_prefix("label_values(").and_then(|d| d.strip_suffix(')')).expect("values");
            let (selector, label) = inner.rsplit_once(',').expect("label_values(selector, label)");
            let label = label.trim();
            if name != "global" && variable["name"] == "cluster" {
                continue;
            }
            let (status, result, body) = server.query(&substitute(selector, &addr, cluster_value), false);
            if status != "success" || !result.iter().any(|r| r["metric"][label].is_string()) {
                failures.push(format!("{name}: variable {definition}\n  -> {status}: {body}"));
            }
        }
    }

    // Rules: each evaluates where the raw data is, in both modes, reads
    // only what jitterd exports or the rules record, and records something.
    let rules = rules();
    let known = cluster.names();
    for (server, name, known) in [(&cluster, "cluster", &known), (&native, "native", &native_names)] {
        for (rule, expr, _) in &rules {
            let (status, _, body) = server.query(expr, false);
            if status != "success" {
                failures.push(format!("{name}: rule {rule}: {expr}\n  -> {status}: {body}"));
            }
            for metric in tokens(expr).filter(|t| t.contains("jitterd_") && !held(t, known)) {
                failures.push(format!(
                    "{name}: rule {rule} reads {metric}, which jitterd does not export and no rule records"
                ));
            }
            if rule.contains(':') && server.query(rule, false).1.is_empty() {
                failures.push(format!("{name}: recording rule {rule} recorded nothing: {expr}"));
            }
        }
    }
    // Federation: what the alerts read and what the rules record reach the global Prometheus.
    let federated = global.names();
    for (rule, expr, _) in &rules {
        let needs: Vec<&str> = match rule.contains(':') {
            true => vec![rule.as_str()],
            false => tokens(expr).filter(|t| known.contains(*t)).collect(),
        };
        for name in needs.into_iter().filter(|name| !federated.contains(*name)) {
            failures.push(format!(
                "{rule} needs {name}, which the federation match[] list (mixin/federation.libsonnet) leaves out"
            ));
        }
    }
    runbook_links_open_their_sections(&addr, &rules, &mut failures);
    assert!(
        failures.is_empty(),
        "{}\ncluster prometheus log:\n{}\nnative prometheus log:\n{}\nglobal prometheus log:\n{}",
        failures.join("\n"),
        cluster.log(),
        native.log(),
        global.log()
    );
    println!(
        "{} dashboard queries on 3 servers and {} rule expressions on 2 evaluated in {:.1?}",
        queries.len(),
        rules.len(),
        started.elapsed()
    );
}
