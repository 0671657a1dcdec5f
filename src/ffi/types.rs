//! `#[repr(C)]` types and constants of the public C API.
//!
//! Names, field orders and layouts follow the appendix "Updated DAOS API" of the
//! reference design exactly. C enums of the appendix are declared as fixed-width
//! integer typedefs plus `#define` constants: a C caller may pass any integer
//! where an enum is expected, and receiving an out-of-range value in a Rust enum
//! would be undefined behaviour. Values and sizes are those of the C enums.
#![allow(non_camel_case_types)]

use std::ffi::{c_int, c_void};

/// Byte offset inside an object.
pub type daos_off_t = u64;
/// Size in bytes.
pub type daos_size_t = u64;

/// Generic handle of an event queue, system container, container or object.
///
/// Bits 0..2 hold the type (1 = EQ, 2 = system container, 3 = container,
/// 4 = object), bits 3..9 the low 7 bits of the PID of the process that made it,
/// bits 10..63 a value never reused while the process lives. A cookie of 0 is
/// never valid.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct daos_handle_t {
    pub cookie: u64,
}

/// An epoch: a version number of a container's content.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct daos_epoch_t {
    /// epoch sequence number
    pub seq: u64,
}

/// As an epoch's `seq`: the highest epoch (all ones as a 64-bit value).
pub const DAOS_EPOCH_HIGHEST: c_int = -1;

/// Event type, set by the library when an event is dispatched (`DAOS_EV_*`).
pub type daos_ev_type_t = u32;
pub const DAOS_EV_NONE: daos_ev_type_t = 0;
/// A parent event: it completes when all of its children have.
pub const DAOS_EV_COMPOUND: daos_ev_type_t = 1;
pub const DAOS_EV_EQ_DESTROY: daos_ev_type_t = 2;
pub const DAOS_EV_SYS_OPEN: daos_ev_type_t = 3;
pub const DAOS_EV_SYS_CLOSE: daos_ev_type_t = 4;
pub const DAOS_EV_SYS_QUERY: daos_ev_type_t = 5;
pub const DAOS_EV_SYS_QUERY_TGT: daos_ev_type_t = 6;
pub const DAOS_EV_CO_OPEN: daos_ev_type_t = 7;
pub const DAOS_EV_CO_CLOSE: daos_ev_type_t = 8;
pub const DAOS_EV_CO_UNLINK: daos_ev_type_t = 9;
pub const DAOS_EV_CO_SNAPSHOT: daos_ev_type_t = 10;
pub const DAOS_EV_CO_FLUSH: daos_ev_type_t = 11;
pub const DAOS_EV_CO_QUERY: daos_ev_type_t = 12;
pub const DAOS_EV_CO_LS_SHARD: daos_ev_type_t = 13;
pub const DAOS_EV_G2L: daos_ev_type_t = 14;
pub const DAOS_EV_SHARD_ADD: daos_ev_type_t = 15;
pub const DAOS_EV_SHARD_DISABLE: daos_ev_type_t = 16;
pub const DAOS_EV_SHARD_QUERY: daos_ev_type_t = 17;
pub const DAOS_EV_SHARD_FLUSH: daos_ev_type_t = 18;
pub const DAOS_EV_SHARD_LS_OBJ: daos_ev_type_t = 19;
pub const DAOS_EV_OBJ_OPEN: daos_ev_type_t = 20;
pub const DAOS_EV_OBJ_CLOSE: daos_ev_type_t = 21;
pub const DAOS_EV_OBJ_READ: daos_ev_type_t = 22;
pub const DAOS_EV_OBJ_WRITE: daos_ev_type_t = 23;
pub const DAOS_EV_OBJ_PUNCH: daos_ev_type_t = 24;
pub const DAOS_EV_EP_SLIP: daos_ev_type_t = 25;
pub const DAOS_EV_EP_WAIT: daos_ev_type_t = 26;
pub const DAOS_EV_EP_QUERY: daos_ev_type_t = 27;
pub const DAOS_EV_EP_COMMIT: daos_ev_type_t = 28;
pub const DAOS_EV_EP_ABORT: daos_ev_type_t = 29;
/// Extension: `daos_noop`.
pub const DAOS_EV_NOOP: daos_ev_type_t = 30;
/// Extension: an event started by `daos_event_launch`.
pub const DAOS_EV_USER: daos_ev_type_t = 31;
/// Extension: `daos_sys_listen`.
pub const DAOS_EV_SYS_LISTEN: daos_ev_type_t = 32;
/// Extension: `daos_container_listen`.
pub const DAOS_EV_CO_LISTEN: daos_ev_type_t = 33;

/// The library's private part of `struct daos_event`. Do not touch.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct daos_ev_private {
    pub space: [u64; 7],
}

/// Userspace event structure (64 bytes), owned by the caller.
///
/// Initialise it with `daos_event_init` before use and finalise it with
/// `daos_event_fini` before freeing it. The library writes `ev_type` when the
/// event is dispatched and `ev_error` when it completes; it never writes the
/// struct after `daos_event_fini` has returned.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct daos_event {
    /// event type (`DAOS_EV_*`), set when the event is dispatched
    pub ev_type: daos_ev_type_t,
    /// result of the asynchronous operation: 0 or a negative errno
    pub ev_error: c_int,
    /// reserved space for the library
    pub ev_private: daos_ev_private,
}

/// `daos_eq_poll` timeout: wait for a completion forever.
pub const DAOS_EQ_WAIT: c_int = -1;
/// `daos_eq_poll` timeout: always return immediately.
pub const DAOS_EQ_NOWAIT: c_int = 0;

/// What `daos_eq_query` counts.
pub type daos_ev_query_t = u32;
/// query completed events not yet polled
pub const DAOS_EVQ_COMPLETED: daos_ev_query_t = 1;
/// query events in flight
pub const DAOS_EVQ_INFLIGHT: daos_ev_query_t = 1 << 1;
/// query completed and in-flight events
pub const DAOS_EVQ_ALL: daos_ev_query_t = DAOS_EVQ_COMPLETED | DAOS_EVQ_INFLIGHT;

/// Completion callback of `daos_event_register_comp_cb`: called once with the
/// `arg` given at registration, the event, and the operation's result. A non-zero
/// return replaces a zero result.
pub type daos_event_comp_cb_t =
    Option<unsafe extern "C" fn(arg: *mut c_void, ev: *mut daos_event, rc: c_int) -> c_int>;

/// Major version of this library.
pub const DAOS_RS_VERSION_MAJOR: c_int = 0;
/// Minor version of this library.
pub const DAOS_RS_VERSION_MINOR: c_int = 1;
/// Patch version of this library.
pub const DAOS_RS_VERSION_PATCH: c_int = 0;

const _: () = assert!(std::mem::size_of::<daos_event>() == 64);
const _: () = assert!(std::mem::size_of::<daos_handle_t>() == 8);
