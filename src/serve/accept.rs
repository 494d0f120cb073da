//! The accept loop: takes connections until the stop, admits each within
//! the connection cap (shedding the one that waited longest on its client
//! when full), backs off while descriptors or memory run out, and logs its
//! troubles once rather than per connection.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::connections::Connections;
use super::{Server, serve_connection};
use crate::sys::timer::Stop;

/// Pause between attempts to accept while descriptors (or memory) run out.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Shedding is logged at most this often.
const SHED_LOG_INTERVAL: Duration = Duration::from_secs(60);

pub(super) async fn serve(listener: TcpListener, server: Arc<Server>, stop: Stop) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!("cannot serve HTTP: {err}");
            return;
        }
    };
    let stopped = stop.stopped();
    tokio::pin!(stopped);
    let mut accepting = Accepting::default();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            result = &mut stopped => {
                if let Err(err) = result {
                    tracing::error!("cannot wait for the stop signal: {err}");
                }
                return;
            }
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) if concerns_one_connection(&err) => {
                tracing::debug!("accept failed: {err}");
                continue;
            }
            Err(err) => {
                // Out of descriptors and the like: back off rather than
                // spin, and retry until it passes.
                accepting.starved(&server.connections, &err);
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    _ = &mut stopped => return,
                }
            }
        };
        accepting.accepted(&server.connections);
        let Some(connection) = server.connections.admit() else {
            tracing::debug!("turned a connection away: every open one has a request being handled");
            continue;
        };
        accepting.log_shed(&server.connections);
        tokio::spawn(serve_connection(stream, Arc::new(connection), Arc::clone(&server)));
        // Let a connection just shed close its socket before the next
        // accept, so descriptors stay within the cap.
        tokio::task::yield_now().await;
    }
}

/// What the accept loop remembers, to log its troubles once, not per connection.
#[derive(Default)]
struct Accepting {
    /// Since when accepting fails for want of descriptors or memory.
    starved: Option<Instant>,
    shed_logged: Option<Instant>,
}

impl Accepting {
    /// Accepting failed for want of descriptors or memory: say so once, and
    /// lower the cap to the limit as it is now (it may have been lowered).
    fn starved(&mut self, connections: &Connections, err: &std::io::Error) {
        if self.starved.is_some() {
            return;
        }
        self.starved = Some(Instant::now());
        let lower = connections.cap_now().min(connections.cap());
        connections.set_cap(lower);
        tracing::warn!(
            open = connections.open(),
            max_connections = lower,
            "cannot accept connections: {err}; retrying every {} ms",
            ACCEPT_BACKOFF.as_millis()
        );
    }

    /// A connection was accepted: after starving, the cap follows the limit again.
    fn accepted(&mut self, connections: &Connections) {
        let Some(since) = self.starved.take() else { return };
        connections.set_cap(connections.cap_now());
        tracing::info!(
            after_seconds = since.elapsed().as_secs_f64(),
            open = connections.open(),
            max_connections = connections.cap(),
            "accepting connections again"
        );
    }

    /// Logs the connections shed since the last time, at most every [`SHED_LOG_INTERVAL`].
    fn log_shed(&mut self, connections: &Connections) {
        if self.shed_logged.is_some_and(|logged| logged.elapsed() < SHED_LOG_INTERVAL) {
            return;
        }
        let shed = connections.take_shed();
        if shed > 0 {
            self.shed_logged = Some(Instant::now());
            tracing::warn!(
                shed,
                max_connections = connections.cap(),
                "open connections reached the cap: closing those that waited longest on their clients"
            );
        }
    }
}

/// Accept errors that concern one connection (gone before it was
/// accepted, refused by a firewall): the next accept is unaffected.
fn concerns_one_connection(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ECONNABORTED | libc::ECONNRESET | libc::EPROTO | libc::EPERM | libc::EINTR))
}
