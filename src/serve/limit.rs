//! A limit that a reload can change while the server runs: how many places
//! there are and how many are taken. Requests being handled
//! (`web.max_requests`) and bcrypt checks (`web.max_password_checks`) take
//! one each. A lower limit takes nothing away from those already in: it
//! turns newcomers away until enough have left.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub(crate) struct Limit {
    places: AtomicUsize,
    taken: AtomicUsize,
}

/// One place taken; dropping it frees it.
#[derive(Debug)]
pub(crate) struct Place(Arc<Limit>);

impl Limit {
    pub(crate) fn new(places: u32) -> Arc<Limit> {
        Arc::new(Limit { places: AtomicUsize::new(to_usize(places)), taken: AtomicUsize::new(0) })
    }

    /// A place, if one is free.
    pub(crate) fn try_take(self: &Arc<Self>) -> Option<Place> {
        let places = self.places.load(Ordering::Relaxed);
        let taken =
            self.taken.fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| (taken < places).then_some(taken + 1));
        taken.ok().map(|_| Place(Arc::clone(self)))
    }

    pub(crate) fn places(&self) -> usize {
        self.places.load(Ordering::Relaxed)
    }

    /// Changes the number of places; returns the number before.
    pub(crate) fn set(&self, places: u32) -> usize {
        self.places.swap(to_usize(places), Ordering::Relaxed)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

fn to_usize(places: u32) -> usize {
    usize::try_from(places).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_taken_freed_and_resized() {
        let limit = Limit::new(2);
        let a = limit.try_take().expect("room");
        let b = limit.try_take().expect("room");
        assert!(limit.try_take().is_none());
        drop(a);
        let c = limit.try_take().expect("room again");
        // Lowered below what is taken: nobody is evicted, newcomers wait.
        assert_eq!(limit.set(1), 2);
        assert!(limit.try_take().is_none());
        drop(b);
        assert!(limit.try_take().is_none(), "one place, still taken by c");
        drop(c);
        assert!(limit.try_take().is_some());
        limit.set(3);
        assert_eq!(limit.places(), 3);
    }
}
