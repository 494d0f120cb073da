//! What each path answers: pure functions of the request and the shared
//! state, apart from reading it. Limits and auth come before, in
//! [`super`].

use http_body_util::Full;
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::State;
use crate::clock::MonoTime;

pub(super) type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub(super) fn text(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    reply(status, "text/plain; charset=utf-8", body)
}

/// Answers one request. Pure but for reading the shared state.
pub(crate) fn route(state: &State, req: &Request<Incoming>) -> Reply {
    let path = req.uri().path();
    let known = path == "/" || path == state.telemetry_path || path == "/-/healthy" || path == "/-/ready";
    if !known {
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
        "/" => reply(StatusCode::OK, "text/html; charset=utf-8", landing_page(state)),
        _ => match state.metrics.render() {
            Ok(body) => reply(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", body),
            Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode metrics: {err}\n")),
        },
    }
}

fn landing_page(state: &State) -> String {
    let experiment = state.experiment.read().map(|e| e.clone()).unwrap_or_default();
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>jitterd</title></head>\n<body>\n\
         <h1>jitterd</h1>\n<p>Version {version} (revision {revision})</p>\n<p>Experiment: {experiment}</p>\n\
         <ul><li><a href=\"{path}\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li><li><a href=\"/-/ready\">Readiness</a></li></ul>\n\
         </body></html>\n",
        version = crate::build::VERSION,
        revision = crate::build::REVISION,
        experiment = escape(&experiment),
        path = escape(&state.telemetry_path),
    )
}
