//! What the server shed, by the limit that shed it: the counts behind
//! `jitterd_http_rejected_total{reason}`. Plain atomics, written where a
//! limit refuses and read by the exporter.

use std::sync::atomic::{AtomicU64, Ordering};

/// The limit that refused a connection or a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// An open connection waiting for its headers was closed to make room
    /// (`web.max_connections`, or half of RLIMIT_NOFILE).
    Connections,
    /// A request answered 503 (`web.max_requests`).
    Requests,
    /// A request answered 429 (`web.max_password_checks`).
    PasswordChecks,
}

impl Reason {
    pub(crate) const ALL: [Reason; 3] = [Reason::Connections, Reason::Requests, Reason::PasswordChecks];

    /// The label value: the config key's name.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Reason::Connections => "max_connections",
            Reason::Requests => "max_requests",
            Reason::PasswordChecks => "max_password_checks",
        }
    }
}

/// Counts since the process started.
#[derive(Debug, Default)]
pub(crate) struct Rejected([AtomicU64; 3]);

impl Rejected {
    pub(crate) fn count(&self, reason: Reason) {
        self.0[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self, reason: Reason) -> u64 {
        self.0[reason as usize].load(Ordering::Relaxed)
    }
}
