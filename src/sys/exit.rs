//! Exit codes of the contract (sysexits where one fits), in one place for
//! the dispatcher, the failures and the forced stop.

pub(crate) const OK: u8 = 0;
pub(crate) const FAILURE: u8 = 1;
pub(crate) const USAGE: u8 = 64;
pub(crate) const UNAVAILABLE: u8 = 69;
pub(crate) const CONFIG: u8 = 78;
/// A second SIGINT/SIGTERM: exit at once, whatever was still stopping.
pub(crate) const FORCED: u8 = 130;
