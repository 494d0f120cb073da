//! `/api/v1/`: the experiment as JSON, for the live page and for scripts.
//!
//! Views of the observatory: `/api/v1/status` ([`status`]) reads one
//! snapshot, `/api/v1/beats` the ring of recent slots of one heartbeat.
//! The query parameters are checked strictly ([`query`]).

pub(crate) mod query;
pub(crate) mod status;

use serde::Serialize;

use crate::observe::{Observatory, RING_CAPACITY, Slot};
use query::BeatsQuery;

/// `GET /api/v1/beats`: the slots the query asks for, and the cursor to
/// ask with next time (`last_index`).
pub(crate) fn beats_json(observatory: &Observatory, query: BeatsQuery) -> Vec<u8> {
    let (slots, last_index) = observatory.board(query.heartbeat).ring().after(query.after, query.limit);
    let reply = BeatsReply { heartbeat: query.heartbeat.name(), capacity: RING_CAPACITY, last_index, slots: &slots };
    serde_json::to_vec(&reply).unwrap_or_default()
}

/// `GET /api/v1/status`.
pub(crate) fn status_json(observatory: &Observatory) -> Vec<u8> {
    serde_json::to_vec(&status::status(&observatory.snapshot())).unwrap_or_default()
}

/// The body of `/api/v1/beats`.
#[derive(Serialize)]
struct BeatsReply<'a> {
    heartbeat: &'static str,
    /// Slots the ring keeps per heartbeat.
    capacity: usize,
    /// Index of the newest slot (0: none yet): pass it as `after` next time.
    last_index: u64,
    slots: &'a [Slot],
}
