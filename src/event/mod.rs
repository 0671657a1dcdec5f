//! Event queues and events (SPEC §3).
//!
//! Each EQ owns a slab of k-events (the library's record of each caller event),
//! a list of completed events in completion order, and an engine (a ring, or
//! the thread-pool engine). All of it sits behind one mutex per EQ; system
//! calls that may sleep are made without it. A dispatched operation is handed
//! to the engine before the call returns (unless the EQ is plugged). With
//! io_uring, completions are reaped by the threads that poll: one of them at a
//! time sleeps in the engine (the "ring waiter"), the others on a condvar; the
//! [`CbReaper`] reaps for completion callbacks when nobody polls. The
//! thread-pool engine's workers deliver completions themselves.

mod eq;
mod kevent;
mod meta;
mod op;
mod reaper;

pub use eq::{start_beside, Beside, Eq, Timeout};
pub use meta::{MetaKey, MetaPool};
pub use op::{ExternalOp, NoopOp, Op, Submit};
pub use reaper::CbReaper;

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::error::{Error, Result};
use crate::abi::evptr::EvPtr;
use crate::base::fork::PerFork;
use crate::handle::{HandleTable, HandleType};

/// What the event layer holds for the whole process.
pub(crate) struct EventState {
    /// Event queues by handle.
    pub eqs: HandleTable<Eq>,
    /// The threads that run asynchronous metadata calls.
    pub meta_pool: MetaPool,
    /// Reaps, for completion callbacks, the rings nobody polls.
    pub cb_reaper: CbReaper,
}

static STATE: PerFork<EventState> = PerFork::new();

/// The event layer's state in this process (built again after a fork).
pub(crate) fn state() -> &'static EventState {
    STATE.get(|prev| EventState {
        eqs: HandleTable::continuing(HandleType::Eq, prev.map(|p| &p.eqs)),
        meta_pool: Default::default(),
        cb_reaper: Default::default(),
    })
}

/// Receives the events a poll or query hands out: (index, event).
pub type EvSink<'a> = &'a mut dyn FnMut(usize, EvPtr);

/// Magic word in `ev_private.space[0]`, mixed with the struct's own address so
/// that a copy of a live event at another address is not taken for it.
const EV_MAGIC: u64 = 0xDA05_E7E7_5EED_0001;

/// Where a caller event's k-event lives, as recorded in its `ev_private`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvKey {
    pub eq: u64,
    pub slot: usize,
    pub seq: u64,
}

impl EvKey {
    fn encode(self, ev: EvPtr) -> [u64; 7] {
        [EV_MAGIC ^ ev.addr(), self.eq, self.slot as u64, self.seq, 0, 0, 0]
    }

    fn decode(ev: EvPtr) -> Option<EvKey> {
        let p = ev.read_private();
        if p[0] != EV_MAGIC ^ ev.addr() {
            return None;
        }
        Some(EvKey { eq: p[1], slot: p[2] as usize, seq: p[3] })
    }
}

/// A caller event resolved to its EQ and k-event key. The k-event may still
/// vanish before the EQ is locked; every use re-checks the key under the lock.
pub struct EvRef {
    pub eq: Arc<Eq>,
    pub key: EvKey,
}

fn unknown(ev: EvPtr) -> Error {
    Error::NoEnt(format!(
        "event {:p} is not initialised, already finalised, or its EQ is gone",
        ev.as_ptr()
    ))
}

/// Finds the k-event of a caller event; `-ENOENT` if it has none.
pub fn resolve(ev: EvPtr) -> Result<EvRef> {
    let key = EvKey::decode(ev).ok_or_else(|| unknown(ev))?;
    let eq = find_eq(key.eq).map_err(|_| unknown(ev))?;
    Ok(EvRef { eq, key })
}

const CACHE_WAYS: usize = 4;

thread_local! {
    /// A few recent EQ look-ups of this thread: (fork generation, cookie, EQ).
    /// Weak, so a destroyed EQ is freed even if it stays cached; a destroyed EQ
    /// still alive elsewhere is refused by its own `destroyed` flag.
    static EQ_CACHE: RefCell<[(u64, u64, Weak<Eq>); CACHE_WAYS]> =
        RefCell::new(std::array::from_fn(|_| (0, 0, Weak::new())));
}

/// Finds an EQ by handle: the per-thread cache first, then the handle table.
pub fn find_eq(cookie: u64) -> Result<Arc<Eq>> {
    let gen = crate::base::fork::fork_gen();
    let way = (cookie >> 10) as usize % CACHE_WAYS;
    let hit = EQ_CACHE.with(|c| {
        let c = c.borrow();
        let (g, k, w) = &c[way];
        if *g == gen && *k == cookie && cookie != 0 {
            w.upgrade()
        } else {
            None
        }
    });
    if let Some(eq) = hit {
        return Ok(eq);
    }
    let eq = state().eqs.get(cookie)?;
    EQ_CACHE.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            let old = std::mem::replace(&mut c[way], (gen, cookie, Arc::downgrade(&eq)));
            if old.0 != gen {
                // Inherited from the parent process: never touch it.
                std::mem::forget(old);
            }
        }
    });
    Ok(eq)
}

/// `daos_eq_create`.
pub fn eq_create() -> Result<u64> {
    state().eqs.insert_with(|cookie| Eq::new(cookie, false))
}

/// `daos_eq_destroy`.
pub fn eq_destroy(cookie: u64) -> Result<()> {
    let eq = state().eqs.get(cookie)?;
    eq.destroy(false)?;
    state().eqs.remove(cookie).map(|_| ())
}

/// `daos_eq_destroy_force`.
pub fn eq_destroy_force(cookie: u64) -> Result<()> {
    let eq = state().eqs.get(cookie)?;
    eq.destroy(true)?;
    state().eqs.remove(cookie).map(|_| ())
}

/// `daos_eq_poll`.
pub fn eq_poll(
    cookie: u64,
    wait_inf: bool,
    timeout: Timeout,
    max: usize,
    sink: &mut dyn FnMut(usize, EvPtr),
) -> Result<usize> {
    find_eq(cookie)?.poll(wait_inf, timeout, max, sink)
}

/// `daos_eq_query`.
pub fn eq_query(
    cookie: u64,
    completed: bool,
    inflight: bool,
    out: Option<(usize, EvSink<'_>)>,
) -> Result<usize> {
    find_eq(cookie)?.query(completed, inflight, out)
}

/// `daos_eq_plug`.
pub fn eq_plug(cookie: u64) -> Result<()> {
    find_eq(cookie)?.plug()
}

/// `daos_eq_unplug`.
pub fn eq_unplug(cookie: u64) -> Result<()> {
    find_eq(cookie)?.unplug()
}

/// `daos_eq_get_fd`.
pub fn eq_get_fd(cookie: u64) -> Result<i32> {
    state().eqs.get(cookie)?.notify_fd()
}

/// `daos_event_init`.
pub fn event_init(ev: EvPtr, eqh: u64, parent: Option<EvPtr>) -> Result<()> {
    if let Ok(r) = resolve(ev) {
        if r.eq.is_live(r.key, ev) {
            return Err(Error::Already(format!("event {:p} is already initialised", ev.as_ptr())));
        }
    }
    let key = match parent {
        Some(p) => {
            let pr = resolve(p)?;
            pr.eq.init_child(ev, pr.key, p)?
        }
        None => state().eqs.get(eqh)?.init_event(Some(ev))?,
    };
    ev.write_private(key.encode(ev));
    Ok(())
}

/// `daos_event_fini`.
pub fn event_fini(ev: EvPtr) -> Result<()> {
    let r = resolve(ev)?;
    r.eq.fini(r.key, ev)
}

/// `daos_event_next`.
pub fn event_next(parent: EvPtr, child: Option<EvPtr>) -> Option<EvPtr> {
    let r = resolve(parent).ok()?;
    r.eq.next_child(r.key, parent, child)
}

/// `daos_event_abort`.
pub fn event_abort(ev: EvPtr) -> Result<()> {
    let r = resolve(ev)?;
    r.eq.abort(r.key, ev)
}

/// `daos_event_launch`.
pub fn event_launch(ev: EvPtr) -> Result<()> {
    let r = resolve(ev)?;
    r.eq.dispatch(r.key, ev, None).map(|_| ())
}

/// `daos_event_complete`.
pub fn event_complete(ev: EvPtr, rc: i32) -> Result<()> {
    if rc > 0 {
        return Err(Error::Inval(format!("completion code {rc} is positive; use 0 or -errno")));
    }
    let r = resolve(ev)?;
    r.eq.user_complete(r.key, ev, rc)
}

/// `daos_event_test`.
pub fn event_test(ev: EvPtr, timeout: Timeout) -> Result<bool> {
    let r = resolve(ev)?;
    r.eq.test(r.key, ev, timeout)
}

/// `daos_event_register_comp_cb`.
pub fn event_register_cb(ev: EvPtr, cb: crate::abi::evptr::CompCb) -> Result<()> {
    let r = resolve(ev)?;
    r.eq.register_cb(r.key, ev, cb)
}

/// Dispatches an operation on a caller's event (`ev` given), or runs it
/// synchronously on this thread's private EQ (`ev` NULL), returning its result.
pub fn run_op(ev: Option<EvPtr>, op: Box<dyn Op>) -> Result<()> {
    match ev {
        Some(ev) => {
            let r = resolve(ev)?;
            r.eq.dispatch(r.key, ev, Some(op)).map(|_| ())
        }
        None => eq::run_sync(op),
    }
}

/// A pending call (a wait or a listen) that ends through its completer.
pub trait Pending {
    fn completer(&self) -> &Completer;
}

/// Ends the calls of `pending` that `pick` chooses with `rc` (a negative
/// errno). They are taken off the list first, so no completion runs under
/// its lock.
pub fn end_pending<T: Pending>(pending: &parking_lot::Mutex<Vec<T>>, pick: impl FnMut(&T) -> bool, rc: i32) {
    let gone = crate::base::vecs::take_where(&mut pending.lock(), pick);
    for p in gone {
        p.completer().complete(|| rc);
    }
}

/// Completes an operation dispatched by [`run_deferred`], from any thread.
pub enum Completer {
    Event { eq: Arc<Eq>, key: EvKey, gen: u32 },
    Sync(Arc<(parking_lot::Mutex<Option<i32>>, parking_lot::Condvar)>),
}

impl Completer {
    /// Completes the operation with the result of `f` (0 or -errno). `f`
    /// delivers the operation's outputs; it runs only if the event is still
    /// waiting for this completion (not aborted, not finalised), and under the
    /// EQ lock, so keep it short. Returns whether it ran.
    pub fn complete(&self, f: impl FnOnce() -> i32) -> bool {
        match self {
            Completer::Event { eq, key, gen } => eq.complete_external(*key, *gen, f),
            Completer::Sync(cell) => {
                let mut g = cell.0.lock();
                if g.is_some() {
                    return false;
                }
                *g = Some(f());
                cell.1.notify_all();
                true
            }
        }
    }

    /// Whether the operation can no longer be completed (it was aborted or its
    /// event finalised); a waiter list drops such entries.
    pub fn is_dead(&self) -> bool {
        match self {
            Completer::Event { eq, key, gen } => !eq.awaits_external(*key, *gen),
            Completer::Sync(cell) => cell.0.lock().is_some(),
        }
    }
}

/// Starts an operation whose completion comes from outside the engine.
/// `start` receives the completer and may complete it at once or hand it to
/// whatever will. With `ev` NULL the calling thread waits for the completion
/// and the result is returned. `abortable`: `daos_event_abort` completes the
/// event with `-EINTR` (for waits that may never end).
pub fn run_deferred(
    ev: Option<EvPtr>,
    ev_type: crate::abi::types::daos_ev_type_t,
    abortable: bool,
    start: impl FnOnce(Completer),
) -> Result<()> {
    match ev {
        Some(ev) => {
            let r = resolve(ev)?;
            let gen = r.eq.dispatch(r.key, ev, Some(Box::new(ExternalOp { ev_type, abortable })))?;
            start(Completer::Event { eq: r.eq, key: r.key, gen });
            Ok(())
        }
        None => {
            let cell = Arc::new((parking_lot::Mutex::new(None), parking_lot::Condvar::new()));
            start(Completer::Sync(cell.clone()));
            let mut g = cell.0.lock();
            while g.is_none() {
                cell.1.wait(&mut g);
            }
            match g.unwrap() {
                0 => Ok(()),
                rc => Err(Error::Os { errno: -rc, msg: "operation failed".into() }),
            }
        }
    }
}

/// Runs `work` and delivers its output with `deliver` on success. Without an
/// event it runs in the calling thread and the result is returned. With an
/// event, the event is dispatched, the call returns at once, and the work runs
/// on the process's metadata pool, after the calls made before it with the
/// same `key` (one container) and beside the others; the worker then
/// completes the event. Object I/O never takes this path: it goes to the engine.
pub fn run_work<T: 'static>(
    ev: Option<EvPtr>,
    ev_type: crate::abi::types::daos_ev_type_t,
    key: impl FnOnce() -> MetaKey,
    work: impl FnOnce() -> Result<T> + Send + 'static,
    deliver: impl FnOnce(T) + Send + 'static,
) -> Result<()> {
    match ev {
        None => work().map(deliver),
        Some(ev) => run_deferred(Some(ev), ev_type, false, |c| {
            state().meta_pool.submit(
                key(),
                Box::new(move || {
                    let res = work();
                    if let Err(e) = &res {
                        crate::log!(Info, "asynchronous operation failed: {e}");
                    }
                    c.complete(|| match res {
                        Ok(v) => {
                            deliver(v);
                            0
                        }
                        Err(e) => e.to_rc(),
                    });
                }),
            );
        }),
    }
}

#[cfg(test)]
mod tests;
