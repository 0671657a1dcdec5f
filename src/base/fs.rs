//! File helpers: private directories and files, bounded reads, durable
//! and atomic replacement.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::base::os::random_u64;
use crate::error::{Error, Result};

/// Maps an I/O error to the core error, keeping its errno.
pub fn io_err(e: io::Error, what: impl std::fmt::Display) -> Error {
    Error::os(e, &what.to_string())
}

/// Mode of the files the library takes `flock`s on (and of segment files):
/// the owner's only.
pub(crate) const PRIVATE_FILE: u32 = 0o600;

/// Creates `dir` and its missing parents with mode 0700, so that no other
/// account can create files in it (the umask can only take bits away).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Reads a whole file of the library's own (metadata, markers, reports) that
/// is never larger than `max` bytes: a larger one is damaged or not ours,
/// and is refused (`EFBIG`) before anything is allocated for it.
pub fn read_small(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut b = Vec::with_capacity(len.min(max) as usize);
    f.take(max + 1).read_to_end(&mut b)?;
    if len > max || b.len() as u64 > max {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    }
    Ok(b)
}

/// fsync of a directory, so that names created or renamed in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| io_err(e, format!("open directory {}", dir.display())))?;
    d.sync_all().map_err(|e| io_err(e, format!("fsync directory {}", dir.display())))
}

/// Replaces `path` with `data` atomically and durably: write a temporary file
/// beside it, fsync it, rename it over `path`, fsync the directory.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}.{:x}", std::process::id(), random_u64() & 0xffff_ffff));
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(|e| io_err(e, format!("create {}", tmp.display())))?;
        if let Some(f2) = crate::base::failpoint::hit("meta_write") {
            if f2 == crate::base::failpoint::Fault::Short {
                let _ = f.write_all(&data[..data.len() / 2]);
            }
            return Err(f2.error(&format!("write {}", tmp.display())));
        }
        f.write_all(data).map_err(|e| io_err(e, format!("write {}", tmp.display())))?;
        f.sync_all().map_err(|e| io_err(e, format!("fsync {}", tmp.display())))?;
        if let Some(f2) = crate::base::failpoint::hit("rename") {
            return Err(f2.error(&format!("rename to {}", path.display())));
        }
        fs::rename(&tmp, path).map_err(|e| io_err(e, format!("rename to {}", path.display())))?;
        fsync_dir(dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// `<pid>.<hex>`: the end of a temporary file's name (`base::fs::atomic_write`).
pub fn is_tmp_suffix(rest: &str) -> bool {
    let Some((pid, hex)) = rest.split_once('.') else { return false };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && !hex.is_empty()
        && hex.len() <= 16
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// For `.NAME.tmp.<pid>.<hex>` (a temporary file of [`atomic_write`]'s): NAME.
pub fn tmp_target(file: &str) -> Option<&str> {
    let s = file.strip_prefix('.')?;
    let i = s.rfind(".tmp.")?;
    is_tmp_suffix(&s[i + 5..]).then_some(&s[..i])
}

/// Removes the temporary files [`atomic_write`] of `path` left behind
/// (`.NAME.tmp.<pid>.<hex>` beside it, from a process killed before its
/// rename). The caller holds the lock under which alone they are written,
/// so every one found is a dead process's. Returns how many went.
pub fn sweep_tmp_of(path: &Path) -> usize {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else { return 0 };
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    let mut n = 0;
    for ent in rd.flatten() {
        if ent.file_name().to_str().and_then(tmp_target) != Some(name) {
            continue;
        }
        if fs::remove_file(ent.path()).is_ok() {
            crate::log!(Info, "removed {}: an update's temporary file left by a dead process", ent.path().display());
            n += 1;
        }
    }
    n
}

/// Replaces the file at `path` with `data` atomically (write a temporary
/// file, rename it over), without forcing it to stable storage: for files
/// whose loss in a machine crash does not matter.
pub fn replace_file(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}.{:x}", std::process::id(), random_u64() & 0xffff_ffff));
    let res = fs::write(&tmp, data)
        .map_err(|e| io_err(e, format!("write {}", tmp.display())))
        .and_then(|_| fs::rename(&tmp, path).map_err(|e| io_err(e, format!("rename to {}", path.display()))));
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}
