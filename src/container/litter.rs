//! Litter: what a process leaves behind when it dies in the middle of
//! something (issue 11, defect 8), and its sweep.
//!
//! - `.NAME.tmp.<pid>.<hex>` beside the container file: a metadata update
//!   (`Meta::save`) killed before its rename. Such files are written only
//!   under the container's lock, so whoever holds that lock knows any it
//!   finds is a dead process's.
//! - Segments (`<id>.dat`, `<id>.jnl` in a shard directory) that the
//!   metadata does not list: a writer killed before its first commit, a
//!   compaction killed before it published its output, or the victims of a
//!   compaction killed after publishing and before unlinking them. A live
//!   writer (or compactor) holds an `flock` on its journal from before the
//!   data file exists (`Shard::create_seg`); the sweep takes that lock
//!   itself (without waiting) and unlinks both files while it holds it, and
//!   `create_seg` checks, once it has the lock, that its journal is still
//!   linked (else it starts again with another id). A collective peer's
//!   segments that a live master may still commit (listed in its report)
//!   are kept.
//! - Shard directories (`s-<id>`) the layout does not list: a
//!   `daos_shard_add` killed between making the directory and recording the
//!   shard. `shard_add` makes the directory again under the lock, in the
//!   update that records it, so a sweep between the two loses nothing.
//! - Tokens of collective opens: a dead master's token (its lock is free)
//!   becomes a tombstone; tombstones (8 bytes, `REVOKED!`, one per
//!   collective open ever closed) are kept only for the newest
//!   [`TOMBSTONES_KEPT`]; the ids of those trimmed go to one file,
//!   [`REVOKED_LIST`] (8 bytes each, at most 64 Ki of them), so a peer asking
//!   for a handle from an old buffer still gets `-EPERM`; the peers'
//!   report directories of tokens that are not live go.
//!
//! **When.** The full sweep (one scan of the container's directory, of the
//! container's directory on each target and each of its shard
//! directories, and of its tokens) runs only when a process may have died
//! with the container open: a process that has it open is registered in the
//! readers registry (see [`super::registry`]), and whoever finds a dead
//! registration (its lock free) leaves the marker `.daos/litter/c-<id>`
//! before removing it. An open (under the container's lock, where it reads
//! the metadata) looks at the registry — one small directory, one file per
//! process that has the container open — and sweeps if the marker is there;
//! so does the last close of a process. The sweep then removes the marker:
//! no open pays for the container's history. A process stays registered
//! until its background compaction is over, so a compaction cut short by
//! the process's end is seen too. Tombstones are trimmed at each master's
//! close (a scan of the container's token directory, which the trimming
//! keeps small).

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::collective;
pub(crate) use crate::base::fs::tmp_target;
use super::meta::Meta;
use crate::shard::{container_dir, seg_paths};
use crate::store::{StoreConf, DOT_DAOS};

/// Tombstones of collective opens kept per container (the newest).
pub(crate) const TOMBSTONES_KEPT: usize = 16;

/// The marker saying a process died with container `uuid` open (its litter
/// has not been swept yet).
pub(crate) fn marker(root: &Path, uuid: [u64; 2]) -> PathBuf {
    root.join(DOT_DAOS).join("litter").join(crate::base::ids::ContainerId(uuid).to_string())
}

/// The marker of the container whose registry directory is `reg_dir`
/// (`<root>/.daos/open/c-<id>`).
fn marker_of_registry(reg_dir: &Path) -> Option<PathBuf> {
    let name = reg_dir.file_name()?;
    let open = reg_dir.parent()?;
    let dot = open.parent()?;
    (open.file_name()? == "open" && dot.file_name()? == DOT_DAOS).then(|| dot.join("litter").join(name))
}

/// Notes that a process with the container of registry `reg_dir` open died
/// (called before its registration is removed, under the container's lock):
/// an empty marker asks for a whole sweep.
pub(crate) fn mark_dead_in(reg_dir: &Path) {
    let Some(m) = marker_of_registry(reg_dir) else { return };
    if std::fs::metadata(&m).is_ok_and(|md| md.len() == 0) {
        return;
    }
    if let Some(d) = m.parent() {
        let _ = crate::base::fs::private_dir(d);
    }
    use std::os::unix::fs::OpenOptionsExt;
    let made = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(crate::base::fs::PRIVATE_FILE).open(&m);
    if let Err(e) = made {
        crate::log!(Warn, "could not leave the litter marker {}: {e}", m.display());
    }
}

/// At open and at a process's last close, under the container's lock, with
/// `m` the metadata read under it: looks for dead registrations (which
/// leaves the marker) and, if the marker is there, sweeps. An empty marker
/// asks for the whole sweep; one that lists segments asks to look at them
/// again: segments no commit published whose journal lock was held at the
/// sweep (a live writer's, or a dead one's whose files the kernel had not
/// let go yet, e.g. behind io_uring requests still being cancelled). The
/// marker goes once none is left to look at. Returns whether something was
/// swept (or the whole sweep ran).
pub(crate) fn sweep_if_marked(path: &Path, root: &Path, store: &StoreConf, m: &Meta) -> bool {
    let _ = super::registry::lowest_live(&super::registry::registry_dir(root, m.uuid), None);
    let mk = marker(root, m.uuid);
    let Ok(text) = std::fs::read(&mk) else { return false };
    let listed = (!text.is_empty()).then(|| parse_pending(&text)).flatten();
    let (n, busy, whole) = match &listed {
        Some(segs) => {
            let (n, busy) = recheck(m, store, segs);
            (n, busy, false)
        }
        None => {
            let (n, busy) = sweep_locked(path, root, store, m);
            (n, busy, true)
        }
    };
    if n > 0 {
        crate::log!(Info, "container {}: {n} files or directories left by dead processes removed", path.display());
    }
    if busy.is_empty() {
        let _ = std::fs::remove_file(&mk);
    } else if busy != listed.unwrap_or_default() {
        let body: String = busy.iter().map(|(sh, seg)| format!("{sh} {seg:016x}\n")).collect();
        let _ = std::fs::write(&mk, body);
    }
    whole || n > 0
}

/// The segments a marker lists (`<shard> <segment hex>` lines); `None` if it
/// is damaged (then the whole sweep runs).
fn parse_pending(text: &[u8]) -> Option<Vec<(u32, u64)>> {
    let s = std::str::from_utf8(text).ok()?;
    s.lines()
        .map(|l| {
            let (a, b) = l.split_once(' ')?;
            Some((a.parse().ok()?, u64::from_str_radix(b, 16).ok()?))
        })
        .collect()
}

/// Looks again at the segments a marker lists: those still unpublished
/// whose lock is free go. Returns how many files went and the segments
/// still held.
fn recheck(m: &Meta, store: &StoreConf, segs: &[(u32, u64)]) -> (usize, Vec<(u32, u64)>) {
    let (mut n, mut busy) = (0, Vec::new());
    for &(sh, seg) in segs {
        let Some(sm) = m.shard(sh) else { continue };
        let Some(t) = store.targets.get(sm.target as usize) else { continue };
        if m.seg(sh, seg).is_some() {
            continue;
        }
        match remove_dead_segment(&crate::shard::shard_dir(&t.dir, m.uuid, sh), seg) {
            Some(k) => n += k,
            None => busy.push((sh, seg)),
        }
    }
    (n, busy)
}

/// The whole sweep (see the module's text); the caller holds the
/// container's lock and `m` was read under it. Returns how many files and
/// directories went, and the unpublished segments whose lock was held.
pub(crate) fn sweep_locked(path: &Path, root: &Path, store: &StoreConf, m: &Meta) -> (usize, Vec<(u32, u64)>) {
    // (Metadata updates' temporary files: written under the container's
    // lock, held here.)
    let mut n = crate::base::fs::sweep_tmp_of(path);
    let mut busy = Vec::new();
    let kept: HashSet<(u32, u64)> = collective::segments_of_live_masters(root, m.uuid).into_iter().collect();
    for (ti, t) in store.targets.iter().enumerate() {
        let cdir = container_dir(&t.dir, m.uuid);
        let Ok(rd) = std::fs::read_dir(&cdir) else { continue };
        for ent in rd.flatten() {
            let name = ent.file_name();
            let Some(id) = name.to_str().and_then(|s| s.strip_prefix("s-")).and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if !m.shards.iter().any(|s| s.id == id && s.target as usize == ti) {
                match std::fs::remove_dir_all(ent.path()) {
                    Ok(()) => {
                        crate::log!(Info, "removed {}: a shard the layout does not have (a killed shard add)", ent.path().display());
                        n += 1;
                    }
                    Err(e) => crate::log!(Warn, "could not remove {}: {e}", ent.path().display()),
                }
                continue;
            }
            n += sweep_shard_dir(&ent.path(), id, m, &kept, &mut busy);
        }
        if !m.shards.iter().any(|s| s.target as usize == ti) {
            // (Only if empty.)
            let _ = std::fs::remove_dir(&cdir);
        }
    }
    (n + sweep_tokens(&collective::tokens_dir(root, m.uuid)), busy)
}

/// Removes the segments of the shard directory `dir` (shard `shard`) that
/// `m` does not list and no live writer or master keeps. Returns how many
/// files went.
fn sweep_shard_dir(dir: &Path, shard: u32, m: &Meta, kept: &HashSet<(u32, u64)>, busy: &mut Vec<(u32, u64)>) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    let mut ids = std::collections::BTreeSet::new();
    for ent in rd.flatten() {
        let f = ent.file_name();
        let Some(s) = f.to_str() else { continue };
        let Some(hex) = s.strip_suffix(".dat").or_else(|| s.strip_suffix(".jnl")) else { continue };
        if hex.len() != 16 {
            continue;
        }
        if let Ok(id) = u64::from_str_radix(hex, 16) {
            ids.insert(id);
        }
    }
    let mut n = 0;
    for seg in ids {
        if m.seg(shard, seg).is_some() || kept.contains(&(shard, seg)) {
            continue;
        }
        match remove_dead_segment(dir, seg) {
            Some(k) => n += k,
            None => busy.push((shard, seg)),
        }
    }
    n
}

/// Removes segment `seg` of the shard directory `dir` if no process writes
/// it: its journal's lock can be taken (and is held while both files are
/// unlinked), or it has no journal (a writer makes the journal first).
/// Returns how many files went; `None` if its lock is held.
pub(crate) fn remove_dead_segment(dir: &Path, seg: u64) -> Option<usize> {
    let (d, j) = seg_paths(dir, seg);
    let _lock = match File::open(&j) {
        Ok(f) => {
            // SAFETY: flock on a descriptor we own; released when `f` goes.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                return None;
            }
            Some(f)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(_) => return Some(0),
    };
    let mut n = 0;
    for p in [&d, &j] {
        if std::fs::remove_file(p).is_ok() {
            n += 1;
        }
    }
    if n > 0 {
        crate::log!(Info, "removed segment {seg:016x} of {}: no commit published it and its writer is gone", dir.display());
    }
    Some(n)
}

/// The tokens of one container (see the module's text). Returns how many
/// files or directories went.
fn sweep_tokens(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    let mut n = 0;
    let mut others = Vec::new();
    for ent in rd.flatten() {
        let f = ent.file_name();
        let Some(s) = f.to_str() else { continue };
        if is_token_name(s) {
            n += reap_token(&ent.path());
        } else {
            others.push(s.to_string());
        }
    }
    // Reports and temporary files of tokens that are not live any more.
    for s in others {
        let owner = s.strip_suffix(".peers").or_else(|| tmp_target(&s)).filter(|t| is_token_name(t));
        let Some(t) = owner else { continue };
        if collective::token_is_live(&dir.join(t)) {
            continue;
        }
        let p = dir.join(&s);
        let gone = if s.ends_with(".peers") { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        if gone.is_ok() {
            n += 1;
        }
    }
    n + trim_tombstones(dir)
}

/// A token's file name: 16 hex digits.
fn is_token_name(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A token whose lock can be taken: a dead master's becomes a tombstone,
/// anything else that is not one (a master killed while making it) goes.
fn reap_token(p: &Path) -> usize {
    let Ok(f) = File::open(p) else { return 0 };
    if f.metadata().is_ok_and(|m| m.len() as usize == collective::REVOKED.len()) {
        return 0;
    }
    // SAFETY: flock on a descriptor we own; released when `f` goes.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return 0;
    }
    if collective::is_token_body(&f) {
        // (Peers see a tombstone as they saw a dead master: -EPERM.)
        if crate::base::fs::replace_file(p, collective::REVOKED).is_ok() {
            crate::log!(Info, "token {}: its master died; now a tombstone", p.display());
        }
        0
    } else {
        let _ = std::fs::remove_file(p);
        1
    }
}

/// Keeps the newest [`TOMBSTONES_KEPT`] tombstones of the token directory
/// `dir`. Returns how many went.
pub(crate) fn trim_tombstones(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    let mut stones: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for ent in rd.flatten() {
        let f = ent.file_name();
        if !f.to_str().is_some_and(is_token_name) {
            continue;
        }
        let Ok(md) = ent.metadata() else { continue };
        if md.len() as usize == collective::REVOKED.len() {
            stones.push((md.modified().unwrap_or(std::time::UNIX_EPOCH), ent.path()));
        }
    }
    if stones.len() <= TOMBSTONES_KEPT {
        return 0;
    }
    stones.sort_by(|a, b| b.0.cmp(&a.0));
    let old = stones.split_off(TOMBSTONES_KEPT);
    // Their ids go to the revoked list first, so that a peer's buffer of
    // such an open still reads as revoked (-EPERM), not unknown.
    let ids: Vec<u64> = old
        .iter()
        .filter_map(|(_, p)| p.file_name()?.to_str().and_then(|s| u64::from_str_radix(s, 16).ok()))
        .collect();
    if let Err(e) = list_revoked(dir, &ids) {
        crate::log!(Warn, "{e}; keeping its tombstones");
        return 0;
    }
    let mut n = 0;
    for (_, p) in old {
        if std::fs::remove_file(&p).is_ok() {
            n += 1;
        }
    }
    n
}

/// The file, in a container's token directory, listing the ids of revoked
/// collective opens whose tombstones were trimmed (8 bytes each, little
/// endian, oldest first).
pub(crate) const REVOKED_LIST: &str = "revoked";

/// The most ids [`REVOKED_LIST`] keeps (512 KiB): beyond it the oldest go,
/// and a buffer of such an old open reads as unknown (-EINVAL).
const REVOKED_LIST_MAX: usize = 1 << 16;

/// Appends `ids` to the revoked list of token directory `dir` (one append:
/// trims by two masters at once both land), halving it when it is full.
fn list_revoked(dir: &Path, ids: &[u64]) -> crate::error::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let p = dir.join(REVOKED_LIST);
    let io = |e: std::io::Error| crate::base::fs::io_err(e, p.display().to_string());
    let mut f = std::fs::OpenOptions::new().append(true).create(true).mode(crate::base::fs::PRIVATE_FILE).open(&p).map_err(io)?;
    let bytes: Vec<u8> = ids.iter().flat_map(|i| i.to_le_bytes()).collect();
    f.write_all(&bytes).map_err(io)?;
    if f.metadata().map_err(io)?.len() as usize > REVOKED_LIST_MAX * 8 {
        let all = std::fs::read(&p).map_err(io)?;
        crate::base::fs::atomic_write(&p, &all[all.len() / 16 * 8..])?;
    }
    Ok(())
}

/// Whether `token` is in the revoked list of token directory `dir`.
pub(crate) fn listed_revoked(dir: &Path, token: u64) -> bool {
    let Ok(all) = std::fs::read(dir.join(REVOKED_LIST)) else { return false };
    all.chunks_exact(8).any(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()) == token)
}

/// At the close of a writing handle: its segments that no commit published
/// hold nothing anyone can read, and go now rather than at a sweep (the
/// handle's own lock on them keeps a sweep away while the process has the
/// container open). A peer of a collective open keeps them while its
/// master lives (which may still commit them).
pub(crate) fn drop_unpublished(h: &super::CoHandle) {
    use std::sync::atomic::Ordering;
    if !h.rw || h.cs.unlinked.load(Ordering::Acquire) {
        return;
    }
    if let collective::Role::Peer(p) = &h.role {
        if p.check().is_ok() {
            return;
        }
    }
    let segs: Vec<(u32, u64)> = {
        let w = h.writer.lock();
        w.shards.iter().flat_map(|(&sh, v)| v.iter().map(move |s| (sh, s.file.id))).collect()
    };
    let listed = |m: &Meta, sh: u32, seg: u64| m.seg(sh, seg).is_some();
    let unpublished: Vec<(u32, u64)> = {
        let m = h.cs.meta.lock();
        segs.into_iter().filter(|&(sh, seg)| !listed(&m, sh, seg)).collect()
    };
    if unpublished.is_empty() {
        return;
    }
    // (The file as written, in case an update was made but not adopted.)
    let disk = match Meta::load(&h.cs.path) {
        Ok(super::meta::Loaded::Ok(d)) if d.uuid == h.cs.uuid => d,
        _ => return,
    };
    for (sh, seg) in unpublished {
        if listed(&disk, sh, seg) {
            continue;
        }
        let Some(shard) = h.cs.shard(sh) else { continue };
        let (d, j) = seg_paths(&shard.dir, seg);
        let _ = std::fs::remove_file(d);
        let _ = std::fs::remove_file(j);
        crate::log!(Debug, "shard {sh}: segment {seg:016x} dropped at close: no commit published it");
    }
}

/// At a master's close, after it revoked its peers: the segments they
/// reported (`segs`) that no commit published go, unless a peer still
/// writes them (its own close drops them then).
pub(crate) fn drop_peers_unpublished(cs: &super::CState, segs: &[(u32, u64, u64)]) {
    if segs.is_empty() || cs.unlinked.load(std::sync::atomic::Ordering::Acquire) {
        return;
    }
    let disk = match Meta::load(&cs.path) {
        Ok(super::meta::Loaded::Ok(d)) if d.uuid == cs.uuid => d,
        _ => return,
    };
    for &(sh, seg, _) in segs {
        if disk.seg(sh, seg).is_some() {
            continue;
        }
        if let Some(shard) = cs.shard(sh) {
            let _ = remove_dead_segment(&shard.dir, seg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::fs::is_tmp_suffix;

    #[test]
    fn temporary_file_names() {
        assert!(is_tmp_suffix("123.abcdef"));
        assert!(!is_tmp_suffix("12x.abc"));
        assert!(!is_tmp_suffix("5.tmp.123.abc"));
        assert_eq!(tmp_target(".c.tmp.77.ff"), Some("c"));
        assert_eq!(tmp_target(".a.tmp.5.tmp.9.1f"), Some("a.tmp.5"));
        assert_eq!(tmp_target(".c.tmp.x.ff"), None);
        assert_eq!(tmp_target("c.tmp.1.ff"), None);
    }

    #[test]
    fn a_segment_goes_only_once_its_writer_is() {
        let dir = std::env::temp_dir().join(format!("daos-rs-ut-litter-{}-{:x}", std::process::id(), crate::base::os::random_u64()));
        let sh = crate::shard::Shard::new(0, 0, dir.join("s-0"));
        sh.create_dir().unwrap();
        let (_, f) = sh.create_seg([1, 2]).unwrap();
        assert!(f.locked);
        let id = f.id;
        let (d, j) = seg_paths(&sh.dir, id);
        // Its writer (this process, through another descriptor) holds the lock.
        assert_eq!(remove_dead_segment(&sh.dir, id), None);
        assert!(d.exists() && j.exists());
        drop(f);
        drop(sh);
        assert_eq!(remove_dead_segment(&dir.join("s-0"), id), Some(2));
        assert!(!d.exists() && !j.exists());
        // A data file without its journal (made first by a writer that died).
        std::fs::write(&d, b"x").unwrap();
        assert_eq!(remove_dead_segment(&dir.join("s-0"), id), Some(1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_revoked_list_keeps_the_newest_half_when_full() {
        let dir = std::env::temp_dir().join(format!("daos-rs-ut-revoked-{}-{:x}", std::process::id(), crate::base::os::random_u64()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!listed_revoked(&dir, 7));
        let n = REVOKED_LIST_MAX as u64;
        list_revoked(&dir, &(0..n).collect::<Vec<_>>()).unwrap();
        assert!(listed_revoked(&dir, 0) && listed_revoked(&dir, n - 1) && !listed_revoked(&dir, n));
        list_revoked(&dir, &[u64::MAX]).unwrap();
        assert!(!listed_revoked(&dir, 0) && listed_revoked(&dir, n - 1) && listed_revoked(&dir, u64::MAX));
        assert_eq!(std::fs::metadata(dir.join(REVOKED_LIST)).unwrap().len(), (REVOKED_LIST_MAX as u64 / 2 + 1) * 8);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pending_lists() {
        assert_eq!(parse_pending(b"3 00000000000000ff\n0 0000000000000001\n"), Some(vec![(3, 255), (0, 1)]));
        assert_eq!(parse_pending(b"3 00000000000000ff\n0 zz\n"), None);
        assert_eq!(parse_pending(b"3"), None);
    }

    #[test]
    fn registry_marker_path() {
        let r = Path::new("/s/.daos/open/c-0123");
        assert_eq!(marker_of_registry(r), Some(PathBuf::from("/s/.daos/litter/c-0123")));
        assert_eq!(marker_of_registry(Path::new("/tmp/some-dir")), None);
    }
}
