//! The container file: a container's metadata, replaced atomically (write a
//! temporary file, fsync, rename, fsync the directory) under an `flock` of
//! the container's lock file in the store.
//!
//! Format (little-endian): magic `DAOSRSCO`, version u32, body, CRC-32C of
//! everything before it. A file whose magic is right but whose checksum or
//! body is not is CORRUPT; one with another magic is not a container.

use std::path::Path;

use crate::error::{Error, Result};
use crate::base::checksum::crc32c;
use crate::base::codec::{Dec, Enc};
use crate::base::fs::{atomic_write, io_err};
pub use crate::shard::{SegMeta, VoidMeta};

const MAGIC: &[u8; 8] = b"DAOSRSCO";
const VERSION: u32 = 3;
/// The version written when the metadata holds epoch holds (a version-3
/// reader refuses it rather than ignore the holds and pass them).
const VERSION_HOLDS: u32 = 4;
/// The version written when the container has properties set at create
/// (`flags` not 0): the holds (maybe none), then the flags. Older readers refuse
/// it rather than verify checksums a container without them never wrote.
const VERSION_FLAGS: u32 = 5;
/// `Meta::flags`: the container keeps no data checksums (`DAOS_RS_COO_NOCSUM`).
pub(crate) const FLAG_NOCSUM: u32 = 1;
/// Largest container file read: more is damage, or not a container.
const MAX_FILE: u64 = 256 << 20;
/// `sealed` of a segment whose writer is still open.
pub(crate) const UNSEALED: u64 = u64::MAX;

/// One shard of the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMeta {
    pub id: u32,
    pub target: u32,
    pub disabled: bool,
    /// Highest epoch committed on this shard.
    pub committed: u64,
    /// Epoch given when the shard was added / disabled.
    pub added_epoch: u64,
    pub disabled_epoch: u64,
    /// Layout generation of the addition / disabling (for listen).
    pub added_gen: u64,
    pub disabled_gen: u64,
}

/// An epoch hold (`daos_epoch_hold`, an extension): a handle may still
/// commit `epoch`, so HCE stays below it. The holder is the handle `handle`
/// of the process whose readers-registry file is `<pid>-<nonce>` (see
/// [`super::registry`]): while that file is locked the holder is alive; a
/// hold whose registration is gone or unlocked is a dead process's and is
/// dropped by whoever finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldMeta {
    pub epoch: u64,
    pub pid: u32,
    pub nonce: u64,
    pub handle: u64,
}

/// Everything in the container file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    pub uuid: [u64; 2],
    pub store: [u64; 2],
    /// Bumped at every update.
    pub seq: u64,
    pub hce: u64,
    pub hse: u64,
    pub oldest: u64,
    pub layout_changed: u64,
    pub layout_gen: u64,
    pub shards: Vec<ShardMeta>,
    pub segs: Vec<SegMeta>,
    pub voids: Vec<VoidMeta>,
    /// Epochs kept readable for good by `daos_epoch_commit(sync)`.
    pub kept: Vec<u64>,
    /// Live epoch holds (at most one per handle).
    pub holds: Vec<HoldMeta>,
    /// Properties set when the container was made (`FLAG_*`); never change.
    pub flags: u32,
}

/// What reading a container file found.
pub enum Loaded {
    Ok(Meta),
    /// Right magic, bad checksum or body: the best-effort decode, if any.
    Corrupt(Option<Meta>),
}

impl Meta {
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.0.extend_from_slice(MAGIC);
        let version = if self.flags != 0 {
            VERSION_FLAGS
        } else if self.holds.is_empty() {
            VERSION
        } else {
            VERSION_HOLDS
        };
        e.u32(version);
        e.u64(self.uuid[0]).u64(self.uuid[1]).u64(self.store[0]).u64(self.store[1]);
        e.u64(self.seq).u64(self.hce).u64(self.hse).u64(self.oldest).u64(self.layout_changed).u64(self.layout_gen);
        e.u32(self.shards.len() as u32);
        for s in &self.shards {
            e.u32(s.id).u32(s.target).u8(s.disabled as u8).u64(s.committed);
            e.u64(s.added_epoch).u64(s.disabled_epoch).u64(s.added_gen).u64(s.disabled_gen);
        }
        e.u32(self.segs.len() as u32);
        for s in &self.segs {
            e.u32(s.shard).u64(s.seg).u64(s.committed_len).u64(s.sealed).u64(s.upto).u64(s.max_pub);
        }
        e.u32(self.voids.len() as u32);
        for v in &self.voids {
            e.u32(v.shard).u64(v.seg).u64(v.from).u64(v.len).u64(v.epoch).u64(v.hi);
        }
        e.u32(self.kept.len() as u32);
        for k in &self.kept {
            e.u64(*k);
        }
        if version != VERSION {
            e.u32(self.holds.len() as u32);
            for h in &self.holds {
                e.u64(h.epoch).u32(h.pid).u64(h.nonce).u64(h.handle);
            }
        }
        if version == VERSION_FLAGS {
            e.u32(self.flags);
        }
        let crc = crc32c(&e.0);
        e.u32(crc);
        e.0
    }

    fn decode_body(b: &[u8]) -> Option<Meta> {
        let mut d = Dec::new(b);
        let version = d.u32()?;
        if version != VERSION && version != VERSION_HOLDS && version != VERSION_FLAGS {
            return None;
        }
        let mut m = Meta {
            uuid: [d.u64()?, d.u64()?],
            store: [d.u64()?, d.u64()?],
            seq: d.u64()?,
            hce: d.u64()?,
            hse: d.u64()?,
            oldest: d.u64()?,
            layout_changed: d.u64()?,
            layout_gen: d.u64()?,
            ..Default::default()
        };
        for _ in 0..d.u32()? {
            m.shards.push(ShardMeta {
                id: d.u32()?,
                target: d.u32()?,
                disabled: d.u8()? != 0,
                committed: d.u64()?,
                added_epoch: d.u64()?,
                disabled_epoch: d.u64()?,
                added_gen: d.u64()?,
                disabled_gen: d.u64()?,
            });
        }
        for _ in 0..d.u32()? {
            m.segs.push(SegMeta {
                shard: d.u32()?,
                seg: d.u64()?,
                committed_len: d.u64()?,
                sealed: d.u64()?,
                upto: d.u64()?,
                max_pub: d.u64()?,
            });
        }
        for _ in 0..d.u32()? {
            m.voids.push(VoidMeta {
                shard: d.u32()?,
                seg: d.u64()?,
                from: d.u64()?,
                len: d.u64()?,
                epoch: d.u64()?,
                hi: d.u64()?,
            });
        }
        for _ in 0..d.u32()? {
            m.kept.push(d.u64()?);
        }
        if version != VERSION {
            for _ in 0..d.u32()? {
                m.holds.push(HoldMeta { epoch: d.u64()?, pid: d.u32()?, nonce: d.u64()?, handle: d.u64()? });
            }
        }
        if version == VERSION_FLAGS {
            m.flags = d.u32()?;
        }
        Some(m)
    }

    /// Decodes a container file; `None` if it is not one at all.
    pub fn decode(b: &[u8]) -> Option<Loaded> {
        if b.len() < 8 || &b[..8] != MAGIC {
            return None;
        }
        if b.len() < 16 {
            return Some(Loaded::Corrupt(None));
        }
        let (body, tail) = b.split_at(b.len() - 4);
        let crc_ok = crc32c(body) == u32::from_le_bytes(tail.try_into().unwrap());
        let m = Meta::decode_body(&body[8..]);
        Some(match (crc_ok, m) {
            (true, Some(m)) => Loaded::Ok(m),
            (_, m) => Loaded::Corrupt(m.or_else(|| Meta::decode_body(&b[8..]))),
        })
    }

    /// Reads the container file at `path`.
    pub fn load(path: &Path) -> Result<Loaded> {
        let b = match crate::base::fs::read_small(path, MAX_FILE) {
            Ok(b) => b,
            Err(e) if e.raw_os_error() == Some(libc::EFBIG) => {
                // Far larger than any container file: a damaged one (CORRUPT)
                // if it starts like one, else not a container.
                let mut head = [0u8; 8];
                let f = std::fs::File::open(path).map_err(|e| io_err(e, format!("read container {}", path.display())))?;
                let ours = std::os::unix::fs::FileExt::read_exact_at(&f, &mut head, 0).is_ok() && &head == MAGIC;
                if ours {
                    return Ok(Loaded::Corrupt(None));
                }
                return Err(Error::Inval(format!("{} is not a daos-rs container", path.display())));
            }
            Err(e) => return Err(io_err(e, format!("read container {}", path.display()))),
        };
        Meta::decode(&b)
            .ok_or_else(|| Error::Inval(format!("{} is not a daos-rs container", path.display())))
    }

    /// Writes the container file atomically and durably.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        self.seq += 1;
        atomic_write(path, &self.encode())
    }

    pub fn shard(&self, id: u32) -> Option<&ShardMeta> {
        self.shards.iter().find(|s| s.id == id)
    }

    pub fn shard_mut(&mut self, id: u32) -> Option<&mut ShardMeta> {
        self.shards.iter_mut().find(|s| s.id == id)
    }

    pub fn seg(&self, shard: u32, seg: u64) -> Option<&SegMeta> {
        self.segs.iter().find(|s| s.shard == shard && s.seg == seg)
    }

    pub fn seg_mut(&mut self, shard: u32, seg: u64) -> &mut SegMeta {
        let i = match self.segs.iter().position(|s| s.shard == shard && s.seg == seg) {
            Some(i) => i,
            None => {
                self.segs.push(SegMeta { shard, seg, committed_len: 0, sealed: UNSEALED, upto: 0, max_pub: 0 });
                self.segs.len() - 1
            }
        };
        &mut self.segs[i]
    }

    /// HCE from the shards: the lowest committed epoch of the enabled shards
    /// (the recorded HCE when there are none).
    pub fn compute_hce(&self, floor: u64) -> u64 {
        self.shards.iter().filter(|s| !s.disabled).map(|s| s.committed).min().unwrap_or(floor).max(floor)
    }

    /// The highest epoch HCE may reach while the current holds stand: just
    /// below the lowest held epoch (`u64::MAX` with no hold).
    pub fn hold_cap(&self) -> u64 {
        self.holds.iter().map(|h| h.epoch.saturating_sub(1)).min().unwrap_or(u64::MAX)
    }

    /// The lowest held epoch (`u64::MAX` if nothing is held).
    pub fn lowest_hold(&self) -> u64 {
        self.holds.iter().map(|h| h.epoch).min().unwrap_or(u64::MAX)
    }

    /// Moves HCE as far as the shards' commits and the holds allow: to the
    /// lowest committed epoch of the enabled shards (HSE with none), but
    /// never to or past a held epoch, and never backwards.
    pub fn settle_hce(&mut self) {
        let floor = self.hce;
        let c = if self.shards.iter().any(|s| !s.disabled) { self.compute_hce(floor) } else { floor.max(self.hse) };
        self.hce = c.min(self.hold_cap()).max(floor);
    }

    /// The epoch up to which the published records of shard `s` may be
    /// read: what it committed, held back below the lowest hold (a commit
    /// above a held epoch is durable but not visible yet).
    pub fn visible_committed(&self, s: &ShardMeta) -> u64 {
        s.committed.min(self.hold_cap().max(self.hce))
    }

    /// Whether reads at `e` are still possible.
    pub fn readable(&self, e: u64) -> bool {
        e >= self.oldest || self.kept.contains(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_flags_corruption() {
        let mut m = Meta { uuid: [1, 2], hce: 5, hse: 6, ..Default::default() };
        m.shards.push(ShardMeta {
            id: 3,
            target: 1,
            disabled: false,
            committed: 5,
            added_epoch: 1,
            disabled_epoch: 0,
            added_gen: 1,
            disabled_gen: 0,
        });
        m.segs.push(SegMeta { shard: 3, seg: 99, committed_len: 640, sealed: UNSEALED, upto: 5, max_pub: 6 });
        m.voids.push(VoidMeta::abort(3, 99, 128, 6));
        m.voids.push(VoidMeta { shard: 3, seg: 99, from: 256, len: 640, epoch: 0, hi: 4 });
        m.kept.push(4);
        let b = m.encode();
        assert!(matches!(Meta::decode(&b), Some(Loaded::Ok(x)) if x == m));
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), VERSION);
        m.holds.push(HoldMeta { epoch: 7, pid: 42, nonce: 0xfeed, handle: 99 });
        let b = m.encode();
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), VERSION_HOLDS);
        assert!(matches!(Meta::decode(&b), Some(Loaded::Ok(x)) if x == m));
        // A property at create: version 5, with or without holds; the flags kept.
        m.flags = FLAG_NOCSUM;
        let b = m.encode();
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), VERSION_FLAGS);
        assert!(matches!(Meta::decode(&b), Some(Loaded::Ok(x)) if x == m));
        m.holds.clear();
        let b = m.encode();
        assert!(matches!(Meta::decode(&b), Some(Loaded::Ok(x)) if x == m));
        m.flags = 0;
        let b = m.encode();
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), VERSION);
        let mut bad = b.clone();
        bad[30] ^= 0x40;
        assert!(matches!(Meta::decode(&bad), Some(Loaded::Corrupt(_))));
        assert!(Meta::decode(b"not a container").is_none());
    }

    #[test]
    fn hce_stops_below_the_lowest_hold() {
        let sh = |id, committed| ShardMeta {
            id,
            target: 0,
            disabled: false,
            committed,
            added_epoch: 0,
            disabled_epoch: 0,
            added_gen: 0,
            disabled_gen: 0,
        };
        let mut m = Meta { hce: 2, hse: 9, ..Default::default() };
        m.shards = vec![sh(0, 9), sh(1, 9)];
        m.holds.push(HoldMeta { epoch: 5, pid: 1, nonce: 1, handle: 1 });
        m.holds.push(HoldMeta { epoch: 7, pid: 1, nonce: 1, handle: 2 });
        m.settle_hce();
        assert_eq!(m.hce, 4);
        assert_eq!(m.visible_committed(&m.shards[0]), 4);
        m.holds.remove(0);
        m.settle_hce();
        assert_eq!(m.hce, 6);
        m.holds.clear();
        m.settle_hce();
        assert_eq!(m.hce, 9);
        assert_eq!(m.visible_committed(&m.shards[1]), 9);
        // Never backwards.
        m.holds.push(HoldMeta { epoch: 3, pid: 1, nonce: 1, handle: 3 });
        m.settle_hce();
        assert_eq!(m.hce, 9);
    }

    #[test]
    fn void_ranges_cover_offsets_and_epochs() {
        let a = VoidMeta::abort(0, 1, 1000, 7);
        assert!(a.covers(0, 7) && a.covers(999, u64::MAX - 1));
        assert!(!a.covers(1000, 7) && !a.covers(10, 6));
        let s = VoidMeta { shard: 0, seg: 1, from: 200, len: 400, epoch: 0, hi: 5 };
        assert!(s.covers(200, 5) && s.covers(399, 0));
        assert!(!s.covers(199, 3) && !s.covers(400, 3) && !s.covers(300, 6));
    }
}
