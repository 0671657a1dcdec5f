//! Opening, looking up, closing and unlinking containers.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::event::end_pending;
use crate::abi::types::*;
use crate::abi::flags::{self, CooMode};

use super::*;

/// `daos_container_open` (non-collective): returns (status, handle).
pub fn open(path: &Path, mode: u32, nprocess: u32) -> Result<(daos_container_status_t, u64)> {
    open_as(path, mode, nprocess, true)
}

/// [`open`]; with `shared == false` the handle gets a state of its own (its
/// own registration as a reader, its own stamp slot), as if it were opened
/// by another process (tests).
pub(crate) fn open_as(path: &Path, mode: u32, nprocess: u32, shared: bool) -> Result<(daos_container_status_t, u64)> {
    let m: CooMode = flags::parse(mode, "open mode")?;
    let rw = flags::read_write(m.contains(CooMode::RO), m.contains(CooMode::RW), "open mode needs exactly one of DAOS_COO_RO and DAOS_COO_RW")?;
    if m.contains(CooMode::NOCSUM) && !m.contains(CooMode::CREATE) {
        return Err(Error::Inval("DAOS_RS_COO_NOCSUM is a property at create: it needs DAOS_COO_CREATE".into()));
    }
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
    let mut reg = open_containers().lock();
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
pub(crate) fn find_state(path: &Path, root: &Path, store: &StoreConf, mode: u32, rw: bool, shared: bool) -> Result<Option<Arc<CState>>> {
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
    let mut reg = open_containers().lock();
    if shared {
        if let Some(cs) = reg.get(&m.uuid).and_then(|w| w.upgrade()).filter(|c| !c.unlinked.load(Ordering::Acquire)) {
            drop(reg);
            cs.refresh();
            return Ok(Some(cs));
        }
    }
    // A commit left pending when the machine stopped (see `meta::Pending`)
    // is settled first, kept if its data is on disk, so that every reader
    // sees the same outcome (and the writer's segment is sealed above it).
    if let Err(e) = pending::settle(path, root, store) {
        crate::log!(Warn, "container {}: a commit left pending when the machine stopped is not settled: {e}", path.display());
    }
    let Some((m, r, swept)) = registry::load_and_register(path, root, store, m.uuid)? else { return Ok(None) };
    let cs = build_state(path.to_path_buf(), root.to_path_buf(), store.clone(), m, false, Some(r))?;
    if swept && rw {
        // A process died with it open, maybe in the middle of reclaiming
        // space: that goes on now, not at the next commit.
        cs.writable.store(true, Ordering::Release);
        compact::spawn(&cs);
    }
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
    let now = cs.store.reload(&cs.root);
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
    let h = handles().get(cookie)?;
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
    for (o, forget) in std::mem::take(&mut *h.objects.lock()) {
        forget(o);
    }
    // Its epoch hold goes (were this to fail, the hold would be freed as a
    // dead handle's: see `hold::reap_dead`).
    if let Err(e) = hold::release(&h.cs, cookie) {
        crate::log!(Info, "close of {}: its epoch hold stays until found dead: {e}", h.cs.path.display());
    }
    // Sealing is not needed for correctness (the next opener seals the
    // segments of a writer that is gone): a container file moved away
    // meanwhile does not make the close fail.
    // Nor does a full file system (the new container file needs space):
    // closing is how space is given back.
    let r = match epoch::seal_writer(&h) {
        Err(e) if [libc::ENOENT, libc::ENOSPC, libc::EDQUOT].contains(&e.errno()) => {
            crate::log!(Info, "close of {}: {e}", h.cs.path.display());
            Ok(())
        }
        r => r,
    };
    // Segments no commit published are nobody's now.
    litter::drop_unpublished(&h);
    // A master's close revokes its peers.
    if let collective::Role::Master(m) = &h.role {
        let peers = m.peer_segments();
        m.revoke();
        litter::drop_peers_unpublished(&h.cs, &peers);
    }
    h.cs.refs.lock().remove(&cookie);
    h.cs.handles.lock().remove(&cookie);
    let _ = handles().remove(cookie);
    // Pending waits and listens of this handle end with -EBADF.
    end_pending(&h.cs.listeners, |l| Arc::ptr_eq(&l.handle, &h), -libc::EBADF);
    end_pending(&h.cs.waiters, |w| w.cookie == cookie, -libc::EBADF);
    // Its segments, sealed now, may be merged with others (see `compact`).
    if h.rw {
        compact::spawn(&h.cs);
    }
    if h.cs.refs.lock().is_empty() {
        // (No thread of this process works on it after its last close.)
        h.cs.wait_compaction();
        // The last handle of this process: it is no longer a reader; the
        // space of an unlinked container goes if no process has it open.
        h.cs.release();
    } else {
        epoch::maybe_aggregate(&h.cs);
    }
    r
}

/// Makes the (empty) unlinked marker `p`, durably named: the unlink of a
/// container whose file is already removed, on a full file system.
fn make_marker(p: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::base::fs::PRIVATE_FILE)
        .open(p)
        .map_err(|e| crate::base::fs::io_err(e, format!("create {}", p.display())))?;
    crate::base::fs::fsync_dir(p.parent().unwrap_or(Path::new(".")))
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
        std::fs::remove_file(p).map_err(|e| crate::base::fs::io_err(e, format!("unlink {}", p.display())))?;
        if let Some(d) = p.parent() {
            let _ = crate::base::fs::fsync_dir(d);
        }
        Ok(())
    };
    // Under the container's lock (it may be replaced meanwhile: look again).
    for _ in 0..8 {
        let id = match uuid(&path) {
            // Gone: perhaps an unlink killed after removing the container
            // file, before its data: running it again finishes that job.
            Err(e) if e.errno() == libc::ENOENT => {
                registry::sweep_unlinked(&root, &store);
                return Err(e);
            }
            r => r?,
        };
        let Some(id) = id else { return remove(&path) };
        // (Taken before the file lock: opens take them in the other order.)
        let here = open_containers().lock().get(&id).and_then(|w| w.upgrade());
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
            crate::base::fs::private_dir(d).map_err(|e| crate::base::fs::io_err(e, format!("create {}", d.display())))?;
        }
        // The marker names the container file (relative to the store, so a
        // copy of the store stays right): an unlink killed before removing
        // the file leaves a marker whose file is still there, and the
        // container is kept (see `registry::unlink_done`).
        let rel = path.strip_prefix(&root).unwrap_or(&path);
        let named = crate::base::fs::atomic_write(&marker, std::os::unix::ffi::OsStrExt::as_bytes(rel.as_os_str()));
        // Temporary files of its updates cut short would outlive it. (While
        // the path is still this container's, every such file there is one
        // of its updates: written under the lock held here.)
        crate::base::fs::sweep_tmp_of(&path);
        match named {
            Ok(()) => remove(&path)?,
            // A full file system: the marker is an empty file, which needs no
            // data block, made once the container file is gone (an empty
            // marker always means that), so a full store can still be freed.
            Err(e) if e.errno() == libc::ENOSPC => {
                crate::log!(Info, "{e}: the container file goes first, then an empty marker");
                remove(&path)?;
                make_marker(&marker)?;
            }
            Err(e) => return Err(e),
        }
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
