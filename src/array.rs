//! The shared array: allocating it, one counter pass, one consistency check.
//!
//! Every strategy increments and checks the same way; only how the two sides
//! get at the array differs. The plain-slice versions are written so the
//! compiler vectorises them: the counter pass is the loop the benchmarks
//! compare every strategy against.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes one element takes.
pub const ELEMENT_BYTES: u64 = std::mem::size_of::<u64>() as u64;

/// Refuses sizes whose arrays cannot fit in this host's (or cgroup's)
/// memory; `arrays` is how many copies the strategy holds at once.
pub fn check_fits_in_memory(size_elements: u64, arrays: u64) -> Result<(), String> {
    let bytes = size_elements
        .checked_mul(ELEMENT_BYTES)
        .filter(|b| usize::try_from(*b).is_ok_and(|b| b <= isize::MAX as usize))
        .ok_or_else(|| format!("{size_elements} elements cannot be addressed on this platform"))?;
    let total = bytes.saturating_mul(arrays.max(1));
    if let Some((limit, what)) = memory_limit_bytes() {
        // Leave room for the rest of the process: at most 90% of the limit.
        let usable = limit / 10 * 9;
        if total > usable {
            let copies = if arrays > 1 { format!(" ({arrays} copies of the array)") } else { String::new() };
            return Err(format!(
                "{size_elements} elements need {}{copies} but {what} is {}; use at most {} elements",
                human_bytes(total),
                human_bytes(limit),
                usable / arrays.max(1) / ELEMENT_BYTES
            ));
        }
    }
    Ok(())
}

/// The tighter of the host's total memory and the cgroup v2 `memory.max`.
fn memory_limit_bytes() -> Option<(u64, &'static str)> {
    let host = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kib.checked_mul(1024)
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|t| t.trim().parse::<u64>().ok());
    match (host, cgroup) {
        (Some(h), Some(c)) if c < h => Some((c, "the cgroup memory limit")),
        (Some(h), _) => Some((h, "this host's memory")),
        (None, Some(c)) => Some((c, "the cgroup memory limit")),
        (None, None) => None,
    }
}

fn human_bytes(bytes: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    format!("{:.1} GiB", bytes as f64 / GIB)
}

/// A zeroed array of `size` elements, or an error if it cannot be allocated.
pub fn zeroed(size_elements: usize) -> Result<Vec<u64>, String> {
    let mut values = Vec::new();
    values
        .try_reserve_exact(size_elements)
        .map_err(|err| format!("cannot allocate {size_elements} elements: {err}"))?;
    values.resize(size_elements, 0);
    Ok(values)
}

/// A zeroed array of atomics, for the strategy that shares without a lock.
pub fn zeroed_atomic(size_elements: usize) -> Result<Box<[AtomicU64]>, String> {
    let mut values = Vec::new();
    values
        .try_reserve_exact(size_elements)
        .map_err(|err| format!("cannot allocate {size_elements} elements: {err}"))?;
    values.extend((0..size_elements).map(|_| AtomicU64::new(0)));
    Ok(values.into_boxed_slice())
}

/// One counter pass: every element plus one.
#[inline]
pub fn increment(values: &mut [u64]) {
    for value in values.iter_mut() {
        *value = value.wrapping_add(1);
    }
}

/// One counter pass over atomics, with separate relaxed load and store: a
/// reader may see any mix of old and new elements, never a torn element.
#[inline]
pub fn increment_atomic(values: &[AtomicU64]) {
    for value in values {
        value.store(value.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }
}

/// What one consistency check saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Element 0, the counter's value as the check saw it.
    pub value: u64,
    /// Elements that differ from element 0: zero means consistent.
    pub mismatched_elements: u64,
}

impl Check {
    pub fn is_consistent(&self) -> bool {
        self.mismatched_elements == 0
    }
}

/// Checks that every element equals element 0.
#[inline]
pub fn check(values: &[u64]) -> Check {
    let value = values.first().copied().unwrap_or(0);
    let mismatched_elements = values.iter().map(|&v| u64::from(v != value)).sum();
    Check { value, mismatched_elements }
}

/// Checks atomics with relaxed loads, as the unsynchronised heartbeat does.
/// Like the article's `assert self.values[i] == self.values[0]`, element 0
/// is read again for every comparison, so a counter that starts a new pass
/// during the check is caught too, not only one the check overtakes.
pub fn check_atomic(values: &[AtomicU64]) -> Check {
    let Some(first) = values.first() else { return Check { value: 0, mismatched_elements: 0 } };
    let value = first.load(Ordering::Relaxed);
    let mismatched_elements =
        values.iter().map(|v| u64::from(v.load(Ordering::Relaxed) != first.load(Ordering::Relaxed))).sum();
    Check { value, mismatched_elements }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_and_check() {
        let mut values = zeroed(5).unwrap_or_default();
        increment(&mut values);
        assert_eq!(check(&values), Check { value: 1, mismatched_elements: 0 });
        values[3] = 7;
        values[4] = 0;
        assert_eq!(check(&values).mismatched_elements, 2);
    }

    #[test]
    fn atomic_pass_and_check() {
        let values = zeroed_atomic(4).unwrap_or_default();
        increment_atomic(&values);
        increment_atomic(&values[..2]);
        assert_eq!(check_atomic(&values), Check { value: 2, mismatched_elements: 2 });
    }

    #[test]
    fn memory_limit() {
        assert!(check_fits_in_memory(1, 1).is_ok());
        assert!(check_fits_in_memory(u64::MAX, 1).is_err());
        assert!(check_fits_in_memory(1 << 50, 1).is_err());
        if let Some((limit, _)) = memory_limit_bytes() {
            let half = limit / 2 / ELEMENT_BYTES;
            assert!(check_fits_in_memory(half, 1).is_ok());
            assert!(check_fits_in_memory(half, 4).is_err());
        }
    }
}
