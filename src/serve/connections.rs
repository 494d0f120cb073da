//! Open connections: how many are kept, and which one gives way.
//!
//! Sockets are cheap but not free: each holds a file descriptor, and a
//! process that runs out of descriptors can accept no one, Prometheus
//! included. So the number of open connections has a cap, set well below
//! the descriptor limit, and a newcomer beyond the cap is let in by shedding
//! the connection that has waited longest on its client: for a request head
//! (a client that connected and stalls) or for the client to read a
//! response. A connection whose request is being handled is never shed.
//! A scrape sends its head at once, so it is never the one that waited
//! longest: stalled clients cannot keep it out, however many there are.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::rejected::{Reason, Rejected};

/// Connections kept open at most, whatever the descriptor limit.
pub(crate) const MAX_OPEN_CONNECTIONS: usize = 1024;
/// The cap never goes below this, however low the descriptor limit.
const MIN_OPEN_CONNECTIONS: usize = 8;

/// Raises the soft limit on open files to the hard limit, as Go programs do
/// at start (the soft limit is often 1024 for compatibility with `select`,
/// which jitterd does not use). Returns the soft limit now in force.
pub(super) fn raise_descriptor_limit() -> u64 {
    let Some(mut limit) = descriptor_limit() else { return 0 };
    if limit.rlim_cur < limit.rlim_max {
        let before = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit(2) reads the struct we pass and nothing else.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == 0 {
            tracing::debug!(from = before, to = limit.rlim_cur, "raised the open-file limit");
        } else {
            tracing::debug!("cannot raise the open-file limit: {}", std::io::Error::last_os_error());
            limit.rlim_cur = before;
        }
    }
    limit.rlim_cur
}

/// The soft limit on open files now (an operator may have changed it with
/// `prlimit` since the start); 0 if it cannot be read.
pub(super) fn soft_descriptor_limit() -> u64 {
    descriptor_limit().map_or(0, |limit| limit.rlim_cur)
}

fn descriptor_limit() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit(2) writes into the struct we pass.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit)
}

/// The cap for a soft descriptor limit and `web.max_connections`: half of
/// the limit, so the rest of the process (metrics reading `/proc`, a config
/// reload) always finds a descriptor, and at most the key or, left out,
/// [`MAX_OPEN_CONNECTIONS`].
pub(super) fn cap_for(soft_limit: u64, configured: Option<u32>) -> usize {
    let half = usize::try_from(soft_limit / 2).unwrap_or(usize::MAX).max(MIN_OPEN_CONNECTIONS);
    match configured {
        Some(key) => half.min(usize::try_from(key).unwrap_or(usize::MAX)),
        None => half.min(MAX_OPEN_CONNECTIONS),
    }
}

/// The open connections of one server.
pub(super) struct Connections {
    inner: Mutex<Inner>,
    /// Every connection shed or turned away, for `jitterd_http_rejected_total`.
    rejected: Arc<Rejected>,
}

struct Inner {
    open: usize,
    cap: usize,
    next_ticket: u64,
    /// Connections waiting on their client, by ticket: the first waited longest.
    waiting: BTreeMap<u64, Arc<Notify>>,
    /// Connections shed since the last call to [`Connections::take_shed`].
    shed: u64,
    /// `web.max_connections`; `None`: left out.
    configured: Option<u32>,
}

impl Connections {
    /// Connections under `web.max_connections` (`configured`) and half of
    /// `soft_limit`, the open-file limit.
    pub(super) fn new(soft_limit: u64, configured: Option<u32>, rejected: Arc<Rejected>) -> Arc<Connections> {
        let cap = cap_for(soft_limit, configured);
        let inner = Inner { open: 0, cap, next_ticket: 1, waiting: BTreeMap::new(), shed: 0, configured };
        Arc::new(Connections { inner: Mutex::new(inner), rejected })
    }

    /// The cap for the open-file limit as it is now (an operator may have
    /// lowered it since the start), and the key.
    pub(super) fn cap_now(&self) -> usize {
        let configured = self.lock().configured;
        cap_for(soft_descriptor_limit(), configured)
    }

    /// A reload changed `web.max_connections`: the cap follows at once,
    /// shedding waiting connections down to it. Returns the new cap.
    pub(super) fn set_configured(&self, configured: Option<u32>) -> usize {
        self.lock().configured = configured;
        let cap = self.cap_now();
        self.set_cap(cap);
        cap
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets a new connection in, shedding the one that waited longest if
    /// the cap is reached. `None` if the cap is reached and every open
    /// connection has a request being handled: then the newcomer is turned
    /// away, so the cap holds.
    pub(super) fn admit(self: &Arc<Self>) -> Option<Connection> {
        let mut inner = self.lock();
        if inner.open >= inner.cap && !self.shed_oldest(&mut inner) {
            self.rejected.count(Reason::Connections);
            return None;
        }
        inner.open += 1;
        let shed = Arc::new(Notify::new());
        let ticket = inner.join(&shed);
        Some(Connection {
            connections: Arc::clone(self),
            ticket: AtomicU64::new(ticket),
            shed,
            heads: AtomicU64::new(0),
        })
    }

    /// Sets the cap (after the descriptor limit was found lower than
    /// thought) and sheds waiting connections down to it. Returns the cap
    /// before.
    pub(super) fn set_cap(&self, cap: usize) -> usize {
        let mut inner = self.lock();
        let before = std::mem::replace(&mut inner.cap, cap);
        while inner.open > inner.cap && self.shed_oldest(&mut inner) {}
        before
    }

    /// [`Inner::shed_oldest`], counted.
    fn shed_oldest(&self, inner: &mut Inner) -> bool {
        let shed = inner.shed_oldest();
        if shed {
            self.rejected.count(Reason::Connections);
        }
        shed
    }

    pub(super) fn cap(&self) -> usize {
        self.lock().cap
    }

    pub(super) fn open(&self) -> usize {
        self.lock().open
    }

    /// How many connections were shed since the last call.
    pub(super) fn take_shed(&self) -> u64 {
        std::mem::take(&mut self.lock().shed)
    }
}

impl Inner {
    /// Joins the back of the waiting line; returns the ticket.
    fn join(&mut self, shed: &Arc<Notify>) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.waiting.insert(ticket, Arc::clone(shed));
        ticket
    }

    /// Tells the connection that waited longest to close; false if none waits.
    /// It no longer counts as open: its socket closes as soon as its task runs.
    fn shed_oldest(&mut self) -> bool {
        let Some((_, shed)) = self.waiting.pop_first() else { return false };
        shed.notify_one();
        self.open -= 1;
        self.shed += 1;
        true
    }
}

/// One open connection's place; leaving it (on drop) frees the place.
pub(super) struct Connection {
    connections: Arc<Connections>,
    /// Its ticket in the waiting line; 0 while a request is being handled,
    /// and `u64::MAX` once shed.
    ticket: AtomicU64,
    shed: Arc<Notify>,
    /// Request heads received.
    heads: AtomicU64,
}

const HANDLING: u64 = 0;
const SHED: u64 = u64::MAX;

impl Connection {
    /// A request head arrived: the connection leaves the waiting line
    /// while the request is handled, and cannot be shed meanwhile.
    pub(super) fn handling(&self) {
        self.heads.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.connections.lock();
        let ticket = self.ticket.load(Ordering::Relaxed);
        if ticket != SHED && inner.waiting.remove(&ticket).is_some() {
            self.ticket.store(HANDLING, Ordering::Relaxed);
        } else {
            // Shed a moment ago: it stays shed.
            self.ticket.store(SHED, Ordering::Relaxed);
        }
    }

    /// The response is built: the connection waits on its client again
    /// (to read it, then to send the next head), at the back of the line.
    pub(super) fn waiting(&self) {
        if self.ticket.load(Ordering::Relaxed) != HANDLING {
            return;
        }
        let ticket = self.connections.lock().join(&self.shed);
        self.ticket.store(ticket, Ordering::Relaxed);
    }

    /// Request heads received so far.
    pub(super) fn heads(&self) -> u64 {
        self.heads.load(Ordering::Relaxed)
    }

    /// Resolves when the connection is told to give way.
    pub(super) async fn shed(&self) {
        self.shed.notified().await;
        self.ticket.store(SHED, Ordering::Relaxed);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut inner = self.connections.lock();
        match self.ticket.load(Ordering::Relaxed) {
            // Shed: no longer counted as open.
            SHED => {}
            HANDLING => inner.open -= 1,
            ticket => {
                // It may have been shed without having noticed yet.
                if inner.waiting.remove(&ticket).is_some() {
                    inner.open -= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_shed(connection: &Connection) -> bool {
        let connections = connection.connections.lock();
        let ticket = connection.ticket.load(Ordering::Relaxed);
        ticket != HANDLING && !connections.waiting.contains_key(&ticket)
    }

    #[test]
    fn the_cap_sheds_the_longest_waiting_and_never_a_request_being_handled() {
        let connections = Connections::new(6, Some(3), Arc::default());
        let first = connections.admit().expect("room");
        let second = connections.admit().expect("room");
        let third = connections.admit().expect("room");
        first.handling();
        // Full: the newcomer sheds the one that waited longest and is not
        // being handled.
        let fourth = connections.admit().expect("room by shedding");
        assert!(!is_shed(&first) && is_shed(&second) && !is_shed(&third));
        assert_eq!(connections.open(), 3);
        // Back in line behind the others once its response is built.
        first.waiting();
        let _fifth = connections.admit().expect("room by shedding");
        assert!(is_shed(&third) && !is_shed(&first) && !is_shed(&fourth));
        drop(second);
        drop(third);
        assert_eq!(connections.open(), 3, "dropping a shed connection frees nothing twice");
        drop(first);
        assert_eq!(connections.open(), 2);
        assert_eq!(connections.take_shed(), 2);
        assert_eq!(connections.take_shed(), 0);
        assert_eq!(connections.rejected.get(Reason::Connections), 2, "every shed connection is counted");
    }

    #[test]
    fn with_every_request_being_handled_newcomers_are_turned_away() {
        let connections = Connections::new(4, Some(2), Arc::default());
        let a = connections.admit().expect("room");
        let b = connections.admit().expect("room");
        a.handling();
        b.handling();
        assert!(connections.admit().is_none());
        assert_eq!(connections.rejected.get(Reason::Connections), 1, "turned away is counted");
        b.waiting();
        assert!(connections.admit().is_some());
    }

    #[test]
    fn a_lower_cap_sheds_down_to_it() {
        let connections = Connections::new(20, Some(10), Arc::default());
        let held: Vec<Connection> = (0..6).filter_map(|_| connections.admit()).collect();
        assert_eq!(connections.set_cap(4), 10);
        assert_eq!(connections.open(), 4);
        assert!(is_shed(&held[0]) && is_shed(&held[1]) && !is_shed(&held[2]));
    }

    #[test]
    fn the_cap_is_half_the_descriptor_limit_within_bounds() {
        assert_eq!(cap_for(64, None), 32);
        assert_eq!(cap_for(1024, None), 512);
        assert_eq!(cap_for(1 << 20, None), MAX_OPEN_CONNECTIONS);
        assert_eq!(cap_for(4, None), MIN_OPEN_CONNECTIONS);
    }

    #[test]
    fn the_key_caps_below_half_the_descriptor_limit_and_beyond_the_default() {
        assert_eq!(cap_for(1024, Some(100)), 100, "the key when lower");
        assert_eq!(cap_for(1024, Some(4096)), 512, "half the limit when lower");
        assert_eq!(cap_for(1 << 20, Some(100_000)), 100_000, "the key may go beyond the default's 1024");
        assert_eq!(cap_for(4, Some(16)), MIN_OPEN_CONNECTIONS);
    }
}
