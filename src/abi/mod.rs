//! The C ABI's data, below the core: the `#[repr(C)]` types of the header
//! ([`types`]), the caller's event (`EvPtr`) and completion callback
//! (`CompCb`), and the caller's scattered memory
//! (`UserMem`). The core is written against these; only `ffi`
//! makes them from C pointers.

pub(crate) mod evptr;
pub(crate) mod flags;
pub(crate) mod iomem;
pub mod types;
