//! The HTTP side: the live page at `/` with its assets ([`page`]),
//! `/api/v1/` ([`api`]), the telemetry path ([`prometheus`]), the runbook
//! ([`runbook`]), `/-/healthy`, `/-/ready`. Every answer is a view of the observatory. Only this module
//! names `hyper`, only [`prometheus`] the crate of that name, and the JSON
//! it serves is written in [`api`].
//!
//! It runs on a thread and tokio runtime of its own, at a lower CPU
//! priority, so a scrape never runs on the event loop under test nor takes
//! its core. It is deliberately small and strict: GET and HEAD only, no
//! request bodies, bounded header size, header and write timeouts. Limits
//! apply to requests being served, not to sockets waiting for their heads,
//! so clients that connect and stall cannot keep a scrape out: open
//! connections have a cap well below the descriptor limit, and a newcomer
//! beyond it sheds the connection that waited longest on its client
//! ([`accept`], [`connections`]); requests being handled have a cap of their own
//! (`web.max_requests`); password guessing costs one thread at nice 19
//! ([`auth`]). TLS and basic auth come from the web config file
//! ([`crate::web_config`]).

mod accept;
mod api;
mod auth;
mod connections;
mod limit;
mod page;
mod prometheus;
mod rejected;
mod routes;
mod runbook;
mod words;
mod write_deadline;

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::time::Instant;

use self::auth::{BCRYPT_AT_ONCE, Gate, Verdict};
use self::connections::{Connection, Connections};
use self::limit::Limit;
use self::prometheus::Exporter;
use self::rejected::{Reason, Rejected};
pub(crate) use self::routes::route;
use self::routes::{Reply, text};
use self::write_deadline::WriteDeadline;
use crate::observe::Observatory;
use crate::sys::timer::Stop;
use crate::web_config::WebSecurity;

/// Largest request head accepted; larger ones get 431 (414 for a long URL).
/// It is also hyper's read buffer limit, so what a connection buffers.
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// How connections are served: the telemetry path and timeouts from the
/// config, TLS and basic auth from the web config file.
#[derive(Clone)]
pub(crate) struct Settings {
    pub telemetry_path: String,
    /// Time a client has to finish the TLS handshake and send a request
    /// head, counted from the connection's start or the previous response:
    /// a client that stalls, or sits idle on keep-alive, is disconnected.
    pub read_header_timeout: Duration,
    /// Time a response write may make no progress (a client that does not
    /// read) before the connection is dropped.
    pub write_timeout: Duration,
    /// `web.max_requests`: requests handled at once, from a complete head
    /// until the response is built (as node_exporter's
    /// `--web.max-requests`); more get 503 at once. Writing the response is
    /// not counted: `write_timeout` bounds it, so clients that do not read
    /// cannot take these places.
    pub max_requests: u32,
    /// `web.max_connections`: open connections at most, and never more
    /// than half of RLIMIT_NOFILE (`None`: that half, up to 1024).
    pub max_connections: Option<u32>,
    /// `web.max_password_checks`: bcrypt checks running or waiting; beyond, 429.
    pub max_password_checks: u32,
    /// `metrics.native_histogram_bucket_factor` when `metrics.native_histograms` is on.
    pub native_histograms: Option<f64>,
    pub security: WebSecurity,
}

/// What the HTTP thread shows: views of one observatory.
pub(crate) struct State {
    pub observatory: Arc<Observatory>,
    pub exporter: Exporter,
    /// What the limits shed, for `jitterd_http_rejected_total`.
    pub rejected: Arc<Rejected>,
    pub telemetry_path: String,
}

/// Connections the kernel completes and queues for `accept` at most (it
/// caps this at `net.core.somaxconn`, 4096 by default). The standard
/// library's 128 is too few: a burst of clients fills it, and the kernel
/// then drops new connections' SYNs, a scrape's too, which the client
/// repeats only a second later.
pub(crate) const LISTEN_BACKLOG: i32 = 4096;

/// Binds the listen address; the caller maps failure to exit code 69.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // As the standard library does: a restart can bind at once.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Serves `observatory` on `listener` from a thread of its own until
/// `stop`. Raises the process's soft limit on open files to the hard limit
/// first.
pub(crate) fn spawn(
    listener: TcpListener,
    observatory: Arc<Observatory>,
    settings: Settings,
    stop: Stop,
) -> anyhow::Result<(JoinHandle<()>, Limits)> {
    let rejected = Arc::new(Rejected::default());
    let exporter = Exporter::new(Arc::clone(&observatory), Arc::clone(&rejected), settings.native_histograms)
        .context("cannot register the metrics")?;
    let soft_limit = connections::raise_descriptor_limit();
    let connections = Connections::new(soft_limit, settings.max_connections, Arc::clone(&rejected));
    let state = State { observatory, exporter, rejected, telemetry_path: settings.telemetry_path.clone() };
    log_limits(soft_limit, &connections, &settings);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("jitterd-bcrypt")
        // Blocking threads run bcrypt checks, and nothing else.
        .max_blocking_threads(BCRYPT_AT_ONCE)
        .on_thread_start(auth::lowest_priority)
        .build()
        .context("cannot start the HTTP runtime")?;
    let limits = Limits {
        requests: Limit::new(settings.max_requests),
        password_checks: Limit::new(settings.max_password_checks),
        connections,
    };
    let server = Arc::new(Server {
        gate: settings.security.auth.clone().map(|auth| Gate::new(auth, Arc::clone(&limits.password_checks))),
        tls: settings.security.tls.clone().map(tokio_rustls::TlsAcceptor::from),
        requests: Arc::clone(&limits.requests),
        connections: Arc::clone(&limits.connections),
        state,
        settings,
    });
    let thread = std::thread::Builder::new()
        .name("jitterd-http".into())
        .spawn(move || {
            // When scrapes and the experiment compete for a core, the
            // experiment wins and a scrape waits a little, rather than the
            // meter disturbing what it measures.
            crate::sys::timer::set_current_thread_nice(HTTP_NICE, "HTTP");
            runtime.block_on(accept::serve(listener, server, stop));
            // A bcrypt check still running is not waited for.
            runtime.shutdown_timeout(Duration::from_millis(100));
        })
        .context("cannot start the HTTP thread")?;
    Ok((thread, limits))
}

/// The limits a reload can change while the server runs: `web.max_requests`,
/// `web.max_connections` and `web.max_password_checks`.
pub(crate) struct Limits {
    requests: Arc<Limit>,
    password_checks: Arc<Limit>,
    connections: Arc<Connections>,
}

impl Limits {
    /// Applies the keys' new values at once. Requests and checks already
    /// in are kept; open connections beyond a lower cap are shed, longest
    /// waiting first.
    pub(crate) fn apply(&self, max_requests: u32, max_connections: Option<u32>, max_password_checks: u32) {
        self.requests.set(max_requests);
        self.password_checks.set(max_password_checks);
        let cap = self.connections.set_configured(max_connections);
        tracing::info!(
            max_requests,
            max_connections = cap,
            web_max_connections = max_connections,
            max_password_checks,
            "HTTP limits changed"
        );
    }
}

/// Says which limits are in force: the connection cap is derived, so the
/// operator sees what `web.max_connections` became.
fn log_limits(soft_limit: u64, connections: &Connections, settings: &Settings) {
    tracing::info!(
        open_files = soft_limit,
        max_connections = connections.cap(),
        web_max_connections = settings.max_connections,
        max_requests = settings.max_requests,
        max_password_checks = settings.max_password_checks,
        "HTTP limits: open connections at most half the open-file limit and web.max_connections"
    );
}

/// Nice value of the HTTP thread.
pub(crate) const HTTP_NICE: i32 = 10;

/// Everything a connection needs, shared by all of them.
struct Server {
    state: State,
    settings: Settings,
    tls: Option<tokio_rustls::TlsAcceptor>,
    gate: Option<Gate>,
    connections: Arc<Connections>,
    requests: Arc<Limit>,
}

/// One connection, until it closes, is shed, or sends no first request
/// head within the header timeout (counted from the connection's start, so
/// it covers the wait for a first byte and the TLS handshake).
async fn serve_connection(stream: TcpStream, connection: Arc<Connection>, server: Arc<Server>) {
    let deadline = Instant::now() + server.settings.read_header_timeout;
    let first_head_late = async {
        tokio::time::sleep_until(deadline).await;
        if connection.heads() > 0 {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = connection.shed() => tracing::debug!("closed a connection that waited longest, to make room"),
        () = first_head_late => tracing::debug!("closed a connection that sent no request head in time"),
        () = speak(stream, Arc::clone(&connection), Arc::clone(&server)) => {}
    }
}

async fn speak(stream: TcpStream, connection: Arc<Connection>, server: Arc<Server>) {
    // Until the client sends something, its connection costs a socket and
    // this small task: buffers and TLS state (boxed below, so not part of
    // the task) come once it speaks. A peek, not `readable`: tokio takes an
    // accepted socket for readable until a read finds nothing.
    if !matches!(stream.peek(&mut [0u8; 1]).await, Ok(1..)) {
        return;
    }
    let stream = WriteDeadline::new(stream, server.settings.write_timeout);
    match &server.tls {
        None => Box::pin(serve_http(stream, connection, server)).await,
        Some(acceptor) => {
            // Encrypted output waiting for a client that does not read is
            // held to the size of a head too (rustls's default is 64 KiB).
            let limit = |tls: &mut rustls::ServerConnection| tls.set_buffer_limit(Some(MAX_HEADER_BYTES));
            match Box::pin(acceptor.accept_with(stream, limit)).await {
                Ok(stream) => Box::pin(serve_http(stream, connection, server)).await,
                Err(err) => tracing::debug!("TLS handshake failed: {err}"),
            }
        }
    }
}

async fn serve_http<S>(stream: S, connection: Arc<Connection>, server: Arc<Server>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let read_header_timeout = server.settings.read_header_timeout;
    let service = hyper::service::service_fn(move |req| {
        connection.handling();
        let (connection, server) = (Arc::clone(&connection), Arc::clone(&server));
        async move {
            let reply = server.handle(&req).await;
            connection.waiting();
            Ok::<_, Infallible>(reply)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(read_header_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

impl Server {
    /// [`route`], within `web.max_requests` and behind basic auth when users
    /// are configured. `/-/healthy` stays open: it tells no more than an
    /// open port, and health checks need no password.
    async fn handle(&self, req: &Request<Incoming>) -> Reply {
        let Some(_handling) = self.requests.try_take() else {
            self.state.rejected.count(Reason::Requests);
            let mut response = text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "503 limit of concurrent requests reached (web.max_requests = {}), try again later\n",
                    self.requests.places()
                ),
            );
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        };
        if let Some(gate) = &self.gate
            && req.uri().path() != crate::endpoints::HEALTHY
        {
            match gate.check(req.headers().get(AUTHORIZATION)).await {
                Verdict::Allowed => {}
                Verdict::Denied => {
                    let mut response = text(StatusCode::UNAUTHORIZED, "401 unauthorized\n");
                    response
                        .headers_mut()
                        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"jitterd\""));
                    return response;
                }
                Verdict::Busy => {
                    self.state.rejected.count(Reason::PasswordChecks);
                    let mut response = text(
                        StatusCode::TOO_MANY_REQUESTS,
                        "429 too many password checks waiting (web.max_password_checks), try again later\n",
                    );
                    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
                    return response;
                }
            }
        }
        route(&self.state, req)
    }
}
