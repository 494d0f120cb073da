//! The HTTP side: `/`, the telemetry path, `/-/healthy`, `/-/ready`.
//!
//! It runs on a thread and tokio runtime of its own, at a lower CPU
//! priority, so a scrape never runs on the event loop under test nor takes
//! its core. It is deliberately small and strict: GET and HEAD only, no
//! request bodies, bounded header size, header and write timeouts and a cap
//! on concurrent connections, so a slow or hostile client cannot pin it or
//! disturb the experiment. TLS and basic auth come from the web config file
//! ([`crate::web_config`]).

use std::convert::Infallible;
use std::future::Future as _;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Semaphore;

use crate::clock::MonoTime;
use crate::heartbeat::Liveness;
use crate::metrics::Metrics;
use crate::timer::Stop;
use crate::web_config::{BasicAuth, WebSecurity};

/// Connections served at once; further ones wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 64;
/// Largest request head accepted; larger ones get 431 (414 for a long URL).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// How connections are served: timeouts from the config, TLS and basic
/// auth from the web config file.
#[derive(Clone)]
pub struct Settings {
    /// Time a client has to finish the TLS handshake and send a request
    /// head, counted from the connection's start or the previous response:
    /// a client that stalls, or sits idle on keep-alive, is disconnected.
    pub read_header_timeout: Duration,
    /// Time a response write may make no progress (a client that does not
    /// read) before the connection is dropped.
    pub write_timeout: Duration,
    pub security: WebSecurity,
}

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
pub fn spawn(listener: TcpListener, state: State, settings: Settings, stop: Stop) -> anyhow::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("jitterd-http")
        // bcrypt checks run here: two at a time at most, whatever a client sends.
        .max_blocking_threads(2)
        .build()
        .context("cannot start the HTTP runtime")?;
    std::thread::Builder::new()
        .name("jitterd-http".into())
        .spawn(move || {
            yield_to_the_experiment();
            runtime.block_on(serve(listener, state, settings, stop))
        })
        .context("cannot start the HTTP thread")
}

/// Nice value of the HTTP thread (and the bcrypt threads it starts).
pub const HTTP_NICE: i32 = 10;

/// Lowers this thread's CPU priority: when scrapes and the experiment
/// compete for a core, the experiment wins and a scrape waits a little,
/// rather than the meter disturbing what it measures. Linux keeps a nice
/// value per thread, and threads started from here inherit it.
fn yield_to_the_experiment() {
    // SAFETY: gettid(2) and setpriority(2) on the calling thread; no memory is passed.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, HTTP_NICE) };
    if rc != 0 {
        tracing::debug!("cannot lower the HTTP thread's priority: {}", std::io::Error::last_os_error());
    }
}

async fn serve(listener: TcpListener, state: State, settings: Settings, stop: Stop) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!("cannot serve HTTP: {err}");
            return;
        }
    };
    let tls = settings.security.tls.clone().map(tokio_rustls::TlsAcceptor::from);
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
        let (state, settings, tls) = (state.clone(), settings.clone(), tls.clone());
        tokio::spawn(async move {
            let stream = WriteDeadline::new(stream, settings.write_timeout);
            match tls {
                None => serve_connection(stream, state, settings).await,
                Some(acceptor) => {
                    // The handshake counts against the header timeout, so a
                    // client that connects and says nothing cannot hold a slot.
                    match tokio::time::timeout(settings.read_header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, state, settings).await,
                        Ok(Err(err)) => tracing::debug!("TLS handshake failed: {err}"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
}

async fn serve_connection<S>(stream: S, state: State, settings: Settings)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let auth = settings.security.auth.clone();
    let service = hyper::service::service_fn(move |req| {
        let (state, auth) = (state.clone(), auth.clone());
        async move { Ok::<_, Infallible>(authorized_route(&state, auth, &req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.read_header_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// [`route`], behind basic auth when users are configured. `/-/healthy`
/// stays open: it tells no more than an open port, and health checks need
/// no password.
async fn authorized_route(state: &State, auth: Option<Arc<BasicAuth>>, req: &Request<Incoming>) -> Reply {
    if let Some(auth) = auth
        && req.uri().path() != "/-/healthy"
    {
        let header = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes().to_vec());
        let ok = tokio::task::spawn_blocking(move || auth.check(header.as_deref())).await.unwrap_or(false);
        if !ok {
            let mut response = text(StatusCode::UNAUTHORIZED, "401 unauthorized\n");
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"jitterd\""));
            return response;
        }
    }
    route(state, req)
}

/// A stream whose writes fail with `TimedOut` once one has made no progress
/// for the timeout: a client that stops reading cannot hold a connection.
struct WriteDeadline<S> {
    inner: S,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        WriteDeadline { inner, timeout, sleep: None }
    }

    /// After a write that returned `Pending`: start the clock, or report
    /// that it ran out.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        let timeout = self.timeout;
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client did not read the response in time",
            )),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(&mut self, poll: Poll<T>, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        match poll {
            Poll::Ready(value) => {
                self.sleep = None;
                Poll::Ready(Ok(value))
            }
            Poll::Pending => self.stalled(cx).map(Err),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(poll, cx).map(|r| r.and_then(|inner| inner))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(poll, cx).map(|r| r.and_then(|inner| inner))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.progress(poll, cx).map(|r| r.and_then(|inner| inner))
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
