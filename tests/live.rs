//! The live page and its JSON API, against the real daemon: the API's
//! answers, bounds and refusals over plain HTTP, its place behind the web
//! config's TLS and basic auth, and the page itself in a real browser
//! (headless Chromium, driven over the DevTools protocol) drawing what the
//! API holds, following a reload, and asking nothing of any other host.

use crate::browser;
use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::{Daemon, Start, http};
use serde_json::Value;

fn json_of(daemon: &Daemon, path: &str) -> Value {
    let (status, body) = daemon.get(path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("GET {path}: not JSON ({err}): {body}"))
}

/// The slots of a `/api/v1/beats` answer: index → (lateness, missed).
fn slots_of(beats: &Value) -> BTreeMap<u64, (f64, bool)> {
    let slots = beats["slots"].as_array().expect("slots");
    slots
        .iter()
        .map(|s| {
            let index = s["index"].as_u64().expect("index");
            (index, (s["lateness_seconds"].as_f64().expect("lateness"), s["missed"].as_bool().expect("missed")))
        })
        .collect()
}

#[test]
fn api_answers_bounds_and_refusals() {
    let config = format!("{}[counter]\nsize = 1000\n", common::config("threads-channel", "1ms"));
    let daemon = Daemon::start(&config);
    // More slots than the ring keeps.
    let deadline = Instant::now() + Duration::from_secs(30);
    while json_of(&daemon, "/api/v1/beats?limit=1")["last_index"].as_u64().unwrap_or(0) < 1500 {
        assert!(Instant::now() < deadline, "fewer than 1,500 slots in 30 s at a 1 ms period");
        std::thread::sleep(Duration::from_millis(100));
    }

    let beats = json_of(&daemon, "/api/v1/beats");
    let last = beats["last_index"].as_u64().expect("last_index");
    let slots = slots_of(&beats);
    assert_eq!(beats["capacity"], 1000);
    assert_eq!(slots.len(), 1000, "the ring holds its bound, no more");
    let indexes: Vec<u64> = slots.keys().copied().collect();
    assert_eq!(indexes, (last - 999..=last).collect::<Vec<_>>(), "the newest 1,000, in order, none skipped");
    let newest = json_of(&daemon, &format!("/api/v1/beats?heartbeat=main&after={}&limit=3", last - 10));
    let newest: Vec<u64> = slots_of(&newest).keys().copied().collect();
    assert_eq!(newest.len(), 3);
    assert!(newest[0] > last - 10 && newest.windows(2).all(|w| w[1] == w[0] + 1), "{newest:?}");
    let control = json_of(&daemon, "/api/v1/beats?heartbeat=control&limit=5");
    assert_eq!(control["heartbeat"], "control");
    assert!(control["slots"].as_array().is_some_and(|s| s.len() == 5 && s.iter().all(|s| s["consistent"].is_null())));

    let status = json_of(&daemon, "/api/v1/status");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["experiment"]["strategy"], "threads-channel");
    assert_eq!(status["experiment"]["schedule"], "absolute");
    assert_eq!(status["experiment"]["size_elements"], 1000);
    assert_eq!(status["experiment"]["period_seconds"], 0.001);
    for heartbeat in ["main", "control"] {
        let window = &status["window"][heartbeat];
        let quantiles: Vec<f64> =
            ["0.5", "0.9", "0.99", "0.999", "1"].iter().map(|q| window[q].as_f64().expect("a quantile")).collect();
        assert!(quantiles.windows(2).all(|w| w[0] <= w[1]) && quantiles[0] > 0.0, "{heartbeat}: {quantiles:?}");
    }
    assert!(status["checks"]["consistent"].as_u64() > Some(0) && status["checks"]["inconsistent"] == 0);
    assert!(status["heartbeats_total"].as_u64() > Some(0) && status["array_passes_total"].as_u64() > Some(0));
    assert_eq!(status["drift"]["threshold_seconds"], 0.1);
    assert!(status["explanation"].as_str().is_some_and(|s| s.contains("channel")));

    let refused = [
        ("/api/v1/beats?limit=1001", "limit"),
        ("/api/v1/beats?limit=0", "limit"),
        ("/api/v1/beats?after=-1", "after"),
        ("/api/v1/beats?heartbeat=both", "heartbeat"),
        ("/api/v1/beats?afterr=1", "afterr"),
        ("/api/v1/beats?after=1&after=2", "after"),
        ("/api/v1/status?verbose=1", "verbose"),
        ("/api/v1/chart.svg?heartbeat=", "heartbeat"),
    ];
    for (path, parameter) in refused {
        let (status, body) = daemon.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body.trim_end().lines().count(), 1, "{path}: one line: {body}");
        assert!(body.contains(parameter), "{path}: names {parameter}: {body}");
    }
    for path in ["/api/v1", "/api/v1/", "/api/v2/status", "/api/v1/status/", "/live.html"] {
        assert_eq!(daemon.get(path).0, 404, "{path}");
    }
    for path in ["/api/v1/status", "/api/v1/beats", "/live.js", "/"] {
        assert_eq!(http("POST", &daemon.url(path)).0, 405, "{path}");
        assert_eq!(http("HEAD", &daemon.url(path)).0, 200, "{path}");
    }
}

#[test]
fn page_assets_and_policy() {
    // A telemetry path with characters that must be escaped in HTML.
    let config = format!("{}[web]\ntelemetry_path = \"/m<&'x\"\n", common::config("threads-mutex", "100ms"));
    let daemon = Daemon::start(&config);
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let get = |path: &str| {
        let mut response = agent.get(daemon.url(path)).call().expect("request");
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let (content_type, policy) = (header("content-type"), header("content-security-policy"));
        (response.status().as_u16(), content_type, policy, response.body_mut().read_to_string().unwrap_or_default())
    };
    let (status, content_type, policy, page) = get("/");
    assert_eq!((status, content_type.as_str()), (200, "text/html; charset=utf-8"));
    for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(policy.contains(directive), "{directive} missing from {policy:?}");
    }
    assert!(page.contains("href=\"/m&lt;&amp;&#39;x\""), "the metrics link, escaped");
    assert!(page.contains("threads-mutex") && page.contains(env!("CARGO_PKG_VERSION")), "filled in before any script");
    assert!(!page.contains("http://") && !page.contains("https://"), "nothing from elsewhere");
    let (status, content_type, _, script) = get("/live.js");
    assert_eq!((status, content_type.as_str()), (200, "text/javascript; charset=utf-8"));
    assert!(script.contains("/api/v1/status"));
    let (status, content_type, _, _) = get("/live.css");
    assert_eq!((status, content_type.as_str()), (200, "text/css; charset=utf-8"));
    let (status, content_type, _, svg) = get("/api/v1/chart.svg?heartbeat=control");
    assert_eq!((status, content_type.as_str()), (200, "image/svg+xml"));
    roxmltree::Document::parse(&svg).expect("the chart is well-formed XML");
}

#[test]
fn api_and_page_sit_behind_tls_and_basic_auth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
    std::fs::write(dir.path().join("server.crt"), certified.cert.pem()).expect("write");
    std::fs::write(dir.path().join("server.key"), certified.signing_key.serialize_pem()).expect("write");
    let web = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let text = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  alice: {hash}\n"
    );
    std::fs::write(&web, text).expect("write");
    let web = web.to_str().expect("path");
    let daemon = Daemon::start_with(Start {
        config: &common::config("async", "100ms"),
        args: &["--web.config.file", web],
        ..Start::default()
    });
    let cert = certified.cert.pem();
    let good = common::basic_auth("alice", "s3cret");
    let paths = ["/", "/live.js", "/live.css", "/api/v1/status", "/api/v1/beats", "/api/v1/chart.svg"];
    for path in paths {
        assert_eq!(common::https_get(&daemon.addr, path, None, &cert).0, 401, "{path} without credentials");
        assert_eq!(
            common::https_get(&daemon.addr, path, Some(&common::basic_auth("alice", "no")), &cert).0,
            401,
            "{path}"
        );
        assert_eq!(common::https_get(&daemon.addr, path, Some(&good), &cert).0, 200, "{path} with credentials");
    }
    let (_, response) = common::https_get(&daemon.addr, "/api/v1/beats?limit=0", Some(&good), &cert);
    assert!(response.starts_with("HTTP/1.1 400"), "parameters are checked after the credentials: {response}");
    assert_eq!(common::https_get(&daemon.addr, "/-/healthy", None, &cert).0, 200, "health stays open");
    assert_ne!(daemon.get("/api/v1/status").0, 200, "no plain HTTP on the TLS port");
}

/// What the page drew in one chart: index → (lateness, missed), read from
/// the elements' `data-*` attributes.
fn drawn(browser: &mut browser::Page, heartbeat: &str) -> BTreeMap<u64, (f64, bool)> {
    let points = browser.eval(&format!(
        "[...document.querySelectorAll('#chart-{heartbeat} [data-index]')]\
         .map(e => [Number(e.dataset.index), e.dataset.lateness, e.dataset.missed === 'true'])"
    ));
    let points = points.as_array().expect("an array of points");
    points
        .iter()
        .map(|p| {
            let lateness: f64 = p[1].as_str().and_then(|s| s.parse().ok()).expect("data-lateness is a number");
            (p[0].as_u64().expect("data-index"), (lateness, p[2].as_bool().unwrap_or(false)))
        })
        .collect()
}

/// The causes of lateness, in the waterfall's order (DESIGN.md, "Why a beat was late").
const CAUSES: [&str; 8] = ["throttled", "cpu", "stopped", "paging", "check", "strategy", "steal", "wake"];

/// Each dot the page coloured by cause has the cause `/api/v1/beats` names
/// for its slot, and each slot the API names a cause for is coloured, up to
/// the slot whose causes the page knew when it drew (`data-causes-through`).
/// Returns how many dots were coloured.
fn assert_dots_coloured_as_the_api_says(page: &mut browser::Page, daemon: &Daemon, heartbeat: &str) -> usize {
    let dots = page.eval(&format!(
        "[[...document.querySelectorAll('#chart-{heartbeat} circle[data-index]')]\
         .map(e => [Number(e.dataset.index), e.dataset.cause || null, e.getAttribute('class') || '']),\
         Number(document.getElementById('chart-{heartbeat}').dataset.causesThrough || 0)]"
    ));
    let through = dots[1].as_u64().expect("data-causes-through");
    let api = json_of(daemon, &format!("/api/v1/beats?heartbeat={heartbeat}"));
    let api_cause: BTreeMap<u64, Option<String>> = api["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .map(|s| (s["index"].as_u64().expect("index"), s["cause"].as_str().map(str::to_owned)))
        .collect();
    let mut coloured = 0;
    for dot in dots[0].as_array().expect("dots") {
        let index = dot[0].as_u64().expect("index");
        let shown = dot[1].as_str();
        let class = dot[2].as_str().unwrap_or("");
        if let Some(cause) = shown {
            coloured += 1;
            assert!(CAUSES.contains(&cause), "{heartbeat} #{index}: unknown cause {cause:?}");
            assert!(class.contains(&format!("cause-{cause}")) && class.contains("late"), "#{index}: class {class:?}");
        }
        if index <= through {
            let expected = api_cause.get(&index).cloned().flatten();
            assert_eq!(shown, expected.as_deref(), "{heartbeat} #{index}: the dot's cause against the API's");
        } else {
            assert_eq!(shown, None, "{heartbeat} #{index}: coloured before its cause was known");
        }
    }
    coloured
}

/// The chart drew exactly the slots `/api/v1/beats` holds up to its newest point.
fn assert_chart_matches_api(page: &mut browser::Page, daemon: &Daemon, heartbeat: &str) -> usize {
    let drawn = drawn(page, heartbeat);
    // Fetched after the page's poll, so it holds as much and maybe more; at
    // a 100 ms period the ring (1,000 slots) does not turn over meanwhile.
    let api = slots_of(&json_of(daemon, &format!("/api/v1/beats?heartbeat={heartbeat}")));
    let (Some(first), Some(last)) = (drawn.keys().next().copied(), drawn.keys().last().copied()) else {
        panic!("{heartbeat}: the chart drew no points");
    };
    let expected: BTreeMap<u64, (f64, bool)> = api.range(..=last).map(|(k, v)| (*k, *v)).collect();
    assert_eq!(api.keys().next(), Some(&first), "{heartbeat}: the chart starts where the ring does");
    assert_eq!(drawn.len(), expected.len(), "{heartbeat}: one point per slot up to #{last}");
    assert_eq!(drawn, expected, "{heartbeat}: each point's lateness and missed flag as the API has them");
    drawn.len()
}

#[test]
fn the_page_in_a_real_browser() {
    let started = Instant::now();
    // Every beat later than 10 µs names its cause: nearly all of them, so the dots are coloured.
    let config = |strategy: &str| {
        format!("{}[counter]\nsize = 20000\n[explain]\nthreshold = \"10us\"\n", common::config(strategy, "100ms"))
    };
    let daemon = Daemon::start(&config("threads-mutex"));
    let mut page = browser::Page::open(&daemon.url("/"));
    let timeout = Duration::from_secs(30);

    page.wait_until(timeout, "three polls and ten slots drawn", |page| {
        let drawn =
            |page: &mut browser::Page| page.try_eval("document.querySelectorAll('#chart-main [data-index]').length");
        page.polls() >= 3 && drawn(page).ok().and_then(|n| n.as_u64()) >= Some(10)
    });
    assert_eq!(page.eval("document.getElementById('strategy').textContent"), "threads-mutex");
    let main = assert_chart_matches_api(&mut page, &daemon, "main");
    let control = assert_chart_matches_api(&mut page, &daemon, "control");
    println!("the charts drew {main} main and {control} control slots, as the API has them");
    let threshold = page.eval("document.querySelectorAll('#chart-main .rule').length");
    assert_eq!(threshold, 1, "the jitter threshold is drawn");
    let window = page.eval("document.querySelector('#quantiles tbody').rows.length");
    assert_eq!(window, 5, "p50 … max");

    // Why the beats were late: a legend of every cause, in the waterfall's
    // order, a strip of each heartbeat's lateness by cause under its chart,
    // and the late dots coloured by their cause as the API names it.
    let legend = page.eval("[...document.querySelectorAll('#cause-legend li')].map(li => li.dataset.cause)");
    assert_eq!(legend, serde_json::json!(CAUSES), "the legend");
    for heartbeat in ["main", "control"] {
        let strip = page.eval(&format!("document.querySelectorAll('#chart-{heartbeat} g.stack').length"));
        assert_eq!(strip, 1, "{heartbeat}: the strip of lateness by cause");
    }
    let api_has_causes = ["main", "control"].iter().any(|heartbeat| {
        let beats = json_of(&daemon, &format!("/api/v1/beats?heartbeat={heartbeat}"));
        beats["slots"].as_array().is_some_and(|slots| slots.iter().any(|s| s["cause"].is_string()))
    });
    if api_has_causes {
        // The page may have drawn before the first late slot it knows of: a few polls more.
        page.wait_until(timeout, "a dot coloured by its cause", |page| {
            page.try_eval(
                "document.querySelectorAll('#chart-main circle[data-cause], #chart-control circle[data-cause]').length",
            )
            .ok()
            .and_then(|n| n.as_u64())
                > Some(0)
        });
    }
    let coloured: usize =
        ["main", "control"].iter().map(|h| assert_dots_coloured_as_the_api_says(&mut page, &daemon, h)).sum();
    if api_has_causes {
        assert!(coloured > 0, "the API names causes but no dot is coloured");
        println!("{coloured} late dots coloured by their cause, as the API names it");
    } else {
        common::not_tested(
            "the late dots' colours: /api/v1/beats names no cause yet (the explanation is not built in)",
        );
    }

    // A reload switching strategy shows without reloading the page.
    page.eval("window.jitterdTestMarker = 'still the same page'");
    let navigations = page.events("Page.frameNavigated").len();
    daemon.write_config(&config("async"));
    daemon.signal(libc::SIGHUP);
    page.wait_until(timeout, "the page to show the new strategy", |page| {
        page.try_eval("document.getElementById('strategy').textContent").is_ok_and(|shown| shown == "async")
    });
    assert_eq!(page.eval("window.jitterdTestMarker"), "still the same page", "the page was not reloaded");
    assert_eq!(page.events("Page.frameNavigated").len(), navigations, "no navigation");
    let explanation = page.eval("document.getElementById('explanation').textContent");
    assert!(explanation.as_str().is_some_and(|s| s.contains("wake lateness")), "{explanation}");

    // A narrow window: nothing wider than the screen.
    page.viewport(360, 740, true);
    page.wait_for_polls(timeout, 2);
    let overflow = page.eval("document.documentElement.scrollWidth - window.innerWidth");
    assert!(overflow.as_i64() <= Some(0), "the page is {overflow} px wider than a 360 px window");
    let artefacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    page.screenshot(&artefacts.join("live-page-narrow.png"));
    page.viewport(1200, 1900, false);
    page.wait_for_polls(timeout, 2);
    page.screenshot(&artefacts.join("live-page.png"));
    println!("screenshots in {}", artefacts.display());

    // Nothing asked of another host, and nothing went wrong on the page.
    let origin = daemon.url("/");
    let requests: Vec<String> = page
        .events("Network.requestWillBeSent")
        .iter()
        .filter_map(|event| event["params"]["request"]["url"].as_str().map(str::to_owned))
        .collect();
    assert!(requests.len() > 10, "the page polled: {requests:?}");
    let elsewhere: Vec<&String> = requests.iter().filter(|url| !url.starts_with(&origin)).collect();
    assert!(elsewhere.is_empty(), "requests off the host: {elsewhere:?}");
    let errors: Vec<Value> = page
        .events("Log.entryAdded")
        .into_iter()
        .chain(page.events("Runtime.exceptionThrown"))
        .filter(|e| e["method"] == "Runtime.exceptionThrown" || e["params"]["entry"]["level"] == "error")
        .collect();
    assert!(errors.is_empty(), "errors on the page (a refused request, a script error): {errors:#?}");
    println!("{} requests, all to {origin}; {:.1} s in all", requests.len(), started.elapsed().as_secs_f64());
}
