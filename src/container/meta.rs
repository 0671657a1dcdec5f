//! The container file: a container's metadata, changed under an `flock` of
//! the container's lock file in the store, in one of two ways:
//!
//! - **an append to its log** (the common case, a commit): the new metadata
//!   is written as a record into the zeroed log area at the end of the file,
//!   in place, and flushed (`fdatasync`): one flush, of blocks already
//!   allocated, so no file system journal commit;
//! - **a checkpoint**, when the log area is full (or off: `DAOS_RS_META_LOG`,
//!   or a file system shared by several machines, where an in-place change
//!   may be read stale from another client's cache): the file is replaced
//!   atomically (write a temporary file, fsync, rename, fsync the directory)
//!   by one holding the newest metadata and an empty log area. The last
//!   close of a writer checkpoints too, so a file at rest holds its metadata
//!   in one checksummed block.
//!
//! Readers (another process's refresh, an open) read the whole file without
//! the lock and replay the log: the current metadata is the checkpoint's,
//! then each record in turn whose sequence number is the one after; the
//! first that is not (zeros, a record cut short by a crash, a torn one read
//! while being written) ends the log. A record whose flush did not complete
//! was never acknowledged, so a crash loses nothing acknowledged; a process
//! killed after writing it leaves it in the page cache, a commit under way
//! that took effect, as SPEC §10 allows.
//!
//! A commit of a container with checksums writes its record pending, while
//! its data is still being flushed, and marks it done once the data is
//! durable ([`Meta::save_pending`]); a pending last record is not applied
//! ([`Pending`] says what becomes of it).
//!
//! Metadata encoding (little-endian): magic `DAOSRSCO`, version u32, body,
//! CRC-32C of everything before it. The file (version 6): magic, u32 6,
//! u32 length of the checkpoint, the checkpoint (an encoded metadata), zeros
//! up to a multiple of 512, then the log area: records of u32 `LOG_TAG`
//! (done) or `LOG_TAG_PENDING`, u32 length, u64 id of the machine's boot
//! that wrote it, an encoded metadata. Older files (versions 3 to 5) are one
//! encoded metadata. A file whose magic is right but whose checkpoint's
//! checksum or body is not is CORRUPT; one with another magic is not a
//! container.

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
/// The container file with a metadata log (see the module documentation).
const VERSION_LOG: u32 = 6;
/// Start of a log record.
const LOG_TAG: u32 = 0x474f_4c4d; // "MLOG"
/// Start of a pending log record: a commit's, written while its data is
/// still being flushed (see [`Meta::save_pending`]).
const LOG_TAG_PENDING: u32 = 0x504f_4c4d; // "MLOP"
/// A log record's header: tag, length of the encoded metadata, boot id.
const REC_HEAD: usize = 16;
/// The log area starts at a multiple of this.
const LOG_ALIGN: usize = 512;
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

/// Where the log of a container file, as read, takes its next record: the
/// end of its records and of the file, and the file's identity (an append
/// goes to the file that was read, or not at all); and its last record if
/// that is pending (see [`Pending`]).
pub(crate) struct Tail {
    start: u64,
    off: u64,
    end: u64,
    dev: u64,
    ino: u64,
    pub(crate) pending: Option<Pending>,
}

/// A pending record ending a container file's log: a commit that wrote it
/// while its data was being flushed, and had not yet marked it done (a
/// record followed by another is done: the next one is written only once
/// it is). It is not part of the metadata read. Written during this boot of
/// the machine, its commit is under way, or its writer died (the next update
/// writes over it: that commit did not take effect). Written before the
/// machine last started (`other_boot`), its commit may have returned, and
/// whether its data reached the disk decides: the next update under the
/// lock checks its journals and data, and keeps it or drops it
/// (`CState::update_locked`).
pub(crate) struct Pending {
    pub(crate) meta: Meta,
    pub(crate) other_boot: bool,
}

/// What [`Meta::decode_file`] found of a file's log: where it starts, where
/// its records end (at a pending last record: where that starts), the
/// file's length, and a pending last record.
pub(crate) struct LogInfo {
    start: u64,
    off: u64,
    end: u64,
    pending: Option<Pending>,
}

/// A record found in a log: its offset, tag, boot id and encoded metadata.
type Found<'a> = (usize, u32, u64, &'a [u8]);

/// The record of a container file's log at `off` (its tag, boot id, and
/// encoded metadata), if one starts there and fits in the file.
fn log_record(b: &[u8], off: usize) -> Option<(u32, u64, &[u8])> {
    let h = b.get(off..off + REC_HEAD)?;
    let tag = u32::from_le_bytes(h[..4].try_into().unwrap());
    let len = u32::from_le_bytes(h[4..8].try_into().unwrap()) as usize;
    if tag != LOG_TAG && tag != LOG_TAG_PENDING {
        return None;
    }
    let boot = u64::from_le_bytes(h[8..].try_into().unwrap());
    Some((tag, boot, b.get(off + REC_HEAD..off + REC_HEAD + len)?))
}

/// This boot of the machine (from `/proc/sys/kernel/random/boot_id`; 0 if
/// it cannot be read: then no record is written pending).
pub(crate) fn boot_id() -> u64 {
    #[cfg(test)]
    if let Some(b) = TEST_BOOT.with(|b| b.get()) {
        return b;
    }
    static ID: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *ID.get_or_init(|| {
        let Ok(s) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id") else { return 0 };
        let hex: String = s.trim().chars().filter(|c| *c != '-').collect();
        match (u64::from_str_radix(&hex[..hex.len().min(16)], 16), u64::from_str_radix(hex.get(16..).unwrap_or(""), 16)) {
            (Ok(a), Ok(b)) if hex.len() == 32 => (a ^ b.rotate_left(17)).max(1),
            _ => 0,
        }
    })
}

#[cfg(test)]
thread_local! {
    /// A boot id this thread's tests pretend to run in (a machine restart).
    pub(crate) static TEST_BOOT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

impl Tail {
    /// Whether the log holds records (a checkpoint would fold them in).
    pub(crate) fn has_records(&self) -> bool {
        self.off > self.start
    }
}

/// Whether the container file's directory is on a local file system, where
/// its log is used (see the module documentation).
fn local_fs(path: &Path) -> bool {
    crate::notify::remote_fs_of(path.parent().unwrap_or(Path::new("."))).is_none()
}

/// Appends `rec` (an encoded metadata) to the log of the container file at
/// `path` at `t`, and flushes it: as a done record, or (`pending`) as a
/// pending one of this boot. On failure the record's header is zeroed
/// (best effort), so that it is not taken for a change that was made.
/// Returns the file, open for writing.
///
/// `Ok(None)`: nothing was written because the file cannot be opened for
/// writing (its mode, a read-only mount...) or is not the one read; the
/// caller replaces it instead, which needs only the directory.
fn append_record(path: &Path, t: &Tail, rec: &[u8], pending: bool) -> Result<Option<std::fs::File>> {
    use std::os::unix::fs::{FileExt, MetadataExt};
    let what = |e| io_err(e, format!("append to the log of container {}", path.display()));
    let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) else { return Ok(None) };
    match f.metadata() {
        Ok(md) if (md.dev(), md.ino()) == (t.dev, t.ino) => {}
        _ => return Ok(None),
    }
    let mut b = Vec::with_capacity(REC_HEAD + rec.len());
    b.extend_from_slice(&(if pending { LOG_TAG_PENDING } else { LOG_TAG }).to_le_bytes());
    b.extend_from_slice(&(rec.len() as u32).to_le_bytes());
    b.extend_from_slice(&boot_id().to_le_bytes());
    b.extend_from_slice(rec);
    let res = (|| {
        if let Some(fault) = crate::base::failpoint::hit("meta_write") {
            if fault == crate::base::failpoint::Fault::Short {
                let _ = f.write_all_at(&b[..b.len() / 2], t.off);
            }
            return Err(fault.error(&format!("append to the log of container {}", path.display())));
        }
        f.write_all_at(&b, t.off).map_err(what)?;
        // (What makes the record current: the failpoint of the rename that
        // makes a replaced file current.)
        if let Some(fault) = crate::base::failpoint::hit("rename") {
            return Err(fault.error(&format!("flush the log of container {}", path.display())));
        }
        f.sync_data().map_err(what)
    })();
    if res.is_err() {
        let _ = f.write_all_at(&[0u8; REC_HEAD], t.off);
    }
    res.map(|()| Some(f))
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

    /// Reads the container file at `path` (its checkpoint and its log).
    pub fn load(path: &Path) -> Result<Loaded> {
        Ok(Meta::load_tail(path)?.0)
    }

    /// [`Meta::load`], and where the file's log takes its next record (None:
    /// a file without a log, or a corrupt one).
    pub(crate) fn load_tail(path: &Path) -> Result<(Loaded, Option<Tail>)> {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let rd = |e| io_err(e, format!("read container {}", path.display()));
        let f = std::fs::File::open(path).map_err(rd)?;
        let md = f.metadata().map_err(rd)?;
        if md.len() > MAX_FILE {
            // Far larger than any container file: a damaged one (CORRUPT)
            // if it starts like one, else not a container.
            let mut head = [0u8; 8];
            let ours = std::os::unix::fs::FileExt::read_exact_at(&f, &mut head, 0).is_ok() && &head == MAGIC;
            if ours {
                return Ok((Loaded::Corrupt(None), None));
            }
            return Err(Error::Inval(format!("{} is not a daos-rs container", path.display())));
        }
        let mut b = Vec::with_capacity(md.len() as usize);
        (&f).take(MAX_FILE).read_to_end(&mut b).map_err(rd)?;
        let (loaded, log) = Meta::decode_file(&b, boot_id())
            .ok_or_else(|| Error::Inval(format!("{} is not a daos-rs container", path.display())))?;
        let tail = log.map(|l| Tail { start: l.start, off: l.off, end: l.end, dev: md.dev(), ino: md.ino(), pending: l.pending });
        Ok((loaded, tail))
    }

    /// Decodes a container file: the metadata (its checkpoint with its log
    /// replayed), and for a file with a log, what [`LogInfo`] tells (`boot`:
    /// this boot's id, see [`boot_id`]). None if it is not a container file
    /// at all.
    pub(crate) fn decode_file(b: &[u8], boot: u64) -> Option<(Loaded, Option<LogInfo>)> {
        if b.len() < 12 || &b[..8] != MAGIC || u32::from_le_bytes(b[8..12].try_into().unwrap()) != VERSION_LOG {
            return Meta::decode(b).map(|l| (l, None));
        }
        let clen = match b.get(12..16) {
            Some(x) => u32::from_le_bytes(x.try_into().unwrap()) as usize,
            None => return Some((Loaded::Corrupt(None), None)),
        };
        let Some(ckpt) = b.get(16..16 + clen) else {
            return Some((Loaded::Corrupt(Meta::decode_body(b.get(24..).unwrap_or_default())), None));
        };
        let mut cur = match Meta::decode(ckpt) {
            Some(Loaded::Ok(m)) => m,
            Some(Loaded::Corrupt(m)) => return Some((Loaded::Corrupt(m), None)),
            None => return Some((Loaded::Corrupt(None), None)),
        };
        let start = (16 + clen).next_multiple_of(LOG_ALIGN);
        // The records are found by their checksums and sequence numbers
        // alone; only the last is decoded (a refresh reads the whole log).
        // (offset, tag, boot, record) of the last two.
        let (mut off, mut seq) = (start, cur.seq);
        let mut last: [Option<Found<'_>>; 2] = [None, None];
        while let Some((tag, rboot, rec)) = log_record(b, off) {
            if Meta::peek(rec) != Some((cur.uuid, seq + 1)) {
                break;
            }
            last = [last[1], Some((off, tag, rboot, rec))];
            seq += 1;
            off += REC_HEAD + rec.len();
        }
        // A pending record followed by another is done; the last one, if
        // pending, is not applied: the log ends where it starts.
        let mut pending = None;
        if let Some((at, LOG_TAG_PENDING, rboot, rec)) = last[1] {
            match Meta::decode(rec) {
                Some(Loaded::Ok(m)) => pending = Some(Pending { meta: m, other_boot: rboot != boot || boot == 0 }),
                _ => return Some(Meta::replay_slowly(b, cur, start)),
            }
            off = at;
            last = [None, last[0]];
        }
        if let Some((_, _, _, rec)) = last[1] {
            match Meta::decode(rec) {
                Some(Loaded::Ok(m)) => cur = m,
                // (A checksummed record that does not decode: the log ends
                // before it, as it would before a damaged one.)
                _ => return Some(Meta::replay_slowly(b, cur, start)),
            }
        }
        Some((Loaded::Ok(cur), Some(LogInfo { start: start as u64, off: off as u64, end: b.len() as u64, pending })))
    }

    /// The log replayed record by record, each decoded: the last one that
    /// decodes and follows and is done (see [`Meta::decode_file`]).
    fn replay_slowly(b: &[u8], mut cur: Meta, start: usize) -> (Loaded, Option<LogInfo>) {
        let mut off = start;
        while let Some((tag, _, rec)) = log_record(b, off) {
            let next = log_record(b, off + REC_HEAD + rec.len());
            match Meta::decode(rec) {
                Some(Loaded::Ok(m)) if m.seq == cur.seq + 1 && m.uuid == cur.uuid && (tag == LOG_TAG || next.is_some()) => {
                    cur = m
                }
                _ => break,
            }
            off += REC_HEAD + rec.len();
        }
        (Loaded::Ok(cur), Some(LogInfo { start: start as u64, off: off as u64, end: b.len() as u64, pending: None }))
    }

    /// The identity and sequence number of an encoded metadata whose magic
    /// and checksum are right, without decoding it.
    fn peek(b: &[u8]) -> Option<([u64; 2], u64)> {
        // magic, version, uuid (2 u64), store (2 u64), seq, ..., CRC
        if b.len() < 56 || &b[..8] != MAGIC {
            return None;
        }
        let (body, tail) = b.split_at(b.len() - 4);
        if crc32c(body) != u32::from_le_bytes(tail.try_into().unwrap()) {
            return None;
        }
        let u = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        Some(([u(12), u(20)], u(44)))
    }

    /// The container file holding this metadata as its checkpoint and a
    /// zeroed log area of `area` bytes.
    pub(crate) fn encode_file(&self, area: u64) -> Vec<u8> {
        let ckpt = self.encode();
        let mut b = Vec::with_capacity(16 + ckpt.len() + LOG_ALIGN + area as usize);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION_LOG.to_le_bytes());
        b.extend_from_slice(&(ckpt.len() as u32).to_le_bytes());
        b.extend_from_slice(&ckpt);
        if area > 0 {
            b.resize(b.len().next_multiple_of(LOG_ALIGN) + area as usize, 0);
        }
        b
    }

    /// Writes the container file durably, with the next sequence number: as a
    /// record appended to its log when `tail` (the file as read under the
    /// lock) has room and `checkpoint` is false, else by replacing it (see
    /// the module documentation). A failed append is not retried as a
    /// checkpoint: the error (a fault of the disk) is the caller's.
    pub(crate) fn save_to(&mut self, path: &Path, tail: Option<&Tail>, checkpoint: bool) -> Result<()> {
        self.seq += 1;
        let area = crate::base::config::meta_log();
        if !checkpoint && area > 0 {
            if let Some(t) = tail {
                let rec = self.encode();
                if t.off + (REC_HEAD + rec.len()) as u64 <= t.end && local_fs(path) && append_record(path, t, &rec, false)?.is_some() {
                    return Ok(());
                }
            }
        }
        match atomic_write(path, &self.encode_file_for(path)) {
            // A full file system may still take the metadata without its
            // log area (the next update replaces the file again).
            Err(e) if e.errno() == libc::ENOSPC && area > 0 => atomic_write(path, &self.encode_file(0)),
            r => r,
        }
    }

    /// A commit's [`Meta::save_to`], made while its data is still being
    /// flushed: the record is appended pending and flushed, then `wait`
    /// waits for the data's flush; if it went well (true) the record is
    /// marked done (its tag rewritten, in the page cache: after a restart of
    /// the machine a record still pending has its data checked, see
    /// [`Pending`]), else it is zeroed and nothing is saved (`Ok(false)`).
    /// So the commit costs the longer of the two flushes, not their sum.
    /// Where no record can be written pending (no log, no room, another
    /// boot id unknown, a shared file system) it waits first and then saves
    /// as [`Meta::save_to`]. `wait` is called once, whatever happens.
    pub(crate) fn save_pending(&mut self, path: &Path, tail: Option<&Tail>, wait: &mut dyn FnMut() -> bool) -> Result<bool> {
        use std::os::unix::fs::FileExt;
        let usable = boot_id() != 0 && crate::base::config::meta_log() > 0 && local_fs(path);
        if let Some(t) = tail.filter(|_| usable) {
            self.seq += 1;
            let rec = self.encode();
            let fits = t.off + (REC_HEAD + rec.len()) as u64 <= t.end;
            match if fits { append_record(path, t, &rec, true) } else { Ok(None) } {
                Ok(Some(f)) => {
                    let done = wait() && f.write_all_at(&LOG_TAG.to_le_bytes(), t.off).is_ok();
                    if !done {
                        let _ = f.write_all_at(&[0u8; REC_HEAD], t.off);
                        self.seq -= 1;
                    }
                    return Ok(done);
                }
                Err(e) => {
                    wait();
                    self.seq -= 1;
                    return Err(e);
                }
                Ok(None) => self.seq -= 1,
            }
        }
        if !wait() {
            return Ok(false);
        }
        self.save_to(path, tail, false)?;
        Ok(true)
    }

    /// The container file at `path` holding this metadata, with a log area
    /// if the file system and `DAOS_RS_META_LOG` allow one.
    pub(crate) fn encode_file_for(&self, path: &Path) -> Vec<u8> {
        self.encode_file(if local_fs(path) { crate::base::config::meta_log() } else { 0 })
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

    fn with_seq(m: &Meta, seq: u64) -> Meta {
        Meta { seq, hce: seq * 10, ..m.clone() }
    }

    /// A record of the log as `append_record` writes it (`tag`, in boot 5).
    fn record_as(m: &Meta, tag: u32) -> Vec<u8> {
        let rec = m.encode();
        let mut b = tag.to_le_bytes().to_vec();
        b.extend_from_slice(&(rec.len() as u32).to_le_bytes());
        b.extend_from_slice(&5u64.to_le_bytes());
        b.extend_from_slice(&rec);
        b
    }

    fn record(m: &Meta) -> Vec<u8> {
        record_as(m, LOG_TAG)
    }

    /// HCE, log start and end of a container file read in boot 5.
    fn hce_of(b: &[u8]) -> (u64, u64, u64) {
        match Meta::decode_file(b, 5) {
            Some((Loaded::Ok(m), Some(l))) => (m.hce, l.start, l.off),
            _ => panic!("not a good container file"),
        }
    }

    #[test]
    fn the_log_replays_consecutive_records_and_stops_at_the_first_other() {
        let m = Meta { uuid: [7, 8], seq: 4, hce: 40, ..Default::default() };
        let mut f = m.encode_file(4096);
        assert_eq!(f.len() % LOG_ALIGN, 0);
        let (hce, start, off) = hce_of(&f);
        assert_eq!((hce, off), (40, start));
        // Records 5 and 6 follow the checkpoint's 4.
        let mut at = start as usize;
        for seq in [5, 6] {
            let r = record(&with_seq(&m, seq));
            f[at..at + r.len()].copy_from_slice(&r);
            at += r.len();
        }
        assert_eq!(hce_of(&f), (60, start, at as u64));
        // A record cut short (a crash while writing it) ends the log.
        let r = record(&with_seq(&m, 7));
        let mut torn = f.clone();
        torn[at..at + r.len() / 2].copy_from_slice(&r[..r.len() / 2]);
        assert_eq!(hce_of(&torn), (60, start, at as u64));
        // So does one that is not the next (a stale sequence number), one of
        // another container, or a damaged one.
        for bad in [with_seq(&m, 6), with_seq(&m, 8), Meta { uuid: [1, 1], ..with_seq(&m, 7) }] {
            let mut g = f.clone();
            let r = record(&bad);
            g[at..at + r.len()].copy_from_slice(&r);
            assert_eq!(hce_of(&g).0, 60);
        }
        let mut g = f.clone();
        g[at..at + r.len()].copy_from_slice(&r);
        assert_eq!(hce_of(&g).0, 70);
        g[at + 30] ^= 1;
        assert_eq!(hce_of(&g).0, 60);
        // So does a checksummed record that does not decode (an unknown
        // version).
        let mut odd = with_seq(&m, 7).encode();
        odd[8..12].copy_from_slice(&99u32.to_le_bytes());
        let n = odd.len() - 4;
        let c = crc32c(&odd[..n]);
        odd[n..].copy_from_slice(&c.to_le_bytes());
        let mut r2 = LOG_TAG.to_le_bytes().to_vec();
        r2.extend_from_slice(&(odd.len() as u32).to_le_bytes());
        r2.extend_from_slice(&5u64.to_le_bytes());
        r2.extend_from_slice(&odd);
        let mut g = f.clone();
        g[at..at + r2.len()].copy_from_slice(&r2);
        assert_eq!(hce_of(&g), (60, start, at as u64));
        // A record running past the end of the file is not one.
        let mut g = f[..at + r.len() - 1].to_vec();
        g[at..].copy_from_slice(&r[..r.len() - 1]);
        assert_eq!(hce_of(&g).0, 60);
        // A damaged checkpoint is CORRUPT whatever the log holds; a length
        // past the end too.
        let mut g = f.clone();
        g[40] ^= 1;
        assert!(matches!(Meta::decode_file(&g, 5), Some((Loaded::Corrupt(_), None))));
        let mut g = f.clone();
        g[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Meta::decode_file(&g, 5), Some((Loaded::Corrupt(_), None))));
        // Older files (one encoded metadata) still read, without a log.
        assert!(matches!(Meta::decode_file(&m.encode(), 5), Some((Loaded::Ok(x), None)) if x == m));
    }

    #[test]
    fn a_pending_last_record_is_not_applied_one_followed_is() {
        let m = Meta { uuid: [7, 8], seq: 4, hce: 40, ..Default::default() };
        let mut f = m.encode_file(4096);
        let (_, start, _) = hce_of(&f);
        let mut at = start as usize;
        let r5 = record(&with_seq(&m, 5));
        f[at..at + r5.len()].copy_from_slice(&r5);
        at += r5.len();
        let p6 = record_as(&with_seq(&m, 6), LOG_TAG_PENDING);
        let mut g = f.clone();
        g[at..at + p6.len()].copy_from_slice(&p6);
        // Pending and last: not applied; the log ends where it starts; of
        // this boot (5) or of another.
        let info = |b: &[u8], boot| match Meta::decode_file(b, boot) {
            Some((Loaded::Ok(m), Some(l))) => (m.hce, l.off, l.pending.map(|p| (p.meta.hce, p.other_boot))),
            _ => panic!(),
        };
        assert_eq!(info(&g, 5), (50, at as u64, Some((60, false))));
        assert_eq!(info(&g, 9), (50, at as u64, Some((60, true))));
        // Followed by a record: done, applied.
        let r7 = record(&with_seq(&m, 7));
        g[at + p6.len()..at + p6.len() + r7.len()].copy_from_slice(&r7);
        assert_eq!(info(&g, 5), (70, (at + p6.len() + r7.len()) as u64, None));
        // Marked done (its tag rewritten): applied.
        let mut h = f.clone();
        h[at..at + p6.len()].copy_from_slice(&p6);
        h[at..at + 4].copy_from_slice(&LOG_TAG.to_le_bytes());
        assert_eq!(info(&h, 9), (60, (at + p6.len()) as u64, None));
    }

    fn cur_len(m: &Meta) -> u64 {
        m.encode().len() as u64
    }

    #[test]
    fn updates_append_in_place_until_the_log_is_full_then_checkpoint() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("daos-rs-metalog-{}-{}", std::process::id(), crate::base::os::random_u64()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c");
        let m = Meta { uuid: [3, 4], seq: 1, ..Default::default() };
        let area = crate::base::config::meta_log();
        assert!(area > 0, "DAOS_RS_META_LOG is off in the environment");
        std::fs::write(&p, m.encode_file(area)).unwrap();
        let ino = std::fs::metadata(&p).unwrap().ino();
        let len = std::fs::metadata(&p).unwrap().len();
        let mut replaced = 0;
        let mut last_ino = ino;
        for i in 1..=1000u64 {
            let (l, tail) = Meta::load_tail(&p).unwrap();
            let Loaded::Ok(mut cur) = l else { panic!("corrupt after {i} updates") };
            assert_eq!(cur.hce, i - 1);
            cur.hce = i;
            cur.save_to(&p, tail.as_ref(), false).unwrap();
            let now = std::fs::metadata(&p).unwrap();
            if now.ino() != last_ino {
                replaced += 1;
                last_ino = now.ino();
            } else {
                // An append: in place, the file's length unchanged.
                assert_eq!(now.len(), len);
            }
        }
        // The log area holds hundreds of records of this size (about 110
        // bytes): most updates are appends, a few are checkpoints.
        let per_log = area / (8 + cur_len(&m)) ;
        assert!(replaced >= 1 && replaced <= 1000 / per_log + 1, "{replaced} checkpoints in 1000 updates, {per_log} records a log");
        let Loaded::Ok(end) = Meta::load(&p).unwrap() else { panic!() };
        assert_eq!((end.hce, end.seq), (1000, 1001));
        // A checkpoint folds the log in: the file is replaced, its log empty.
        let (_, tail) = Meta::load_tail(&p).unwrap();
        let mut cur = end.clone();
        cur.save_to(&p, tail.as_ref(), true).unwrap();
        let (l, tail) = Meta::load_tail(&p).unwrap();
        assert!(matches!(l, Loaded::Ok(x) if x.seq == 1002 && x.hce == 1000));
        assert!(!tail.unwrap().has_records());
        // A file that is not the one read (replaced meanwhile: never under
        // the lock, but whatever happens) is not appended to: it is replaced.
        let (l, tail) = Meta::load_tail(&p).unwrap();
        let Loaded::Ok(mut cur) = l else { panic!() };
        let other = dir.join("other");
        std::fs::write(&other, cur.encode_file(area)).unwrap();
        std::fs::rename(&other, &p).unwrap();
        let swapped = std::fs::metadata(&p).unwrap().ino();
        cur.hce = 7;
        cur.save_to(&p, tail.as_ref(), false).unwrap();
        assert_ne!(std::fs::metadata(&p).unwrap().ino(), swapped);
        assert!(matches!(Meta::load(&p).unwrap(), Loaded::Ok(x) if x.hce == 7));
        std::fs::remove_dir_all(&dir).unwrap();
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
