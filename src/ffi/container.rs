//! Containers: open, close, unlink, snapshot, query, list shards, listen, flush.

use std::ffi::{c_char, c_int, c_uint};

use super::args::{key, input, opt_ev, path_arg, Out, OutSlice};
use super::boundary::rc;
use crate::abi::types::*;
use crate::container;
use crate::error::Error;
use crate::event::{run_deferred, run_work};

/// Opens a container: a file at `path` inside a store.
///
/// `mode` is exactly one of `DAOS_COO_RO` / `DAOS_COO_RW`, optionally with
/// `DAOS_COO_CREATE` (create an empty container, with no shards, if `path`
/// does not exist; its directory must exist inside a store) and
/// `DAOS_COO_OWN_RECOV` (accepted, no effect), and with `DAOS_COO_CREATE` the
/// extension `DAOS_RS_COO_NOCSUM` (the container made keeps no data checksums;
/// see there). A handle reads at HCE until
/// slipped. A container whose metadata fails its checksum opens read-only
/// with status CORRUPT (its reads may then fail, or give what the damaged
/// metadata describes). Damage in shard journals or data does not change
/// the status: the reads it affects fail with -EIO (see `daos_object_read`).
///
/// \param path     [IN] the container's path.
/// \param mode     [IN] open mode (DAOS_COO_*).
/// \param nprocess [IN] 1 (or 0) for an ordinary open; > 1 for a collective
///                 open: this process is the master, and shares the handle
///                 with its peers through `daos_local2global` /
///                 `daos_global2local`. Only the master commits, aborts and
///                 waits; its commit publishes what the peers flushed.
/// \param status   [OUT] OK, STUCK (an enabled shard's committed epoch is
///                 below HSE), FAULTY (a shard's target is disabled or
///                 missing) or CORRUPT.
/// \param coh      [OUT] the container handle.
/// \param event    [IN] completion event, or NULL.
///
/// \return 0; -EINVAL bad mode (also `DAOS_RS_COO_NOCSUM` without
///         `DAOS_COO_CREATE`), NULL argument, `path` is not a container, or
///         is inside the store's `.daos/` or a target directory (the
///         library's own files: no container may be made there);
///         -ENOENT missing without CREATE, or not inside a store; -EACCES file
///         permissions refuse the mode; -EXDEV a target directory of the
///         store belongs to another store (see `daos_sys_open`).
#[no_mangle]
pub unsafe extern "C" fn daos_container_open(
    path: *const c_char,
    mode: c_uint,
    nprocess: c_uint,
    status: *mut daos_container_status_t,
    coh: *mut daos_handle_t,
    event: *mut daos_event,
) -> c_int {
    rc("daos_container_open", || {
        let path = path_arg(path, "path")?;
        let st = Out::new(status, "status")?;
        let h = Out::new(coh, "coh")?;
        run_work(opt_ev(event)?, DAOS_EV_CO_OPEN, { let p = path.clone(); move || key::path(&p) }, move || container::open(&path, mode, nprocess), move |(s, c)| {
            st.put(s);
            h.put(daos_handle_t { cookie: c });
        })?;
        Ok(0)
    })
}

/// Closes a container handle and every object handle opened through it
/// (later calls on them give -EBADF). Writes of this handle in epochs above
/// HSE that were not committed are discarded. Pending waits and listens of
/// the handle complete with -EBADF. The master of a collective open revokes
/// its peers (their later calls give -EPERM) after sealing what they
/// flushed; a peer's close releases its handle only (what it flushed stays
/// for the master to commit), and succeeds on a revoked handle too.
///
/// \param coh   [IN] container handle.
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -EBADF bad handle; an I/O error recording the close.
#[no_mangle]
pub unsafe extern "C" fn daos_container_close(coh: daos_handle_t, event: *mut daos_event) -> c_int {
    rc("daos_container_close", || {
        let ev = opt_ev(event)?;
        container::handle_any(coh.cookie)?;
        run_work(ev, DAOS_EV_CO_CLOSE, move || key::co(coh.cookie), move || container::close(coh.cookie), |_| {})?;
        Ok(0)
    })
}

/// Removes a container and its shards. Handles open on it, in this or any
/// other process, keep working until closed (POSIX semantics); its space is
/// reclaimed at the last close in any process (or, if the last process to
/// have it open died, at the next open or unlink in the store). Only this
/// call frees a container's shards: a container file renamed (`mv`) keeps
/// them, and one deleted by other means (`rm`) leaves them on the targets.
///
/// \param path  [IN] the container's path.
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -EINVAL NULL path or not a container; -ENOENT no such file;
///         -EXDEV a target directory of the store belongs to another store
///         (see `daos_sys_open`): nothing is removed.
#[no_mangle]
pub unsafe extern "C" fn daos_container_unlink(path: *const c_char, event: *mut daos_event) -> c_int {
    rc("daos_container_unlink", || {
        let path = path_arg(path, "path")?;
        run_work(opt_ev(event)?, DAOS_EV_CO_UNLINK, { let p = path.clone(); move || key::path(&p) }, move || container::unlink(&path), |_| {})?;
        Ok(0)
    })
}

/// Makes a snapshot: a new, independent container at `snapshot` (in the same
/// store) whose HCE is `epoch` and whose content is this container's content
/// at `epoch`. Costs metadata only: the data files are shared by hard links
/// (they are append-only and never rewritten in place). Disabled shards are
/// not cloned.
///
/// \param coh      [IN] container handle.
/// \param epoch    [IN] a committed epoch (<= HCE), still readable.
/// \param snapshot [IN] path of the new container (must not exist).
/// \param event    [IN] completion event, or NULL.
///
/// \return 0; -EINVAL `epoch` above HCE, NULL path, path in another store
///         or inside the store's `.daos/` or a target directory;
///         -ESTALE `epoch` below the oldest readable epoch; -EEXIST path
///         exists; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_container_snapshot(
    coh: daos_handle_t,
    epoch: daos_epoch_t,
    snapshot: *const c_char,
    event: *mut daos_event,
) -> c_int {
    rc("daos_container_snapshot", || {
        let path = path_arg(snapshot, "snapshot")?;
        container::handle(coh.cookie)?;
        run_work(opt_ev(event)?, DAOS_EV_CO_SNAPSHOT, move || key::co(coh.cookie), move || container::snapshot(coh.cookie, epoch.seq, &path), |_| {})?;
        Ok(0)
    })
}

/// Container information: owner, number of shards, stuck and disabled ones.
///
/// \param coh   [IN] container handle.
/// \param epoch [IN/OUT] a committed epoch to query, or DAOS_EPOCH_HIGHEST
///              (or any epoch above HCE): then set to HSE on completion.
/// \param info  [OUT] written on success.
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -EINVAL NULL argument; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_container_query(
    coh: daos_handle_t,
    epoch: *mut daos_epoch_t,
    info: *mut daos_container_info,
    event: *mut daos_event,
) -> c_int {
    rc("daos_container_query", || {
        let e = input(epoch as *const daos_epoch_t, "epoch")?;
        let e_out = Out::new(epoch, "epoch")?;
        let i_out = Out::new(info, "info")?;
        container::handle(coh.cookie)?;
        run_work(opt_ev(event)?, DAOS_EV_CO_QUERY, move || key::co(coh.cookie), move || container::query(coh.cookie, e.seq), move |(e, i)| {
            e_out.put(daos_epoch_t { seq: e });
            i_out.put(i);
        })?;
        Ok(0)
    })
}

/// The properties the container was made with (extension, not in the 2014
/// API): `DAOS_RS_COO_NOCSUM` if it keeps no data checksums, else 0.
/// Synchronous: the properties are read at open and never change.
///
/// \param coh   [IN] container handle.
/// \param props [OUT] the `DAOS_RS_COO_*` properties at create.
///
/// \return 0; -EINVAL `props` NULL; -EBADF bad handle.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn daos_rs_container_props(coh: daos_handle_t, props: *mut c_uint) -> c_int {
    rc("daos_rs_container_props", || {
        let out = Out::new(props, "props")?;
        let h = container::handle(coh.cookie)?;
        out.put(if h.cs.csum { 0 } else { DAOS_RS_COO_NOCSUM });
        Ok(0)
    })
}

/// Lists shard ids of the container, in increasing order: all of them
/// (`DAOS_SHARD_LS_ALL`), the stuck ones, or the disabled ones. The layout is
/// not versioned: `epoch` is accepted and the current layout listed.
///
/// \param coh    [IN] container handle.
/// \param epoch  [IN] epoch (see above).
/// \param opc    [IN] DAOS_SHARD_LS_ALL / STUCK / DISABLED.
/// \param anchor [IN/OUT] 0 to start; on completion the anchor of the next
///               call, or DAOS_LIST_END when everything was listed.
/// \param shardn [IN] size of `shards`.
/// \param shards [OUT] shard ids; unused slots are set to (unsigned)-1.
/// \param event  [IN] completion event, or NULL.
///
/// \return 0; -EINVAL bad `opc` or NULL argument; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_container_list_shard(
    coh: daos_handle_t,
    epoch: daos_epoch_t,
    opc: daos_shard_list_t,
    anchor: *mut daos_off_t,
    shardn: c_uint,
    shards: *mut c_uint,
    event: *mut daos_event,
) -> c_int {
    rc("daos_container_list_shard", || {
        let _ = epoch;
        let a = input(anchor as *const daos_off_t, "anchor")?;
        let a_out = Out::new(anchor, "anchor")?;
        let arr = OutSlice::new(shards, shardn as usize, "shards")?;
        if opc > DAOS_SHARD_LS_DISABLED {
            return Err(Error::Inval(format!("list kind {opc} (use DAOS_SHARD_LS_ALL/STUCK/DISABLED)")));
        }
        container::handle(coh.cookie)?;
        let n = arr.len();
        run_work(
            opt_ev(event)?,
            DAOS_EV_CO_LS_SHARD,
            move || key::co(coh.cookie),
            move || {
                let mut v = vec![0u32; n];
                container::list_shard(coh.cookie, opc, a, &mut v).map(|next| (v, next))
            },
            move |(v, next)| {
                arr.write(&v);
                a_out.put(next);
            },
        )?;
        Ok(0)
    })
}

/// Waits for a layout change (a shard added or disabled) relative to what
/// this handle last saw (at open, or at its last listen). Completes at once
/// if there is one already, including one made by another process before the
/// call. A change made by another process while the listen is pending
/// completes it within milliseconds (inotify on the container file; where
/// that cannot work, or with DAOS_RS_NOTIFY=poll, the file is polled every
/// DAOS_RS_POLL_MS, default 100 ms). `daos_event_abort` ends a pending listen
/// with -EINTR; closing the handle ends it with -EBADF.
///
/// \param coh   [IN] container handle.
/// \param sevn  [IN/OUT] capacity of `sevs` (>= 1); on completion the number
///              of events stored.
/// \param sevs  [OUT] shard events (`se_status` DAOS_TARGET_ST_DISABLED for a
///              disabled shard, 100 for an added one).
/// \param event [IN] completion event, or NULL (blocks until a change).
///
/// \return 0; -EINVAL NULL argument or `*sevn == 0`; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_container_listen(
    coh: daos_handle_t,
    sevn: *mut c_uint,
    sevs: *mut daos_shard_event,
    event: *mut daos_event,
) -> c_int {
    rc("daos_container_listen", || {
        let cap = input(sevn, "sevn")? as usize;
        let n_out = Out::new(sevn, "sevn")?;
        let arr = OutSlice::new(sevs, cap, "sevs")?;
        if cap == 0 {
            return Err(Error::Inval("*sevn is 0".into()));
        }
        container::handle(coh.cookie)?;
        run_deferred(opt_ev(event)?, DAOS_EV_CO_LISTEN, true, |c| {
            let deliver = Box::new(move |v: Vec<daos_shard_event>| {
                arr.write(&v);
                n_out.put(v.len() as c_uint);
            });
            container::listen(coh.cookie, cap, c, deliver);
        })?;
        Ok(0)
    })
}

/// Makes this handle's writes durable on every shard (all of its writes; the
/// data and journals of its segments are fsynced in parallel).
///
/// \param coh   [IN] container handle.
/// \param epoch [IN] epoch (writes in epochs <= it; all are flushed).
/// \param event [IN] completion event, or NULL.
///
/// \return 0; -EBADF bad handle; -EIO / -ENOSPC from the target.
#[no_mangle]
pub unsafe extern "C" fn daos_container_flush(coh: daos_handle_t, epoch: daos_epoch_t, event: *mut daos_event) -> c_int {
    rc("daos_container_flush", || {
        let _ = epoch;
        container::handle(coh.cookie)?;
        run_work(opt_ev(event)?, DAOS_EV_CO_FLUSH, move || key::co(coh.cookie), move || container::flush(coh.cookie, None), |_| {})?;
        Ok(0)
    })
}
