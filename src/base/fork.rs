//! Fork handling, in one place.
//!
//! After `fork()` the child must see none of its parent's handles or events
//! (SPEC §1). An at-fork handler bumps a generation counter (an
//! async-signal-safe atomic add); each module keeps its process-wide state in
//! a [`PerFork`] static, which the next call in the child finds stale and
//! builds afresh. The parent's state is leaked in the child, never touched
//! again: its locks may have been held by threads that do not exist there.
//! The same handlers close the child's copies of lock descriptors
//! (see [`crate::base::lock`]).

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Once;

static FORK_GEN: AtomicU64 = AtomicU64::new(0);
static ATFORK: Once = Once::new();

extern "C" fn after_fork_in_child() {
    FORK_GEN.fetch_add(1, Ordering::SeqCst);
    crate::base::lock::held_locks::after_fork_in_child();
}

/// Registers the at-fork handlers (once): the child's makes every
/// [`PerFork`] state stale and closes the copies of lock descriptors; the
/// prepare and parent ones hold the lock that keeps a fork out of opening or
/// closing such a descriptor (see `base::lock::held_locks`).
pub(crate) fn ensure_atfork() {
    ATFORK.call_once(|| {
        // SAFETY: registering plain extern "C" fns, which stay valid for the process.
        unsafe {
            libc::pthread_atfork(
                Some(crate::base::lock::held_locks::prepare_fork),
                Some(crate::base::lock::held_locks::after_fork_in_parent),
                Some(after_fork_in_child),
            )
        };
    });
}

/// The fork generation: changes in a child process after each fork.
pub fn fork_gen() -> u64 {
    FORK_GEN.load(Ordering::Relaxed)
}

struct Slot<T> {
    fork_gen: u64,
    value: T,
}

/// A module's process-wide state: built on first use, and again (from the
/// stale one, read-only) on the first use after a fork.
pub(crate) struct PerFork<T> {
    ptr: AtomicPtr<Slot<T>>,
}

impl<T: Send + Sync + 'static> PerFork<T> {
    pub const fn new() -> Self {
        PerFork { ptr: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// The state of this process. `build` makes a fresh one, given the
    /// parent's (stale, after a fork) if there is one: it may read counters
    /// from it that must continue, and must not lock anything in it.
    pub fn get(&'static self, build: impl Fn(Option<&T>) -> T) -> &'static T {
        loop {
            let p = self.ptr.load(Ordering::Acquire);
            // SAFETY: a non-null pointer always points to a leaked `Box<Slot>`
            // that is never freed, so the reference is valid for 'static.
            let current = unsafe { p.as_ref() };
            if let Some(s) = current {
                if s.fork_gen == FORK_GEN.load(Ordering::Relaxed) {
                    return &s.value;
                }
            }
            ensure_atfork();
            let fork_gen = FORK_GEN.load(Ordering::SeqCst);
            let fresh = Box::into_raw(Box::new(Slot { fork_gen, value: build(current.map(|s| &s.value)) }));
            match self.ptr.compare_exchange(p, fresh, Ordering::AcqRel, Ordering::Acquire) {
                // SAFETY: `fresh` came from Box::into_raw just above and is leaked.
                Ok(_) => return unsafe { &(*fresh).value },
                Err(_) => {
                    // Another thread installed a state first; ours was never shared.
                    // SAFETY: `fresh` came from Box::into_raw and nobody else saw it.
                    drop(unsafe { Box::from_raw(fresh) });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_once() {
        static S: PerFork<u64> = PerFork::new();
        let a = S.get(|prev| prev.map_or(1, |p| p + 1));
        assert_eq!(*a, 1);
        assert!(std::ptr::eq(a, S.get(|_| unreachable!())));
        // (Rebuilding after a fork is tested by forking: c-tests test_fork,
        // whose child must see none of its parent's handles.)
    }
}
