//! `#[repr(C)]` types and constants of the public C API.
//!
//! Names, field orders and layouts follow the appendix "Updated DAOS API" of the
//! reference design exactly. C enums of the appendix are declared as fixed-width
//! integer typedefs plus `#define` constants: a C caller may pass any integer
//! where an enum is expected, and receiving an out-of-range value in a Rust enum
//! would be undefined behaviour. Values and sizes are those of the C enums.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

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
/// Extension: `daos_epoch_hold` and `daos_epoch_hold_query`.
pub const DAOS_EV_EP_HOLD: daos_ev_type_t = 34;

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

/// Log level of a message given to the `daos_rs_set_log_callback` callback:
/// a failure the library could not handle (data failing its checksum, an
/// internal error).
pub const DAOS_RS_LOG_ERROR: c_int = 1;
/// Log level: bad input (each call refusing its arguments logs one line at
/// this level, saying why) and conditions worth a warning.
pub const DAOS_RS_LOG_WARN: c_int = 2;
/// Log level: expected conditions (-EBUSY, -EALREADY, the I/O engine and
/// watch chosen).
pub const DAOS_RS_LOG_INFO: c_int = 3;
/// Log level: details for debugging the library.
pub const DAOS_RS_LOG_DEBUG: c_int = 4;

/// Log callback of `daos_rs_set_log_callback`: receives the `arg` given at
/// installation, the message's level (`DAOS_RS_LOG_ERROR` ...
/// `DAOS_RS_LOG_DEBUG`) and the message: one line of UTF-8 without a newline,
/// NUL-terminated, valid only during the call (copy it to keep it).
pub type daos_rs_log_cb_t = Option<unsafe extern "C" fn(arg: *mut c_void, level: c_int, msg: *const c_char)>;

/// Major version of this library.
pub const DAOS_RS_VERSION_MAJOR: c_int = 0;
/// Minor version of this library.
pub const DAOS_RS_VERSION_MINOR: c_int = 1;
/// Patch version of this library.
pub const DAOS_RS_VERSION_PATCH: c_int = 0;

const _: () = assert!(std::mem::size_of::<daos_event>() == 64);
const _: () = assert!(DAOS_RS_LOG_ERROR == crate::log::Level::Error as c_int);
const _: () = assert!(DAOS_RS_LOG_WARN == crate::log::Level::Warn as c_int);
const _: () = assert!(DAOS_RS_LOG_INFO == crate::log::Level::Info as c_int);
const _: () = assert!(DAOS_RS_LOG_DEBUG == crate::log::Level::Debug as c_int);
const _: () = assert!(std::mem::size_of::<daos_handle_t>() == 8);

// ---------------------------------------------------------------------------
// Storage: targets, containers, shards, objects, epochs (appendix, SPEC §4–§8)
// ---------------------------------------------------------------------------

/// Container status reported by `daos_container_open`.
pub type daos_container_status_t = u32;
/// all shards are in consistent status
pub const DAOS_CONTAINER_ST_OK: daos_container_status_t = 0;
/// some shards are stuck to commit (an enabled shard's committed epoch < HSE)
pub const DAOS_CONTAINER_ST_STUCK: daos_container_status_t = 1;
/// some shards are inaccessible (their target is disabled or missing)
pub const DAOS_CONTAINER_ST_FAULTY: daos_container_status_t = 2;
/// the container's metadata fails its checksum; the handle is read-only
pub const DAOS_CONTAINER_ST_CORRUPT: daos_container_status_t = 3;

/// target is unknown
pub const DAOS_TARGET_ST_UNKNOWN: c_int = -2;
/// target is disabled by the administrator
pub const DAOS_TARGET_ST_DISABLED: c_int = -1;
/// Extension: the health of a fully healthy target (0 - 100 are health levels);
/// `daos_sys_target_set_status(h, t, DAOS_TARGET_ST_HEALTHY)` enables a target.
pub const DAOS_TARGET_ST_HEALTHY: c_int = 100;

/// Storage type of a target.
pub type daos_target_type_t = u32;
pub const DAOS_TARGET_TYPE_HDD: daos_target_type_t = 0;
pub const DAOS_TARGET_TYPE_SSD: daos_target_type_t = 1;

/// A change of a target's status, reported by `daos_sys_listen`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_target_event {
    /// target ID
    pub te_target: u32,
    /// target health status, see DAOS_TARGET_ST_* for details
    pub te_status: c_int,
}

/// A shard added or disabled, reported by `daos_container_listen`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_shard_event {
    /// shard ID
    pub se_shard: u32,
    /// target ID of this shard
    pub se_target: u32,
    /// target health status, see DAOS_TARGET_ST_* for details
    /// (DAOS_TARGET_ST_DISABLED for a disabled shard)
    pub se_status: c_int,
    /// epoch of shard operation
    pub se_epoch: daos_epoch_t,
}

/// The four layers of the storage tree.
pub type daos_loc_type_t = u32;
pub const DAOS_LOC_TYP_UNKNOWN: daos_loc_type_t = 0;
pub const DAOS_LOC_TYP_CAGE: daos_loc_type_t = 1;
pub const DAOS_LOC_TYP_RACK: daos_loc_type_t = 2;
pub const DAOS_LOC_TYP_NODE: daos_loc_type_t = 3;
pub const DAOS_LOC_TYP_TARGET: daos_loc_type_t = 4;

/// An unknown (unspecified) cage, rack or node in `struct daos_location`.
pub const DAOS_LOC_UNKNOWN: c_int = -1;

/// Location ID of a cage, rack, node or target: one footprint of `daos_sys_query`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_loc_key {
    /// location type of this ID: DAOS_LOC_TYP_CAGE/RACK/NODE/TARGET
    pub lk_type: daos_loc_type_t,
    /// logic ID of cage/rack/node/target
    pub lk_id: u32,
}

/// Placement information in the storage tree.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_location {
    /// cage number
    pub lc_cage: c_int,
    /// rack number
    pub lc_rack: c_int,
    /// node number
    pub lc_node: c_int,
}

/// Performance of a target, measured by `daos_sys_format` (unless
/// `DAOS_SYS_FORMAT_NO_PROBE`) or by `daos-rs target probe`; 0 if never measured.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_target_perf {
    /// sequential read bandwidth, MB/s
    pub tp_rdbw: u32,
    /// block size of the read bandwidth measurement, bytes
    pub tp_rdbw_bs: u32,
    /// sequential write bandwidth (to stable storage), MB/s
    pub tp_wrbw: u32,
    /// block size of the write bandwidth measurement, bytes
    pub tp_wrbw_bs: u32,
    /// random read operations per second
    pub tp_iops: u32,
    /// block size of the IOPS measurement, bytes
    pub tp_iops_bs: u32,
}

/// Affinity of a target.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_target_aff {
    /// reserved for target CPU affinity (-1: none)
    pub ta_cpu_aff: c_int,
    /// network distance: 0 for a target attached to this node
    pub ta_net_dist: c_int,
    /// latency from caller to target (micro-second), from the probe
    pub ta_latency: u64,
}

/// Space of a target.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_target_space {
    /// capacity of the target (bytes, from statvfs)
    pub ts_size: daos_size_t,
    /// free space of target (bytes available to this user, from statvfs)
    pub ts_free: daos_size_t,
    /// number of shards in this target
    pub ts_nshard: u32,
}

/// Maximum number of failover locations of a target.
pub const DAOS_TARGET_MAX_FAILOVER: usize = 4;

/// Locations of a target: the current one and its failover nodes.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_target_loc {
    /// location offset of current node in `tl_failovers`
    pub tl_current: u32,
    /// number of failover nodes of this target
    pub tl_nlocs: u32,
    /// location of failover nodes
    pub tl_failovers: [daos_location; DAOS_TARGET_MAX_FAILOVER],
}

/// Detailed information of a target (`daos_sys_query_target`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_target_info {
    /// target health status, see DAOS_TARGET_ST_* for details
    pub ti_status: c_int,
    /// storage type
    pub ti_type: daos_target_type_t,
    /// target location
    pub ti_loc: daos_target_loc,
    /// bandwidth information of target
    pub ti_perf: daos_target_perf,
    pub ti_space: daos_target_space,
    pub ti_affinity: daos_target_aff,
}

/// container open mode: read-only
pub const DAOS_COO_RO: u32 = 1;
/// container open mode: read-write
pub const DAOS_COO_RW: u32 = 1 << 1;
/// create container if it does not exist
pub const DAOS_COO_CREATE: u32 = 1 << 2;
/// tell DAOS to not retain request and data for replay (accepted, no effect)
pub const DAOS_COO_OWN_RECOV: u32 = 1 << 3;
/// Extension (not in the 2014 API): a property at create, with
/// `DAOS_COO_CREATE`. A container made by this open keeps no data checksums:
/// writes compute none and reads verify none (for users who verify their data
/// elsewhere; damage in the data is then not detected). Recorded in the
/// container's metadata, kept by snapshots, reported by
/// `daos_rs_container_props`; ignored when the container exists already (it
/// keeps the property it was made with). Without `DAOS_COO_CREATE`: -EINVAL.
pub const DAOS_RS_COO_NOCSUM: u32 = 1 << 16;

/// Container information (`daos_container_query`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_container_info {
    /// user-id of owner
    pub ci_uid: libc::uid_t,
    /// group-id of owner
    pub ci_gid: libc::gid_t,
    /// number of shards
    pub ci_nshard: u32,
    /// number of shards are stuck to commit
    pub ci_nshard_stuck: u32,
    /// number of disabled shards
    pub ci_nshard_disabled: u32,
}

/// What `daos_container_list_shard` lists.
pub type daos_shard_list_t = u32;
/// query all shards
pub const DAOS_SHARD_LS_ALL: daos_shard_list_t = 0;
/// query all shards stuck to commit
pub const DAOS_SHARD_LS_STUCK: daos_shard_list_t = 1;
/// query all disabled shards
pub const DAOS_SHARD_LS_DISABLED: daos_shard_list_t = 2;

/// Space of a shard at an epoch.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_shard_space {
    /// number of non-empty object
    pub sai_nobjs: daos_size_t,
    /// space used (bytes of the shard's files on its target)
    pub sai_used: daos_size_t,
}

/// Shard information (`daos_shard_query`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_shard_info {
    pub sai_target: u32,
    /// storage type
    pub sai_type: daos_target_type_t,
    /// target health status, see DAOS_TARGET_ST_* for details
    /// (DAOS_TARGET_ST_DISABLED for a disabled shard)
    pub sai_status: c_int,
    /// shard location
    pub sai_location: daos_target_loc,
    /// space infomation of the shard
    pub sai_space: daos_shard_space,
}

/// Extension: shard ids are below this (20 bits).
pub const DAOS_MAX_SHARDS: u32 = 1 << 20;

/// Anchor value meaning a listing is complete.
pub const DAOS_LIST_END: u64 = 0xffff_ffff_ffff_ffff;

/// Object ID.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct daos_obj_id_t {
    /// the shard ID (20 bits)
    pub o_id_hi: u64,
    /// the object within the shard
    pub o_id_lo: u64,
}

/// object open mode: read-only
pub const DAOS_OBJ_RO: u32 = 1 << 1;
/// object open mode: read & write
pub const DAOS_OBJ_RW: u32 = 1 << 2;
/// buffered write: the data is copied during the call
pub const DAOS_OBJ_IO_BUFFERED: u32 = 1 << 3;
/// random I/O (a hint)
pub const DAOS_OBJ_IO_RAND: u32 = 1 << 4;
/// sequential I/O (a hint)
pub const DAOS_OBJ_IO_SEQ: u32 = 1 << 5;
/// Deprecated, kept for compatibility: buffered read-write.
pub const DAOS_OBJ_EXCL: u32 = DAOS_OBJ_IO_BUFFERED | DAOS_OBJ_RW;

/// A memory buffer fragment.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct daos_mm_frag {
    pub mf_addr: *mut c_void,
    pub mf_nob: daos_size_t,
}

/// Memory descriptor: `mmd_nfrag` fragments, the source of a write or the
/// target of a read. Allocate it with room for the fragments.
#[repr(C)]
#[derive(Debug)]
pub struct daos_mmd {
    pub mmd_nfrag: std::ffi::c_ulong,
    pub mmd_frag: [daos_mm_frag; 0],
}

/// An extent of an object.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct daos_io_frag {
    pub if_offset: daos_off_t,
    pub if_nob: daos_size_t,
}

/// I/O descriptor: `iod_nfrag` object extents, the destination of a write or
/// the source of a read.
#[repr(C)]
#[derive(Debug)]
pub struct daos_iod {
    pub iod_nfrag: std::ffi::c_ulong,
    pub iod_frag: [daos_io_frag; 0],
}

/// Epoch information (`daos_epoch_query`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct daos_epoch_info {
    /// Highest Committed Epoch: committed on every enabled shard; the latest
    /// readable epoch of the container
    pub epi_hce: daos_epoch_t,
    /// Oldest readable epoch
    pub epi_hce_oldest: daos_epoch_t,
    /// Slipped epoch of current open
    pub epi_hce_slipped: daos_epoch_t,
    /// Highest Shard Epoch: committed on some shard; > HCE only after a
    /// partly failed commit
    pub epi_hse: daos_epoch_t,
    /// the last layout changed epoch before and including `epi_hse`
    pub epi_layout_changed: daos_epoch_t,
}

/// `daos_sys_format` flag: skip the performance probe of the targets.
pub const DAOS_SYS_FORMAT_NO_PROBE: u32 = 1;

const _: () = assert!(std::mem::size_of::<daos_target_info>() == 128);
const _: () = assert!(std::mem::size_of::<daos_shard_info>() == 88);
const _: () = assert!(std::mem::size_of::<daos_mmd>() == 8);
