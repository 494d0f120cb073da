//! Facts about this build, recorded by `build.rs`.

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("JITTERD_BUILD_REVISION");
pub const RUSTC: &str = env!("JITTERD_BUILD_RUSTC");
