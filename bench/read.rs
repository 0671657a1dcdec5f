//! `read`: 4 KiB random reads of a committed 512 MiB object from the page cache, at
//! QD1 (latency) and QD32 (IOPS), next to raw io_uring reads of a plain file
//! written the same way.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::ptr;
use std::time::Instant;

use io_uring::{opcode, types, IoUring};

use crate::daos::{self, Container, Object, HIGHEST};
use crate::raw::{self, Raw};
use crate::sys::{AlignedBuf, Rng, Scratch};
use crate::{best_pair, check, latency, note, rate, EventQueue, Goal, Opts, Result, Row};

const MIB: u64 = 1 << 20;
/// Size of the writes that make the object and the file.
const IO: u64 = MIB;
/// Size and alignment of the random reads.
const BLOCK: u64 = 4096;
/// Reads in flight in the IOPS benchmark.
const QD: usize = 32;
/// Seed of the read offsets (the same sequence for both systems).
const SEED: u64 = 0x5EED;

pub fn group(o: &Opts) -> Result<Vec<Row>> {
    let size = if o.quick { 64 * MIB } else { 512 * MIB };
    let dir = Scratch::new(&o.dir, "read")?;
    let store = dir.join("store");
    fs::create_dir(&store).map_err(|e| format!("create {}: {e}", store.display()))?;
    daos::format_store(&store, 1)?;
    let co = Container::open(&store.join("obj"), true, true)?;
    let shard = co.add_shards(1, &[0])?[0];
    let obj = co.object(shard, 1)?;
    let src = AlignedBuf::pattern(IO as usize, 7);

    let t = Instant::now();
    for i in 0..size / IO {
        obj.write_sync(1, src.as_slice(), i * IO)?;
    }
    let written = t.elapsed();
    co.commit(1)?;
    note(
        "read",
        format!(
            "daos-rs: {} MiB object in 1 MiB synchronous writes at epoch 1: {:.2} s, with the commit {:.2} s",
            size / MIB,
            written.as_secs_f64(),
            t.elapsed().as_secs_f64()
        ),
    );
    let raw_file = match make_raw_file(&dir, &src, size) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("warning: raw io_uring baseline not measured: {e}");
            None
        }
    };
    warm(obj, raw_file.as_ref(), &src, size)?;

    let raw_qd1 = || -> Result<_> {
        let f = raw_file.as_ref().ok_or("no raw file")?;
        let (mut ring, buf, mut rng) =
            (Raw::new()?, AlignedBuf::new(BLOCK as usize), Rng::new(SEED));
        latency(o.duration, || {
            ring.read_at(f, buf.ptr(), BLOCK as u32, rng.block(size, BLOCK))?;
            Ok(1)
        })
    };
    let (raw_lat, daos_lat) = best_pair(o, raw_qd1, || {
        let (buf, mut eq, mut rng) = (
            AlignedBuf::new(BLOCK as usize),
            EventQueue::new(1)?,
            Rng::new(SEED),
        );
        latency(o.duration, || {
            // SAFETY: `buf` and the event outlive the operation, which is polled below.
            let rc =
                unsafe { obj.read(HIGHEST, buf.ptr(), BLOCK, rng.block(size, BLOCK), eq.ev(0)) };
            check("daos_object_read", rc)?;
            eq.poll(1)?;
            Ok(1)
        })
    })?;
    let (raw_lat2, sync_lat) = best_pair(o, raw_qd1, || {
        let (buf, mut rng) = (AlignedBuf::new(BLOCK as usize), Rng::new(SEED));
        latency(o.duration, || {
            // SAFETY: a synchronous call; `buf` outlives it.
            let rc = unsafe {
                obj.read(
                    HIGHEST,
                    buf.ptr(),
                    BLOCK,
                    rng.block(size, BLOCK),
                    ptr::null_mut(),
                )
            };
            check("daos_object_read", rc)?;
            Ok(1)
        })
    })?;
    let raw_lat = match (raw_lat, raw_lat2) {
        (Some(a), Some(b)) => Some(if a.mean < b.mean { a } else { b }),
        (a, b) => a.or(b),
    };
    let (raw_iops, daos_iops) = best_pair(
        o,
        || {
            let f = raw_file.as_ref().ok_or("no raw file")?;
            let mut reads = RawReads::new(f, size)?;
            rate(o.duration, || reads.step())
        },
        || {
            let mut reads = DaosReads::new(obj, size, true)?;
            rate(o.duration, || reads.step())
        },
    )?;
    let (raw_iops_u, daos_iops_u) = best_pair(
        o,
        || {
            let f = raw_file.as_ref().ok_or("no raw file")?;
            let mut reads = RawReads::new(f, size)?;
            rate(o.duration, || reads.step())
        },
        || {
            let mut reads = DaosReads::new(obj, size, false)?;
            rate(o.duration, || reads.step())
        },
    )?;
    drop(co);

    let mut rows = vec![Row::rate(
        "read 4K random QD32 (IOPS)",
        daos_iops,
        raw_iops,
        Goal::AtLeast(0.80),
    )
    .with_note(format!(
        "{} MiB, page cache; daos-rs: 32 events on one EQ, poll and resubmit the polled ones between \
         daos_eq_plug and daos_eq_unplug (one io_uring_enter, as raw); raw: 32 reads on one ring",
        size / MIB
    ))];
    rows.push(
        Row::rate("read 4K random QD32, unplugged", daos_iops_u, raw_iops_u, Goal::None)
            .with_note("as above, but each read handed to the kernel by its own call (one io_uring_enter each)"),
    );
    rows.extend(Row::latency(
        "read 4K QD1, event",
        &daos_lat,
        raw_lat.as_ref(),
        Goal::AtMost(1.3),
    ));
    rows.extend(Row::latency(
        "read 4K QD1, sync call",
        &sync_lat,
        raw_lat.as_ref(),
        Goal::None,
    ));
    Ok(rows)
}

/// The baseline's plain file, written as the object was (1 MiB writes) + fsync.
fn make_raw_file(dir: &Scratch, src: &AlignedBuf, size: u64) -> Result<File> {
    let path = dir.join("raw.dat");
    let f = raw::create(&path)?;
    let mut ring = Raw::new()?;
    let t = Instant::now();
    ring.write_seq(&f, src.as_slice(), 0, size, 1)?;
    f.sync_all()
        .map_err(|e| format!("fsync {}: {e}", path.display()))?;
    note(
        "read",
        format!(
            "raw: {} MiB file in 1 MiB io_uring writes + fsync: {:.2} s",
            size / MIB,
            t.elapsed().as_secs_f64()
        ),
    );
    Ok(f)
}

/// Reads everything once (so both are in the page cache) and checks the object's
/// content.
fn warm(obj: Object, raw_file: Option<&File>, src: &AlignedBuf, size: u64) -> Result<()> {
    let mut buf = AlignedBuf::new(IO as usize);
    let t = Instant::now();
    for i in 0..size / IO {
        obj.read_sync(HIGHEST, buf.as_mut_slice(), i * IO)?;
        if buf.as_slice() != src.as_slice() {
            return Err(format!(
                "daos_object_read: MiB {i} of the object differs from what was written"
            ));
        }
    }
    let daos_t = t.elapsed();
    let raw_t = match raw_file {
        Some(f) => {
            let t = Instant::now();
            Raw::new()?.read_all(f, buf.as_mut_slice(), size, 1)?;
            format!("{:.3} s", t.elapsed().as_secs_f64())
        }
        None => "n/a".into(),
    };
    note(
        "read",
        format!(
            "warm-up: read all in 1 MiB reads (QD1, checked): daos-rs {:.3} s, raw {raw_t}",
            daos_t.as_secs_f64()
        ),
    );
    Ok(())
}

/// daos-rs reads keeping `QD` in flight on one EQ.
struct DaosReads {
    /// Declared first: dropped (drained) before the buffers.
    eq: EventQueue,
    bufs: AlignedBuf,
    obj: Object,
    rng: Rng,
    size: u64,
    /// The restarts of a step go between `daos_eq_plug` and `daos_eq_unplug`.
    plugged: bool,
}

impl DaosReads {
    fn new(obj: Object, size: u64, plugged: bool) -> Result<DaosReads> {
        let mut r = DaosReads {
            eq: EventQueue::new(QD)?,
            bufs: AlignedBuf::new(QD * BLOCK as usize),
            obj,
            rng: Rng::new(SEED),
            size,
            plugged,
        };
        for i in 0..QD {
            r.start(i)?;
        }
        Ok(r)
    }

    fn start(&mut self, i: usize) -> Result<()> {
        let off = self.rng.block(self.size, BLOCK);
        // SAFETY: the buffer and the event live in `self`, which drains the EQ
        // before freeing them.
        let rc = unsafe {
            self.obj.read(
                HIGHEST,
                self.bufs.at(i, BLOCK as usize),
                BLOCK,
                off,
                self.eq.ev(i),
            )
        };
        check("daos_object_read", rc).map(drop)
    }

    /// Polls what has completed and starts as many new reads.
    fn step(&mut self) -> Result<u64> {
        let n = self.eq.poll(QD)?;
        if self.plugged {
            check("daos_eq_plug", daos_rs::ffi::daos_eq_plug(self.eq.eqh))?;
        }
        for j in 0..n {
            let i = self.eq.index_of(self.eq.polled[j]);
            self.start(i)?;
        }
        if self.plugged {
            check("daos_eq_unplug", daos_rs::ffi::daos_eq_unplug(self.eq.eqh))?;
        }
        Ok(n as u64)
    }
}

/// Raw io_uring reads keeping `QD` in flight on one ring.
struct RawReads<'f> {
    ring: IoUring,
    bufs: AlignedBuf,
    file: &'f File,
    rng: Rng,
    size: u64,
    inflight: usize,
}

impl<'f> RawReads<'f> {
    fn new(file: &'f File, size: u64) -> Result<RawReads<'f>> {
        let mut r = RawReads {
            ring: IoUring::new(crate::RING_ENTRIES).map_err(|e| format!("io_uring_setup: {e}"))?,
            bufs: AlignedBuf::new(QD * BLOCK as usize),
            file,
            rng: Rng::new(SEED),
            size,
            inflight: 0,
        };
        for i in 0..QD {
            r.start(i)?;
        }
        Ok(r)
    }

    fn start(&mut self, i: usize) -> Result<()> {
        let off = self.rng.block(self.size, BLOCK);
        let e = opcode::Read::new(
            types::Fd(self.file.as_raw_fd()),
            self.bufs.at(i, BLOCK as usize),
            BLOCK as u32,
        )
        .offset(off)
        .build()
        .user_data(i as u64);
        // SAFETY: the buffer lives in `self`, which reaps every read before freeing it.
        unsafe { self.ring.submission().push(&e) }.map_err(|_| "io_uring submission queue full")?;
        self.inflight += 1;
        Ok(())
    }

    fn step(&mut self) -> Result<u64> {
        self.ring
            .submit_and_wait(1)
            .map_err(|e| format!("io_uring_enter: {e}"))?;
        let mut done = [0usize; QD];
        let mut n = 0;
        for cqe in self.ring.completion() {
            self.inflight -= 1;
            if cqe.result() != BLOCK as i32 {
                return Err(format!("raw read returned {}", cqe.result()));
            }
            done[n] = cqe.user_data() as usize;
            n += 1;
        }
        for &i in &done[..n] {
            self.start(i)?;
        }
        Ok(n as u64)
    }
}

impl Drop for RawReads<'_> {
    fn drop(&mut self) {
        while self.inflight > 0 {
            if self.ring.submit_and_wait(1).is_err() {
                // Never free buffers the kernel may still write: leak them.
                std::mem::forget(std::mem::replace(&mut self.bufs, AlignedBuf::new(1)));
                return;
            }
            self.inflight -= self.ring.completion().count();
        }
    }
}
