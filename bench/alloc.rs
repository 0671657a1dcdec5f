//! A counting global allocator: the system allocator, plus byte counters that are
//! kept only while [`measure`] runs, so that the other benchmarks pay one relaxed
//! load per allocation and nothing else.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
/// Net bytes allocated (allocated minus freed) since counting was switched on.
static NET: AtomicI64 = AtomicI64::new(0);
/// Highest value `NET` reached.
static PEAK: AtomicI64 = AtomicI64::new(0);

fn add(n: i64) {
    let now = NET.fetch_add(n, Relaxed) + n;
    if n > 0 {
        PEAK.fetch_max(now, Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() && ON.load(Relaxed) {
            add(l.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() && ON.load(Relaxed) {
            add(l.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(p, l) };
        if ON.load(Relaxed) {
            add(-(l.size() as i64));
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() && ON.load(Relaxed) {
            add(new as i64 - l.size() as i64);
        }
        q
    }
}

/// What a call allocated.
pub struct Allocated {
    /// Still allocated when it returned (allocated minus freed during the call).
    pub net: i64,
    /// The most it held at any moment.
    pub peak: i64,
}

/// Runs `f` with the counters on (one measurement at a time; allocations by other
/// threads meanwhile are counted too).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Allocated) {
    NET.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    ON.store(true, Relaxed);
    let r = f();
    ON.store(false, Relaxed);
    let a = Allocated {
        net: NET.load(Relaxed),
        peak: PEAK.load(Relaxed),
    };
    (r, a)
}
