//! The one signal path of every command that runs: the first SIGINT or
//! SIGTERM asks for a stop, a second exits at once with 130, SIGHUP asks
//! for a reload.
//!
//! Signals are read on a thread of their own (signal-hook), so the forced
//! exit works even while the first stop is still joining threads. Start
//! listening first thing, so a signal during start-up is not lost to its
//! default action.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};

use anyhow::Context as _;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

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
