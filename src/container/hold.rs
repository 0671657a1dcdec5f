//! Epoch holds (`daos_epoch_hold`, an extension after the DAOS epoch model
//! that followed the 2014 design).
//!
//! A handle *holds* an epoch: the lowest epoch it may still commit. The hold
//! is recorded in the container file (so every process sees it), naming the
//! holder by its process's registration in the readers registry (see
//! [`super::registry`]) and its handle. While it stands, HCE stays below it:
//! a commit of a higher epoch by another handle is durable at once (its
//! shards' committed epochs move, and HSE) but becomes HCE only when every
//! lower hold is gone. A hold goes when its handle commits an epoch at or
//! above it, releases it (`daos_epoch_hold` with `DAOS_EPOCH_HIGHEST`),
//! closes, or dies: a hold whose process is gone is dropped by whoever finds
//! it (at its next open, refresh — query, slip, wait — or commit), and
//! nothing of the dead holder that was not committed is ever published.

use std::sync::Arc;

use super::meta::{HoldMeta, Meta};
use super::{epoch, handle, registry, CState};
use crate::error::{Error, Result};

/// `daos_epoch_hold`: the handle holds the lowest epoch >= `req` that is
/// above HCE and HSE and that no other handle holds (a hold it had is
/// replaced); returns it. `req == u64::MAX` releases its hold instead (and
/// returns `u64::MAX`).
pub fn hold(cookie: u64, req: u64) -> Result<u64> {
    let h = handle(cookie)?;
    h.need_rw("epoch hold")?;
    h.need_master("epoch hold")?;
    let cs = h.cs.clone();
    if req == u64::MAX {
        release(&cs, cookie)?;
        return Ok(u64::MAX);
    }
    cs.refresh();
    let (pid, nonce) = cs.reg_id().unwrap_or((0, 0));
    let held = {
        let _serial = cs.commit_lock.lock();
        cs.update(|m| {
            drop_dead(&cs, m);
            m.holds.retain(|x| !(x.pid == pid && x.nonce == nonce && x.handle == cookie));
            let mut e = req.max(m.hce.saturating_add(1)).max(m.hse.saturating_add(1));
            while m.holds.iter().any(|x| x.epoch == e) {
                e += 1;
            }
            if e == u64::MAX {
                return Err(Error::Inval(format!("no epoch >= {req} can be held")));
            }
            m.holds.push(HoldMeta { epoch: e, pid, nonce, handle: cookie });
            // Replacing a lower hold may let HCE move.
            m.settle_hce();
            Ok(e)
        })?
    };
    after_change(&cs);
    Ok(held)
}

/// Releases the hold of handle `cookie` of `cs`, if it has one (also at its
/// close).
pub fn release(cs: &Arc<CState>, cookie: u64) -> Result<()> {
    let Some((pid, nonce)) = cs.reg_id() else { return Ok(()) };
    let own = |x: &HoldMeta| x.pid == pid && x.nonce == nonce && x.handle == cookie;
    if !cs.meta.lock().holds.iter().any(own) {
        return Ok(());
    }
    {
        let _serial = cs.commit_lock.lock();
        cs.update(|m| {
            m.holds.retain(|x| !own(x));
            m.settle_hce();
            Ok(())
        })?;
    }
    after_change(cs);
    Ok(())
}

/// `daos_epoch_hold_query`: (the lowest epoch held by any live handle, the
/// epoch this handle holds), `u64::MAX` for none.
pub fn query(cookie: u64) -> Result<(u64, u64)> {
    let h = handle(cookie)?;
    h.cs.refresh();
    let own = h.cs.reg_id();
    let m = h.cs.meta.lock();
    let mine = m
        .holds
        .iter()
        .filter(|x| Some((x.pid, x.nonce)) == own && x.handle == cookie)
        .map(|x| x.epoch)
        .min()
        .unwrap_or(u64::MAX);
    Ok((m.lowest_hold(), mine))
}

/// Whether hold `x` is a live handle's: one of this process's open handles
/// of `cs`, or a handle of a process whose registration is alive.
fn alive(cs: &CState, own: Option<(u32, u64)>, x: &HoldMeta) -> bool {
    if own == Some((x.pid, x.nonce)) {
        return cs.refs.lock().contains_key(&x.handle);
    }
    registry::holder_alive(&cs.reg_dir, x.pid, x.nonce)
}

/// Drops from `m` the holds of handles that are gone (under the lock).
fn drop_dead(cs: &CState, m: &mut Meta) -> bool {
    if m.holds.is_empty() {
        return false;
    }
    let own = cs.reg_id();
    let before = m.holds.len();
    m.holds.retain(|x| {
        let keep = alive(cs, own, x);
        if !keep {
            crate::log!(
                Info,
                "container {}: the hold of epoch {} by process {} (handle {:#x}) is released: its holder is gone",
                cs.path.display(),
                x.epoch,
                x.pid,
                x.handle
            );
        }
        keep
    });
    if m.holds.len() != before {
        m.settle_hce();
        true
    } else {
        false
    }
}

/// Frees the holds of dead handles found in the current metadata (a
/// process killed while it held an epoch): called at open and at every
/// refresh. Nothing is written unless one is found dead (and is still dead
/// under the container's lock).
pub(crate) fn reap_dead(cs: &Arc<CState>) {
    let holds = cs.meta.lock().holds.clone();
    if holds.is_empty() || cs.corrupt {
        return;
    }
    let own = cs.reg_id();
    if holds.iter().all(|x| alive(cs, own, x)) {
        return;
    }
    let r = {
        let _serial = cs.commit_lock.lock();
        cs.update(|m| Ok(drop_dead(cs, m)))
    };
    match r {
        Ok(true) => after_change(cs),
        Ok(false) => {}
        Err(e) => crate::log!(Info, "container {}: a dead holder's epoch hold stays for now: {e}", cs.path.display()),
    }
}

/// After holds changed: shards' visible epochs follow, staged extents that
/// the new HCE publishes are settled, waits it satisfies complete.
fn after_change(cs: &Arc<CState>) {
    cs.adopt_layout();
    epoch::settle_all(cs);
    cs.catch_up();
    epoch::notify_waiters(cs);
}

/// Keeps, while waits are pending, a watch on the registration file of each
/// other process that holds an epoch of `cs`: its death closes the file
/// (inotify: a close after writing; on file systems where that is not seen,
/// the watch is polled), and the callback refreshes the state, which frees
/// the dead hold and completes the waits the new HCE satisfies. With no
/// wait pending the watches go.
pub(crate) fn watch_holders(cs: &Arc<CState>) {
    let want: Vec<String> = if cs.waiters.lock().is_empty() || cs.corrupt {
        Vec::new()
    } else {
        let own = cs.reg_id();
        let m = cs.meta.lock();
        let mut v: Vec<String> =
            m.holds.iter().filter(|x| Some((x.pid, x.nonce)) != own).map(|x| registry::reg_name(x.pid, x.nonce)).collect();
        v.sort();
        v.dedup();
        v
    };
    let mut w = cs.hold_watches.lock();
    w.retain(|(n, _)| want.contains(n));
    for name in want {
        if w.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let weak = Arc::downgrade(cs);
        let cb: crate::notify::Callback = Arc::new(move || {
            let Some(cs) = weak.upgrade() else { return };
            if !cs.waiters.lock().is_empty() {
                cs.refresh();
            }
        });
        if let Some(g) = crate::notify::watch(&cs.reg_dir, std::ffi::OsStr::new(&name), cb) {
            w.push((name, g));
        }
    }
}
