//! From the command line to an exit code.
//!
//! Parses the raw options, loads and validates the config, sets up logging
//! and runs the chosen command. Every failure becomes a one-line message on
//! stderr and the contract's exit code; nothing here panics on user input.

mod man;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory as _, Parser as _};

use crate::cli::{Cli, Command};
use crate::cmd;
use crate::config::{Config, DEFAULT_TOML, Sources};
use crate::error::Failure;
use crate::sys::exit;

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
    let (command, options) = cli.resolve().map_err(Failure::Usage)?;
    // Signals first, so a stop during start-up is obeyed, not fatal.
    let signals = match command {
        Command::Run(_) => Some(crate::sys::signals::listen(true).map_err(Failure::Other)?),
        _ => None,
    };
    match command {
        Command::PrintDefaultConfig => {
            print!("{DEFAULT_TOML}");
            return Ok(());
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "jitterd", &mut script);
            return print_bytes(&script);
        }
        Command::Man => {
            let page = man::page().map_err(|err| Failure::Other(err.into()))?;
            return print_bytes(&page);
        }
        _ => {}
    }
    let sources = Sources::from_process(options.config.config_file.clone(), options.flags())?;
    let config = Config::load(&sources)?;
    // TLS and basic auth: checked by every command that reads the config, so
    // check-config catches a bad web config file too.
    let web = crate::web_config::WebSecurity::load(options.web.web_config_file.as_deref())?;
    match command {
        Command::CheckConfig(_) => {
            let text = toml::to_string(&config).map_err(|err| Failure::Other(err.into()))?;
            println!("# Effective configuration: embedded default, file, environment and flags merged.\n{text}");
            Ok(())
        }
        Command::Healthcheck(_) => cmd::healthcheck::command(&config, &web),
        Command::Compare { args, .. } => cmd::compare::command(&args, config),
        Command::Run(_) => {
            let level = crate::logging::init(&config.log.level, config.log.format);
            let signals = signals.ok_or_else(|| Failure::Other(anyhow::anyhow!("signal handling was not set up")))?;
            cmd::run::command(config, sources, web, level, signals)
        }
        Command::PrintDefaultConfig | Command::Completions { .. } | Command::Man => Ok(()),
    }
}

/// Writes generated text to stdout; a closed pipe (`| head`) is not an error.
fn print_bytes(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Other(err.into())),
        _ => Ok(()),
    }
}
