//! The shared state of one container in this process ([`CState`]) and a
//! container handle ([`CoHandle`]): building it, refreshing it from the
//! container file, its shards and handles.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::{Mutex, RwLock};

use crate::error::{Error, Result};

use super::*;

/// The state of one open container in this process.
pub struct CState {
    pub uuid: [u64; 2],
    pub path: PathBuf,
    pub root: PathBuf,
    pub store: StoreConf,
    pub(crate) lock_path: PathBuf,
    /// The container's directory in the readers registry (see [`registry`]).
    pub(crate) reg_dir: PathBuf,
    /// This process's registration there, while it has handles open.
    pub(super) reg: Mutex<Option<registry::Registration>>,
    pub meta: Mutex<Meta>,
    pub shards: RwLock<HashMap<u32, Arc<Shard>>>,
    /// Stamp counters start here: above every counter seen in the journals.
    pub stamp_floor: AtomicU64,
    /// The stamp slot this state takes stamps from (this process's slot in
    /// the store, claimed at the first stamp).
    pub(super) slot: OnceLock<Arc<Slot>>,
    /// Read reference (slipped epoch) of each open handle.
    pub refs: Mutex<HashMap<u64, u64>>,
    /// This process's open handles of the container (its writers among
    /// them), by cookie: what a commit settles and compaction must spare.
    pub(super) handles: Mutex<HashMap<u64, Weak<CoHandle>>>,
    pub waiters: Mutex<Vec<Waiter>>,
    pub listeners: Mutex<Vec<Listener>>,
    pub unlinked: AtomicBool,
    pub corrupt: bool,
    /// Data checksums are kept and verified (the container was not made with
    /// `DAOS_RS_COO_NOCSUM`); set at create, never changes.
    pub csum: bool,
    /// Serialises commits, aborts and layout changes of this process.
    pub commit_lock: Mutex<()>,
    /// Serialises refreshes.
    pub(super) refresh_lock: Mutex<()>,
    /// Segments left unsealed by a writer that died: (shard, segment, seal).
    pub(super) abandoned: Mutex<Vec<(u32, u64, u64)>>,
    /// Segments other processes compacted or merged away, whose files this
    /// process still has open (see `CState::close_departed`).
    pub(super) departed: Mutex<Vec<(u32, u64)>>,
    /// Metadata version the writers' staged extents were last settled against.
    pub(super) settled_seq: AtomicU64,
    /// Mirror of `meta.oldest` for lock-free read checks (only grows).
    pub oldest: AtomicU64,
    /// A background compaction is running.
    pub compacting: AtomicBool,
    /// A compaction was asked for since the running one began its pass.
    pub compact_again: AtomicBool,
    /// Some handle of this process opened it read-write (so space may be
    /// reclaimed).
    pub writable: AtomicBool,
    /// Watches the container file for other processes' changes, from the
    /// first wait or listen on until the state goes (see [`CState::watch_file`]).
    pub(super) watch: Mutex<Option<crate::notify::WatchGuard>>,
    /// While waits are pending: watches on the registrations of other
    /// processes' epoch holders, whose death must wake them (see
    /// [`hold::watch_holders`]).
    pub(super) hold_watches: Mutex<Vec<(String, crate::notify::WatchGuard)>>,
}

/// How [`CState::update_locked_with`] writes the new metadata.
pub(crate) enum Save<'a> {
    /// A record appended to the log, or a checkpoint if true.
    Plain(bool),
    /// A commit's record, written pending while its data is flushed (see
    /// [`Meta::save_pending`]); the function waits for the flush and says
    /// whether it went well.
    Pending(&'a mut dyn FnMut() -> bool),
}

/// An object handle opened through a container handle, and the function
/// that forgets it.
pub type ObjectCloser = (u64, fn(u64));

/// An open container handle.
pub struct CoHandle {
    pub cs: Arc<CState>,
    pub rw: bool,
    /// Writer number of this handle (owner of its staged extents).
    pub wid: u32,
    pub writer: Mutex<Writer>,
    pub closed: AtomicBool,
    /// Object handles opened through it, each with the function that forgets
    /// it (called when this handle closes).
    pub objects: Mutex<Vec<ObjectCloser>>,
    pub seen_layout: AtomicU64,
    /// Ordinary, master or peer of a collective open.
    pub role: collective::Role,
}

pub(super) static NEXT_WID: AtomicU64 = AtomicU64::new(1);

impl CState {
    /// `-EPERM` unless epoch `e` is above HCE: an epoch at or below it is
    /// committed, closed to writes, aborts and layout changes.
    pub fn check_above_hce(&self, e: u64) -> Result<()> {
        let hce = self.hce();
        if e <= hce {
            return Err(Error::Perm(format!("epoch {e} is already committed (HCE {hce})")));
        }
        Ok(())
    }

    /// A writable epoch: above HCE, and not DAOS_EPOCH_HIGHEST, which no
    /// write or commit can have (`-EINVAL`, saying it is needed for `what`).
    pub fn check_writable(&self, e: u64, what: &str) -> Result<()> {
        if e == u64::MAX {
            return Err(Error::Inval(format!("DAOS_EPOCH_HIGHEST is not a writable epoch: {what} needs one")));
        }
        self.check_above_hce(e)
    }

    /// This process's open handles of this container.
    pub(crate) fn open_handles(&self) -> Vec<Arc<CoHandle>> {
        self.handles.lock().values().filter_map(Weak::upgrade).collect()
    }

    /// Changes the metadata durably: under the container's file lock, `f`
    /// edits a copy, which is written and then becomes the current one. An
    /// unlinked container is only changed in memory.
    ///
    /// The change is made to the metadata as it is on disk, read under the
    /// lock, so a change made meanwhile by another process is kept, not
    /// overwritten by this process's older view. Segments this process found
    /// abandoned (see `build_state`) are sealed in the same write.
    pub fn update<R>(&self, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<R> {
        self.update_as(false, f)
    }

    /// [`CState::update`] written as a checkpoint: the container file is
    /// replaced by one holding the new metadata and an empty log (see
    /// [`meta`]), as at a writer's last close.
    pub fn update_checkpoint<R>(&self, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<R> {
        self.update_as(true, f)
    }

    fn update_as<R>(&self, checkpoint: bool, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<R> {
        // (A plain save never gives up.)
        self.update_with(Save::Plain(checkpoint), f).map(|r| r.expect("a plain update is saved"))
    }

    /// A commit's [`CState::update`] made while its data is being flushed
    /// (see [`Meta::save_pending`]): `wait` waits for the flush and says
    /// whether it went well; if not, nothing is saved (`Ok(None)`).
    ///
    /// The metadata's mutex is let go while the data is flushed (the
    /// container's file lock is kept), so that the process's other threads
    /// write, read and query meanwhile: their calls check the metadata.
    pub(crate) fn update_pending<R>(&self, wait: &mut dyn FnMut() -> bool, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<Option<R>> {
        let mut m = self.meta.lock();
        if self.unlinked.load(Ordering::Acquire) {
            drop(m);
            return self.update_with(Save::Pending(wait), f);
        }
        let lock = FileLock::acquire(&self.lock_path)?;
        // The common case: a sound file with a log and nothing to settle.
        // Anything else goes the usual way, the mutex held.
        let (d, tail) = match Meta::load_tail(&self.path) {
            Ok((meta::Loaded::Ok(d), Some(t))) if d.uuid == m.uuid && !t.pending.as_ref().is_some_and(|p| p.other_boot) => (d, t),
            _ => {
                let r = self.update_locked_with(&mut m, Save::Pending(wait), f);
                drop(lock);
                self.follow(&m);
                return r;
            }
        };
        let mut copy = d.clone();
        self.keep_local(&mut copy, &m);
        let r = f(&mut copy)?;
        drop(m);
        let saved = if copy == d { Ok(wait()) } else { copy.save_pending(&self.path, Some(&tail), wait) };
        drop(lock);
        if !saved? {
            return Ok(None);
        }
        // Made current unless a newer version already is (read by another
        // thread's refresh once the file lock was let go: it holds this one).
        let mut m = self.meta.lock();
        if m.seq < copy.seq {
            self.keep_local(&mut copy, &m);
            self.note_departed(&m, &d);
            *m = copy;
        }
        self.follow(&m);
        Ok(Some(r))
    }

    fn update_with<R>(&self, save: Save<'_>, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<Option<R>> {
        let r = {
            let mut m = self.meta.lock();
            if self.unlinked.load(Ordering::Acquire) {
                if let Save::Pending(wait) = save {
                    if !wait() {
                        return Ok(None);
                    }
                }
                let mut copy = m.clone();
                let r = f(&mut copy)?;
                *m = copy;
                return Ok(Some(r));
            }
            let lock = FileLock::acquire(&self.lock_path)?;
            let r = self.update_locked_with(&mut m, save, f);
            drop(lock);
            // The shards follow what became current (see `update_locked`):
            // another process's layout change or commits read under the
            // lock, or this one's own commit.
            self.follow(&m);
            r
        };
        r
    }

    /// [`CState::update`] with the container's file lock held by the caller
    /// (`m`: the current metadata, locked). Nothing is written if nothing
    /// changed (a checkpoint is written if the log holds records).
    ///
    /// The metadata read under the lock becomes the current one (with any
    /// change another process made: a commit, a layout change). The caller
    /// must make the shards follow it ([`CState::follow`]: their committed
    /// epochs, new shards) once it has let go of the file lock, and before
    /// it lets go of `m` — else this process holds the newer metadata (which
    /// a later refresh no longer finds newer) while its shards still show the
    /// older commits, and another process's commit stays invisible here.
    pub(super) fn update_locked<R>(&self, m: &mut Meta, checkpoint: bool, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<R> {
        self.update_locked_with(m, Save::Plain(checkpoint), f).map(|r| r.expect("a plain update is saved"))
    }

    /// [`CState::update_locked`], saving as `save` says (`Ok(None)`: a
    /// pending save gave up, nothing changed).
    ///
    /// A pending record written before the machine last started ends the
    /// log (see [`meta::Pending`]): its commit is kept if its data is on
    /// disk (`pending::outcome`), dropped if not, and the file is replaced
    /// with the outcome, so that every reader sees the same.
    fn update_locked_with<R>(&self, m: &mut Meta, save: Save<'_>, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<Option<R>> {
        let mut force = false;
        let (mut copy, loaded, tail) = match Meta::load_tail(&self.path) {
            Ok((meta::Loaded::Ok(mut d), mut tail)) if d.uuid == m.uuid => {
                if let Some(p) = tail.as_mut().and_then(|t| t.pending.take()).filter(|p| p.other_boot) {
                    force = true;
                    d = pending::outcome(&self.store, &self.path, d, p);
                }
                let mut copy = d.clone();
                self.keep_local(&mut copy, m);
                (copy, Some(d), tail)
            }
            Ok((meta::Loaded::Ok(_), _)) => return self.gone_meanwhile(m, f).map(Some),
            Err(e) if e.errno() == libc::ENOENT => return self.gone_meanwhile(m, f).map(Some),
            _ => (m.clone(), None, None),
        };
        let r = f(&mut copy)?;
        let checkpoint = matches!(save, Save::Plain(true)) || force;
        let log_to_fold = checkpoint && tail.as_ref().is_some_and(|t| t.has_records());
        let changed = loaded.as_ref() != Some(&copy) || log_to_fold || force;
        match save {
            Save::Pending(wait) if changed && !checkpoint => {
                if !copy.save_pending(&self.path, tail.as_ref(), wait)? {
                    return Ok(None);
                }
            }
            Save::Pending(wait) => {
                if !wait() {
                    return Ok(None);
                }
                if changed {
                    copy.save_to(&self.path, tail.as_ref(), checkpoint)?;
                }
            }
            Save::Plain(_) => {
                if changed {
                    copy.save_to(&self.path, tail.as_ref(), checkpoint)?;
                }
            }
        }
        if let Some(d) = &loaded {
            self.note_departed(m, d);
        }
        *m = copy;
        Ok(Some(r))
    }

    /// Catches up with changes other processes made: reads the container file
    /// (its replacement is atomic, so no lock is needed), adopts a newer
    /// version (epochs, layout, published journal lengths), and replays what
    /// it publishes that the indexes lack. Then waits and listens that the
    /// new state satisfies complete. Called at open, query, slip and wait.
    pub fn refresh(self: &Arc<Self>) {
        if self.corrupt || self.unlinked.load(Ordering::Acquire) {
            return;
        }
        let _serial = self.refresh_lock.lock();
        let changed = self.adopt_newer();
        self.settle_and_notify(changed);
        // A holder that died frees the epochs it held.
        hold::reap_dead(self);
        hold::watch_holders(self);
    }

    /// Adopts metadata received from elsewhere (a global handle buffer) if it
    /// is newer than this process's view.
    pub fn adopt(self: &Arc<Self>, d: Meta) {
        if self.corrupt || d.uuid != self.uuid {
            return;
        }
        let _serial = self.refresh_lock.lock();
        let changed = self.take_meta(d);
        self.settle_and_notify(changed);
    }

    /// After adopting newer metadata (`changed`) or none: replays what it
    /// publishes, settles the writers' staged extents, completes what waits
    /// and listens the new state satisfies.
    pub(super) fn settle_and_notify(self: &Arc<Self>, changed: bool) {
        self.catch_up();
        // Newer metadata may also have come in through this process's own
        // update (read under the lock): settle against whatever is new.
        let seq = self.meta.lock().seq;
        if changed || self.settled_seq.swap(seq, Ordering::AcqRel) != seq {
            epoch::settle_all(self);
        }
        epoch::notify_waiters(self);
        ops::notify_listeners(self);
    }

    /// Makes sure another process's change of the container file (a commit,
    /// a layout change: the file is replaced by a rename) wakes this state's
    /// pending waits and listens: the first call registers a watch on the
    /// file, kept while the state lives, whose callback (on the notifier
    /// thread) refreshes the state if something is pending. Called before a
    /// wait or listen is registered, which then refreshes once more itself:
    /// a change notified before the registration found nothing to wake.
    pub(crate) fn watch_file(self: &Arc<Self>) {
        if self.corrupt {
            return;
        }
        let mut w = self.watch.lock();
        if w.is_some() {
            return;
        }
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else { return };
        let weak = Arc::downgrade(self);
        let cb: crate::notify::Callback = Arc::new(move || {
            let Some(cs) = weak.upgrade() else { return };
            let pending = !cs.waiters.lock().is_empty() || !cs.listeners.lock().is_empty();
            if pending {
                cs.refresh();
            }
        });
        *w = crate::notify::watch(dir, name, cb);
    }

    /// Adopts the container file if it is newer than the current metadata
    /// (its replacement is atomic, so no lock is needed); returns whether it was.
    pub(super) fn adopt_newer(&self) -> bool {
        match Meta::load(&self.path) {
            Ok(meta::Loaded::Ok(d)) if d.uuid == self.uuid => self.take_meta(d),
            _ => false,
        }
    }

    /// Adopts `d` if it is newer than the current metadata; returns whether it was.
    pub(super) fn take_meta(&self, mut d: Meta) -> bool {
        {
            let mut m = self.meta.lock();
            if d.seq <= m.seq {
                return false;
            }
            self.keep_local(&mut d, &m);
            self.note_departed(&m, &d);
            *m = d;
            self.follow(&m);
        }
        true
    }

    /// Carries into `d` (metadata read from disk) what only this process
    /// knows, from `m` (its current view): the oldest readable epoch it moved
    /// to, and the seals of the segments it found abandoned.
    pub(super) fn keep_local(&self, d: &mut Meta, m: &Meta) {
        d.oldest = d.oldest.max(m.oldest);
        for &(shard, seg, sealed) in self.abandoned.lock().iter() {
            if let Some(s) = d.segs.iter_mut().find(|s| s.shard == shard && s.seg == seg) {
                if s.sealed == meta::UNSEALED {
                    s.sealed = sealed;
                }
            }
        }
    }

    /// Makes the shards match the metadata: new shards appear, committed
    /// epochs and disabled flags follow.
    ///
    pub(super) fn adopt_layout(&self) {
        self.follow(&self.meta.lock());
    }

    /// [`CState::adopt_layout`] for the metadata `m`, the current one, which
    /// the caller holds locked: whoever makes a version of the metadata the
    /// current one makes the shards follow it before anyone else can see
    /// it. Else a refresh on another thread, finding that version no newer
    /// than its own, would replay another process's commit into the indexes
    /// while the shards' committed epochs still hid it from reads; and two
    /// threads following two versions must not set a committed epoch from
    /// the older one after the newer.
    pub(super) fn follow(&self, m: &Meta) {
        for sm in &m.shards {
            let sh = match self.shard(sm.id) {
                Some(sh) => sh,
                None => {
                    let Some(t) = self.store.targets.get(sm.target as usize) else { continue };
                    let sh = Arc::new(Shard::new(sm.id, sm.target, shard_dir(&t.dir, m.uuid, sm.id)));
                    self.shards.write().entry(sm.id).or_insert(sh).clone()
                }
            };
            sh.set_committed(m.visible_committed(sm));
            sh.disabled.store(sm.disabled, Ordering::Release);
        }
    }

    /// Replays into the indexes what the current metadata publishes and they
    /// lack (other processes' commits). A segment that another process
    /// compacted away meanwhile (its files are gone) is in a newer version of
    /// the metadata, whose segments hold its live data: that version is
    /// adopted and the replay goes on from there.
    pub(super) fn catch_up(&self) {
        let mut rounds = 0;
        loop {
            let m = self.meta.lock().clone();
            let live = compact::live_segments(self);
            let mut floor = self.stamp_floor.load(Ordering::Relaxed);
            let mut failed = Vec::new();
            for sh in self.shards.read().values().cloned().collect::<Vec<_>>() {
                if sh.is_disabled() {
                    continue;
                }
                if let Err(e) = sh.catch_up(&m.segs, &m.voids, &live, &mut floor) {
                    failed.push((sh, e));
                }
            }
            self.stamp_floor.fetch_max(floor, Ordering::Relaxed);
            self.oldest.fetch_max(m.oldest, Ordering::AcqRel);
            let missing = failed.iter().any(|(_, e)| e.errno() == libc::ENOENT);
            if missing && rounds < 8 && self.adopt_newer() {
                rounds += 1;
                continue;
            }
            for (sh, e) in failed {
                crate::log!(Error, "container {}: shard {} unreadable: {e}", self.path.display(), sh.id);
                sh.broken.store(true, Ordering::Release);
            }
            self.close_departed();
            return;
        }
    }

    /// Closes the files of segments that another process compacted or merged
    /// away (no longer in the metadata `m`): their extents came back from
    /// the new segments' replay, and those the other process dropped are
    /// below the oldest readable epoch, so they go from the index first (as
    /// aggregation would drop them). A segment the index still points to
    /// stays open.
    fn close_departed(&self) {
        let list = std::mem::take(&mut *self.departed.lock());
        if list.is_empty() {
            return;
        }
        let m = self.meta.lock().clone();
        let mut keep = Vec::new();
        for sh in self.shards.read().values() {
            let gone: Vec<(u64, u32)> = list
                .iter()
                .filter(|(shard, _)| *shard == sh.id)
                .filter_map(|&(_, seg)| sh.seg_index(seg).filter(|&i| sh.seg(i).is_some()).map(|i| (seg, i)))
                .collect();
            if gone.is_empty() {
                continue;
            }
            let mut ix = sh.index.write();
            ix.aggregate(m.oldest, &m.kept, sh.committed());
            let mut used = std::collections::HashSet::new();
            ix.for_each(|_, _, _, e| {
                // (A punch, or a damaged record, names its segment in `data_off`.)
                use crate::shard::index::{BAD_SEG, NO_SEG};
                used.insert(if e.seg == NO_SEG || e.seg == BAD_SEG { e.data_off as u32 } else { e.seg });
            });
            drop(ix);
            let mut ids = Vec::new();
            for (seg, i) in gone {
                if used.contains(&i) {
                    keep.push((sh.id, seg));
                } else {
                    ids.push(seg);
                }
            }
            sh.forget_segs(&ids);
        }
        if !keep.is_empty() {
            crate::log!(Debug, "container {}: {} segments gone from the metadata are still indexed", self.path.display(), keep.len());
            self.departed.lock().extend(keep);
        }
    }

    /// Segments in `old` that `new` (another process's newer metadata) no
    /// longer has: compacted or merged away; their files are closed at the
    /// next catch-up (see `close_departed`).
    pub(super) fn note_departed(&self, old: &Meta, new: &Meta) {
        let gone: Vec<(u32, u64)> = old
            .segs
            .iter()
            .filter(|s| !new.segs.iter().any(|n| n.shard == s.shard && n.seg == s.seg))
            .map(|s| (s.shard, s.seg))
            .collect();
        if !gone.is_empty() {
            self.departed.lock().extend(gone);
        }
    }

    /// The container file is gone, or is now another container. If
    /// `daos_container_unlink` removed it (by another process), its handles
    /// keep working in memory. A container file renamed or removed by other
    /// means is not written elsewhere: the change fails with -ENOENT.
    pub(super) fn gone_meanwhile<R>(&self, m: &mut Meta, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<R> {
        if !registry::unlinked_marker(&self.root, self.uuid).exists() {
            return Err(Error::NoEnt(format!(
                "container {} was moved or removed without daos_container_unlink; its change is not recorded",
                self.path.display()
            )));
        }
        crate::log!(Info, "container {} was unlinked meanwhile; changes stay in memory", self.path.display());
        self.unlinked.store(true, Ordering::Release);
        let mut copy = m.clone();
        let r = f(&mut copy)?;
        *m = copy;
        Ok(r)
    }

    pub fn shard(&self, id: u32) -> Option<Arc<Shard>> {
        self.shards.read().get(&id).cloned()
    }

    /// Shard `id`, or `-ENOENT` if the layout has none.
    pub fn existing_shard(&self, id: u32) -> Result<Arc<Shard>> {
        self.shard(id).ok_or_else(|| Error::NoEnt(format!("shard {id} does not exist")))
    }

    /// Shard `id` if it exists and is not disabled, else `-ENOENT`.
    pub fn live_shard(&self, id: u64) -> Result<Arc<Shard>> {
        if id >= MAX_SHARDS as u64 {
            return Err(Error::NoEnt(format!("shard id {id} is out of range")));
        }
        let sh = self.existing_shard(id as u32)?;
        sh.check_live()?;
        Ok(sh)
    }

    /// A stamp for a new journal record: unique in the store (see
    /// [`crate::store::slot`]), and higher than every stamp this process
    /// handed out before.
    pub fn next_stamp(&self) -> Result<u64> {
        let s = match self.slot.get() {
            Some(s) => s,
            None => {
                let s = slot::of_store(&self.root)?;
                self.slot.get_or_init(|| s)
            }
        };
        s.stamp(self.stamp_floor.load(Ordering::Relaxed))
    }

    pub fn hce(&self) -> u64 {
        self.meta.lock().hce
    }

    /// Reads at `e` are possible (else -ESTALE). The common cases (newest,
    /// or at/above the oldest readable epoch) take no lock.
    pub fn check_readable(&self, e: u64) -> Result<()> {
        if e == u64::MAX || e >= self.oldest.load(Ordering::Acquire) {
            return Ok(());
        }
        let m = self.meta.lock();
        ops::read_epoch(&m, e).map(|_| ())
    }

    /// The directory of a target, if the target exists.
    pub fn target_dir(&self, t: u32) -> Option<&Path> {
        self.store.targets.get(t as usize).map(|t| t.dir.as_path())
    }

    /// Lowest read reference of the open handles (`u64::MAX` if none).
    pub fn lowest_ref(&self) -> u64 {
        self.refs.lock().values().copied().min().unwrap_or(u64::MAX)
    }

    /// Removes the container's shard directories, lock file and registry
    /// directory (after unlink, at the last close in any process). The caller
    /// holds the container's lock.
    pub(super) fn remove_data(uuid: [u64; 2], store: &StoreConf, root: &Path) {
        for t in &store.targets {
            let d = crate::shard::container_dir(&t.dir, uuid);
            if d.exists() {
                if let Err(e) = std::fs::remove_dir_all(&d) {
                    crate::log!(Warn, "could not remove {}: {e}", d.display());
                }
            }
        }
        let _ = std::fs::remove_dir_all(collective::tokens_dir(root, uuid));
        let reg = registry::registry_dir(root, uuid);
        if let Err(e) = std::fs::remove_dir_all(&reg) {
            if e.kind() != std::io::ErrorKind::NotFound {
                crate::log!(Warn, "could not remove {}: {e}", reg.display());
            }
        }
        let _ = std::fs::remove_file(registry::unlinked_marker(root, uuid));
        let _ = std::fs::remove_file(litter::marker(root, uuid));
        let _ = std::fs::remove_file(lock_file(root, uuid));
    }
}

impl Drop for CState {
    fn drop(&mut self) {
        self.release();
    }
}

/// Builds the shared state of a container from its metadata (and this
/// process's registration as its reader): opens the shards and replays their
/// journals. A writer that died left its segments unsealed: their records
/// above HSE are void (sealed in memory; the next metadata update by a writer
/// records it).
pub(crate) fn build_state(
    path: PathBuf,
    root: PathBuf,
    store: StoreConf,
    mut m: Meta,
    corrupt: bool,
    reg: Option<registry::Registration>,
) -> Result<Arc<CState>> {
    let mut abandoned = Vec::new();
    let shard_dirs: HashMap<u32, PathBuf> = m
        .shards
        .iter()
        .filter_map(|s| store.targets.get(s.target as usize).map(|t| (s.id, shard_dir(&t.dir, m.uuid, s.id))))
        .collect();
    let mut held: Option<Vec<(u32, u64)>> = None;
    for s in m.segs.iter_mut() {
        // A writer that died left its segment unsealed; one alive in another
        // process still holds the lock on its journal. A peer of a collective
        // open that is still open may have gone: its master may still commit
        // what it flushed.
        let alive = shard_dirs.get(&s.shard).is_some_and(|d| crate::shard::writer_alive(d, s.seg))
            || (s.sealed == meta::UNSEALED
                && held.get_or_insert_with(|| collective::segments_of_live_masters(&root, m.uuid)).contains(&(s.shard, s.seg)));
        if s.sealed == meta::UNSEALED && !alive {
            s.sealed = m.hse;
            abandoned.push((s.shard, s.seg, m.hse));
        }
    }
    let mut shards = HashMap::new();
    for sm in &m.shards {
        let Some(t) = store.targets.get(sm.target as usize) else { continue };
        let sh = Shard::new(sm.id, sm.target, shard_dir(&t.dir, m.uuid, sm.id));
        sh.set_committed(m.visible_committed(sm));
        sh.disabled.store(sm.disabled, Ordering::Release);
        shards.insert(sm.id, Arc::new(sh));
    }
    let oldest = m.oldest;
    let csum = m.flags & meta::FLAG_NOCSUM == 0;
    let cs = Arc::new(CState {
        uuid: m.uuid,
        lock_path: lock_file(&root, m.uuid),
        reg_dir: registry::registry_dir(&root, m.uuid),
        reg: Mutex::new(reg),
        path,
        root,
        store,
        meta: Mutex::new(m),
        shards: RwLock::new(shards),
        stamp_floor: AtomicU64::new(1),
        slot: OnceLock::new(),
        refs: Mutex::new(HashMap::new()),
        handles: Mutex::new(HashMap::new()),
        waiters: Mutex::new(Vec::new()),
        listeners: Mutex::new(Vec::new()),
        unlinked: AtomicBool::new(false),
        corrupt,
        csum,
        commit_lock: Mutex::new(()),
        refresh_lock: Mutex::new(()),
        abandoned: Mutex::new(abandoned),
        departed: Mutex::new(Vec::new()),
        oldest: AtomicU64::new(oldest),
        compacting: AtomicBool::new(false),
        compact_again: AtomicBool::new(false),
        writable: AtomicBool::new(false),
        watch: Mutex::new(None),
        hold_watches: Mutex::new(Vec::new()),
        settled_seq: AtomicU64::new(0),
    });
    cs.catch_up();
    Ok(cs)
}
