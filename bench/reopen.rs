//! `reopen`: a shard with 1 M extents (1 M journal records, made by one
//! `daos_object_write` whose iod has 1 M 16-byte fragments), committed and closed;
//! then the time of `daos_container_open`, which replays the journal into the
//! index, and the memory the index holds per extent (counting allocator).
//! The raw figure is the time to read the shard's journal files with io_uring.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::ptr;
use std::time::Instant;

use daos_rs::ffi;
use daos_rs::abi::types::daos_epoch_t;

use crate::daos::{self, Container, FragList, HIGHEST};
use crate::raw::{self, Raw};
use crate::sys::{self, AlignedBuf, Scratch};
use crate::{alloc, best_pair, check, note, Figure, Goal, Opts, Result, Row, Unit};

/// Bytes per extent, and the gap between extents (so that none touch).
const EXT: u64 = 16;
const STRIDE: u64 = 64;

pub fn group(o: &Opts) -> Result<Vec<Row>> {
    let n: u64 = if o.quick { 1 << 17 } else { 1 << 20 };
    let dir = Scratch::new(&o.dir, "reopen")?;
    let store = dir.join("store");
    fs::create_dir(&store).map_err(|e| format!("create {}: {e}", store.display()))?;
    daos::format_store(&store, 1)?;
    let path = store.join("big");
    let data = AlignedBuf::pattern((n * EXT) as usize, 17);
    make(&path, &data, n)?;

    let journals = sys::find_files(&store, ".jnl");
    let jbytes: u64 = journals
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    note(
        "reopen",
        format!(
            "{} journal file(s), {:.1} MiB ({:.1} B/record)",
            journals.len(),
            jbytes as f64 / (1 << 20) as f64,
            jbytes as f64 / n as f64
        ),
    );
    verify(&path, &data, n)?;

    // Timed with the allocation counters off (they cost ~10 % of the open), then
    // one more open with them on for the memory figures.
    let (raw_warm, warm) = best_pair(
        o,
        || read_journals(&journals).map(Secs),
        || reopen(&path, false),
    )?;
    let mem = reopen(&path, true)?;
    // The same with the journals out of the page cache (they were made durable by
    // the commit, so dropping their pages is allowed), once each.
    let cold_o = Opts {
        runs: 1,
        dir: o.dir.clone(),
        ..*o
    };
    let (raw_cold, cold) = best_pair(
        &cold_o,
        || {
            drop_caches(&journals)?;
            read_journals(&journals).map(Secs)
        },
        || {
            drop_caches(&journals)?;
            reopen(&path, false)
        },
    )?;
    note(
        "reopen",
        format!(
            "open with allocations counted: {:.3} s; allocated during it: {:.1} MiB held after, \
             {:.1} MiB at the peak; VmRSS grew {:.1} MiB",
            mem.secs,
            mem.net as f64 / (1 << 20) as f64,
            mem.peak as f64 / (1 << 20) as f64,
            mem.rss as f64 / (1 << 20) as f64
        ),
    );

    let m = format!("{} M", n as f64 / (1 << 20) as f64);
    Ok(vec![
        Row::new(
            &format!("reopen {m} extents, cached"),
            Unit::Secs,
            warm.secs,
            raw_warm.map(|s| s.0),
            Goal::Below(1.0),
        )
        .with_note(format!(
            "daos_container_open of a container whose one shard has {n} committed 16-byte extents; \
             raw: reading its {:.1} MiB of journal with io_uring (1 MiB reads, QD1); the goal is on \
             the time itself",
            jbytes as f64 / (1 << 20) as f64
        )),
        Row::new(
            &format!("reopen {m} extents, not cached"),
            Unit::Secs,
            cold.secs,
            raw_cold.map(|s| s.0),
            Goal::None,
        ),
        Row::new(
            "index memory per extent",
            Unit::BytesPerExt,
            mem.net as f64 / n as f64,
            None,
            Goal::Below(100.0),
        )
        .with_note(format!(
            "bytes allocated during daos_container_open and still held when it returns, per extent \
             (counting global allocator); peak during the open {:.1} B/extent; VmRSS growth {:.1} \
             B/extent (less: freed memory of earlier opens is reused)",
            mem.peak as f64 / n as f64,
            mem.rss as f64 / n as f64
        )),
    ])
}

/// Makes the container: one shard, one write of `n` extents at epoch 1 (one
/// journal record each), the commit, the close.
fn make(path: &Path, data: &AlignedBuf, n: u64) -> Result<()> {
    let co = Container::open(path, true, true)?;
    let shard = co.add_shards(1, &[0])?[0];
    let obj = co.object(shard, 1)?;
    let mut mmd = FragList::new(std::iter::once((data.ptr() as u64, n * EXT)));
    let mut iod = FragList::new((0..n).map(|i| (i * STRIDE, EXT)));
    let t = Instant::now();
    // SAFETY: both descriptors and the data outlive the synchronous call.
    check("daos_object_write", unsafe {
        ffi::daos_object_write(
            obj.oh,
            daos_epoch_t { seq: 1 },
            mmd.mmd(),
            iod.iod(),
            ptr::null_mut(),
        )
    })?;
    let written = t.elapsed();
    co.commit(1)?;
    let committed = t.elapsed();
    co.close()?;
    let closed = t.elapsed();
    note(
        "reopen",
        format!(
            "made {n} extents: one daos_object_write of {n} fragments {:.3} s, commit {:.3} s, close {:.3} s",
            written.as_secs_f64(),
            (committed - written).as_secs_f64(),
            (closed - committed).as_secs_f64()
        ),
    );
    Ok(())
}

/// Reopens the container and reads back a few extents (and a gap between two).
fn verify(path: &Path, data: &AlignedBuf, n: u64) -> Result<()> {
    let co = Container::open(path, false, false)?;
    let obj = co.object_ro(0, 1)?;
    let mut buf = [0u8; (STRIDE + EXT) as usize];
    for i in [0, n / 2, n - 2] {
        obj.read_sync(HIGHEST, &mut buf, i * STRIDE)?;
        let want = |k: u64| &data.as_slice()[(k * EXT) as usize..((k + 1) * EXT) as usize];
        let gap_zero = buf[EXT as usize..STRIDE as usize].iter().all(|&b| b == 0);
        if &buf[..EXT as usize] != want(i) || &buf[STRIDE as usize..] != want(i + 1) || !gap_zero {
            return Err(format!(
                "after reopen, extent {i} or {} reads back wrong",
                i + 1
            ));
        }
    }
    co.close()
}

/// Seconds, of which less is better.
#[derive(Clone, Copy)]
struct Secs(f64);

impl Figure for Secs {
    fn beats(&self, other: &Secs) -> bool {
        self.0 < other.0
    }
}

/// One `daos_container_open`.
struct Reopen {
    secs: f64,
    /// Bytes allocated during the open and still held after it (0 if not counted).
    net: i64,
    peak: i64,
    /// VmRSS growth over the open.
    rss: i64,
}

impl Figure for Reopen {
    fn beats(&self, other: &Reopen) -> bool {
        self.secs < other.secs
    }
}

/// One `daos_container_open` (and close), its allocations counted if `count`.
fn reopen(path: &Path, count: bool) -> Result<Reopen> {
    let rss0 = sys::vm_rss() as i64;
    let open = || {
        let t = Instant::now();
        let co = Container::open(path, false, false);
        (co, t.elapsed().as_secs_f64())
    };
    let ((co, secs), a) = if count {
        alloc::measure(open)
    } else {
        (open(), alloc::Allocated { net: 0, peak: 0 })
    };
    let co = co?;
    let rss = sys::vm_rss() as i64 - rss0;
    co.close()?;
    Ok(Reopen {
        secs,
        net: a.net,
        peak: a.peak,
        rss,
    })
}

/// Raw: reads the journal files through io_uring, 1 MiB at a time.
fn read_journals(journals: &[PathBuf]) -> Result<f64> {
    let mut ring = Raw::new()?;
    let mut buf = AlignedBuf::new(1 << 20);
    let t = Instant::now();
    for p in journals {
        let f: File = raw::open(p)?;
        let size = f
            .metadata()
            .map_err(|e| format!("{}: {e}", p.display()))?
            .len();
        ring.read_all(&f, buf.as_mut_slice(), size, 1)?;
    }
    Ok(t.elapsed().as_secs_f64())
}

fn drop_caches(files: &[PathBuf]) -> Result<()> {
    files.iter().try_for_each(|p| sys::drop_cache(p))
}
