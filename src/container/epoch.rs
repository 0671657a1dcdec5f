//! Epochs (SPEC §8): commit, abort, slip, wait and query, plus sealing a
//! writer at close and aggregation.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::meta::{Meta, VoidMeta, UNSEALED};
use super::collective::Role;
use super::{handle, CState, CoHandle, Waiter};
use crate::error::{Error, Result};
use crate::event::{self, Completer, Op, Submit};
use crate::engine::Req;
use crate::abi::types::*;
use crate::shard::index::{Ext, PUBLISHED};
use crate::shard::journal::HEADER;
use super::writer::Staged;
use crate::shard::SegFile;

/// `daos_epoch_info` of a handle.
pub fn query_epoch(cookie: u64) -> Result<daos_epoch_info> {
    let h = handle(cookie)?;
    h.cs.refresh();
    let m = h.cs.meta.lock();
    let slipped = h.cs.refs.lock().get(&cookie).copied().unwrap_or(m.hce);
    Ok(daos_epoch_info {
        epi_hce: daos_epoch_t { seq: m.hce },
        epi_hce_oldest: daos_epoch_t { seq: m.oldest },
        epi_hce_slipped: daos_epoch_t { seq: slipped },
        epi_hse: daos_epoch_t { seq: m.hse },
        epi_layout_changed: daos_epoch_t { seq: m.layout_changed },
    })
}

/// Requests one operation may tell apart (its tags are 8 bits).
const FSYNC_BATCH: usize = 256;

/// Fsyncs a set of files in parallel on this thread's private ring (up to
/// 256 at a time); returns each file's result (0 or -errno) in order.
pub fn fsync_all(files: Vec<Arc<SegFile>>, jnl: Vec<bool>) -> Vec<i32> {
    let mut out = Vec::with_capacity(files.len());
    for (f, j) in files.chunks(FSYNC_BATCH).zip(jnl.chunks(FSYNC_BATCH)) {
        out.extend(fsync_batch(f.to_vec(), j.to_vec()));
    }
    out
}

fn fsync_batch(files: Vec<Arc<SegFile>>, jnl: Vec<bool>) -> Vec<i32> {
    fsync_start(files, jnl, false).finish()
}

/// Fsyncs of segment files under way (see [`fsync_start`]).
struct Fsyncing {
    n: usize,
    started: std::result::Result<Option<event::Beside>, i32>,
    res: Arc<parking_lot::Mutex<Vec<i32>>>,
}

impl Fsyncing {
    /// Waits for the fsyncs; each file's result (0 or -errno) in order.
    fn finish(self) -> Vec<i32> {
        match self.started {
            Err(rc) => return vec![rc; self.n],
            Ok(Some(b)) => {
                if let Err(e) = b.wait() {
                    return vec![e.to_rc(); self.n];
                }
            }
            Ok(None) => {}
        }
        let r = self.res.lock().clone();
        r.into_iter().map(|v| if v == 1 { -libc::EIO } else { v }).collect()
    }
}

/// Starts fsyncs of up to 256 files in parallel on this thread's private
/// ring; `beside`: returns at once, the fsyncs running while the thread goes
/// on ([`event::start_beside`]), else when they are done.
fn fsync_start(files: Vec<Arc<SegFile>>, jnl: Vec<bool>, beside: bool) -> Fsyncing {
    struct FsyncOp {
        files: Vec<Arc<SegFile>>,
        jnl: Vec<bool>,
        res: Arc<parking_lot::Mutex<Vec<i32>>>,
    }
    impl Op for FsyncOp {
        fn ev_type(&self) -> daos_ev_type_t {
            DAOS_EV_EP_COMMIT
        }
        fn start(&mut self, sub: &mut Submit<'_>) -> Result<()> {
            for (i, f) in self.files.iter().enumerate() {
                let fd = if self.jnl[i] { &f.jnl } else { &f.dat };
                sub.push(i as u8, Req::Fsync { fd: std::os::fd::AsRawFd::as_raw_fd(fd) })?;
            }
            Ok(())
        }
        fn on_cqe(&mut self, tag: u8, res: i32, _sub: &mut Submit<'_>) {
            let res = match crate::base::failpoint::hit("fsync") {
                Some(crate::base::failpoint::Fault::NoSpace) => -libc::ENOSPC,
                Some(_) => -libc::EIO,
                None => res,
            };
            if let Some(slot) = self.res.lock().get_mut(tag as usize) {
                *slot = res.min(0);
            }
        }
        fn result(&self, _aborted: bool) -> i32 {
            0
        }
    }
    let n = files.len();
    debug_assert!(n <= FSYNC_BATCH);
    let res = Arc::new(parking_lot::Mutex::new(vec![1i32; n]));
    if n == 0 {
        return Fsyncing { n, started: Ok(None), res };
    }
    let op = Box::new(FsyncOp { files, jnl, res: res.clone() });
    let started = if beside {
        event::start_beside(op).map(Some)
    } else {
        event::run_op(None, op).map(|()| None)
    };
    Fsyncing { n, started: started.map_err(|e| e.to_rc()), res }
}

/// Fsyncs this handle's segments on `only` (or every shard); returns per
/// shard the journal lengths made durable, or the error.
/// Per shard: the (segment, durable journal length) pairs, or the error.
type Flushed = BTreeMap<u32, std::result::Result<Vec<(u64, u64)>, i32>>;

fn flush_writer(h: &CoHandle, only: Option<u32>) -> Flushed {
    start_flush(h, only, false).finish()
}

/// A flush of a handle's segments under way (see [`start_flush`]).
struct Flushing {
    plan: Vec<(u32, u64, u64, usize)>,
    fsyncs: std::result::Result<Fsyncing, (Vec<Arc<SegFile>>, Vec<bool>)>,
}

impl Flushing {
    /// What the flush makes durable if it goes well.
    fn planned(&self) -> Flushed {
        let mut out: Flushed = BTreeMap::new();
        for &(shard, seg, done, _) in &self.plan {
            if let Ok(v) = out.entry(shard).or_insert(Ok(Vec::new())) {
                v.push((seg, done));
            }
        }
        out
    }

    /// Waits for the flush; per shard, what it made durable.
    fn finish(self) -> Flushed {
        let res = match self.fsyncs {
            Ok(f) => f.finish(),
            Err((files, jnl)) => fsync_all(files, jnl),
        };
        let mut out: Flushed = BTreeMap::new();
        for (shard, seg, done, i) in self.plan {
            let r = if res[i] < 0 { res[i] } else { res[i + 1] };
            let e = out.entry(shard).or_insert(Ok(Vec::new()));
            match (r, e) {
                (r, e) if r < 0 && e.is_ok() => *e = Err(r),
                (r, Ok(v)) if r >= 0 => v.push((seg, done)),
                _ => {}
            }
        }
        out
    }
}

/// Starts fsyncing this handle's segments on `only` (or every shard):
/// `beside` (a commit), the fsyncs run while the thread goes on until
/// [`Flushing::finish`] (if they fit in one batch).
fn start_flush(h: &CoHandle, only: Option<u32>, beside: bool) -> Flushing {
    let mut files = Vec::new();
    let mut jnl = Vec::new();
    let mut plan: Vec<(u32, u64, u64, usize)> = Vec::new();
    {
        let w = h.writer.lock();
        for (&shard, segs) in &w.shards {
            if only.is_some_and(|o| o != shard) {
                continue;
            }
            for s in segs {
                plan.push((shard, s.file.id, s.done, files.len()));
                files.push(s.file.clone());
                jnl.push(false);
                files.push(s.file.clone());
                jnl.push(true);
            }
        }
    }
    let fsyncs = if files.len() <= FSYNC_BATCH { Ok(fsync_start(files, jnl, beside)) } else { Err((files, jnl)) };
    Flushing { plan, fsyncs }
}

/// `daos_container_flush` / `daos_shard_flush`: this handle's writes durable.
pub fn flush(cookie: u64, only: Option<u32>) -> Result<()> {
    let h = handle(cookie)?;
    if let Some(s) = only {
        h.cs.existing_shard(s)?;
    }
    let flushed = flush_writer(&h, only);
    for (shard, r) in &flushed {
        if let Err(rc) = r {
            return Err(Error::Os { errno: -rc, msg: format!("flush of shard {shard} failed") });
        }
    }
    // A peer tells its master what is durable now, for the master's commit.
    if let Role::Peer(p) = &h.role {
        for (shard, r) in flushed {
            for (seg, len) in r.unwrap_or_default() {
                p.flushed(shard, seg, len);
            }
        }
        p.write_report()?;
    }
    Ok(())
}

/// `daos_epoch_commit`. On a partial failure returns `Err((shard, error))`.
pub fn commit(cookie: u64, e: u64, sync: bool) -> std::result::Result<(), (Option<u32>, Error)> {
    if e == u64::MAX {
        return Err((
            None,
            Error::Inval("DAOS_EPOCH_HIGHEST cannot be committed: HCE would be 2^64-1 and no epoch writable again".into()),
        ));
    }
    let h = handle(cookie).map_err(|e| (None, e))?;
    h.need_rw("commit").map_err(|e| (None, e))?;
    h.need_master("commit").map_err(|e| (None, e))?;
    let cs = h.cs.clone();
    // This handle's writes are made durable while the commit reads the
    // state it decides on (the flush takes the disk's time; this, the
    // CPU's): the fsyncs are started first and waited for below.
    let flushing = start_flush(&h, None, true);
    // The layout as it is now: a peer (or another process) may have added
    // shards its writes went to.
    cs.refresh();
    let _serial = cs.commit_lock.lock();
    // An epoch already closed has nothing left to commit; but writes of this
    // handle that can never be published any more must be reported, not
    // dropped silently: they are looked for as in any commit.
    if e <= cs.hce() && h.writer.lock().shards.is_empty() && !matches!(h.role, Role::Master(_)) {
        flushing.finish();
        return Ok(());
    }
    let now = cs.store.reload(&cs.root);
    let checks = shard_checks(&h, &now);
    let (pid, nonce) = cs.reg_id().unwrap_or((0, 0));
    let apply = |m: &mut Meta, ok_shards: &[u32], flushed: &Flushed| {
        let old_hce = m.hce;
        // (Decided under the lock: another process may have closed it meanwhile.)
        let closed = e <= old_hce;
        let mut stale = std::collections::BTreeSet::new();
        for &id in ok_shards {
            if let Some(Ok(segs)) = flushed.get(&id) {
                for &(seg, done) in segs {
                    publish_segment(&cs, m, id, seg, done, (!closed).then_some(e), old_hce, &mut stale);
                }
            }
            if let Some(s) = m.shard_mut(id).filter(|_| !closed) {
                s.committed = s.committed.max(e);
            }
        }
        if !closed {
            m.hse = m.hse.max(e);
            if sync && !m.kept.contains(&e) {
                m.kept.push(e);
            }
        }
        // The commit ends this handle's hold if it reaches the held epoch.
        m.holds.retain(|x| !(x.pid == pid && x.nonce == nonce && x.handle == cookie && x.epoch <= e));
        // HCE moves as far as every enabled shard's commits allow, but not
        // to a held epoch: a commit above it waits there, durable, until
        // the hold is committed or released.
        m.settle_hce();
        Ok((old_hce, stale))
    };
    // A checked container's commit writes its record while the data is
    // still being flushed, as if the flush went well, and keeps it only if
    // it did (`Meta::save_pending`: the commit then costs the longer of the
    // two flushes, not their sum; after a restart of the machine the data of
    // a record still pending is checked against its checksums, which a
    // container without them lacks). If the flush failed, or a shard cannot
    // take the commit, it is made after the flush, with what it made
    // durable.
    let mut flushing = Some(flushing);
    let mut got: Option<Flushed> = None;
    let mut fast = None;
    let clean = checks.iter().all(|(_, _, st, present)| *st >= 0 && present.is_ok());
    if cs.csum && clean {
        let planned = with_peers(&h, flushing.as_ref().map(Flushing::planned).unwrap_or_default());
        // (Every shard passed its checks and the flush is taken to go well:
        // every shard takes the commit, and no target's health is lowered.)
        let (ok_shards, _) = committable_shards(&h, checks.clone(), &planned);
        let mut wait = || {
            let f = with_peers(&h, flushing.take().map(Flushing::finish).unwrap_or_default());
            let ok = f == planned;
            got = Some(f);
            ok
        };
        match cs.update_pending(&mut wait, |m| apply(m, &ok_shards, &planned)) {
            Ok(Some(r)) => fast = Some((ok_shards, None, planned, r)),
            Ok(None) => {}
            Err(err) => {
                drop(flushing.take().map(Flushing::finish));
                return Err((None, err));
            }
        }
    }
    let (ok_shards, failed, flushed, (old_hce, stale)) = match fast {
        Some(x) => x,
        None => {
            let flushed = got.unwrap_or_else(|| with_peers(&h, flushing.take().map(Flushing::finish).unwrap_or_default()));
            let (ok_shards, failed) = committable_shards(&h, checks, &flushed);
            match cs.update(|m| apply(m, &ok_shards, &flushed)) {
                Ok(r) => (ok_shards, failed, flushed, r),
                Err(err) => return Err((None, err)),
            }
        }
    };
    publish(&h, &ok_shards, &flushed);
    notify_waiters(&cs);
    retire_segments(&h, e);
    if let Some((id, err)) = failed {
        return Err((Some(id), err));
    }
    if !stale.is_empty() {
        return Err((None, stale_error(&cs, e, old_hce, &stale)));
    }
    Ok(())
}

/// A long-lived writer that slips gets its space back: once its segment
/// holds `DAOS_RS_RETIRE_MIN` bytes and the oldest readable epoch has
/// passed the segment's first commit (older versions in it may be garbage),
/// the segment takes no more writes; at the first commit after which
/// everything in it is published (no write in flight, nothing staged), it is
/// sealed and leaves the writer, so compaction may rewrite it. A writer that
/// never slips keeps its segment (it would only be merged, every version
/// kept). Called with the commit lock held.
fn retire_segments(h: &CoHandle, e: u64) {
    use crate::container::writer::DATA_START;
    let min = crate::base::config::retire_min();
    let m = h.cs.meta.lock().clone();
    let mut seal = Vec::new();
    {
        let mut w = h.writer.lock();
        let staged: std::collections::HashSet<u64> = w.staged.iter().map(|s| s.seg).collect();
        for (&shard, segs) in w.shards.iter_mut() {
            for s in segs.iter_mut() {
                let Some(sm) = m.seg(shard, s.file.id) else { continue };
                if s.first_commit == 0 && sm.committed_len > HEADER {
                    s.first_commit = e;
                }
                let size = s.data_end.saturating_sub(DATA_START) + s.jnl_end.saturating_sub(HEADER);
                if size >= min && !s.retiring && !s.broken && s.first_commit != 0 && m.oldest >= s.first_commit {
                    s.retiring = true;
                }
                let settled = s.done == s.jnl_end && !staged.contains(&s.file.id) && sm.committed_len >= s.jnl_end;
                if s.retiring && settled && sm.sealed == UNSEALED {
                    seal.push((shard, s.file.id));
                }
            }
        }
    }
    if seal.is_empty() {
        return;
    }
    let r = h.cs.update(|m| {
        let hse = m.hse;
        for &(sh, seg) in &seal {
            let s = m.seg_mut(sh, seg);
            if s.sealed == UNSEALED {
                s.sealed = hse;
            }
        }
        Ok(())
    });
    match r {
        Ok(()) => {
            let mut w = h.writer.lock();
            for (shard, seg) in seal {
                if let Some(v) = w.shards.get_mut(&shard) {
                    v.retain(|s| s.file.id != seg);
                }
            }
        }
        // (Sealed at the next commit, or at close.)
        Err(err) => crate::log!(Info, "container {}: a full segment stays open: {err}", h.cs.path.display()),
    }
}

/// What a commit publishes of this handle's writes (`flushed`, what their
/// flush made durable); the master of a collective open also publishes what
/// its peers flushed.
fn with_peers(h: &CoHandle, mut flushed: Flushed) -> Flushed {
    if let Role::Master(m) = &h.role {
        for (shard, seg, len) in m.peer_segments() {
            if let Ok(v) = flushed.entry(shard).or_insert(Ok(Vec::new())) {
                v.push((seg, len));
            }
        }
    }
    flushed
}

/// The enabled shards a commit can publish on (target usable, flush done,
/// files present), and the first that it cannot, with why. An I/O error
/// lowers the target's health.
fn committable_shards(h: &CoHandle, checks: Vec<ShardCheck>, flushed: &Flushed) -> (Vec<u32>, Option<(u32, Error)>) {
    let mut failed: Option<(u32, Error)> = None;
    let mut ok_shards = Vec::new();
    for (id, target, st, present) in checks {
        let r = if st < 0 {
            Err(Error::Os { errno: libc::EIO, msg: format!("shard {id}: its target {target} is disabled or missing") })
        } else {
            match flushed.get(&id) {
                Some(Err(rc)) => Err(Error::Os { errno: -rc, msg: format!("shard {id}: flush failed") }),
                _ => present,
            }
        };
        match r {
            Ok(()) => ok_shards.push(id),
            Err(err) => {
                // An I/O error lowers the target's health; a disabled target's does not change.
                if st >= 0 && err.errno() == libc::EIO {
                    crate::store::lower_health(&h.cs.root, target, 10);
                }
                if failed.is_none() {
                    failed = Some((id, err));
                }
            }
        }
    }
    (ok_shards, failed)
}

/// An enabled shard (id, target), its target's status and whether its files
/// are present ([`shard_files_present`]).
type ShardCheck = (u32, u32, i32, Result<()>);

/// The checks of [`committable_shards`] that do not need the flush's
/// results, made while it runs: each enabled shard's target status and
/// files.
fn shard_checks(h: &CoHandle, now: &crate::store::StoreConf) -> Vec<ShardCheck> {
    let shards: Vec<(u32, u32)> = h.cs.meta.lock().shards.iter().filter(|s| !s.disabled).map(|s| (s.id, s.target)).collect();
    shards
        .into_iter()
        .map(|(id, target)| {
            let st = crate::store::sys::target_status(now, target);
            let present = if st < 0 { Ok(()) } else { shard_files_present(h, id) };
            (id, target, st, present)
        })
        .collect()
}

/// The error of a commit whose writes in epochs `stale` were dropped:
/// other handles' commits closed those epochs before this one.
fn stale_error(cs: &CState, e: u64, old_hce: u64, stale: &std::collections::BTreeSet<u64>) -> Error {
    let list: Vec<String> = stale.iter().map(|x| x.to_string()).collect();
    Error::Os {
        errno: libc::ESTALE,
        msg: format!(
            "commit of epoch {e} on {}: this handle's writes in epoch(s) {} were dropped: other handles' commits \
             closed those epochs (HCE {old_hce}) before this one; write them again at a new epoch \
             (daos_epoch_hold gives one no other commit passes)",
            cs.path.display(),
            list.join(", ")
        ),
    }
}

/// Whether shard `id` still has its directory, and this handle's segment
/// files on it are still linked (a directory removed under an open
/// container leaves the open files working, but nothing written to them
/// is kept): -EIO if not. An unlinked container's files go at its last
/// close only, so they are not looked at.
fn shard_files_present(h: &CoHandle, id: u32) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if h.cs.unlinked.load(std::sync::atomic::Ordering::Acquire) {
        return Ok(());
    }
    let Some(sh) = h.cs.shard(id) else { return Ok(()) };
    let gone = |what: String| Error::Os { errno: libc::EIO, msg: format!("shard {id}: {what}: its data is lost") };
    match std::fs::metadata(&sh.dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(gone(format!("{} is not a directory", sh.dir.display()))),
        Err(e) => return Err(gone(format!("its directory {} is gone ({e})", sh.dir.display()))),
    }
    let w = h.writer.lock();
    for s in w.shards.get(&id).map(|v| &v[..]).unwrap_or(&[]) {
        for f in [&s.file.dat, &*s.file.jnl] {
            if f.metadata().map_or(true, |m| m.nlink() == 0) {
                return Err(gone(format!("the files of segment {:016x} were removed", s.file.id)));
            }
        }
    }
    Ok(())
}

/// After a commit: the handle's staged extents with epoch <= `e` on the
/// committed shards, whose journal records the commit published, become
/// published; the shards' committed epochs move.
fn publish(h: &CoHandle, ok: &[u32], flushed: &Flushed) {
    h.cs.adopt_layout();
    // This handle's records are in the index already; peers' are replayed.
    let own: std::collections::HashSet<u64> =
        h.writer.lock().shards.values().flat_map(|v| v.iter().map(|s| s.file.id)).collect();
    for id in ok {
        if let (Some(sh), Some(Ok(segs))) = (h.cs.shard(*id), flushed.get(id)) {
            for &(seg, done) in segs.iter().filter(|(seg, _)| own.contains(seg)) {
                sh.mark_applied(seg, done);
            }
        }
    }
    settle_all(&h.cs);
    // Peers' records (and other processes') that the commit published.
    h.cs.catch_up();
}

/// A commit of epoch `e` (HCE was `old_hce`) by the writer of segment `seg`
/// on shard `id` (or by its master), whose journal is durable up to `done`:
/// publishes the journal up to `done` and commits its records up to epoch
/// `e`. Records of epochs that another writer's commit closed meanwhile
/// (<= `old_hce`) can never be committed — publishing them would change what
/// those epochs read — so they are voided: those newly published, and those
/// published earlier ahead of this writer's last commit.
///
/// The epochs of the records it voids that no earlier void covered (writes
/// and punches that can never be published, to report) go into `stale`.
/// `e` is `None` for a commit of an epoch already closed: it publishes, and
/// voids what is stale, but commits nothing.
#[allow(clippy::too_many_arguments)]
fn publish_segment(
    cs: &CState,
    m: &mut Meta,
    id: u32,
    seg: u64,
    done: u64,
    e: Option<u64>,
    old_hce: u64,
    stale: &mut std::collections::BTreeSet<u64>,
) {
    let sm = m.seg_mut(id, seg).clone();
    let c0 = sm.committed_len.max(HEADER);
    let ahead = sm.max_pub > sm.upto && sm.upto < old_hce;
    let from = if ahead { HEADER } else { c0 };
    let mut max_new = 0;
    let (mut stale_new, mut stale_ahead) = (false, false);
    let prior: Vec<VoidMeta> = m.voids.iter().filter(|v| v.shard == id && v.seg == seg).cloned().collect();
    if done > from {
        scan_journal(cs, id, seg, from, done, |at, ep| {
            if at >= c0 {
                max_new = max_new.max(ep);
            }
            let dead = if at >= c0 { ep <= old_hce } else { ep > sm.upto && ep <= old_hce };
            if !dead || prior.iter().any(|v| v.covers(at, ep)) {
                return;
            }
            stale.insert(ep);
            if at >= c0 {
                stale_new = true;
            } else {
                stale_ahead = true;
            }
        });
    }
    if stale_ahead {
        m.voids.push(VoidMeta { shard: id, seg, from: 0, len: c0, epoch: sm.upto + 1, hi: old_hce });
    }
    if stale_new {
        m.voids.push(VoidMeta { shard: id, seg, from: c0, len: done, epoch: 0, hi: old_hce });
    }
    let s = m.seg_mut(id, seg);
    s.committed_len = s.committed_len.max(done);
    if let Some(e) = e {
        s.upto = s.upto.max(e);
    }
    s.max_pub = s.max_pub.max(max_new);
}

/// Calls `f(offset, epoch)` for each record of the journal of segment `seg`
/// on shard `shard` in `[from, to)` (a journal that cannot be read has none:
/// its replay will fail the same way).
fn scan_journal(cs: &CState, shard: u32, seg: u64, from: u64, to: u64, mut f: impl FnMut(u64, u64)) {
    use crate::shard::journal::{parse, Parsed};
    let Some(sh) = cs.shard(shard) else { return };
    let (_, j) = crate::shard::seg_paths(&sh.dir, seg);
    let read = || -> Result<(Vec<u8>, u32)> {
        let file = std::fs::File::open(&j).map_err(|e| crate::base::fs::io_err(e, format!("open {}", j.display())))?;
        let version = match sh.seg_index(seg).and_then(|i| sh.seg(i)) {
            Some(sf) => sh.journal_version(&sf)?,
            None => crate::shard::journal_file_version(&file, shard, seg)?,
        };
        let flen = file.metadata().map_err(|e| crate::base::fs::io_err(e, "stat journal"))?.len();
        if to > flen {
            return Err(Error::Os { errno: libc::EIO, msg: format!("{} is shorter than {to} bytes", j.display()) });
        }
        let mut b = vec![0u8; (to - from) as usize];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut b, from).map_err(|e| crate::base::fs::io_err(e, "read journal"))?;
        Ok((b, version))
    };
    let Ok((b, version)) = read() else { return };
    let mut pos = 0;
    while let Some((p, n)) = parse(&b[pos..], version) {
        match p {
            Parsed::Ok(r, _) | Parsed::BadCrcs(r) => f(from + pos as u64, r.epoch),
            // (Its replay fails: the shard reads as -EIO.)
            Parsed::Damaged => {}
        }
        pos += n;
    }
}

/// Brings every writer's staged extents in line with the metadata: those a
/// commit published (epoch <= HCE, journal record within the published
/// length, not void) become published; those voided (an abort), or whose
/// epoch was committed without them (by another writer, so they can never
/// be), are dropped. Runs after this process's commits and aborts and when
/// another process's are seen.
pub fn settle_all(cs: &CState) {
    let m = cs.meta.lock().clone();
    for h in cs.open_handles() {
        if h.writer.lock().staged.is_empty() {
            continue;
        }
        let dead = take_staged(&h, |st| voided(&m, st) || (st.epoch <= m.hce && !committed(&m, st)));
        settle_staged(&h, dead, false);
        let done = take_staged(&h, |st| st.epoch <= m.hce && committed(&m, st));
        settle_staged(&h, done, true);
    }
}

/// Whether a void of `m` covers the staged extent's journal record.
fn voided(m: &Meta, st: &Staged) -> bool {
    m.voids.iter().any(|v| v.shard == st.shard && v.seg == st.seg && v.covers(st.jnl_end - 1, st.epoch))
}

/// Whether `m` commits the staged extent's record: published, within what
/// its writer committed and its seal, not void.
fn committed(m: &Meta, st: &Staged) -> bool {
    m.seg(st.shard, st.seg).is_some_and(|s| s.committed_len >= st.jnl_end && st.epoch <= s.upto.min(s.sealed))
        && !voided(m, st)
}

/// Completes the waits that the current HCE satisfies.
pub fn notify_waiters(cs: &CState) {
    let (hce, layout) = {
        let m = cs.meta.lock();
        (m.hce, m.layout_changed)
    };
    let ready = crate::base::vecs::take_where(&mut cs.waiters.lock(), |w| hce >= w.target || w.completer.is_dead());
    for w in ready {
        let Waiter { completer, deliver, .. } = w;
        completer.complete(|| {
            deliver(hce, layout);
            0
        });
    }
}

/// `daos_epoch_abort`: drops this handle's writes and punches in epochs >=
/// `e`. If a shard this handle wrote to lost its files (see
/// `shard_files_present`), the abort is still recorded and the first such
/// shard is returned with its error.
pub fn abort(cookie: u64, e: u64) -> std::result::Result<(), (Option<u32>, Error)> {
    let h = handle(cookie).map_err(|e| (None, e))?;
    h.need_rw("abort").map_err(|e| (None, e))?;
    h.need_master("abort").map_err(|e| (None, e))?;
    let cs = h.cs.clone();
    let _serial = cs.commit_lock.lock();
    cs.check_above_hce(e).map_err(|e| (None, e))?;
    let mut voids: Vec<VoidMeta> = {
        let w = h.writer.lock();
        w.shards
            .iter()
            .flat_map(|(&shard, segs)| segs.iter().map(move |s| VoidMeta::abort(shard, s.file.id, s.jnl_end, e)))
            .collect()
    };
    // A master's abort also drops its peers' writes so far: up to what
    // each peer's journal holds now.
    if let Role::Master(m) = &h.role {
        for (shard, seg, _) in m.peer_segments() {
            let Some(dir) = cs.shard(shard).map(|s| s.dir.clone()) else { continue };
            let len = std::fs::metadata(crate::shard::seg_paths(&dir, seg).1).map_or(0, |md| md.len());
            voids.push(VoidMeta::abort(shard, seg, len, e));
        }
    }
    if !voids.is_empty() {
        cs.update(|m| {
            m.voids.extend(voids.iter().cloned());
            Ok(())
        })
        .map_err(|e| (None, e))?;
    }
    settle_all(&cs);
    let touched: Vec<u32> = h.writer.lock().shards.keys().copied().collect();
    for id in touched {
        shard_files_present(&h, id).map_err(|e| (Some(id), e))?;
    }
    Ok(())
}

/// Takes the staged extents of `h` chosen by `f` off its list.
fn take_staged(h: &CoHandle, f: impl Fn(&Staged) -> bool) -> Vec<Staged> {
    crate::base::vecs::take_where(&mut h.writer.lock().staged, |s| f(s))
}

/// Staged extents taken off their writer's list become published
/// (`publish`) or are dropped from the indexes.
fn settle_staged(h: &CoHandle, list: Vec<Staged>, publish: bool) {
    let mut by: BTreeMap<(u32, u64), Vec<(u64, u64)>> = BTreeMap::new();
    for s in list {
        by.entry((s.shard, s.oid)).or_default().push((s.off, s.stamp));
    }
    for ((shard, oid), keys) in by {
        if let Some(sh) = h.cs.shard(shard) {
            sh.index.write().update_keys(oid, &keys, |x| publish.then_some(Ext { owner: PUBLISHED, ..*x }));
        }
    }
}

/// At close: a writer's segments are sealed at HSE; its staged extents not
/// published by a commit, or above HSE, are dropped.
///
/// A peer of a collective open does not seal: its master may still commit
/// what it flushed. A master's close seals its peers' segments too.
pub fn seal_writer(h: &CoHandle) -> Result<()> {
    if !h.rw {
        return Ok(());
    }
    let cs = h.cs.clone();
    let _serial = cs.commit_lock.lock();
    let mut segs: Vec<(u32, u64)> = {
        let w = h.writer.lock();
        w.shards.iter().flat_map(|(&sh, v)| v.iter().map(move |s| (sh, s.file.id))).collect()
    };
    if let Role::Master(m) = &h.role {
        segs.extend(m.peer_segments().into_iter().map(|(sh, seg, _)| (sh, seg)));
    }
    let m = cs.meta.lock().clone();
    let hse = m.hse;
    let committed_len = |sh: u32, seg: u64| m.seg(sh, seg).map_or(0, |s| s.committed_len);
    let published = take_staged(h, |st| st.epoch <= hse && committed(&m, st));
    settle_staged(h, published, true);
    settle_staged(h, take_staged(h, |_| true), false);
    if matches!(h.role, Role::Peer(_)) {
        return Ok(());
    }
    let touched: Vec<(u32, u64)> = segs.into_iter().filter(|&(sh, seg)| committed_len(sh, seg) > 0).collect();
    if touched.is_empty() {
        return Ok(());
    }
    // (A checkpoint: a container at rest holds its metadata in one block.)
    cs.update_checkpoint(|m| {
        for &(sh, seg) in &touched {
            let s = m.seg_mut(sh, seg);
            if s.sealed == UNSEALED {
                s.sealed = hse;
            }
        }
        Ok(())
    })
}

/// `daos_epoch_slip`: moves the handle's read reference forward.
pub fn slip(cookie: u64, e: u64) -> Result<()> {
    let h = handle(cookie)?;
    h.cs.refresh();
    let hce = h.cs.hce();
    let e = if e > hce { hce } else { e };
    {
        let mut refs = h.cs.refs.lock();
        let r = refs.entry(cookie).or_insert(e);
        if e > *r {
            *r = e;
        }
    }
    maybe_aggregate(&h.cs);
    Ok(())
}

/// `daos_epoch_wait`: completes (through `completer`) when HCE >= `e`
/// (`DAOS_EPOCH_HIGHEST`: at the next commit).
/// Errors complete the wait.
pub fn wait(cookie: u64, e: u64, completer: Completer, deliver: Box<dyn FnOnce(u64, u64) + Send>) {
    let h = match handle(cookie).and_then(|h| h.need_master("epoch wait").map(|_| h)) {
        Ok(h) => h,
        Err(err) => {
            completer.complete(|| err.to_rc());
            return;
        }
    };
    // Other processes' commits wake the wait through the container file's watch.
    h.cs.watch_file();
    h.cs.refresh();
    let (hce, layout) = {
        let m = h.cs.meta.lock();
        (m.hce, m.layout_changed)
    };
    let target = if e == u64::MAX { hce.saturating_add(1) } else { e };
    if hce >= target {
        completer.complete(|| {
            deliver(hce, layout);
            0
        });
        return;
    }
    h.cs.waiters.lock().push(Waiter { cookie, target, completer, deliver });
    // A holder in another process whose hold keeps HCE below the target
    // frees it by dying: its death must wake the wait too.
    super::hold::watch_holders(&h.cs);
    // A commit may have landed between the check and the registration: in
    // this process (notify), or in another whose notification came before
    // there was a waiter to wake (refresh, which notifies unless the
    // container is unlinked or corrupt).
    h.cs.refresh();
    notify_waiters(&h.cs);
}

/// Aggregation: when the lowest read reference of the open handles has moved
/// above the oldest readable epoch, the oldest readable epoch moves up as far
/// as the open handles of every process allow (decided, and written, under
/// the container's lock; see [`super::registry`]): reads below it give
/// -ESTALE from now on. Then a background thread drops the versions no
/// reader can see any more from the indexes and reclaims space (see
/// `compact`). Readers are blocked only while one shard's index is updated.
pub fn maybe_aggregate(cs: &Arc<CState>) {
    match cs.advance_oldest() {
        Ok(true) => super::compact::spawn(cs),
        Ok(false) => {}
        Err(e) => crate::log!(Warn, "container {}: the oldest readable epoch stays: {e}", cs.path.display()),
    }
}

/// The index half of aggregation, below the current oldest readable epoch.
/// Returns the epoch it aggregated below.
pub fn aggregate_indexes(cs: &CState) -> u64 {
    let (upto, kept) = {
        let m = cs.meta.lock();
        (m.oldest, m.kept.clone())
    };
    let shards: Vec<_> = cs.shards.read().values().cloned().collect();
    let mut removed = 0;
    for sh in shards {
        let c = sh.committed();
        removed += sh.index.write().aggregate(upto, &kept, c);
    }
    if removed > 0 {
        crate::log!(Debug, "aggregation below epoch {upto}: {removed} versions dropped");
    }
    upto
}
