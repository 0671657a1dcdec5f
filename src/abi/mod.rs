//! The C ABI's data, below the core: the `#[repr(C)]` types of the header
//! ([`types`]), the caller's event ([`evptr::EvPtr`]) and completion callback
//! ([`evptr::CompCb`]), and the caller's scattered memory
//! ([`iomem::UserMem`]). The core is written against these; only `ffi`
//! makes them from C pointers.

pub(crate) mod evptr;
pub(crate) mod flags;
pub(crate) mod iomem;
pub mod types;
