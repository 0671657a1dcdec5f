//! Event queue calls: `daos_eq_*`.

use std::ffi::{c_int, c_uint};

use super::boundary::{put, required, rc};
use crate::abi::evptr::EvPtr;
use crate::abi::flags::EvQuery;
use crate::abi::types::{daos_ev_query_t, daos_event, daos_handle_t};
use crate::error::Error;
use crate::event::{self, Timeout};

/// Creates an empty event queue (EQ).
///
/// Each EQ has its own io_uring (with the thread-pool engine, its own wake-up
/// descriptor; the pool is shared by the process). Operations dispatched with
/// its events are handed to the kernel or to a worker thread by the call that
/// dispatches them (see `daos_eq_plug` for batching) and run while the caller
/// does other things; the threads that poll the EQ take in their completions.
///
/// \param eqh [OUT] the new EQ handle; written only on success.
///
/// \return 0 on success;
///         -EINVAL `eqh` is NULL;
///         -ENOMEM, -EMFILE or another -errno if the ring or its descriptors
///         cannot be created (with `DAOS_RS_IO_ENGINE=uring`, the error of
///         `io_uring_setup`).
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_eq_create(eqh: *mut daos_handle_t) -> c_int {
    rc("daos_eq_create", || {
        required(eqh, "eqh")?;
        let cookie = event::eq_create()?;
        // SAFETY: `eqh` was checked non-null and aligned; the caller provides it
        // for writing.
        unsafe { put(eqh, daos_handle_t { cookie }) };
        Ok(0)
    })
}

/// Destroys an event queue.
///
/// If any event of the EQ is in flight (dispatched or aborted, not yet
/// completed) the call fails with -EBUSY and changes nothing. Otherwise the EQ
/// is destroyed together with its idle and completed events: later calls on
/// those events give -ENOENT (their memory is the caller's again and may be
/// freed without `daos_event_fini`); threads blocked in `daos_eq_poll` on it
/// return -EBADF.
///
/// \param eqh [IN] the EQ.
///
/// \return 0 on success; -EBADF bad, foreign or destroyed handle; -EBUSY
///         events in flight.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn daos_eq_destroy(eqh: daos_handle_t) -> c_int {
    rc("daos_eq_destroy", || event::eq_destroy(eqh.cookie).map(|_| 0))
}

/// Retrieves completed events from an event queue.
///
/// Returns up to `eventn` completed events, oldest completion first, storing
/// their addresses in `events[0..]`, and makes each idle (its state NONE; its
/// `ev_type` still names the operation that completed) so it can be
/// reused for another operation without a new init. A parent event is returned
/// only once all its children have completed; children are never returned.
///
/// If no event is ready: with `wait_inf != 0` and nothing in flight, returns 0
/// at once; otherwise waits according to `timeout`: `DAOS_EQ_NOWAIT` (0)
/// returns 0 at once, `DAOS_EQ_WAIT` (-1) blocks until an event completes (also
/// on an empty EQ when `wait_inf == 0`), a positive value waits at most that
/// many microseconds and then returns 0. A blocked caller sleeps in the kernel.
///
/// Operations are handed to the kernel (or to a library worker thread) by the
/// call that dispatches them, and run whether or not anyone polls: a poll only
/// takes in what has completed (it also hands over what a plugged EQ holds,
/// see `daos_eq_plug`). Completion callbacks run without a poll too.
///
/// \param eqh      [IN] the EQ.
/// \param wait_inf [IN] non-zero: wait only if an event is in flight.
/// \param timeout  [IN] microseconds, or `DAOS_EQ_NOWAIT` / `DAOS_EQ_WAIT`.
/// \param eventn   [IN] capacity of `events`, > 0.
/// \param events   [OUT] array of at least `eventn` pointers.
///
/// \return the number of events returned (>= 0);
///         -EINVAL `eventn <= 0`, `events` NULL, or `timeout < -1`;
///         -EBADF bad handle, or the EQ was destroyed while waiting;
///         -EDEADLK (extension) called from a completion callback with
///         `wait_inf != 0` and `DAOS_EQ_WAIT`, when nothing is completed and
///         every event in flight waits for a callback running on the calling
///         thread (the wait could never end).
///
/// Thread-safe: several threads may poll one EQ; each completed event is
/// returned to exactly one of them.
#[no_mangle]
pub unsafe extern "C" fn daos_eq_poll(
    eqh: daos_handle_t,
    wait_inf: c_int,
    timeout: i64,
    eventn: c_int,
    events: *mut *mut daos_event,
) -> c_int {
    rc("daos_eq_poll", || {
        if eventn <= 0 {
            return Err(Error::Inval(format!("eventn is {eventn}; it must be > 0")));
        }
        required(events, "events")?;
        let timeout = Timeout::from_c(timeout)?;
        let n = event::eq_poll(eqh.cookie, wait_inf != 0, timeout, eventn as usize, &mut |i, ev| {
            // SAFETY: `events` is non-null and aligned, holds `eventn` entries
            // (the caller's promise), and `i < eventn`.
            unsafe { put(events.add(i), ev.as_ptr()) }
        })?;
        Ok(n as c_int)
    })
}

/// Counts (and optionally lists) the events of an event queue.
///
/// `query` selects `DAOS_EVQ_COMPLETED` (completed, not yet polled),
/// `DAOS_EVQ_INFLIGHT` (dispatched or aborted), or `DAOS_EVQ_ALL`. A parent
/// counts once; its children are never counted or listed. Whatever has already
/// completed is taken in first (without blocking), so the answer is current.
///
/// If `events` is non-NULL and `eventn > 0`, stores up to `eventn` events
/// (completed first, in the order `daos_eq_poll` would return them, then in
/// flight) and returns how many it stored. The events still belong to the EQ:
/// do not finalise or free them; they may change state at any moment.
///
/// \param eqh    [IN] the EQ.
/// \param query  [IN] `DAOS_EVQ_COMPLETED`, `DAOS_EVQ_INFLIGHT` or `DAOS_EVQ_ALL`.
/// \param eventn [IN] capacity of `events`.
/// \param events [OUT] optional array of `eventn` pointers.
///
/// \return the count (or the number stored) >= 0; -EINVAL bad `query`;
///         -EBADF bad handle.
///
/// Thread-safe. Changes no event's state.
#[no_mangle]
pub unsafe extern "C" fn daos_eq_query(
    eqh: daos_handle_t,
    query: daos_ev_query_t,
    eventn: c_uint,
    events: *mut *mut daos_event,
) -> c_int {
    rc("daos_eq_query", || {
        let q = match crate::abi::flags::parse::<EvQuery>(query, "query mode") {
            Ok(q) if !q.is_empty() => q,
            _ => return Err(Error::Inval(format!("query mode {query} is not DAOS_EVQ_COMPLETED, _INFLIGHT or _ALL"))),
        };
        let completed = q.contains(EvQuery::COMPLETED);
        let inflight = q.contains(EvQuery::INFLIGHT);
        let mut sink = |i: usize, ev: EvPtr| {
            // SAFETY: `events` is non-null and aligned (checked below before the
            // sink is used), holds `eventn` entries, and `i < eventn`.
            unsafe { put(events.add(i), ev.as_ptr()) }
        };
        let out: Option<(usize, event::EvSink<'_>)> = if events.is_null() || eventn == 0 {
            None
        } else {
            required(events, "events")?;
            Some((eventn as usize, &mut sink))
        };
        let n = event::eq_query(eqh.cookie, completed, inflight, out)?;
        Ok(n.min(c_int::MAX as usize) as c_int)
    })
}

/// Destroys an event queue even with events in flight (extension).
///
/// Aborts every operation in flight as `daos_event_abort` does (user-launched
/// events complete with -EINTR; the children of a parent that were never
/// dispatched complete at once with -EINTR, so the parent does not wait for
/// them), waits for them to finish, then destroys the EQ as
/// `daos_eq_destroy`: every event of the EQ is forgotten (later calls on them
/// give -ENOENT; their memory is the caller's again). While it runs, new
/// events and operations on the EQ are refused. Completion callbacks of the
/// aborted events run as usual (possibly on the calling thread) before it
/// returns.
///
/// \param eqh [IN] the EQ.
///
/// \return 0 on success; -EBADF bad handle; -EDEADLK called from a
///         completion callback of an event of this EQ (the call would wait for
///         that callback to return; nothing is changed).
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn daos_eq_destroy_force(eqh: daos_handle_t) -> c_int {
    rc("daos_eq_destroy_force", || event::eq_destroy_force(eqh.cookie).map(|_| 0))
}

/// A file descriptor that is readable while the EQ has completed events
/// (extension), for epoll, select, libuv or asyncio.
///
/// After `daos_eq_poll` has taken every completed event it stops being readable
/// until another completes; it may occasionally be readable with nothing to
/// poll (a poll then clears it). The EQ owns the descriptor: do not close or
/// read it; it is closed by `daos_eq_destroy`. Every call returns the same fd.
/// It becomes readable when an operation completes, without any library call.
/// With the io_uring engine the kernel may finish an operation in the thread
/// that submitted it, which can interrupt that thread's `epoll_wait`/`poll`
/// with EINTR (no signal is involved): retry, as event loops do.
///
/// \param eqh [IN] the EQ.
/// \param fd  [OUT] the descriptor; written only on success.
///
/// \return 0 on success; -EINVAL `fd` NULL; -EBADF bad handle.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_eq_get_fd(eqh: daos_handle_t, fd: *mut c_int) -> c_int {
    rc("daos_eq_get_fd", || {
        required(fd, "fd")?;
        let v = event::eq_get_fd(eqh.cookie)?;
        // SAFETY: `fd` was checked non-null and aligned.
        unsafe { put(fd, v) };
        Ok(0)
    })
}

/// Starts batching on an event queue (extension).
///
/// While the EQ is plugged, the operations dispatched with its events (object
/// reads, writes and punches, `daos_noop`) are queued, not handed to the
/// kernel: they are handed over together, in one system call, by
/// `daos_eq_unplug`, or earlier by a `daos_eq_poll`, `daos_eq_query` or
/// `daos_event_test` on the EQ (the EQ stays plugged then), or by a
/// `daos_event_abort` (its cancel goes with them). Nothing else defers
/// submission: an unplugged EQ hands each operation over before its call
/// returns. Metadata calls given an event (open, commit, query, ...) are not
/// affected: they start at once. Plugging is not nested: plugging a plugged EQ
/// does nothing, and one `daos_eq_unplug` ends it.
///
/// \param eqh [IN] the EQ.
///
/// \return 0 on success; -EBADF bad or destroyed handle.
///
/// Thread-safe: the plug is the EQ's, whichever thread dispatches.
#[no_mangle]
pub extern "C" fn daos_eq_plug(eqh: daos_handle_t) -> c_int {
    rc("daos_eq_plug", || event::eq_plug(eqh.cookie).map(|_| 0))
}

/// Ends batching on an event queue (extension): hands every operation queued
/// since `daos_eq_plug` to the kernel (or to the worker threads) in one go,
/// before returning. On an EQ that is not plugged it does nothing.
///
/// \param eqh [IN] the EQ.
///
/// \return 0 on success; -EBADF bad or destroyed handle.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn daos_eq_unplug(eqh: daos_handle_t) -> c_int {
    rc("daos_eq_unplug", || event::eq_unplug(eqh.cookie).map(|_| 0))
}
