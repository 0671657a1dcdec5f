//! `write`: 256 MiB in 1 MiB sequential writes at one epoch, then
//! `daos_epoch_commit`, next to raw io_uring 1 MiB writes to a new file + fsync.
//! Fresh files every repetition; the time covers the first write to the end of
//! the commit (or fsync).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use io_uring::{opcode, types};

use crate::daos::{self, Container};
use crate::raw::{self, Raw};
use crate::sys::{AlignedBuf, Scratch};
use crate::{best_pair, note, EventQueue, Goal, Opts, Result, Row, Unit};

const MIB: u64 = 1 << 20;
const IO: u64 = MIB;

pub fn group(o: &Opts) -> Result<Vec<Row>> {
    let total = if o.quick { 32 * MIB } else { 256 * MIB };
    let dir = Scratch::new(&o.dir, "write")?;
    let store = dir.join("store");
    fs::create_dir(&store).map_err(|e| format!("create {}: {e}", store.display()))?;
    daos::format_store(&store, 1)?;
    let src = AlignedBuf::pattern(IO as usize, 11);
    let gib_s = |d: Duration| total as f64 / d.as_secs_f64() / (1u64 << 30) as f64;
    let mut rows = Vec::new();
    let n = std::cell::Cell::new(0);
    for qd in [1, 8] {
        let (mut daos_splits, mut raw_splits) = (Vec::new(), Vec::new());
        let (raw_bw, daos_bw) = best_pair(
            o,
            || {
                n.set(n.get() + 1);
                let (w, f) =
                    raw_write(&dir.join(&format!("raw-{}.dat", n.get())), &src, total, qd)?;
                raw_splits.push((w, f));
                Ok(gib_s(w + f))
            },
            || {
                n.set(n.get() + 1);
                let (w, c) = daos_write(&store.join(format!("c-{}", n.get())), &src, total, qd)?;
                daos_splits.push((w, c));
                Ok(gib_s(w + c))
            },
        )?;
        for (who, end, splits) in [
            ("daos-rs", "commit", &daos_splits),
            ("raw", "fsync", &raw_splits),
        ] {
            if let Some((w, c)) = splits.iter().min_by_key(|(w, c)| *w + *c) {
                note(
                    "write",
                    format!(
                        "{who} QD{qd}, fastest run: writes {:.1} ms ({:.2} GiB/s), {end} {:.1} ms",
                        w.as_secs_f64() * 1e3,
                        gib_s(*w),
                        c.as_secs_f64() * 1e3
                    ),
                );
            }
        }
        let name = format!("write 1M x {} MiB QD{qd} + commit", total / MIB);
        let mut row = Row::new(&name, Unit::GiBPerSec, daos_bw, raw_bw, Goal::AtLeast(0.95));
        if qd == 1 {
            row = row.with_note(
                "new container + shard (daos-rs) or new file (raw) each run; daos-rs: writes on \
                 events of one EQ, then daos_epoch_commit; raw: io_uring writes, then fsync",
            );
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Raw: creates `path`, writes `total` bytes in 1 MiB writes (`qd` in flight) and
/// fsyncs; returns the time of the writes (with the create) and of the fsync.
/// The file is removed afterwards.
fn raw_write(path: &Path, src: &AlignedBuf, total: u64, qd: usize) -> Result<(Duration, Duration)> {
    let mut ring = Raw::new()?;
    let t = Instant::now();
    let f = raw::create(path)?;
    ring.write_seq(&f, src.as_slice(), 0, total, qd)?;
    let written = t.elapsed();
    let fd = types::Fd(std::os::fd::AsRawFd::as_raw_fd(&f));
    ring.pipeline(1, 1, |_| (opcode::Fsync::new(fd).build(), 0))?;
    drop(f);
    let synced = t.elapsed() - written;
    fs::remove_file(path).map_err(|e| format!("remove {}: {e}", path.display()))?;
    Ok((written, synced))
}

/// daos-rs: a new container with one shard; `total` bytes in 1 MiB writes at
/// epoch 1 (`qd` events in flight), then the commit of epoch 1. Returns the time
/// of the writes and of the commit. The container is unlinked afterwards.
fn daos_write(
    path: &Path,
    src: &AlignedBuf,
    total: u64,
    qd: usize,
) -> Result<(Duration, Duration)> {
    let co = Container::open(path, true, true)?;
    let shard = co.add_shards(1, &[0])?[0];
    let obj = co.object(shard, 1)?;
    let mut eq = EventQueue::new(qd)?;
    let t = Instant::now();
    eq.pipeline((total / IO) as usize, |i, ev| {
        // SAFETY: `src` outlives the EQ, which completes every write before
        // `pipeline` returns (or drains them when dropped).
        unsafe { obj.write(1, src.ptr(), IO, i as u64 * IO, ev) }
    })?;
    let written = t.elapsed();
    co.commit(1)?;
    let committed = t.elapsed() - written;
    drop(eq);
    co.close()?;
    daos::unlink(path)?;
    Ok((written, committed))
}
