//! The command line as the user typed it, checked for form only.
//!
//! Options follow the Prometheus exporters (`--config.file`,
//! `--web.listen-address`, `--log.level`, `--log.format`). What they mean
//! once merged with the config is decided in [`crate::app`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Flag;
use crate::logging::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "jitterd",
    version = crate::build::VERSION,
    long_version = LONG_VERSION,
    about = "Measures how well a host, a runtime and a concurrency strategy keep time under contention, and exports it to Prometheus.",
    after_help = "Exit codes: 0 clean stop, 64 bad command line, 69 listen address unavailable, 78 bad config, 130 forced stop."
)]
pub struct Cli {
    /// The options of `run`, the default command: `jitterd --config.file F`
    /// is `jitterd run --config.file F`.
    #[command(flatten)]
    pub run: Options,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Every option that names a config source or sets a config key. Each
/// command takes the groups it uses (see [`Command::options`]); its help
/// shows only those.
#[derive(Debug, Clone, Default, Args)]
pub struct Options {
    #[command(flatten)]
    pub config: ConfigFileOption,
    #[command(flatten)]
    pub web: WebOptions,
    #[command(flatten)]
    pub log: LogOptions,
}

/// `--config.file`.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigFileOption {
    /// TOML config file layered over the embedded default.
    #[arg(long = "config.file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
}

/// Where the daemon serves, and how it speaks (TLS, basic auth).
#[derive(Debug, Clone, Default, Args)]
pub struct WebOptions {
    /// Address the daemon serves metrics on (overrides web.listen_address).
    #[arg(long = "web.listen-address", value_name = "HOST:PORT", value_parser = listen_address)]
    pub listen_address: Option<String>,

    /// YAML file with TLS and basic auth settings (exporter-toolkit format).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
}

/// How the daemon logs.
#[derive(Debug, Clone, Default, Args)]
pub struct LogOptions {
    /// Log level or filter (overrides log.level; RUST_LOG overrides both).
    #[arg(long = "log.level", value_name = "LEVEL", value_parser = log_level)]
    pub log_level: Option<String>,

    /// Log format (overrides log.format).
    #[arg(long = "log.format", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

/// What `healthcheck` takes: the config, and where the daemon listens and how it speaks.
#[derive(Debug, Clone, Default, Args)]
pub struct HealthcheckOptions {
    #[command(flatten)]
    pub config: ConfigFileOption,
    #[command(flatten)]
    pub web: WebOptions,
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
    Run(Options),
    /// Validate the configuration, print the effective config, exit 0 or 78.
    CheckConfig(Options),
    /// Print the embedded default configuration.
    PrintDefaultConfig,
    /// GET /-/healthy of the running daemon; exit 0 if healthy (for container health checks).
    Healthcheck(HealthcheckOptions),
    /// Run each strategy in turn on the same settings and print them side by side.
    Compare {
        #[command(flatten)]
        config: ConfigFileOption,
        #[command(flatten)]
        args: CompareArgs,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout, e.g. `jitterd man > jitterd.1`.
    Man,
}

impl Command {
    /// The command's own options as one [`Options`], and the names of the
    /// options it takes.
    fn options(&self) -> (Options, &'static [&'static str]) {
        match self {
            Command::Run(options) | Command::CheckConfig(options) => (
                options.clone(),
                &["--config.file", "--web.listen-address", "--web.config.file", "--log.level", "--log.format"],
            ),
            Command::Healthcheck(o) => (
                Options { config: o.config.clone(), web: o.web.clone(), ..Options::default() },
                &["--config.file", "--web.listen-address", "--web.config.file"],
            ),
            Command::Compare { config, .. } => {
                (Options { config: config.clone(), ..Options::default() }, &["--config.file"])
            }
            Command::PrintDefaultConfig | Command::Completions { .. } | Command::Man => (Options::default(), &[]),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Command::Run(_) => "run",
            Command::CheckConfig(_) => "check-config",
            Command::PrintDefaultConfig => "print-default-config",
            Command::Healthcheck(_) => "healthcheck",
            Command::Compare { .. } => "compare",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
        }
    }
}

impl Cli {
    /// The command to run and its options. Options given before the command
    /// name (`jitterd --config.file F check-config`) count as the command's
    /// own, where it takes them; one it does not take is a usage error that
    /// says which.
    pub fn resolve(self) -> Result<(Command, Options), String> {
        let command = self.command.unwrap_or_else(|| Command::Run(Options::default()));
        let (own, takes) = command.options();
        let before = self.run;
        let mut merged = own;
        let refuse = |name: &str, given: bool| {
            if given && !takes.contains(&name) {
                Err(format!(
                    "{name} does not apply to `{}`; see `jitterd {} --help` for its options",
                    command.name(),
                    command.name()
                ))
            } else {
                Ok(())
            }
        };
        refuse("--config.file", before.config.config_file.is_some())?;
        refuse("--web.listen-address", before.web.listen_address.is_some())?;
        refuse("--web.config.file", before.web.web_config_file.is_some())?;
        refuse("--log.level", before.log.log_level.is_some())?;
        refuse("--log.format", before.log.log_format.is_some())?;
        let (config, web, log) = (&mut merged.config, &mut merged.web, &mut merged.log);
        config.config_file = config.config_file.take().or(before.config.config_file);
        web.listen_address = web.listen_address.take().or(before.web.listen_address);
        web.web_config_file = web.web_config_file.take().or(before.web.web_config_file);
        log.log_level = log.log_level.take().or(before.log.log_level);
        log.log_format = log.log_format.take().or(before.log.log_format);
        Ok((command, merged))
    }
}

/// `compare`'s options as typed; [`crate::cmd::compare`] checks them, so that a
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

impl Options {
    /// The flags that set config keys, as the config's top layer.
    pub fn flags(&self) -> Vec<Flag> {
        let format = self.log.log_format.map(|format| format.name().to_owned());
        [
            ("--web.listen-address", "web.listen_address", self.web.listen_address.clone()),
            ("--log.level", "log.level", self.log.log_level.clone()),
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
