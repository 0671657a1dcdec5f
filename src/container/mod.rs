//! Containers (SPEC §5) and their epochs (SPEC §8).
//!
//! A container is a file (its metadata, see [`meta`]) at a path inside a
//! store; its data lives in shards on the store's targets. Every handle of
//! this process on one container shares one [`CState`]: the metadata as last
//! written, the shards with their indexes, the handles' read references, and
//! the pending waits and listens.

pub mod collective;
pub mod compact;
pub mod epoch;
pub mod hold;
pub mod meta;
mod ops;
pub mod registry;
pub mod writer;

pub use epoch::*;
pub use ops::*;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};

use crate::error::{Error, Result};
use crate::event::Completer;
use crate::ffi::types::*;
use crate::runtime::state;
use crate::shard::{shard_dir, Shard};
use crate::store::slot::{self, Slot};
use crate::store::{FileLock, StoreConf, DOT_DAOS};
use crate::util::take_where;
use meta::Meta;
use writer::Writer;

/// A pending `daos_epoch_wait`.
pub struct Waiter {
    /// The handle waiting (its close ends the wait with -EBADF).
    pub cookie: u64,
    pub target: u64,
    pub completer: Completer,
    pub deliver: Box<dyn FnOnce(u64, u64) + Send>,
}

/// A pending `daos_container_listen`.
pub struct Listener {
    pub handle: Arc<CoHandle>,
    pub cap: usize,
    pub completer: Completer,
    pub deliver: Box<dyn FnOnce(Vec<daos_shard_event>) + Send>,
}

/// The state of one open container in this process.
pub struct CState {
    pub uuid: [u64; 2],
    pub path: PathBuf,
    pub root: PathBuf,
    pub store: StoreConf,
    lock_path: PathBuf,
    /// The container's directory in the readers registry (see [`registry`]).
    reg_dir: PathBuf,
    /// This process's registration there, while it has handles open.
    reg: Mutex<Option<registry::Registration>>,
    pub meta: Mutex<Meta>,
    pub shards: RwLock<HashMap<u32, Arc<Shard>>>,
    /// Stamp counters start here: above every counter seen in the journals.
    pub stamp_floor: AtomicU64,
    /// The stamp slot this state takes stamps from (this process's slot in
    /// the store, claimed at the first stamp).
    slot: OnceLock<Arc<Slot>>,
    /// Read reference (slipped epoch) of each open handle.
    pub refs: Mutex<HashMap<u64, u64>>,
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
    refresh_lock: Mutex<()>,
    /// Segments left unsealed by a writer that died: (shard, segment, seal).
    abandoned: Mutex<Vec<(u32, u64, u64)>>,
    /// Metadata version the writers' staged extents were last settled against.
    settled_seq: AtomicU64,
    /// Mirror of `meta.oldest` for lock-free read checks (only grows).
    pub oldest: AtomicU64,
    /// A background compaction is running.
    pub compacting: AtomicBool,
    /// Some handle of this process opened it read-write (so space may be
    /// reclaimed).
    pub writable: AtomicBool,
    /// Watches the container file for other processes' changes, from the
    /// first wait or listen on until the state goes (see [`CState::watch_file`]).
    watch: Mutex<Option<crate::notify::WatchGuard>>,
    /// While waits are pending: watches on the registrations of other
    /// processes' epoch holders, whose death must wake them (see
    /// [`hold::watch_holders`]).
    hold_watches: Mutex<Vec<(String, crate::notify::WatchGuard)>>,
}

/// An open container handle.
pub struct CoHandle {
    pub cs: Arc<CState>,
    pub rw: bool,
    /// Writer number of this handle (owner of its staged extents).
    pub wid: u32,
    pub writer: Mutex<Writer>,
    pub closed: AtomicBool,
    pub objects: Mutex<Vec<u64>>,
    pub seen_layout: AtomicU64,
    /// Ordinary, master or peer of a collective open.
    pub role: collective::Role,
}

static NEXT_WID: AtomicU64 = AtomicU64::new(1);

impl CState {
    /// Changes the metadata durably: under the container's file lock, `f`
    /// edits a copy, which is written and then becomes the current one. An
    /// unlinked container is only changed in memory.
    ///
    /// The change is made to the metadata as it is on disk, read under the
    /// lock, so a change made meanwhile by another process is kept, not
    /// overwritten by this process's older view. Segments this process found
    /// abandoned (see `build_state`) are sealed in the same write.
    pub fn update<R>(&self, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<R> {
        let (r, gen) = {
            let mut m = self.meta.lock();
            let gen = m.layout_gen;
            if self.unlinked.load(Ordering::Acquire) {
                let mut copy = m.clone();
                let r = f(&mut copy)?;
                *m = copy;
                return Ok(r);
            }
            let _lock = FileLock::acquire(&self.lock_path)?;
            (self.update_locked(&mut m, f), gen)
        };
        // The metadata read under the lock may hold another process's layout
        // change: the shards follow at once.
        if self.meta.lock().layout_gen != gen {
            self.adopt_layout();
        }
        r
    }

    /// [`CState::update`] with the container's file lock held by the caller
    /// (`m`: the current metadata, locked). Nothing is written if nothing
    /// changed.
    fn update_locked<R>(&self, m: &mut Meta, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<R> {
        let (mut copy, loaded) = match Meta::load(&self.path) {
            Ok(meta::Loaded::Ok(d)) if d.uuid == m.uuid => {
                let mut copy = d.clone();
                self.keep_local(&mut copy, m);
                (copy, Some(d))
            }
            Ok(meta::Loaded::Ok(_)) => return self.gone_meanwhile(m, f),
            Err(e) if e.errno() == libc::ENOENT => return self.gone_meanwhile(m, f),
            _ => (m.clone(), None),
        };
        let r = f(&mut copy)?;
        if loaded.as_ref() != Some(&copy) {
            copy.save(&self.path)?;
        }
        *m = copy;
        Ok(r)
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
    fn settle_and_notify(self: &Arc<Self>, changed: bool) {
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
    fn adopt_newer(&self) -> bool {
        match Meta::load(&self.path) {
            Ok(meta::Loaded::Ok(d)) if d.uuid == self.uuid => self.take_meta(d),
            _ => false,
        }
    }

    /// Adopts `d` if it is newer than the current metadata; returns whether it was.
    fn take_meta(&self, mut d: Meta) -> bool {
        {
            let mut m = self.meta.lock();
            if d.seq <= m.seq {
                return false;
            }
            self.keep_local(&mut d, &m);
            *m = d;
        }
        self.adopt_layout();
        true
    }

    /// Carries into `d` (metadata read from disk) what only this process
    /// knows, from `m` (its current view): the oldest readable epoch it moved
    /// to, and the seals of the segments it found abandoned.
    fn keep_local(&self, d: &mut Meta, m: &Meta) {
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
    fn adopt_layout(&self) {
        let m = self.meta.lock().clone();
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
    fn catch_up(&self) {
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
                if let Err(e) = sh.catch_up(&m, &live, &mut floor) {
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
            return;
        }
    }

    /// The container file is gone, or is now another container. If
    /// `daos_container_unlink` removed it (by another process), its handles
    /// keep working in memory. A container file renamed or removed by other
    /// means is not written elsewhere: the change fails with -ENOENT.
    fn gone_meanwhile<R>(&self, m: &mut Meta, f: impl FnOnce(&mut Meta) -> Result<R>) -> Result<R> {
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
    fn remove_data(uuid: [u64; 2], store: &StoreConf, root: &Path) {
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
        let _ = std::fs::remove_file(lock_file(root, uuid));
    }
}

impl Drop for CState {
    fn drop(&mut self) {
        self.release();
    }
}

fn lock_file(root: &Path, uuid: [u64; 2]) -> PathBuf {
    root.join(DOT_DAOS).join("locks").join(format!("c-{:016x}{:016x}", uuid[0], uuid[1]))
}

/// Refuses a container path inside the store's `.daos/` or inside a target
/// directory: those hold the library's own files (a container there could
/// take the name of one, and unlinking it would remove it).
pub(crate) fn check_container_place(path: &Path, root: &Path, store: &StoreConf) -> Result<()> {
    let in_dot = path.strip_prefix(root).ok().and_then(|r| r.components().next()).is_some_and(|c| c.as_os_str() == DOT_DAOS);
    let in_target = store.targets.iter().find(|t| path.starts_with(&t.dir));
    if in_dot || in_target.is_some() {
        let where_ = match in_target {
            Some(t) => format!("the directory of target {}", t.id),
            None => format!("{}/{DOT_DAOS}", root.display()),
        };
        return Err(Error::Inval(format!(
            "{} is inside {where_}, which holds the library's own files: a container cannot be there",
            path.display()
        )));
    }
    Ok(())
}

/// Absolute form of a container path, with its parent resolved.
pub(crate) fn abs_path(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::Inval(format!("{} does not name a file", path.display())))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = std::fs::canonicalize(&parent)
        .map_err(|e| crate::util::io_err(e, format!("parent directory of {}", path.display())))?;
    Ok(parent.join(name))
}

/// Builds the shared state of a container from its metadata (and this
/// process's registration as its reader): opens the shards and replays their
/// journals. A writer that died left its segments unsealed: their records
/// above HSE are void (sealed in memory; the next metadata update by a writer
/// records it).
fn build_state(
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
        waiters: Mutex::new(Vec::new()),
        listeners: Mutex::new(Vec::new()),
        unlinked: AtomicBool::new(false),
        corrupt,
        csum,
        commit_lock: Mutex::new(()),
        refresh_lock: Mutex::new(()),
        abandoned: Mutex::new(abandoned),
        oldest: AtomicU64::new(oldest),
        compacting: AtomicBool::new(false),
        writable: AtomicBool::new(false),
        watch: Mutex::new(None),
        hold_watches: Mutex::new(Vec::new()),
        settled_seq: AtomicU64::new(0),
    });
    cs.catch_up();
    Ok(cs)
}

/// Creates an empty container file at `path` (which must not exist).
fn create_file(path: &Path, store: &StoreConf, flags: u32) -> Result<()> {
    let mut m = Meta { uuid: [crate::util::random_u64(), crate::util::random_u64()], store: store.uuid, flags, ..Default::default() };
    m.seq = 1;
    link_new(path, &m.encode())
}

/// Writes `data` to a new file at `path` atomically; `-EEXIST` if it exists.
pub(crate) fn link_new(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".daos-new.{}.{:x}", std::process::id(), crate::util::random_u64()));
    let res = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(|e| crate::util::io_err(e, format!("create {}", tmp.display())))?;
        f.write_all(data).map_err(|e| crate::util::io_err(e, "write container"))?;
        f.sync_all().map_err(|e| crate::util::io_err(e, "fsync container"))?;
        std::fs::hard_link(&tmp, path).map_err(|e| crate::util::io_err(e, format!("create {}", path.display())))?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    res?;
    crate::util::fsync_dir(dir)
}

/// Whether this process may open `path` for reading (and writing).
fn check_access(path: &Path, rw: bool) -> Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Inval("path contains a NUL byte".into()))?;
    let mode = if rw { libc::R_OK | libc::W_OK } else { libc::R_OK };
    // SAFETY: `c` is a valid C string for the duration of the call.
    if unsafe { libc::access(c.as_ptr(), mode) } != 0 {
        return Err(crate::util::io_err(std::io::Error::last_os_error(), format!("container {}", path.display())));
    }
    Ok(())
}

/// `daos_container_open` (non-collective): returns (status, handle).
pub fn open(path: &Path, mode: u32, nprocess: u32) -> Result<(daos_container_status_t, u64)> {
    open_as(path, mode, nprocess, true)
}

/// [`open`]; with `shared == false` the handle gets a state of its own (its
/// own registration as a reader, its own stamp slot), as if it were opened
/// by another process (tests).
pub(crate) fn open_as(path: &Path, mode: u32, nprocess: u32, shared: bool) -> Result<(daos_container_status_t, u64)> {
    let known = DAOS_COO_RO | DAOS_COO_RW | DAOS_COO_CREATE | DAOS_COO_OWN_RECOV | DAOS_RS_COO_NOCSUM;
    if mode & !known != 0 {
        return Err(Error::Inval(format!("unknown open mode bits {:#x}", mode & !known)));
    }
    if mode & DAOS_RS_COO_NOCSUM != 0 && mode & DAOS_COO_CREATE == 0 {
        return Err(Error::Inval("DAOS_RS_COO_NOCSUM is a property at create: it needs DAOS_COO_CREATE".into()));
    }
    let rw = match (mode & DAOS_COO_RO != 0, mode & DAOS_COO_RW != 0) {
        (true, false) => false,
        (false, true) => true,
        _ => return Err(Error::Inval("open mode needs exactly one of DAOS_COO_RO and DAOS_COO_RW".into())),
    };
    let path = abs_path(path)?;
    let root = crate::store::find_root(path.parent().unwrap_or(Path::new("/")))?;
    let store = StoreConf::open(&root)?;
    check_container_place(&path, &root, &store)?;
    // Leftovers of processes that died with an unlinked container open.
    registry::sweep_unlinked(&root, &store);
    // The file may be unlinked or replaced between reading its identity and
    // registering under its lock: then look again.
    let mut found = None;
    for _ in 0..8 {
        found = find_state(&path, &root, &store, mode, rw, shared)?;
        if found.is_some() {
            break;
        }
    }
    let cs = found.ok_or_else(|| Error::NoEnt(format!("container {} keeps being unlinked or replaced", path.display())))?;
    let role = if nprocess > 1 { collective::Role::Master(collective::Master::create(&cs)?) } else { collective::Role::Plain };
    // A holder that died frees the epochs it held.
    hold::reap_dead(&cs);
    let status = status_of(&cs);
    let cookie = new_handle(&cs, rw, role)?;
    Ok((status, cookie))
}

/// The shared state of container `m.uuid` in this process for a peer of a
/// collective open: the existing one (brought up to `m` if that is newer),
/// or one built from `m` without reading the container file, registered as
/// a reader at `m`'s HCE.
pub(crate) fn state_for(path: PathBuf, root: PathBuf, store: StoreConf, m: Meta, shared: bool) -> Result<Arc<CState>> {
    let mut reg = state().open_containers.lock();
    let found = reg.get(&m.uuid).and_then(|w| w.upgrade()).filter(|c| shared && !c.unlinked.load(Ordering::Acquire));
    if let Some(cs) = found {
        drop(reg);
        cs.adopt(m);
        return Ok(cs);
    }
    let r = {
        let _lock = FileLock::acquire(&lock_file(&root, m.uuid))?;
        registry::Registration::create(&registry::registry_dir(&root, m.uuid), m.hce)?
    };
    let cs = build_state(path, root.clone(), store, m, false, Some(r))?;
    if shared {
        reg.insert(cs.uuid, Arc::downgrade(&cs));
    } else {
        let _ = cs.slot.set(Arc::new(Slot::claim(&root)?));
    }
    Ok(cs)
}

/// A new handle on `cs`; returns its cookie.
pub(crate) fn new_handle(cs: &Arc<CState>, rw: bool, role: collective::Role) -> Result<u64> {
    let rw = rw && !cs.corrupt;
    if rw {
        cs.writable.store(true, Ordering::Release);
    }
    let seen = cs.meta.lock().layout_gen;
    let h = CoHandle {
        cs: cs.clone(),
        rw,
        wid: (NEXT_WID.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff) as u32 + 1,
        writer: Mutex::new(Writer::default()),
        closed: AtomicBool::new(false),
        objects: Mutex::new(Vec::new()),
        seen_layout: AtomicU64::new(seen),
        role,
    };
    cs.attach(h)
}

/// The state of the container at `path` (creating it if asked): the one this
/// process has (with `shared`), or a new one, built from the metadata read
/// under the container's lock while registering this process as its reader.
/// `None`: unlinked or replaced meanwhile, look again.
fn find_state(path: &Path, root: &Path, store: &StoreConf, mode: u32, rw: bool, shared: bool) -> Result<Option<Arc<CState>>> {
    if !path.exists() {
        if mode & DAOS_COO_CREATE == 0 {
            return Err(Error::NoEnt(format!("container {} does not exist", path.display())));
        }
        let flags = if mode & DAOS_RS_COO_NOCSUM != 0 { meta::FLAG_NOCSUM } else { 0 };
        match create_file(path, store, flags) {
            Ok(()) => {}
            Err(e) if e.errno() == libc::EEXIST => {}
            Err(e) => return Err(e),
        }
    }
    if path.is_dir() {
        return Err(Error::Inval(format!("{} is a directory, not a container", path.display())));
    }
    check_access(path, rw)?;
    let m = match Meta::load(path) {
        Ok(meta::Loaded::Ok(m)) => m,
        Ok(meta::Loaded::Corrupt(m)) => {
            crate::log!(Warn, "container {} fails its checksum: opened read-only as CORRUPT", path.display());
            let cs = build_state(path.to_path_buf(), root.to_path_buf(), store.clone(), m.unwrap_or_default(), true, None)?;
            return Ok(Some(cs));
        }
        Err(e) if e.errno() == libc::ENOENT => return Ok(None),
        Err(e) => return Err(e),
    };
    if m.store != store.uuid {
        return Err(Error::Inval(format!("container {} belongs to another store", path.display())));
    }
    let mut reg = state().open_containers.lock();
    if shared {
        if let Some(cs) = reg.get(&m.uuid).and_then(|w| w.upgrade()).filter(|c| !c.unlinked.load(Ordering::Acquire)) {
            drop(reg);
            cs.refresh();
            return Ok(Some(cs));
        }
    }
    let Some((m, r)) = registry::load_and_register(path, root, m.uuid)? else { return Ok(None) };
    let cs = build_state(path.to_path_buf(), root.to_path_buf(), store.clone(), m, false, Some(r))?;
    if shared {
        reg.insert(cs.uuid, Arc::downgrade(&cs));
    } else {
        // As another process would, it takes stamps from a slot of its own.
        let _ = cs.slot.set(Arc::new(Slot::claim(root)?));
    }
    Ok(Some(cs))
}

/// The container's status for open.
pub fn status_of(cs: &CState) -> daos_container_status_t {
    if cs.corrupt {
        return DAOS_CONTAINER_ST_CORRUPT;
    }
    let m = cs.meta.lock();
    let now = StoreConf::load(&cs.root).unwrap_or_else(|_| cs.store.clone());
    let faulty = m.shards.iter().filter(|s| !s.disabled).any(|s| {
        crate::store::sys::target_status(&now, s.target) < 0
    });
    if faulty {
        DAOS_CONTAINER_ST_FAULTY
    } else if m.shards.iter().any(|s| !s.disabled && s.committed < m.hse) {
        DAOS_CONTAINER_ST_STUCK
    } else {
        DAOS_CONTAINER_ST_OK
    }
}

/// Looks up an open container handle. A peer of a collective open whose
/// master has closed (or died) gives -EPERM.
pub fn handle(cookie: u64) -> Result<Arc<CoHandle>> {
    let h = handle_any(cookie)?;
    if let collective::Role::Peer(p) = &h.role {
        p.check()?;
    }
    Ok(h)
}

/// Looks up an open container handle, revoked or not.
pub fn handle_any(cookie: u64) -> Result<Arc<CoHandle>> {
    let h = state().containers.get(cookie)?;
    if h.closed.load(Ordering::Acquire) {
        return Err(Error::BadF("container handle is closed".into()));
    }
    Ok(h)
}

impl CoHandle {
    /// Refuses what only the master of a collective open (or an ordinary
    /// handle) may do.
    pub fn need_master(&self, what: &str) -> Result<()> {
        match self.role {
            collective::Role::Peer(_) => {
                Err(Error::Perm(format!("{what}: only the master of a collective open may do this, not a peer")))
            }
            _ => Ok(()),
        }
    }

    /// A peer whose master is known to have revoked it (no system call).
    pub fn revoked(&self) -> bool {
        matches!(&self.role, collective::Role::Peer(p) if p.is_revoked())
    }

    /// Refuses a change through a read-only handle.
    pub fn need_rw(&self, what: &str) -> Result<()> {
        if self.rw {
            Ok(())
        } else if self.cs.corrupt {
            Err(Error::Perm(format!("{what}: the container is CORRUPT and open read-only")))
        } else {
            Err(Error::Perm(format!("{what}: the container handle is read-only")))
        }
    }
}

/// `daos_container_close`.
pub fn close(cookie: u64) -> Result<()> {
    let h = handle_any(cookie)?;
    if h.closed.swap(true, Ordering::AcqRel) {
        return Err(Error::BadF("container handle is closed".into()));
    }
    for o in std::mem::take(&mut *h.objects.lock()) {
        let _ = state().objects.remove(o);
    }
    // Its epoch hold goes (were this to fail, the hold would be freed as a
    // dead handle's: see `hold::reap_dead`).
    if let Err(e) = hold::release(&h.cs, cookie) {
        crate::log!(Info, "close of {}: its epoch hold stays until found dead: {e}", h.cs.path.display());
    }
        // Sealing is not needed for correctness (the next opener seals the
    // segments of a writer that is gone): a container file moved away
    // meanwhile does not make the close fail.
    let r = match epoch::seal_writer(&h) {
        Err(e) if e.errno() == libc::ENOENT => {
            crate::log!(Info, "close of {}: {e}", h.cs.path.display());
            Ok(())
        }
        r => r,
    };
    // A master's close revokes its peers.
    if let collective::Role::Master(m) = &h.role {
        m.revoke();
    }
    h.cs.refs.lock().remove(&cookie);
    let _ = state().containers.remove(cookie);
    // Pending waits and listens of this handle end with -EBADF.
    let listens = take_where(&mut h.cs.listeners.lock(), |l| Arc::ptr_eq(&l.handle, &h));
    for l in listens {
        l.completer.complete(|| -libc::EBADF);
    }
    let waits = take_where(&mut h.cs.waiters.lock(), |w| w.cookie == cookie);
    for w in waits {
        w.completer.complete(|| -libc::EBADF);
    }
    if h.cs.refs.lock().is_empty() {
        // The last handle of this process: it is no longer a reader; the
        // space of an unlinked container goes if no process has it open.
        h.cs.release();
    } else {
        epoch::maybe_aggregate(&h.cs);
    }
    r
}

/// `daos_container_unlink`.
pub fn unlink(path: &Path) -> Result<()> {
    let path = abs_path(path)?;
    if path.is_dir() {
        return Err(Error::Inval(format!("{} is a directory, not a container", path.display())));
    }
    let root = crate::store::find_root(path.parent().unwrap_or(Path::new("/")))?;
    let store = StoreConf::open(&root)?;
    let uuid = |p: &Path| -> Result<Option<[u64; 2]>> {
        Ok(match Meta::load(p)? {
            meta::Loaded::Ok(m) | meta::Loaded::Corrupt(Some(m)) => Some(m.uuid),
            meta::Loaded::Corrupt(None) => None,
        })
    };
    let remove = |p: &Path| -> Result<()> {
        std::fs::remove_file(p).map_err(|e| crate::util::io_err(e, format!("unlink {}", p.display())))?;
        if let Some(d) = p.parent() {
            let _ = crate::util::fsync_dir(d);
        }
        Ok(())
    };
    // Under the container's lock (it may be replaced meanwhile: look again).
    for _ in 0..8 {
        let Some(id) = uuid(&path)? else { return remove(&path) };
        // (Taken before the file lock: opens take them in the other order.)
        let here = state().open_containers.lock().get(&id).and_then(|w| w.upgrade());
        if let Some(cs) = &here {
            // Its space reclamation must not run on while the data goes
            // (nor wait for the lock held here).
            cs.wait_compaction();
        }
        let lock = FileLock::acquire(&lock_file(&root, id))?;
        if uuid(&path)? != Some(id) {
            continue;
        }
        // The marker says the data may go at the last close; a container
        // file renamed or removed by other means keeps its data.
        let marker = registry::unlinked_marker(&root, id);
        if let Some(d) = marker.parent() {
            crate::util::private_dir(d).map_err(|e| crate::util::io_err(e, format!("create {}", d.display())))?;
        }
        crate::util::atomic_write(&marker, b"unlinked")?;
        remove(&path)?;
        if let Some(cs) = &here {
            cs.unlinked.store(true, Ordering::Release);
        }
        // Open in some process (this one included): the last close removes the data.
        if registry::lowest_live(&registry::registry_dir(&root, id), None).is_none() {
            CState::remove_data(id, &store, &root);
        }
        // (Before `here`, whose drop may take the lock.)
        drop(lock);
        drop(here);
        registry::sweep_unlinked(&root, &store);
        return Ok(());
    }
    Err(Error::Os { errno: libc::EAGAIN, msg: format!("container {} keeps being replaced", path.display()) })
}

#[cfg(test)]
mod tests;
