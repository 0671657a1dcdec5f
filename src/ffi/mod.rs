//! The C ABI. This is the only module with `#[no_mangle]` functions and the
//! only one that dereferences C pointers; every export checks its pointers,
//! runs its body inside the panic boundary, and writes out-parameters only on
//! success.
//!
//! The exports are `unsafe extern "C"` because they take raw pointers; their
//! safety contract (which pointers must be valid, for how long) is each
//! function's documentation, which cbindgen copies into the C header.
#![allow(clippy::missing_safety_doc)]
// The exports' documentation is written for the C header (cbindgen copies
// it there as Doxygen): `\param[in]` and the like are Doxygen, not links.
#![allow(rustdoc::broken_intra_doc_links)]

mod args;
mod boundary;
mod collective;
mod container;
mod epoch;
mod eq;
mod event;
mod ext;
mod object;
mod shard;
mod sys;

pub use collective::*;
pub use container::*;
pub use epoch::*;
pub use eq::*;
pub use event::*;
pub use ext::*;
pub use object::*;
pub use shard::*;
pub use sys::*;
