//! Shards (SPEC §6): a directory on a target holding segments (see
//! [`journal`]), and the in-memory [`index::Index`] built from their journals.

pub mod index;
pub mod journal;
mod records;

pub use records::{SegMeta, VoidMeta};

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::error::{Error, Result};
use crate::base::fs::{fsync_dir, io_err};
use index::{Ext, Index, NO_SEG, PUBLISHED};
use journal::{HEADER, KIND_WRITE};

/// The open files of one segment.
pub struct SegFile {
    pub id: u64,
    pub dat: File,
    /// The journal (recorded for fork when this process writes it: it
    /// holds the writer's liveness lock, see `base::lock::held_locks`).
    pub(crate) jnl: crate::base::lock::Tracked,
    /// This process writes it: `jnl` holds the writer's liveness lock.
    pub locked: bool,
    /// Format version of the journal (0: not read yet).
    pub jver: std::sync::atomic::AtomicU32,
}

impl SegFile {
    pub(crate) fn new(id: u64, dat: File, jnl: crate::base::lock::Tracked, locked: bool, jver: u32) -> SegFile {
        SegFile { id, dat, jnl, locked, jver: jver.into() }
    }
}

/// One shard of an open container, shared by all handles of this process.
pub struct Shard {
    pub id: u32,
    pub target: u32,
    pub dir: PathBuf,
    pub index: RwLock<Index>,
    /// Highest epoch committed on this shard (published extents up to it are visible).
    committed: std::sync::atomic::AtomicU64,
    pub disabled: std::sync::atomic::AtomicBool,
    /// Its journals could not be replayed: reads fail with -EIO rather than
    /// return zeros for data that exists.
    pub broken: std::sync::atomic::AtomicBool,
    /// A journal record of one of its segments is damaged (the shard is
    /// `broken`, or the record's extent reads as -EIO): its segments are not
    /// compacted, which would drop what marks the damage.
    pub damaged: std::sync::atomic::AtomicBool,
    /// Open segments by local index (`None`: replaced by a compaction or a
    /// merge, its files closed; the index never points at it again).
    segs: RwLock<Vec<Option<Arc<SegFile>>>>,
    seg_idx: Mutex<HashMap<u64, u32>>,
    /// Journal bytes of each segment already in the index.
    applied: Mutex<HashMap<u64, u64>>,
}

/// Directory of shard `id` of container `uuid` on a target directory.
pub fn shard_dir(target_dir: &Path, uuid: [u64; 2], id: u32) -> PathBuf {
    container_dir(target_dir, uuid).join(format!("s-{id}"))
}

/// Whether the writer of segment `seg` in the shard directory `dir` is still
/// alive (in any process): it holds an `flock` on its journal.
pub fn writer_alive(dir: &Path, seg: u64) -> bool {
    let (_, j) = seg_paths(dir, seg);
    let Ok(f) = File::open(&j) else { return false };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    // A shared lock: two processes probing at once must not see each other
    // as the writer.
    // SAFETY: flock on a descriptor we own; dropped (and unlocked) at return.
    let r = unsafe { libc::flock(fd, libc::LOCK_SH | libc::LOCK_NB) };
    r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
}

/// The format version of the journal `jnl` of segment `seg` of shard
/// `shard`, from its header (-EIO if that is not a valid header).
pub fn journal_file_version(jnl: &File, shard: u32, seg: u64) -> Result<u32> {
    let mut h = vec![0u8; HEADER as usize];
    jnl.read_exact_at(&mut h, 0).map_err(|e| io_err(e, format!("read the header of journal {seg:016x}")))?;
    journal::header_version(&h, false, shard, seg)
        .ok_or_else(|| Error::Os { errno: libc::EIO, msg: format!("journal {seg:016x} of shard {shard} has a bad header") })
}

/// Directory of container `uuid` on a target directory.
pub fn container_dir(target_dir: &Path, uuid: [u64; 2]) -> PathBuf {
    target_dir.join(crate::base::ids::ContainerId(uuid).to_string())
}

pub fn seg_paths(dir: &Path, seg: u64) -> (PathBuf, PathBuf) {
    (dir.join(format!("{seg:016x}.dat")), dir.join(format!("{seg:016x}.jnl")))
}

impl Shard {
    pub fn new(id: u32, target: u32, dir: PathBuf) -> Shard {
        Shard {
            id,
            target,
            dir,
            index: RwLock::new(Index::default()),
            committed: Default::default(),
            disabled: Default::default(),
            broken: Default::default(),
            damaged: Default::default(),
            segs: RwLock::new(Vec::new()),
            seg_idx: Mutex::new(HashMap::new()),
            applied: Mutex::new(HashMap::new()),
        }
    }

    /// Raises the shard's committed epoch (visible to reads) to `e`; it never
    /// goes down (threads that adopt metadata versions may finish out of
    /// order).
    pub fn set_committed(&self, e: u64) {
        self.committed.fetch_max(e, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn committed(&self) -> u64 {
        self.committed.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled.load(std::sync::atomic::Ordering::Acquire)
    }

    /// `-ENOENT` if the shard is disabled.
    pub fn check_live(&self) -> Result<()> {
        if self.is_disabled() {
            return Err(Error::NoEnt(format!("shard {} is disabled", self.id)));
        }
        Ok(())
    }

    /// Fails with -EIO if the shard's journals could not be replayed.
    pub fn check_readable(&self) -> Result<()> {
        if self.broken.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::Os { errno: libc::EIO, msg: format!("shard {} could not be replayed (see the log)", self.id) });
        }
        Ok(())
    }

    /// Whether an extent is visible to a read at `epoch` by this process.
    pub fn visible(&self, e: &Ext, epoch: u64) -> bool {
        e.epoch <= epoch && (e.owner != PUBLISHED || e.epoch <= self.committed())
    }

    /// Creates the shard's directory (durably).
    pub fn create_dir(&self) -> Result<()> {
        crate::base::fs::private_dir(&self.dir).map_err(|e| io_err(e, format!("create shard {}", self.dir.display())))?;
        if let Some(p) = self.dir.parent() {
            fsync_dir(p)?;
            if let Some(pp) = p.parent() {
                fsync_dir(pp)?;
            }
        }
        Ok(())
    }

    /// The segment at local index `i`.
    pub fn seg(&self, i: u32) -> Option<Arc<SegFile>> {
        self.segs.read().get(i as usize).cloned().flatten()
    }

    /// Closes the files of segments that left the container (compacted or
    /// merged into others; the index no longer points at them): their space
    /// goes once no read in flight holds them. Their journal bytes stay
    /// counted as applied, so no replay of an older view opens them again.
    pub fn forget_segs(&self, ids: &[u64]) {
        let idx: Vec<u32> = {
            let m = self.seg_idx.lock();
            ids.iter().filter_map(|id| m.get(id).copied()).collect()
        };
        let mut segs = self.segs.write();
        for i in idx {
            if let Some(s) = segs.get_mut(i as usize) {
                *s = None;
            }
        }
    }

    /// The local index of segment `seg`, if it was opened (its files may
    /// have been closed since: see `forget_segs`).
    pub fn seg_index(&self, seg: u64) -> Option<u32> {
        self.seg_idx.lock().get(&seg).copied()
    }

    /// Registers an open segment; returns its local index.
    pub fn add_seg(&self, f: Arc<SegFile>) -> u32 {
        let mut ids = self.seg_idx.lock();
        if let Some(&i) = ids.get(&f.id) {
            return i;
        }
        let mut segs = self.segs.write();
        segs.push(Some(f.clone()));
        let i = (segs.len() - 1) as u32;
        ids.insert(f.id, i);
        i
    }

    /// Opens an existing segment for reading.
    fn open_seg(&self, seg: u64) -> Result<Arc<SegFile>> {
        let (d, j) = seg_paths(&self.dir, seg);
        let open = |p: &Path| {
            OpenOptions::new().read(true).open(p).map_err(|e| io_err(e, format!("open segment {}", p.display())))
        };
        Ok(Arc::new(SegFile::new(seg, open(&d)?, crate::base::lock::Tracked::untracked(open(&j)?), false, 0)))
    }

    /// Creates a new segment for a writer, durably named.
    ///
    /// The journal is made first and locked before the data file exists: a
    /// segment whose journal's lock is free, or that has no journal, is a
    /// dead writer's, which another process's sweep of litter removes while
    /// holding that lock (`container::litter`). So once it holds the lock,
    /// the writer checks that its journal is still linked; if a sweep took
    /// it first, it starts again with another id.
    pub fn create_seg(&self, uuid: [u64; 2]) -> Result<(u32, Arc<SegFile>)> {
        let open = |p: &Path| OpenOptions::new().read(true).write(true).create_new(true).mode(crate::base::fs::PRIVATE_FILE).open(p);
        let header = |f: &File, p: &Path, data: bool, seg: u64| {
            f.write_all_at(&journal::file_header(data, uuid, self.id, seg), 0)
                .map_err(|e| io_err(e, format!("write {}", p.display())))
        };
        for _ in 0..8 {
            let seg = crate::base::os::random_u64();
            let (d, j) = seg_paths(&self.dir, seg);
            // A segment that cannot be made whole (a full file system) leaves
            // no file behind.
            let undo = |e: Error| {
                let _ = std::fs::remove_file(&d);
                let _ = std::fs::remove_file(&j);
                e
            };
            // Recorded for fork from its open on (see `base::lock::held_locks`).
            let jnl = crate::base::lock::Tracked::open(|| open(&j)).map_err(|e| io_err(e, format!("create segment {}", j.display())))?;
            // The writer's lock on its journal tells other processes it is
            // alive (see `writer_alive`); it goes with the last descriptor.
            // SAFETY: flock on a descriptor we own.
            let locked = if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&*jnl), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                true
            } else if std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK) {
                // A sweep holds it: it removes the file.
                continue;
            } else {
                // (A file system without flock: the writer cannot be seen alive.)
                false
            };
            if locked && jnl.metadata().map(|m| std::os::unix::fs::MetadataExt::nlink(&m)).unwrap_or(1) == 0 {
                continue;
            }
            header(&jnl, &j, false, seg).map_err(undo)?;
            let dat = open(&d).map_err(|e| undo(io_err(e, format!("create segment {}", d.display()))))?;
            header(&dat, &d, true, seg).map_err(undo)?;
            let mut f = SegFile::new(seg, dat, jnl, false, journal::JNL_VERSION);
            f.locked = locked;
            let f = Arc::new(f);
            fsync_dir(&self.dir).map_err(undo)?;
            let i = self.add_seg(f.clone());
            return Ok((i, f));
        }
        Err(Error::Os { errno: libc::EAGAIN, msg: format!("no segment could be made in {}", self.dir.display()) })
    }

    /// Journal bytes of `seg` already in the index are up to `len` (this
    /// process wrote them).
    pub fn mark_applied(&self, seg: u64, len: u64) {
        let mut a = self.applied.lock();
        let e = a.entry(seg).or_insert(HEADER);
        *e = (*e).max(len);
    }

    /// Journal bytes of `seg` already in the index (`HEADER`: none).
    pub fn applied_len(&self, seg: u64) -> u64 {
        self.applied.lock().get(&seg).copied().unwrap_or(HEADER)
    }

    /// Brings the index up to the journal lengths the segment records `segs`
    /// publish (records in `voids` aside): replays
    /// what is new in each segment (all of it for a segment not seen yet),
    /// except the segments in `skip` (this process's live writers, whose
    /// records are in the index already). `floor` is raised above the
    /// counter of every stamp seen (see [`crate::store::slot`]).
    pub fn catch_up(&self, segs: &[SegMeta], voids: &[VoidMeta], skip: &std::collections::HashSet<u64>, floor: &mut u64) -> Result<()> {
        if self.broken.load(std::sync::atomic::Ordering::Acquire) {
            // Its reads fail for good: nothing to replay again.
            return Ok(());
        }
        let mut ix = self.index.write();
        let mut batch = index::Batch::default();
        let mut first_err = None;
        for s in segs.iter().filter(|s| s.shard == self.id && s.committed_len > HEADER && !skip.contains(&s.seg)) {
            let from = self.applied.lock().get(&s.seg).copied().unwrap_or(HEADER);
            if from >= s.committed_len {
                continue;
            }
            // A segment whose files were closed has left the container
            // (compacted or merged away, see `forget_segs`): `segs` is an
            // older view.
            if self.seg_index(s.seg).is_some_and(|i| self.seg(i).is_none()) {
                continue;
            }
            match self.replay_seg(&mut ix, &mut batch, voids, s, from, floor) {
                Ok(end) => self.mark_applied(s.seg, end),
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        ix.insert_batch(batch);
        first_err.map_or(Ok(()), Err)
    }

    /// The format version of the journal of the open segment `f`, read from
    /// its header the first time (-EIO if the header is not a valid one).
    pub fn journal_version(&self, f: &SegFile) -> Result<u32> {
        use std::sync::atomic::Ordering;
        let v = f.jver.load(Ordering::Acquire);
        if v != 0 {
            return Ok(v);
        }
        let v = journal_file_version(&f.jnl, self.id, f.id)?;
        f.jver.store(v, Ordering::Release);
        Ok(v)
    }

    /// Replays `[from, committed_len)` of a segment's journal; returns where
    /// it stopped. Everything in that range was published by commits, so no
    /// record in it is skipped silently: a record whose header is sound but
    /// whose chunk checksums are damaged enters the index as an extent that
    /// reads as -EIO (`BAD_SEG`); one whose header is damaged cannot be
    /// placed — it may have been any extent of the shard — so the replay
    /// goes on (for the stamps of the records after it) and then fails with
    /// -EIO (the shard is marked broken by the caller). A journal shorter
    /// than its published length fails with -EIO before anything is read.
    fn replay_seg(
        &self,
        ix: &mut Index,
        batch: &mut index::Batch,
        voids: &[VoidMeta],
        s: &SegMeta,
        from: u64,
        floor: &mut u64,
    ) -> Result<u64> {
        use std::sync::atomic::Ordering;
        let f = match self.seg_index(s.seg).and_then(|i| self.seg(i)) {
            Some(f) => f,
            None => self.open_seg(s.seg)?,
        };
        let len = s.committed_len;
        let flen = f.jnl.metadata().map_err(|e| io_err(e, format!("stat journal of segment {:016x}", s.seg)))?.len();
        if len > flen {
            self.damaged.store(true, Ordering::Release);
            return Err(Error::Os {
                errno: libc::EIO,
                msg: format!(
                    "journal {:016x} of shard {} holds {flen} bytes, fewer than the {len} its commits published",
                    s.seg, self.id
                ),
            });
        }
        let version = self.journal_version(&f)?;
        let start = from.max(HEADER);
        let mut buf = vec![0u8; (len - start) as usize];
        f.jnl
            .read_exact_at(&mut buf, start)
            .map_err(|e| io_err(e, format!("read journal of segment {:016x}", s.seg)))?;
        let voids: Vec<_> = voids.iter().filter(|v| v.shard == self.id && v.seg == s.seg).collect();
        let si = self.add_seg(f);
        let mut pos = 0usize;
        let mut lost = None;
        while let Some((p, n)) = journal::parse(&buf[pos..], version) {
            let at = start + pos as u64;
            pos += n;
            let (r, crcs) = match p {
                journal::Parsed::Ok(r, crcs) => (r, Some(crcs)),
                journal::Parsed::BadCrcs(r) => (r, None),
                journal::Parsed::Damaged => {
                    crate::log!(
                        Error,
                        "shard {}: journal {:016x} damaged at bytes {at}..{} (a record header): every read of the shard fails with -EIO",
                        self.id,
                        s.seg,
                        at + n as u64
                    );
                    lost.get_or_insert(at);
                    continue;
                }
            };
            if r.epoch > s.sealed || r.epoch > s.upto || voids.iter().any(|v| v.covers(at, r.epoch)) {
                continue;
            }
            *floor = (*floor).max(crate::store::slot::counter_of(r.stamp) + 1);
            let (seg, csum, doff) = match (r.kind, crcs) {
                (KIND_WRITE, Some(c)) => (si, ix.add_crc_bytes(c), r.data_off),
                (_, None) => {
                    crate::log!(
                        Error,
                        "shard {}: journal {:016x}: the record at byte {at} has damaged checksums: object {} [{}, {}) at epoch {} reads as -EIO",
                        self.id,
                        s.seg,
                        r.oid,
                        r.off,
                        r.off.saturating_add(r.len),
                        r.epoch
                    );
                    self.damaged.store(true, Ordering::Release);
                    (index::BAD_SEG, 0, si as u64)
                }
                _ => (NO_SEG, 0, si as u64),
            };
            batch.push(r.oid, r.off, r.stamp, Ext { len: r.len, epoch: r.epoch, data_off: doff, seg, csum, owner: PUBLISHED });
        }
        if let Some(at) = lost {
            self.damaged.store(true, Ordering::Release);
            return Err(Error::Os {
                errno: libc::EIO,
                msg: format!("journal {:016x} of shard {} is damaged at byte {at}, inside what commits published", s.seg, self.id),
            });
        }
        Ok(start + pos as u64)
    }

    /// Bytes of files in the shard's directory.
    #[cfg(test)]
    pub fn disk_bytes(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::read_dir(&self.dir)
            .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.blocks() * 512).sum())
            .unwrap_or(0)
    }
}

