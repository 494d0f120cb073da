//! The HTTP side: `/`, the telemetry path, `/-/healthy`, `/-/ready`.
//!
//! It runs on a thread and tokio runtime of its own, so a scrape never runs
//! on the event loop under test. It is deliberately small and strict: GET
//! and HEAD only, no request bodies, bounded header size, a header read
//! timeout and a cap on concurrent connections, so a slow or hostile client
//! cannot pin it or disturb the experiment.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use crate::clock::MonoTime;
use crate::heartbeat::Liveness;
use crate::metrics::Metrics;
use crate::timer::Stop;

/// Connections served at once; further ones wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 64;
/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head accepted; larger ones get 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// What the HTTP thread shows.
#[derive(Clone)]
pub struct State {
    pub metrics: Metrics,
    pub liveness: Arc<Liveness>,
    pub telemetry_path: String,
    /// Strategy and schedule of the running experiment, for the landing page.
    pub experiment: Arc<RwLock<String>>,
}

/// Binds the listen address; the caller maps failure to exit code 69.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves on `listener` from a thread of its own until `stop`.
pub fn spawn(listener: TcpListener, state: State, stop: Stop) -> anyhow::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("jitterd-http")
        .build()
        .context("cannot start the HTTP runtime")?;
    std::thread::Builder::new()
        .name("jitterd-http".into())
        .spawn(move || runtime.block_on(serve(listener, state, stop)))
        .context("cannot start the HTTP thread")
}

async fn serve(listener: TcpListener, state: State, stop: Stop) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!("cannot serve HTTP: {err}");
            return;
        }
    };
    let stopped = stop.stopped();
    tokio::pin!(stopped);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { return };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            result = &mut stopped => {
                if let Err(err) = result {
                    tracing::error!("cannot wait for the stop signal: {err}");
                }
                return;
            }
        };
        let (stream, _) = match accepted {
            Ok(conn) => conn,
            Err(err) => {
                // Out of descriptors and the like: back off rather than spin.
                tracing::warn!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(&state, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    reply(status, "text/plain; charset=utf-8", body)
}

/// Answers one request. Pure but for reading the shared state.
pub fn route(state: &State, req: &Request<Incoming>) -> Reply {
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
