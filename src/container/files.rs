//! The container's files: its lock file, where a container may be, its
//! creation and access checks.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::*;

/// The container's lock file in the store.
pub(crate) fn lock_file(root: &Path, uuid: [u64; 2]) -> PathBuf {
    root.join(DOT_DAOS).join("locks").join(crate::base::ids::ContainerId(uuid).to_string())
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
        .map_err(|e| crate::base::fs::io_err(e, format!("parent directory of {}", path.display())))?;
    Ok(parent.join(name))
}

/// Creates an empty container file at `path` (which must not exist).
pub(crate) fn create_file(path: &Path, store: &StoreConf, flags: u32) -> Result<()> {
    let mut m = Meta { uuid: [crate::base::os::random_u64(), crate::base::os::random_u64()], store: store.uuid, flags, ..Default::default() };
    m.seq = 1;
    link_new(path, &m.encode_file_for(path))
}

/// Writes `data` to a new file at `path` atomically; `-EEXIST` if it exists.
pub(crate) fn link_new(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".daos-new.{}.{:x}", std::process::id(), crate::base::os::random_u64()));
    let res = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(|e| crate::base::fs::io_err(e, format!("create {}", tmp.display())))?;
        f.write_all(data).map_err(|e| crate::base::fs::io_err(e, "write container"))?;
        f.sync_all().map_err(|e| crate::base::fs::io_err(e, "fsync container"))?;
        std::fs::hard_link(&tmp, path).map_err(|e| crate::base::fs::io_err(e, format!("create {}", path.display())))?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&tmp);
    res?;
    crate::base::fs::fsync_dir(dir)
}

/// Whether this process may open `path` for reading (and writing).
pub(crate) fn check_access(path: &Path, rw: bool) -> Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Inval("path contains a NUL byte".into()))?;
    let mode = if rw { libc::R_OK | libc::W_OK } else { libc::R_OK };
    // SAFETY: `c` is a valid C string for the duration of the call.
    if unsafe { libc::access(c.as_ptr(), mode) } != 0 {
        return Err(crate::base::fs::io_err(std::io::Error::last_os_error(), format!("container {}", path.display())));
    }
    Ok(())
}
