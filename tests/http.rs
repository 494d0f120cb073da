//! The HTTP endpoints of the contract, over real HTTP.

use crate::common;

use crate::common::{Daemon, http};

#[test]
fn endpoints_methods_and_errors() {
    let daemon = Daemon::start(&common::config("async", "100ms"));

    let (status, body) = daemon.get("/");
    assert_eq!(status, 200);
    for needle in ["jitterd", env!("CARGO_PKG_VERSION"), "async", "href=\"/metrics\""] {
        assert!(body.contains(needle), "landing page lacks {needle}: {body}");
    }
    assert_eq!(daemon.get("/-/healthy").0, 200);
    let (status, body) = daemon.get("/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE jitterd_heartbeats_total counter"));

    assert_eq!(daemon.get("/nope").0, 404);
    assert_eq!(daemon.get("/metrics/extra").0, 404);
    assert_eq!(http("HEAD", &daemon.url("/metrics")).0, 200);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        assert_eq!(http(method, &daemon.url("/metrics")).0, 405, "{method}");
    }
    assert_eq!(http("POST", &daemon.url("/elsewhere")).0, 404);
}

#[test]
fn method_not_allowed_names_the_allowed_ones() {
    let daemon = Daemon::start(&common::config("async", "100ms"));
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let response = agent.post(daemon.url("/-/ready")).send("x").expect("request");
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers().get("allow").and_then(|v| v.to_str().ok()), Some("GET, HEAD"));
}

#[test]
fn custom_telemetry_path() {
    let config = format!("{}[web]\ntelemetry_path = \"/stats\"\n", common::config("async", "100ms"));
    let daemon = Daemon::start(&config);
    assert_eq!(daemon.get("/stats").0, 200);
    assert_eq!(daemon.get("/metrics").0, 404);
    assert!(daemon.get("/").1.contains("href=\"/stats\""));
}

#[test]
fn healthcheck_command() {
    let daemon = Daemon::start(&common::config("async", "100ms"));
    let (code, stdout, stderr) = common::run(&["--web.listen-address", &daemon.addr, "healthcheck"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("healthy"));
    drop(daemon);
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").to_string();
    let (code, _, stderr) = common::run(&["--web.listen-address", &free, "healthcheck"], &[]);
    assert_eq!(code, 1, "nothing listens there: {stderr}");
}
