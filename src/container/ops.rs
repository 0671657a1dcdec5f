//! Container and shard calls other than epochs: query, list, listen,
//! snapshot, and the layout (shard add, disable, query, list objects).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::meta::{Meta, ShardMeta};
use super::{handle, link_new, CoHandle, Listener};
use crate::error::{Error, Result};
use crate::event::Completer;
use crate::abi::types::*;
use crate::shard::{seg_paths, shard_dir, Shard};

/// Largest shard id + 1.
pub(crate) const MAX_SHARDS: u32 = DAOS_MAX_SHARDS;

/// `daos_container_query`: (epoch queried, info).
pub fn query(cookie: u64, epoch: u64) -> Result<(u64, daos_container_info)> {
    use std::os::unix::fs::MetadataExt;
    let h = handle(cookie)?;
    h.cs.refresh();
    let m = h.cs.meta.lock().clone();
    let e = if epoch == u64::MAX || epoch > m.hce { m.hse } else { epoch };
    let (uid, gid) = match std::fs::metadata(&h.cs.path) {
        Ok(md) => (md.uid(), md.gid()),
        // SAFETY: getuid/getgid cannot fail.
        Err(_) => unsafe { (libc::getuid(), libc::getgid()) },
    };
    let info = daos_container_info {
        ci_uid: uid,
        ci_gid: gid,
        ci_nshard: m.shards.len() as u32,
        ci_nshard_stuck: m.shards.iter().filter(|s| !s.disabled && s.committed < m.hse).count() as u32,
        ci_nshard_disabled: m.shards.iter().filter(|s| s.disabled).count() as u32,
    };
    Ok((e, info))
}

/// `daos_container_list_shard`: fills `out` with shard ids >= `anchor` of
/// the kind `opc` (the rest with `u32::MAX`); returns the next anchor.
pub fn list_shard(cookie: u64, opc: daos_shard_list_t, anchor: u64, out: &mut [u32]) -> Result<u64> {
    let h = handle(cookie)?;
    h.cs.refresh();
    if opc > DAOS_SHARD_LS_DISABLED {
        return Err(Error::Inval(format!("list kind {opc} (use DAOS_SHARD_LS_ALL/STUCK/DISABLED)")));
    }
    let m = h.cs.meta.lock().clone();
    let mut ids: Vec<u32> = m
        .shards
        .iter()
        .filter(|s| match opc {
            DAOS_SHARD_LS_ALL => true,
            DAOS_SHARD_LS_STUCK => !s.disabled && s.committed < m.hse,
            _ => s.disabled,
        })
        .map(|s| s.id)
        .filter(|&id| anchor != DAOS_LIST_END && id as u64 >= anchor)
        .collect();
    ids.sort_unstable();
    out.fill(u32::MAX);
    let n = ids.len().min(out.len());
    out[..n].copy_from_slice(&ids[..n]);
    Ok(if n < ids.len() { ids[n] as u64 } else { DAOS_LIST_END })
}

/// Layout events since what `h` has seen, at most `cap`.
fn layout_events(h: &CoHandle, cap: usize) -> Vec<daos_shard_event> {
    let m = h.cs.meta.lock().clone();
    let seen = h.seen_layout.load(Ordering::Acquire);
    let mut evs: Vec<(u64, daos_shard_event)> = Vec::new();
    for s in &m.shards {
        let ev = |st: i32, e: u64| daos_shard_event { se_shard: s.id, se_target: s.target, se_status: st, se_epoch: daos_epoch_t { seq: e } };
        if s.added_gen > seen {
            evs.push((s.added_gen, ev(DAOS_TARGET_ST_HEALTHY, s.added_epoch)));
        }
        if s.disabled && s.disabled_gen > seen {
            evs.push((s.disabled_gen, ev(DAOS_TARGET_ST_DISABLED, s.disabled_epoch)));
        }
    }
    evs.sort_by_key(|e| e.0);
    evs.truncate(cap);
    if let Some(last) = evs.last() {
        h.seen_layout.store(last.0, Ordering::Release);
    }
    evs.into_iter().map(|e| e.1).collect()
}

/// `daos_container_listen`.
/// Errors complete the listen.
pub fn listen(cookie: u64, cap: usize, completer: Completer, deliver: Box<dyn FnOnce(Vec<daos_shard_event>) + Send>) {
    let h = match handle(cookie) {
        Ok(h) => h,
        Err(e) => {
            completer.complete(|| e.to_rc());
            return;
        }
    };
    if cap == 0 {
        completer.complete(|| -libc::EINVAL);
        return;
    }
    // Other processes' layout changes wake the listen through the container
    // file's watch.
    h.cs.watch_file();
    let mut ls = h.cs.listeners.lock();
    let evs = layout_events(&h, cap);
    if evs.is_empty() {
        ls.push(Listener { handle: h.clone(), cap, completer, deliver });
        drop(ls);
        // Catches up with changes other processes made before the listen, or
        // while it was being registered (their notification found no
        // listener): refresh completes it if they are news to this handle.
        h.cs.refresh();
        return;
    }
    drop(ls);
    completer.complete(|| {
        deliver(evs);
        0
    });
}

pub(crate) fn notify_listeners(cs: &super::CState) {
    let mut ls = cs.listeners.lock();
    let pending = std::mem::take(&mut *ls);
    let mut fire = Vec::new();
    for l in pending {
        if l.completer.is_dead() {
            continue;
        }
        let evs = layout_events(&l.handle, l.cap);
        if evs.is_empty() {
            ls.push(l);
        } else {
            fire.push((l, evs));
        }
    }
    drop(ls);
    for (l, evs) in fire {
        let Listener { completer, deliver, .. } = l;
        completer.complete(|| {
            deliver(evs);
            0
        });
    }
}

/// A layout change needs a writable epoch (> HCE, not DAOS_EPOCH_HIGHEST,
/// which no write or commit can have).
pub fn check_layout_epoch(h: &CoHandle, epoch: u64) -> Result<()> {
    h.cs.check_writable(epoch, "a layout change")
}

/// A new shard on target `t` (its directory made), with id `want` (-1: the
/// lowest not in `taken`).
fn new_shard(cs: &super::CState, now: &crate::store::StoreConf, t: u32, want: i32, taken: &[u32]) -> Result<Shard> {
    let tc = now.target(t)?;
    if crate::store::sys::target_status(now, t) < 0 {
        return Err(Error::Os { errno: libc::EIO, msg: format!("target {t} is disabled or missing") });
    }
    let id = match want {
        -1 => (0..MAX_SHARDS)
            .find(|x| !taken.contains(x))
            .ok_or_else(|| Error::Os { errno: libc::ENOSPC, msg: "no free shard id".into() })?,
        x if x < 0 || x as u32 >= MAX_SHARDS => return Err(Error::Inval(format!("shard id {x} is out of range 0..2^20-1"))),
        x if taken.contains(&(x as u32)) => {
            return Err(Error::Os { errno: libc::EEXIST, msg: format!("shard {x} already exists") })
        }
        x => x as u32,
    };
    let sh = Shard::new(id, t, shard_dir(&tc.dir, cs.uuid, id));
    sh.create_dir()?;
    Ok(sh)
}

/// `daos_shard_add`: `ids[i]` is the id wanted on `targets[i]` (-1: lowest
/// free); on return the id made or -1. Returns the first error.
pub fn shard_add(cookie: u64, epoch: u64, targets: &[u32], ids: &mut [i32]) -> Result<()> {
    let h = handle(cookie)?;
    h.need_rw("shard add")?;
    let cs = h.cs.clone();
    let _serial = cs.commit_lock.lock();
    check_layout_epoch(&h, epoch)?;
    let hce = cs.hce();
    let now = cs.store.reload(&cs.root);
    let mut taken: Vec<u32> = cs.meta.lock().shards.iter().map(|s| s.id).collect();
    let mut first_err: Option<Error> = None;
    let mut made: Vec<ShardMeta> = Vec::new();
    let mut new_shards = Vec::new();
    for (i, &t) in targets.iter().enumerate() {
        match new_shard(&cs, &now, t, ids[i], &taken) {
            Ok(sh) => {
                let id = sh.id;
                new_shards.push(sh);
                taken.push(id);
                ids[i] = id as i32;
                made.push(ShardMeta {
                    id,
                    target: t,
                    disabled: false,
                    committed: hce,
                    added_epoch: epoch,
                    disabled_epoch: 0,
                    added_gen: 0,
                    disabled_gen: 0,
                });
            }
            Err(e) => {
                ids[i] = -1;
                if first_err.is_none() {
                    first_err = Some(e);
                }
            }
        }
    }
    if !made.is_empty() {
        cs.update(|m| {
            // A sweep of litter by another process may have taken a new
            // directory for a killed shard add's (it holds the lock held
            // here): made again, under the lock, before the shard is recorded.
            for sh in new_shards.iter().filter(|sh| !sh.dir.exists()) {
                sh.create_dir()?;
            }
            for mut s in made.clone() {
                m.layout_gen += 1;
                s.added_gen = m.layout_gen;
                // An empty shard has every epoch up to HSE: a commit waiting
                // behind an epoch hold (HSE > HCE) is not held back by it.
                s.committed = m.hce.max(m.hse);
                m.shards.push(s);
            }
            m.layout_changed = m.layout_changed.max(epoch);
            Ok(())
        })?;
        let visible = {
            let m = cs.meta.lock();
            m.hce.max(m.hse).min(m.hold_cap().max(m.hce))
        };
        let mut map = cs.shards.write();
        for sh in new_shards {
            sh.set_committed(visible);
            map.insert(sh.id, Arc::new(sh));
        }
        drop(map);
        notify_listeners(&cs);
    }
    first_err.map_or(Ok(()), Err)
}

/// `daos_shard_disable`: `ids[i]` is set to -1 where disabling failed.
pub fn shard_disable(cookie: u64, epoch: u64, ids: &mut [i32]) -> Result<()> {
    let h = handle(cookie)?;
    h.need_rw("shard disable")?;
    let cs = h.cs.clone();
    let _serial = cs.commit_lock.lock();
    check_layout_epoch(&h, epoch)?;
    let m = cs.meta.lock().clone();
    let mut first_err = None;
    let mut todo = Vec::new();
    for id in ids.iter_mut() {
        match m.shards.iter().find(|s| *id >= 0 && s.id == *id as u32) {
            Some(s) => {
                if !s.disabled {
                    todo.push(s.id);
                }
            }
            None => {
                if first_err.is_none() {
                    first_err = Some(Error::NoEnt(format!("shard {id} does not exist")));
                }
                *id = -1;
            }
        }
    }
    if !todo.is_empty() {
        cs.update(|m| {
            for id in &todo {
                m.layout_gen += 1;
                let g = m.layout_gen;
                if let Some(s) = m.shard_mut(*id) {
                    s.disabled = true;
                    s.disabled_epoch = epoch;
                    s.disabled_gen = g;
                }
            }
            m.layout_changed = m.layout_changed.max(epoch);
            let floor = m.hce;
            m.hce = m.compute_hce(floor).min(m.hold_cap()).max(floor);
            Ok(())
        })?;
        for id in &todo {
            if let Some(sh) = cs.shard(*id) {
                sh.disabled.store(true, Ordering::Release);
            }
        }
        notify_listeners(&cs);
        super::epoch::notify_waiters(&cs);
    }
    first_err.map_or(Ok(()), Err)
}

/// The epoch a shard call reads at, checked against the oldest readable one.
pub fn read_epoch(m: &Meta, e: u64) -> Result<u64> {
    if e != u64::MAX && !m.readable(e) {
        return Err(Error::Os {
            errno: libc::ESTALE,
            msg: format!("epoch {e} is older than the oldest readable epoch {}", m.oldest),
        });
    }
    Ok(e)
}

/// `daos_shard_query`: (epoch, info).
pub fn shard_query(cookie: u64, epoch: u64, shard: u32) -> Result<(u64, daos_shard_info)> {
    let h = handle(cookie)?;
    h.cs.refresh();
    let m = h.cs.meta.lock().clone();
    let sm = m.shard(shard).ok_or_else(|| Error::NoEnt(format!("shard {shard} does not exist")))?.clone();
    let sh = h.cs.existing_shard(shard)?;
    let e = if epoch == u64::MAX || epoch > sm.committed { sm.committed } else { read_epoch(&m, epoch)? };
    sh.check_readable()?;
    let now = h.cs.store.reload(&h.cs.root);
    let tc = now.target(sm.target)?;
    let mut info = daos_shard_info {
        sai_target: sm.target,
        sai_type: crate::store::sys::device_type(&tc.dir),
        sai_status: if sm.disabled {
            DAOS_TARGET_ST_DISABLED
        } else {
            crate::store::sys::target_status(&now, sm.target)
        },
        sai_location: crate::store::sys::target_loc(tc.loc),
        ..Default::default()
    };
    let ix = sh.index.read();
    for oid in ix.oids() {
        let b = ix.data_bytes(oid, |x| sh.visible(x, e));
        if b > 0 {
            info.sai_space.sai_nobjs += 1;
            info.sai_space.sai_used += b;
        }
    }
    Ok((e, info))
}

/// `daos_shard_list_obj`: non-empty objects at `epoch` with id >= `anchor`.
pub fn list_obj(cookie: u64, epoch: u64, shard: u32, anchor: u64, out: &mut [daos_obj_id_t]) -> Result<u64> {
    let h = handle(cookie)?;
    let m = h.cs.meta.lock().clone();
    let e = read_epoch(&m, epoch)?;
    let sh = h.cs.live_shard(shard as u64)?;
    sh.check_readable()?;
    let ix = sh.index.read();
    let mut found = Vec::new();
    let mut next = DAOS_LIST_END;
    if anchor != DAOS_LIST_END {
        for oid in ix.oids().into_iter().filter(|&o| o >= anchor) {
            if ix.data_bytes(oid, |x| sh.visible(x, e)) == 0 {
                continue;
            }
            if found.len() == out.len() {
                next = oid;
                break;
            }
            found.push(oid);
        }
    }
    drop(ix);
    out.fill(daos_obj_id_t { o_id_hi: u64::MAX, o_id_lo: u64::MAX });
    for (o, id) in out.iter_mut().zip(found) {
        *o = daos_obj_id_t { o_id_hi: shard as u64, o_id_lo: id };
    }
    Ok(next)
}

/// `daos_container_snapshot`: a new container at `path` with the content of
/// this one at `epoch`, sharing its data files by hard links.
pub fn snapshot(cookie: u64, epoch: u64, path: &Path) -> Result<()> {
    let h = handle(cookie)?;
    let cs = h.cs.clone();
    let _serial = cs.commit_lock.lock();
    let m = cs.meta.lock().clone();
    if epoch > m.hce {
        return Err(Error::Inval(format!("epoch {epoch} is above HCE {}: not committed", m.hce)));
    }
    read_epoch(&m, epoch)?;
    let path = super::abs_path(path)?;
    let root = crate::store::find_root(path.parent().unwrap_or(Path::new("/")))?;
    if root != cs.root {
        return Err(Error::Inval(format!("{} is not in the container's store", path.display())));
    }
    super::check_container_place(&path, &root, &cs.store)?;
    if path.exists() {
        return Err(Error::Os { errno: libc::EEXIST, msg: format!("{} exists", path.display()) });
    }
    let uuid = [crate::base::os::random_u64(), crate::base::os::random_u64()];
    let mut n = Meta {
        uuid,
        store: m.store,
        seq: 1,
        hce: epoch,
        hse: epoch,
        oldest: m.oldest,
        layout_changed: m.layout_changed.min(epoch),
        layout_gen: 0,
        // A snapshot has the container's properties (its chunk checksums are copied).
        flags: m.flags,
        ..Default::default()
    };
    let mut made_dirs = Vec::new();
    let res = (|| -> Result<()> {
        for s in m.shards.iter().filter(|s| !s.disabled) {
            let tdir = cs.target_dir(s.target).ok_or_else(|| Error::NoEnt(format!("target {}", s.target)))?;
            let src = shard_dir(tdir, m.uuid, s.id);
            let dst = shard_dir(tdir, uuid, s.id);
            let sh = Shard::new(s.id, s.target, dst.clone());
            sh.create_dir()?;
            made_dirs.push(crate::shard::container_dir(tdir, uuid));
            for g in m.segs.iter().filter(|g| g.shard == s.id && g.committed_len > 0) {
                let (sd, sj) = seg_paths(&src, g.seg);
                let (dd, dj) = seg_paths(&dst, g.seg);
                for (a, b) in [(sd, dd), (sj, dj)] {
                    std::fs::hard_link(&a, &b).map_err(|e| crate::base::fs::io_err(e, format!("link {}", a.display())))?;
                }
                let mut g2 = g.clone();
                g2.sealed = g.sealed.min(epoch);
                n.segs.push(g2);
                n.voids.extend(m.voids.iter().filter(|v| v.shard == s.id && v.seg == g.seg).cloned());
            }
            crate::base::fs::fsync_dir(&dst)?;
            let mut s2 = s.clone();
            s2.committed = epoch;
            n.layout_gen += 1;
            s2.added_gen = n.layout_gen;
            s2.disabled_gen = 0;
            n.shards.push(s2);
        }
        link_new(&path, &n.encode_file_for(&path))
    })();
    if res.is_err() {
        for d in made_dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    res
}
