//! From the command line to an exit code.
//!
//! Parses the raw options, loads and validates the config, sets up logging
//! and runs the chosen command. Every failure becomes a one-line message on
//! stderr and the contract's exit code; nothing here panics on user input.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser as _;
use clap::error::ErrorKind;

use crate::cli::{Cli, Command};
use crate::config::{Config, DEFAULT_TOML, Sources};
use crate::daemon;
use crate::error::{Failure, exit};

/// Runs jitterd with these arguments and returns its exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => exit::OK,
                _ => exit::USAGE,
            });
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            match &failure {
                Failure::Usage(msg) | Failure::Unavailable(msg) | Failure::Config(msg) => eprintln!("jitterd: {msg}"),
                Failure::Other(err) => eprintln!("jitterd: {err:#}"),
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let flags = cli.flags();
    let command = cli.command.unwrap_or(Command::Run);
    // Signals first, so a stop during start-up is obeyed, not fatal.
    let signals = match command {
        Command::Run => Some(crate::signals::listen(true).map_err(Failure::Other)?),
        _ => None,
    };
    if let Command::PrintDefaultConfig = command {
        print!("{DEFAULT_TOML}");
        return Ok(());
    }
    let web_config_file = cli.web_config_file;
    let sources = Sources::from_process(cli.config_file, flags)?;
    let config = Config::load(&sources)?;
    // TLS and basic auth: checked by every command that reads the config, so
    // check-config catches a bad web config file too.
    let web = crate::web_config::WebSecurity::load(web_config_file.as_deref())?;
    match command {
        Command::CheckConfig => {
            let text = toml::to_string(&config).map_err(|err| Failure::Other(err.into()))?;
            println!("# Effective configuration: embedded default, file, environment and flags merged.\n{text}");
            Ok(())
        }
        Command::Healthcheck => crate::healthcheck::run(&config, &web),
        Command::Compare(args) => crate::compare::command(&args, config),
        Command::Run => {
            let level = crate::logging::init(&config.log.level, config.log.format);
            let signals = signals.ok_or_else(|| Failure::Other(anyhow::anyhow!("signal handling was not set up")))?;
            daemon::run(config, sources, web, level, signals)
        }
        Command::PrintDefaultConfig => Ok(()),
    }
}
