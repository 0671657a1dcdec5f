//! `overlap`: does an asynchronous call run while the caller computes? A 256 MiB
//! write and a 256 MiB read (page cache) are dispatched with an event, the
//! caller computes (a busy loop, no library call) for 1 s, then polls: the
//! time that poll takes is what the caller still waits. Next to it: the same
//! with raw io_uring, submitted at the call (as liburing does; its writes
//! append to a file, as daos-rs's do), and the
//! operation's own duration (dispatched and polled at once). Goal: the poll
//! waits at most 5 % of that duration, on each engine.
//!
//! The engine is chosen once per process, so each engine's figures come from
//! a child process (this program with `--overlap-child`, and
//! `DAOS_RS_IO_ENGINE` set).

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::ptr;
use std::time::{Duration, Instant};

use daos_rs::ffi;
use daos_rs::abi::types::{daos_event, DAOS_EQ_WAIT};
use io_uring::{opcode, types, IoUring};

use crate::daos::{self, Container};
use crate::sys::{AlignedBuf, Scratch};
use crate::{check, note, Goal, Opts, Result, Row, Unit};

const MIB: u64 = 1 << 20;
const ENGINES: [&str; 2] = ["uring", "threads"];

/// One operation's figures, in ms: the dispatching call, the poll after the
/// computing, and the operation's own duration.
#[derive(Clone, Copy, Default)]
struct Fig {
    call: f64,
    wait: f64,
    dur: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Computes (spins) until `until`, touching no library.
fn compute_until(until: Instant) {
    let mut x = 0u64;
    while Instant::now() < until {
        for i in 0..1000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
    }
}

/// Best (lowest wait, lowest duration) of `runs` rounds of `once(overlap)`.
fn best(runs: usize, mut once: impl FnMut(bool) -> Result<(f64, f64)>) -> Result<Fig> {
    let mut f = Fig { call: f64::MAX, wait: f64::MAX, dur: f64::MAX };
    for _ in 0..runs {
        let (call, wait) = once(true)?;
        if wait < f.wait {
            f.wait = wait;
            f.call = call;
        }
        let (_, dur) = once(false)?;
        f.dur = f.dur.min(dur);
    }
    Ok(f)
}

pub fn group(o: &Opts) -> Result<Vec<Row>> {
    let size = if o.quick { 64 * MIB } else { 256 * MIB };
    let compute = if o.quick { Duration::from_millis(300) } else { Duration::from_secs(1) };
    let dir = Scratch::new(&o.dir, "overlap")?;
    let (raw_w, raw_r) = raw_figures(&dir.join("raw.dat"), size, compute, o.runs)?;
    note("overlap", format!(
        "raw io_uring: write call {:.2} ms, poll after computing {:.2} ms, alone {:.1} ms; read call {:.2} ms, poll {:.2} ms, alone {:.1} ms",
        raw_w.call, raw_w.wait, raw_w.dur, raw_r.call, raw_r.wait, raw_r.dur
    ));
    let mut rows = Vec::new();
    let mib = size / MIB;
    let mut first = true;
    for engine in ENGINES {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let store = dir.join(&format!("store-{engine}"));
        let out = Command::new(exe)
            .arg("--overlap-child")
            .arg(&store)
            .arg(size.to_string())
            .arg(compute.as_millis().to_string())
            .arg(o.runs.to_string())
            .env("DAOS_RS_IO_ENGINE", engine)
            .output()
            .map_err(|e| format!("overlap child: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find_map(|l| l.strip_prefix("overlap-result ")).ok_or_else(|| {
            format!("overlap child ({engine}) failed: {}{}", text, String::from_utf8_lossy(&out.stderr))
        })?;
        let v: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        if v.len() != 6 {
            return Err(format!("overlap child ({engine}): bad result line {line:?}"));
        }
        let (w, r) = (Fig { call: v[0], wait: v[1], dur: v[2] }, Fig { call: v[3], wait: v[4], dur: v[5] });
        note("overlap", format!(
            "daos-rs {engine}: write call {:.2} ms, poll after computing {:.2} ms, alone {:.1} ms; read call {:.2} ms, poll {:.2} ms, alone {:.1} ms",
            w.call, w.wait, w.dur, r.call, r.wait, r.dur
        ));
        for (op, d, raw) in [("write", w, raw_w), ("read", r, raw_r)] {
            rows.push(Row::new(&format!("overlap {op} {mib}M {engine}: poll wait"), Unit::Millis, d.wait, Some(raw.wait), Goal::None));
            let row = Row::new(&format!("overlap {op} {mib}M {engine}: wait/op"), Unit::Millis, d.wait, Some(d.dur), Goal::AtMost(0.05));
            rows.push(if first {
                first = false;
                row.with_note(format!(
                    "after {} ms of computing; on the wait/op rows the second column is the operation's own \
                     duration (daos-rs, polled at once), not raw io_uring: the ratio is the share of it the poll still waits",
                    compute.as_millis()
                ))
            } else {
                row
            });
        }
    }
    Ok(rows)
}

/// Raw io_uring, submitted at the call: (write, read).
fn raw_figures(path: &Path, size: u64, compute: Duration, runs: usize) -> Result<(Fig, Fig)> {
    let mut ring = IoUring::new(8).map_err(|e| format!("io_uring_setup: {e}"))?;
    let src = AlignedBuf::pattern(size as usize, 5);
    let dst = AlignedBuf::new(size as usize);
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let fd = types::Fd(f.as_raw_fd());
    // Writes append, as daos-rs's do (a fresh region of the file costs the
    // file system far more than overwriting cached pages); reads read the
    // first region back from the page cache.
    let mut next = 0u64;
    let mut one = |write: bool, overlap: bool| -> Result<(f64, f64)> {
        let e = if write {
            next += size;
            opcode::Write::new(fd, src.ptr(), size as u32).offset(next - size).build()
        } else {
            opcode::Read::new(fd, dst.ptr(), size as u32).offset(0).build()
        };
        let t0 = Instant::now();
        // SAFETY: the buffers outlive the request, which completes below.
        unsafe { ring.submission().push(&e) }.map_err(|_| "submission queue full")?;
        ring.submit().map_err(|e| format!("io_uring_enter: {e}"))?;
        let call = ms(t0.elapsed());
        if overlap {
            compute_until(t0 + compute);
        }
        let t1 = Instant::now();
        ring.submit_and_wait(1).map_err(|e| format!("io_uring_enter: {e}"))?;
        let c = ring.completion().next().ok_or("no completion")?;
        if c.result() != size as i32 {
            return Err(format!("raw request did {}", c.result()));
        }
        Ok((call, if overlap { ms(t1.elapsed()) } else { ms(t0.elapsed()) }))
    };
    let w = best(runs, |ov| one(true, ov))?;
    let r = best(runs, |ov| one(false, ov))?;
    Ok((w, r))
}

/// The child: daos-rs on the engine of `DAOS_RS_IO_ENGINE`. Prints one line
/// `overlap-result` with the write's and the read's call, wait and duration.
pub fn child(args: &[String]) -> ExitCode {
    match child_run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("overlap child: {e}");
            ExitCode::FAILURE
        }
    }
}

fn child_run(args: &[String]) -> Result<()> {
    let [store, size, compute_ms, runs] = args else { return Err("usage: --overlap-child STORE SIZE MS RUNS".into()) };
    let size: u64 = size.parse().map_err(|_| "bad size")?;
    let compute = Duration::from_millis(compute_ms.parse().map_err(|_| "bad ms")?);
    let runs: usize = runs.parse().map_err(|_| "bad runs")?;
    let store = Path::new(store);
    fs::create_dir_all(store).map_err(|e| format!("{}: {e}", store.display()))?;
    daos::format_store(store, 1)?;
    let co = Container::open(&store.join("c"), true, true)?;
    let shard = co.add_shards(1, &[0])?[0];
    let wobj = co.object(shard, 1)?;
    let robj = co.object(shard, 2)?;
    let src = AlignedBuf::pattern(size as usize, 7);
    let dst = AlignedBuf::new(size as usize);
    robj.write_sync(1, src.as_slice(), 0)?;
    co.commit(1)?;
    let mut eqh = Default::default();
    // SAFETY: valid out-pointer.
    check("daos_eq_create", unsafe { ffi::daos_eq_create(&mut eqh) })?;
    let mut ev = Box::new(daos_event::default());
    // SAFETY: `ev` stays where it is until its fini below.
    check("daos_event_init", unsafe { ffi::daos_event_init(&mut *ev, eqh, ptr::null_mut()) })?;
    let mut epoch = 2;
    let mut one = |write: bool, overlap: bool| -> Result<(f64, f64)> {
        let t0 = Instant::now();
        let rc = if write {
            epoch += 1;
            // SAFETY: `src` outlives the operation, polled back below.
            unsafe { wobj.write(epoch, src.ptr(), size, 0, &mut *ev) }
        } else {
            // SAFETY: `dst` outlives the operation.
            unsafe { robj.read(1, dst.ptr(), size, 0, &mut *ev) }
        };
        check(if write { "daos_object_write" } else { "daos_object_read" }, rc)?;
        let call = ms(t0.elapsed());
        if overlap {
            compute_until(t0 + compute);
        }
        let t1 = Instant::now();
        let mut out = [ptr::null_mut(); 1];
        // SAFETY: room for one event pointer.
        let n = unsafe { ffi::daos_eq_poll(eqh, 0, DAOS_EQ_WAIT.into(), 1, out.as_mut_ptr()) };
        check("daos_eq_poll", n)?;
        if ev.ev_error != 0 {
            return Err(format!("operation completed with {}", ev.ev_error));
        }
        Ok((call, if overlap { ms(t1.elapsed()) } else { ms(t0.elapsed()) }))
    };
    let w = best(runs, |ov| one(true, ov))?;
    let r = best(runs, |ov| one(false, ov))?;
    if dst.as_slice() != src.as_slice() {
        return Err("read back wrong data".into());
    }
    // SAFETY: the event is idle.
    check("daos_event_fini", unsafe { ffi::daos_event_fini(&mut *ev) })?;
    check("daos_eq_destroy", ffi::daos_eq_destroy(eqh))?;
    drop(co);
    println!(
        "overlap-result {:.3} {:.3} {:.3} {:.3} {:.3} {:.3}",
        w.call, w.wait, w.dur, r.call, r.wait, r.dur
    );
    Ok(())
}
