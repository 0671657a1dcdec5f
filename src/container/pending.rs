//! A commit written pending (see [`meta::Pending`]) by a process that ran
//! before the machine last started: whether the data it publishes reached
//! the disk, which decides whether it is kept.

use std::os::unix::fs::FileExt;

use crate::shard::journal::{self, Parsed, HEADER, KIND_WRITE};

use crate::error::Result;

use super::*;

/// Whether every journal record the commit `p` publishes beyond what `prev`
/// (the metadata before it) published is on disk whole, and the data of
/// each write among them matches its chunk checksums. Reads only those
/// records and that data (one commit's).
fn durable(store: &StoreConf, path: &std::path::Path, prev: &Meta, p: &Meta) -> bool {
    for s in &p.segs {
        let from = prev.seg(s.shard, s.seg).map_or(HEADER, |x| x.committed_len.max(HEADER));
        if s.committed_len <= from {
            continue;
        }
        if let Err(why) = segment_durable(store, p, s.shard, s.seg, from, s.committed_len) {
            crate::log!(Info, "container {}: shard {} segment {:016x}: {why}", path.display(), s.shard, s.seg);
            return false;
        }
    }
    true
}

/// Settles a commit left pending in the container file at `path` when the
/// machine stopped, if there is one, before the file is used (open): under
/// the container's lock, the file is replaced by one holding the commit if
/// its data is on disk ([`durable`]), or the metadata before it if not.
pub(crate) fn settle(path: &std::path::Path, root: &std::path::Path, store: &StoreConf) -> Result<()> {
    let pending_of = |l: &(meta::Loaded, Option<meta::Tail>)| l.1.as_ref().and_then(|t| t.pending.as_ref()).is_some_and(|p| p.other_boot);
    let (meta::Loaded::Ok(d), _) = ({
        let l = Meta::load_tail(path)?;
        if !pending_of(&l) {
            return Ok(());
        }
        l
    }) else {
        return Ok(());
    };
    let _lock = FileLock::acquire(&files::lock_file(root, d.uuid))?;
    let (loaded, tail) = Meta::load_tail(path)?;
    let (meta::Loaded::Ok(d), Some(mut tail)) = (loaded, tail) else { return Ok(()) };
    let Some(p) = tail.pending.take().filter(|p| p.other_boot) else { return Ok(()) };
    outcome(store, path, d, p).save_to(path, Some(&tail), true)
}

/// The metadata after the pending commit `p` left when the machine stopped,
/// `d` being the metadata before it: `p`'s if its data is on disk
/// ([`durable`]), else `d`.
pub(crate) fn outcome(store: &StoreConf, path: &std::path::Path, d: Meta, p: meta::Pending) -> Meta {
    if durable(store, path, &d, &p.meta) {
        crate::log!(Info, "container {}: a commit written before the machine restarted has its data: kept", path.display());
        p.meta
    } else {
        crate::log!(Warn, "container {}: a commit under way when the machine stopped lacks its data: dropped", path.display());
        d
    }
}

/// The journal records in `[from, to)` of segment `seg` of shard `shard`
/// are whole and the data of their writes matches its checksums.
fn segment_durable(store: &StoreConf, p: &Meta, shard: u32, seg: u64, from: u64, to: u64) -> std::result::Result<(), String> {
    let target = p.shard(shard).ok_or("not in the layout")?.target;
    let dir = store.target(target).map_err(|e| e.to_string())?.dir.clone();
    let (dat, jnl) = crate::shard::seg_paths(&shard_dir(&dir, p.uuid, shard), seg);
    let open = |p: &std::path::Path| std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()));
    let (dat, jnl) = (open(&dat)?, open(&jnl)?);
    let version = crate::shard::journal_file_version(&jnl, shard, seg).map_err(|e| e.to_string())?;
    let mut b = vec![0u8; (to - from) as usize];
    jnl.read_exact_at(&mut b, from).map_err(|e| format!("journal [{from}, {to}): {e}"))?;
    let mut at = 0;
    while let Some((rec, n)) = journal::parse(&b[at..], version) {
        let Parsed::Ok(r, crcs) = rec else { return Err(format!("journal record at {} is damaged", from + at as u64)) };
        if r.kind == KIND_WRITE {
            let mut data = vec![0u8; r.len as usize];
            dat.read_exact_at(&mut data, r.data_off).map_err(|e| format!("data at {}: {e}", r.data_off))?;
            let mut ck = journal::ChunkCrcs::new(r.len);
            ck.feed(&data);
            let got = ck.finish();
            let want = crcs.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap()));
            if got.len() != crcs.len() / 4 || !got.iter().copied().eq(want) {
                return Err(format!("data at {} does not match its checksums", r.data_off));
            }
        }
        at += n;
    }
    Ok(())
}
