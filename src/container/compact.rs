//! Space reclamation after aggregation, and merging. A sealed segment whose
//! live data (extents still in the index) has fallen below half of what it
//! takes is rewritten: its live extents are copied, whole (so their
//! checksums stay valid), into a new segment, which replaces it in the
//! metadata with one update; the index is repointed, the old files closed
//! and unlinked. Sealed segments of similar sizes are merged the same way
//! (every version kept), so writers that never slip do not leave two files
//! per session. Runs on a background thread (after a slip, and at the close
//! of a writing handle). Readers are never blocked for longer than one index
//! update, and a read already in flight keeps the old files open. Other
//! processes close the old files when they see the new metadata
//! (`CState::catch_up`).

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
/// this process writes, the oldest epoch on disk, compaction and merging),
/// if none is running; a running one goes round again (the oldest epoch
/// moved, or segments were sealed meanwhile).
pub fn spawn(cs: &Arc<CState>) {
    use std::sync::atomic::Ordering;
    // (Set before looking: a running pass that ends meanwhile goes round
    // again, or this call starts one.)
    cs.compact_again.store(true, Ordering::Release);
    if cs.compacting.swap(true, Ordering::AcqRel) {
        return;
    }
    let state = cs.clone();
    let r = std::thread::Builder::new().name("daos-rs-aggregate".into()).spawn(move || {
        let cs = state;
        loop {
            cs.compact_again.store(false, Ordering::Release);
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
            let again = cs.meta.lock().oldest != upto || cs.compact_again.load(Ordering::Acquire);
            if !again || cs.compacting.swap(true, Ordering::AcqRel) {
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
        // (Else the next close, which waits for it, would wait forever.)
        cs.compacting.store(false, Ordering::Release);
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

/// Segments to rewrite (id, local index), with the live extents of each
/// candidate by local index.
type Victims = (Vec<(u64, u32)>, BTreeMap<u32, Vec<Live>>);

/// Segment sizes below this count as this size when merging.
const MERGE_UNIT: u64 = 64 << 10;
/// Segments of this size or more are not merged (their count is small
/// beside the data they hold).
const MERGE_MAX: u64 = 64 << 20;
/// Most segments merged into one at a time.
const MERGE_MOST: usize = 32;

fn compact_shard(cs: &Arc<CState>, sh: &Arc<Shard>) -> Result<usize> {
    let mut n = 0;
    // (Bounded: each round removes segments, but another process may keep
    // winning the race for them.)
    for _ in 0..64 {
        let Some((victims, live)) = choose_victims(cs, sh) else { break };
        match rewrite(cs, sh, &victims, &live)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Replaces `victims` by one new segment holding their live extents (none
/// if they have none): written and made durable first, then published in
/// one metadata update, and only then are the old files closed and
/// removed, so a kill at any point loses nothing. Returns how many
/// segments went.
fn rewrite(cs: &Arc<CState>, sh: &Arc<Shard>, victims: &[(u64, u32)], live: &BTreeMap<u32, Vec<Live>>) -> Result<usize> {
    let any = victims.iter().any(|v| live.get(&v.1).is_some_and(|l| !l.is_empty()));
    let copy = if any { Some(copy_live(cs, sh, victims, live)?) } else { None };
    // Its records are in the index already (as the victims'): a replay that
    // sees it in the metadata must not add them again.
    if let Some((nf, _, jlen)) = &copy {
        sh.mark_applied(nf.id, *jlen);
    }
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
            if let Some((nf, _, jlen)) = &copy {
                let s = m.seg_mut(sh.id, nf.id);
                s.committed_len = *jlen;
                s.sealed = hse;
                // Every record copied is committed.
                s.upto = hse;
                s.max_pub = hse;
            }
            Ok(())
        });
        if raced {
            // Another process compacted some of them first: its copy stands,
            // this one goes.
            if let Some((nf, _, _)) = &copy {
                sh.forget_segs(&[nf.id]);
                let (d, j) = seg_paths(&sh.dir, nf.id);
                let _ = std::fs::remove_file(d);
                let _ = std::fs::remove_file(j);
                crate::log!(Debug, "shard {}: segments compacted meanwhile by another process; {:016x} dropped", sh.id, nf.id);
            }
            return Ok(0);
        }
        r?;
        if let Some((_, moved, _)) = &copy {
            move_index(sh, moved.clone(), victims);
        }
    }
    // Their files close here (a read in flight keeps its own reference).
    sh.forget_segs(&gone);
    for seg in &gone {
        let (d, j) = seg_paths(&sh.dir, *seg);
        let _ = std::fs::remove_file(d);
        let _ = std::fs::remove_file(j);
    }
    let _ = crate::base::fs::fsync_dir(&sh.dir);
    match &copy {
        Some((nf, _, _)) => crate::log!(Debug, "shard {}: {} segments compacted into {:016x}", sh.id, gone.len(), nf.id),
        None => crate::log!(Debug, "shard {}: {} segments without live data removed", sh.id, gone.len()),
    }
    Ok(gone.len())
}

/// Bytes a segment's data file takes on disk beyond its header (the hole
/// before a writer's data costs nothing).
fn data_bytes(f: &SegFile) -> u64 {
    use std::os::unix::fs::MetadataExt;
    f.dat.metadata().map_or(0, |m| (m.blocks() * 512).saturating_sub(HEADER))
}

/// The segments of `sh` worth rewriting, with the live extents of the
/// candidates (sealed, not a live writer's, all replayed), or `None`:
/// - those whose live data fell below half of what they take, by 64 KiB at
///   least (a copy takes whole blocks too), or that have none (compaction);
/// - else, the smallest tier (sizes within a factor of 4) that holds two or
///   more segments: they are merged into one, every version kept, so the
///   sessions of writers that never slip leave a few files, not two each
///   (at most about 2 log4(total / 64 KiB) segments below 64 MiB, each byte
///   copied about log4 of that many times).
fn choose_victims(cs: &Arc<CState>, sh: &Arc<Shard>) -> Option<Victims> {
    let live_writers = live_segments(cs);
    let meta = cs.meta.lock().clone();
    // Candidates: sealed segments of this shard, not written by a live
    // writer, whose published records are all in the index (the metadata may
    // be newer than the replay: another process's last commit before it
    // sealed its segment).
    let cands: Vec<(u64, u32, u64)> = meta
        .segs
        .iter()
        .filter(|s| s.shard == sh.id && s.sealed != UNSEALED && !live_writers.contains(&s.seg))
        .filter(|s| sh.applied_len(s.seg) >= s.committed_len)
        .filter_map(|s| sh.seg_index(s.seg).map(|i| (s.seg, i, s.committed_len)))
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
    let mut sizes = Vec::new();
    for &(seg, idx, jlen) in &cands {
        let Some(f) = sh.seg(idx) else { continue };
        let size = data_bytes(&f);
        let used: u64 = live.get(&idx).map_or(0, |v| v.iter().filter(|x| x.3.seg != NO_SEG).map(|x| x.3.len).sum());
        if used * 2 + MERGE_UNIT <= size || !live.contains_key(&idx) {
            victims.push((seg, idx));
        } else {
            sizes.push((seg, idx, used + jlen));
        }
    }
    if victims.is_empty() && crate::base::config::merge_enabled() {
        victims = merge_tier(&sizes);
    }
    if victims.is_empty() {
        return None;
    }
    Some((victims, live))
}

/// The segments to merge among `sizes` (segment, index, bytes): the
/// smallest tier with two or more, or none.
fn merge_tier(sizes: &[(u64, u32, u64)]) -> Vec<(u64, u32)> {
    let tier = |b: u64| (b.max(MERGE_UNIT) / MERGE_UNIT).ilog2() / 2;
    let mut tiers: BTreeMap<u32, Vec<(u64, u32)>> = BTreeMap::new();
    for &(seg, idx, b) in sizes.iter().filter(|x| x.2 < MERGE_MAX) {
        tiers.entry(tier(b)).or_default().push((seg, idx));
    }
    tiers.into_values().find(|v| v.len() >= 2).map(|mut v| {
        v.truncate(MERGE_MOST);
        v
    }).unwrap_or_default()
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
