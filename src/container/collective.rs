//! Collective open (SPEC §9): the master's handle packed into a global
//! buffer, and peers' handles made from it.
//!
//! **Tokens.** A collective open makes a token: a file
//! `.daos/tokens/c-<uuid>/<id>` holding a random 128-bit key, on which the
//! master holds an exclusive `flock` while its handle is open. The master's
//! close overwrites it with a tombstone (revoked); a master that dies leaves
//! it unlocked, which peers take as revoked too.
//!
//! **The global buffer** (little-endian): magic `DAOSRSGH`, version u32,
//! total length u32, then the token id, the container and store identities,
//! the mode, the container path and the master's metadata (layout, epochs,
//! published journal lengths), then a SipHash-2-4 MAC of everything before it
//! keyed by the token's key, then a CRC-32C of everything before it. Damage
//! fails the CRC; a changed field with a recomputed CRC fails the MAC.
//!
//! **Peers' flushes.** A peer records its segments and how much of each
//! journal it has flushed in a report file `<id>.peers/<pid>-<n>` beside the
//! token (replaced atomically at each flush and each new segment). The
//! master's commit publishes those lengths with its own; its abort voids the
//! peers' segments too; its close seals them.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::meta::{Loaded, Meta};
use super::{handle_any, CState};
use crate::error::{Error, Result};
use crate::store::{StoreConf, DOT_DAOS};
use crate::base::checksum::crc32c;
use crate::base::codec::{Dec, Enc};
use crate::base::fs::io_err;
use crate::base::mac::siphash24;
use crate::base::os::random_u64;

const MAGIC: &[u8; 8] = b"DAOSRSGH";
const VERSION: u32 = 1;
const TOKEN_MAGIC: &[u8; 8] = b"DAOSRSTK";
/// A tombstone: the token of a collective open its master closed.
pub(crate) const REVOKED: &[u8; 8] = b"REVOKED!";
const REPORT_MAGIC: &[u8; 8] = b"DAOSRSPR";

/// The collective role of a container handle.
pub enum Role {
    /// An ordinary open.
    Plain,
    /// The master of a collective open.
    Master(Master),
    /// A peer made by `daos_global2local`.
    Peer(Peer),
}

/// The master's token.
pub struct Master {
    pub token: u64,
    key: [u64; 2],
    path: PathBuf,
    /// Holds the token's lock while the master lives (never read: its
    /// descriptor is the lock).
    _lock: crate::base::lock::Held,
}

/// A peer's link to its master's token.
pub struct Peer {
    token_path: PathBuf,
    report_path: PathBuf,
    revoked: Arc<AtomicBool>,
    /// Flushed journal length of each of its segments: (shard, segment) -> length.
    segs: Mutex<BTreeMap<(u32, u64), u64>>,
    /// When object I/O last looked at the token (`base::os::mono_ms`).
    last_check: std::sync::atomic::AtomicU64,
    /// Watches the token, so that the master's close revokes at once even
    /// object I/O (which does not look at the token itself).
    _watch: Option<crate::notify::WatchGuard>,
}

/// Directory of the tokens of container `uuid`.
pub(crate) fn tokens_dir(root: &Path, uuid: [u64; 2]) -> PathBuf {
    root.join(DOT_DAOS).join("tokens").join(crate::base::ids::ContainerId(uuid).to_string())
}

fn token_path(root: &Path, uuid: [u64; 2], token: u64) -> PathBuf {
    tokens_dir(root, uuid).join(format!("{token:016x}"))
}

fn reports_dir(token_path: &Path) -> PathBuf {
    let mut s = token_path.as_os_str().to_owned();
    s.push(".peers");
    PathBuf::from(s)
}

/// What a token file says.
enum TokenState {
    Live([u64; 2]),
    Revoked,
    Missing,
}

/// Takes a lock on `f` without waiting; whether it was taken.
fn try_lock(f: &File, shared: bool) -> bool {
    let op = if shared { libc::LOCK_SH } else { libc::LOCK_EX };
    // SAFETY: flock on a descriptor `f` owns.
    unsafe { libc::flock(f.as_raw_fd(), op | libc::LOCK_NB) == 0 }
}

/// Reads a token file: live (its key, and its master holds the lock),
/// revoked (tombstone, or the master died), or missing.
fn probe(path: &Path) -> Result<TokenState> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenState::Missing),
        Err(e) => return Err(io_err(e, format!("read token {}", path.display()))),
    };
    // (A token is 24 bytes; more is not a live token.)
    let mut b = Vec::new();
    (&f).take(64).read_to_end(&mut b).map_err(|e| io_err(e, format!("read token {}", path.display())))?;
    if b.len() == 24 && &b[..8] == TOKEN_MAGIC {
        // A shared lock succeeds only if the master (exclusive holder) is gone.
        if try_lock(&f, true) {
            return Ok(TokenState::Revoked);
        }
        let k = [u64::from_le_bytes(b[8..16].try_into().unwrap()), u64::from_le_bytes(b[16..24].try_into().unwrap())];
        return Ok(TokenState::Live(k));
    }
    Ok(TokenState::Revoked)
}

/// Whether the token at `p` is a live master's (its lock is held).
pub(crate) fn token_is_live(p: &Path) -> bool {
    matches!(probe(p), Ok(TokenState::Live(_)))
}

/// Whether `f` holds a token's body (a live or dead master's, not a tombstone).
pub(crate) fn is_token_body(f: &File) -> bool {
    let mut b = Vec::new();
    (&*f).take(64).read_to_end(&mut b).is_ok() && b.len() == 24 && &b[..8] == TOKEN_MAGIC
}

impl Master {
    /// Makes the token of a new collective open of `cs`.
    pub fn create(cs: &CState) -> Result<Master> {
        let dir = tokens_dir(&cs.root, cs.uuid);
        crate::base::fs::private_dir(&dir).map_err(|e| io_err(e, format!("create {}", dir.display())))?;
        let key = [random_u64(), random_u64()];
        let mut b = TOKEN_MAGIC.to_vec();
        b.extend_from_slice(&key[0].to_le_bytes());
        b.extend_from_slice(&key[1].to_le_bytes());
        use std::os::unix::fs::OpenOptionsExt;
        // A sweep of another process may take the lock of the new file before
        // this one does and remove it (`litter`: an empty token whose lock is
        // free is a killed master's): then another token is made.
        for _ in 0..8 {
            let token = random_u64();
            let path = token_path(&cs.root, cs.uuid, token);
            let file = crate::base::lock::Tracked::open(|| {
                std::fs::OpenOptions::new().read(true).write(true).create_new(true).mode(crate::base::fs::PRIVATE_FILE).open(&path)
            })
            .map_err(|e| io_err(e, format!("create token {}", path.display())))?;
            let file = match crate::base::lock::Held::lock(file, libc::LOCK_EX | libc::LOCK_NB) {
                Ok(f) => f,
                Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => continue,
                Err(e) => return Err(io_err(e, format!("lock token {}", path.display()))),
            };
            if file.metadata().map(|m| std::os::unix::fs::MetadataExt::nlink(&m)).unwrap_or(1) == 0 {
                continue;
            }
            std::os::unix::fs::FileExt::write_all_at(&*file, &b, 0)
                .map_err(|e| io_err(e, format!("write token {}", path.display())))?;
            return Ok(Master { token, key, path, _lock: file });
        }
        Err(Error::Os { errno: libc::EAGAIN, msg: format!("no token could be made in {}", dir.display()) })
    }

    /// The segments the peers reported: (shard, segment, flushed length).
    pub fn peer_segments(&self) -> Vec<(u32, u64, u64)> {
        read_reports(&reports_dir(&self.path))
    }

    /// Revokes the token: peers' later calls fail with -EPERM. The token is
    /// replaced by a tombstone (a rename, which peers' watches see).
    pub fn revoke(&self) {
        if let Err(e) = crate::base::fs::replace_file(&self.path, REVOKED) {
            crate::log!(Warn, "could not revoke token {}: {e}; removing it", self.path.display());
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = std::fs::remove_dir_all(reports_dir(&self.path));
        // One tombstone per collective open ever closed would pile up.
        if let Some(dir) = self.path.parent() {
            super::litter::trim_tombstones(dir);
        }
    }
}

/// Reads every peer report in `dir`.
fn read_reports(dir: &Path) -> Vec<(u32, u64, u64)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for ent in rd.flatten() {
        if ent.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(b) = crate::base::fs::read_small(&ent.path(), 64 << 20) else {
            crate::log!(Warn, "peer report {} cannot be read; ignored", ent.path().display());
            continue;
        };
        match decode_report(&b) {
            Some(v) => out.extend(v),
            None => crate::log!(Warn, "peer report {} is damaged; ignored", ent.path().display()),
        }
    }
    out
}

fn decode_report(b: &[u8]) -> Option<Vec<(u32, u64, u64)>> {
    if b.len() < 16 || &b[..8] != REPORT_MAGIC {
        return None;
    }
    let (body, tail) = b.split_at(b.len() - 4);
    if crc32c(body) != u32::from_le_bytes(tail.try_into().ok()?) {
        return None;
    }
    let mut d = Dec::new(&body[8..]);
    let n = d.u32()?;
    let mut v = Vec::new();
    for _ in 0..n {
        v.push((d.u32()?, d.u64()?, d.u64()?));
    }
    Some(v)
}

/// The segments of the live collective opens of a container (their writers
/// may be gone, but their master may still commit what they flushed).
pub(crate) fn segments_of_live_masters(root: &Path, uuid: [u64; 2]) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(tokens_dir(root, uuid)) else { return out };
    for ent in rd.flatten() {
        let p = ent.path();
        if p.extension().is_some() || ent.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if let Ok(TokenState::Live(_)) = probe(&p) {
            out.extend(read_reports(&reports_dir(&p)).into_iter().map(|(s, g, _)| (s, g)));
        }
    }
    out
}

impl Peer {
    /// Whether the master has closed or died. Checks the token now and
    /// remembers a revocation.
    pub fn check(&self) -> Result<()> {
        if !self.revoked.load(Ordering::Acquire) {
            match probe(&self.token_path) {
                Ok(TokenState::Live(_)) => return Ok(()),
                Ok(_) => self.revoked.store(true, Ordering::Release),
                Err(e) => return Err(e),
            }
        }
        Err(Error::Perm("the master of this collective open has closed it (or died): the handle is revoked".into()))
    }

    /// Whether the handle is revoked, for object I/O: the flag that token
    /// checks and the token's watch set, and, at most every 100 ms, a look
    /// at the token (a master that dies leaves no file event).
    pub fn is_revoked(&self) -> bool {
        if self.revoked.load(Ordering::Acquire) {
            return true;
        }
        let now = crate::base::os::mono_ms();
        let last = self.last_check.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 100
            && self.last_check.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            return self.check().is_err();
        }
        false
    }

    /// A new segment of this peer: reported so that the master's abort and
    /// close can reach it.
    pub fn add_segment(&self, shard: u32, seg: u64) -> Result<()> {
        self.segs.lock().entry((shard, seg)).or_insert(crate::shard::journal::HEADER);
        self.write_report()
    }

    /// Records what a flush made durable and tells the master.
    pub fn flushed(&self, shard: u32, seg: u64, len: u64) {
        let mut s = self.segs.lock();
        let v = s.entry((shard, seg)).or_insert(0);
        *v = (*v).max(len);
    }

    pub fn write_report(&self) -> Result<()> {
        let segs = self.segs.lock().clone();
        let mut e = Enc::default();
        e.0.extend_from_slice(REPORT_MAGIC);
        e.u32(segs.len() as u32);
        for ((shard, seg), len) in segs {
            e.u32(shard).u64(seg).u64(len);
        }
        let crc = crc32c(&e.0);
        e.u32(crc);
        let dir = reports_dir(&self.token_path);
        crate::base::fs::private_dir(&dir).map_err(|er| io_err(er, format!("create {}", dir.display())))?;
        crate::base::fs::replace_file(&self.report_path, &e.0)
    }
}

/// The body of a global buffer.
struct Global {
    token: u64,
    uuid: [u64; 2],
    store: [u64; 2],
    rw: bool,
    path: PathBuf,
    meta: Meta,
}

fn encode(g: &Global, key: [u64; 2]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut e = Enc::default();
    e.0.extend_from_slice(MAGIC);
    e.u32(VERSION).u32(0);
    e.u64(g.token).u64(g.uuid[0]).u64(g.uuid[1]).u64(g.store[0]).u64(g.store[1]).u8(g.rw as u8);
    e.bytes(g.path.as_os_str().as_bytes());
    e.bytes(&g.meta.encode());
    let total = (e.0.len() + 12) as u32;
    e.0[12..16].copy_from_slice(&total.to_le_bytes());
    let mac = siphash24(key, &e.0);
    e.u64(mac);
    let crc = crc32c(&e.0);
    e.u32(crc);
    e.0
}

/// Checks the framing and checksum and decodes the body; the MAC is checked
/// by the caller once it has the token's key. Returns the body and the MAC.
fn decode(b: &[u8]) -> Result<(Global, u64)> {
    let bad = |why: &str| Error::Inval(format!("global handle buffer: {why}"));
    if b.len() < 16 + 12 {
        return Err(bad("too short"));
    }
    if &b[..8] != MAGIC {
        return Err(bad("bad magic (not made by daos_local2global)"));
    }
    let mut d = Dec::new(&b[8..16]);
    let (version, total) = (d.u32().unwrap_or(0), d.u32().unwrap_or(0));
    if version != VERSION {
        return Err(bad(&format!("version {version} is not {VERSION}")));
    }
    if total as usize != b.len() {
        return Err(bad(&format!("it holds {} bytes but says {total}", b.len())));
    }
    let (body, tail) = b.split_at(b.len() - 4);
    if crc32c(body) != u32::from_le_bytes(tail.try_into().unwrap()) {
        return Err(bad("checksum mismatch (damaged)"));
    }
    let mac = u64::from_le_bytes(body[body.len() - 8..].try_into().unwrap());
    let mut d = Dec::new(&body[16..body.len() - 8]);
    let parse = |d: &mut Dec| -> Option<Global> {
        use std::os::unix::ffi::OsStrExt;
        let token = d.u64()?;
        let uuid = [d.u64()?, d.u64()?];
        let store = [d.u64()?, d.u64()?];
        let rw = d.u8()? != 0;
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(d.bytes()?));
        let meta = match Meta::decode(d.bytes()?)? {
            Loaded::Ok(m) => m,
            Loaded::Corrupt(_) => return None,
        };
        Some(Global { token, uuid, store, rw, path, meta })
    };
    let g = parse(&mut d).ok_or_else(|| bad("malformed body"))?;
    if g.meta.uuid != g.uuid || !g.path.is_absolute() {
        return Err(bad("inconsistent body"));
    }
    Ok((g, mac))
}

/// `daos_local2global`: the global buffer of the master's handle.
pub fn local2global(cookie: u64) -> Result<Vec<u8>> {
    let h = super::handle(cookie)?;
    let m = match &h.role {
        Role::Master(m) => m,
        Role::Peer(_) => return Err(Error::Perm("only the master of a collective open may share it".into())),
        Role::Plain => return Err(Error::Inval("the handle is not from a collective open (nprocess > 1)".into())),
    };
    // Hand out the newest layout (a peer may have changed it).
    h.cs.refresh();
    let meta = h.cs.meta.lock().clone();
    let g = Global { token: m.token, uuid: h.cs.uuid, store: h.cs.store.uuid, rw: h.rw, path: h.cs.path.clone(), meta };
    Ok(encode(&g, m.key))
}

/// `daos_global2local`: a peer handle from a global buffer (or `cur`
/// refreshed from it); returns the handle.
pub fn global2local(buf: &[u8], cur: u64) -> Result<u64> {
    global2local_as(buf, cur, true)
}

/// [`global2local`]; with `shared == false` the peer gets a state of its
/// own, as in another process (tests).
pub(crate) fn global2local_as(buf: &[u8], cur: u64, shared: bool) -> Result<u64> {
    let (g, mac) = decode(buf)?;
    let body = &buf[..buf.len() - 12];
    let root = crate::store::find_root(g.path.parent().unwrap_or(Path::new("/")))?;
    let store = StoreConf::open(&root)?;
    if store.uuid != g.store {
        return Err(Error::Inval("global handle buffer: the store at its path is another one".into()));
    }
    let tpath = token_path(&root, g.uuid, g.token);
    let key = match probe(&tpath)? {
        TokenState::Live(k) => k,
        TokenState::Revoked => {
            return Err(Error::Perm("the master of this collective open has closed it (or died)".into()))
        }
        TokenState::Missing if !g.path.exists() => {
            return Err(Error::NoEnt(format!("container {} no longer exists", g.path.display())))
        }
        // A tombstone trimmed since (see `litter::trim_tombstones`).
        TokenState::Missing if super::litter::listed_revoked(&tokens_dir(&root, g.uuid), g.token) => {
            return Err(Error::Perm("the master of this collective open has closed it (or died)".into()))
        }
        TokenState::Missing => return Err(Error::Inval("global handle buffer: unknown token (forged?)".into())),
    };
    if siphash24(key, body) != mac {
        return Err(Error::Inval("global handle buffer: authentication failed (forged or altered)".into()));
    }
    // Refresh an existing handle of this process on the same container.
    if let Ok(h) = handle_any(cur) {
        if h.closed.load(Ordering::Acquire) {
            // A closed handle is not "a valid handle": make a new one.
        } else if h.cs.uuid != g.uuid {
            return Err(Error::Inval("handle to refresh is open on another container".into()));
        } else {
            if let Role::Peer(p) = &h.role {
                p.check()?;
            }
            h.cs.adopt(g.meta);
            return Ok(cur);
        }
    }
    let cs = super::state_for(g.path.clone(), root, store, g.meta, shared)?;
    let n = crate::base::os::random_u64() & 0xffff_ffff;
    let revoked = Arc::new(AtomicBool::new(false));
    let watch = match (tpath.parent(), tpath.file_name()) {
        (Some(dir), Some(name)) => {
            let (flag, path) = (revoked.clone(), tpath.clone());
            crate::notify::watch(
                dir,
                name,
                Arc::new(move || {
                    if !matches!(probe(&path), Ok(TokenState::Live(_))) {
                        flag.store(true, Ordering::Release);
                    }
                }),
            )
        }
        _ => None,
    };
    let peer = Peer {
        report_path: reports_dir(&tpath).join(format!("{}-{n:08x}", std::process::id())),
        token_path: tpath,
        revoked,
        segs: Mutex::new(BTreeMap::new()),
        last_check: std::sync::atomic::AtomicU64::new(crate::base::os::mono_ms()),
        _watch: watch,
    };
    super::new_handle(&cs, g.rw, Role::Peer(peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::types::*;

    fn store() -> PathBuf {
        let p = std::env::temp_dir().join(format!("daos-rs-ut-coll-{}-{:x}", std::process::id(), random_u64()));
        std::fs::create_dir_all(&p).unwrap();
        crate::store::format(&p, &crate::store::default_specs(1, None), DAOS_SYS_FORMAT_NO_PROBE, &mut |_, _| {})
            .unwrap();
        p
    }

    #[test]
    fn global_buffer_detects_damage_forgery_and_revocation() {
        let root = store();
        let path = root.join("c");
        let (_, m) = crate::container::open(&path, DAOS_COO_RW | DAOS_COO_CREATE, 4).unwrap();
        let g = local2global(m).unwrap();
        assert_eq!(&g[..8], MAGIC);
        assert_eq!(u32::from_le_bytes(g[12..16].try_into().unwrap()) as usize, g.len());
        // Every single-bit flip is refused (CRC, then framing).
        for i in 0..g.len() {
            let mut b = g.clone();
            b[i] ^= 0x10;
            assert_eq!(global2local(&b, 0).unwrap_err().errno(), libc::EINVAL, "flip at {i}");
        }
        for n in [0, 10, 27, g.len() - 1] {
            assert_eq!(global2local(&g[..n], 0).unwrap_err().errno(), libc::EINVAL, "truncated to {n}");
        }
        // A changed field with a recomputed CRC fails the MAC.
        let mut f = g.clone();
        let at = 16 + 8 + 16 + 16; // the mode byte
        f[at] ^= 1;
        let n = f.len();
        let crc = crc32c(&f[..n - 4]);
        f[n - 4..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(global2local(&f, 0).unwrap_err().errno(), libc::EINVAL);
        // A valid buffer gives a peer; after the master's close, -EPERM.
        let p = global2local(&g, 0).unwrap();
        assert!(crate::container::handle(p).is_ok());
        crate::container::close(m).unwrap();
        assert_eq!(global2local(&g, 0).unwrap_err().errno(), libc::EPERM);
        assert_eq!(crate::container::handle(p).err().map(|e| e.errno()), Some(libc::EPERM));
        crate::container::close(p).unwrap();
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_dead_master_token_reads_as_revoked() {
        let root = store();
        let path = root.join("c");
        let (_, m) = crate::container::open(&path, DAOS_COO_RW | DAOS_COO_CREATE, 2).unwrap();
        let h = crate::container::handle(m).unwrap();
        let Role::Master(ms) = &h.role else { panic!("not a master") };
        assert!(matches!(probe(&ms.path).unwrap(), TokenState::Live(k) if k == ms.key));
        // Releasing the lock is what the death of the master's process does.
        // SAFETY: unlocking a descriptor the master owns (test only).
        unsafe { libc::flock(ms._lock.as_raw_fd(), libc::LOCK_UN) };
        assert!(matches!(probe(&ms.path).unwrap(), TokenState::Revoked));
        assert!(matches!(probe(&root.join("nope")).unwrap(), TokenState::Missing));
        drop(h);
        crate::container::close(m).unwrap();
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn peer_reports_round_trip_and_reject_damage() {
        let dir = std::env::temp_dir().join(format!("daos-rs-ut-rep-{}-{:x}", std::process::id(), random_u64()));
        std::fs::create_dir_all(&dir).unwrap();
        let tp = dir.join("0000000000000001");
        let p = Peer {
            report_path: reports_dir(&tp).join("r"),
            token_path: tp.clone(),
            revoked: Arc::new(AtomicBool::new(false)),
            segs: Mutex::new(BTreeMap::new()),
            last_check: Default::default(),
            _watch: None,
        };
        p.add_segment(3, 77).unwrap();
        p.flushed(3, 77, 9000);
        p.flushed(3, 77, 5000);
        p.add_segment(4, 78).unwrap();
        let mut got = read_reports(&reports_dir(&tp));
        got.sort();
        assert_eq!(got, vec![(3, 77, 9000), (4, 78, crate::shard::journal::HEADER)]);
        let b = std::fs::read(&p.report_path).unwrap();
        let mut bad = b.clone();
        bad[10] ^= 1;
        assert!(decode_report(&bad).is_none());
        assert!(decode_report(&b).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

}
