//! `jitterd man`: the manual page, in roff.
//!
//! The name, synopsis and options come from clap's own description of the
//! command line (what `--help` prints); the commands from its subcommands;
//! CONFIGURATION from the config's reference ([`crate::config::reference`]:
//! the embedded default's keys, values and comments and the validation
//! constants); EXIT STATUS from [`crate::sys::exit`]. So the page cannot
//! drift from what the binary does. The rest (ENVIRONMENT, FILES, SIGNALS,
//! EXAMPLES, SEE ALSO) is written here, beside the code it describes.

use std::fmt::Write as _;

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::config::{ENV_PREFIX, KeyDoc, reference};
use crate::sys::exit;

/// The whole page.
pub(super) fn page() -> std::io::Result<Vec<u8>> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let mut text = String::new();
    commands(&mut text, &command);
    configuration(&mut text);
    environment(&mut text);
    files(&mut text);
    signals(&mut text);
    exit_status(&mut text);
    examples(&mut text);
    see_also(&mut text);
    out.extend_from_slice(text.as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// Text for roff: backslashes and hyphens escaped, and a line that would
/// start with a control character made plain.
fn esc(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') { format!("\\&{escaped}") } else { escaped }
}

fn bold(text: &str) -> String {
    format!("\\fB{}\\fR", esc(text))
}

fn section(out: &mut String, name: &str) {
    let _ = writeln!(out, ".SH {name}");
}

fn paragraph(out: &mut String, text: &str) {
    let _ = writeln!(out, ".PP\n{}", esc(text));
}

/// A tagged paragraph: `tag` (already roff) over an indented `text`.
fn item(out: &mut String, tag: &str, text: &str) {
    let _ = writeln!(out, ".TP\n{tag}\n{}", esc(text));
}

/// Lines shown as typed, indented.
fn literal(out: &mut String, lines: &[&str]) {
    out.push_str(".PP\n.RS 4\n.nf\n");
    for line in lines {
        let _ = writeln!(out, "{}", esc(line));
    }
    out.push_str(".fi\n.RE\n");
}

/// COMMANDS: each subcommand, what it does and its own options.
fn commands(out: &mut String, command: &clap::Command) {
    section(out, "COMMANDS");
    paragraph(
        out,
        "Without a command, jitterd runs the daemon (run). Each command takes and shows only its own options.",
    );
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set() && sub.get_name() != "help") {
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        item(out, &bold(&format!("jitterd {}", sub.get_name())), &about);
        let args: Vec<&clap::Arg> =
            sub.get_arguments().filter(|arg| !arg.is_hide_set() && arg.get_id() != "help").collect();
        if args.is_empty() {
            continue;
        }
        out.push_str(".RS\n");
        for arg in args {
            let names = arg.get_value_names().map(|names| names.join(" ")).unwrap_or_default();
            let tag = match arg.get_long() {
                Some(long) if names.is_empty() => bold(&format!("--{long}")),
                Some(long) => format!("{} {}", bold(&format!("--{long}")), esc(&format!("<{names}>"))),
                None => esc(&format!("<{}>", arg.get_id().as_str().to_uppercase())),
            };
            let mut help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let defaults: Vec<String> =
                arg.get_default_values().iter().map(|value| value.to_string_lossy().into_owned()).collect();
            if !defaults.is_empty() {
                let _ = write!(help, " [default: {}]", defaults.join(","));
            }
            let values: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_owned()).collect();
            if !values.is_empty() {
                let _ = write!(help, " [possible values: {}]", values.join(", "));
            }
            item(out, &tag, &help);
        }
        out.push_str(".RE\n");
    }
}

/// `heartbeat.period` → `JITTERD__HEARTBEAT__PERIOD`.
fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}__{}", key.replace('.', "__").to_ascii_uppercase())
}

/// CONFIGURATION: every key by section, its default, meaning and range.
fn configuration(out: &mut String) {
    section(out, "CONFIGURATION");
    paragraph(
        out,
        "TOML, in three layers, each over the one before: the embedded default (printed by jitterd print-default-config), the file given with --config.file, then environment variables (see ENVIRONMENT); the command-line flags --web.listen-address, --log.level and --log.format come last. Unknown sections and keys are errors, as is an empty file. Durations are strings such as \"250ms\", \"1s\", \"1h\". Every key, by section, with its default:",
    );
    let mut current = None;
    for doc in reference() {
        let section_name = doc.key.split_once('.').map(|(section, _)| section.to_owned());
        if section_name != current {
            let heading = section_name.as_deref().map_or_else(|| "top level".to_owned(), |name| format!("[{name}]"));
            let _ = writeln!(out, ".SS {}", esc(&heading));
            current = section_name;
        }
        key_item(out, &doc);
    }
}

fn key_item(out: &mut String, doc: &KeyDoc) {
    let name = doc.key.rsplit('.').next().unwrap_or(&doc.key);
    let tag = match (&doc.default, &doc.example) {
        (Some(default), _) => format!("{} = {}", bold(name), esc(default)),
        (None, Some(example)) => format!("{} (unset; e.g. {})", bold(name), esc(example)),
        (None, None) => bold(name),
    };
    let stop = if doc.text.is_empty() || doc.text.ends_with('.') { "" } else { "." };
    let text = format!("{}{stop} Valid: {}. Environment: {}.", doc.text, doc.valid, env_name(&doc.key));
    item(out, &tag, text.trim_start());
}

fn environment(out: &mut String) {
    section(out, "ENVIRONMENT");
    let over = format!(
        "Sets the config key section.key over the file, e.g. {ENV_PREFIX}__HEARTBEAT__PERIOD=250ms; a top-level key is {ENV_PREFIX}__KEY ({ENV_PREFIX}__STRATEGY=threads-mutex). Read again at every reload. An unknown name is refused (exit {}) with the valid sections or keys.",
        exit::CONFIG
    );
    item(out, &bold(&format!("{ENV_PREFIX}__SECTION__KEY")), &over);
    item(
        out,
        &bold("RUST_LOG"),
        "A log level or tracing filter (\"info,jitterd=debug\"); overrides log.level and --log.level.",
    );
    item(
        out,
        &bold("NOTIFY_SOCKET"),
        "Set by systemd for Type=notify: jitterd sends READY=1 once serving, RELOADING=1 and READY=1 around a reload, and STOPPING=1. Unset, nothing is sent.",
    );
    item(
        out,
        &bold("WATCHDOG_USEC"),
        "Set by systemd with WatchdogSec=: jitterd sends WATCHDOG=1 at half this interval while the heartbeat beats (the same condition as /-/ready), so a stalled heartbeat gets the service restarted.",
    );
}

fn files(out: &mut String) {
    section(out, "FILES");
    item(
        out,
        &bold("/etc/jitterd/jitterd.toml"),
        "The config file the packaged systemd unit and the container image pass with --config.file; jitterd print-default-config writes a complete one. Without --config.file, jitterd runs on the embedded default.",
    );
    let log = reference().into_iter().find(|doc| doc.key == "record.interval_log").and_then(|doc| doc.example);
    let log = log.map_or_else(|| "the interval log".to_owned(), |path| path.trim_matches('"').to_owned());
    item(
        out,
        &bold(&log),
        "The HdrHistogram interval log, when record.interval_log names it: appended to, one line per heartbeat every record.interval. A path the daemon cannot write is a config error.",
    );
    item(
        out,
        &bold("--web.config.file FILE"),
        "TLS and basic auth in the Prometheus exporter-toolkit YAML format (tls_server_config with cert_file and key_file; basic_auth_users with bcrypt hashes). Everything but /-/healthy sits behind it.",
    );
    item(
        out,
        &bold("/usr/share/doc/jitterd/runbook.md"),
        "What to do for each alert; the daemon serves the same text at /runbook, where the alerts' runbook_url point.",
    );
}

fn signals(out: &mut String) {
    section(out, "SIGNALS");
    item(
        out,
        &bold("SIGHUP"),
        "Reload the config (file, environment, flags). An invalid config is logged, counted (jitterd_config_reloads_total{result=\"failure\"}) and ignored: the running experiment goes on. A valid one that leaves the experiment's settings unchanged (strategy, counter.size, counter.duty_cycle, heartbeat.period, heartbeat.schedule, heartbeat.timer_slack, heartbeat.priority, heartbeat.control, record.window) keeps the experiment running with its counts, windows and drift, and applies the rest (log level, thresholds, interval log, HTTP limits): \"config reloaded; experiment kept\". Otherwise the experiment restarts with the new settings: \"config reloaded; experiment restarted\". web.max_requests, web.max_connections and web.max_password_checks apply at once; the other [web] keys, [metrics] and log.format take effect at the next start.",
    );
    let stop = format!(
        "Stop the experiment, log a one-line summary and exit {}. A second SIGINT or SIGTERM exits at once with {}.",
        exit::OK,
        exit::FORCED
    );
    item(out, &bold("SIGINT, SIGTERM"), &stop);
    item(
        out,
        &bold("SIGCONT"),
        "Keeps its default action; jitterd notes when it came, so a beat that was late because the process was stopped (SIGSTOP, a debugger, a cgroup freezer) names the cause \"stopped\".",
    );
}

fn exit_status(out: &mut String) {
    section(out, "EXIT STATUS");
    for (code, meaning) in [
        (exit::OK, "Clean stop, or a command that succeeded."),
        (exit::FAILURE, "Any other failure (e.g. jitterd healthcheck found the daemon unhealthy)."),
        (exit::USAGE, "Bad command line: an unknown command or option, or an option the command does not take."),
        (exit::UNAVAILABLE, "The listen address is unavailable (in use, or not an address of this host)."),
        (exit::CONFIG, "Bad config: the message names the key, the file or variable that set it, and what is valid."),
        (exit::FORCED, "Forced stop: a second SIGINT or SIGTERM."),
    ] {
        item(out, &bold(&code.to_string()), meaning);
    }
}

fn examples(out: &mut String) {
    section(out, "EXAMPLES");
    paragraph(out, "Write a config, check it, and run on it:");
    literal(
        out,
        &[
            "jitterd print-default-config > /etc/jitterd/jitterd.toml",
            "jitterd check-config --config.file /etc/jitterd/jitterd.toml",
            "jitterd --config.file /etc/jitterd/jitterd.toml",
        ],
    );
    paragraph(out, "Override a key from the environment, and reload after editing the file:");
    literal(out, &["JITTERD__HEARTBEAT__PERIOD=250ms jitterd --log.format json", "kill -HUP \"$(pidof jitterd)\""]);
    paragraph(out, "Look at what it measures, and read the runbook it serves:");
    literal(
        out,
        &[
            "curl -s http://127.0.0.1:9977/metrics | grep lateness_window",
            "curl -s http://127.0.0.1:9977/api/v1/status",
            "xdg-open http://127.0.0.1:9977/runbook",
        ],
    );
    paragraph(out, "Compare strategies side by side on this host:");
    literal(out, &["jitterd compare --strategies async,threads-mutex --duration 10s --format markdown"]);
}

fn see_also(out: &mut String) {
    section(out, "SEE ALSO");
    let _ = writeln!(
        out,
        ".BR prometheus (1),\n.BR systemd.service (5),\n.BR systemd.exec (5)\n.PP\n{}",
        esc("The runbook at /runbook on the running daemon; /usr/share/doc/jitterd/README.md and runbook.md.")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_roff_would_take_for_control() {
        assert_eq!(esc(".hidden"), "\\&.hidden");
        assert_eq!(esc("--config.file a\\b"), "\\-\\-config.file a\\eb");
    }

    #[test]
    fn every_key_and_section_is_on_the_page() {
        let page = String::from_utf8(page().expect("page")).expect("utf-8");
        for name in
            ["COMMANDS", "CONFIGURATION", "ENVIRONMENT", "FILES", "SIGNALS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
        {
            assert!(page.contains(&format!("\n.SH {name}\n")), "no {name}");
        }
        for doc in reference() {
            assert!(page.contains(&esc(&env_name(&doc.key))), "{} is not on the page", doc.key);
        }
    }
}
