//! The readers registry: which processes have a container open, and the
//! lowest epoch each of them may still read (SPEC §8, §9: a version still
//! readable by an open handle in any process is never reclaimed; SPEC §5: an
//! unlinked container's space goes at the last close in any process).
//!
//! Per container, the directory `.daos/open/c-<container>/` holds one file
//! per process that has the container open, named `<pid>-<random hex>`,
//! holding that process's lowest read reference (u64 LE) and a CRC-32C of it
//! (u32 LE; earlier versions wrote the 8 bytes alone, still read). A
//! reference that cannot be read, or fails its checksum, counts as epoch 0
//! (nothing is aggregated). The process holds
//! an `flock(LOCK_EX)` on it while it is registered, so a file whose lock
//! can be taken is a dead process's, and is removed by whoever finds it.
//!
//! Every change of the registry, and every read of it, is made under the
//! container's lock (its `flock` in `.daos/locks/`), the same lock metadata
//! updates take:
//! - an open reads the metadata and registers under it (with the HCE it read
//!   as its reference), so no aggregation can pass over the epoch it reads;
//! - `oldest` moves (and is written) under it, up to the lowest of this
//!   process's references, every live registered one and HCE;
//! - unlink removes the container file under it, and removes the data only
//!   if no registration is live; the last close in a process removes its
//!   registration under it, and removes the data if the container file is
//!   gone (or is another container now) and no registration is live.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::meta::{self, Meta};
use super::{CState, CoHandle};
use crate::error::{Error, Result};
use crate::store::{FileLock, DOT_DAOS};
use crate::base::fs::io_err;

/// The registry directory of container `uuid` in the store at `root`.
/// The marker `daos_container_unlink` leaves for a container whose data goes
/// at its last close (in any process).
pub(crate) fn unlinked_marker(root: &Path, uuid: [u64; 2]) -> PathBuf {
    root.join(DOT_DAOS).join("unlinked").join(crate::base::ids::ContainerId(uuid).to_string())
}

/// Whether `daos_container_unlink` removed container `uuid`'s file: its
/// marker is there and the file it names (relative to the store) is gone or
/// is another container now. An empty marker was made after the file's
/// removal (a full file system). A marker whose file is still there is an
/// unlink killed before removing it: the container stays whole (as it does
/// when the file cannot be read: data is not removed on a doubt).
pub(crate) fn unlink_done(root: &Path, uuid: [u64; 2]) -> bool {
    let Ok(named) = std::fs::read(unlinked_marker(root, uuid)) else { return false };
    if named.is_empty() {
        return true;
    }
    let p = root.join(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&named));
    match Meta::load(&p) {
        Ok(meta::Loaded::Ok(m) | meta::Loaded::Corrupt(Some(m))) => m.uuid != uuid,
        Ok(meta::Loaded::Corrupt(None)) => true,
        Err(e) => e.errno() == libc::ENOENT,
    }
}

/// Removes the data of unlinked containers that no live process has open
/// any more (their last holder died without closing them).
pub(crate) fn sweep_unlinked(root: &Path, store: &crate::store::StoreConf) {
    let Ok(rd) = std::fs::read_dir(root.join(DOT_DAOS).join("unlinked")) else { return };
    for ent in rd.flatten() {
        let name = ent.file_name();
        // A marker's temporary file left by an unlink killed before its
        // rename (written under the container's lock).
        if let Some(c) = name.to_str().and_then(super::litter::tmp_target) {
            if let Some(uuid) = parse_cid(c) {
                if let Ok(_l) = FileLock::acquire(&super::lock_file(root, uuid)) {
                    let _ = std::fs::remove_file(ent.path());
                }
            }
            continue;
        }
        let Some(uuid) = name.to_str().and_then(parse_cid) else { continue };
        let hex = &name.to_str().unwrap_or_default()[2..];
        let lock = super::lock_file(root, uuid);
        let Ok(_l) = FileLock::acquire(&lock) else { continue };
        if !ent.path().exists() {
            continue;
        }
        if !unlink_done(root, uuid) {
            // Its unlink was killed before it removed the container file
            // (a live one holds the lock taken here): it did not happen.
            crate::log!(Info, "an unlink of container {hex} was cut short before it removed the container file: the container is kept");
            let _ = std::fs::remove_file(ent.path());
            continue;
        }
        if lowest_live(&registry_dir(root, uuid), None).is_none() {
            crate::log!(Info, "removing the data of unlinked container {hex}: nobody has it open any more");
            CState::remove_data(uuid, store, root);
        }
    }
}

/// `c-<32 hex digits>`: a container's identity.
fn parse_cid(s: &str) -> Option<[u64; 2]> {
    let hex = s.strip_prefix("c-").filter(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))?;
    Some([u64::from_str_radix(&hex[..16], 16).ok()?, u64::from_str_radix(&hex[16..], 16).ok()?])
}

pub(crate) fn registry_dir(root: &Path, uuid: [u64; 2]) -> PathBuf {
    root.join(DOT_DAOS).join("open").join(crate::base::ids::ContainerId(uuid).to_string())
}

/// This process's registration as a reader of one container.
pub struct Registration {
    /// Holds the `flock` that says the process is alive.
    file: crate::base::lock::Held,
    path: PathBuf,
    /// The reference last written.
    published: u64,
    /// Its name is `<pid>-<nonce as 16 hex digits>`.
    pid: u32,
    nonce: u64,
}

impl Registration {
    /// Registers this process in `dir` with reference `lowest`. The caller
    /// holds the container's lock.
    pub(crate) fn create(dir: &Path, lowest: u64) -> Result<Registration> {
        crate::base::fs::private_dir(dir).map_err(|e| io_err(e, format!("create {}", dir.display())))?;
        let (pid, nonce) = (std::process::id(), crate::base::os::random_u64());
        let path = dir.join(reg_name(pid, nonce));
        let file = crate::base::lock::Tracked::open(|| {
            OpenOptions::new().read(true).write(true).create_new(true).mode(crate::base::fs::PRIVATE_FILE).open(&path)
        })
        .map_err(|e| io_err(e, format!("create {}", path.display())))?;
        let file = match crate::base::lock::Held::lock(file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(io_err(e, format!("lock {}", path.display())));
            }
        };
        let mut r = Registration { file, path, published: !lowest, pid, nonce };
        if let Err(e) = r.publish(lowest) {
            r.remove();
            return Err(e);
        }
        Ok(r)
    }

    /// Writes `lowest` as this process's reference if it changed. The caller
    /// holds the container's lock (readers read under it: no torn values).
    pub(crate) fn publish(&mut self, lowest: u64) -> Result<()> {
        if lowest != self.published {
            let mut b = [0u8; 12];
            b[..8].copy_from_slice(&lowest.to_le_bytes());
            let crc = crate::base::checksum::crc32c(&b[..8]);
            b[8..].copy_from_slice(&crc.to_le_bytes());
            self.file.file().write_all_at(&b, 0).map_err(|e| io_err(e, format!("write {}", self.path.display())))?;
            self.published = lowest;
        }
        Ok(())
    }

    pub(crate) fn published(&self) -> u64 {
        self.published
    }

    /// (pid, nonce): what names this registration (and its holds).
    pub(crate) fn id(&self) -> (u32, u64) {
        (self.pid, self.nonce)
    }

    fn name(&self) -> Option<&OsStr> {
        self.path.file_name()
    }

    /// Unregisters (the lock goes with the descriptor).
    fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The name of the registration file of process `pid` with `nonce`.
pub(crate) fn reg_name(pid: u32, nonce: u64) -> String {
    format!("{pid}-{nonce:016x}")
}

/// Whether the registration `<pid>-<nonce>` in `dir` is a live process's:
/// its file exists and its lock is held. (Used for epoch holds: a hold
/// names the registration of its holder. A probe that cannot tell counts
/// the holder as alive.)
pub(crate) fn holder_alive(dir: &Path, pid: u32, nonce: u64) -> bool {
    let p = dir.join(reg_name(pid, nonce));
    let f = match File::open(&p) {
        Ok(f) => f,
        Err(e) => return e.kind() != std::io::ErrorKind::NotFound,
    };
    // SAFETY: flock on a descriptor we own; released when `f` is dropped.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    r != 0
}

/// The lowest reference of the live registrations in `dir`, other than the
/// file named `own`; `None` if there is none. Files of dead processes are
/// removed. What cannot be read counts as a live reference at epoch 0. The
/// caller holds the container's lock.
pub(crate) fn lowest_live(dir: &Path, own: Option<&OsStr>) -> Option<u64> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            crate::log!(Warn, "readers registry {} unreadable ({e}): keeping every epoch", dir.display());
            return Some(0);
        }
    };
    let mut low: Option<u64> = None;
    for ent in rd {
        let Ok(ent) = ent else {
            low = Some(0);
            continue;
        };
        let name: OsString = ent.file_name();
        if own == Some(name.as_os_str()) {
            continue;
        }
        let p = ent.path();
        let f = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => {
                low = Some(0);
                continue;
            }
        };
        // SAFETY: flock on a descriptor we own; released when `f` is dropped.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            crate::log!(Debug, "readers registry: {} was a dead process's", p.display());
            // What it left behind is swept at the next open or close.
            super::litter::mark_dead_in(dir);
            let _ = std::fs::remove_file(&p);
            continue;
        }
        let mut b = [0u8; 16];
        let v = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().unwrap());
        let r = match f.read_at(&mut b, 0) {
            Ok(8) => v(&b),
            Ok(12) if crate::base::checksum::crc32c(&b[..8]).to_le_bytes() == b[8..12] => v(&b),
            _ => 0,
        };
        low = Some(low.map_or(r, |l| l.min(r)));
    }
    low
}

/// Reads the metadata of container `uuid` at `path` and registers this
/// process as its reader, both under the container's lock, with the HCE read
/// as the reference. `None` if the file is gone or is now another container.
///
/// Under the same lock, what dead processes left behind is swept if one
/// died with the container open (see [`super::litter`]); the third value
/// says whether it was.
pub(crate) fn load_and_register(
    path: &Path,
    root: &Path,
    store: &crate::store::StoreConf,
    uuid: [u64; 2],
) -> Result<Option<(Meta, Registration, bool)>> {
    let lock_path = super::lock_file(root, uuid);
    let _lock = FileLock::acquire(&lock_path)?;
    let m = match Meta::load(path) {
        Ok(meta::Loaded::Ok(m)) if m.uuid == uuid => m,
        Ok(_) => return Ok(None),
        Err(e) if e.errno() == libc::ENOENT => {
            // Unlinked meanwhile: the lock file this made is litter, unless
            // another process has the container open still.
            if lowest_live(&registry_dir(root, uuid), None).is_none() {
                let _ = std::fs::remove_file(&lock_path);
            }
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let swept = super::litter::sweep_if_marked(path, root, store, &m);
    let r = Registration::create(&registry_dir(root, uuid), m.hce)?;
    Ok(Some((m, r, swept)))
}

impl CState {
    /// (pid, nonce) of this state's registration as a reader, if it has one.
    pub(crate) fn reg_id(&self) -> Option<(u32, u64)> {
        self.reg.lock().as_ref().map(|r| r.id())
    }

    /// Adds handle `h` to the table and its read reference (HCE) to this
    /// state's; registers this process again as a reader if all its handles
    /// had closed meanwhile. Returns the handle's cookie.
    pub(crate) fn attach(self: &Arc<Self>, h: CoHandle) -> Result<u64> {
        let mut reg = self.reg.lock();
        let mut again = false;
        let r = if reg.is_some() || self.corrupt {
            self.hce()
        } else {
            let _lock = FileLock::acquire(&self.lock_path)?;
            let hce = match Meta::load(&self.path) {
                Ok(meta::Loaded::Ok(d)) if d.uuid == self.uuid => d.hce,
                _ => return Err(Error::NoEnt(format!("container {} was unlinked meanwhile", self.path.display()))),
            };
            *reg = Some(Registration::create(&self.reg_dir, hce)?);
            again = true;
            hce
        };
        let h = Arc::new(h);
        let cookie = match super::handles().insert_with(|_| Ok(h.clone())) {
            Ok(c) => c,
            Err(e) => {
                drop(reg);
                self.release();
                return Err(e);
            }
        };
        self.refs.lock().insert(cookie, r);
        self.handles.lock().insert(cookie, Arc::downgrade(&h));
        drop(reg);
        if again {
            self.refresh();
        }
        Ok(cookie)
    }

    /// Publishes this process's lowest read reference in the registry if it
    /// changed, and moves the oldest readable epoch up as far as every open
    /// handle of every process allows (and HCE), writing it to the container
    /// file if this process writes the container. Returns whether it moved.
    pub(crate) fn advance_oldest(&self) -> Result<bool> {
        let mut reg = self.reg.lock();
        let low = self.lowest_ref();
        if low == u64::MAX {
            return Ok(false);
        }
        let publish = reg.as_ref().is_some_and(|r| r.published() != low);
        let mut m = self.meta.lock();
        let can = low.min(m.hce) > m.oldest;
        if !publish && !can {
            return Ok(false);
        }
        let local = self.corrupt || self.unlinked.load(Ordering::Acquire);
        let Some(r) = reg.as_mut().filter(|_| !local) else {
            // Nobody else can open it: this process decides alone.
            if can {
                m.oldest = low.min(m.hce);
                self.oldest.fetch_max(m.oldest, Ordering::AcqRel);
            }
            return Ok(can);
        };
        let _lock = FileLock::acquire(&self.lock_path)?;
        r.publish(low)?;
        if !can {
            return Ok(false);
        }
        let others = lowest_live(&self.reg_dir, r.name()).unwrap_or(u64::MAX);
        let upto = low.min(others).min(m.hce);
        if upto <= m.oldest {
            return Ok(false);
        }
        if self.writable.load(Ordering::Acquire) {
            let r = self.update_locked(&mut m, false, |d| {
                d.oldest = d.oldest.max(upto);
                Ok(())
            });
            self.oldest.fetch_max(m.oldest, Ordering::AcqRel);
            drop(_lock);
            // (See `update_locked`: the shards follow another process's
            // commit read under the lock.)
            self.follow(&m);
            r?;
            return Ok(true);
        }
        m.oldest = upto;
        self.oldest.fetch_max(m.oldest, Ordering::AcqRel);
        Ok(true)
    }

    /// At the last close (or when the state goes): removes this process's
    /// registration; if the container file is gone (or is another container
    /// now) and no other process has the container open, removes its data.
    pub(crate) fn release(&self) {
        if self.file_gone() {
            // The data may go: let this process's space reclamation end first.
            self.wait_compaction();
        }
        let mut reg = self.reg.lock();
        if !self.refs.lock().is_empty() {
            return;
        }
        if self.compacting.load(Ordering::Acquire) {
            // The process stays registered while its compaction runs (which
            // calls this again at its end): were the process to end first,
            // the files it leaves are found as a dead process's.
            return;
        }
        let Some(r) = reg.take() else { return };
        let _lock = match FileLock::acquire(&self.lock_path) {
            Ok(l) => l,
            Err(e) => {
                crate::log!(Warn, "container {}: {e}; leaving its registry as is", self.path.display());
                r.remove();
                return;
            }
        };
        r.remove();
        let others = lowest_live(&self.reg_dir, None).is_some();
        if self.file_gone() {
            if !others {
                CState::remove_data(self.uuid, &self.store, &self.root);
            }
            return;
        }
        self.sweep_litter_locked();
        if !others {
            // Nobody has it open: no empty directory is left behind.
            let _ = std::fs::remove_dir(&self.reg_dir);
        }
    }

    /// At a last close, under the container's lock: sweeps what dead
    /// processes left behind if one died with the container open.
    fn sweep_litter_locked(&self) {
        // (The registry was just looked at: a dead process there left the
        // marker. Without it, the metadata is not even read.)
        if self.corrupt || !super::litter::marker(&self.root, self.uuid).exists() {
            return;
        }
        if let Ok(meta::Loaded::Ok(m)) = Meta::load(&self.path) {
            if m.uuid == self.uuid {
                super::litter::sweep_if_marked(&self.path, &self.root, &self.store, &m);
            }
        }
    }

    /// Waits until the background aggregation of this state is over.
    pub(crate) fn wait_compaction(&self) {
        while self.compacting.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// `daos_container_unlink` removed this container (its marker is in
    /// `.daos/unlinked/`). A container file renamed, or removed by other
    /// means, is not taken for unlinked: its data stays.
    fn file_gone(&self) -> bool {
        unlink_done(&self.root, self.uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_reference_counts_as_epoch_0() {
        let dir = std::env::temp_dir().join(format!("daos-rs-ut-reg-{}-{:x}", std::process::id(), crate::base::os::random_u64()));
        let r = Registration::create(&dir, 1234).unwrap();
        assert_eq!(lowest_live(&dir, None), Some(1234));
        let good = std::fs::read(&r.path).unwrap();
        assert_eq!(good.len(), 12);
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x02;
            // (Written in place: the file keeps the holder's lock.)
            r.file.file().write_all_at(&b, 0).unwrap();
            assert_eq!(lowest_live(&dir, None), Some(0), "byte {i}");
        }
        r.file.file().write_all_at(&good, 0).unwrap();
        assert_eq!(lowest_live(&dir, None), Some(1234));
        r.remove();
        assert_eq!(lowest_live(&dir, None), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
