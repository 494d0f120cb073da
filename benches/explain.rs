//! Placeholder until the explain benchmarks land (issue 17/18).
fn main() {}
