//! Process-wide state: the handle tables and configuration.
//!
//! After `fork()` the child must see none of its parent's handles or events
//! (SPEC §1). An at-fork handler bumps a generation counter (an async-signal-safe
//! atomic add); the next call in the child finds its state stale and builds a
//! fresh one. The parent's state is leaked in the child, never touched again:
//! its locks may have been held by threads that do not exist there.

use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};
use std::sync::Once;

use crate::event::Eq;
use crate::handle::{HandleTable, HandleType};

static FORK_GEN: AtomicU64 = AtomicU64::new(0);
static STATE: AtomicPtr<State> = AtomicPtr::new(std::ptr::null_mut());
static ATFORK: Once = Once::new();

/// Everything a process holds.
pub struct State {
    fork_gen: u64,
    /// Event queues by handle.
    pub eqs: HandleTable<Eq>,
    /// System container handles.
    pub sys: HandleTable<crate::store::SysHandle>,
    /// Container handles.
    pub containers: HandleTable<crate::container::CoHandle>,
    /// Object handles.
    pub objects: HandleTable<crate::object::ObjHandle>,
    /// Pending `daos_sys_listen` calls.
    pub sys_listeners: parking_lot::Mutex<Vec<crate::store::SysListener>>,
    /// The threads that run asynchronous metadata calls.
    pub meta_pool: crate::event::MetaPool,
    /// Reaps, for completion callbacks, the rings nobody polls.
    pub cb_reaper: crate::event::CbReaper,
    /// The in-memory state of each open container, by container identity.
    pub open_containers: parking_lot::Mutex<
        std::collections::HashMap<[u64; 2], std::sync::Weak<crate::container::CState>>,
    >,
    /// Watches files for changes made by other processes; its thread starts
    /// with the first watch.
    pub notifier: crate::notify::Notifier,
    /// The stamp slot this process holds in each store it wrote to.
    pub slots: parking_lot::Mutex<std::collections::HashMap<std::path::PathBuf, std::sync::Arc<crate::store::slot::Slot>>>,
}

extern "C" fn after_fork_in_child() {
    FORK_GEN.fetch_add(1, Ordering::SeqCst);
    crate::util::held_locks::after_fork_in_child();
}

/// Registers the at-fork handlers (once): the child's rebuilds the state and
/// closes the copies of lock descriptors; the prepare and parent ones hold
/// the lock that keeps a fork out of opening or closing such a descriptor
/// (see `util::held_locks`).
pub(crate) fn ensure_atfork() {
    ATFORK.call_once(|| {
        // SAFETY: registering plain extern "C" fns, which stay valid for the process.
        unsafe {
            libc::pthread_atfork(
                Some(crate::util::held_locks::prepare_fork),
                Some(crate::util::held_locks::after_fork_in_parent),
                Some(after_fork_in_child),
            )
        };
    });
}

impl State {
    fn new(previous: Option<&State>) -> State {
        let pid = std::process::id();
        State {
            fork_gen: FORK_GEN.load(Ordering::SeqCst),
            eqs: HandleTable::new(HandleType::Eq, pid, previous.map_or(1, |p| p.eqs.next_value())),
            sys: HandleTable::new(HandleType::Sys, pid, previous.map_or(1, |p| p.sys.next_value())),
            containers: HandleTable::new(
                HandleType::Container,
                pid,
                previous.map_or(1, |p| p.containers.next_value()),
            ),
            objects: HandleTable::new(HandleType::Object, pid, previous.map_or(1, |p| p.objects.next_value())),
            sys_listeners: parking_lot::Mutex::new(Vec::new()),
            meta_pool: Default::default(),
            cb_reaper: Default::default(),
            open_containers: parking_lot::Mutex::new(std::collections::HashMap::new()),
            notifier: Default::default(),
            slots: parking_lot::Mutex::new(std::collections::HashMap::new()),
        }
    }
}

/// The state of this process, built on first use and again after a fork.
pub fn state() -> &'static State {
    let p = STATE.load(Ordering::Acquire);
    // SAFETY: a non-null STATE always points to a leaked `Box<State>` that is
    // never freed, so the reference is valid for 'static.
    let current = unsafe { p.as_ref() };
    if let Some(s) = current {
        if s.fork_gen == FORK_GEN.load(Ordering::Relaxed) {
            return s;
        }
    }
    ensure_atfork();
    let fresh = Box::into_raw(Box::new(State::new(current)));
    match STATE.compare_exchange(p, fresh, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            // SAFETY: `fresh` came from Box::into_raw just above and is leaked.
            unsafe { &*fresh }
        }
        Err(winner) => {
            // Another thread installed a state first; ours was never shared.
            // SAFETY: `fresh` came from Box::into_raw and nobody else saw it.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: as above, STATE points to a leaked, never-freed State.
            let w = unsafe { &*winner };
            if w.fork_gen == FORK_GEN.load(Ordering::Relaxed) {
                w
            } else {
                state()
            }
        }
    }
}

/// Which engine drives operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Uring,
    Threads,
}

const ENGINE_UNSET: u8 = 0;
const ENGINE_AUTO: u8 = 1;
const ENGINE_URING: u8 = 2;
const ENGINE_THREADS: u8 = 3;
static ENGINE: AtomicU8 = AtomicU8::new(ENGINE_UNSET);

fn engine_setting() -> u8 {
    let e = ENGINE.load(Ordering::Relaxed);
    if e != ENGINE_UNSET {
        return e;
    }
    let e = match std::env::var("DAOS_RS_IO_ENGINE").as_deref() {
        Ok("uring") => ENGINE_URING,
        Ok("threads") => ENGINE_THREADS,
        Ok("") | Ok("auto") | Err(_) => ENGINE_AUTO,
        Ok(other) => {
            crate::log!(Warn, "DAOS_RS_IO_ENGINE={other:?} is not uring|threads; choosing automatically");
            ENGINE_AUTO
        }
    };
    let _ = ENGINE.compare_exchange(ENGINE_UNSET, e, Ordering::Relaxed, Ordering::Relaxed);
    ENGINE.load(Ordering::Relaxed)
}

/// The engine to try: `(kind, forced)`. Not forced means a refused io_uring
/// falls back to the thread-pool engine.
pub fn engine_choice() -> (EngineKind, bool) {
    match engine_setting() {
        ENGINE_URING => (EngineKind::Uring, true),
        ENGINE_THREADS => (EngineKind::Threads, true),
        _ => (EngineKind::Uring, false),
    }
}

/// Records that io_uring was refused: every later EQ uses the thread-pool
/// engine. Says so once.
pub fn uring_refused(why: &std::io::Error) {
    if ENGINE
        .compare_exchange(ENGINE_AUTO, ENGINE_THREADS, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        crate::log!(Warn, "io_uring is not available ({why}); using the thread-pool engine");
    }
}

/// `DAOS_RS_IO_THREADS`: the most I/O worker threads of the thread-pool
/// engine (default: the number of CPUs, at least 2). Read once per process.
pub fn io_threads() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        let auto = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
        match std::env::var("DAOS_RS_IO_THREADS") {
            Ok(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=1024).contains(&n) => n,
                _ => {
                    crate::log!(Warn, "DAOS_RS_IO_THREADS={v:?} is not a number from 1 to 1024; using {auto}");
                    auto
                }
            },
            Err(_) => auto,
        }
    })
}

/// `DAOS_RS_EQ_MAX_EVENTS`, read when an EQ is created.
pub fn eq_max_events() -> usize {
    const DEFAULT: usize = 1 << 20;
    match std::env::var("DAOS_RS_EQ_MAX_EVENTS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                crate::log!(Warn, "DAOS_RS_EQ_MAX_EVENTS={v:?} is not a positive number; using {DEFAULT}");
                DEFAULT
            }
        },
        Err(_) => DEFAULT,
    }
}

/// The fork generation: changes in a child process after each fork.
pub fn fork_gen() -> u64 {
    FORK_GEN.load(Ordering::Relaxed)
}
