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
pub mod chart;
pub mod cli;
pub mod cmd;
pub mod config;
mod endpoints;
mod error;
pub mod experiment;
pub mod heartbeat;
pub mod interval_log;
mod logging;
pub mod measure;
pub mod observe;
mod serve;
mod strategy;
pub mod sys;
mod web_config;
