//! Facts about this build, recorded by `build.rs`.

pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
pub(crate) const REVISION: &str = env!("JITTERD_BUILD_REVISION");
pub(crate) const RUSTC: &str = env!("JITTERD_BUILD_RUSTC");
