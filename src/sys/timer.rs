//! Sleeping until an absolute deadline, precisely, and waking early on stop.
//!
//! A `timerfd` armed with `TFD_TIMER_ABSTIME` on `CLOCK_MONOTONIC` is an
//! hrtimer: it fires at the deadline, not a rounded-up millisecond later as
//! tokio's own timer does, and a late wake-up never shifts the next deadline.
//! Thread heartbeats `poll` it beside the stop eventfd; async heartbeats
//! register both with the runtime through `AsyncFd`, so the event loop under
//! test wakes exactly when the beat is due.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

use crate::sys::clock::MonoTime;

/// A one-way stop signal: a flag for loops that poll, an eventfd for waits.
#[derive(Clone)]
pub struct Stop {
    inner: Arc<StopInner>,
}

struct StopInner {
    flag: AtomicBool,
    fd: EventFd,
}

impl Stop {
    pub fn new() -> std::io::Result<Stop> {
        let fd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        Ok(Stop { inner: Arc::new(StopInner { flag: AtomicBool::new(false), fd }) })
    }

    /// Stops every loop and wakes every wait; idempotent.
    pub fn trigger(&self) {
        self.inner.flag.store(true, Ordering::Release);
        // The eventfd is never read, so it stays readable once written.
        let _ = self.inner.fd.write(1);
    }

    #[inline]
    pub fn is_triggered(&self) -> bool {
        self.inner.flag.load(Ordering::Relaxed)
    }

    /// Waits up to `timeout` for the stop; true if stopped.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let millis = u16::try_from(timeout.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.inner.fd.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(millis));
        self.is_triggered()
    }

    fn async_fd(&self) -> std::io::Result<AsyncFd<OwnedFd>> {
        register(self.inner.fd.as_fd())
    }

    /// Resolves at the stop, on the current tokio runtime's event loop.
    pub async fn stopped(&self) -> std::io::Result<()> {
        let fd = self.async_fd()?;
        let _ready = fd.readable().await?;
        Ok(())
    }
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Due,
    Stopped,
}

/// A `CLOCK_MONOTONIC` timerfd armed with absolute deadlines.
pub(crate) struct DeadlineTimer {
    fd: TimerFd,
}

impl DeadlineTimer {
    pub(crate) fn new() -> std::io::Result<DeadlineTimer> {
        let fd = TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_CLOEXEC | TimerFlags::TFD_NONBLOCK)?;
        Ok(DeadlineTimer { fd })
    }

    /// Reads the expiry count; false if the timer has not fired yet.
    fn consume(fd: &impl AsFd) -> std::io::Result<bool> {
        match nix::unistd::read(fd.as_fd(), &mut [0u8; 8]) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Blocks the thread until `deadline` or the stop, whichever comes first.
    pub(crate) fn sleep_until(&self, deadline: MonoTime, stop: &Stop) -> std::io::Result<Wake> {
        arm(&self.fd, deadline)?;
        loop {
            if stop.is_triggered() {
                return Ok(Wake::Stopped);
            }
            let mut fds = [
                PollFd::new(self.fd.as_fd(), PollFlags::POLLIN),
                PollFd::new(stop.inner.fd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(err) => return Err(err.into()),
            }
            if Self::consume(&self.fd)? {
                return Ok(Wake::Due);
            }
        }
    }

    /// Registers the timer with the current tokio runtime.
    pub(crate) fn into_async(self, stop: &Stop) -> std::io::Result<AsyncDeadlineTimer> {
        let readiness = register(self.fd.as_fd())?;
        Ok(AsyncDeadlineTimer { timer: self.fd, readiness, stop: stop.async_fd()?, stop_flag: stop.clone() })
    }
}

/// A [`DeadlineTimer`] whose waits are futures on the runtime's event loop.
pub struct AsyncDeadlineTimer {
    timer: TimerFd,
    /// A duplicate of the timer's descriptor, registered with the runtime.
    readiness: AsyncFd<OwnedFd>,
    stop: AsyncFd<OwnedFd>,
    stop_flag: Stop,
}

impl AsyncDeadlineTimer {
    /// Waits until `deadline` or the stop, yielding to other tasks meanwhile.
    pub async fn sleep_until(&self, deadline: MonoTime) -> std::io::Result<Wake> {
        arm(&self.timer, deadline)?;
        loop {
            if self.stop_flag.is_triggered() {
                return Ok(Wake::Stopped);
            }
            tokio::select! {
                guard = self.readiness.readable() => {
                    let mut guard = guard?;
                    if DeadlineTimer::consume(guard.get_inner())? {
                        return Ok(Wake::Due);
                    }
                    guard.clear_ready();
                }
                _ = self.stop.readable() => return Ok(Wake::Stopped),
            }
        }
    }
}

/// Registers a duplicate of `fd` with the current runtime, for readiness only.
fn register(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<AsyncFd<OwnedFd>> {
    let owned = fd.try_clone_to_owned()?;
    // SAFETY: `OwnedFd` is a valid open descriptor that the `AsyncFd` owns and
    // keeps open, unchanged, for its whole lifetime.
    unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }.map_err(std::io::Error::from)
}

fn arm(fd: &TimerFd, deadline: MonoTime) -> std::io::Result<()> {
    // A zero it_value disarms a timerfd; a deadline of 0 ns is long past anyway.
    let deadline = deadline.max(MonoTime(1));
    fd.set(Expiration::OneShot(deadline.as_timespec()), TimerSetTimeFlags::TFD_TIMER_ABSTIME)?;
    Ok(())
}

/// Sets the calling thread's nice value, for threads that must not compete
/// with the experiment (the interval log's writer, bcrypt checks). A failure
/// is logged at debug level: the thread works the same at normal priority.
pub(crate) fn set_current_thread_nice(nice: i32, thread: &str) {
    // SAFETY: gettid(2) and setpriority(2) on the calling thread; no memory is passed.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) };
    if rc != 0 {
        tracing::debug!("cannot set the {thread} thread's nice value to {nice}: {}", std::io::Error::last_os_error());
    }
}

/// Applies `heartbeat.timer_slack` and `heartbeat.priority` to the calling
/// thread. Returns a warning for what could not be applied; the heartbeat
/// runs on without it.
pub(crate) fn tune_current_thread(timer_slack: Option<Duration>, priority: Option<u8>) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(slack) = timer_slack {
        let ns = crate::sys::clock::nanos(slack).max(1);
        if let Err(err) = nix::sys::prctl::set_timerslack(ns as _) {
            warnings.push(format!("cannot set timer slack to {ns} ns: {err}"));
        }
    }
    if let Some(priority) = priority {
        let param = libc::sched_param { sched_priority: i32::from(priority) };
        // SAFETY: plain syscall on the calling thread (pid 0) with a valid param.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
        if rc != 0 {
            warnings.push(format!(
                "cannot run the heartbeat at SCHED_FIFO priority {priority}: {} (needs CAP_SYS_NICE or an RLIMIT_RTPRIO of at least {priority}); running at normal priority",
                std::io::Error::last_os_error()
            ));
        }
    }
    warnings
}
