//! End to end against a real Prometheus server: jitterd (period 100 ms) is
//! scraped every second with the rules of `deploy/prometheus/` loaded, and
//! then every query of the Grafana dashboard and every rule expression is
//! evaluated through Prometheus's HTTP API. Dashboard queries must return
//! data; rule expressions must evaluate without error and read only metrics
//! the daemon exports or the rules record (a rule on a misspelt or missing
//! metric evaluates fine and never fires).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus on a free loopback port, scraping `target` every
    /// second as job "jitterd" and evaluating the jitterd rules every second.
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let config_path = dir.path().join("prometheus.yml");
        let rules = repo("deploy/prometheus/jitterd.rules.yml");
        std::fs::write(
            &config_path,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules}\n\
                 scrape_configs:\n  - job_name: jitterd\n    static_configs:\n      - targets: [\"{target}\"]\n",
                rules = rules.display()
            ),
        )
        .expect("write prometheus.yml");
        let log_path = dir.path().join("prometheus.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian package prometheus; scripts/test installs it)");
        Prometheus { child, base_url: format!("http://127.0.0.1:{port}"), log_path, _dir: dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// An instant query: the API's status and its `data.result`.
    fn query(&self, expr: &str) -> (String, Vec<serde_json::Value>, String) {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        let body = match agent.get(format!("{}/api/v1/query", self.base_url)).query("query", expr).call() {
            Ok(mut response) => response.body_mut().read_to_string().unwrap_or_default(),
            Err(err) => return (format!("request failed: {err}"), Vec::new(), String::new()),
        };
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let status = json["status"].as_str().unwrap_or("unparsable").to_owned();
        let result = json["data"]["result"].as_array().cloned().unwrap_or_default();
        (status, result, body)
    }

    /// Waits until Prometheus has scraped `job` at least `scrapes` times.
    fn wait_for_scrapes(&mut self, job: &str, scrapes: u32, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let expr = format!("count_over_time(up{{job=\"{job}\"}}[1m])");
        loop {
            let (_, result, _) = self.query(&expr);
            let count =
                result.first().and_then(|r| r["value"][1].as_str()).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            if count >= f64::from(scrapes) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited with {status}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "prometheus did not scrape {scrapes} times:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Every `expr` of every target in the dashboard, wherever it is nested.
fn dashboard_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let (Some(expr), Some(_)) = (map.get("expr").and_then(|e| e.as_str()), map.get("refId")) {
                out.push(expr.to_owned());
            }
            map.values().for_each(|v| dashboard_exprs(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

/// Every `expr` of the rule file.
fn rule_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(repo("deploy/prometheus/jitterd.rules.yml")).expect("rules");
    let rules: serde_norway::Value = serde_norway::from_str(&text).expect("rules parse");
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().expect("rules").iter())
        .map(|rule| rule["expr"].as_str().expect("expr").to_owned())
        .collect()
}

/// The jitterd metric and recording-rule names `expr` reads.
fn jitterd_names(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|token| token.contains("jitterd_"))
}

/// The dashboard's variables as Grafana would fill them for this daemon.
fn substitute(expr: &str, instance: &str) -> String {
    expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", "1s")
        .replace("$__range", "5m")
        .replace("$job", "jitterd")
        .replace("$instance", instance)
}

#[test]
fn dashboard_queries_and_rules_evaluate_on_a_real_prometheus() {
    let started = Instant::now();
    let daemon = common::Daemon::start(&common::config("async", "100ms"));
    let mut prometheus = Prometheus::start(&daemon.addr);
    prometheus.wait_for_scrapes("jitterd", 6, Duration::from_secs(30));

    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("grafana/dashboards/jitterd.json")).expect("dashboard"))
            .expect("dashboard parses");
    let mut exprs = Vec::new();
    dashboard_exprs(&dashboard["panels"], &mut exprs);
    assert!(exprs.len() >= 15, "only {} dashboard queries", exprs.len());

    let mut failures = Vec::new();
    for expr in &exprs {
        let query = substitute(expr, &daemon.addr);
        assert!(!query.contains('$'), "unsubstituted variable in {query}");
        let (status, result, body) = prometheus.query(&query);
        if status != "success" || result.is_empty() {
            failures.push(format!("dashboard: {query}\n  -> {status}, {} series: {body}", result.len()));
        }
    }
    // The variables' own queries: label_values(<selector>, <label>).
    for variable in dashboard["templating"]["list"].as_array().expect("variables") {
        let Some(definition) = variable["definition"].as_str() else { continue };
        let inner = definition.strip_prefix("label_values(").and_then(|d| d.strip_suffix(')')).expect("label_values");
        let (selector, label) = inner.rsplit_once(',').expect("label_values(selector, label)");
        let (status, result, body) = prometheus.query(&substitute(selector, &daemon.addr));
        if status != "success" || !result.iter().any(|r| r["metric"][label.trim()].is_string()) {
            failures.push(format!("variable {definition}\n  -> {status}: {body}"));
        }
    }
    let rules = rule_exprs();
    for expr in &rules {
        let (status, _, body) = prometheus.query(expr);
        if status != "success" {
            failures.push(format!("rule: {expr}\n  -> {status}: {body}"));
        }
    }
    // Every name scraped from the daemon or recorded by a rule by now.
    let (status, result, body) = prometheus.query(r#"group by (__name__) ({__name__=~".*jitterd_.*"})"#);
    assert_eq!(status, "success", "{body}");
    let known: Vec<&str> = result.iter().filter_map(|r| r["metric"]["__name__"].as_str()).collect();
    for expr in &rules {
        for name in jitterd_names(expr).filter(|name| !known.contains(name)) {
            failures.push(format!("rule reads {name}, which jitterd does not export and no rule records: {expr}"));
        }
    }
    assert!(failures.is_empty(), "{}\nprometheus log:\n{}", failures.join("\n"), prometheus.log());
    println!(
        "{} dashboard queries and {} rule expressions evaluated in {:.1?}",
        exprs.len(),
        rules.len(),
        started.elapsed()
    );
}

#[test]
fn dashboard_has_fixed_uid_variables_and_documented_panels() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("grafana/dashboards/jitterd.json")).expect("dashboard"))
            .expect("dashboard parses");
    assert_eq!(dashboard["uid"], "jitterd-overview");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(variables, ["datasource", "job", "instance"]);
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels").iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "a panel without a title: {panel}");
        assert!(panel["description"].as_str().is_some_and(|d| !d.is_empty()), "{title}: no description");
        assert!(panel["fieldConfig"]["defaults"]["unit"].as_str().is_some(), "{title}: no unit");
        dashboard_exprs(&panel["targets"], &mut exprs);
    }
    for expr in exprs {
        assert!(expr.contains("job=\"$job\"") && expr.contains("instance=~\"$instance\""), "unfiltered query: {expr}");
        let takes_a_range = expr.contains("rate(") || expr.contains("increase(");
        assert!(
            !takes_a_range || expr.contains("[$__rate_interval]"),
            "fixed range instead of $__rate_interval: {expr}"
        );
    }
}

#[test]
fn dashboard_reads_exact_quantiles_per_instance_and_names_its_approximations() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo("grafana/dashboards/jitterd.json")).expect("dashboard"))
            .expect("dashboard parses");
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels").iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap_or_default();
        let description = panel["description"].as_str().unwrap_or_default();
        let mut exprs = Vec::new();
        dashboard_exprs(&panel["targets"], &mut exprs);
        // Quantiles interpolated inside buckets, directly or through a pNN recording rule.
        let from_buckets =
            exprs.iter().any(|e| e.contains("histogram_quantile(") || e.contains(":p9") || e.contains(":p5"));
        assert!(!from_buckets || description.contains("pproximat"), "{title}: bucket quantiles not called approximate");
        for expr in &exprs {
            // Lateness per instance comes from the window summaries; buckets only across instances.
            let lateness_buckets = expr.contains("_lateness_seconds_bucket") && !expr.contains("wake_lateness");
            assert!(
                !lateness_buckets || expr.contains("sum by (le)"),
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
    ] {
        assert!(all.iter().any(|e| e.contains(needed)), "no dashboard query reads {needed}");
    }
}
