//! The one signal path of every command that runs: the first SIGINT or
//! SIGTERM asks for a stop, a second exits at once with 130, SIGHUP asks
//! for a reload. SIGCONT is only noted ([`watch_continue`]): when the
//! process was last continued, for explaining a late beat.
//!
//! Signals are read on a thread of their own (signal-hook), so the forced
//! exit works even while the first stop is still joining threads. Start
//! listening first thing, so a signal during start-up is not lost to its
//! default action.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use signal_hook::consts::{SIGCONT, SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::sys::clock::MonoTime;
use crate::sys::exit;

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// SIGINT or SIGTERM (the signal's number).
    Stop(i32),
    /// SIGHUP.
    Reload,
}

/// The signals as they arrive, and whether a stop was asked for.
pub(crate) struct Listener {
    pub events: Receiver<Event>,
    stop_requested: Arc<AtomicBool>,
}

impl Listener {
    /// A flag set at the first stop signal, for loops that poll rather than wait.
    pub(crate) fn stop_requested(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop_requested)
    }
}

/// Starts reading SIGINT, SIGTERM and, when `reload` is set, SIGHUP.
pub(crate) fn listen(reload: bool) -> anyhow::Result<Listener> {
    let wanted: &[i32] = if reload { &[SIGINT, SIGTERM, SIGHUP] } else { &[SIGINT, SIGTERM] };
    let mut signals = Signals::new(wanted).context("cannot install signal handlers")?;
    let (events, receiver) = mpsc::channel();
    let stop_requested = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop_requested);
    std::thread::Builder::new()
        .name("jitterd-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGHUP if !flag.load(Ordering::Relaxed) => {
                        let _ = events.send(Event::Reload);
                    }
                    SIGINT | SIGTERM if flag.load(Ordering::Relaxed) => {
                        eprintln!("jitterd: second stop signal, exiting at once");
                        std::process::exit(i32::from(exit::FORCED));
                    }
                    SIGINT | SIGTERM => {
                        flag.store(true, Ordering::Relaxed);
                        let _ = events.send(Event::Stop(signal));
                    }
                    _ => {}
                }
            }
        })
        .context("cannot start the signal thread")?;
    Ok(Listener { events: receiver, stop_requested })
}

/// When the process was last continued (SIGCONT), in [`MonoTime`]
/// nanoseconds; 0 while it never was.
static LAST_CONTINUED: AtomicU64 = AtomicU64::new(0);

/// Notes every SIGCONT's arrival from now on; true once the handler is in
/// place (installed on the first call, whatever thread makes it). The
/// kernel continues a stopped process whether or not it has a handler, so
/// the handler changes nothing but the note: it reads the clock and stores
/// it (both async-signal-safe), and signal-hook installs it with
/// `SA_RESTART`, so no system call sees it but a `poll`, which the timers
/// already retry.
pub(crate) fn watch_continue() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let note = || LAST_CONTINUED.store(MonoTime::now().0, Ordering::Release);
        // SAFETY: the action only reads CLOCK_MONOTONIC and stores an atomic.
        let installed = unsafe { signal_hook::low_level::register(SIGCONT, note) };
        installed.map_err(|err| tracing::warn!("cannot watch SIGCONT: {err}")).is_ok()
    })
}

/// When the process was last continued, if it ever was since [`watch_continue`].
pub(crate) fn last_continued() -> Option<MonoTime> {
    Some(MonoTime(LAST_CONTINUED.load(Ordering::Acquire))).filter(|at| at.0 != 0)
}
