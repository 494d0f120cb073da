//! jitterd: a daemon that runs one concurrency experiment forever and
//! measures it. A counter increments an array as fast as it can; a heartbeat
//! wakes every period, checks the array is consistent and notes how late it
//! is. The strategy decides how the two share the array.
//!
//! The binary is a thin wrapper around [`app::main`]; everything lives here
//! so tests reach it.

pub mod app;
pub mod array;
pub mod build;
pub mod cli;
pub mod clock;
pub mod compare;
pub mod config;
pub mod daemon;
pub mod drift;
pub mod error;
pub mod experiment;
pub mod files;
pub mod healthcheck;
pub mod heartbeat;
pub mod http;
pub mod interval_log;
pub mod lateness;
pub mod live;
pub mod logging;
pub mod measure;
pub mod metrics;
pub mod notify;
pub mod signals;
pub mod slot_histogram;
pub mod strategy;
pub mod timer;
pub mod web_config;
