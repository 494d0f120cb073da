//! Why a command failed, and the exit code each failure ends with.
//!
//! Its own module, below everything that can fail, so that the commands
//! (`run`, `compare`, `healthcheck`) report failures without importing from
//! the dispatcher that calls them (as fd's `exit_codes.rs`).

use crate::config::ConfigError;
use crate::sys::exit;

/// Why a command failed, and so which exit code it ends with.
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Unavailable(String),
    Config(String),
    Other(anyhow::Error),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => exit::USAGE,
            Failure::Unavailable(_) => exit::UNAVAILABLE,
            Failure::Config(_) => exit::CONFIG,
            Failure::Other(_) => exit::FAILURE,
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(err: ConfigError) -> Failure {
        Failure::Config(err.to_string())
    }
}
