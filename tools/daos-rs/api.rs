//! Safe wrappers over the library's C API (synchronous calls, `ev == NULL`),
//! and the tool's error type: what was being done plus an errno.

use std::ffi::{c_int, c_uint, c_ulong, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use daos_rs::ffi;
use daos_rs::abi::types::*;

/// The epoch value meaning "the newest" (`DAOS_EPOCH_HIGHEST` as a 64-bit seq).
pub const HIGHEST: u64 = u64::MAX;

/// A failed operation: `daos-rs: <what>: <strerror> (<ENAME>)[: <detail>]`.
#[derive(Debug)]
pub struct Fail {
    pub what: String,
    pub errno: i32,
    pub detail: Option<String>,
}

pub type Res<T> = Result<T, Fail>;

impl Fail {
    pub fn new(what: impl Into<String>, errno: i32) -> Fail {
        Fail { what: what.into(), errno, detail: None }
    }

    pub fn detail(mut self, d: impl Into<String>) -> Fail {
        self.detail = Some(d.into());
        self
    }

    /// From an error of the library's Rust API (format, probe, configuration).
    pub fn lib(what: impl Into<String>, e: daos_rs::error::Error) -> Fail {
        let detail = match &e {
            daos_rs::error::Error::Os { msg, .. } => msg.clone(),
            daos_rs::error::Error::Inval(m)
            | daos_rs::error::Error::BadF(m)
            | daos_rs::error::Error::NoEnt(m)
            | daos_rs::error::Error::Busy(m)
            | daos_rs::error::Error::Perm(m)
            | daos_rs::error::Error::Already(m)
            | daos_rs::error::Error::MFile(m)
            | daos_rs::error::Error::NoMem(m)
            | daos_rs::error::Error::DeadLk(m) => m.clone(),
        };
        // An OS error's message ends with what the errno already says.
        let errno = e.errno();
        let tail = format!(": {} (os error {errno})", strerror(errno));
        let detail = detail.strip_suffix(&tail).unwrap_or(&detail).to_string();
        Fail::new(what, errno).detail(detail)
    }

    pub fn io(what: impl Into<String>, e: &std::io::Error) -> Fail {
        Fail::new(what, e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.what, strerror(self.errno), errno_name(self.errno))?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

/// The C library's description of an errno, without Rust's "(os error N)".
pub fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The symbolic name of an errno (`ENOENT`), or `errno N`.
pub fn errno_name(errno: i32) -> String {
    const NAMES: &[(i32, &str)] = &[
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::EBADF, "EBADF"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::EXDEV, "EXDEV"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EISDIR, "EISDIR"),
        (libc::EINVAL, "EINVAL"),
        (libc::EMFILE, "EMFILE"),
        (libc::EFBIG, "EFBIG"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::EROFS, "EROFS"),
        (libc::EPIPE, "EPIPE"),
        (libc::ERANGE, "ERANGE"),
        (libc::ENAMETOOLONG, "ENAMETOOLONG"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::ENOTEMPTY, "ENOTEMPTY"),
        (libc::ELOOP, "ELOOP"),
        (libc::EOVERFLOW, "EOVERFLOW"),
        (libc::ENOBUFS, "ENOBUFS"),
        (libc::EALREADY, "EALREADY"),
        (libc::ESTALE, "ESTALE"),
        (libc::EDQUOT, "EDQUOT"),
        (libc::ECANCELED, "ECANCELED"),
    ];
    NAMES.iter().find(|(e, _)| *e == errno).map_or_else(|| format!("errno {errno}"), |(_, n)| (*n).to_string())
}

/// Maps a C return code: 0 is success, a negative errno a failure, which
/// carries the library's explanation (the line it logged for this call).
fn check(rc: c_int, what: impl FnOnce() -> String) -> Res<()> {
    if rc == 0 {
        crate::liblog::clear();
        Ok(())
    } else {
        let f = Fail::new(what(), if rc < 0 { -rc } else { libc::EIO });
        Err(match crate::liblog::take_explanation() {
            Some(e) => f.detail(e),
            None => f,
        })
    }
}

/// A path as a C string (a NUL byte inside it is EINVAL).
pub fn cpath(p: &Path, what: &str) -> Res<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Fail::new(what, libc::EINVAL).detail("the path holds a NUL byte"))
}

/// An epoch as the C API takes it.
pub fn ep(seq: u64) -> daos_epoch_t {
    daos_epoch_t { seq }
}

// ---------------------------------------------------------------------------
// System container
// ---------------------------------------------------------------------------

/// An open system container, closed on drop.
pub struct Sys {
    h: daos_handle_t,
    path: String,
}

impl Sys {
    pub fn open(path: &Path) -> Res<Sys> {
        let shown = path.display().to_string();
        let c = cpath(path, &format!("sys open {shown}"))?;
        let mut h = daos_handle_t::default();
        // SAFETY: valid C string and out-pointer; synchronous call.
        check(unsafe { ffi::daos_sys_open(c.as_ptr(), &mut h, ptr::null_mut()) }, || format!("sys open {shown}"))?;
        Ok(Sys { h, path: shown })
    }

    /// The footprints under `loc`, limited by `depth` (pre-order).
    pub fn query(&self, loc: daos_location, depth: u32) -> Res<Vec<daos_loc_key>> {
        let what = || format!("sys query {}", self.path);
        let mut l = loc;
        let mut n: c_uint = 0;
        // SAFETY: valid pointers; lks NULL asks for the count.
        check(unsafe { ffi::daos_sys_query(self.h, &mut l, depth, &mut n, ptr::null_mut(), ptr::null_mut()) }, what)?;
        loop {
            let mut v = vec![daos_loc_key::default(); n as usize];
            let mut m = n;
            // SAFETY: `v` holds `m` keys.
            check(unsafe { ffi::daos_sys_query(self.h, &mut l, depth, &mut m, v.as_mut_ptr(), ptr::null_mut()) }, what)?;
            if m <= n {
                v.truncate(m as usize);
                return Ok(v);
            }
            n = m;
        }
    }

    pub fn query_target(&self, id: u32) -> Res<daos_target_info> {
        let mut info = daos_target_info::default();
        // SAFETY: valid out-pointer; synchronous call.
        check(unsafe { ffi::daos_sys_query_target(self.h, id, &mut info, ptr::null_mut()) }, || {
            format!("target info {} {id}", self.path)
        })?;
        Ok(info)
    }

    pub fn set_status(&self, id: u32, status: i32, what: &str) -> Res<()> {
        // SAFETY: plain values.
        check(unsafe { ffi::daos_sys_target_set_status(self.h, id, status) }, || format!("target {what} {} {id}", self.path))
    }
}

impl Drop for Sys {
    fn drop(&mut self) {
        // SAFETY: our handle; synchronous call.
        unsafe { ffi::daos_sys_close(self.h, ptr::null_mut()) };
    }
}

// ---------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------

/// An open container, closed on drop (an uncommitted writer's data is then
/// discarded, as the API says).
pub struct Container {
    h: daos_handle_t,
    pub path: String,
    pub status: daos_container_status_t,
}

impl Container {
    pub fn open(path: &Path, mode: u32) -> Res<Container> {
        let shown = path.display().to_string();
        let what = || format!("container open {shown}");
        let c = cpath(path, &what())?;
        let mut h = daos_handle_t::default();
        let mut status: daos_container_status_t = 0;
        // SAFETY: valid C string and out-pointers; synchronous call.
        check(unsafe { ffi::daos_container_open(c.as_ptr(), mode, 1, &mut status, &mut h, ptr::null_mut()) }, what)?;
        Ok(Container { h, path: shown, status })
    }

    pub fn ro(path: &Path) -> Res<Container> {
        Container::open(path, DAOS_COO_RO)
    }

    pub fn rw(path: &Path) -> Res<Container> {
        Container::open(path, DAOS_COO_RW)
    }

    /// Closes, reporting an error (drop ignores it).
    pub fn close(self) -> Res<()> {
        let h = self.h;
        let what = format!("container close {}", self.path);
        std::mem::forget(self);
        // SAFETY: our handle, closed once.
        check(unsafe { ffi::daos_container_close(h, ptr::null_mut()) }, || what)
    }

    /// `daos_container_query` at `epoch` (HIGHEST: the epoch returned is HSE).
    pub fn query(&self, epoch: u64) -> Res<(u64, daos_container_info)> {
        let mut e = ep(epoch);
        let mut info = daos_container_info::default();
        // SAFETY: valid in/out pointers.
        check(unsafe { ffi::daos_container_query(self.h, &mut e, &mut info, ptr::null_mut()) }, || {
            format!("container query {}", self.path)
        })?;
        Ok((e.seq, info))
    }

    /// Whether the container keeps data checksums (`daos_rs_container_props`).
    pub fn checksums(&self) -> Res<bool> {
        let mut props: std::ffi::c_uint = 0;
        // SAFETY: valid out-pointer; synchronous call.
        check(unsafe { ffi::daos_rs_container_props(self.h, &mut props) }, || {
            format!("container query {}", self.path)
        })?;
        Ok(props & DAOS_RS_COO_NOCSUM == 0)
    }

    pub fn epoch_query(&self) -> Res<daos_epoch_info> {
        let mut info = daos_epoch_info::default();
        // SAFETY: valid out-pointer.
        check(unsafe { ffi::daos_epoch_query(self.h, &mut info, ptr::null_mut()) }, || format!("epoch query {}", self.path))?;
        Ok(info)
    }

    pub fn hce(&self) -> Res<u64> {
        Ok(self.epoch_query()?.epi_hce.seq)
    }

    /// Every shard id of the kind `opc`, paging through the anchor.
    pub fn list_shards(&self, opc: daos_shard_list_t) -> Res<Vec<u32>> {
        let mut out = Vec::new();
        let mut anchor: daos_off_t = 0;
        let mut buf = vec![0 as c_uint; 256];
        while anchor != DAOS_LIST_END {
            // SAFETY: `buf` holds `len` slots; valid anchor pointer.
            check(
                unsafe {
                    ffi::daos_container_list_shard(
                        self.h,
                        ep(HIGHEST),
                        opc,
                        &mut anchor,
                        buf.len() as c_uint,
                        buf.as_mut_ptr(),
                        ptr::null_mut(),
                    )
                },
                || format!("container list-shards {}", self.path),
            )?;
            out.extend(buf.iter().copied().filter(|&s| s != c_uint::MAX));
        }
        Ok(out)
    }

    pub fn snapshot(&self, epoch: u64, to: &Path) -> Res<()> {
        let what = || format!("container snapshot {} {}", self.path, to.display());
        let c = cpath(to, &what())?;
        // SAFETY: valid C string.
        check(unsafe { ffi::daos_container_snapshot(self.h, ep(epoch), c.as_ptr(), ptr::null_mut()) }, what)
    }

    /// Adds shards: `ids[i]` is the id wanted on `targets[i]` (-1: lowest free);
    /// returns the ids made (-1 where one failed) and the call's result.
    pub fn shard_add(&self, epoch: u64, targets: &[u32], ids: &[i32]) -> (Vec<i32>, Res<()>) {
        let mut t: Vec<c_uint> = targets.to_vec();
        let mut s: Vec<c_int> = ids.to_vec();
        // SAFETY: both arrays hold `targets.len()` entries.
        let rc = unsafe { ffi::daos_shard_add(self.h, ep(epoch), t.len() as c_uint, t.as_mut_ptr(), s.as_mut_ptr(), ptr::null_mut()) };
        (s, check(rc, || format!("shard add {}", self.path)))
    }

    pub fn shard_disable(&self, epoch: u64, ids: &[i32]) -> (Vec<i32>, Res<()>) {
        let mut s: Vec<c_int> = ids.to_vec();
        // SAFETY: the array holds `ids.len()` entries.
        let rc = unsafe { ffi::daos_shard_disable(self.h, ep(epoch), s.len() as c_uint, s.as_mut_ptr(), ptr::null_mut()) };
        (s, check(rc, || format!("shard disable {}", self.path)))
    }

    /// `daos_shard_query`: the epoch actually queried, and the information.
    pub fn shard_query(&self, epoch: u64, shard: u32) -> Res<(u64, daos_shard_info)> {
        let mut e = ep(epoch);
        let mut info = daos_shard_info::default();
        // SAFETY: valid in/out pointers.
        check(unsafe { ffi::daos_shard_query(self.h, &mut e, shard, &mut info, ptr::null_mut()) }, || {
            format!("shard query {} {shard}", self.path)
        })?;
        Ok((e.seq, info))
    }

    /// Every non-empty object of a shard at `epoch`, paging through the anchor.
    pub fn list_obj(&self, epoch: u64, shard: u32) -> Res<Vec<u64>> {
        let mut out = Vec::new();
        let mut anchor: daos_off_t = 0;
        let mut buf = vec![daos_obj_id_t::default(); 1024];
        while anchor != DAOS_LIST_END {
            // SAFETY: `buf` holds `len` ids; valid anchor pointer.
            check(
                unsafe {
                    ffi::daos_shard_list_obj(
                        self.h,
                        ep(epoch),
                        shard,
                        &mut anchor,
                        buf.len() as daos_size_t,
                        buf.as_mut_ptr(),
                        ptr::null_mut(),
                    )
                },
                || format!("shard list-obj {} {shard}", self.path),
            )?;
            out.extend(buf.iter().filter(|o| !(o.o_id_hi == u64::MAX && o.o_id_lo == u64::MAX)).map(|o| o.o_id_lo));
        }
        Ok(out)
    }

    pub fn commit(&self, epoch: u64, sync: bool) -> Res<()> {
        let mut failed: c_uint = c_uint::MAX;
        // SAFETY: valid out-pointer.
        let rc = unsafe { ffi::daos_epoch_commit(self.h, ep(epoch), sync, &mut failed, ptr::null_mut()) };
        check(rc, || format!("epoch commit {} {epoch}", self.path)).map_err(|f| {
            if failed == c_uint::MAX {
                return f;
            }
            let d = match &f.detail {
                Some(e) => format!("shard {failed} failed: {e}"),
                None => format!("shard {failed} failed"),
            };
            f.detail(d)
        })
    }

    /// `daos_epoch_hold`: holds the lowest epoch >= `req` that no other
    /// handle holds and no commit passes until this handle commits it or
    /// closes; returns it.
    pub fn hold(&self, req: u64) -> Res<u64> {
        let mut e = ep(req);
        // SAFETY: valid in/out pointer.
        check(unsafe { ffi::daos_epoch_hold(self.h, &mut e, ptr::null_mut()) }, || format!("epoch hold {}", self.path))?;
        Ok(e.seq)
    }

    pub fn abort(&self, epoch: u64) -> Res<()> {
        let mut failed: c_uint = c_uint::MAX;
        // SAFETY: valid out-pointer.
        let rc = unsafe { ffi::daos_epoch_abort(self.h, ep(epoch), &mut failed, ptr::null_mut()) };
        check(rc, || format!("epoch abort {} {epoch}", self.path))
    }

    pub fn punch(&self, epoch: u64, shard: u32, obj: u64, begin: u64, end: u64) -> Res<()> {
        let oid = daos_obj_id_t { o_id_hi: shard as u64, o_id_lo: obj };
        // SAFETY: plain values.
        check(unsafe { ffi::daos_object_punch(self.h, ep(epoch), oid, begin, end, ptr::null_mut()) }, || {
            format!("object punch {}: object {obj} of shard {shard}", self.path)
        })
    }

    pub fn object(&self, shard: u32, obj: u64, mode: u32) -> Res<Object> {
        let oid = daos_obj_id_t { o_id_hi: shard as u64, o_id_lo: obj };
        let mut oh = daos_handle_t::default();
        let what = format!("object open {}: object {obj} of shard {shard}", self.path);
        // SAFETY: valid out-pointer.
        check(unsafe { ffi::daos_object_open(self.h, oid, mode, &mut oh, ptr::null_mut()) }, || what.clone())?;
        Ok(Object { h: oh, name: format!("{}: object {obj} of shard {shard}", self.path) })
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // SAFETY: our handle; synchronous call.
        unsafe { ffi::daos_container_close(self.h, ptr::null_mut()) };
    }
}

/// Creates an empty container (no shards); `checksums == false`: with
/// `DAOS_RS_COO_NOCSUM`.
pub fn container_create(path: &Path, checksums: bool) -> Res<()> {
    let what = || format!("container create {}", path.display());
    if path.symlink_metadata().is_ok() {
        return Err(Fail::new(what(), libc::EEXIST));
    }
    let props = if checksums { 0 } else { DAOS_RS_COO_NOCSUM };
    Container::open(path, DAOS_COO_RW | DAOS_COO_CREATE | props).map_err(|f| Fail { what: what(), ..f })?.close()
}

pub fn container_unlink(path: &Path) -> Res<()> {
    let what = || format!("container unlink {}", path.display());
    let c = cpath(path, &what())?;
    // SAFETY: valid C string.
    check(unsafe { ffi::daos_container_unlink(c.as_ptr(), ptr::null_mut()) }, what)
}

// ---------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------

/// `daos_mmd` with one fragment (the C struct has a flexible array).
#[repr(C)]
struct Mmd1 {
    nfrag: c_ulong,
    frag: [daos_mm_frag; 1],
}

/// `daos_iod` with one extent.
#[repr(C)]
struct Iod1 {
    nfrag: c_ulong,
    frag: [daos_io_frag; 1],
}

/// An open object, closed on drop.
pub struct Object {
    h: daos_handle_t,
    name: String,
}

impl Object {
    fn io(&self, write: bool, epoch: u64, offset: u64, buf: *mut u8, len: usize) -> Res<()> {
        let mut mmd = Mmd1 { nfrag: 1, frag: [daos_mm_frag { mf_addr: buf.cast(), mf_nob: len as u64 }] };
        let mut iod = Iod1 { nfrag: 1, frag: [daos_io_frag { if_offset: offset, if_nob: len as u64 }] };
        let m = (&mut mmd as *mut Mmd1).cast::<daos_mmd>();
        let i = (&mut iod as *mut Iod1).cast::<daos_iod>();
        // SAFETY: the descriptors have the C layout with one fragment; the
        // buffer holds `len` bytes and outlives the synchronous call.
        let rc = unsafe {
            if write {
                ffi::daos_object_write(self.h, ep(epoch), m, i, ptr::null_mut())
            } else {
                ffi::daos_object_read(self.h, ep(epoch), m, i, ptr::null_mut())
            }
        };
        check(rc, || format!("object {} {} at offset {offset}", if write { "write" } else { "read" }, self.name))
    }

    pub fn write(&self, epoch: u64, offset: u64, data: &[u8]) -> Res<()> {
        // The library only reads from the buffer of a write.
        self.io(true, epoch, offset, data.as_ptr().cast_mut(), data.len())
    }

    pub fn read(&self, epoch: u64, offset: u64, data: &mut [u8]) -> Res<()> {
        self.io(false, epoch, offset, data.as_mut_ptr(), data.len())
    }

    /// `daos_object_size`: where the object's data ends at `epoch`.
    pub fn size(&self, epoch: u64) -> Res<u64> {
        let mut n: daos_size_t = 0;
        // SAFETY: valid out-pointer; synchronous call.
        check(unsafe { ffi::daos_object_size(self.h, ep(epoch), &mut n) }, || format!("object size {}", self.name))?;
        Ok(n)
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        // SAFETY: our handle; synchronous call.
        unsafe { ffi::daos_object_close(self.h, ptr::null_mut()) };
    }
}
