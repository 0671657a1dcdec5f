//! Safe wrappers around the two C pointers the core keeps: the caller's
//! `struct daos_event` and a completion callback. All dereferences of them are
//! here, so the core never touches C memory itself.

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

use super::types::{daos_ev_type_t, daos_event, daos_event_comp_cb_t};

/// The address of a caller's `struct daos_event`, checked non-null and aligned.
///
/// The caller promises (SPEC §3) that the struct stays valid from
/// `daos_event_init` until `daos_event_fini` returns. The core keeps an `EvPtr`
/// only inside the k-event, which is dropped by `daos_event_fini` (or with its
/// EQ), and writes through it only while holding that EQ's lock; so every write
/// below happens while the struct is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvPtr(NonNull<daos_event>);

// SAFETY: an EvPtr is an address; writes through it are serialised by the EQ
// lock (see the type's documentation), so sharing it between threads is sound.
unsafe impl Send for EvPtr {}
// SAFETY: as above.
unsafe impl Sync for EvPtr {}

impl EvPtr {
    /// Checks a pointer from C: non-null and aligned for `struct daos_event`.
    ///
    /// # Safety
    /// A non-null `p` must point to a `struct daos_event` that stays valid
    /// (and is written by nobody but this library) for as long as the
    /// `EvPtr` or a copy of it is used: the methods below read and write
    /// through it.
    pub unsafe fn new(p: *mut daos_event) -> Option<EvPtr> {
        let nn = NonNull::new(p)?;
        if (p as usize) % std::mem::align_of::<daos_event>() != 0 {
            return None;
        }
        Some(EvPtr(nn))
    }

    /// The raw pointer, to hand back to C.
    pub fn as_ptr(self) -> *mut daos_event {
        self.0.as_ptr()
    }

    /// The address, used to tie `ev_private` to this very struct.
    pub fn addr(self) -> u64 {
        self.0.as_ptr() as u64
    }

    /// Sets `ev_type`.
    pub fn set_type(self, t: daos_ev_type_t) {
        // SAFETY: the struct is alive while its k-event exists (type docs); a
        // volatile write of one field does not assume anything about the rest.
        unsafe { std::ptr::addr_of_mut!((*self.0.as_ptr()).ev_type).write_volatile(t) }
    }

    /// Sets `ev_error`.
    pub fn set_error(self, rc: c_int) {
        // SAFETY: as in `set_type`.
        unsafe { std::ptr::addr_of_mut!((*self.0.as_ptr()).ev_error).write_volatile(rc) }
    }

    /// Reads `ev_private`. Used before the event is known to be live: the
    /// caller vouches that the pointer names a `struct daos_event` it owns.
    pub fn read_private(self) -> [u64; 7] {
        // SAFETY: the C caller passed this pointer as a `struct daos_event *`
        // that is valid for reads (the API's contract for every event argument).
        unsafe { std::ptr::addr_of!((*self.0.as_ptr()).ev_private.space).read_volatile() }
    }

    /// Writes `ev_private`.
    pub fn write_private(self, v: [u64; 7]) {
        // SAFETY: as in `read_private`, for writes; only done by init and fini.
        unsafe { std::ptr::addr_of_mut!((*self.0.as_ptr()).ev_private.space).write_volatile(v) }
    }
}

/// A completion callback with its argument.
#[derive(Debug, Clone, Copy)]
pub struct CompCb {
    f: unsafe extern "C" fn(*mut c_void, *mut daos_event, c_int) -> c_int,
    arg: *mut c_void,
}

// SAFETY: the callback and its argument are the caller's; the API documents
// that the callback may run on whichever thread completes the event.
unsafe impl Send for CompCb {}

impl CompCb {
    /// `None` for a NULL function pointer.
    ///
    /// # Safety
    /// `f` must be safe to call, on any thread, with `arg`, the event's
    /// address (or NULL) and a return code, for as long as the `CompCb` is
    /// kept.
    pub unsafe fn new(f: daos_event_comp_cb_t, arg: *mut c_void) -> Option<CompCb> {
        f.map(|f| CompCb { f, arg })
    }

    /// Calls it once, outside every lock of the library.
    pub fn call(self, ev: Option<EvPtr>, rc: c_int) -> c_int {
        let p = ev.map_or(std::ptr::null_mut(), EvPtr::as_ptr);
        // SAFETY: the caller registered this function for this event with this
        // argument; it is called with exactly the documented arguments.
        unsafe { (self.f)(self.arg, p, rc) }
    }
}
