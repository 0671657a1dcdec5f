//! Objects: open, close, read, write, punch.

use std::ffi::{c_int, c_uint};

use super::args::{key, iod_arg, mmd_arg, opt_ev, Out};
use super::boundary::rc;
use crate::abi::types::*;
use crate::event::{self, run_work};
use crate::object;

/// Opens an object. Objects always exist (create on write) and are
/// unbounded; `o_id_hi` is the shard, `o_id_lo` the object in it.
///
/// \param coh   [IN] container handle.
/// \param oid   [IN] object id.
/// \param mode  [IN] exactly one of DAOS_OBJ_RO / DAOS_OBJ_RW, optionally
///              DAOS_OBJ_IO_BUFFERED (writes copy the data during the call, so
///              the buffer may be reused at once), DAOS_OBJ_IO_RAND,
///              DAOS_OBJ_IO_SEQ (hints).
/// \param oh    [OUT] object handle.
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -EINVAL bad mode or NULL `oh`; -EPERM RW on a read-only
///         container; -ENOENT unknown or disabled shard; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_object_open(
    coh: daos_handle_t,
    oid: daos_obj_id_t,
    mode: c_uint,
    oh: *mut daos_handle_t,
    event: *mut daos_event,
) -> c_int {
    rc("daos_object_open", || {
        let out = Out::new(oh, "oh")?;
        object::check_open(coh.cookie, mode)?;
        run_work(opt_ev(event)?, DAOS_EV_OBJ_OPEN, move || key::co(coh.cookie), move || object::open(coh.cookie, oid, mode), move |c| {
            out.put(daos_handle_t { cookie: c })
        })?;
        Ok(0)
    })
}

/// Closes an object handle.
///
/// \param oh    [IN] object handle.
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_object_close(oh: daos_handle_t, event: *mut daos_event) -> c_int {
    rc("daos_object_close", || {
        let ev = opt_ev(event)?;
        crate::object::handle_any(oh.cookie)?;
        run_work(ev, DAOS_EV_OBJ_CLOSE, move || key::obj(oh.cookie), move || object::close(oh.cookie), |_| {})?;
        Ok(0)
    })
}

/// Reads object extents at an epoch into memory (scatter-gather).
///
/// The bytes of `mmd` (fragments in order) map one to one onto the extents
/// of `iod` (in order); the totals must be equal. Each byte gets the newest
/// committed write or punch with epoch <= `epoch`, or this process's newer
/// not yet committed writes; bytes never written, or punched, read as zeros.
/// Data is verified against its checksums: on a mismatch the call fails with
/// -EIO and the buffer is zeroed, never left with wrong bytes. Damage in the
/// shard's journals is -EIO too, never bytes as if a committed write or
/// punch were not there: a damaged record whose extent is known fails the
/// reads that would use it; one that cannot be placed fails every read of
/// its shard (see the log at open).
///
/// \param oh    [IN] object handle.
/// \param epoch [IN] epoch to read at (DAOS_EPOCH_HIGHEST: the newest).
/// \param mmd   [IN] memory fragments; the memory must stay valid until
///              completion (the descriptor itself may be freed on return).
/// \param iod   [IN] object extents (copied during the call).
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -EINVAL NULL argument, totals differ, an extent beyond 2^63;
///         -ESTALE epoch older than the oldest readable one; -ENOENT the
///         shard is disabled; -EBADF bad handle; at completion -EIO
///         (checksum mismatch, short file, damaged journal) or -EINTR
///         (aborted).
#[no_mangle]
pub unsafe extern "C" fn daos_object_read(
    oh: daos_handle_t,
    epoch: daos_epoch_t,
    mmd: *mut daos_mmd,
    iod: *mut daos_iod,
    event: *mut daos_event,
) -> c_int {
    rc("daos_object_read", || {
        let mem = mmd_arg(mmd)?;
        let iod = iod_arg(iod)?;
        let ev = opt_ev(event)?;
        let op = object::read(oh.cookie, epoch.seq, mem, iod)?;
        event::run_op(ev, op)?;
        Ok(0)
    })
}

/// Writes memory into object extents at an epoch (scatter-gather), creating
/// the object on first write. The data reaches the target's files through
/// the I/O engine; it is durable after a flush or commit. Until committed it
/// is visible to reads of this process only.
///
/// Without `DAOS_OBJ_IO_BUFFERED` the data is written straight from the
/// caller's memory, which must stay valid until completion; with it the data
/// is copied during the call.
///
/// \param oh    [IN] object handle (RW).
/// \param epoch [IN] epoch to write (> HCE).
/// \param mmd   [IN] memory fragments.
/// \param iod   [IN] object extents.
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -EINVAL NULL argument, totals differ, extent beyond 2^63,
///         DAOS_EPOCH_HIGHEST; -EPERM read-only handle or epoch <= HCE;
///         -ENOENT shard disabled; -EBADF bad handle; at completion -ENOSPC
///         (target full), -EIO, -EINTR (aborted).
#[no_mangle]
pub unsafe extern "C" fn daos_object_write(
    oh: daos_handle_t,
    epoch: daos_epoch_t,
    mmd: *mut daos_mmd,
    iod: *mut daos_iod,
    event: *mut daos_event,
) -> c_int {
    rc("daos_object_write", || {
        let mem = mmd_arg(mmd)?;
        let iod = iod_arg(iod)?;
        let ev = opt_ev(event)?;
        let op = object::write(oh.cookie, epoch.seq, mem, iod)?;
        event::run_op(ev, op)?;
        Ok(0)
    })
}

/// Discards `[begin, end)` of an object at `epoch`; reads see zeros there.
/// Punching everything makes the object empty (it leaves
/// `daos_shard_list_obj`).
///
/// \param coh   [IN] container handle (RW).
/// \param epoch [IN] epoch (> HCE).
/// \param oid   [IN] object id.
/// \param begin [IN] first byte.
/// \param end   [IN] end (exclusive); (daos_off_t)-1 means to the end.
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -EINVAL begin > end; -EPERM read-only or epoch <= HCE;
///         -ENOENT unknown or disabled shard; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_object_punch(
    coh: daos_handle_t,
    epoch: daos_epoch_t,
    oid: daos_obj_id_t,
    begin: daos_off_t,
    end: daos_off_t,
    event: *mut daos_event,
) -> c_int {
    rc("daos_object_punch", || {
        let ev = opt_ev(event)?;
        match object::punch(coh.cookie, epoch.seq, oid, begin, end)? {
            Some(op) => event::run_op(ev, op)?,
            None => run_work(ev, DAOS_EV_OBJ_PUNCH, move || key::co(coh.cookie), move || Ok(()), |_: ()| {})?,
        }
        Ok(0)
    })
}

/// Where an object's data ends at `epoch` (extension): one past its last byte
/// that was written and not punched since, as `daos_object_read` at `epoch`
/// sees it (this process's uncommitted writes included); 0 when it has no
/// data. Objects are unbounded and may have holes below it (they read as
/// zeros), so this is the length that reads everything the object holds, as
/// `daos-rs object get` does when no length is given. Synchronous.
///
/// \param oh    [IN] object handle.
/// \param epoch [IN] epoch to look at (DAOS_EPOCH_HIGHEST: the newest).
/// \param size  [OUT] the end of the data, in bytes.
///
/// \return 0; -EINVAL `size` NULL; -ESTALE epoch older than the oldest
///         readable one; -ENOENT the shard is disabled; -EIO the shard's
///         journal could not be read; -EBADF bad handle.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_object_size(oh: daos_handle_t, epoch: daos_epoch_t, size: *mut daos_size_t) -> c_int {
    rc("daos_object_size", || {
        let out = Out::new(size, "size")?;
        out.put(object::size(oh.cookie, epoch.seq)?);
        Ok(0)
    })
}
