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
//! # Layers
//! Bottom to top. A module uses its own submodules and modules of lower
//! layers only, never one of its own layer or above, so no import runs in a
//! circle; `scripts/check-layers.py` (run by `make test`) reads this list and
//! fails on any other import. docs/ARCHITECTURE.md repeats it.
//!
//! 1. `error`
//! 2. `log`
//! 3. `base`
//! 4. `abi`
//! 5. `handle`, `engine`
//! 6. `event`
//! 7. `notify`
//! 8. `store`
//! 9. `shard`
//! 10. `container`
//! 11. `object`
//! 12. `ffi`
//!
//! - [`error`]: the core's error type and its errno; [`log`](mod@log): the log.
//! - `base`: helpers of every layer (checksums, encoding, files, lock
//!   files, the MAC, fork handling and per-process state, configuration).
//! - [`abi`]: the C ABI's data (`#[repr(C)]` types, the caller's event and
//!   memory), which the core is written against.
//! - `handle`: typed handle tables; `engine`: io_uring and the
//!   thread-pool fallback.
//! - `event`: event queues, events, progress and waiting.
//! - `notify`: changes made by other processes (inotify, or polling).
//! - [`store`]: storage targets, the store configuration, system handles.
//! - `shard`: one shard's segments, journal and extent index.
//! - `container`: containers, epochs, holds and collective opens.
//! - `object`: object handles and I/O.
//! - [`ffi`]: the `#[no_mangle]` C exports, the only place that touches C
//!   pointers; nothing imports it.
//!
//! Each module keeps its own process-wide state (handle table and the like)
//! in a `base::fork::PerFork` static, built again in a forked child.

pub mod abi;
pub(crate) mod base;
pub(crate) mod container;
pub(crate) mod engine;
pub mod error;
pub(crate) mod event;
pub mod ffi;
pub(crate) mod handle;
#[macro_use]
pub mod log;
pub(crate) mod notify;
pub(crate) mod object;
pub(crate) mod shard;
pub mod store;
