//! The system container: store format, open, topology, targets, listen.

use std::ffi::{c_char, c_int, c_uint};

use super::args::{key, input, input_slice, opt_ev, path_arg, Out, OutSlice};
use super::boundary::rc;
use crate::abi::types::*;
use crate::error::Error;
use crate::event::{run_deferred, run_work};
use crate::store;

/// Makes a store at `path` (extension).
///
/// `path` must be an existing directory that is not inside another store. The
/// store gets `ntargets` targets, with ids 0..ntargets-1, all on one cage, rack
/// and node (0, 0, 0). With `target_dirs` NULL the targets are directories
/// inside `path/.daos/targets/`; otherwise `target_dirs[i]` is the directory of
/// target i (created if missing; it must not already belong to a store), for
/// example on another disk. Unless `flags` has `DAOS_SYS_FORMAT_NO_PROBE`, each
/// target is probed (about 16 MiB of I/O) for the figures of
/// `daos_sys_query_target`. Synchronous.
///
/// Target directories inside `path` (the default ones, and any given below
/// it) are recorded relative to the store, so a copy of the store directory
/// (`cp -a`) is a store of its own; a copy shares the directories given
/// elsewhere with the original, so copy those apart and keep one of the two
/// from using them (a store whose target directory belongs to another store
/// is refused with -EXDEV, see `daos_sys_open`).
///
/// A store belongs to the account that made it: `.daos/` and the directories
/// the library makes (target and shard directories it creates included) are
/// mode 0700, and the files it locks (lock files, journals, reader
/// registrations, stamp slots, tokens) 0600 whatever the umask (files of an
/// older store are made 0600 when next locked), so that no other account can
/// take a store's locks and stall its users.
///
/// \param path        [IN] directory to make the store root.
/// \param ntargets    [IN] number of targets, 1..65536.
/// \param target_dirs [IN] NULL, or `ntargets` directory paths.
/// \param flags       [IN] 0 or `DAOS_SYS_FORMAT_NO_PROBE`.
///
/// \return 0; -EINVAL bad argument or unknown flag; -EEXIST `path` is already
///         (inside) a store, or a target directory belongs to a store;
///         -ENOENT / -ENOTDIR / -EACCES from the file system.
#[no_mangle]
pub unsafe extern "C" fn daos_sys_format(
    path: *const c_char,
    ntargets: c_uint,
    target_dirs: *const *const c_char,
    flags: c_uint,
) -> c_int {
    rc("daos_sys_format", || {
        let path = path_arg(path, "path")?;
        if ntargets == 0 {
            return Err(Error::Inval("ntargets is 0".into()));
        }
        let dirs = if target_dirs.is_null() {
            None
        } else {
            let ptrs = input_slice(target_dirs, ntargets as usize, "target_dirs")?;
            Some(ptrs.iter().map(|&p| path_arg(p, "target_dirs[i]")).collect::<Result<Vec<_>, _>>()?)
        };
        store::format(&path, &store::default_specs(ntargets, dirs), flags, &mut |_, _| {})?;
        Ok(0)
    })
}

/// Opens the system container of the store holding `daos_path`.
///
/// `daos_path` is the store root or any path inside it (it need not exist;
/// the nearest ancestor with a `.daos/` is the store). The handle sees the
/// store's topology as of the open; target status is read when queried.
///
/// \param daos_path [IN] a path in the store.
/// \param handle    [OUT] the system container handle (written on success).
/// \param ev        [IN] completion event, or NULL for a synchronous call.
///
/// \return 0; -EINVAL NULL argument; -ENOENT not inside a store; -EACCES
///         the store is another account's; -EIO the store's metadata is damaged; -EXDEV a target directory of the
///         store holds the marker of another store or of another of its
///         targets (a moved mount, a symbolic link, a copied directory): the
///         store is not used, so that its writes and unlinks cannot change
///         another store's data (the log says which directory).
#[no_mangle]
pub unsafe extern "C" fn daos_sys_open(daos_path: *const c_char, handle: *mut daos_handle_t, ev: *mut daos_event) -> c_int {
    rc("daos_sys_open", || {
        let path = path_arg(daos_path, "daos_path")?;
        let out = Out::new(handle, "handle")?;
        run_work(opt_ev(ev)?, DAOS_EV_SYS_OPEN, { let p = path.clone(); move || key::path(&p) }, move || store::sys_open(&path), move |c| out.put(daos_handle_t { cookie: c }))?;
        Ok(0)
    })
}

/// Closes a system container handle. Pending `daos_sys_listen` calls on it
/// complete with -EBADF.
///
/// \param handle [IN] system container handle.
/// \param ev     [IN] completion event, or NULL.
///
/// \return 0; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_sys_close(handle: daos_handle_t, ev: *mut daos_event) -> c_int {
    rc("daos_sys_close", || {
        let ev = opt_ev(ev)?;
        crate::store::sys::handle(handle.cookie)?;
        run_work(ev, DAOS_EV_SYS_CLOSE, move || key::sys(handle.cookie), move || store::sys_close(handle.cookie), |_| {})?;
        Ok(0)
    })
}

/// Waits for a change of target status (extension semantics: a change
/// relative to what this handle last saw, at open or at its last listen).
///
/// Completes at once if a target's status already differs from what the
/// handle saw; otherwise when one changes (disabled, enabled, health lowered
/// by I/O errors), in this process or in another: another process's change
/// completes it within milliseconds (inotify on `.daos/store.meta`; where that
/// cannot work, or with DAOS_RS_NOTIFY=poll, the file is polled every
/// DAOS_RS_POLL_MS, default 100 ms). `daos_event_abort` ends a pending listen
/// with -EINTR.
///
/// \param handle [IN] system container handle.
/// \param tevn   [IN/OUT] capacity of `tevs` (>= 1); on completion the number
///               of events stored.
/// \param tevs   [OUT] target events; must stay valid until completion.
/// \param ev     [IN] completion event, or NULL (blocks until a change).
///
/// \return 0; -EINVAL NULL argument or `*tevn == 0`; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_sys_listen(
    handle: daos_handle_t,
    tevn: *mut c_uint,
    tevs: *mut daos_target_event,
    ev: *mut daos_event,
) -> c_int {
    rc("daos_sys_listen", || {
        let cap = input(tevn, "tevn")? as usize;
        let n_out = Out::new(tevn, "tevn")?;
        let arr = OutSlice::new(tevs, cap, "tevs")?;
        if cap == 0 {
            return Err(Error::Inval("*tevn is 0".into()));
        }
        crate::store::sys::handle(handle.cookie)?;
        run_deferred(opt_ev(ev)?, DAOS_EV_SYS_LISTEN, true, |c| {
            let deliver = Box::new(move |v: Vec<daos_target_event>| {
                arr.write(&v);
                n_out.put(v.len() as c_uint);
            });
            store::sys_listen(handle.cookie, cap, c, deliver);
        })?;
        Ok(0)
    })
}

/// Queries the storage tree: the pre-order traversal of cage -> rack -> node
/// -> target under `loc`, limited by `depth`, as the reference describes:
///
/// - `loc->lc_cage == DAOS_LOC_UNKNOWN`: depth 0 or >= 4 the whole tree;
///   1 cages; 2 cages and racks; 3 cages, racks and nodes.
/// - cage given, rack unknown: below that cage; depth 0 or >= 3 everything;
///   1 racks; 2 racks and nodes.
/// - cage and rack given, node unknown: 0 or >= 2 nodes and targets; 1 nodes.
/// - all given: the targets of that node.
///
/// The given location itself is not a footprint.
///
/// \param handle [IN] system container handle.
/// \param loc    [IN] the subtree's root (DAOS_LOC_UNKNOWN for unspecified).
/// \param depth  [IN] levels to traverse, 0 for all.
/// \param lkn    [IN/OUT] with `lks` NULL: set to the number of footprints;
///               otherwise the capacity of `lks`, set to the total number.
/// \param lks    [OUT] footprints (at most `*lkn` stored), or NULL.
/// \param ev     [IN] completion event, or NULL.
///
/// \return 0; -EINVAL NULL argument or an inconsistent location; -ENOENT no
///         such cage, rack or node; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_sys_query(
    handle: daos_handle_t,
    loc: *mut daos_location,
    depth: c_uint,
    lkn: *mut c_uint,
    lks: *mut daos_loc_key,
    ev: *mut daos_event,
) -> c_int {
    rc("daos_sys_query", || {
        let l = input(loc as *const daos_location, "loc")?;
        let cap = input(lkn, "lkn")? as usize;
        let n_out = Out::new(lkn, "lkn")?;
        let arr = if lks.is_null() { None } else { Some(OutSlice::new(lks, cap, "lks")?) };
        crate::store::sys::handle(handle.cookie)?;
        run_work(opt_ev(ev)?, DAOS_EV_SYS_QUERY, move || key::sys(handle.cookie), move || store::sys_query(handle.cookie, l, depth), move |v| {
            if let Some(a) = &arr {
                a.write(&v);
            }
            n_out.put(v.len() as c_uint);
        })?;
        Ok(0)
    })
}

/// Detailed information of a target: status (DAOS_TARGET_ST_DISABLED, or a
/// health 0..100 lowered by I/O errors, or DAOS_TARGET_ST_UNKNOWN if its
/// directory is gone), type (SSD/HDD from the device's rotational flag; HDD
/// when unknown), location, measured performance (0 if never probed), space
/// (statvfs; number of shards on it) and affinity (local: distance 0,
/// latency from the probe).
///
/// \param handle [IN] system container handle.
/// \param target [IN] target id.
/// \param info   [OUT] written on success; must stay valid until completion.
/// \param ev     [IN] completion event, or NULL.
///
/// \return 0; -EINVAL NULL `info`; -ENOENT unknown target; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_sys_query_target(
    handle: daos_handle_t,
    target: c_uint,
    info: *mut daos_target_info,
    ev: *mut daos_event,
) -> c_int {
    rc("daos_sys_query_target", || {
        let out = Out::new(info, "info")?;
        crate::store::sys::handle(handle.cookie)?;
        run_work(opt_ev(ev)?, DAOS_EV_SYS_QUERY_TGT, move || key::sys(handle.cookie), move || store::sys_query_target(handle.cookie, target), move |i| out.put(i))?;
        Ok(0)
    })
}

/// The administrator's enable / disable of a target (extension). Durable,
/// visible to every handle; pending `daos_sys_listen` calls see the change.
/// Containers with an enabled shard on a disabled target report FAULTY, and
/// commits fail on such shards (-EIO). Synchronous.
///
/// \param sysh   [IN] system container handle.
/// \param target [IN] target id.
/// \param status [IN] DAOS_TARGET_ST_DISABLED, or 0..100 (DAOS_TARGET_ST_HEALTHY)
///               to enable it with that health.
///
/// \return 0; -EINVAL bad status; -ENOENT unknown target; -EBADF bad handle.
#[no_mangle]
pub unsafe extern "C" fn daos_sys_target_set_status(sysh: daos_handle_t, target: c_uint, status: c_int) -> c_int {
    rc("daos_sys_target_set_status", || store::sys_set_status(sysh.cookie, target, status).map(|_| 0))
}
