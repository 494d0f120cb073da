//! systemd's notify protocol: ready, reloading, stopping, watchdog.
//!
//! Every call is a no-op without `NOTIFY_SOCKET`, so the daemon runs the same
//! under systemd, in a container or from a shell.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::sys::timer::Stop;

fn send(states: &[NotifyState]) {
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {err}");
    }
}

pub(crate) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `RELOADING=1` with the `MONOTONIC_USEC` that `Type=notify-reload` wants.
pub(crate) fn reloading() {
    let mut states = vec![NotifyState::Reloading];
    if let Ok(now) = NotifyState::monotonic_usec_now() {
        states.push(now);
    }
    send(&states);
}

pub(crate) fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// When `WATCHDOG_USEC` is set, pings systemd at half that interval for as
/// long as `is_live` says the heartbeat is live, so a stalled heartbeat (not merely a late
/// one) gets the service restarted. Returns at `stop`.
pub(crate) fn spawn_watchdog(
    is_live: impl Fn() -> bool + Send + 'static,
    stop: Stop,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let Some(interval) = sd_notify::watchdog_enabled() else { return Ok(None) };
    let every = (interval / 2).max(Duration::from_millis(10));
    std::thread::Builder::new()
        .name("jitterd-watchdog".into())
        .spawn(move || {
            while !stop.wait_timeout(every) {
                if is_live() {
                    send(&[NotifyState::Watchdog]);
                }
            }
        })
        .map(Some)
}
