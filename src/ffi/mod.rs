//! The C ABI. This is the only module with `#[no_mangle]` functions and the
//! only one that dereferences C pointers; every export checks its pointers,
//! runs its body inside the panic boundary, and writes out-parameters only on
//! success.
//!
//! The exports are `unsafe extern "C"` because they take raw pointers; their
//! safety contract (which pointers must be valid, for how long) is each
//! function's documentation, which cbindgen copies into the C header.
#![allow(clippy::missing_safety_doc)]

pub mod args;
pub mod boundary;
pub mod collective;
pub mod container;
pub mod epoch;
pub mod eq;
pub mod event;
pub mod ext;
pub mod object;
pub mod shard;
pub mod sys;

pub use collective::*;
pub use container::*;
pub use epoch::*;
pub use eq::*;
pub use event::*;
pub use ext::*;
pub use object::*;
pub use shard::*;
pub use sys::*;
