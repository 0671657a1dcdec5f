//! Event calls of the reference API: `daos_event_*`.

use std::ffi::c_int;

use super::boundary::{guarded, rc, required};
use crate::abi::evptr::EvPtr;
use crate::abi::types::{daos_event, daos_handle_t};
use crate::error::{Error, Result};
use crate::event;

/// Checks an event pointer argument.
pub(crate) fn ev_arg(ev: *mut daos_event, what: &str) -> Result<EvPtr> {
    required(ev, what)?;
    // SAFETY: the caller of the export promises that a non-null event
    // stays valid until `daos_event_fini` (SPEC §3); the core writes
    // through it only until then.
    unsafe { EvPtr::new(ev) }.ok_or_else(|| Error::Inval(format!("{what} is NULL or misaligned")))
}

/// Initialises an event so it can be passed to operations.
///
/// The event starts idle (NONE). Without a parent it belongs to `eqh`. With a
/// `parent`, `eqh` is ignored and the event becomes the parent's child on the
/// parent's EQ: the caller never polls the child; the parent completes once
/// every child has been dispatched and has completed, with the first non-zero
/// child error as its `ev_error`. Children can be added only while the parent
/// is idle, and events do not nest (a child cannot be a parent).
///
/// The struct must stay valid and at the same address until `daos_event_fini`
/// returns (or its EQ is destroyed). The library keeps its own record of the
/// event and stores what it needs to find it in `ev_private`.
///
/// \param ev     [IN] the caller's event struct.
/// \param eqh    [IN] the EQ (ignored when `parent` is given).
/// \param parent [IN] optional parent event.
///
/// \return 0 on success;
///         -EINVAL `ev` NULL;
///         -EBADF bad `eqh` (no parent);
///         -EALREADY `ev` is already a live event;
///         -ENOENT `parent` is not a live event;
///         -EPERM `parent` is itself a child, or not idle;
///         -EMFILE the EQ already holds `DAOS_RS_EQ_MAX_EVENTS` events.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_event_init(
    ev: *mut daos_event,
    eqh: daos_handle_t,
    parent: *mut daos_event,
) -> c_int {
    rc("daos_event_init", || {
        let ev = ev_arg(ev, "ev")?;
        let parent = if parent.is_null() { None } else { Some(ev_arg(parent, "parent")?) };
        event::event_init(ev, eqh.cookie, parent).map(|_| 0)
    })
}

/// Finalises an event; the library forgets it and never touches the struct
/// again.
///
/// An idle event is simply forgotten. A completed event that was not polled is
/// removed from its EQ silently (no poll returns it). An event in flight gives
/// -EBUSY: its buffers are still in use; abort it, poll it, then finalise. A
/// parent finalises its children too (-EBUSY if any is in flight). A child
/// leaves its parent, which must be idle (-EBUSY otherwise).
///
/// \param ev [IN] the event.
///
/// \return 0 on success; -EINVAL `ev` NULL; -ENOENT unknown or already
///         finalised; -EBUSY in flight.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_event_fini(ev: *mut daos_event) -> c_int {
    rc("daos_event_fini", || event::event_fini(ev_arg(ev, "ev")?).map(|_| 0))
}

/// Iterates over the children of a parent event, in the order they were
/// initialised.
///
/// \param parent [IN] the parent event.
/// \param child  [IN] the current child, or NULL for the first.
///
/// \return the next child; NULL after the last, or for bad input (NULL or
///         unknown parent, `child` not a child of `parent`).
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_event_next(parent: *mut daos_event, child: *mut daos_event) -> *mut daos_event {
    let r = guarded("daos_event_next", || {
        let parent = ev_arg(parent, "parent")?;
        let child = if child.is_null() { None } else { Some(ev_arg(child, "child")?) };
        Ok(event::event_next(parent, child).map_or(std::ptr::null_mut(), EvPtr::as_ptr))
    });
    r.unwrap_or(std::ptr::null_mut())
}

/// Aborts the operation of an event in flight.
///
/// The event moves to ABORT and what has not reached storage yet is cancelled
/// (io_uring `ASYNC_CANCEL`). It still completes through the EQ as usual: with
/// `ev_error == -EINTR` if the cancel won, or with the operation's real result
/// if it lost the race. A parent aborts all its children: those in flight as
/// above; those not dispatched yet never will be (a later operation on them
/// gives -EBUSY): they complete at once with `ev_error == -EINTR`, without
/// their completion callbacks, so the parent completes (with -EINTR) once its
/// dispatched children have; polling the parent makes every child idle again.
/// An event that is not in flight is left alone. Poll the event before
/// finalising it.
///
/// \param ev [IN] the event.
///
/// \return 0 on success (also when nothing was in flight); -EINVAL `ev` NULL;
///         -ENOENT unknown event.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_event_abort(ev: *mut daos_event) -> c_int {
    rc("daos_event_abort", || event::event_abort(ev_arg(ev, "ev")?).map(|_| 0))
}
