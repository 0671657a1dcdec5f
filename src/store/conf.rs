//! `.daos/store.meta`: the store's configuration and target status.
//!
//! Format (little-endian): magic `DAOSRSST`, version u32, then the body, then a
//! CRC-32C of everything before it. Replaced atomically under `.daos/lock`.

use std::path::{Path, PathBuf};

use super::{FileLock, DOT_DAOS};
use crate::error::{Error, Result};
use crate::ffi::types::{daos_location, daos_target_perf, DAOS_TARGET_ST_DISABLED, DAOS_TARGET_ST_HEALTHY};
use crate::util::{atomic_write, crc32c, io_err, Dec, Enc};

pub(super) const META_FILE: &str = "store.meta";
const MAGIC: &[u8; 8] = b"DAOSRSST";
const VERSION: u32 = 1;
const MARKER: &str = "TARGET";
const MARKER_MAGIC: &[u8; 8] = b"DAOSRSTG";

/// One target as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConf {
    pub id: u32,
    pub dir: PathBuf,
    pub loc: daos_location,
    pub perf: daos_target_perf,
    /// Mean latency of a small read, µs (from the probe).
    pub latency_us: u64,
    /// Disabled by the administrator.
    pub disabled: bool,
    /// 0..=100, lowered by I/O errors.
    pub health: i32,
}

impl TargetConf {
    pub fn new(id: u32, dir: PathBuf, loc: daos_location) -> Self {
        TargetConf {
            id,
            dir,
            loc,
            perf: daos_target_perf::default(),
            latency_us: 0,
            disabled: false,
            health: DAOS_TARGET_ST_HEALTHY,
        }
    }

    /// The status as the API reports it.
    pub fn status(&self) -> i32 {
        if self.disabled {
            DAOS_TARGET_ST_DISABLED
        } else {
            self.health
        }
    }

    pub fn apply_probe(&mut self, r: &super::ProbeResult) {
        self.perf = r.perf;
        self.latency_us = r.latency_us;
    }
}

/// The store's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConf {
    pub uuid: [u64; 2],
    /// Bumped at every change (status, probe).
    pub gen: u64,
    pub targets: Vec<TargetConf>,
}

fn meta_path(root: &Path) -> PathBuf {
    root.join(DOT_DAOS).join(META_FILE)
}

fn lock_path(root: &Path) -> PathBuf {
    root.join(DOT_DAOS).join("lock")
}

impl StoreConf {
    fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.0.extend_from_slice(MAGIC);
        e.u32(VERSION).u64(self.uuid[0]).u64(self.uuid[1]).u64(self.gen);
        e.u32(self.targets.len() as u32);
        for t in &self.targets {
            e.u32(t.id).bytes(t.dir.as_os_str().as_encoded_bytes());
            e.i32(t.loc.lc_cage).i32(t.loc.lc_rack).i32(t.loc.lc_node);
            let p = &t.perf;
            for v in [p.tp_rdbw, p.tp_rdbw_bs, p.tp_wrbw, p.tp_wrbw_bs, p.tp_iops, p.tp_iops_bs] {
                e.u32(v);
            }
            e.u64(t.latency_us).u8(t.disabled as u8).i32(t.health);
        }
        let crc = crc32c(&e.0);
        e.u32(crc);
        e.0
    }

    fn decode(b: &[u8]) -> Option<StoreConf> {
        if b.len() < 12 || &b[..8] != MAGIC {
            return None;
        }
        let (body, tail) = b.split_at(b.len() - 4);
        if crc32c(body) != u32::from_le_bytes(tail.try_into().ok()?) {
            return None;
        }
        let mut d = Dec::new(&body[8..]);
        if d.u32()? != VERSION {
            return None;
        }
        let uuid = [d.u64()?, d.u64()?];
        let gen = d.u64()?;
        let n = d.u32()?;
        let mut targets = Vec::with_capacity(n.min(65536) as usize);
        for _ in 0..n {
            let id = d.u32()?;
            let dir = PathBuf::from(String::from_utf8_lossy(d.bytes()?).into_owned());
            let loc = daos_location { lc_cage: d.i32()?, lc_rack: d.i32()?, lc_node: d.i32()? };
            let perf = daos_target_perf {
                tp_rdbw: d.u32()?,
                tp_rdbw_bs: d.u32()?,
                tp_wrbw: d.u32()?,
                tp_wrbw_bs: d.u32()?,
                tp_iops: d.u32()?,
                tp_iops_bs: d.u32()?,
            };
            let latency_us = d.u64()?;
            let disabled = d.u8()? != 0;
            let health = d.i32()?;
            targets.push(TargetConf { id, dir, loc, perf, latency_us, disabled, health });
        }
        Some(StoreConf { uuid, gen, targets })
    }

    /// Reads the configuration of the store at `root`.
    pub fn load(root: &Path) -> Result<StoreConf> {
        let p = meta_path(root);
        let b = crate::util::read_small(&p, 64 << 20).map_err(|e| io_err(e, format!("read {}", p.display())))?;
        StoreConf::decode(&b).ok_or_else(|| Error::Os {
            errno: libc::EIO,
            msg: format!("{} is damaged (bad magic, version or checksum)", p.display()),
        })
    }

    /// Writes the configuration (used by format, before anyone else sees it).
    pub(super) fn save(&self, root: &Path) -> Result<()> {
        atomic_write(&meta_path(root), &self.encode())
    }

    /// Changes the configuration under the store lock; `f` returns whether it
    /// changed anything. Returns the configuration as written.
    pub fn update(root: &Path, f: impl FnOnce(&mut StoreConf) -> Result<bool>) -> Result<StoreConf> {
        let _lock = FileLock::acquire(&lock_path(root))?;
        let mut c = StoreConf::load(root)?;
        if f(&mut c)? {
            c.gen += 1;
            c.save(root)?;
        }
        Ok(c)
    }

    pub fn target(&self, id: u32) -> Result<&TargetConf> {
        self.targets
            .get(id as usize)
            .ok_or_else(|| Error::NoEnt(format!("target {id} does not exist (the store has {})", self.targets.len())))
    }
}

/// Writes the marker that ties a target directory to its store.
pub(super) fn write_marker(dir: &Path, uuid: [u64; 2], id: u32) -> Result<()> {
    let p = dir.join(MARKER);
    if p.exists() {
        return Err(Error::Os {
            errno: libc::EEXIST,
            msg: format!("{} already belongs to a store", dir.display()),
        });
    }
    let mut e = Enc::default();
    e.0.extend_from_slice(MARKER_MAGIC);
    e.u32(VERSION).u64(uuid[0]).u64(uuid[1]).u32(id);
    let crc = crc32c(&e.0);
    e.u32(crc);
    atomic_write(&p, &e.0)
}

/// Whether a target directory still holds its store's marker.
pub fn marker_ok(dir: &Path, uuid: [u64; 2], id: u32) -> bool {
    let Ok(b) = crate::util::read_small(&dir.join(MARKER), 4096) else { return false };
    let mut e = Enc::default();
    e.0.extend_from_slice(MARKER_MAGIC);
    e.u32(VERSION).u64(uuid[0]).u64(uuid[1]).u32(id);
    let crc = crc32c(&e.0);
    e.u32(crc);
    b == e.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_round_trips_and_detects_damage() {
        let mut c = StoreConf { uuid: [1, 2], gen: 3, targets: vec![] };
        c.targets.push(TargetConf::new(0, "/a/b".into(), daos_location { lc_cage: 1, lc_rack: 2, lc_node: 3 }));
        c.targets[0].perf.tp_iops = 77;
        let b = c.encode();
        assert_eq!(StoreConf::decode(&b), Some(c.clone()));
        let mut bad = b.clone();
        bad[20] ^= 1;
        assert_eq!(StoreConf::decode(&bad), None);
        assert_eq!(StoreConf::decode(&b[..b.len() - 1]), None);
    }
}
