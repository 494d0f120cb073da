//! The commands that do something beyond printing: `run` (the daemon),
//! `compare` (every strategy in turn, side by side) and `healthcheck`. Each
//! wires the layers below together; none is imported by them.

pub mod compare;
pub(crate) mod healthcheck;
pub(crate) mod run;
