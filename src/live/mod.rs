//! The live view of the experiment: the recent slots of both heartbeats,
//! served as JSON under `/api/v1/` and drawn by the page at `/`.

pub mod ring;
