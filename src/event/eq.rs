//! One event queue: its k-events, completed list, engine and waiters.

use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};
use slab::Slab;

use super::kevent::{EvState, KEvent, NIL};
use super::op::{split_user_data, Op, Submit};
use super::EvKey;
use crate::engine::{self, Cqe, Req, INTERNAL};
use crate::error::{Error, Result};
use crate::abi::evptr::{CompCb, EvPtr};
use crate::abi::types::{DAOS_EV_COMPOUND, DAOS_EV_USER};

const CANCEL_UD: u64 = INTERNAL | 2;
/// Slots must fit the 31 bits `user_data` gives them.
const MAX_SLOTS: usize = (1 << 31) - 1;

/// How long a call may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    NoWait,
    Forever,
    Micros(u64),
}

impl Timeout {
    /// From the C convention: 0 no wait, -1 forever, > 0 microseconds.
    pub fn from_c(t: i64) -> Result<Timeout> {
        match t {
            0 => Ok(Timeout::NoWait),
            -1 => Ok(Timeout::Forever),
            t if t > 0 => Ok(Timeout::Micros(t as u64)),
            t => Err(Error::Inval(format!("timeout {t} is below -1 (DAOS_EQ_WAIT)"))),
        }
    }

    fn deadline(self) -> Option<Instant> {
        match self {
            Timeout::NoWait => Some(Instant::now()),
            Timeout::Forever => None,
            Timeout::Micros(us) => Instant::now().checked_add(Duration::from_micros(us)),
        }
    }
}

/// A completion callback waiting to be called outside the lock.
struct CbCall {
    slot: usize,
    seq: u64,
    cb: CompCb,
    uev: Option<EvPtr>,
    rc: i32,
}

/// What the EQ mutex protects.
struct Inner {
    events: Slab<KEvent>,
    max_events: usize,
    next_seq: u64,
    /// The completed list, oldest first.
    head: usize,
    tail: usize,
    ncompleted: usize,
    /// Top-level events (not children) dispatched and not yet pollable.
    inflight: usize,
    engine: engine::Local,
    /// A thread is sleeping in the engine.
    waiter: bool,
    /// ... and has already been sent a wake-up.
    waiter_woken: bool,
    /// Threads sleeping on the condvar.
    cond_waiters: usize,
    destroyed: bool,
    /// `daos_eq_destroy_force` is under way: no new events or operations.
    closing: bool,
    notify: Arc<OwnedFd>,
    fd_mode: bool,
    cqes: Vec<Cqe>,
    cbs: Vec<CbCall>,
    /// `daos_eq_plug`: dispatched operations stay queued until the unplug or
    /// the next poll, query or test.
    plugged: bool,
    /// In-flight events the callback reaper takes in (`KEvent::reaped`).
    cb_armed: usize,
    /// The callback reaper watches this EQ's ring.
    watched: bool,
    /// Something a sleeping thread may wait for has changed since the
    /// sleepers were last woken: an event completed, was taken out, was
    /// finalised, or the count in flight went down (see [`Eq::settle`]).
    changed: bool,
}

/// An event queue.
pub struct Eq {
    cookie: u64,
    me: Weak<Eq>,
    inner: Mutex<Inner>,
    cond: Condvar,
    shared: Arc<engine::Shared>,
}

fn gone(ev: Option<EvPtr>) -> Error {
    match ev {
        Some(e) => Error::NoEnt(format!("event {:p} is not initialised or was finalised", e.as_ptr())),
        None => Error::NoEnt("private event is gone".into()),
    }
}

impl Inner {
    /// Whether dispatch `gen` of `key` still waits for an external completion.
    fn awaits_external(&self, key: EvKey, gen: u32) -> bool {
        !self.destroyed
            && matches!(self.events.get(key.slot), Some(k) if k.seq == key.seq && k.gen == gen
                && matches!(k.state, EvState::Dispatch | EvState::Abort)
                && k.op.is_some() && k.outstanding.is_empty())
    }

    /// The k-event of `key`, if it is still the one the caller's struct names.
    fn slot_of(&self, key: EvKey, ev: Option<EvPtr>) -> Result<usize> {
        match self.events.get(key.slot) {
            Some(k) if k.seq == key.seq && k.uev == ev && !self.destroyed => Ok(key.slot),
            _ => Err(gone(ev)),
        }
    }

    fn enqueue(&mut self, slot: usize) {
        let tail = self.tail;
        {
            let k = &mut self.events[slot];
            k.prev = tail;
            k.next = NIL;
        }
        if tail == NIL {
            self.head = slot;
        } else {
            self.events[tail].next = slot;
        }
        self.tail = slot;
        self.ncompleted += 1;
    }

    fn unlink(&mut self, slot: usize) {
        let (prev, next) = {
            let k = &mut self.events[slot];
            let pn = (k.prev, k.next);
            k.prev = NIL;
            k.next = NIL;
            pn
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.events[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.events[next].prev = prev;
        }
        self.ncompleted -= 1;
    }

    /// Takes a completed top-level event out of the EQ: it and its children
    /// become NONE.
    fn take(&mut self, slot: usize) -> i32 {
        self.changed = true;
        self.unlink(slot);
        let k = &mut self.events[slot];
        k.state = EvState::None;
        k.kids_done = 0;
        k.first_err = 0;
        let rc = k.result;
        let kids = std::mem::take(&mut k.children);
        for &c in &kids {
            self.events[c].state = EvState::None;
        }
        self.events[slot].children = kids;
        rc
    }

    fn pop(&mut self, max: usize, sink: &mut dyn FnMut(usize, EvPtr)) -> usize {
        let mut n = 0;
        while n < max && self.head != NIL {
            let slot = self.head;
            self.take(slot);
            if let Some(u) = self.events[slot].uev {
                sink(n, u);
                n += 1;
            }
        }
        n
    }

    fn reap(&mut self, submit: bool) {
        if self.fd_mode {
            engine::drain_eventfd(engine::raw(&self.notify));
        }
        if submit {
            self.engine.reap(&mut self.cqes);
        } else {
            self.engine.reap_completed(&mut self.cqes);
        }
        loop {
            let mut cqes = std::mem::take(&mut self.cqes);
            for c in cqes.drain(..) {
                self.on_cqe(c);
            }
            self.cqes = cqes;
            // Follow-up requests the operations queued go at once too.
            if !self.plugged {
                self.engine.flush(&mut self.cqes);
            }
            if !self.engine.has_ready() && self.cqes.is_empty() {
                break;
            }
            self.engine.reap_completed(&mut self.cqes);
        }
    }

    fn on_cqe(&mut self, c: Cqe) {
        let (slot, gen, tag) = split_user_data(c.user_data);
        let Some(k) = self.events.get_mut(slot) else { return };
        let Some(pos) = k.outstanding.iter().position(|&u| u == c.user_data) else {
            crate::log!(Debug, "stray completion {:#x} (gen {gen})", c.user_data);
            return;
        };
        k.outstanding.swap_remove(pos);
        let Some(mut op) = k.op.take() else { return };
        let mut sub = Submit {
            engine: &mut self.engine,
            slot,
            gen: k.gen,
            out: &mut self.cqes,
            outstanding: &mut k.outstanding,
        };
        op.on_cqe(tag, c.result, &mut sub);
        if k.outstanding.is_empty() {
            let rc = op.result(k.state == EvState::Abort);
            self.complete_event(slot, rc);
        } else {
            k.op = Some(op);
        }
    }

    /// The operation of an in-flight event is over with `rc`.
    fn complete_event(&mut self, slot: usize, rc: i32) {
        let k = &mut self.events[slot];
        if k.reaped {
            k.reaped = false;
            self.cb_armed -= 1;
        }
        k.op = None;
        k.outstanding.clear();
        if let Some(cb) = k.cb.take() {
            k.state = EvState::Callback;
            k.result = rc;
            self.cbs.push(CbCall { slot, seq: k.seq, cb, uev: k.uev, rc });
        } else {
            self.finish(slot, rc);
        }
    }

    /// Makes an event COMPLETE: a child reports to its parent, a top-level
    /// event becomes pollable.
    fn finish(&mut self, slot: usize, rc: i32) {
        self.changed = true;
        let k = &mut self.events[slot];
        k.state = EvState::Complete;
        k.result = rc;
        k.set_error(rc);
        match k.parent {
            Some(p) => {
                let parent = &mut self.events[p];
                parent.kids_done += 1;
                if rc != 0 && parent.first_err == 0 {
                    parent.first_err = rc;
                }
                if parent.kids_done == parent.children.len() && parent.state.in_flight() {
                    let err = parent.first_err;
                    self.complete_event(p, err);
                }
            }
            None => {
                self.inflight -= 1;
                self.enqueue(slot);
            }
        }
    }

    /// Asks the engine to cancel what an event has in flight.
    fn abort_slot(&mut self, slot: usize) {
        let k = &mut self.events[slot];
        if k.state != EvState::Dispatch {
            return;
        }
        k.state = EvState::Abort;
        if k.outstanding.is_empty() && k.op.as_ref().is_some_and(|o| o.abort_completes()) {
            self.complete_event(slot, -libc::EINTR);
            return;
        }
        let targets = k.outstanding.clone();
        for target in targets {
            if let Err(e) = self.engine.push(Req::Cancel { target }, CANCEL_UD, &mut self.cqes) {
                crate::log!(Warn, "cancel of an in-flight operation failed: {e}");
            }
        }
    }

    /// Aborts an in-flight top-level event. A parent aborts its children:
    /// those in flight are cancelled; those never dispatched will not be any
    /// more (the parent would otherwise wait for them forever): they complete
    /// at once with `-EINTR`, without their callbacks (they never ran), and
    /// go back to idle when the parent is polled.
    fn abort_event(&mut self, slot: usize) {
        let kids = self.events[slot].children.clone();
        if kids.is_empty() {
            self.abort_slot(slot);
            return;
        }
        if self.events[slot].state == EvState::Dispatch {
            self.events[slot].state = EvState::Abort;
        }
        for c in kids {
            if self.events[c].state == EvState::None {
                self.finish(c, -libc::EINTR);
            } else {
                self.abort_slot(c);
            }
        }
    }

    fn new_kevent(&mut self, uev: Option<EvPtr>, parent: Option<usize>) -> Result<EvKey> {
        if self.events.len() >= self.max_events {
            return Err(Error::MFile(format!(
                "the EQ already holds {} events (DAOS_RS_EQ_MAX_EVENTS)",
                self.events.len()
            )));
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        let slot = self.events.insert(KEvent::new(seq, uev, parent));
        Ok(EvKey { eq: 0, slot, seq })
    }
}

impl Eq {
    /// A new EQ with its own engine (`private`: a thread's EQ for its
    /// synchronous calls).
    pub fn new(cookie: u64, private: bool) -> Result<Arc<Eq>> {
        let notify = Arc::new(engine::new_eventfd()?);
        let (local, shared) = engine::new_engine(notify.clone(), private)?;
        let eq = Arc::new_cyclic(|me| Eq {
            cookie,
            me: me.clone(),
            inner: Mutex::new(Inner {
                events: Slab::new(),
                max_events: crate::base::config::eq_max_events().min(MAX_SLOTS),
                next_seq: 0,
                head: NIL,
                tail: NIL,
                ncompleted: 0,
                inflight: 0,
                engine: local,
                waiter: false,
                waiter_woken: false,
                cond_waiters: 0,
                destroyed: false,
                closing: false,
                notify,
                fd_mode: false,
                cqes: Vec::new(),
                cbs: Vec::new(),
                plugged: false,
                cb_armed: 0,
                watched: false,
                changed: false,
            }),
            cond: Condvar::new(),
            shared,
        });
        let sink: Weak<dyn engine::Sink> = Arc::downgrade(&eq) as Weak<dyn engine::Sink>;
        eq.inner.lock().engine.set_sink(sink);
        Ok(eq)
    }

    /// Has the callback reaper take in the completion of the in-flight
    /// event `slot` (it has a callback, or a long completion step): it
    /// watches this EQ's ring while such an event is in flight (io_uring
    /// only: the other engines complete events without a reaper).
    fn arm_cb(&self, g: &mut Inner, slot: usize) {
        if g.events[slot].reaped || self.shared.ring_fd().is_none() || self.cookie == 0 {
            return;
        }
        g.events[slot].reaped = true;
        g.cb_armed += 1;
        if g.watched {
            return;
        }
        if let Some(fd) = self.shared.ring_fd() {
            g.watched = super::state().cb_reaper.watch(self.cookie, self.me.clone(), fd);
        }
    }

    fn unwatch(&self, g: &mut Inner) {
        if g.watched {
            if let Some(fd) = self.shared.ring_fd() {
                super::state().cb_reaper.unwatch(self.cookie, fd);
            }
            g.watched = false;
        }
    }

    /// The callback reaper found this EQ's ring readable: takes in what has
    /// completed (running callbacks), and stops being watched once no
    /// in-flight event has a callback.
    pub fn reap_for_callbacks(&self) {
        let mut g = self.inner.lock();
        if !g.destroyed {
            self.progress(&mut g, false);
            self.fd_settle(&mut g);
        }
        if g.cb_armed == 0 || g.destroyed {
            self.unwatch(&mut g);
        }
    }

    /// `daos_eq_plug`.
    pub fn plug(&self) -> Result<()> {
        self.lock()?.plugged = true;
        Ok(())
    }

    /// `daos_eq_unplug`: hands over everything queued while plugged.
    pub fn unplug(&self) -> Result<()> {
        let mut g = self.lock()?;
        if !g.plugged {
            return Ok(());
        }
        g.plugged = false;
        self.launch(g);
        Ok(())
    }

    /// Hands what is queued to the engine before the call returns: the
    /// thread-pool engine's workers get it under the lock, io_uring's
    /// `io_uring_enter` is made after the lock is dropped. Completions made
    /// at once (NOPs of the thread-pool engine) are taken in first.
    fn launch(&self, mut g: MutexGuard<'_, Inner>) {
        g.engine.launch();
        if g.engine.has_ready() {
            self.progress(&mut g, false);
            self.fd_settle(&mut g);
        }
        drop(g);
        self.shared.submit();
    }

    /// Sets this EQ's event limit (tests; callers use `DAOS_RS_EQ_MAX_EVENTS`).
    #[cfg(test)]
    pub fn set_max_events(&self, n: usize) {
        self.inner.lock().max_events = n;
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        let g = self.inner.lock();
        if g.destroyed {
            return Err(Error::BadF(format!("EQ {:#x} is destroyed", self.cookie)));
        }
        Ok(g)
    }

    /// Runs pending completion callbacks outside the lock, then wakes the
    /// sleeping threads if anything they may wait for has changed.
    ///
    /// Every sleeper re-checks its own condition under the lock before it
    /// sleeps, and every change of what those conditions read is made under
    /// the lock and followed by a settle, which wakes *every* sleeper (they
    /// wait for different things: any completion, one event, nothing in
    /// flight). The one sleeping in the engine is woken through a wake-up
    /// that only it consumes (an eventfd), never through a completion that
    /// another thread's reap could take first. So no wake-up is lost.
    fn settle(&self, g: &mut MutexGuard<'_, Inner>) {
        while !g.cbs.is_empty() {
            let calls = std::mem::take(&mut g.cbs);
            let me = self as *const Eq as usize;
            let done: Vec<(usize, u64, i32)> = MutexGuard::unlocked(g, || {
                calls
                    .into_iter()
                    .map(|c| {
                        let r = {
                            let _running = CbRunning::enter(me, c.slot, c.seq);
                            c.cb.call(c.uev, c.rc)
                        };
                        (c.slot, c.seq, if c.rc == 0 { r } else { c.rc })
                    })
                    .collect()
            });
            for (slot, seq, rc) in done {
                if matches!(g.events.get(slot), Some(k) if k.seq == seq && k.state == EvState::Callback) {
                    g.finish(slot, rc);
                }
            }
        }
        if g.changed {
            g.changed = false;
            self.wake_sleepers(g);
        }
    }

    /// Wakes every thread sleeping in this EQ: the one in the engine and
    /// those on the condvar.
    fn wake_sleepers(&self, g: &mut MutexGuard<'_, Inner>) {
        if g.cond_waiters > 0 {
            self.cond.notify_all();
        }
        if g.waiter && !g.waiter_woken {
            g.waiter_woken = true;
            let g = &mut **g;
            g.engine.wake(&mut g.cqes);
        }
    }

    /// Whether the completion of the event in `slot` (a top-level event)
    /// waits for a completion callback running on the calling thread: its
    /// own, or a child's.
    fn waits_for_own_cb(&self, g: &Inner, slot: usize) -> bool {
        let me = self as *const Eq as usize;
        let Some(k) = g.events.get(slot) else { return false };
        std::iter::once(slot)
            .chain(k.children.iter().copied())
            .any(|s| g.events.get(s).is_some_and(|e| e.state == EvState::Callback && cb_running_here(me, s, e.seq)))
    }

    /// At the end of a call: keeps the notify fd readable while completed events
    /// remain (each reap drains it first).
    fn fd_settle(&self, g: &mut MutexGuard<'_, Inner>) {
        if g.fd_mode && g.ncompleted > 0 {
            engine::signal_eventfd(engine::raw(&g.notify));
        }
    }

    /// Takes in what has completed, without blocking.
    fn progress(&self, g: &mut MutexGuard<'_, Inner>, submit: bool) {
        g.reap(submit);
        self.settle(g);
    }

    /// Sleeps once: in the engine if no other thread does, else on the condvar.
    fn block(&self, g: &mut MutexGuard<'_, Inner>, deadline: Option<Instant>) {
        if !g.waiter {
            g.waiter = true;
            g.waiter_woken = false;
            MutexGuard::unlocked(g, || self.shared.wait(deadline));
            g.waiter = false;
            if g.cond_waiters > 0 {
                self.cond.notify_one();
            }
        } else {
            g.cond_waiters += 1;
            match deadline {
                Some(d) => {
                    self.cond.wait_until(g, d);
                }
                None => self.cond.wait(g),
            }
            g.cond_waiters -= 1;
        }
    }

    /// The progress-and-wait loop shared by poll, test and destroy_force:
    /// `check` returns `Some` when the call is done.
    /// `stuck` is asked before each sleep: `Some(error)` when the wait could
    /// only end by the end of a completion callback running on this very
    /// thread (the call then fails with that error instead of hanging).
    fn wait_for<R>(
        &self,
        g: &mut MutexGuard<'_, Inner>,
        deadline: Option<Instant>,
        mut check: impl FnMut(&mut Inner) -> Option<Result<R>>,
        stuck: impl Fn(&Inner) -> Option<Error>,
        on_timeout: impl FnOnce() -> R,
    ) -> Result<R> {
        let mut submit = deadline.is_some_and(|d| d <= Instant::now());
        // A poll or test hands over what a plugged EQ holds (io_uring: the
        // wait submits it).
        g.engine.launch();
        loop {
            if g.destroyed {
                return Err(Error::BadF(format!("EQ {:#x} was destroyed", self.cookie)));
            }
            self.progress(g, submit);
            if let Some(r) = check(g) {
                self.settle(g);
                self.fd_settle(g);
                return r;
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                if !submit {
                    submit = true;
                    continue;
                }
                self.fd_settle(g);
                return Ok(on_timeout());
            }
            if in_callback() {
                if let Some(e) = stuck(g) {
                    self.settle(g);
                    self.fd_settle(g);
                    return Err(e);
                }
            }
            self.block(g, deadline);
            submit = true;
        }
    }

    /// `daos_eq_poll`.
    pub fn poll(
        &self,
        wait_inf: bool,
        timeout: Timeout,
        max: usize,
        sink: &mut dyn FnMut(usize, EvPtr),
    ) -> Result<usize> {
        let mut g = self.lock()?;
        self.wait_for(
            &mut g,
            timeout.deadline(),
            |g| {
                if g.ncompleted > 0 {
                    Some(Ok(g.pop(max, sink)))
                } else if wait_inf && g.inflight == 0 {
                    Some(Ok(0))
                } else {
                    None
                }
            },
            |g| {
                // Waiting for "nothing in flight" when all that is in flight
                // waits for callbacks running on this thread.
                let stuck = wait_inf
                    && timeout == Timeout::Forever
                    && g.ncompleted == 0
                    && g.events.iter().all(|(s, k)| {
                        k.parent.is_some() || !k.state.in_flight() || self.waits_for_own_cb(g, s)
                    });
                stuck.then(|| {
                    Error::DeadLk(
                        "daos_eq_poll(wait_inf, forever) from a completion callback: only events whose \
                         callbacks run on this thread are in flight"
                            .into(),
                    )
                })
            },
            || 0,
        )
    }

    /// `daos_eq_query`.
    pub fn query(
        &self,
        completed: bool,
        inflight: bool,
        out: Option<(usize, super::EvSink<'_>)>,
    ) -> Result<usize> {
        let mut g = self.lock()?;
        self.progress(&mut g, true);
        let Some((max, sink)) = out.filter(|o| o.0 > 0) else {
            self.fd_settle(&mut g);
            return Ok(if completed { g.ncompleted } else { 0 } + if inflight { g.inflight } else { 0 });
        };
        let mut n = 0;
        if completed {
            let mut s = g.head;
            while s != NIL && n < max {
                if let Some(u) = g.events[s].uev {
                    sink(n, u);
                    n += 1;
                }
                s = g.events[s].next;
            }
        }
        if inflight {
            for (_, k) in g.events.iter() {
                if n == max {
                    break;
                }
                if k.parent.is_none() && k.state.in_flight() {
                    if let Some(u) = k.uev {
                        sink(n, u);
                        n += 1;
                    }
                }
            }
        }
        self.fd_settle(&mut g);
        Ok(n)
    }

    /// A new top-level event (`daos_event_init` without a parent).
    pub fn init_event(&self, uev: Option<EvPtr>) -> Result<EvKey> {
        let mut g = self.lock()?;
        if g.closing {
            return Err(Error::BadF(format!("EQ {:#x} is being destroyed", self.cookie)));
        }
        let mut key = g.new_kevent(uev, None)?;
        key.eq = self.cookie;
        Ok(key)
    }

    /// A new child of the event `parent` (`daos_event_init` with a parent).
    pub fn init_child(&self, ev: EvPtr, parent: EvKey, pev: EvPtr) -> Result<EvKey> {
        let mut g = self.lock().map_err(|_| gone(Some(pev)))?;
        let p = g.slot_of(parent, Some(pev))?;
        if g.closing {
            return Err(gone(Some(pev)));
        }
        let pk = &g.events[p];
        if pk.parent.is_some() {
            return Err(Error::Perm("the parent is itself a child; events do not nest".into()));
        }
        if pk.state != EvState::None {
            return Err(Error::Perm("children can be added only while the parent is idle".into()));
        }
        let mut key = g.new_kevent(Some(ev), Some(p))?;
        g.events[p].children.push(key.slot);
        key.eq = self.cookie;
        Ok(key)
    }

    /// Whether `key` is a live event of this EQ for the struct `ev`.
    pub fn is_live(&self, key: EvKey, ev: EvPtr) -> bool {
        self.inner.lock().slot_of(key, Some(ev)).is_ok()
    }

    /// Starts `op` (or, with `None`, a user-driven event) on an idle event.
    /// Returns the dispatch generation (see [`Eq::complete_external`]).
    pub fn dispatch(&self, key: EvKey, ev: impl Into<Option<EvPtr>>, op: Option<Box<dyn Op>>) -> Result<u32> {
        let ev = ev.into();
        let mut g = self.lock().map_err(|_| gone(ev))?;
        let slot = g.slot_of(key, ev)?;
        if g.closing {
            return Err(gone(ev));
        }
        let k = &g.events[slot];
        if !k.children.is_empty() {
            return Err(Error::Perm("a parent event with children cannot carry an operation".into()));
        }
        if k.state != EvState::None {
            return Err(Error::Busy(format!("event is not idle ({:?})", k.state)));
        }
        let parent = k.parent;
        let first_child = parent.is_some_and(|p| g.events[p].state == EvState::None);
        if let Some(p) = parent {
            if !first_child && !g.events[p].state.in_flight() {
                return Err(Error::Busy("the parent event has completed and was not polled yet".into()));
            }
        }
        let user = op.is_none();
        let ev_type = op.as_ref().map_or(DAOS_EV_USER, |o| o.ev_type());
        let gen;
        {
            let inner = &mut *g;
            let k = &mut inner.events[slot];
            k.gen = k.gen.wrapping_add(1);
            gen = k.gen;
            k.user = user;
            if let Some(mut op) = op {
                let mut sub = Submit {
                    engine: &mut inner.engine,
                    slot,
                    gen: k.gen,
                    out: &mut inner.cqes,
                    outstanding: &mut k.outstanding,
                };
                if let Err(e) = op.start(&mut sub) {
                    if k.outstanding.is_empty() {
                        // Nothing reached the engine: the event stays idle.
                        return Err(e);
                    }
                    // Part of the operation is already in the engine, with
                    // the caller's buffers (and the operation's own): the
                    // call cannot return before those requests end. The
                    // event is dispatched and completes with the error once
                    // they have (a synchronous call waits for that).
                    crate::log!(Warn, "an operation failed part-way through its start: {e}");
                    op = Box::new(FailedStart { op, rc: e.to_rc() });
                }
                k.op = Some(op);
            }
            k.state = EvState::Dispatch;
            k.result = 0;
            k.set_type(ev_type);
            k.set_error(0);
        }
        match parent {
            Some(p) if first_child => {
                let pk = &mut g.events[p];
                pk.state = EvState::Dispatch;
                // It may have been launched by the caller before it had
                // children: now only they complete it.
                pk.user = false;
                pk.kids_done = 0;
                pk.first_err = 0;
                pk.set_type(DAOS_EV_COMPOUND);
                pk.set_error(0);
                g.inflight += 1;
            }
            Some(_) => {}
            None => g.inflight += 1,
        }
        let k = &g.events[slot];
        if k.cb.is_some() || k.op.as_ref().is_some_and(|o| o.long_completion()) {
            self.arm_cb(&mut g, slot);
        }
        if g.plugged {
            return Ok(gen);
        }
        self.launch(g);
        Ok(gen)
    }

    /// Whether dispatch `gen` of `key` still waits for an external completion.
    pub fn awaits_external(&self, key: EvKey, gen: u32) -> bool {
        self.inner.lock().awaits_external(key, gen)
    }

    /// Completes an in-flight [`super::ExternalOp`] (dispatch `gen` of the
    /// k-event `key`) with the result of `f`, which runs under the EQ lock and
    /// only if that dispatch is still in flight (not aborted to completion,
    /// not finalised, the EQ not destroyed). Returns whether `f` ran.
    pub fn complete_external(&self, key: EvKey, gen: u32, f: impl FnOnce() -> i32) -> bool {
        let mut g = self.inner.lock();
        if !g.awaits_external(key, gen) {
            return false;
        }
        let rc = f();
        g.complete_event(key.slot, rc);
        if !g.cbs.is_empty() {
            if let Some(me) = self.me.upgrade() {
                if let Err(me) = super::meta::defer_callbacks(me) {
                    drop(me);
                    self.settle(&mut g);
                }
            }
        }
        if g.changed {
            g.changed = false;
            self.wake_sleepers(&mut g);
        }
        self.fd_settle(&mut g);
        true
    }

    /// Runs the completion callbacks a metadata worker left for after it
    /// handed its key on (see `meta::defer_callbacks`).
    pub(super) fn run_deferred_callbacks(&self) {
        let mut g = self.inner.lock();
        self.settle(&mut g);
        self.fd_settle(&mut g);
    }

    /// `daos_event_abort`.
    pub fn abort(&self, key: EvKey, ev: EvPtr) -> Result<()> {
        let mut g = self.lock().map_err(|_| gone(Some(ev)))?;
        let slot = g.slot_of(key, Some(ev))?;
        if g.events[slot].state != EvState::Dispatch {
            return Ok(());
        }
        g.abort_event(slot);
        self.settle(&mut g);
        self.fd_settle(&mut g);
        // Cancels go at once, plugged or not (with what is queued before them).
        self.launch(g);
        Ok(())
    }

    /// `daos_event_complete`.
    pub fn user_complete(&self, key: EvKey, ev: EvPtr, rc: i32) -> Result<()> {
        let mut g = self.lock().map_err(|_| gone(Some(ev)))?;
        let slot = g.slot_of(key, Some(ev))?;
        let k = &g.events[slot];
        if !k.children.is_empty() {
            return Err(Error::Perm("a parent event completes when its children have; complete them".into()));
        }
        match (k.state, k.user) {
            (EvState::Dispatch | EvState::Abort, true) => {}
            (EvState::Dispatch | EvState::Abort, false) => {
                return Err(Error::Perm("the event carries a library operation; it completes by itself".into()))
            }
            (s, _) => return Err(Error::Inval(format!("the event is not in flight ({s:?})"))),
        }
        g.complete_event(slot, rc);
        self.settle(&mut g);
        self.fd_settle(&mut g);
        Ok(())
    }

    /// Waits for one event; `Some(rc)` once it is taken out of the EQ (or was idle).
    fn test_inner(&self, key: EvKey, ev: Option<EvPtr>, timeout: Timeout) -> Result<Option<i32>> {
        let mut g = self.lock().map_err(|_| gone(ev))?;
        let slot = g.slot_of(key, ev)?;
        if g.events[slot].parent.is_some() {
            return Err(Error::Perm("daos_event_test on a child; test its parent".into()));
        }
        self.wait_for(
            &mut g,
            timeout.deadline(),
            |g| {
                if g.slot_of(key, ev).is_err() {
                    return Some(Err(gone(ev)));
                }
                match g.events[slot].state {
                    EvState::None => Some(Ok(Some(g.events[slot].result))),
                    EvState::Complete => Some(Ok(Some(g.take(slot)))),
                    _ => None,
                }
            },
            |g| {
                (timeout == Timeout::Forever && self.waits_for_own_cb(g, slot)).then(|| {
                    Error::DeadLk(
                        "daos_event_test(ev, -1) from a completion callback that this event's completion \
                         waits for"
                            .into(),
                    )
                })
            },
            || None,
        )
    }

    /// `daos_event_test`.
    pub fn test(&self, key: EvKey, ev: EvPtr, timeout: Timeout) -> Result<bool> {
        self.test_inner(key, Some(ev), timeout).map(|r| r.is_some())
    }

    /// `daos_event_register_comp_cb`.
    pub fn register_cb(&self, key: EvKey, ev: EvPtr, cb: CompCb) -> Result<()> {
        let mut g = self.lock().map_err(|_| gone(Some(ev)))?;
        let slot = g.slot_of(key, Some(ev))?;
        let k = &mut g.events[slot];
        let arm = matches!(k.state, EvState::Dispatch | EvState::Abort);
        k.cb = Some(cb);
        if arm {
            self.arm_cb(&mut g, slot);
        }
        Ok(())
    }

    /// `daos_event_next`.
    pub fn next_child(&self, key: EvKey, pev: EvPtr, child: Option<EvPtr>) -> Option<EvPtr> {
        let g = self.lock().ok()?;
        let slot = g.slot_of(key, Some(pev)).ok()?;
        let kids = &g.events[slot].children;
        let idx = match child {
            None => 0,
            Some(c) => kids.iter().position(|&s| g.events[s].uev == Some(c))? + 1,
        };
        kids.get(idx).and_then(|&s| g.events[s].uev)
    }

    /// `daos_event_fini`.
    pub fn fini(&self, key: EvKey, ev: EvPtr) -> Result<()> {
        let mut g = self.lock().map_err(|_| gone(Some(ev)))?;
        self.progress(&mut g, true);
        let slot = g.slot_of(key, Some(ev))?;
        let (parent, state) = (g.events[slot].parent, g.events[slot].state);
        if let Some(p) = parent {
            if g.events[p].state != EvState::None {
                return Err(Error::Busy("a child can leave only an idle parent".into()));
            }
            g.events[p].children.retain(|&c| c != slot);
            g.events.remove(slot);
        } else {
            let kids = &g.events[slot].children;
            if kids.iter().any(|&c| g.events[c].state.in_flight()) {
                return Err(Error::Busy("a child of this parent is in flight; abort and poll first".into()));
            }
            let stuck_parent = !kids.is_empty() && matches!(state, EvState::Dispatch | EvState::Abort);
            match state {
                s if s.in_flight() && !stuck_parent => {
                    return Err(Error::Busy("the event is in flight; abort and poll first".into()));
                }
                EvState::Complete => g.unlink(slot),
                EvState::None => {}
                _ => {
                    if g.events[slot].reaped {
                        g.cb_armed -= 1;
                    }
                    g.inflight -= 1
                }
            }
            let k = g.events.remove(slot);
            for c in k.children {
                let ck = g.events.remove(c);
                if let Some(u) = ck.uev {
                    u.write_private([0; 7]);
                }
            }
        }
        ev.write_private([0; 7]);
        g.changed = true;
        self.settle(&mut g);
        self.fd_settle(&mut g);
        Ok(())
    }

    /// `daos_eq_get_fd`.
    pub fn notify_fd(&self) -> Result<i32> {
        let mut g = self.lock()?;
        let inner = &mut *g;
        let fd = inner.engine.enable_notify(&inner.notify)?;
        g.fd_mode = true;
        if g.ncompleted > 0 {
            engine::signal_eventfd(engine::raw(&g.notify));
        }
        Ok(fd)
    }

    /// `daos_eq_destroy` (`force`: `daos_eq_destroy_force`).
    pub fn destroy(&self, force: bool) -> Result<()> {
        let mut g = self.lock()?;
        if force && self.own_cb_running() {
            return Err(deadlock_destroy(self.cookie));
        }
        self.progress(&mut g, true);
        if force {
            g.closing = true;
            let busy: Vec<usize> = g
                .events
                .iter()
                .filter(|(_, k)| k.parent.is_none() && k.state.in_flight())
                .map(|(s, _)| s)
                .collect();
            for slot in busy {
                g.abort_event(slot);
                // Nothing cancels a user-launched event: complete it here.
                let user_events: Vec<usize> = std::iter::once(slot)
                    .chain(g.events[slot].children.iter().copied())
                    .filter(|&s| g.events[s].user && g.events[s].state == EvState::Abort)
                    .collect();
                for s in user_events {
                    g.complete_event(s, -libc::EINTR);
                }
            }
            g.engine.launch();
            self.progress(&mut g, false);
            MutexGuard::unlocked(&mut g, || self.shared.submit());
            self.wait_for(
                &mut g,
                None,
                |g| (g.inflight == 0).then_some(Ok(())),
                |_| self.own_cb_running().then(|| deadlock_destroy(self.cookie)),
                || (),
            )?;
        } else if g.inflight > 0 {
            return Err(Error::Busy(format!("{} events are in flight on this EQ", g.inflight)));
        }
        g.destroyed = true;
        self.unwatch(&mut g);
        if g.waiter {
            let g = &mut *g;
            g.engine.wake(&mut g.cqes);
        }
        self.cond.notify_all();
        Ok(())
    }
}

/// An operation whose start failed after some of its requests were queued:
/// it lives on (with its buffers) until they complete, then reports the
/// start's error.
struct FailedStart {
    op: Box<dyn Op>,
    rc: i32,
}

impl Op for FailedStart {
    fn ev_type(&self) -> crate::abi::types::daos_ev_type_t {
        self.op.ev_type()
    }
    fn start(&mut self, _sub: &mut Submit<'_>) -> Result<()> {
        Ok(())
    }
    fn on_cqe(&mut self, tag: u8, res: i32, sub: &mut Submit<'_>) {
        self.op.on_cqe(tag, res, sub)
    }
    fn result(&self, _aborted: bool) -> i32 {
        self.rc
    }
}

/// `daos_eq_destroy_force` from a completion callback of the same EQ.
fn deadlock_destroy(cookie: u64) -> Error {
    Error::DeadLk(format!(
        "daos_eq_destroy_force of EQ {cookie:#x} from one of its own completion callbacks would wait for that \
         callback; destroy it from elsewhere"
    ))
}

impl Eq {
    /// Whether a completion callback of an event of this EQ is running on
    /// the calling thread.
    fn own_cb_running(&self) -> bool {
        let me = self as *const Eq as usize;
        CB_RUNNING.with(|r| r.borrow().iter().any(|e| e.0 == me))
    }
}

thread_local! {
    /// The completion callbacks running on this thread, innermost last: (EQ
    /// address, slot, seq). A callback may call the library, which may run
    /// further callbacks on the same thread, hence a stack.
    static CB_RUNNING: RefCell<Vec<(usize, usize, u64)>> = const { RefCell::new(Vec::new()) };
}

/// Whether this thread is inside a completion callback.
fn in_callback() -> bool {
    CB_RUNNING.with(|r| r.try_borrow().map_or(false, |v| !v.is_empty()))
}

/// Whether the callback of event (`slot`, `seq`) of the EQ at `eq` is running
/// on this thread.
fn cb_running_here(eq: usize, slot: usize, seq: u64) -> bool {
    CB_RUNNING.with(|r| r.borrow().iter().any(|&e| e == (eq, slot, seq)))
}

/// Records a callback as running on this thread for as long as it lives.
struct CbRunning;

impl CbRunning {
    fn enter(eq: usize, slot: usize, seq: u64) -> CbRunning {
        CB_RUNNING.with(|r| r.borrow_mut().push((eq, slot, seq)));
        CbRunning
    }
}

impl Drop for CbRunning {
    fn drop(&mut self) {
        CB_RUNNING.with(|r| {
            r.borrow_mut().pop();
        });
    }
}

thread_local! {
    /// This thread's private EQ and event for synchronous calls, with the fork
    /// generation it was made in.
    static PRIVATE: RefCell<Option<(u64, Arc<Eq>, EvKey)>> = const { RefCell::new(None) };
    /// A second event of the private EQ, for the one operation a thread may
    /// have running beside its synchronous calls ([`start_beside`]), with the
    /// fork generation it was made in.
    static BESIDE: RefCell<Option<(u64, EvKey)>> = const { RefCell::new(None) };
}

fn private_eq() -> Result<(Arc<Eq>, EvKey)> {
    PRIVATE.with(|p| {
        let mut p = p.borrow_mut();
        let gen = crate::base::fork::fork_gen();
        if let Some((g, eq, key)) = p.as_ref() {
            if *g == gen {
                return Ok((eq.clone(), *key));
            }
        }
        if let Some(stale) = p.take() {
            // Inherited from the parent process: never touch it again.
            std::mem::forget(stale);
        }
        let eq = Eq::new(0, true)?;
        let key = eq.init_event(None)?;
        *p = Some((gen, eq.clone(), key));
        Ok((eq, key))
    })
}

/// An operation running on this thread's private EQ beside the synchronous
/// calls the thread makes meanwhile ([`start_beside`]). [`Beside::wait`]
/// (or dropping it) waits for it to complete.
pub struct Beside {
    eq: Arc<Eq>,
    key: EvKey,
    waited: bool,
}

impl Beside {
    /// Waits for the operation; its result.
    pub fn wait(mut self) -> Result<()> {
        self.wait_inner()
    }

    fn wait_inner(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.waited, true) {
            return Ok(());
        }
        match self.eq.test_inner(self.key, None, Timeout::Forever)? {
            Some(0) | None => Ok(()),
            Some(rc) => Err(Error::Os { errno: -rc, msg: "operation failed".into() }),
        }
    }
}

impl Drop for Beside {
    fn drop(&mut self) {
        let _ = self.wait_inner();
    }
}

/// Starts an operation on this thread's private EQ and returns at once (its
/// requests submitted), so that the thread can do other work, synchronous
/// calls included, while it runs: a commit's flush of the data, while the
/// commit reads the container's state. One at a time per thread (a second
/// waits for the first).
pub fn start_beside(op: Box<dyn Op>) -> Result<Beside> {
    let (eq, _) = private_eq()?;
    let gen = crate::base::fork::fork_gen();
    let key = BESIDE.with(|b| -> Result<EvKey> {
        let mut b = b.borrow_mut();
        match *b {
            Some((g, key)) if g == gen => Ok(key),
            _ => {
                let key = eq.init_event(None)?;
                *b = Some((gen, key));
                Ok(key)
            }
        }
    })?;
    // (The previous one, if a caller still held it, is done before this.)
    let _ = eq.test_inner(key, None, Timeout::Forever);
    eq.dispatch(key, None, Some(op))?;
    Ok(Beside { eq, key, waited: false })
}

/// Runs an operation to completion on this thread's private EQ.
pub fn run_sync(op: Box<dyn Op>) -> Result<()> {
    let (eq, key) = private_eq()?;
    eq.dispatch(key, None, Some(op))?;
    match eq.test_inner(key, None, Timeout::Forever)? {
        Some(0) | None => Ok(()),
        Some(rc) => Err(Error::Os { errno: -rc, msg: "synchronous operation failed".into() }),
    }
}

impl engine::Sink for Eq {
    /// A worker of the thread-pool engine finished a request: its operation
    /// goes on or completes here, callbacks run (outside the lock), pollers
    /// and the EQ's fd are woken — nobody has to poll for any of it.
    fn deliver(&self, c: Cqe) {
        let mut g = self.inner.lock();
        if g.destroyed {
            return;
        }
        g.engine.completed(c);
        self.progress(&mut g, false);
        self.fd_settle(&mut g);
    }
}
