//! Objects (SPEC §7): handles, and read, write and punch as operations on
//! the engine. A write is one or more data SQEs plus one journal SQE; a read
//! is one SQE per contiguous piece of data (several extents: several SQEs,
//! one event), verified against the chunk checksums when they complete.

use std::sync::Arc;

use crate::container::{self, CoHandle};
use crate::engine::Req;
use crate::error::{Error, Result};
use crate::event::{Op, Submit};
use crate::abi::iomem::UserMem;
use crate::abi::types::*;
use crate::abi::flags::{self, ObjMode};
use crate::base::fork::PerFork;
use crate::handle::{HandleTable, HandleType};
use crate::shard::index::{Ext, Index};
use smallvec::SmallVec;
use crate::shard::journal::{ChunkCrcs, Record, CHUNK, KIND_PUNCH, KIND_WRITE, MAX_REC_LEN};
use crate::shard::{SegFile, Shard};
use crate::base::checksum::crc32c_append;

/// Largest single read or write request.
const MAX_IO: u64 = 1 << 30;
/// A read of at least this many bytes verifies its checksums as soon as it
/// completes (see `Op::long_completion`).
const LONG_READ: u64 = 1 << 20;

/// Splits `len` bytes at memory address `p` and file offset `at` into
/// requests of at most `MAX_IO` bytes: `f(address, length, offset)` each.
fn split_io(p: usize, len: u64, at: u64, mut f: impl FnMut(usize, u64, u64)) {
    let mut done = 0;
    while done < len {
        let n = (len - done).min(MAX_IO);
        f(p + done as usize, n, at + done);
        done += n;
    }
}

/// An open object.
pub struct ObjHandle {
    pub co: Arc<CoHandle>,
    pub oid: daos_obj_id_t,
    /// The object's shard (its disabled flag is checked at every use).
    pub shard: Arc<Shard>,
    pub rw: bool,
    pub buffered: bool,
}

/// Checks an object open mode; returns whether it is read-write.
pub fn check_mode(mode: u32) -> Result<bool> {
    let m: ObjMode = flags::parse(mode, "object mode")?;
    flags::read_write(m.contains(ObjMode::RO), m.contains(ObjMode::RW), "object mode needs exactly one of DAOS_OBJ_RO and DAOS_OBJ_RW")
}

/// The argument checks of `daos_object_open` (mode, handle, capability):
/// the container handle and whether the mode is read-write.
pub fn check_open(coh: u64, mode: u32) -> Result<(Arc<CoHandle>, bool)> {
    let rw = check_mode(mode)?;
    let co = container::handle(coh)?;
    if rw {
        co.need_rw("open an object read-write")?;
    }
    Ok((co, rw))
}

/// Object handles of this process (built again after a fork).
fn objects() -> &'static HandleTable<ObjHandle> {
    static OBJECTS: PerFork<HandleTable<ObjHandle>> = PerFork::new();
    OBJECTS.get(|prev| HandleTable::continuing(HandleType::Object, prev))
}

/// Forgets an object handle whose container handle is being closed.
fn forget(oh: u64) {
    let _ = objects().remove(oh);
}

/// `daos_object_open`.
pub fn open(coh: u64, oid: daos_obj_id_t, mode: u32) -> Result<u64> {
    let (co, rw) = check_open(coh, mode)?;
    let shard = co.cs.live_shard(oid.o_id_hi)?;
    let h = ObjHandle { co: co.clone(), oid, shard, rw, buffered: mode & DAOS_OBJ_IO_BUFFERED != 0 };
    let cookie = objects().insert_with(|_| Ok(Arc::new(h)))?;
    co.objects.lock().push((cookie, forget));
    if co.closed.load(std::sync::atomic::Ordering::Acquire) {
        forget(cookie);
        return Err(Error::BadF("container handle is closed".into()));
    }
    Ok(cookie)
}

/// `daos_object_close`.
pub fn close(oh: u64) -> Result<()> {
    let h = objects().remove(oh)?;
    h.co.objects.lock().retain(|&(c, _)| c != oh);
    Ok(())
}

impl ObjHandle {
    /// The object's shard, unless it has been disabled since the open.
    fn live(&self) -> Result<&Arc<Shard>> {
        self.shard.check_live()?;
        Ok(&self.shard)
    }
}

/// Looks up an object handle, whether its container is open or not.
pub fn handle_any(oh: u64) -> Result<Arc<ObjHandle>> {
    objects().get(oh)
}

/// Looks up an object handle whose container is still open.
pub fn handle(oh: u64) -> Result<Arc<ObjHandle>> {
    let h = objects().get(oh)?;
    if h.co.closed.load(std::sync::atomic::Ordering::Acquire) {
        return Err(Error::BadF("the object's container handle is closed".into()));
    }
    if h.co.revoked() {
        return Err(Error::Perm("the master of this collective open has closed it: the handle is revoked".into()));
    }
    Ok(h)
}

/// Checks an object I/O descriptor: extents that do not overflow, and a
/// total equal to the memory's.
pub fn check_iod(iod: &[daos_io_frag], mem_total: u64) -> Result<u64> {
    let mut total = 0u64;
    for f in iod.iter().filter(|f| f.if_nob > 0) {
        let (off, nob) = (f.if_offset, f.if_nob);
        let end = off.checked_add(nob).filter(|&e| e <= 1 << 63);
        if end.is_none() {
            return Err(Error::Inval(format!("extent offset {off} + length {nob} exceeds 2^63")));
        }
        total = total.checked_add(nob).ok_or_else(|| Error::Inval("extent lengths overflow".into()))?;
    }
    if total != mem_total {
        return Err(Error::Inval(format!("memory holds {mem_total} bytes but the extents {total}")));
    }
    Ok(total)
}

/// Reserves room in the writer's active segment on `sh`.
fn reserve(co: &CoHandle, sh: &Shard, data: u64, jnl: u64) -> Result<(Arc<SegFile>, u32, u64, u64)> {
    let mut w = co.writer.lock();
    let segs = w.shards.entry(sh.id).or_default();
    if segs.last().map_or(true, |s| s.broken || s.retiring) {
        let (idx, f) = sh.create_seg(co.cs.uuid)?;
        // A peer reports its new segment so that its master's abort and
        // close reach it.
        if let crate::container::collective::Role::Peer(p) = &co.role {
            p.add_segment(sh.id, f.id)?;
        }
        segs.push(crate::container::writer::WSeg::new(idx, f));
    }
    let s = segs.last_mut().unwrap();
    let (d, j) = (s.data_end, s.jnl_end);
    s.data_end += data;
    s.jnl_end += jnl;
    Ok((s.file.clone(), s.idx, d, j))
}

/// Counts one completion of a multi-request operation: bytes on success,
/// the first error otherwise (a cancelled request means -EINTR). Returns
/// whether it was the last one.
fn tally(pending: &mut usize, got: &mut u64, err: &mut i32, res: i32) -> bool {
    *pending -= 1;
    if res < 0 {
        if *err == 0 {
            *err = if res == -libc::ECANCELED { -libc::EINTR } else { res };
        }
    } else {
        *got += res as u64;
    }
    *pending == 0
}

/// A write or a punch in flight. Room in the writer's segment is reserved
/// when the operation starts (under the EQ lock, once the event is known to
/// be dispatchable), so a refused dispatch leaves no hole in the journal.
struct WriteOp {
    co: Arc<CoHandle>,
    sh: Arc<Shard>,
    /// Set by `start`: the segment, its index, the journal range.
    seg: Option<(Arc<SegFile>, u32)>,
    /// Records with `data_off` relative to the start of this write's data.
    recs: Vec<Record>,
    /// Caller memory (not buffered), or the library's copy (buffered).
    mem: Option<UserMem>,
    owned: Option<Vec<u8>>,
    total: u64,
    jbuf: Vec<u8>,
    jnl_off: u64,
    expected: u64,
    got: u64,
    pending: usize,
    err: i32,
    ev_type: daos_ev_type_t,
}

impl WriteOp {
    fn new(co: Arc<CoHandle>, sh: Arc<Shard>, recs: Vec<Record>, mem: Option<UserMem>, owned: Option<Vec<u8>>, ev_type: daos_ev_type_t) -> WriteOp {
        let total = owned.as_ref().map(|v| v.len() as u64).or(mem.as_ref().map(|m| m.total())).unwrap_or(0);
        WriteOp { co, sh, seg: None, recs, mem, owned, total, jbuf: Vec::new(), jnl_off: 0, expected: 0, got: 0, pending: 0, err: 0, ev_type }
    }

    /// Data requests: (address, length, file offset), split at `MAX_IO`.
    fn data_reqs(&self, base: u64) -> Vec<(usize, u64, u64)> {
        let mut data = Vec::new();
        let mut push = |p: usize, len: u64, at: u64| split_io(p, len, at, |p, n, at| data.push((p, n, at)));
        match (&self.owned, &self.mem) {
            (Some(v), _) => {
                if !v.is_empty() {
                    push(v.as_ptr() as usize, v.len() as u64, base)
                }
            }
            (None, Some(m)) => {
                let mut at = base;
                for (p, l) in m.spans(0, self.total) {
                    push(p as usize, l, at);
                    at += l;
                }
            }
            (None, None) => {}
        }
        data
    }
}

impl Op for WriteOp {
    fn ev_type(&self) -> daos_ev_type_t {
        self.ev_type
    }

    fn start(&mut self, sub: &mut Submit<'_>) -> Result<()> {
        use std::os::fd::AsRawFd;
        let jlen: u64 = self.recs.iter().map(|r| r.size() as u64).sum();
        let (seg, seg_idx, dbase, jnl_off) = reserve(&self.co, &self.sh, self.total, jlen)?;
        let mut jbuf = Vec::with_capacity(jlen as usize);
        for r in self.recs.iter_mut() {
            if r.kind == KIND_WRITE {
                r.data_off += dbase;
            }
            r.encode_into(&mut jbuf);
        }
        self.jbuf = jbuf;
        self.jnl_off = jnl_off;
        self.expected = self.total + jlen;
        let data = self.data_reqs(dbase);
        self.seg = Some((seg.clone(), seg_idx));
        let dfd = seg.dat.as_raw_fd();
        let mut r = Ok(());
        for &(p, len, off) in &data {
            r = sub.push(0, Req::Write { fd: dfd, buf: p as *const u8, len: len as u32, off });
            if r.is_err() {
                break;
            }
            self.pending += 1;
        }
        if r.is_ok() {
            r = sub.push(1, Req::Write { fd: seg.jnl.as_raw_fd(), buf: self.jbuf.as_ptr(), len: jlen as u32, off: jnl_off });
            if r.is_ok() {
                self.pending += 1;
            }
        }
        if let Err(e) = &r {
            // Nothing more goes to this segment: its journal has a hole now.
            if let Some(s) = self.co.writer.lock().seg_mut(self.sh.id, seg.id) {
                s.journal_done(jnl_off, jnl_off + jlen, false);
            }
            // The requests already queued still complete (the operation
            // lives until they have, see `Eq::dispatch`); their completion
            // must not record this journal range a second time.
            self.seg = None;
            self.err = e.to_rc();
        }
        r
    }

    fn on_cqe(&mut self, tag: u8, res: i32, _sub: &mut Submit<'_>) {
        let res = match crate::base::failpoint::hit(if tag == 0 { "data_write" } else { "journal_append" }) {
            Some(crate::base::failpoint::Fault::Short) if res > 0 => res / 2,
            Some(f) => -f.errno(),
            None => res,
        };
        if !tally(&mut self.pending, &mut self.got, &mut self.err, res) {
            return;
        }
        if self.err == 0 && self.got != self.expected {
            self.err = -libc::ENOSPC;
        }
        let Some((seg, seg_idx)) = self.seg.clone() else { return };
        let ok = self.err == 0;
        let jend = self.jnl_off + self.jbuf.len() as u64;
        let mut w = self.co.writer.lock();
        if let Some(s) = w.seg_mut(self.sh.id, seg.id) {
            s.journal_done(self.jnl_off, jend, ok);
        }
        if !ok {
            if self.err == -libc::EIO {
                crate::store::lower_health_later(&self.co.cs.root, self.sh.target);
            }
            return;
        }
        let mut ix = self.sh.index.write();
        for r in &self.recs {
            let (si, csum, doff) = if r.kind == KIND_WRITE {
                (seg_idx, ix.add_crcs(&r.crcs), r.data_off)
            } else {
                (crate::shard::index::NO_SEG, 0, seg_idx as u64)
            };
            ix.insert(r.oid, r.off, r.stamp, Ext { len: r.len, epoch: r.epoch, data_off: doff, seg: si, csum, owner: self.co.wid });
            w.staged.push(crate::container::writer::Staged {
                shard: self.sh.id,
                oid: r.oid,
                off: r.off,
                stamp: r.stamp,
                epoch: r.epoch,
                seg: seg.id,
                jnl_end: jend,
            });
        }
    }

    fn result(&self, aborted: bool) -> i32 {
        if self.err == 0 && aborted {
            0
        } else {
            self.err
        }
    }
}

/// `daos_object_write`: `iod` extents filled from `mem` in order.
pub fn write(oh: u64, epoch: u64, mem: UserMem, iod: &[daos_io_frag]) -> Result<Box<dyn Op>> {
    let h = handle(oh)?;
    if !h.rw {
        return Err(Error::Perm("the object handle is read-only".into()));
    }
    h.co.need_rw("write")?;
    check_iod(iod, mem.total())?;
    h.co.cs.check_writable(epoch, "a write")?;
    let sh = h.live()?.clone();
    let mut recs = Vec::new();
    let mut moff = 0u64;
    for f in iod.iter().filter(|f| f.if_nob > 0) {
        let (off, nob) = (f.if_offset, f.if_nob);
        let mut done = 0;
        while done < nob {
            let len = (nob - done).min(MAX_REC_LEN);
            let crcs = if h.co.cs.csum {
                let mut ck = ChunkCrcs::new(len);
                mem.visit(moff + done, len, |b| ck.feed(b));
                ck.finish()
            } else {
                // No checksums (DAOS_RS_COO_NOCSUM): the record keeps its
                // format, with zeros that no read verifies.
                vec![0; crate::shard::journal::nchunks(len) as usize]
            };
            recs.push(Record {
                kind: KIND_WRITE,
                oid: h.oid.o_id_lo,
                epoch,
                off: off + done,
                len,
                data_off: moff + done,
                stamp: h.co.cs.next_stamp()?,
                crcs,
            });
            done += len;
        }
        moff += nob;
    }
    let jlen: u64 = recs.iter().map(|r| r.size() as u64).sum();
    if jlen > MAX_IO {
        return Err(Error::Inval(format!("the write needs {jlen} bytes of journal; split it (at most {MAX_IO})")));
    }
    let owned = h.buffered.then(|| mem.to_vec());
    let mem = if owned.is_some() { None } else { Some(mem) };
    Ok(Box::new(WriteOp::new(h.co.clone(), sh, recs, mem, owned, DAOS_EV_OBJ_WRITE)))
}

/// `daos_object_punch`: `[begin, end)` (`end == u64::MAX`: to the end).
pub fn punch(coh: u64, epoch: u64, oid: daos_obj_id_t, begin: u64, end: u64) -> Result<Option<Box<dyn Op>>> {
    let co = container::handle(coh)?;
    if begin > end {
        return Err(Error::Inval(format!("punch begin {begin} is above end {end}")));
    }
    co.need_rw("punch")?;
    co.cs.check_writable(epoch, "a punch")?;
    let sh = co.cs.live_shard(oid.o_id_hi)?;
    if begin == end {
        return Ok(None);
    }
    let r = Record {
        kind: KIND_PUNCH,
        oid: oid.o_id_lo,
        epoch,
        off: begin,
        len: end - begin,
        data_off: 0,
        stamp: co.cs.next_stamp()?,
        crcs: Vec::new(),
    };
    Ok(Some(Box::new(WriteOp::new(co, sh, vec![r], None, None, DAOS_EV_OBJ_PUNCH))))
}

/// `daos_object_size`: where the object's data ends as a read at `epoch`
/// sees it: one past its last byte that was written and not punched since
/// (0 for an object with no data). Bytes below it may be holes.
pub fn size(oh: u64, epoch: u64) -> Result<u64> {
    let h = handle(oh)?;
    h.co.cs.check_readable(epoch)?;
    let sh = h.live()?;
    sh.check_readable()?;
    let ix = sh.index.read();
    let pieces = ix.resolve(h.oid.o_id_lo, 0, u64::MAX, |e| sh.visible(e, epoch));
    Ok(pieces.iter().filter(|p| p.src.is_some()).map(|p| p.off + p.len).max().unwrap_or(0))
}

/// A checked piece of data: chunk checksums of `[mem_off, mem_off + len)`
/// of the destination (direct) or of the bounce buffer.
struct Verify {
    /// Where the verified bytes are: in caller memory (`None`) or bounce buffer `Some(i)`.
    bounce: Option<usize>,
    /// Offset in the memory space (direct) or in the bounce buffer.
    off: u64,
    len: u64,
    crc: u32,
}

/// A read in flight.
struct ReadOp {
    mem: UserMem,
    /// Segments the requests read (with their index in the shard), kept open
    /// until the last completion.
    segs: SmallVec<[(u32, Arc<SegFile>); 1]>,
    /// (index in `segs`, address, length, file offset).
    reqs: SmallVec<[(usize, usize, u64, u64); 1]>,
    bounces: Vec<Vec<u8>>,
    /// Bounce copies to do after verification: (bounce, offset, mem_off, len).
    copies: Vec<(usize, u64, u64, u64)>,
    verify: SmallVec<[Verify; 1]>,
    expected: u64,
    got: u64,
    pending: usize,
    err: i32,
    /// Whose health an I/O error or checksum mismatch lowers.
    health: Option<(Arc<crate::container::CState>, u32)>,
}

impl Op for ReadOp {
    fn ev_type(&self) -> daos_ev_type_t {
        DAOS_EV_OBJ_READ
    }

    fn long_completion(&self) -> bool {
        // Checksums of 1 MiB take about 35 µs: above that, verify while the
        // caller computes.
        self.expected >= LONG_READ
    }

    fn start(&mut self, sub: &mut Submit<'_>) -> Result<()> {
        use std::os::fd::AsRawFd;
        for &(si, p, len, off) in &self.reqs {
            if let Err(e) =
                sub.push(0, Req::Read { fd: self.segs[si].1.dat.as_raw_fd(), buf: p as *mut u8, len: len as u32, off })
            {
                // The reads already queued still complete, and then the
                // caller's buffer is zeroed (never part of the data).
                self.err = e.to_rc();
                return Err(e);
            }
            self.pending += 1;
        }
        Ok(())
    }

    fn on_cqe(&mut self, _tag: u8, res: i32, _sub: &mut Submit<'_>) {
        if !tally(&mut self.pending, &mut self.got, &mut self.err, res) {
            return;
        }
        if self.err == 0 && self.got != self.expected {
            self.err = -libc::EIO;
            crate::log!(Warn, "read: a segment file is shorter than its journal says");
        }
        if self.err == 0 {
            let mut bad = false;
            for v in &self.verify {
                let c = match v.bounce {
                    Some(b) => crc32c_append(0, &self.bounces[b][v.off as usize..(v.off + v.len) as usize]),
                    None => {
                        let mut c = 0;
                        self.mem.visit(v.off, v.len, |s| c = crc32c_append(c, s));
                        c
                    }
                };
                if c != v.crc {
                    bad = true;
                    break;
                }
            }
            if bad {
                crate::log!(Error, "read: data fails its checksum; returning -EIO");
                self.err = -libc::EIO;
            } else {
                for &(b, o, m, l) in &self.copies {
                    self.mem.fill_from(m, &self.bounces[b][o as usize..(o + l) as usize]);
                }
            }
        }
        if self.err != 0 {
            // Never leave wrong bytes behind.
            self.mem.zero(0, self.mem.total());
            if self.err == -libc::EIO {
                if let Some((cs, t)) = self.health.take() {
                    crate::store::lower_health_later(&cs.root, t);
                }
            }
        }
    }

    fn result(&self, _aborted: bool) -> i32 {
        self.err
    }
}

/// A read that needs no I/O (all zeros, or nothing): completes at once.
struct DoneOp;

impl Op for DoneOp {
    fn ev_type(&self) -> daos_ev_type_t {
        DAOS_EV_OBJ_READ
    }
    fn start(&mut self, sub: &mut Submit<'_>) -> Result<()> {
        sub.push(0, Req::Nop)
    }
    fn on_cqe(&mut self, _tag: u8, _res: i32, _sub: &mut Submit<'_>) {}
    fn result(&self, _aborted: bool) -> i32 {
        0
    }
}

impl ReadOp {
    /// The index of segment `seg` of `sh` among this read's open segments.
    fn seg_slot(&mut self, sh: &Shard, seg: u32) -> Result<usize> {
        if let Some(i) = self.segs.iter().position(|x| x.0 == seg) {
            return Ok(i);
        }
        let f = sh.seg(seg).ok_or_else(|| Error::Os { errno: libc::EIO, msg: "segment of an extent is gone".into() })?;
        self.segs.push((seg, f));
        Ok(self.segs.len() - 1)
    }

    /// Reads `len` bytes of extent `e` from `r0` (on chunk boundaries)
    /// straight into the caller's memory at `pm`, each chunk verified there
    /// (none when `csum` is off: a container made without checksums).
    fn direct(&mut self, ix: &Index, si: usize, e: &Ext, r0: u64, len: u64, pm: u64, csum: bool) {
        let mut at = e.data_off + r0;
        let reqs = &mut self.reqs;
        self.mem.for_spans(pm, len, |ptr, l| {
            split_io(ptr as usize, l, at, |p, n, o| reqs.push((si, p, n, o)));
            at += l;
        });
        self.expected += len;
        if !csum {
            return;
        }
        for c in r0 / CHUNK..(r0 + len).div_ceil(CHUNK) {
            let cs = c * CHUNK - r0;
            self.verify.push(Verify { bounce: None, off: pm + cs, len: CHUNK.min(len - cs), crc: ix.crc(e.csum as u64 + c) });
        }
    }

    /// Reads the whole chunks of extent `e` around `[r0, r0 + len)` into a
    /// bounce buffer, verified there and then copied to the caller's memory
    /// at `pm`.
    fn bounced(&mut self, ix: &Index, si: usize, e: &Ext, r0: u64, len: u64, pm: u64) {
        let (c0, c1) = (r0 / CHUNK, (r0 + len).div_ceil(CHUNK));
        let b0 = c0 * CHUNK;
        let blen = (c1 * CHUNK).min(e.len) - b0;
        let bi = self.bounces.len();
        self.bounces.push(vec![0u8; blen as usize]);
        let base = self.bounces[bi].as_mut_ptr() as usize;
        split_io(base, blen, e.data_off + b0, |p, n, o| self.reqs.push((si, p, n, o)));
        self.expected += blen;
        for c in c0..c1 {
            let cs = (c - c0) * CHUNK;
            self.verify.push(Verify { bounce: Some(bi), off: cs, len: CHUNK.min(blen - cs), crc: ix.crc(e.csum as u64 + c) });
        }
        self.copies.push((bi, r0 - b0, pm, len));
    }
}

/// `daos_object_read`: `iod` extents at `epoch` into `mem` in order.
pub fn read(oh: u64, epoch: u64, mem: UserMem, iod: &[daos_io_frag]) -> Result<Box<dyn Op>> {
    let h = handle(oh)?;
    check_iod(iod, mem.total())?;
    h.co.cs.check_readable(epoch)?;
    let sh = h.live()?;
    if let Err(e) = sh.check_readable() {
        mem.zero(0, mem.total());
        return Err(e);
    }
    let mut op = ReadOp {
        mem,
        segs: SmallVec::new(),
        reqs: SmallVec::new(),
        bounces: Vec::new(),
        copies: Vec::new(),
        verify: SmallVec::new(),
        expected: 0,
        got: 0,
        pending: 0,
        err: 0,
        health: None,
    };
    let csum = h.co.cs.csum;
    let ix = sh.index.read();
    let mut pieces = SmallVec::new();
    let mut moff = 0u64;
    for f in iod.iter().filter(|f| f.if_nob > 0) {
        let (off, nob) = (f.if_offset, f.if_nob);
        pieces.clear();
        ix.resolve_into(h.oid.o_id_lo, off, off + nob, |e| sh.visible(e, epoch), &mut pieces);
        for p in pieces.iter() {
            let pm = moff + (p.off - off);
            let Some((s, e)) = p.src else {
                op.mem.zero(pm, p.len);
                continue;
            };
            if e.seg == crate::shard::index::BAD_SEG {
                return Err(Error::Os {
                    errno: libc::EIO,
                    msg: format!(
                        "object {} [{}, {}) of shard {}: its journal record is damaged (see the log at open)",
                        h.oid.o_id_lo,
                        p.off,
                        p.off + p.len,
                        sh.id
                    ),
                });
            }
            let si = op.seg_slot(sh, e.seg)?;
            let r0 = p.off - s;
            let r1 = r0 + p.len;
            // Without checksums every read goes straight into the caller's memory.
            if !csum || (r0 % CHUNK == 0 && (r1 % CHUNK == 0 || r1 == e.len)) {
                op.direct(&ix, si, &e, r0, p.len, pm, csum);
            } else {
                op.bounced(&ix, si, &e, r0, p.len, pm);
            }
        }
        moff += nob;
    }
    drop(ix);
    if op.reqs.is_empty() {
        return Ok(Box::new(DoneOp));
    }
    op.health = Some((h.co.cs.clone(), sh.target));
    Ok(Box::new(op))
}

#[cfg(test)]
mod tests;
