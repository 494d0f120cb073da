//! What each path answers: pure functions of the request and the shared
//! state, apart from reading it. Limits and auth come before, in
//! [`super`]; what the live page and `/api/v1/` hold is decided in
//! [`crate::live`], from readings taken here.

use http_body_util::Full;
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{
    ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderName, HeaderValue, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};

use super::State;
use crate::clock::MonoTime;
use crate::live::query::{self, BadQuery};
use crate::live::status::{self, Readings};
use crate::live::{chart, page};

pub(super) type Reply = Response<Full<Bytes>>;

/// The paths besides the telemetry path (which wins should it be one of them).
const PATHS: [&str; 8] = [
    "/",
    "/-/healthy",
    "/-/ready",
    page::SCRIPT_PATH,
    page::STYLE_PATH,
    "/api/v1/status",
    "/api/v1/beats",
    "/api/v1/chart.svg",
];

const JSON: &str = "application/json";

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(super) fn text(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    reply(status, "text/plain; charset=utf-8", body)
}

fn with_header(mut response: Reply, name: HeaderName, value: &'static str) -> Reply {
    response.headers_mut().insert(name, HeaderValue::from_static(value));
    response
}

/// Live figures: never from a cache.
fn fresh(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    with_header(reply(status, content_type, body), CACHE_CONTROL, "no-store")
}

fn bad_request(BadQuery(message): BadQuery) -> Reply {
    text(StatusCode::BAD_REQUEST, format!("400 {message}\n"))
}

/// Answers one request. Pure but for reading the shared state.
pub(crate) fn route(state: &State, req: &Request<Incoming>) -> Reply {
    let path = req.uri().path();
    if path != state.telemetry_path && !PATHS.contains(&path) {
        return text(StatusCode::NOT_FOUND, "404 page not found\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed: use GET or HEAD\n");
        response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if req.body().size_hint().upper() != Some(0) {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "413 request bodies are not accepted\n");
    }
    let response = answer(state, path, req.uri().query());
    // The page and whatever a browser opens directly: same origin only, no sniffing.
    let response = with_header(response, CONTENT_SECURITY_POLICY, page::CONTENT_SECURITY_POLICY);
    with_header(response, X_CONTENT_TYPE_OPTIONS, "nosniff")
}

fn answer(state: &State, path: &str, query: Option<&str>) -> Reply {
    let live = &state.metrics.live;
    if path == state.telemetry_path {
        return match state.metrics.render() {
            Ok(body) => reply(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", body),
            Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode metrics: {err}\n")),
        };
    }
    match path {
        "/-/healthy" => text(StatusCode::OK, "jitterd is healthy.\n"),
        "/-/ready" => {
            if state.liveness.is_live(MonoTime::now()) {
                text(StatusCode::OK, "jitterd is ready.\n")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "jitterd is not ready: the experiment is not running or its heartbeat is stalled.\n",
                )
            }
        }
        "/" => fresh(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page::html(&state.telemetry_path, live.experiment().as_ref()),
        ),
        page::SCRIPT_PATH => with_header(
            reply(StatusCode::OK, "text/javascript; charset=utf-8", page::SCRIPT),
            CACHE_CONTROL,
            "no-cache",
        ),
        page::STYLE_PATH => {
            with_header(reply(StatusCode::OK, "text/css; charset=utf-8", page::STYLE), CACHE_CONTROL, "no-cache")
        }
        "/api/v1/status" => match query::no_parameters(query, "/api/v1/status") {
            Ok(()) => {
                let status = status::status(live.experiment().as_ref(), &readings(state));
                fresh(StatusCode::OK, JSON, serde_json::to_vec(&status).unwrap_or_default())
            }
            Err(bad) => bad_request(bad),
        },
        "/api/v1/beats" => match query::beats(query) {
            Ok(query) => fresh(StatusCode::OK, JSON, live.beats_json(query)),
            Err(bad) => bad_request(bad),
        },
        "/api/v1/chart.svg" => match query::chart(query) {
            Ok(heartbeat) => fresh(StatusCode::OK, "image/svg+xml", chart::svg(live, heartbeat)),
            Err(bad) => bad_request(bad),
        },
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

/// What `/api/v1/status` reports, read from the metrics.
fn readings(state: &State) -> Readings {
    let m = &state.metrics;
    let slots = m.heartbeat_slots.snapshot();
    Readings {
        uptime_seconds: m.live.started.elapsed().as_secs_f64(),
        main_window: m.heartbeat_lateness_window.window_snapshot(),
        control_window: m.control_lateness_window.window_snapshot(),
        consistent: slots.consistent,
        inconsistent: slots.inconsistent,
        drift_seconds: m.heartbeat_drift_seconds.get(),
        drift_gained_seconds: m.drift_window_seconds.get(),
        array_passes_total: m.array_passes_total.get(),
        heartbeats_total: slots.beats,
        heartbeat_missed_total: slots.missed,
    }
}
