//! daos-rs: the DAOS-style asynchronous object-storage API (event queues and
//! events, storage targets, containers of shards, objects and epochs) for C
//! programs, over storage targets that are local directories, driven by
//! io_uring.
//!
//! # API conventions (SPEC §1)
//! - Every C call returns 0 or a negative errno; out-parameters are written only
//!   on success; a call that fails on its arguments changes nothing.
//! - Every pointer is checked (NULL where a value is required: `-EINVAL`).
//! - A call taking `struct daos_event *ev` is synchronous with `ev == NULL`,
//!   otherwise it returns at once and the result arrives in `ev->ev_error`.
//! - Every call is thread-safe; panics never cross the ABI (they become `-EIO`).
//! - Handles and events do not survive `fork()`.
//!
//! # Map
//! - [`ffi`]: the C ABI, the only place that touches C pointers.
//! - [`event`]: event queues, events, progress and waiting.
//! - [`engine`]: io_uring and the synchronous fallback.
//! - [`handle`]: typed handle tables; [`runtime`]: process state and fork.
//! - [`notify`]: changes made by other processes (inotify, or polling).

pub mod container;
pub mod engine;
pub mod error;
pub mod event;
pub mod ffi;
pub mod handle;
#[macro_use]
pub mod log;
pub mod notify;
pub mod object;
pub mod runtime;
pub mod shard;
pub mod smallvec;
pub mod store;
pub mod util;
