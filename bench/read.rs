//! `read`: 4 KiB random reads of a committed 64 MiB and 1 GiB object from the page
//! cache, at QD1 (latency) and QD32 (IOPS), next to raw io_uring reads of a plain
//! file written the same way and fio on that file; and the Python row.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::ptr;
use std::time::Instant;

use io_uring::{opcode, types, IoUring};

use crate::daos::{self, Container, Object, HIGHEST};
use crate::raw::{self, Raw};
use crate::sys::{AlignedBuf, Rng, Scratch};
use crate::{
    best_pair, check, latency, note, rate, EventQueue, Goal, Latency, Opts, Result, Row, Unit,
};

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
    // Reads must cost the same per operation whatever the object's size: a small
    // and a large object, measured the same way.
    let sizes: &[u64] = if o.quick { &[64 * MIB] } else { &[64 * MIB, 1024 * MIB] };
    let mut rows = Vec::new();
    let mut qd1 = Vec::new();
    for &size in sizes {
        let (r, lat) = one_size(o, size)?;
        rows.extend(r);
        qd1.push((size, lat));
    }
    if let [(small, s), .., (large, l)] = qd1[..] {
        rows.push(
            Row::new(
                &format!("read 4K QD1, {} MiB vs {} MiB object", large / MIB, small / MIB),
                Unit::Micros,
                l,
                Some(s),
                Goal::AtMost(1.10),
            )
            .with_note(
                "mean latency of the event QD1 reads; the baseline column here is daos-rs itself \
                 on the smaller object (the cost of a read must not grow with the object)",
            ),
        );
    }
    rows.extend(python_rows(o)?);
    Ok(rows)
}

/// The rows of one object size; also returns the mean QD1 event latency (µs).
fn one_size(o: &Opts, size: u64) -> Result<(Vec<Row>, f64)> {
    let dir = Scratch::new(&o.dir, "read")?;
    let store = dir.join("store");
    fs::create_dir(&store).map_err(|e| format!("create {}: {e}", store.display()))?;
    daos::format_store(&store, 1)?;
    let co = Container::open(&store.join("obj"), true, true)?;
    let shard = co.add_shards(1, &[0])?[0];
    let obj = co.object(shard, 1)?;
    let src = AlignedBuf::pattern(IO as usize, 7);
    let mib = size / MIB;

    let t = Instant::now();
    for i in 0..size / IO {
        obj.write_sync(1, src.as_slice(), i * IO)?;
    }
    let written = t.elapsed();
    co.commit(1)?;
    note(
        "read",
        format!(
            "daos-rs: {mib} MiB object in 1 MiB synchronous writes at epoch 1: {:.2} s, with the commit {:.2} s",
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
    let raw_iops_fn = || {
        let f = raw_file.as_ref().ok_or("no raw file")?;
        let mut reads = RawReads::new(f, size)?;
        rate(o.duration, || reads.step())
    };
    let (raw_iops, daos_iops) = best_pair(o, raw_iops_fn, || {
        let mut reads = DaosReads::new(obj, size, true)?;
        rate(o.duration, || reads.step())
    })?;
    let (raw_iops_u, daos_iops_u) = best_pair(o, raw_iops_fn, || {
        let mut reads = DaosReads::new(obj, size, false)?;
        rate(o.duration, || reads.step())
    })?;
    drop(co);

    let mut rows = vec![Row::rate(
        &format!("read 4K random QD32 (IOPS), {mib} MiB"),
        daos_iops,
        raw_iops,
        Goal::AtLeast(0.80),
    )
    .with_note(format!(
        "{mib} MiB, page cache; daos-rs: 32 events on one EQ, poll and resubmit the polled ones between \
         daos_eq_plug and daos_eq_unplug (one io_uring_enter, as raw); raw: 32 reads on one ring"
    ))];
    rows.push(
        Row::rate(&format!("read 4K random QD32, unplugged, {mib} MiB"), daos_iops_u, raw_iops_u, Goal::None)
            .with_note("as above, but each read handed to the kernel by its own call (one io_uring_enter each)"),
    );
    rows.extend(Row::latency(
        &format!("read 4K QD1, event, {mib} MiB"),
        &daos_lat,
        raw_lat.as_ref(),
        Goal::AtMost(1.3),
    ));
    rows.extend(Row::latency(
        &format!("read 4K QD1, sync call, {mib} MiB"),
        &sync_lat,
        raw_lat.as_ref(),
        Goal::None,
    ));
    rows.extend(fio_rows(o, &dir.join("raw.dat"), size, raw_iops, raw_lat.as_ref())?);
    rows.extend(unchecked_rows(o, &store, &src, size, raw_file.as_ref())?);
    Ok((rows, daos_lat.mean))
}

/// The same object in a container without data checksums (`DAOS_RS_COO_NOCSUM`):
/// QD32 IOPS and QD1 latency, next to raw io_uring measured again in turn.
fn unchecked_rows(
    o: &Opts,
    store: &Path,
    src: &AlignedBuf,
    size: u64,
    raw_file: Option<&File>,
) -> Result<Vec<Row>> {
    let co = Container::create(&store.join("nocsum"), false)?;
    let shard = co.add_shards(1, &[0])?[0];
    let obj = co.object(shard, 1)?;
    for i in 0..size / IO {
        obj.write_sync(1, src.as_slice(), i * IO)?;
    }
    co.commit(1)?;
    warm(obj, None, src, size)?;
    let mib = size / MIB;
    let (raw_iops, daos_iops) = best_pair(
        o,
        || {
            let f = raw_file.ok_or("no raw file")?;
            let mut reads = RawReads::new(f, size)?;
            rate(o.duration, || reads.step())
        },
        || {
            let mut reads = DaosReads::new(obj, size, true)?;
            rate(o.duration, || reads.step())
        },
    )?;
    let (raw_lat, daos_lat) = best_pair(
        o,
        || {
            let f = raw_file.ok_or("no raw file")?;
            let (mut ring, buf, mut rng) =
                (Raw::new()?, AlignedBuf::new(BLOCK as usize), Rng::new(SEED));
            latency(o.duration, || {
                ring.read_at(f, buf.ptr(), BLOCK as u32, rng.block(size, BLOCK))?;
                Ok(1)
            })
        },
        || {
            let (buf, mut eq, mut rng) = (
                AlignedBuf::new(BLOCK as usize),
                EventQueue::new(1)?,
                Rng::new(SEED),
            );
            latency(o.duration, || {
                // SAFETY: `buf` and the event outlive the operation, which is polled below.
                let rc = unsafe {
                    obj.read(HIGHEST, buf.ptr(), BLOCK, rng.block(size, BLOCK), eq.ev(0))
                };
                check("daos_object_read", rc)?;
                eq.poll(1)?;
                Ok(1)
            })
        },
    )?;
    drop(co);
    let mut rows = vec![Row::rate(
        &format!("read 4K random QD32 (IOPS), {mib} MiB, checksums off"),
        daos_iops,
        raw_iops,
        Goal::AtLeast(0.80),
    )
    .with_note(
        "the same object in a container made with DAOS_RS_COO_NOCSUM (no chunk checksums \
         computed or verified), plugged as above",
    )];
    let mut lat = Row::latency(
        &format!("read 4K QD1, event, {mib} MiB, checksums off"),
        &daos_lat,
        raw_lat.as_ref(),
        Goal::AtMost(1.3),
    );
    rows.push(std::mem::replace(&mut lat[0], Row::new("", Unit::Micros, 0.0, None, Goal::None)));
    Ok(rows)
}

/// fio (`--ioengine=io_uring`, 4 KiB random reads of the baseline's file from the page
/// cache, QD32 and QD1) next to the raw io_uring figures: what a well-known tool gets on
/// this machine. Installed with apt-get on first use; skipped with a message if it
/// cannot be had.
fn fio_rows(
    o: &Opts,
    file: &Path,
    size: u64,
    raw_iops: Option<f64>,
    raw_lat: Option<&Latency>,
) -> Result<Vec<Row>> {
    if !fio_available() {
        note("read", "fio not available (apt-get install fio failed): its rows are skipped");
        return Ok(Vec::new());
    }
    let mib = size / MIB;
    let mut rows = Vec::new();
    let mut best: [Option<(f64, f64)>; 2] = [None, None];
    for _ in 0..o.runs {
        for (b, qd) in best.iter_mut().zip([32, 1]) {
            match run_fio(o, file, size, qd) {
                Ok(r) => {
                    if b.map_or(true, |(iops, _)| r.0 > iops) {
                        *b = Some(r);
                    }
                }
                Err(e) => {
                    note("read", format!("fio not measured: {e}"));
                    return Ok(Vec::new());
                }
            }
        }
    }
    if let [Some((iops32, _)), Some((_, lat1))] = best {
        rows.push(
            Row::rate(&format!("fio io_uring 4K random QD32 (IOPS), {mib} MiB"), iops32, raw_iops, Goal::None)
                .with_note(
                    "fio --ioengine=io_uring --rw=randread --bs=4k --iodepth=32 (page cache) on the raw \
                     baseline's file, vs the raw io_uring loop above",
                ),
        );
        rows.push(Row::new(
            &format!("fio io_uring 4K QD1 mean, {mib} MiB"),
            Unit::Micros,
            lat1,
            raw_lat.map(|l| l.mean),
            Goal::None,
        ));
    }
    Ok(rows)
}

fn fio_available() -> bool {
    let works = || {
        Command::new("fio")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if works() {
        return true;
    }
    note("read", "fio not found: apt-get install -y fio");
    let _ = Command::new("apt-get")
        .args(["install", "-y", "-q", "fio"])
        .stdout(Stdio::null())
        .status();
    works()
}

/// One fio run: (IOPS, mean latency in µs).
fn run_fio(o: &Opts, file: &Path, size: u64, qd: usize) -> Result<(f64, f64)> {
    let ms = o.duration.as_millis().max(100);
    let out = Command::new("fio")
        .arg("--name=daos-rs-bench")
        .arg(format!("--filename={}", file.display()))
        .args(["--ioengine=io_uring", "--rw=randread", "--bs=4k", "--direct=0"])
        .args(["--invalidate=0", "--norandommap", "--randrepeat=0", "--time_based"])
        .arg(format!("--size={size}"))
        .arg(format!("--iodepth={qd}"))
        .arg(format!("--iodepth_batch_complete_min=1"))
        .arg(format!("--ramp_time={}ms", ms / 4))
        .arg(format!("--runtime={ms}ms"))
        .args(["--output-format=terse", "--terse-version=3"])
        .output()
        .map_err(|e| format!("run fio: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "fio exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("3;"))
        .ok_or_else(|| format!("no terse line in fio's output: {text}"))?;
    let f: Vec<&str> = line.split(';').collect();
    // Terse v3: field 8 read IOPS, field 40 read total latency mean (µs), 1-based.
    let num = |i: usize| -> Result<f64> {
        f.get(i - 1)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("fio terse field {i} missing in: {line}"))
    };
    Ok((num(8)?, num(40)?))
}

/// The Python row: `daos_rs.aio` 4 KiB reads, 64 in flight, against aiofiles and
/// `asyncio.to_thread(os.pread)` in the same run (scripts/bench-python.sh, with the
/// Python tests' virtual environment; aiofiles installed into it on first use).
fn python_rows(o: &Opts) -> Result<Vec<Row>> {
    let size = 64 * MIB;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lib = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.join("libdaos_rs.so")))
        .filter(|p| p.exists())
        .ok_or("no libdaos_rs.so next to the benchmark's executable")?;
    let dir = Scratch::new(&o.dir, "python")?;
    let out = Command::new(root.join("scripts/bench-python.sh"))
        .arg(&lib)
        .arg(dir.join(""))
        .arg(size.to_string())
        .arg(o.duration.as_millis().to_string())
        .arg(o.runs.to_string())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("run scripts/bench-python.sh: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("scripts/bench-python.sh exited with {}: {text}", out.status));
    }
    if let Some(why) = text.lines().find_map(|l| l.strip_prefix("skip: ")) {
        note("python", format!("Python row skipped: {why}"));
        return Ok(Vec::new());
    }
    let figure = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    };
    let daos = figure("daos_rs.aio").ok_or_else(|| format!("no daos_rs.aio figure in: {text}"))?;
    let thread = figure("asyncio.to_thread(os.pread)");
    let aiofiles = figure("aiofiles");
    for l in text.lines().filter(|l| l.contains(" n/a ")) {
        note("python", l);
    }
    let better = match (thread, aiofiles) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let fmt = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{:.1} K/s", v / 1e3));
    Ok(vec![Row::rate(
        "Python 4K random reads, 64 in flight (reads/s)",
        daos,
        better,
        Goal::AtLeast(2.0),
    )
    .with_note(format!(
        "one asyncio loop, 64 MiB in the page cache: daos_rs.aio read_into (64 coroutines) vs the \
         better of asyncio.to_thread(os.pread) {} and aiofiles {} (one file object per \
         coroutine, seek + read) in the baseline column",
        fmt(thread),
        fmt(aiofiles)
    ))])
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
