//! jitterd: a daemon that runs one concurrency experiment forever and
//! measures it. A counter increments an array as fast as it can; a heartbeat
//! wakes every period, checks the array is consistent and notes how late it
//! is. The strategy decides how the two share the array.
//!
//! The data path runs one way. A strategy (`strategy/`) runs the counter and
//! the heartbeats; a heartbeat (`heartbeat.rs`) turns each wake-up into a
//! beat, pure measurement (`measure.rs`), and its sink hands the beat to the
//! observatory (`observe/`), the one owner of everything a beat becomes: for
//! each heartbeat a board with the counts and the histograms' counts, the
//! window store, the ring of recent slots, drift and drift gained, threshold
//! state and the stop totals; for the experiment the counter's passes,
//! liveness and the running settings. An experiment's start is one reset
//! (`Observatory::begin`) and every reader takes one consistent snapshot. The
//! readers are views that never write: the Prometheus collector
//! (`serve/prometheus/`), `/api/v1` and the live page (`serve/`), the interval
//! log (`interval_log/`), the stop summary (`cmd/run.rs`) and `compare`
//! (`cmd/compare/`, on an observatory of its own).
//!
//! The binary is a thin wrapper around [`app::main`]; everything lives here
//! so tests reach it.

pub mod app;
pub mod array;
mod build;
pub mod chart;
pub mod cli;
pub mod cmd;
pub mod config;
mod endpoints;
mod error;
pub mod experiment;
pub mod explain;
pub mod heartbeat;
pub mod interval_log;
mod logging;
pub mod measure;
pub mod observe;
mod serve;
mod strategy;
pub mod sys;
mod web_config;
