//! Basic auth that password guessing cannot turn against valid clients.
//!
//! bcrypt costs tens of milliseconds of CPU by design. Credentials that
//! passed once are remembered and answered without it, so a scrape never
//! waits for a check. Credentials not seen before are checked one at a time,
//! on a thread at the lowest CPU priority (nice 19), with at most
//! `web.max_password_checks` (default 5) running or waiting their turn;
//! beyond that a request gets 429 at once. However many clients guess, they cost one thread at nice 19
//! and never delay a remembered credential.

use std::sync::Arc;

use hyper::header::HeaderValue;

use super::limit::Limit;

use crate::web_config::{BasicAuth, credentials};

/// bcrypt checks running at once: the runtime's blocking threads.
pub(crate) const BCRYPT_AT_ONCE: usize = 1;

/// What basic auth says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Allowed,
    /// No, wrong or malformed credentials: 401.
    Denied,
    /// Too many checks of new credentials already waiting: 429.
    Busy,
}

/// Basic auth with its bounded queue of bcrypt checks.
pub(super) struct Gate {
    auth: Arc<BasicAuth>,
    checks: Arc<Limit>,
}

impl Gate {
    /// `checks`: bcrypt checks running or waiting at most (`web.max_password_checks`).
    pub(super) fn new(auth: Arc<BasicAuth>, checks: Arc<Limit>) -> Gate {
        Gate { auth, checks }
    }

    /// Checks an `Authorization` header. Must run on a runtime whose
    /// blocking threads are limited to [`BCRYPT_AT_ONCE`] and start with
    /// [`lowest_priority`].
    pub(super) async fn check(&self, header: Option<&HeaderValue>) -> Verdict {
        let Some(credentials) = header.and_then(|value| credentials(value.as_bytes())) else {
            return Verdict::Denied;
        };
        if self.auth.remembered(&credentials) {
            return Verdict::Allowed;
        }
        let Some(slot) = self.checks.try_take() else { return Verdict::Busy };
        let auth = Arc::clone(&self.auth);
        // The slot goes with the check, not the request: a client that
        // hangs up does not free it before its bcrypt has run.
        let check = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            auth.verify(&credentials)
        });
        if check.await.unwrap_or(false) { Verdict::Allowed } else { Verdict::Denied }
    }
}

/// Nice value of the bcrypt thread: the lowest there is.
pub(super) const BCRYPT_NICE: i32 = 19;

/// Puts the calling thread at the lowest nice value. Not `SCHED_IDLE`: on a
/// host whose cores are all busy (a fleet node running its workloads) that
/// gets so little CPU that a new credential, Prometheus's after a restart,
/// took 8 s to check beside a build, where nice 19 still gets a small share.
pub(super) fn lowest_priority() {
    crate::sys::timer::set_current_thread_nice(BCRYPT_NICE, "bcrypt");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use base64::Engine as _;

    use super::*;

    fn header(user_pass: &str) -> HeaderValue {
        let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_pass));
        HeaderValue::from_str(&value).expect("header")
    }

    #[test]
    fn remembered_credentials_pass_while_the_queue_is_full() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .max_blocking_threads(BCRYPT_AT_ONCE)
            .build()
            .expect("runtime");
        let hash = bcrypt::hash("pw", 4).expect("hash");
        let auth = Arc::new(BasicAuth::new(BTreeMap::from([("alice".to_owned(), hash)])));
        let gate = Gate::new(auth, Limit::new(5));
        runtime.block_on(async {
            assert_eq!(gate.check(None).await, Verdict::Denied);
            assert_eq!(gate.check(Some(&HeaderValue::from_static("Bearer x"))).await, Verdict::Denied);
            assert_eq!(gate.check(Some(&header("alice:nope"))).await, Verdict::Denied);
            assert_eq!(gate.check(Some(&header("alice:pw"))).await, Verdict::Allowed);
            // Every slot taken: new credentials are turned away at once,
            // remembered ones still pass.
            let held: Vec<_> = (0..5).map(|_| gate.checks.try_take().expect("slot")).collect();
            assert_eq!(gate.check(Some(&header("alice:guess"))).await, Verdict::Busy);
            assert_eq!(gate.check(Some(&header("alice:pw"))).await, Verdict::Allowed);
            drop(held);
            assert_eq!(gate.check(Some(&header("alice:guess"))).await, Verdict::Denied);
        });
    }
}
