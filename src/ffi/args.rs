//! Argument helpers for the storage exports: out-parameters written at
//! completion, paths, optional events and I/O descriptors.
//!
//! These take the raw pointers an `unsafe extern "C"` export received and are
//! called only from such exports, whose documented contract (valid,
//! initialised memory for every non-NULL pointer) is the C caller's promise;
//! each helper checks NULL and alignment before reading. Hence the lint
//! allowance below instead of marking every helper `unsafe`.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_char, CStr};
use std::path::PathBuf;

use super::boundary::required;
use super::event::ev_arg;
use crate::abi::evptr::EvPtr;
use crate::abi::iomem::UserMem;
use crate::abi::types::{daos_event, daos_iod, daos_io_frag, daos_mm_frag, daos_mmd};
use crate::error::{Error, Result};

/// Most fragments one descriptor may have.
const MAX_FRAGS: u64 = 1 << 24;

/// An out-parameter, checked at the call and written at completion.
pub struct Out<T>(*mut T);

// SAFETY: the caller keeps output memory valid until the operation completes
// (SPEC §1 "Buffers"); it is written once, by whichever thread completes it.
unsafe impl<T> Send for Out<T> {}

impl<T> Out<T> {
    /// A required out-parameter.
    pub(crate) fn new(p: *mut T, what: &str) -> Result<Out<T>> {
        required(p, what)?;
        Ok(Out(p))
    }

    /// An optional out-parameter (NULL: not wanted).
    pub(crate) fn opt(p: *mut T, what: &str) -> Result<Option<Out<T>>> {
        if p.is_null() {
            Ok(None)
        } else {
            Out::new(p, what).map(Some)
        }
    }

    pub(crate) fn put(&self, v: T) {
        // SAFETY: checked non-null and aligned; valid per the caller's promise.
        unsafe { self.0.write(v) }
    }
}

/// An output array of `n` elements, written at completion.
pub struct OutSlice<T>(*mut T, usize);

// SAFETY: as for `Out`.
unsafe impl<T> Send for OutSlice<T> {}

impl<T: Copy> OutSlice<T> {
    pub(crate) fn new(p: *mut T, n: usize, what: &str) -> Result<OutSlice<T>> {
        if n > 0 {
            required(p, what)?;
        }
        n.checked_mul(std::mem::size_of::<T>()).ok_or_else(|| Error::Inval(format!("{what}: size overflows")))?;
        Ok(OutSlice(p, n))
    }

    pub(crate) fn len(&self) -> usize {
        self.1
    }

    /// Reads the current contents (for in/out arrays).
    pub(crate) fn read(&self) -> Vec<T> {
        if self.1 == 0 {
            return Vec::new();
        }
        // SAFETY: checked non-null and aligned for `n` elements at construction.
        unsafe { std::slice::from_raw_parts(self.0, self.1) }.to_vec()
    }

    pub(crate) fn write(&self, v: &[T]) {
        let n = v.len().min(self.1);
        if n > 0 {
            // SAFETY: as in `read`; `n` is within the array.
            unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), self.0, n) };
        }
    }
}

/// Copies `src` to caller memory at `dst` (checked non-null by the caller of
/// this function, sized by the caller's promise).
pub(crate) fn write_bytes(dst: *mut u8, src: &[u8]) {
    if !dst.is_null() && !src.is_empty() {
        // SAFETY: the caller promised `dst` holds at least `src.len()` bytes
        // (checked against the size it passed) and does not overlap `src`.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
    }
}

/// Reads a required input value.
pub(crate) fn input<T: Copy>(p: *const T, what: &str) -> Result<T> {
    required(p, what)?;
    // SAFETY: checked non-null and aligned; the caller promises it is valid.
    Ok(unsafe { p.read() })
}

/// Reads an input array of `n` elements.
pub(crate) fn input_slice<T: Copy>(p: *const T, n: usize, what: &str) -> Result<Vec<T>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    required(p, what)?;
    n.checked_mul(std::mem::size_of::<T>()).ok_or_else(|| Error::Inval(format!("{what}: size overflows")))?;
    // SAFETY: checked non-null and aligned; the caller promises `n` elements.
    Ok(unsafe { std::slice::from_raw_parts(p, n) }.to_vec())
}

/// A path argument.
pub(crate) fn path_arg(p: *const c_char, what: &str) -> Result<PathBuf> {
    if p.is_null() {
        return Err(Error::Inval(format!("{what} is NULL")));
    }
    // SAFETY: non-null; the caller promises a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    if s.to_bytes().is_empty() {
        return Err(Error::Inval(format!("{what} is empty")));
    }
    use std::os::unix::ffi::OsStrExt;
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(s.to_bytes())))
}

/// An optional event: NULL for a synchronous call.
pub(crate) fn opt_ev(ev: *mut daos_event) -> Result<Option<EvPtr>> {
    if ev.is_null() {
        Ok(None)
    } else {
        ev_arg(ev, "ev").map(Some)
    }
}

/// The memory fragments of a `daos_mmd`.
pub(crate) fn mmd_arg(mmd: *const daos_mmd) -> Result<UserMem> {
    required(mmd, "mmd")?;
    // SAFETY: checked non-null and aligned.
    let n = unsafe { (*mmd).mmd_nfrag };
    if n > MAX_FRAGS {
        return Err(Error::Inval(format!("mmd_nfrag {n} is above {MAX_FRAGS}")));
    }
    // SAFETY: the fragments follow the count in the caller's allocation (flexible array).
    let frags: &[daos_mm_frag] = unsafe { std::slice::from_raw_parts(std::ptr::addr_of!((*mmd).mmd_frag).cast(), n as usize) };
    let mut total = 0u64;
    for (i, f) in frags.iter().enumerate() {
        if f.mf_nob > 0 && f.mf_addr.is_null() {
            return Err(Error::Inval(format!("mmd fragment {i} has {} bytes at NULL", f.mf_nob)));
        }
        total = total.checked_add(f.mf_nob).filter(|&t| t <= 1 << 63).ok_or_else(|| Error::Inval("mmd fragment sizes overflow".into()))?;
        if (f.mf_addr as u64).checked_add(f.mf_nob).is_none() {
            return Err(Error::Inval(format!("mmd fragment {i} wraps the address space")));
        }
    }
    let spans = frags.iter().filter(|f| f.mf_nob > 0).map(|f| (f.mf_addr.cast::<u8>(), f.mf_nob));
    // SAFETY: checked above; the caller keeps the fragments valid until the
    // operation completes.
    Ok(unsafe { UserMem::from_raw(spans) })
}

/// The extents of a `daos_iod`, borrowed for the duration of the call (the
/// core reads them before returning).
pub(crate) fn iod_arg<'a>(iod: *const daos_iod) -> Result<&'a [daos_io_frag]> {
    required(iod, "iod")?;
    // SAFETY: checked non-null and aligned.
    let n = unsafe { (*iod).iod_nfrag };
    if n > MAX_FRAGS {
        return Err(Error::Inval(format!("iod_nfrag {n} is above {MAX_FRAGS}")));
    }
    // SAFETY: the fragments follow the count in the caller's allocation.
    let frags: &[daos_io_frag] = unsafe { std::slice::from_raw_parts(std::ptr::addr_of!((*iod).iod_frag).cast(), n as usize) };
    Ok(frags)
}

/// Keys that order asynchronous metadata calls (see `event::MetaKey`): one
/// per container (its absolute path), one per store. Computed only for a
/// call given an event.
pub mod key {
    use std::path::Path;

    use crate::event::MetaKey;

    /// The container (or store) at `path`.
    pub(crate) fn path(path: &Path) -> MetaKey {
        match crate::container::abs_path(path) {
            Ok(p) => MetaKey::path(&p),
            Err(_) => MetaKey::path(path),
        }
    }

    /// The container of a container handle.
    pub(crate) fn co(coh: u64) -> MetaKey {
        match crate::container::handle_any(coh) {
            Ok(h) => MetaKey::path(&h.cs.path),
            Err(_) => MetaKey::unordered(),
        }
    }

    /// The container of an object handle.
    pub(crate) fn obj(oh: u64) -> MetaKey {
        match crate::object::handle_any(oh) {
            Ok(h) => MetaKey::path(&h.co.cs.path),
            Err(_) => MetaKey::unordered(),
        }
    }

    /// The store of a system container handle.
    pub(crate) fn sys(sysh: u64) -> MetaKey {
        match crate::store::sys::handle(sysh) {
            Ok(h) => MetaKey::path(&h.root),
            Err(_) => MetaKey::unordered(),
        }
    }
}
