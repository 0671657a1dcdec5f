//! Collective open: sharing a master's container handle with peer processes.

use std::ffi::{c_int, c_uint, c_void};

use super::args::{opt_ev, Out};
use crate::event::MetaKey;
use super::boundary::rc;
use crate::abi::types::*;
use crate::container::collective;
use crate::error::Error;
use crate::event::run_work;

/// Packs a collectively opened container handle (`daos_container_open` with
/// `nprocess > 1`) into a buffer that peer processes turn into handles of
/// their own with `daos_global2local`, without reading the container's
/// metadata. Only the master (the process that made the collective open)
/// may call it. The buffer is versioned (magic, version, CRC-32C) and holds
/// the container's path and identity, the open mode, the layout and epochs
/// as this handle knows them (HCE, published journal lengths), and a secret
/// token that authorises the peers; the master's close revokes the token.
/// Call it again after a layout change to hand peers the new layout. The
/// buffer may be copied anywhere (a pipe, a file, MPI_Bcast); it is only
/// usable while the master's handle is open.
///
/// \param handle [IN] the master's container handle.
/// \param global [OUT] buffer of `*size` bytes, or NULL to ask the size.
/// \param size   [IN/OUT] with `global == NULL`: set to the size needed;
///               otherwise the buffer's size on entry and the bytes written
///               on return. Set to the size needed on -ENOBUFS too.
///
/// \return 0; -EINVAL NULL `size`, or the handle is not from a collective
///         open; -ENOBUFS `*size` is too small (`*size` is set to the size
///         needed); -EPERM the handle is a peer's, not the master's;
///         -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_local2global(handle: daos_handle_t, global: *mut c_void, size: *mut c_uint) -> c_int {
    rc("daos_local2global", || {
        let sz = super::args::input(size as *const c_uint, "size")?;
        let buf = collective::local2global(handle.cookie)?;
        let need = c_uint::try_from(buf.len()).map_err(|_| Error::Inval("global handle too large".into()))?;
        let out = Out::new(size, "size")?;
        if global.is_null() {
            out.put(need);
            return Ok(0);
        }
        if sz < need {
            out.put(need);
            return Err(Error::Os { errno: libc::ENOBUFS, msg: format!("global handle needs {need} bytes, buffer has {sz}") });
        }
        super::args::write_bytes(global.cast(), &buf);
        out.put(need);
        Ok(0)
    })
}

/// Makes a peer's container handle from a buffer filled by the master's
/// `daos_local2global` (possibly in another process or on another node
/// sharing the store). No container metadata is read: the layout and epochs
/// come from the buffer. If `*handle` is already an open handle of this
/// process on the same container (from an earlier `daos_global2local`), it
/// is refreshed from the buffer (new shards, newer HCE) instead.
///
/// A peer may read, write, punch, flush, slip, query and change the layout;
/// `daos_epoch_commit`, `daos_epoch_abort` and `daos_epoch_wait` give
/// -EPERM: the master commits what its peers flushed. When the master closes
/// (or dies), the peers' handles are revoked: every later call on them and
/// on their objects gives -EPERM, except `daos_container_close`, which
/// releases the handle.
///
/// \param global [IN] the buffer; only read during the call.
/// \param size   [IN] its size in bytes.
/// \param handle [IN/OUT] the new handle; or an open handle to refresh.
/// \param ev     [IN] completion event, or NULL.
///
/// \return 0; -EINVAL NULL argument, or a damaged, truncated or forged
///         buffer (bad magic, version, checksum or authentication); -EPERM
///         the master closed (revoked the token) or died; -ENOENT the
///         container or its store is gone; -EXDEV a target directory of
///         the store belongs to another store (see `daos_sys_open`).
#[no_mangle]
pub unsafe extern "C" fn daos_global2local(
    global: *mut c_void,
    size: c_uint,
    handle: *mut daos_handle_t,
    ev: *mut daos_event,
) -> c_int {
    rc("daos_global2local", || {
        let buf = super::args::input_slice(global as *const u8, size as usize, "global")?;
        if global.is_null() {
            return Err(Error::Inval("global is NULL".into()));
        }
        let cur = super::args::input(handle as *const daos_handle_t, "handle")?;
        let out = Out::new(handle, "handle")?;
        run_work(opt_ev(ev)?, DAOS_EV_G2L, MetaKey::unordered, move || collective::global2local(&buf, cur.cookie), move |c| {
            out.put(daos_handle_t { cookie: c })
        })?;
        Ok(0)
    })
}
