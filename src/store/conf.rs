//! `.daos/store.meta`: the store's configuration and target status.
//!
//! Format (little-endian): magic `DAOSRSST`, version u32, then the body, then a
//! CRC-32C of everything before it. Replaced atomically under `.daos/lock`.
//!
//! **Target directories** inside the store's directory (the default ones,
//! `.daos/targets/N`, and any other below the store) are recorded relative to
//! it, so that a copy of the store directory (`cp -a`) is a store of its own,
//! using its own copies; directories elsewhere are recorded as absolute paths.
//! Stores written before recorded every directory as an absolute path: one
//! that ends in `.daos/targets/N` (N the target's id) is read as this store's
//! own default directory, wherever the store was when it was formatted.
//!
//! **Markers.** Each target directory holds a `TARGET` marker naming its
//! store and target id. A store one of whose target directories holds a
//! sound marker naming another store or target (two stores, or two targets,
//! sharing a directory: a mount that moved, a symbolic link, a copy) is not
//! opened ([`StoreConf::open`]: -EXDEV), since its writes and unlinks would
//! change another store's data. A directory without a sound marker is a
//! missing target (status UNKNOWN).

use std::path::{Path, PathBuf};

use super::{FileLock, DOT_DAOS};
use crate::error::{Error, Result};
use crate::abi::types::{daos_location, daos_target_perf, DAOS_TARGET_ST_DISABLED, DAOS_TARGET_ST_HEALTHY};
use crate::base::checksum::crc32c;
use crate::base::codec::{Dec, Enc};
use crate::base::fs::{atomic_write, io_err};

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

/// How a target directory is recorded for the store at `root`: relative to
/// it when it is inside it, else absolute.
fn recorded(root: &Path, dir: &Path) -> PathBuf {
    match dir.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

/// The directory of target `id` recorded as `p` in the store at `root`.
/// `None`: a relative path that is not a plain path below the store.
fn resolved(root: &Path, id: u32, p: PathBuf) -> Option<PathBuf> {
    use std::path::Component;
    if p.is_relative() {
        let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
        return (plain && p.components().next().is_some()).then(|| root.join(p));
    }
    // An absolute default directory (stores written before): this store's.
    let default = Path::new(DOT_DAOS).join("targets").join(id.to_string());
    if p.ends_with(&default) {
        return Some(root.join(default));
    }
    Some(p)
}

impl StoreConf {
    fn encode(&self, root: &Path) -> Vec<u8> {
        let mut e = Enc::default();
        e.0.extend_from_slice(MAGIC);
        e.u32(VERSION).u64(self.uuid[0]).u64(self.uuid[1]).u64(self.gen);
        e.u32(self.targets.len() as u32);
        for t in &self.targets {
            e.u32(t.id).bytes(recorded(root, &t.dir).as_os_str().as_encoded_bytes());
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

    fn decode(b: &[u8], root: &Path) -> Option<StoreConf> {
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
            let dir = resolved(root, id, PathBuf::from(String::from_utf8_lossy(d.bytes()?).into_owned()))?;
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

    /// The configuration of the store at `root` as it is on disk now (other
    /// processes may have changed target statuses), or this one, read
    /// earlier, if it cannot be read.
    pub fn reload(&self, root: &Path) -> StoreConf {
        StoreConf::load(root).unwrap_or_else(|_| self.clone())
    }

    /// Reads the configuration of the store at `root`.
    pub fn load(root: &Path) -> Result<StoreConf> {
        let p = meta_path(root);
        let b = crate::base::fs::read_small(&p, 64 << 20).map_err(|e| io_err(e, format!("read {}", p.display())))?;
        StoreConf::decode(&b, root).ok_or_else(|| Error::Os {
            errno: libc::EIO,
            msg: format!("{} is damaged (bad magic, version or checksum)", p.display()),
        })
    }

    /// Reads the configuration of the store at `root` for a call that may
    /// change its data (opening the system container or a container,
    /// unlinking): refuses (-EXDEV) a store one of whose target directories
    /// belongs to another store, or to another of its targets.
    pub fn open(root: &Path) -> Result<StoreConf> {
        let c = StoreConf::load(root)?;
        for t in &c.targets {
            if let Some((uuid, id)) = read_marker(&t.dir) {
                if uuid != c.uuid || id != t.id {
                    let whose = if uuid == c.uuid { format!("target {id} of this store") } else { format!("target {id} of store {:016x}{:016x}", uuid[0], uuid[1]) };
                    return Err(Error::Os {
                        errno: libc::EXDEV,
                        msg: format!(
                            "store {}: the directory of target {} ({}) belongs to {whose} (its TARGET marker says so): \
                             refusing to use the store, whose writes and unlinks would change another store's data \
                             (a moved mount, a symbolic link or a copied directory?)",
                            root.display(),
                            t.id,
                            t.dir.display()
                        ),
                    });
                }
            }
        }
        Ok(c)
    }

    /// Writes the configuration (used by format, before anyone else sees it).
    pub(super) fn save(&self, root: &Path) -> Result<()> {
        atomic_write(&meta_path(root), &self.encode(root))
    }

    /// Changes the configuration under the store lock; `f` returns whether it
    /// changed anything. Returns the configuration as written.
    pub fn update(root: &Path, f: impl FnOnce(&mut StoreConf) -> Result<bool>) -> Result<StoreConf> {
        let _lock = FileLock::acquire(&lock_path(root))?;
        // Temporary files of updates cut short (written under this lock
        // only: every one found is a dead process's).
        crate::base::fs::sweep_tmp_of(&meta_path(root));
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

/// The store and target a target directory's marker names, if it holds a
/// sound one.
pub fn read_marker(dir: &Path) -> Option<([u64; 2], u32)> {
    let b = crate::base::fs::read_small(&dir.join(MARKER), 4096).ok()?;
    if b.len() != 36 || &b[..8] != MARKER_MAGIC || crc32c(&b[..32]).to_le_bytes() != b[32..] {
        return None;
    }
    let mut d = Dec::new(&b[8..32]);
    if d.u32()? != VERSION {
        return None;
    }
    Some(([d.u64()?, d.u64()?], d.u32()?))
}

/// Whether a target directory still holds its store's marker.
pub fn marker_ok(dir: &Path, uuid: [u64; 2], id: u32) -> bool {
    read_marker(dir) == Some((uuid, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_round_trips_and_detects_damage() {
        let mut c = StoreConf { uuid: [1, 2], gen: 3, targets: vec![] };
        c.targets.push(TargetConf::new(0, "/a/b".into(), daos_location { lc_cage: 1, lc_rack: 2, lc_node: 3 }));
        c.targets[0].perf.tp_iops = 77;
        let root = Path::new("/r");
        let b = c.encode(root);
        assert_eq!(StoreConf::decode(&b, root), Some(c.clone()));
        let mut bad = b.clone();
        bad[20] ^= 1;
        assert_eq!(StoreConf::decode(&bad, root), None);
        assert_eq!(StoreConf::decode(&b[..b.len() - 1], root), None);
    }

    #[test]
    fn an_update_cut_short_leaves_no_temporary_file_after_the_next() {
        let p = std::env::temp_dir().join(format!("daos-rs-ut-conftmp-{}-{:x}", std::process::id(), crate::base::os::random_u64()));
        std::fs::create_dir_all(&p).unwrap();
        crate::store::format(&p, &crate::store::default_specs(1, None), crate::abi::types::DAOS_SYS_FORMAT_NO_PROBE, &mut |_, _| {}).unwrap();
        let dot = p.join(crate::store::DOT_DAOS);
        // What a process killed inside `atomic_write` of the configuration leaves.
        let tmp = dot.join(".store.meta.tmp.4242.1f2e");
        std::fs::write(&tmp, b"half").unwrap();
        let other = dot.join(".unrelated.tmp.4242.1f2e");
        std::fs::write(&other, b"x").unwrap();
        let c = StoreConf::update(&p, |_| Ok(false)).unwrap();
        assert!(!tmp.exists(), "swept");
        assert!(other.exists(), "only the configuration's");
        assert_eq!(StoreConf::load(&p).unwrap(), c);
        let _ = std::fs::remove_dir_all(&p);
    }

    #[test]
    fn target_directories_inside_the_store_are_relative_to_it() {
        let mut c = StoreConf { uuid: [1, 2], gen: 3, targets: vec![] };
        let loc = daos_location::default();
        c.targets.push(TargetConf::new(0, "/a/store/.daos/targets/0".into(), loc));
        c.targets.push(TargetConf::new(1, "/a/store/disks/one".into(), loc));
        c.targets.push(TargetConf::new(2, "/mnt/disk2/t".into(), loc));
        let b = c.encode(Path::new("/a/store"));
        let text = String::from_utf8_lossy(&b);
        assert!(!text.contains("/a/store"), "no directory inside the store is recorded with its path");
        assert!(text.contains(".daos/targets/0") && text.contains("disks/one") && text.contains("/mnt/disk2/t"));
        // A copy elsewhere uses its own copies, and the same outside directory.
        let copy = StoreConf::decode(&b, Path::new("/b/copy")).unwrap();
        let dirs: Vec<_> = copy.targets.iter().map(|t| t.dir.clone()).collect();
        assert_eq!(dirs, vec![PathBuf::from("/b/copy/.daos/targets/0"), "/b/copy/disks/one".into(), "/mnt/disk2/t".into()]);
        // Stores written before: every directory absolute. A default one is
        // this store's, wherever it was formatted; others stay as they are.
        let old = c.encode(Path::new("/somewhere/else"));
        let read = StoreConf::decode(&old, Path::new("/b/copy")).unwrap();
        let dirs: Vec<_> = read.targets.iter().map(|t| t.dir.clone()).collect();
        assert_eq!(dirs, vec![PathBuf::from("/b/copy/.daos/targets/0"), "/a/store/disks/one".into(), "/mnt/disk2/t".into()]);
        // A relative path leaving the store is damage.
        c.targets[2].dir = "../x".into();
        assert_eq!(StoreConf::decode(&c.encode(Path::new("/a/store")), Path::new("/b")), None);
    }

    #[test]
    fn markers_name_their_store_and_target() {
        let d = std::env::temp_dir().join(format!("daos-rs-ut-marker-{}-{:x}", std::process::id(), crate::base::os::random_u64()));
        std::fs::create_dir_all(&d).unwrap();
        write_marker(&d, [5, 6], 3).unwrap();
        assert_eq!(read_marker(&d), Some(([5, 6], 3)));
        assert!(marker_ok(&d, [5, 6], 3) && !marker_ok(&d, [5, 7], 3) && !marker_ok(&d, [5, 6], 2));
        let good = std::fs::read(d.join(MARKER)).unwrap();
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 1;
            std::fs::write(d.join(MARKER), &b).unwrap();
            assert_eq!(read_marker(&d), None, "byte {i}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
