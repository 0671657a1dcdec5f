//! Shards: add, disable, query, flush, list objects.

use std::ffi::{c_int, c_uint};

use super::args::{key, input, opt_ev, Out, OutSlice};
use super::boundary::rc;
use crate::abi::types::*;
use crate::container;
use crate::event::run_work;

/// Adds shards to the container, durably, recording the layout change with
/// `epoch` (reported by `epi_layout_changed`; aborting it does not undo it).
///
/// \param coh     [IN] container handle (read-write).
/// \param epoch   [IN] a writable epoch (> HCE, not DAOS_EPOCH_HIGHEST).
/// \param targetn [IN] size of `targets` and `shards`.
/// \param targets [IN] target of each new shard.
/// \param shards  [IN/OUT] wanted id of each (0..2^20-1, or -1 for the lowest
///                free id); on completion the id made, or -1 where that one
///                failed. Must stay valid until completion.
/// \param event   [IN] completion event, or NULL.
///
/// \return 0 if all were added, else the first error: -ENOENT unknown target;
///         -EEXIST id taken; -EINVAL id out of range; -EIO target disabled.
///         Immediately: -EINVAL NULL argument or `epoch` is
///         DAOS_EPOCH_HIGHEST; -EPERM read-only handle or `epoch` <= HCE;
///         -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_shard_add(
    coh: daos_handle_t,
    epoch: daos_epoch_t,
    targetn: c_uint,
    targets: *mut c_uint,
    shards: *mut c_int,
    event: *mut daos_event,
) -> c_int {
    rc("daos_shard_add", || {
        let t = super::args::input_slice(targets as *const c_uint, targetn as usize, "targets")?;
        let arr = OutSlice::new(shards, targetn as usize, "shards")?;
        let h = container::handle(coh.cookie)?;
        h.need_rw("shard add")?;
        container::check_layout_epoch(&h, epoch.seq)?;
        let mut ids = arr.read();
        // The ids are an in/out array: written whatever the outcome, before
        // the event completes.
        run_work(
            opt_ev(event)?,
            DAOS_EV_SHARD_ADD,
            move || key::co(coh.cookie),
            move || {
                let r = container::shard_add(coh.cookie, epoch.seq, &t, &mut ids);
                arr.write(&ids);
                r
            },
            |_| {},
        )?;
        Ok(0)
    })
}

/// Disables shards for good: their objects can no longer be opened (-ENOENT)
/// and they are left out of HCE. Durable at once; recorded with `epoch`.
///
/// \param coh    [IN] container handle (read-write).
/// \param epoch  [IN] a writable epoch (> HCE, not DAOS_EPOCH_HIGHEST).
/// \param shardn [IN] size of `shards`.
/// \param shards [IN/OUT] shard ids; set to -1 where disabling failed.
/// \param event  [IN] completion event, or NULL.
///
/// \return 0; the first error (-ENOENT unknown shard); immediately -EINVAL
///         (NULL argument, DAOS_EPOCH_HIGHEST), -EPERM (read-only, epoch <=
///         HCE), -EBADF.
#[no_mangle]
pub unsafe extern "C" fn daos_shard_disable(
    coh: daos_handle_t,
    epoch: daos_epoch_t,
    shardn: c_uint,
    shards: *mut c_int,
    event: *mut daos_event,
) -> c_int {
    rc("daos_shard_disable", || {
        let arr = OutSlice::new(shards, shardn as usize, "shards")?;
        let h = container::handle(coh.cookie)?;
        h.need_rw("shard disable")?;
        container::check_layout_epoch(&h, epoch.seq)?;
        let mut ids = arr.read();
        run_work(
            opt_ev(event)?,
            DAOS_EV_SHARD_DISABLE,
            move || key::co(coh.cookie),
            move || {
                let r = container::shard_disable(coh.cookie, epoch.seq, &mut ids);
                arr.write(&ids);
                r
            },
            |_| {},
        )?;
        Ok(0)
    })
}

/// Shard information: target, type, status, location, and the number of
/// non-empty objects and bytes of data at the epoch.
///
/// \param coh   [IN] container handle.
/// \param epoch [IN/OUT] a committed epoch of the shard to query, or
///              DAOS_EPOCH_HIGHEST (or above the shard's committed epoch):
///              then set to the shard's committed epoch.
/// \param shard [IN] shard id.
/// \param info  [OUT] written on success.
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -ENOENT unknown shard; -ESTALE epoch no longer readable;
///         -EINVAL NULL argument; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_shard_query(
    coh: daos_handle_t,
    epoch: *mut daos_epoch_t,
    shard: c_uint,
    info: *mut daos_shard_info,
    event: *mut daos_event,
) -> c_int {
    rc("daos_shard_query", || {
        let e = input(epoch as *const daos_epoch_t, "epoch")?;
        let e_out = Out::new(epoch, "epoch")?;
        let i_out = Out::new(info, "info")?;
        container::handle(coh.cookie)?;
        run_work(opt_ev(event)?, DAOS_EV_SHARD_QUERY, move || key::co(coh.cookie), move || container::shard_query(coh.cookie, e.seq, shard), move |(e, i)| {
            e_out.put(daos_epoch_t { seq: e });
            i_out.put(i);
        })?;
        Ok(0)
    })
}

/// Makes this handle's writes on one shard durable.
///
/// \param coh   [IN] container handle.
/// \param epoch [IN] epoch (all of the handle's writes are flushed).
/// \param shard [IN] shard id.
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -ENOENT unknown shard; -EBADF bad handle; -EIO / -ENOSPC.
#[no_mangle]
pub unsafe extern "C" fn daos_shard_flush(coh: daos_handle_t, epoch: daos_epoch_t, shard: c_uint, event: *mut daos_event) -> c_int {
    rc("daos_shard_flush", || {
        let _ = epoch;
        container::handle(coh.cookie)?;
        run_work(opt_ev(event)?, DAOS_EV_SHARD_FLUSH, move || key::co(coh.cookie), move || container::flush(coh.cookie, Some(shard)), |_| {})?;
        Ok(0)
    })
}

/// Lists the non-empty objects of a shard at `epoch` (with this process's
/// staged writes), in increasing `o_id_lo` order.
///
/// \param coh    [IN] container handle.
/// \param epoch  [IN] epoch to list at (DAOS_EPOCH_HIGHEST: newest).
/// \param shard  [IN] shard id.
/// \param anchor [IN/OUT] 0 to start; on completion the next anchor, or
///               DAOS_LIST_END.
/// \param oidn   [IN] size of `oids`.
/// \param oids   [OUT] object ids; unused slots are all ones.
/// \param event  [IN] completion event, or NULL.
///
/// \return 0; -ENOENT unknown or disabled shard; -ESTALE; -EINVAL; -EBADF.
#[no_mangle]
pub unsafe extern "C" fn daos_shard_list_obj(
    coh: daos_handle_t,
    epoch: daos_epoch_t,
    shard: c_uint,
    anchor: *mut daos_off_t,
    oidn: daos_size_t,
    oids: *mut daos_obj_id_t,
    event: *mut daos_event,
) -> c_int {
    rc("daos_shard_list_obj", || {
        let a = input(anchor as *const daos_off_t, "anchor")?;
        let a_out = Out::new(anchor, "anchor")?;
        let n = usize::try_from(oidn).map_err(|_| crate::error::Error::Inval("oidn is too large".into()))?;
        let arr = OutSlice::new(oids, n, "oids")?;
        container::handle(coh.cookie)?;
        run_work(
            opt_ev(event)?,
            DAOS_EV_SHARD_LS_OBJ,
            move || key::co(coh.cookie),
            move || {
                let mut v = vec![daos_obj_id_t::default(); n];
                container::list_obj(coh.cookie, epoch.seq, shard, a, &mut v).map(|next| (v, next))
            },
            move |(v, next)| {
                arr.write(&v);
                a_out.put(next);
            },
        )?;
        Ok(0)
    })
}
