//! Placeholder until the exposition benchmarks land (issue 17/18).
fn main() {}
