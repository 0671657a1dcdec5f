//! Extensions to the reference API (SPEC §12) for events and the library.

use std::ffi::{c_char, c_int, c_void, CString};

use super::boundary::{put, rc, required};
use super::event::ev_arg;
use crate::abi::evptr::CompCb;
use crate::abi::types::{
    daos_event, daos_event_comp_cb_t, daos_rs_log_cb_t, DAOS_RS_VERSION_MAJOR, DAOS_RS_VERSION_MINOR,
    DAOS_RS_VERSION_PATCH,
};
use crate::error::Error;
use crate::event::{self, NoopOp, Timeout};
use crate::log;

/// An operation that does nothing and completes with 0 after `delay_us`
/// microseconds (extension), for tests, examples and measuring the event
/// machinery.
///
/// With an event it is a real engine operation (an io_uring timeout, or a NOP
/// for `delay_us == 0`; with the thread-pool engine, a library timer); the
/// delay runs from when the operation is handed over: at the call, or at the
/// unplug of a plugged EQ (see `daos_eq_plug`). It completes, and its callback
/// runs, without a poll. `daos_event_abort` cancels a pending delay
/// and the event completes with -EINTR. Without an event (`ev == NULL`) the
/// call waits `delay_us` and returns 0.
///
/// \param ev       [IN] an idle event, or NULL for a synchronous call.
/// \param delay_us [IN] the delay in microseconds.
///
/// \return 0 on success (the result arrives in `ev->ev_error`);
///         -ENOENT unknown event; -EBUSY event not idle; -EPERM the event is a
///         parent with children.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_noop(ev: *mut daos_event, delay_us: u64) -> c_int {
    rc("daos_noop", || {
        let ev = if ev.is_null() { None } else { Some(ev_arg(ev, "ev")?) };
        event::run_op(ev, Box::new(NoopOp::new(delay_us))).map(|_| 0)
    })
}

/// Puts a user-driven event in flight (extension), so an application can put
/// its own asynchronous work on a DAOS EQ. `ev_type` becomes `DAOS_EV_USER`.
/// Complete it with `daos_event_complete`. A child may be launched; its parent
/// then counts it like any other child.
///
/// \param ev [IN] an idle event.
///
/// \return 0 on success; -EINVAL `ev` NULL; -ENOENT unknown event; -EBUSY not
///         idle; -EPERM a parent with children.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_event_launch(ev: *mut daos_event) -> c_int {
    rc("daos_event_launch", || event::event_launch(ev_arg(ev, "ev")?).map(|_| 0))
}

/// Completes a user-driven event with result `rc` (extension). The event becomes
/// pollable (after its completion callback, if any); a poller blocked in
/// another thread wakes at once.
///
/// \param ev [IN] an event launched by `daos_event_launch`.
/// \param rc [IN] 0 or a negative errno; becomes `ev_error`.
///
/// \return 0 on success; -EINVAL `ev` NULL, `rc > 0`, or the event is not in
///         flight; -ENOENT unknown event; -EPERM the event carries a library
///         operation (it completes by itself).
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_event_complete(ev: *mut daos_event, rc_: c_int) -> c_int {
    rc("daos_event_complete", || event::event_complete(ev_arg(ev, "ev")?, rc_).map(|_| 0))
}

/// Waits up to `timeout_us` for one event (extension). If it has completed, it
/// is taken out of its EQ (becomes idle, as if polled) and `*done` is set to
/// true; `ev->ev_error` holds the result. An idle event counts as done. If it is
/// still in flight when the timeout expires, `*done` is set to false.
///
/// \param ev         [IN] a top-level event (not a child).
/// \param timeout_us [IN] microseconds, 0 for no wait, -1 to wait forever.
/// \param done       [OUT] whether the event is done; written only on success.
///
/// \return 0 on success; -EINVAL `ev` or `done` NULL, `timeout_us < -1`;
///         -ENOENT unknown event (or finalised while waiting); -EPERM `ev` is a
///         child; -EBADF its EQ was destroyed while waiting; -EDEADLK
///         `timeout_us == -1` from a completion callback that the event's
///         completion waits for (its own, or one of its children's): the wait
///         could never end. (With a finite timeout it times out.)
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_event_test(ev: *mut daos_event, timeout_us: i64, done: *mut bool) -> c_int {
    rc("daos_event_test", || {
        let ev = ev_arg(ev, "ev")?;
        required(done, "done")?;
        let r = event::event_test(ev, Timeout::from_c(timeout_us)?)?;
        // SAFETY: `done` was checked non-null and aligned.
        unsafe { put(done, r) };
        Ok(0)
    })
}

/// Registers a completion callback (extension): called once, at the event's
/// next completion, with `arg`, the event and the result, before the event
/// becomes pollable, on the thread that completes it (a poller, the caller of
/// `daos_event_complete`, or a library thread: the callback reaper with
/// io_uring, an I/O or metadata worker), outside every lock of the library, so it may call
/// library functions. A non-zero return replaces a zero result (it becomes
/// `ev_error`). Registering again replaces the previous callback.
///
/// Until the callback returns its event is still in flight, so a call from
/// the callback that would wait for that (its own EQ's
/// `daos_eq_destroy_force`, `daos_event_test` of the event or of its parent
/// with timeout -1, `daos_eq_poll` with `wait_inf` and `DAOS_EQ_WAIT` when
/// only such events are in flight) returns -EDEADLK instead of hanging. A
/// callback that blocks for another reason (a lock, a wait for an event that
/// only another callback on the same thread would complete) delays every
/// completion that thread would deliver: keep callbacks short.
///
/// \param ev  [IN] the event.
/// \param cb  [IN] the callback.
/// \param arg [IN] passed to `cb` unchanged; must stay valid until it is called.
///
/// \return 0 on success; -EINVAL `ev` or `cb` NULL; -ENOENT unknown event.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_event_register_comp_cb(
    ev: *mut daos_event,
    cb: daos_event_comp_cb_t,
    arg: *mut c_void,
) -> c_int {
    rc("daos_event_register_comp_cb", || {
        let ev = ev_arg(ev, "ev")?;
        // SAFETY: the caller registers `cb` to be called with `arg` on any
        // thread (the export's documented contract).
        let cb = unsafe { CompCb::new(cb, arg) }.ok_or_else(|| Error::Inval("cb is NULL".into()))?;
        event::event_register_cb(ev, cb).map(|_| 0)
    })
}

/// The library's version (extension); equal to the header's
/// `DAOS_RS_VERSION_*` macros when header and library match.
///
/// \param major [OUT] major version.
/// \param minor [OUT] minor version.
/// \param patch [OUT] patch version.
///
/// \return 0 on success; -EINVAL a pointer is NULL (nothing is written).
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_rs_version(major: *mut c_int, minor: *mut c_int, patch: *mut c_int) -> c_int {
    rc("daos_rs_version", || {
        required(major, "major")?;
        required(minor, "minor")?;
        required(patch, "patch")?;
        // SAFETY: all three were checked non-null and aligned.
        unsafe {
            put(major, DAOS_RS_VERSION_MAJOR);
            put(minor, DAOS_RS_VERSION_MINOR);
            put(patch, DAOS_RS_VERSION_PATCH);
        }
        Ok(0)
    })
}

/// The C callback and argument of `daos_rs_set_log_callback`.
struct LogCallback {
    f: unsafe extern "C" fn(arg: *mut c_void, level: c_int, msg: *const c_char),
    arg: *mut c_void,
}

// SAFETY: the caller of `daos_rs_set_log_callback` promises that the callback
// may be called from any thread, several at once, with `arg`.
unsafe impl Send for LogCallback {}
// SAFETY: as above.
unsafe impl Sync for LogCallback {}

impl LogCallback {
    fn call(&self, level: log::Level, msg: &str) {
        let text = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
        // SAFETY: the function and `arg` are valid until the callback is
        // replaced (the caller's promise); `text` outlives the call.
        unsafe { (self.f)(self.arg, level as c_int, text.as_ptr()) }
    }
}

/// Sends the library's log messages to `cb` instead of stderr (extension), so
/// that the host program shows or files them its own way; `cb == NULL` sends
/// them to stderr again (the default).
///
/// Which messages are logged is still chosen by `DAOS_RS_LOG` (default
/// `warn`: bad input and failures; see `DAOS_RS_LOG_*`). Each message is one
/// call: `cb(arg, level, msg)`, where `msg` is one line of UTF-8 without a
/// newline, NUL-terminated, valid only during the call.
///
/// Threads: `cb` is called on the thread that logs the message: the caller's
/// thread, or a library thread (the callback reaper, the thread-pool engine's
/// I/O workers, the metadata pool, the notifier), several at the same time,
/// so it must be thread-safe. This function is thread-safe; when it returns,
/// the previous callback is no longer running in any thread and will not be
/// called again (it waits for calls in progress: do not call it while holding
/// a lock your callback takes).
///
/// Reentrancy: `cb` may be called while the library holds internal locks, so
/// it must not call any function of the library: it should copy or print the
/// message and return. A message the library logs on a thread that is inside
/// `cb` goes to stderr, never back into `cb`; `daos_rs_set_log_callback`
/// called from inside `cb` returns -EBUSY and changes nothing. `cb` must
/// return normally (no longjmp, no C++ exception).
///
/// \param cb  [IN] the callback, or NULL for stderr.
/// \param arg [IN] passed to `cb` unchanged; must stay valid until the
///             callback is replaced and this function has returned.
///
/// \return 0 on success; -EBUSY called from inside the log callback.
///
/// Thread-safe. Survives fork(): the child keeps the callback.
#[no_mangle]
pub unsafe extern "C" fn daos_rs_set_log_callback(cb: daos_rs_log_cb_t, arg: *mut c_void) -> c_int {
    rc("daos_rs_set_log_callback", || {
        let sink: Option<log::Sink> = cb.map(|f| {
            let c = LogCallback { f, arg };
            Box::new(move |level: log::Level, msg: &str| c.call(level, msg)) as log::Sink
        });
        log::set_sink(sink).map_err(|_| Error::Busy("called from inside the log callback".into()))?;
        Ok(0)
    })
}
