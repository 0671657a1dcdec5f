//! The daos-rs calls the storage benchmarks make, through the C ABI with the
//! `#[repr(C)]` types, as a C program would.

use std::ffi::{c_int, c_uint, c_ulong};
use std::path::Path;
use std::ptr;

use daos_rs::ffi;
use daos_rs::abi::types::{
    daos_container_status_t, daos_epoch_t, daos_event, daos_handle_t, daos_io_frag, daos_iod,
    daos_mm_frag, daos_mmd, daos_obj_id_t, DAOS_COO_CREATE, DAOS_COO_RO, DAOS_COO_RW, DAOS_OBJ_RO,
    DAOS_OBJ_RW, DAOS_RS_COO_NOCSUM, DAOS_SYS_FORMAT_NO_PROBE,
};

use crate::sys::cstring;
use crate::{check, Result};

/// `DAOS_EPOCH_HIGHEST` as an epoch.
pub const HIGHEST: u64 = u64::MAX;

/// Makes a store of `ntargets` targets at `dir` (which must exist), without the probe.
pub fn format_store(dir: &Path, ntargets: u32) -> Result<()> {
    let c = cstring(dir)?;
    // SAFETY: `c` is a valid C string; no target directories are given.
    check("daos_sys_format", unsafe {
        ffi::daos_sys_format(c.as_ptr(), ntargets, ptr::null(), DAOS_SYS_FORMAT_NO_PROBE)
    })
    .map(drop)
}

/// A memory descriptor with one fragment, laid out as `struct daos_mmd` with
/// `mmd_nfrag == 1`.
#[repr(C)]
struct Mmd1 {
    nfrag: c_ulong,
    frag: [daos_mm_frag; 1],
}

/// An I/O descriptor with one extent, laid out as `struct daos_iod`.
#[repr(C)]
struct Iod1 {
    nfrag: c_ulong,
    frag: [daos_io_frag; 1],
}

/// A descriptor of many fragments (`daos_mmd` or `daos_iod`: a count followed by
/// 16-byte fragments) in an 8-byte aligned buffer.
pub struct FragList(Vec<u64>);

impl FragList {
    /// `frags` as (address or offset, length).
    pub fn new(frags: impl Iterator<Item = (u64, u64)>) -> FragList {
        let mut v = vec![0];
        for (a, n) in frags {
            v.push(a);
            v.push(n);
        }
        v[0] = (v.len() as u64 - 1) / 2;
        FragList(v)
    }

    pub fn mmd(&mut self) -> *mut daos_mmd {
        self.0.as_mut_ptr().cast()
    }

    pub fn iod(&mut self) -> *mut daos_iod {
        self.0.as_mut_ptr().cast()
    }
}

/// An open container; closed on drop.
pub struct Container {
    pub coh: daos_handle_t,
}

impl Container {
    /// Opens (`create`: creates) the container at `path` read-write, or read-only.
    pub fn open(path: &Path, rw: bool, create: bool) -> Result<Container> {
        let mut mode = if rw { DAOS_COO_RW } else { DAOS_COO_RO };
        if create {
            mode |= DAOS_COO_CREATE;
        }
        Container::open_mode(path, mode)
    }

    /// Creates the container at `path` (read-write) without data checksums
    /// (`DAOS_RS_COO_NOCSUM`) if `!checksums`.
    pub fn create(path: &Path, checksums: bool) -> Result<Container> {
        let extra = if checksums { 0 } else { DAOS_RS_COO_NOCSUM };
        Container::open_mode(path, DAOS_COO_RW | DAOS_COO_CREATE | extra)
    }

    fn open_mode(path: &Path, mode: u32) -> Result<Container> {
        let c = cstring(path)?;
        let mut status: daos_container_status_t = 0;
        let mut coh = daos_handle_t::default();
        // SAFETY: valid C string and out-pointers; synchronous call.
        check("daos_container_open", unsafe {
            ffi::daos_container_open(c.as_ptr(), mode, 1, &mut status, &mut coh, ptr::null_mut())
        })?;
        if status != 0 {
            eprintln!(
                "warning: container {} opened with status {status}",
                path.display()
            );
        }
        Ok(Container { coh })
    }

    /// Adds one shard on each of `targets` at `epoch`; returns their ids.
    pub fn add_shards(&self, epoch: u64, targets: &[u32]) -> Result<Vec<u32>> {
        let mut t: Vec<c_uint> = targets.to_vec();
        let mut s: Vec<c_int> = vec![-1; targets.len()];
        // SAFETY: both arrays hold `targets.len()` entries; synchronous call.
        check("daos_shard_add", unsafe {
            ffi::daos_shard_add(
                self.coh,
                daos_epoch_t { seq: epoch },
                t.len() as c_uint,
                t.as_mut_ptr(),
                s.as_mut_ptr(),
                ptr::null_mut(),
            )
        })?;
        Ok(s.into_iter().map(|id| id as u32).collect())
    }

    /// Opens object `lo` of `shard` read-write.
    pub fn object(&self, shard: u32, lo: u64) -> Result<Object> {
        self.object_mode(shard, lo, DAOS_OBJ_RW)
    }

    /// Opens object `lo` of `shard` read-only.
    pub fn object_ro(&self, shard: u32, lo: u64) -> Result<Object> {
        self.object_mode(shard, lo, DAOS_OBJ_RO)
    }

    fn object_mode(&self, shard: u32, lo: u64, mode: u32) -> Result<Object> {
        let oid = daos_obj_id_t {
            o_id_hi: shard.into(),
            o_id_lo: lo,
        };
        let mut oh = daos_handle_t::default();
        // SAFETY: valid out-pointer; synchronous call.
        check("daos_object_open", unsafe {
            ffi::daos_object_open(self.coh, oid, mode, &mut oh, ptr::null_mut())
        })?;
        Ok(Object { oh })
    }

    /// `daos_epoch_commit`, synchronous.
    pub fn commit(&self, epoch: u64) -> Result<()> {
        let mut failed: c_uint = 0;
        // SAFETY: valid out-pointer; synchronous call.
        check("daos_epoch_commit", unsafe {
            ffi::daos_epoch_commit(
                self.coh,
                daos_epoch_t { seq: epoch },
                false,
                &mut failed,
                ptr::null_mut(),
            )
        })
        .map(drop)
    }

    pub fn close(self) -> Result<()> {
        let coh = self.coh;
        std::mem::forget(self);
        // SAFETY: synchronous call on a handle we own.
        check("daos_container_close", unsafe {
            ffi::daos_container_close(coh, ptr::null_mut())
        })
        .map(drop)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // SAFETY: synchronous call on a handle we own.
        let rc = unsafe { ffi::daos_container_close(self.coh, ptr::null_mut()) };
        if let Err(e) = check("daos_container_close", rc) {
            eprintln!("warning: {e}");
        }
    }
}

pub fn unlink(path: &Path) -> Result<()> {
    let c = cstring(path)?;
    // SAFETY: valid C string; synchronous call.
    check("daos_container_unlink", unsafe {
        ffi::daos_container_unlink(c.as_ptr(), ptr::null_mut())
    })
    .map(drop)
}

/// An open object. Closed by its container's close.
#[derive(Clone, Copy)]
pub struct Object {
    pub oh: daos_handle_t,
}

impl Object {
    /// Starts (with `ev`) or does (`ev` NULL) a read of `len` bytes at `off`
    /// into `buf`, at `epoch`. Returns the call's return code.
    ///
    /// # Safety
    /// `buf` must be valid for `len` bytes until the operation completes; `ev`
    /// NULL or an initialised idle event.
    pub unsafe fn read(
        &self,
        epoch: u64,
        buf: *mut u8,
        len: u64,
        off: u64,
        ev: *mut daos_event,
    ) -> c_int {
        let mut mmd = Mmd1 {
            nfrag: 1,
            frag: [daos_mm_frag {
                mf_addr: buf.cast(),
                mf_nob: len,
            }],
        };
        let mut iod = Iod1 {
            nfrag: 1,
            frag: [daos_io_frag {
                if_offset: off,
                if_nob: len,
            }],
        };
        // SAFETY: the descriptors are valid for the call (they are copied); the
        // caller keeps the data buffer and the event valid.
        unsafe {
            ffi::daos_object_read(
                self.oh,
                daos_epoch_t { seq: epoch },
                ptr::addr_of_mut!(mmd).cast(),
                ptr::addr_of_mut!(iod).cast(),
                ev,
            )
        }
    }

    /// As [`Object::read`], a write from `buf`.
    ///
    /// # Safety
    /// As [`Object::read`].
    pub unsafe fn write(
        &self,
        epoch: u64,
        buf: *const u8,
        len: u64,
        off: u64,
        ev: *mut daos_event,
    ) -> c_int {
        let mut mmd = Mmd1 {
            nfrag: 1,
            frag: [daos_mm_frag {
                mf_addr: buf as *mut _,
                mf_nob: len,
            }],
        };
        let mut iod = Iod1 {
            nfrag: 1,
            frag: [daos_io_frag {
                if_offset: off,
                if_nob: len,
            }],
        };
        // SAFETY: as in `read`.
        unsafe {
            ffi::daos_object_write(
                self.oh,
                daos_epoch_t { seq: epoch },
                ptr::addr_of_mut!(mmd).cast(),
                ptr::addr_of_mut!(iod).cast(),
                ev,
            )
        }
    }

    /// A synchronous write of all of `buf` at `off`.
    pub fn write_sync(&self, epoch: u64, buf: &[u8], off: u64) -> Result<()> {
        // SAFETY: `buf` outlives the synchronous call.
        let rc = unsafe { self.write(epoch, buf.as_ptr(), buf.len() as u64, off, ptr::null_mut()) };
        check("daos_object_write", rc).map(drop)
    }

    /// A synchronous read filling `buf` from `off`.
    pub fn read_sync(&self, epoch: u64, buf: &mut [u8], off: u64) -> Result<()> {
        // SAFETY: `buf` outlives the synchronous call.
        let rc = unsafe {
            self.read(
                epoch,
                buf.as_mut_ptr(),
                buf.len() as u64,
                off,
                ptr::null_mut(),
            )
        };
        check("daos_object_read", rc).map(drop)
    }
}
