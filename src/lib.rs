//! jitterd: a daemon that runs one concurrency experiment forever and
//! measures it. A counter increments an array as fast as it can; a heartbeat
//! wakes every period, checks the array is consistent and notes how late it
//! is. The strategy decides how the two share the array.
//!
//! The binary is a thin wrapper around [`app::main`]; everything lives here
//! so tests reach it.

pub mod app;
pub mod array;
mod build;
pub mod cli;
pub mod clock;
pub mod compare;
pub mod config;
mod daemon;
mod drift;
mod endpoints;
mod error;
pub mod experiment;
mod files;
mod healthcheck;
pub mod heartbeat;
mod http;
pub mod interval_log;
pub mod lateness;
mod live;
mod logging;
pub mod measure;
pub mod metrics;
mod notify;
mod signals;
mod slot_histogram;
mod strategy;
mod timer;
mod web_config;
