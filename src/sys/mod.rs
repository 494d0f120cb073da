//! What jitterd asks of the operating system, each behind a small API: the
//! monotonic clock and its units ([`clock`]), absolute-deadline timers and
//! the stop eventfd (`timer`), the one signal path (`signals`), the
//! kernel's account of a thread's scheduling (`proc`),
//! systemd's notify protocol (`notify`), the bounded reader for files an
//! operator names (`files`) and the exit codes (`exit`). Nothing here
//! knows the experiment: every other layer may use it.

pub mod clock;
pub(crate) mod exit;
pub(crate) mod files;
pub(crate) mod notify;
pub mod proc;
pub(crate) mod signals;
pub(crate) mod timer;
