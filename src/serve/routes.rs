//! What each path answers: pure functions of the request and the shared
//! state, apart from reading it. Limits and auth come before, in
//! [`super`]; what each answer holds is decided by its view: [`super::page`],
//! [`super::api`], [`super::prometheus`].

use http_body_util::Full;
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{
    ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderName, HeaderValue, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};

use super::State;
use super::api::query::{self, BadQuery};
use super::api::{beats_json, status_json};
use super::page::{self, panel};
use super::runbook;
use crate::endpoints::{self, BEATS, CHART, HEALTHY, PAGE, READY, RUNBOOK, RUNBOOK_STYLE, SCRIPT, STATUS, STYLE};
use crate::sys::clock::MonoTime;

pub(super) type Reply = Response<Full<Bytes>>;

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
    // The telemetry path wins should it be one of the others (the config refuses that).
    if path != state.telemetry_path && !endpoints::SERVED.contains(&path) {
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
    let accept = req.headers().get(hyper::header::ACCEPT).and_then(|value| value.to_str().ok());
    let response = answer(state, path, req.uri().query(), accept);
    // The page and whatever a browser opens directly: same origin only, no sniffing.
    let response = with_header(response, CONTENT_SECURITY_POLICY, page::CONTENT_SECURITY_POLICY);
    with_header(response, X_CONTENT_TYPE_OPTIONS, "nosniff")
}

fn answer(state: &State, path: &str, query: Option<&str>, accept: Option<&str>) -> Reply {
    let observatory = &state.observatory;
    if path == state.telemetry_path {
        // The format follows the Accept header, so caches must too.
        return match state.exporter.answer(accept) {
            Ok(exposition) => with_header(
                reply(StatusCode::OK, exposition.content_type, exposition.body),
                hyper::header::VARY,
                "Accept",
            ),
            Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode metrics: {err}\n")),
        };
    }
    match path {
        HEALTHY => text(StatusCode::OK, "jitterd is healthy.\n"),
        READY => {
            if observatory.liveness().is_live(MonoTime::now()) {
                text(StatusCode::OK, "jitterd is ready.\n")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "jitterd is not ready: the experiment is not running or its heartbeat is stalled.\n",
                )
            }
        }
        PAGE => {
            let running = observatory.running();
            let page = page::html(&state.telemetry_path, running.as_ref().map(|r| &r.settings));
            fresh(StatusCode::OK, "text/html; charset=utf-8", page)
        }
        SCRIPT => with_header(
            reply(StatusCode::OK, "text/javascript; charset=utf-8", page::SCRIPT),
            CACHE_CONTROL,
            "no-cache",
        ),
        STYLE => with_header(reply(StatusCode::OK, "text/css; charset=utf-8", page::STYLE), CACHE_CONTROL, "no-cache"),
        RUNBOOK => {
            with_header(reply(StatusCode::OK, "text/html; charset=utf-8", runbook::html()), CACHE_CONTROL, "no-cache")
        }
        RUNBOOK_STYLE => {
            with_header(reply(StatusCode::OK, "text/css; charset=utf-8", runbook::STYLE), CACHE_CONTROL, "no-cache")
        }
        STATUS => match query::no_parameters(query, STATUS) {
            Ok(()) => fresh(StatusCode::OK, JSON, status_json(observatory)),
            Err(bad) => bad_request(bad),
        },
        BEATS => match query::beats(query) {
            Ok(query) => fresh(StatusCode::OK, JSON, beats_json(observatory, query)),
            Err(bad) => bad_request(bad),
        },
        CHART => match query::chart(query) {
            Ok(heartbeat) => fresh(StatusCode::OK, "image/svg+xml", panel::svg(observatory, heartbeat)),
            Err(bad) => bad_request(bad),
        },
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}
