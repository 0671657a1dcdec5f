//! Space reclamation after aggregation: a sealed segment whose live data
//! (extents still in the index) has fallen below half of what it holds is
//! rewritten: its live extents are copied, whole (so their checksums stay
//! valid), into a new segment, which replaces it in the metadata with one
//! update; the index is repointed and the old files are unlinked. Runs on a
//! background thread. Readers are never blocked for longer than one index
//! update, and a read already in flight keeps the old files open.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::meta::UNSEALED;
use super::CState;
use crate::error::Result;
use crate::shard::index::{Ext, NO_SEG, PUBLISHED};
use crate::shard::journal::{Record, HEADER, KIND_PUNCH, KIND_WRITE};
use crate::shard::{seg_paths, SegFile, Shard};
use crate::base::fs::io_err;

/// Starts background aggregation of `cs` (indexes, then, for a container
/// this process writes, the oldest epoch on disk and compaction), if none is
/// running; a running one goes round again if the oldest epoch moved.
pub fn spawn(cs: &Arc<CState>) {
    use std::sync::atomic::Ordering;
    if cs.compacting.swap(true, Ordering::AcqRel) {
        return;
    }
    let cs = cs.clone();
    let r = std::thread::Builder::new().name("daos-rs-aggregate".into()).spawn(move || {
        loop {
            let upto = super::epoch::aggregate_indexes(&cs);
            // (An unlinked container's space goes as a whole at the last close.)
            if cs.writable.load(Ordering::Acquire) && !cs.unlinked.load(Ordering::Acquire) {
                // The oldest epoch is on disk before any old data goes.
                let r = {
                    let _serial = cs.commit_lock.lock();
                    cs.update(|_| Ok(()))
                };
                match r.and_then(|_| compact(&cs)) {
                    Ok(_) => {}
                    Err(e) => crate::log!(Warn, "space reclamation of {} stopped: {e}", cs.path.display()),
                }
            }
            cs.compacting.store(false, Ordering::Release);
            if cs.meta.lock().oldest == upto || cs.compacting.swap(true, Ordering::AcqRel) {
                break;
            }
        }
        // A last close during the compaction left this process registered
        // (see `CState::release`): it goes now.
        if cs.refs.lock().is_empty() {
            cs.release();
        }
    });
    if let Err(e) = r {
        crate::log!(Warn, "could not start aggregation: {e}");
    }
}

/// Segments that live writers of this process still append to.
pub(crate) fn live_segments(cs: &CState) -> HashSet<u64> {
    let mut live = HashSet::new();
    for h in cs.open_handles() {
        for segs in h.writer.lock().shards.values() {
            live.extend(segs.iter().map(|s| s.file.id));
        }
    }
    live
}

/// Compacts every shard of `cs` once.
pub fn compact(cs: &Arc<CState>) -> Result<usize> {
    let shards: Vec<Arc<Shard>> = cs.shards.read().values().cloned().collect();
    let mut n = 0;
    for sh in shards {
        // (A damaged journal stays as it is: its damage must keep showing.)
        if !sh.is_disabled() && !sh.damaged.load(std::sync::atomic::Ordering::Acquire) {
            n += compact_shard(cs, &sh)?;
        }
    }
    Ok(n)
}

/// Live extent of a candidate segment: (object, offset, stamp, extent).
type Live = (u64, u64, u64, Ext);

fn compact_shard(cs: &Arc<CState>, sh: &Arc<Shard>) -> Result<usize> {
    let Some((victims, live)) = choose_victims(cs, sh) else { return Ok(0) };
    let (nf, moved, jlen) = copy_live(cs, sh, &victims, &live)?;
    let gone: Vec<u64> = victims.iter().map(|v| v.0).collect();
    {
        let _serial = cs.commit_lock.lock();
        let mut raced = false;
        let r = cs.update(|m| {
            if gone.iter().any(|g| !m.segs.iter().any(|s| s.shard == sh.id && s.seg == *g)) {
                raced = true;
                return Err(crate::error::Error::Os { errno: libc::ESTALE, msg: "compacted meanwhile".into() });
            }
            let hse = m.hse;
            m.segs.retain(|s| !(s.shard == sh.id && gone.contains(&s.seg)));
            m.voids.retain(|v| !(v.shard == sh.id && gone.contains(&v.seg)));
            let s = m.seg_mut(sh.id, nf.id);
            s.committed_len = jlen;
            s.sealed = hse;
            // Every record copied is committed.
            s.upto = hse;
            s.max_pub = hse;
            Ok(())
        });
        if raced {
            // Another process compacted some of them first: its copy stands,
            // this one goes.
            let (d, j) = seg_paths(&sh.dir, nf.id);
            let _ = std::fs::remove_file(d);
            let _ = std::fs::remove_file(j);
            crate::log!(Debug, "shard {}: segments compacted meanwhile by another process; {:016x} dropped", sh.id, nf.id);
            return Ok(0);
        }
        r?;
        move_index(sh, moved, &victims);
    }
    sh.mark_applied(nf.id, jlen);
    for seg in &gone {
        let (d, j) = seg_paths(&sh.dir, *seg);
        let _ = std::fs::remove_file(d);
        let _ = std::fs::remove_file(j);
    }
    let _ = crate::base::fs::fsync_dir(&sh.dir);
    crate::log!(Debug, "shard {}: {} segments compacted into {:016x}", sh.id, gone.len(), nf.id);
    Ok(gone.len())
}

/// The segments of `sh` worth compacting (sealed, not a live writer's, all
/// replayed, less than half live) with the live extents of the candidates;
/// `None` if there are none.
fn choose_victims(cs: &Arc<CState>, sh: &Arc<Shard>) -> Option<(Vec<(u64, u32)>, BTreeMap<u32, Vec<Live>>)> {
    let live_writers = live_segments(cs);
    let meta = cs.meta.lock().clone();
    // Candidates: sealed segments of this shard, not written by a live
    // writer, whose published records are all in the index (the metadata may
    // be newer than the replay: another process's last commit before it
    // sealed its segment).
    let cands: Vec<(u64, u32)> = meta
        .segs
        .iter()
        .filter(|s| s.shard == sh.id && s.sealed != UNSEALED && !live_writers.contains(&s.seg))
        .filter(|s| sh.applied_len(s.seg) >= s.committed_len)
        .filter_map(|s| sh.seg_index(s.seg).map(|i| (s.seg, i)))
        .collect();
    if cands.is_empty() {
        return None;
    }
    // Live extents per candidate.
    let mut live: BTreeMap<u32, Vec<Live>> = BTreeMap::new();
    {
        let ix = sh.index.read();
        ix.for_each(|oid, off, stamp, e| {
            // A punch lives in the journal of the segment its `data_off` names.
            let home = if e.seg == NO_SEG { e.data_off as u32 } else { e.seg };
            if e.owner == PUBLISHED && cands.iter().any(|c| c.1 == home) {
                live.entry(home).or_default().push((oid, off, stamp, *e));
            }
        });
    }
    let mut victims = Vec::new();
    for &(seg, idx) in &cands {
        let Some(f) = sh.seg(idx) else { continue };
        let size = f.dat.metadata().map(|m| m.len()).unwrap_or(0).saturating_sub(HEADER);
        let used: u64 = live.get(&idx).map_or(0, |v| v.iter().filter(|x| x.3.seg != NO_SEG).map(|x| x.3.len).sum());
        if size > 0 && used * 2 < size {
            victims.push((seg, idx));
        }
    }
    if victims.is_empty() {
        return None;
    }
    Some((victims, live))
}

/// Copies the live extents of `victims` into a new segment of `sh`, made
/// durable: returns it, the extents at their new places and its journal
/// length.
fn copy_live(
    cs: &Arc<CState>,
    sh: &Arc<Shard>,
    victims: &[(u64, u32)],
    live: &BTreeMap<u32, Vec<Live>>,
) -> Result<(Arc<SegFile>, Vec<Live>, u64)> {
    let (new_idx, nf) = sh.create_seg(cs.uuid)?;
    let (mut dpos, mut jbuf) = (HEADER, Vec::new());
    let mut moved: Vec<Live> = Vec::new();
    let crcs_of = |e: &Ext| -> Vec<u32> {
        let ix = sh.index.read();
        (0..crate::shard::journal::nchunks(e.len)).map(|c| ix.crc(e.csum as u64 + c)).collect()
    };
    for &(_, idx) in victims {
        let Some(old) = sh.seg(idx) else { continue };
        for &(oid, off, stamp, e) in live.get(&idx).map(|v| &v[..]).unwrap_or(&[]) {
            if e.seg == NO_SEG {
                let r = Record { kind: KIND_PUNCH, oid, epoch: e.epoch, off, len: e.len, data_off: 0, stamp, crcs: Vec::new() };
                r.encode_into(&mut jbuf);
                moved.push((oid, off, stamp, Ext { data_off: new_idx as u64, ..e }));
                continue;
            }
            let mut buf = vec![0u8; e.len as usize];
            old.dat.read_exact_at(&mut buf, e.data_off).map_err(|er| io_err(er, "compaction read"))?;
            nf.dat.write_all_at(&buf, dpos).map_err(|er| io_err(er, "compaction write"))?;
            let r = Record { kind: KIND_WRITE, oid, epoch: e.epoch, off, len: e.len, data_off: dpos, stamp, crcs: crcs_of(&e) };
            r.encode_into(&mut jbuf);
            moved.push((oid, off, stamp, Ext { data_off: dpos, seg: new_idx, ..e }));
            dpos += e.len;
        }
    }
    nf.jnl.write_all_at(&jbuf, HEADER).map_err(|er| io_err(er, "compaction journal"))?;
    nf.dat.sync_data().map_err(|er| io_err(er, "compaction fsync"))?;
    nf.jnl.sync_data().map_err(|er| io_err(er, "compaction fsync"))?;
    let jlen = HEADER + jbuf.len() as u64;
    Ok((nf, moved, jlen))
}

/// Points the index at the copies of the extents moved out of `victims`
/// (an extent changed meanwhile stays as it is).
fn move_index(sh: &Shard, moved: Vec<Live>, victims: &[(u64, u32)]) {
    let mut ix = sh.index.write();
    let mut by_obj: BTreeMap<u64, Vec<(u64, u64, Ext)>> = BTreeMap::new();
    for (oid, off, stamp, e) in moved {
        by_obj.entry(oid).or_default().push((off, stamp, e));
    }
    for (oid, list) in by_obj {
        for (off, stamp, n) in list {
            ix.update_keys(oid, &[(off, stamp)], |cur| {
                // Only an extent still in an old segment moves.
                let home = if cur.seg == NO_SEG { cur.data_off as u32 } else { cur.seg };
                if victims.iter().any(|v| v.1 == home) {
                    Some(Ext { owner: cur.owner, ..n })
                } else {
                    Some(*cur)
                }
            });
        }
    }
}
