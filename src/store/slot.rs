//! Stamp slots: what makes the stamps of journal records unique across the
//! processes writing to one store.
//!
//! A stamp is `counter << 20 | slot`. Each process claims one slot per store,
//! the first time it needs a stamp there: it opens `.daos/slots/<n>` (made if
//! missing), starting at `n = pid % 1024`, and keeps the first one on which it
//! gets an `flock(LOCK_EX | LOCK_NB)`, open for the rest of its life. A forked
//! child builds a fresh process state and so claims a slot of its own (its
//! parent's is locked through the parent's open file description).
//!
//! The slot file holds a counter high-water mark (u64 LE) and a CRC-32C of
//! it (u32 LE; files of 8 bytes, without it, were written by earlier
//! versions and are still read): counters are reserved in blocks by writing
//! the new mark durably before any of them is used, and a process that
//! claims the slot starts at the stored mark. So a slot used again after its
//! holder died never repeats a (slot, counter) pair. A slot whose mark is
//! damaged (bad checksum, or above the largest counter) is not used: its
//! mark, and so the counters its holders used, are unknown.
//! Within a process the counter only grows, so a later call gets a higher
//! stamp (it wins within an epoch).

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::collections::HashMap;

use crate::base::fork::PerFork;

use super::DOT_DAOS;
use crate::error::{Error, Result};
use crate::base::fs::io_err;

/// Bits of a stamp that name the slot.
pub(crate) const SLOT_BITS: u32 = 20;
/// Number of slots of a store.
pub(crate) const SLOTS: u32 = 1 << SLOT_BITS;
/// Largest counter a stamp can carry.
pub(crate) const MAX_COUNTER: u64 = (1 << (64 - SLOT_BITS)) - 1;
/// Counters reserved by one write of the high-water mark.
pub(crate) const BLOCK: u64 = 1 << 20;
/// Slots are probed from `pid % PROBE_START` on.
const PROBE_START: u32 = 1024;

/// The counter part of a stamp.
pub(crate) fn counter_of(stamp: u64) -> u64 {
    stamp >> SLOT_BITS
}

/// A slot claimed by this process (or, in tests, by a simulated process).
pub struct Slot {
    pub n: u32,
    /// Holds the slot's `flock` while open.
    file: crate::base::lock::Held,
    /// Next counter to hand out.
    next: AtomicU64,
    /// Counters below this are reserved in the slot file.
    reserved: AtomicU64,
    /// Serialises writes of the high-water mark.
    grow: Mutex<()>,
}

fn slots_dir(root: &Path) -> PathBuf {
    root.join(DOT_DAOS).join("slots")
}

impl Slot {
    /// Claims a free slot of the store at `root`.
    pub fn claim(root: &Path) -> Result<Slot> {
        let dir = slots_dir(root);
        crate::base::fs::private_dir(&dir).map_err(|e| io_err(e, format!("create {}", dir.display())))?;
        let start = std::process::id() % PROBE_START;
        for i in 0..SLOTS {
            let n = (start + i) % SLOTS;
            let p = dir.join(n.to_string());
            let f = crate::base::lock::Tracked::open(|| {
                OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(crate::base::fs::PRIVATE_FILE).open(&p)
            })
            .map_err(|e| io_err(e, format!("open slot {}", p.display())))?;
            let f = match crate::base::lock::Held::lock(f, libc::LOCK_EX | libc::LOCK_NB) {
                Ok(f) => f,
                Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => continue,
                Err(e) => return Err(io_err(e, format!("lock slot {}", p.display()))),
            };
            let mut b = [0u8; 16];
            let got = f.read_at(&mut b, 0).map_err(|e| io_err(e, format!("read slot {}", p.display())))?;
            let Some(mark) = decode_mark(&b[..got]) else {
                crate::log!(Warn, "stamp slot {} is damaged; not using it", p.display());
                continue;
            };
            crate::log!(Debug, "stamp slot {n} of {} claimed (counters from {mark})", root.display());
            return Ok(Slot { n, file: f, next: AtomicU64::new(mark), reserved: AtomicU64::new(mark), grow: Mutex::new(()) });
        }
        Err(Error::Os { errno: libc::EAGAIN, msg: format!("every stamp slot of {} is in use", root.display()) })
    }

    /// A new stamp whose counter is at least `floor` and above every counter
    /// this slot handed out before.
    pub fn stamp(&self, floor: u64) -> Result<u64> {
        loop {
            let cur = self.next.load(Ordering::Acquire);
            let c = cur.max(floor);
            if c > MAX_COUNTER {
                return Err(Error::Os { errno: libc::EOVERFLOW, msg: "stamp counters are exhausted".into() });
            }
            if c >= self.reserved.load(Ordering::Acquire) {
                self.reserve(c)?;
                continue;
            }
            if self.next.compare_exchange_weak(cur, c + 1, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                return Ok(c << SLOT_BITS | self.n as u64);
            }
        }
    }

    /// Makes counter `c` usable: writes (durably) a high-water mark above it.
    fn reserve(&self, c: u64) -> Result<()> {
        let _g = self.grow.lock();
        if c < self.reserved.load(Ordering::Acquire) {
            return Ok(());
        }
        let mark = c.saturating_add(BLOCK).min(MAX_COUNTER + 1);
        self.file.write_all_at(&encode_mark(mark), 0).map_err(|e| io_err(e, "write stamp slot"))?;
        self.file.sync_data().map_err(|e| io_err(e, "fsync stamp slot"))?;
        self.reserved.store(mark, Ordering::Release);
        Ok(())
    }
}

/// A slot file's content for high-water mark `mark`.
fn encode_mark(mark: u64) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..8].copy_from_slice(&mark.to_le_bytes());
    let crc = crate::base::checksum::crc32c(&b[..8]);
    b[8..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The high-water mark a slot file holds (0 for a new, empty one); `None`
/// if it is damaged.
fn decode_mark(b: &[u8]) -> Option<u64> {
    let mark = match b.len() {
        0 => 0,
        // Written by earlier versions, without a checksum.
        8 => u64::from_le_bytes(b.try_into().unwrap()),
        12 if crate::base::checksum::crc32c(&b[..8]).to_le_bytes() == b[8..12] => u64::from_le_bytes(b[..8].try_into().unwrap()),
        _ => return None,
    };
    (mark <= MAX_COUNTER + 1).then_some(mark)
}

/// This process's slot in the store at `root` (claimed at the first call).
pub fn of_store(root: &Path) -> Result<Arc<Slot>> {
    static SLOTS: PerFork<Mutex<HashMap<PathBuf, Arc<Slot>>>> = PerFork::new();
    let mut slots = SLOTS.get(|_| Mutex::new(HashMap::new())).lock();
    if let Some(s) = slots.get(root) {
        return Ok(s.clone());
    }
    let s = Arc::new(Slot::claim(root)?);
    slots.insert(root.to_path_buf(), s.clone());
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("daos-rs-slot-{name}-{}-{:x}", std::process::id(), crate::base::os::random_u64()));
        std::fs::create_dir_all(p.join(DOT_DAOS)).unwrap();
        p
    }

    #[test]
    fn held_slots_differ_and_a_reused_slot_never_repeats_a_counter() {
        let root = temp_root("reuse");
        let a = Slot::claim(&root).unwrap();
        let b = Slot::claim(&root).unwrap();
        assert_ne!(a.n, b.n, "a held slot is not claimed twice");
        let s1 = a.stamp(0).unwrap();
        let s2 = a.stamp(0).unwrap();
        assert_eq!(s1 & (SLOTS as u64 - 1), a.n as u64);
        assert!(s2 > s1, "later stamps of one slot are higher");
        assert_eq!(counter_of(b.stamp(7).unwrap()), 7, "the floor is respected");
        let n = a.n;
        let last = counter_of(a.stamp(0).unwrap());
        let mark = decode_mark(&std::fs::read(slots_dir(&root).join(n.to_string())).unwrap()).unwrap();
        assert!(mark > last, "the mark ({mark}) is written before counter {last} is used");
        drop(a);
        // The slot is free again; its next holder starts above everything used.
        let c = Slot::claim(&root).unwrap();
        assert_eq!(c.n, n, "probing starts at the same place");
        assert!(counter_of(c.stamp(0).unwrap()) > last);
        drop((b, c));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_damaged_slot_is_not_used() {
        let root = temp_root("damaged");
        let a = Slot::claim(&root).unwrap();
        a.stamp(0).unwrap();
        let n = a.n;
        drop(a);
        let p = slots_dir(&root).join(n.to_string());
        let good = std::fs::read(&p).unwrap();
        assert_eq!(good.len(), 12);
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x10;
            std::fs::write(&p, &b).unwrap();
            let c = Slot::claim(&root).unwrap();
            assert_ne!(c.n, n, "byte {i}: a damaged slot is skipped");
        }
        // An 8-byte mark (earlier versions) is read; a mark above every counter is not.
        std::fs::write(&p, 77u64.to_le_bytes()).unwrap();
        let c = Slot::claim(&root).unwrap();
        assert_eq!((c.n, counter_of(c.stamp(0).unwrap())), (n, 77));
        drop(c);
        std::fs::write(&p, encode_mark(u64::MAX)).unwrap();
        assert_ne!(Slot::claim(&root).unwrap().n, n);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
