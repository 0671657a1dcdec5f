//! The store (SPEC §4): a directory holding `.daos/` with the store's
//! configuration, its targets (directories, by default inside `.daos/`), and
//! the containers in the tree below it.
//!
//! `.daos/store.meta` holds the configuration: identity, targets (directory,
//! location, measured performance) and each target's status (administrator's
//! enable/disable and a health lowered by I/O errors). It is replaced
//! atomically under an `flock` of `.daos/lock`.

mod conf;
mod probe;
pub(crate) mod slot;
pub(crate) mod sys;

pub use conf::{StoreConf, TargetConf};
pub use probe::{probe_target, ProbeResult};
pub(crate) use sys::{
    lower_health, lower_health_later, sys_close, sys_listen, sys_open, sys_query, sys_query_target, sys_set_status,
};

use std::fs::{self, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::abi::flags::FormatFlags;
use crate::abi::types::daos_location;
use crate::base::fs::{fsync_dir, io_err};

/// Name of the store's metadata folder.
pub(crate) const DOT_DAOS: &str = ".daos";

/// Finds the root of the store holding `path` (itself or an ancestor with a
/// `.daos/store.meta`). `path` need not exist (a container to create).
pub fn find_root(path: &Path) -> Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(|e| io_err(e, "current directory"))?.join(path)
    };
    let mut p: Option<&Path> = Some(&abs);
    while let Some(d) = p {
        match fs::metadata(d.join(DOT_DAOS).join(conf::META_FILE)) {
            Ok(m) if m.is_file() => return Ok(d.to_path_buf()),
            // `.daos/` is its owner's only (mode 0700).
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(Error::Os {
                    errno: libc::EACCES,
                    msg: format!("the store at {} belongs to another account (its .daos/ is not open to this one)", d.display()),
                })
            }
            _ => {}
        }
        p = d.parent();
    }
    Err(Error::NoEnt(format!("{} is not inside a daos-rs store (no .daos/ above it)", path.display())))
}

/// An exclusive `flock` on a lock file, released on drop.
pub struct FileLock(#[allow(dead_code)] crate::base::lock::Held);

impl FileLock {
    pub fn acquire(path: &Path) -> Result<FileLock> {
        let f = crate::base::lock::Tracked::open(|| {
            OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(crate::base::fs::PRIVATE_FILE).open(path)
        })
        .map_err(|e| io_err(e, format!("open lock {}", path.display())))?;
        crate::base::lock::Held::lock(f, libc::LOCK_EX)
            .map(FileLock)
            .map_err(|e| io_err(e, format!("lock {}", path.display())))
    }
}

/// One target to make: its directory (None: inside `.daos/targets/`) and location.
#[derive(Debug, Clone, Default)]
pub struct TargetSpec {
    pub dir: Option<PathBuf>,
    pub loc: daos_location,
}

/// `daos_sys_format`: makes a store at `path` with the given targets.
/// `progress(done, total)` is called as targets are probed.
pub fn format(path: &Path, targets: &[TargetSpec], flags: u32, progress: &mut dyn FnMut(usize, usize)) -> Result<()> {
    let flags: FormatFlags = crate::abi::flags::parse(flags, "flag")?;
    if targets.is_empty() || targets.len() > 65536 {
        return Err(Error::Inval(format!("{} targets: need 1 to 65536", targets.len())));
    }
    for t in targets {
        let l = t.loc;
        if l.lc_cage < 0 || l.lc_rack < 0 || l.lc_node < 0 {
            return Err(Error::Inval("target locations must be >= 0".into()));
        }
    }
    let md = fs::metadata(path).map_err(|e| io_err(e, format!("store path {}", path.display())))?;
    if !md.is_dir() {
        return Err(Error::Os { errno: libc::ENOTDIR, msg: format!("{} is not a directory", path.display()) });
    }
    let root = fs::canonicalize(path).map_err(|e| io_err(e, format!("{}", path.display())))?;
    let dot = root.join(DOT_DAOS);
    if dot.join(conf::META_FILE).exists() {
        return Err(Error::Os { errno: libc::EEXIST, msg: format!("{} is already a store", root.display()) });
    }
    if let Ok(r) = find_root(&root) {
        return Err(Error::Os {
            errno: libc::EEXIST,
            msg: format!("{} is inside the store {}", root.display(), r.display()),
        });
    }
    // `.daos/` and what it holds are the owner's only: no other account can
    // take the store's locks or make files in it.
    crate::base::fs::private_dir(&dot.join("targets")).map_err(|e| io_err(e, format!("create {}", dot.display())))?;
    crate::base::fs::private_dir(&dot.join("locks")).map_err(|e| io_err(e, "create .daos/locks"))?;
    let uuid = [crate::base::os::random_u64(), crate::base::os::random_u64()];
    let mut conf = StoreConf { uuid, gen: 1, targets: Vec::new() };
    for (i, t) in targets.iter().enumerate() {
        let dir = match &t.dir {
            Some(d) => {
                crate::base::fs::private_dir(d).map_err(|e| io_err(e, format!("create target dir {}", d.display())))?;
                fs::canonicalize(d).map_err(|e| io_err(e, format!("{}", d.display())))?
            }
            None => {
                let d = dot.join("targets").join(i.to_string());
                crate::base::fs::private_dir(&d).map_err(|e| io_err(e, format!("create {}", d.display())))?;
                d
            }
        };
        conf::write_marker(&dir, uuid, i as u32)?;
        conf.targets.push(TargetConf::new(i as u32, dir, t.loc));
    }
    if !flags.contains(FormatFlags::NO_PROBE) {
        let n = conf.targets.len();
        for i in 0..n {
            progress(i, n);
            let r = probe_target(&conf.targets[i].dir)?;
            conf.targets[i].apply_probe(&r);
        }
        progress(n, n);
    }
    conf.save(&root)?;
    fsync_dir(&dot)?;
    fsync_dir(&root)
}

/// The default single-location format of `daos_sys_format`.
pub fn default_specs(n: u32, dirs: Option<Vec<PathBuf>>) -> Vec<TargetSpec> {
    (0..n as usize)
        .map(|i| TargetSpec { dir: dirs.as_ref().map(|d| d[i].clone()), loc: daos_location::default() })
        .collect()
}
