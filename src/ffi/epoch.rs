//! Epochs: commit, abort, slip, wait, query.

use std::ffi::{c_int, c_uint};

use super::args::{key, input, opt_ev, Out};
use super::boundary::rc;
use crate::abi::types::*;
use crate::container;
use crate::error::Error;
use crate::event::{run_deferred, run_work};

/// Moves this handle's read reference to `epoch` (DAOS_EPOCH_HIGHEST or an
/// epoch above HCE means HCE); moving it backwards does nothing. Versions
/// below the lowest reference of all open handles, in every process (and not
/// kept by a sync commit), may then be aggregated: reads below it give
/// -ESTALE (`epi_hce_oldest`; other processes see it move at their next
/// open, slip, query or wait).
///
/// \return 0; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_epoch_slip(coh: daos_handle_t, epoch: daos_epoch_t, ev: *mut daos_event) -> c_int {
    rc("daos_epoch_slip", || {
        container::handle(coh.cookie)?;
        run_work(opt_ev(ev)?, DAOS_EV_EP_SLIP, move || key::co(coh.cookie), move || container::slip(coh.cookie, epoch.seq), |_| {})?;
        Ok(0)
    })
}

/// Waits until HCE >= `*epoch` (DAOS_EPOCH_HIGHEST: until the next commit
/// after the call). Completes at once if it already is. Commits by other
/// processes count: one made while the wait is pending completes it within
/// milliseconds (inotify on the container file; where that cannot work, or
/// with DAOS_RS_NOTIFY=poll, the file is polled every DAOS_RS_POLL_MS,
/// default 100 ms). `daos_event_abort` ends a pending wait with -EINTR;
/// closing the handle, with -EBADF. HCE is the visible one: a commit waiting
/// behind another handle's epoch hold (`daos_epoch_hold`) does not complete
/// the wait; the hold's end does (its commit, release or close, or its
/// process's death, which the pending wait watches for).
///
/// \param coh          [IN] container handle.
/// \param epoch        [IN/OUT] epoch to wait for; on completion the HCE reached.
/// \param epoch_layout [OUT] NULL, or the last layout change epoch.
/// \param ev           [IN] completion event, or NULL (blocks).
///
/// \return 0; -EINVAL NULL `epoch`; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_epoch_wait(
    coh: daos_handle_t,
    epoch: *mut daos_epoch_t,
    epoch_layout: *mut daos_epoch_t,
    ev: *mut daos_event,
) -> c_int {
    rc("daos_epoch_wait", || {
        let e = input(epoch as *const daos_epoch_t, "epoch")?;
        let e_out = Out::new(epoch, "epoch")?;
        let l_out = Out::opt(epoch_layout, "epoch_layout")?;
        container::handle(coh.cookie)?;
        run_deferred(opt_ev(ev)?, DAOS_EV_EP_WAIT, true, |c| {
            let deliver = Box::new(move |hce: u64, layout: u64| {
                e_out.put(daos_epoch_t { seq: hce });
                if let Some(l) = &l_out {
                    l.put(daos_epoch_t { seq: layout });
                }
            });
            container::wait(coh.cookie, e.seq, c, deliver);
        })?;
        Ok(0)
    })
}

/// Epoch information: HCE, oldest readable epoch, this handle's slipped
/// epoch, HSE, last layout change. With epoch holds (`daos_epoch_hold`),
/// `epi_hce` stays below the lowest held epoch while `epi_hse` shows commits
/// already durable above it; `daos_epoch_hold_query` gives the holds.
///
/// \return 0; -EINVAL NULL `info`; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_epoch_query(coh: daos_handle_t, info: *mut daos_epoch_info, ev: *mut daos_event) -> c_int {
    rc("daos_epoch_query", || {
        let out = Out::new(info, "info")?;
        container::handle(coh.cookie)?;
        run_work(opt_ev(ev)?, DAOS_EV_EP_QUERY, move || key::co(coh.cookie), move || container::query_epoch(coh.cookie), move |i| out.put(i))?;
        Ok(0)
    })
}

/// Commits: makes every write of this handle in epochs <= `epoch` durable on
/// every enabled shard (data and journals fsynced in parallel), then moves
/// HCE to `epoch` atomically (one metadata update). The master of a
/// collective open also publishes what its peers have flushed
/// (`daos_container_flush`); a peer gets -EPERM.
///
/// Independent writers (several ordinary RW handles, in one process or
/// several): a commit publishes the committing handle's writes only. Once
/// HCE has passed an epoch, another handle's writes in it that were not
/// committed can never be: they are dropped (from that handle's view at its
/// next call that sees the new HCE, and for good at its next commit). **That
/// is never silent**: a commit that finds writes or punches of its own (or,
/// for a collective master, of its peers) in such closed epochs returns
/// -ESTALE, logging the epochs; the caller writes them again at a new epoch
/// (`daos_epoch_hold` gives one no other commit can close first). The rest
/// of that commit is done as usual (HCE moves to `epoch` if it was above
/// it): -ESTALE reports only the writes dropped. A commit of `epoch <= HCE`
/// with nothing of its own left to publish does nothing and returns 0. Its
/// writes in higher epochs stay staged, for it to commit.
///
/// Epoch holds (`daos_epoch_hold`): a commit of an epoch at or above this
/// handle's hold ends the hold. A commit of an epoch at or above another
/// handle's hold is durable when it returns 0 (its shards' committed epochs
/// and HSE move), but HCE stays below the lowest held epoch until that hold
/// is committed, released, its handle closed or its process dead; then HCE
/// moves on by itself (no further commit needed). Meanwhile readers do not
/// see it (except this process, which sees its own writes as staging data)
/// and `daos_epoch_wait` for it does not complete.
///
/// If a shard fails (I/O error, no space, target disabled), HCE
/// stays, HSE becomes `epoch`, the container is STUCK, `*shard_failed` names
/// the first failed shard and its error is returned; commit again, or
/// disable the shard and commit `epoch + 1`. `sync`: epoch `epoch` stays
/// readable for good (never aggregated).
///
/// A shard whose directory was removed, or whose files of this handle were
/// (by means other than the library: its data is lost), fails with -EIO.
/// A container with no enabled shard has nothing to hold HCE back: the
/// commit moves HCE (and HSE) to `epoch`. `DAOS_EPOCH_HIGHEST` is refused
/// (-EINVAL): HCE would become 2^64-1 and no epoch would be writable again.
///
/// \param coh          [IN] container handle (RW).
/// \param epoch        [IN] epoch to commit (not DAOS_EPOCH_HIGHEST).
/// \param sync         [IN] keep this epoch readable.
/// \param shard_failed [OUT] NULL, or the failed shard (written on failure).
/// \param ev           [IN] completion event, or NULL.
///
/// \return 0; -EINVAL `epoch` is DAOS_EPOCH_HIGHEST; -EPERM read-only
///         handle or a peer of a collective open; -EBADF bad handle;
///         -ESTALE writes or punches of this handle in epochs other
///         commits closed were dropped (see above); the
///         failed shard's error (-EIO: I/O error, target disabled, shard
///         directory or files removed; -ENOSPC).
#[no_mangle]
pub unsafe extern "C" fn daos_epoch_commit(
    coh: daos_handle_t,
    epoch: daos_epoch_t,
    sync: bool,
    shard_failed: *mut c_uint,
    ev: *mut daos_event,
) -> c_int {
    rc("daos_epoch_commit", || {
        let failed = Out::opt(shard_failed, "shard_failed")?;
        if epoch.seq == u64::MAX {
            return Err(Error::Inval(
                "DAOS_EPOCH_HIGHEST cannot be committed: HCE would be 2^64-1 and no epoch writable again".into(),
            ));
        }
        container::handle(coh.cookie)?.need_rw("commit")?;
        run_work(
            opt_ev(ev)?,
            DAOS_EV_EP_COMMIT,
            move || key::co(coh.cookie),
            move || {
                container::commit(coh.cookie, epoch.seq, sync).map_err(|(shard, e)| {
                    if let (Some(s), Some(f)) = (shard, &failed) {
                        f.put(s);
                    }
                    e
                })
            },
            |_| {},
        )?;
        Ok(0)
    })
}

/// Aborts: drops every write and punch of this handle in epochs >= `epoch`.
/// Writes issued after the abort completes are kept as normal. The master of
/// a collective open also drops its peers' writes made so far; a peer gets
/// -EPERM. If a shard this handle wrote to lost its directory or files
/// (removed by other means than the library), the abort is still recorded,
/// and that shard is written to `*shard_failed` with -EIO.
///
/// \param coh          [IN] container handle (RW).
/// \param epoch        [IN] first epoch to drop (> HCE).
/// \param shard_failed [OUT] NULL, or the failed shard (written on a shard's
///                     failure only).
/// \param ev           [IN] completion event, or NULL.
///
/// \return 0; -EPERM read-only handle, a peer of a collective open, or
///         `epoch` <= HCE; -EBADF bad handle; -EIO a shard's files are gone
///         (`*shard_failed`) or the metadata could not be written.
#[no_mangle]
pub unsafe extern "C" fn daos_epoch_abort(
    coh: daos_handle_t,
    epoch: daos_epoch_t,
    shard_failed: *mut c_uint,
    ev: *mut daos_event,
) -> c_int {
    rc("daos_epoch_abort", || {
        let failed = Out::opt(shard_failed, "shard_failed")?;
        let h = container::handle(coh.cookie)?;
        h.need_rw("abort")?;
        h.cs.check_above_hce(epoch.seq)?;
        run_work(
            opt_ev(ev)?,
            DAOS_EV_EP_ABORT,
            move || key::co(coh.cookie),
            move || {
                container::abort(coh.cookie, epoch.seq).map_err(|(shard, e)| {
                    if let (Some(s), Some(f)) = (shard, &failed) {
                        f.put(s);
                    }
                    e
                })
            },
            |_| {},
        )?;
        Ok(0)
    })
}

/// Extension (after `daos_epoch_hold` of the DAOS epoch model that followed
/// the 2014 design): holds an epoch for this handle, the lowest epoch it may
/// still commit, so that independent writers never close each other's
/// epochs.
///
/// `*epoch` asks for an epoch (0: any); the handle holds, and `*epoch` is
/// set to, the lowest epoch that is >= the request, above HCE and above HSE
/// (so above every commit already made, pending ones included), and held
/// by no other handle: two holders always get distinct epochs. A hold the
/// handle had is replaced. The hold is recorded durably in the container
/// file, so every process sees it. While it stands no commit moves HCE to
/// or past it: another handle's commit of a higher epoch is durable at once
/// but becomes HCE only when every lower hold is gone (see
/// `daos_epoch_commit`). The hold ends when this handle commits an epoch >=
/// it, when it is released (`*epoch == DAOS_EPOCH_HIGHEST`), when the
/// handle is closed, or when its process dies: a hold of a process that is
/// gone is freed by the next process that opens the container or refreshes
/// its view (`daos_epoch_query`, `slip`, `wait`, `commit`,
/// `daos_epoch_hold_query`, a pending `daos_epoch_wait` blocked by it),
/// and the dead holder's uncommitted writes are never published.
///
/// Meanwhile: `daos_epoch_query` reports the visible HCE (below the lowest
/// hold) and, in `epi_hse`, the highest epoch committed on any shard, which
/// may be above it; `daos_epoch_wait` completes when the visible HCE
/// reaches the epoch; `daos_epoch_slip` moves the read reference to at most
/// the visible HCE; `daos_epoch_hold_query` gives the lowest held epoch.
/// Writes are not restricted by a hold (the usual rule, epoch > HCE,
/// applies). A hold whose live holder never commits nor releases it keeps
/// HCE below it for as long as the handle stays open. Without holds every call behaves as in the reference API,
/// except that a commit never drops writes silently.
///
/// \param coh   [IN] container handle (RW; a collective open's master).
/// \param epoch [IN/OUT] the epoch asked for (0: any; DAOS_EPOCH_HIGHEST:
///              release the hold); on completion the epoch held
///              (DAOS_EPOCH_HIGHEST after a release). Written when the
///              operation completes: must stay valid until then.
/// \param ev    [IN] completion event, or NULL.
///
/// \return 0; -EINVAL NULL `epoch`; -EBADF bad handle; -EPERM read-only
///         handle or a peer of a collective open; -EIO (or the errno of
///         the failure) the container file could not be written.
#[no_mangle]
pub unsafe extern "C" fn daos_epoch_hold(coh: daos_handle_t, epoch: *mut daos_epoch_t, ev: *mut daos_event) -> c_int {
    rc("daos_epoch_hold", || {
        let e = input(epoch as *const daos_epoch_t, "epoch")?;
        let out = Out::new(epoch, "epoch")?;
        let h = container::handle(coh.cookie)?;
        h.need_rw("epoch hold")?;
        h.need_master("epoch hold")?;
        run_work(
            opt_ev(ev)?,
            DAOS_EV_EP_HOLD,
            move || key::co(coh.cookie),
            move || container::hold::hold(coh.cookie, e.seq),
            move |held| out.put(daos_epoch_t { seq: held }),
        )?;
        Ok(0)
    })
}

/// Extension: the epoch holds of the container (see `daos_epoch_hold`), as
/// of now (holds of dead processes are freed first).
///
/// \param coh    [IN] container handle.
/// \param lowest [OUT] NULL, or the lowest epoch held by any live handle
///               of any process (DAOS_EPOCH_HIGHEST if none): HCE stays
///               below it.
/// \param own    [OUT] NULL, or the epoch this handle holds
///               (DAOS_EPOCH_HIGHEST if none).
/// \param ev     [IN] completion event, or NULL. The outputs are written
///               when it completes.
///
/// \return 0; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_epoch_hold_query(
    coh: daos_handle_t,
    lowest: *mut daos_epoch_t,
    own: *mut daos_epoch_t,
    ev: *mut daos_event,
) -> c_int {
    rc("daos_epoch_hold_query", || {
        let lo = Out::opt(lowest, "lowest")?;
        let me = Out::opt(own, "own")?;
        container::handle(coh.cookie)?;
        run_work(
            opt_ev(ev)?,
            DAOS_EV_EP_HOLD,
            move || key::co(coh.cookie),
            move || container::hold::query(coh.cookie),
            move |(l, m)| {
                if let Some(o) = &lo {
                    o.put(daos_epoch_t { seq: l });
                }
                if let Some(o) = &me {
                    o.put(daos_epoch_t { seq: m });
                }
            },
        )?;
        Ok(0)
    })
}
