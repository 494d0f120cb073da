//! `jitterd compare`: every chosen strategy in turn, on the same settings,
//! side by side.
//!
//! Runs in-process, without the HTTP server: each strategy starts exactly as
//! the daemon starts it (`Experiment::start`), on an observatory of its own
//! whose boards keep every beat of the run ([`Keep::WholeRun`]), so the
//! figures come from every beat rather than from the Prometheus buckets and
//! nothing of the measurement is repeated here. The options are checked
//! before anything runs (a report path that cannot be written is found then,
//! not after minutes of measuring). SIGINT or SIGTERM cuts the run short and
//! still prints what was measured; a second one exits at once with 130.
//! Each strategy's figures say how much CPU the rest of the host used
//! meanwhile ([`OtherCpu`]), so a table taken on a busy host says so.

mod figures;
mod host_cpu;
mod progress;
mod report;
mod table;

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

pub use figures::Figures;
pub use host_cpu::OtherCpu;
pub use progress::Progress;

use crate::cli::{CompareArgs, CompareFormat};
use crate::config::Config;
use crate::error::Failure;
use crate::experiment::{self, Schedule, Strategy};
use crate::observe::{Keep, Observatory};
use crate::strategy::Experiment;
use crate::sys::clock::MonoTime;

/// The longest `--duration` accepted per strategy.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The checked options of one comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub strategies: Vec<Strategy>,
    /// How long each strategy runs.
    pub duration: Duration,
    pub period: Duration,
    pub size_elements: u64,
    pub schedule: Schedule,
    pub format: CompareFormat,
    pub report: Option<PathBuf>,
}

impl Plan {
    /// Checks what the user typed; the error names the option, the value
    /// and what would be valid, in one line.
    pub fn from_args(args: &CompareArgs) -> Result<Plan, String> {
        let duration = duration_arg("--duration", &args.duration, "\"5s\"")?;
        if duration.is_zero() || duration > MAX_DURATION {
            return Err(format!("--duration {:?}: must be longer than 0 and at most 24h, e.g. \"5s\"", args.duration));
        }
        let period = duration_arg("--period", &args.period, "\"10ms\"")?;
        crate::experiment::check_period(period).map_err(|msg| format!("--period {:?}: {msg}", args.period))?;
        if period > duration {
            return Err(format!(
                "--period {:?} is longer than --duration {:?}: no beat would fall due; give a shorter period or a longer duration",
                args.period, args.duration
            ));
        }
        let size_elements: u64 = args.size.trim().parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
            format!("--size {:?}: expected a whole number of elements, at least 1, e.g. 100000", args.size)
        })?;
        let strategies = strategies_arg(&args.strategies)?;
        // One strategy runs at a time: the hungriest must fit.
        let arrays = strategies.iter().map(|s| s.arrays_in_memory()).max().unwrap_or(1);
        crate::array::check_fits_in_memory(size_elements, arrays)
            .map_err(|msg| format!("--size {size_elements}: {msg}"))?;
        let schedule =
            Schedule::try_from(args.schedule.trim().to_owned()).map_err(|msg| format!("--schedule: {msg}"))?;
        Ok(Plan {
            strategies,
            duration,
            period,
            size_elements,
            schedule,
            format: args.format,
            report: args.report.clone(),
        })
    }

    /// What each strategy runs with: the config's experiment with this plan's settings.
    fn settings_for(&self, config: &Config, strategy: Strategy) -> experiment::Settings {
        experiment::Settings {
            strategy,
            size_elements: self.size_elements,
            period: self.period,
            schedule: self.schedule,
            // The strategies side by side as the article runs them: the
            // counter flat out, so passes/s compare with the plain loop.
            duty_cycle: 1.0,
            ..config.experiment()
        }
    }
}

/// `example` is a valid value of this option, shown with the error.
fn duration_arg(option: &str, text: &str, example: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text, example).map_err(|msg| format!("{option} {msg}"))
}

/// The strategies named, in order; all eight when none is.
fn strategies_arg(names: &[String]) -> Result<Vec<Strategy>, String> {
    if names.is_empty() {
        return Ok(Strategy::ALL.to_vec());
    }
    let mut strategies = Vec::new();
    for name in names {
        let strategy: Strategy = name.trim().parse().map_err(|msg| format!("--strategies: {msg}"))?;
        if strategies.contains(&strategy) {
            return Err(format!("--strategies: {strategy} is listed twice; name each strategy once"));
        }
        strategies.push(strategy);
    }
    Ok(strategies)
}

/// The settings every strategy ran with, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub duration_seconds: f64,
    pub period_seconds: f64,
    pub size_elements: u64,
    pub schedule: String,
    pub timer_slack_seconds: Option<f64>,
    pub priority: Option<u8>,
    pub control: bool,
}

impl Settings {
    fn of(plan: &Plan, config: &Config) -> Settings {
        Settings {
            duration_seconds: plan.duration.as_secs_f64(),
            period_seconds: plan.period.as_secs_f64(),
            size_elements: plan.size_elements,
            schedule: plan.schedule.to_string(),
            timer_slack_seconds: config.heartbeat.timer_slack.map(|d| d.as_secs_f64()),
            priority: config.heartbeat.priority,
            control: config.heartbeat.control,
        }
    }
}

/// The machine it ran on: the figures mean little without it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    pub kernel: String,
    pub cpus: usize,
    pub cpu_model: String,
}

impl Host {
    pub fn this() -> Host {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_owned()))
            .unwrap_or_else(|| "unknown CPU".into());
        Host {
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
        }
    }
}

/// Everything one comparison measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub settings: Settings,
    pub host: Host,
    /// Stopped by a signal before every strategy ran its duration.
    pub interrupted: bool,
    pub strategies: Vec<Figures>,
}

impl Comparison {
    pub fn text(&self) -> String {
        table::text(self)
    }

    pub fn markdown(&self) -> String {
        table::markdown(self)
    }

    pub fn json(&self) -> serde_json::Value {
        table::json(self)
    }

    /// A self-contained HTML page with the table and the charts.
    pub fn html(&self) -> String {
        report::html(self)
    }
}

/// The `compare` command: check, run, print, write the report.
pub fn command(args: &CompareArgs, config: Config) -> Result<(), Failure> {
    let plan = Plan::from_args(args).map_err(Failure::Usage)?;
    let report = plan.report.as_ref().map(open_report).transpose().map_err(Failure::Usage)?;
    // Threshold crossings are the daemon's business; a comparison shows the figures.
    crate::logging::init(&format!("{},jitterd::observe=error", config.log.level), config.log.format);
    let interrupted = crate::sys::signals::listen(false).map_err(Failure::Other)?.stop_requested();
    let comparison = run(&plan, &config, &interrupted, &mut Progress::stderr()).map_err(Failure::Other)?;
    if comparison.interrupted {
        eprintln!("jitterd: interrupted; showing the {} strategies measured so far", comparison.strategies.len());
    }
    let output = match plan.format {
        CompareFormat::Table => comparison.text(),
        CompareFormat::Markdown => comparison.markdown(),
        CompareFormat::Json => format!("{:#}\n", comparison.json()),
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not worth an error.
    let _ = stdout.write_all(output.as_bytes()).and_then(|()| stdout.flush());
    if let Some((path, mut file)) = report {
        file.write_all(comparison.html().as_bytes())
            .and_then(|()| file.flush())
            .with_context(|| format!("cannot write the report to {}", path.display()))
            .map_err(Failure::Other)?;
        eprintln!("jitterd: report written to {}", path.display());
    }
    Ok(())
}

/// Opens (creates or empties) the report file now, so that a path that
/// cannot be written fails before anything runs.
fn open_report(path: &PathBuf) -> Result<(PathBuf, File), String> {
    File::create(path).map(|file| (path.clone(), file)).map_err(|err| {
        format!("--report {}: cannot write there ({err}); give a file path in a writable directory", path.display())
    })
}

/// Runs each strategy of `plan` in turn until done or `interrupted`.
pub fn run(
    plan: &Plan,
    config: &Config,
    interrupted: &AtomicBool,
    progress: &mut Progress,
) -> anyhow::Result<Comparison> {
    let mut comparison = Comparison {
        settings: Settings::of(plan, config),
        host: Host::this(),
        interrupted: false,
        strategies: Vec::new(),
    };
    for (index, &strategy) in plan.strategies.iter().enumerate() {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        progress.start(index, plan.strategies.len(), strategy, plan.duration);
        let figures = run_one(&plan.settings_for(config, strategy), plan.duration, interrupted, progress)?;
        progress.finish(&figures);
        comparison.strategies.push(figures);
    }
    comparison.interrupted = interrupted.load(Ordering::Relaxed);
    Ok(comparison)
}

/// Runs `settings.strategy` for `duration` (or until interrupted) and measures it.
fn run_one(
    settings: &experiment::Settings,
    duration: Duration,
    interrupted: &AtomicBool,
    progress: &Progress,
) -> anyhow::Result<Figures> {
    let observatory = Arc::new(Observatory::new(Keep::WholeRun));
    let cpu_before = host_cpu::CpuMark::now();
    let started = MonoTime::now();
    let experiment =
        Experiment::start(settings, &observatory).with_context(|| format!("cannot start {}", settings.strategy))?;
    let deadline = Instant::now() + duration;
    let mut completed = true;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if interrupted.load(Ordering::Relaxed) {
            completed = false;
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
        progress.tick(Duration::from_nanos(MonoTime::now().since(started)), observatory.main.beats());
    }
    let elapsed_ns = MonoTime::now().since(started);
    let other_cpu = cpu_before.others_until(&host_cpu::CpuMark::now());
    experiment.stop();
    Ok(Figures { other_cpu, ..Figures::of(settings.strategy, &observatory, elapsed_ns, completed) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(strategies: &[&str], duration: &str) -> CompareArgs {
        CompareArgs {
            strategies: strategies.iter().map(|s| s.to_string()).collect(),
            duration: duration.into(),
            period: "10ms".into(),
            size: "100000".into(),
            schedule: "absolute".into(),
            format: CompareFormat::Table,
            report: None,
        }
    }

    #[test]
    fn defaults_to_all_eight() {
        let plan = Plan::from_args(&args(&[], "5s"));
        assert_eq!(plan.map(|p| p.strategies), Ok(Strategy::ALL.to_vec()));
    }

    #[test]
    fn bad_input_names_the_value_and_what_is_valid() {
        let err = |a: CompareArgs| Plan::from_args(&a).err().unwrap_or_default();
        let msg = err(args(&[], "0"));
        assert!(msg.contains("--duration \"0\"") && msg.contains("5s"), "{msg}");
        let msg = err(args(&["async", "threads-mutx"], "1s"));
        assert!(msg.contains("threads-mutx") && msg.contains("threads-mutex-yield"), "{msg}");
        let msg = err(args(&["async", "async"], "1s"));
        assert!(msg.contains("twice"), "{msg}");
        let msg = err(CompareArgs { size: "0".into(), ..args(&[], "1s") });
        assert!(msg.contains("--size \"0\""), "{msg}");
        let msg = err(CompareArgs { period: "10s".into(), ..args(&[], "1s") });
        assert!(msg.contains("longer than --duration"), "{msg}");
        let msg = err(CompareArgs { schedule: "sometimes".into(), ..args(&[], "1s") });
        assert!(msg.contains("absolute"), "{msg}");
        assert!(err(args(&[], "100000000000000s")).contains("24h"));
        for msg in [err(args(&[], "soon")), err(args(&[""], "1s"))] {
            assert!(!msg.is_empty() && !msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn runs_and_stops_when_interrupted() -> anyhow::Result<()> {
        let plan =
            Plan::from_args(&CompareArgs { size: "1000".into(), ..args(&["async", "threads-fair-mutex"], "300ms") })
                .map_err(anyhow::Error::msg)?;
        let config = Config::embedded_default();
        let done = run(&plan, &config, &AtomicBool::new(false), &mut Progress::hidden())?;
        assert_eq!(done.strategies.len(), 2);
        assert!(done.strategies.iter().all(|f| f.completed && f.beats >= 3 && f.counter_passes > 0));
        assert!(!done.interrupted);
        let cut = run(&plan, &config, &AtomicBool::new(true), &mut Progress::hidden())?;
        assert!(cut.interrupted && cut.strategies.is_empty());
        Ok(())
    }
}
