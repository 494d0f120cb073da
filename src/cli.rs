//! The command line as the user typed it, checked for form only.
//!
//! Options follow the Prometheus exporters (`--config.file`,
//! `--web.listen-address`, `--log.level`, `--log.format`). What they mean
//! once merged with the config is decided in [`crate::app`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Flag;

#[derive(Debug, Parser)]
#[command(
    name = "jitterd",
    version = crate::build::VERSION,
    long_version = LONG_VERSION,
    about = "Measures how well a host, a runtime and a concurrency strategy keep time under contention, and exports it to Prometheus.",
    after_help = "Exit codes: 0 clean stop, 64 bad command line, 69 listen address unavailable, 78 bad config, 130 forced stop."
)]
pub struct Cli {
    /// TOML config file layered over the embedded default.
    #[arg(long = "config.file", value_name = "FILE", global = true)]
    pub config_file: Option<PathBuf>,

    /// Address to serve metrics on (overrides web.listen_address).
    #[arg(long = "web.listen-address", value_name = "HOST:PORT", global = true, value_parser = listen_address)]
    pub listen_address: Option<String>,

    /// YAML file with TLS and basic auth settings (exporter-toolkit format).
    #[arg(long = "web.config.file", value_name = "FILE", global = true)]
    pub web_config_file: Option<PathBuf>,

    /// Log level or filter (overrides log.level; RUST_LOG overrides both).
    #[arg(long = "log.level", value_name = "LEVEL", global = true, value_parser = log_level)]
    pub log_level: Option<String>,

    /// Log format (overrides log.format).
    #[arg(long = "log.format", value_name = "FORMAT", global = true)]
    pub log_format: Option<LogFormatArg>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("JITTERD_BUILD_REVISION"),
    ", rustc ",
    env!("JITTERD_BUILD_RUSTC"),
    ")"
);

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the experiment and serve metrics (the default).
    Run,
    /// Validate the configuration, print the effective config, exit 0 or 78.
    CheckConfig,
    /// Print the embedded default configuration.
    PrintDefaultConfig,
    /// GET /-/healthy of the running daemon; exit 0 if healthy (for container health checks).
    Healthcheck,
    /// Run each strategy in turn on the same settings and print them side by side.
    Compare(CompareArgs),
}

/// `compare`'s options as typed; [`crate::compare`] checks them, so that a
/// bad value gets one line naming it and what would be valid.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Strategies to run, in this order, comma-separated [default: all eight].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub strategies: Vec<String>,

    /// How long each strategy runs.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub duration: String,

    /// Heartbeat period (the config's heartbeat.period is for the daemon).
    #[arg(long, value_name = "DURATION", default_value = "10ms")]
    pub period: String,

    /// Elements in the array.
    #[arg(long, value_name = "ELEMENTS", default_value = "100000")]
    pub size: String,

    /// Heartbeat schedule: absolute or relative.
    #[arg(long, value_name = "SCHEDULE", default_value = "absolute")]
    pub schedule: String,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,

    /// Also write a self-contained HTML page with charts to this file.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Table,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl Cli {
    /// The flags that set config keys, as the config's top layer.
    pub fn flags(&self) -> Vec<Flag> {
        let format = self.log_format.map(|format| match format {
            LogFormatArg::Text => "text".to_owned(),
            LogFormatArg::Json => "json".to_owned(),
        });
        [
            ("--web.listen-address", "web.listen_address", self.listen_address.clone()),
            ("--log.level", "log.level", self.log_level.clone()),
            ("--log.format", "log.format", format),
        ]
        .into_iter()
        .filter_map(|(name, key, value)| Some(Flag { name, key, value: value? }))
        .collect()
    }
}

fn listen_address(text: &str) -> Result<String, String> {
    crate::config::parse_listen_address(text).map(|_| text.to_owned())
}

fn log_level(text: &str) -> Result<String, String> {
    crate::logging::parse_filter(text).map(|_| text.to_owned())
}
