//! `daos-rs-bench`: measures the daos-rs event machinery through its C ABI next to raw
//! io_uring, in the same process and run, and prints the ratios.
//!
//! It is a report, not a test: a missed goal still exits 0. It exits 1 on an error from the
//! library and 2 on a bad command line. If raw io_uring is refused (some sandboxes), its
//! column says n/a.
//!
//! To add a group: write `fn xxx_group(&Opts) -> Result<Vec<Row>>` and list it in
//! `GROUPS`. The storage groups (`read`, `write`, `commit`, `reopen`) work in a
//! scratch directory on the same file system for daos-rs and the raw baseline.

mod alloc;
mod commit;
mod daos;
mod overlap;
mod raw;
mod read;
mod reopen;
mod sys;
mod write;

use std::ffi::c_int;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Barrier;
use std::time::{Duration, Instant};
use std::{fs, io, ptr, thread};

use daos_rs::ffi;
use daos_rs::abi::types::{daos_event, daos_handle_t, DAOS_EQ_WAIT};
use io_uring::{opcode, IoUring};

/// Counts the bytes the library allocates while a container opens (`reopen`).
#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

const USAGE: &str = "usage: daos-rs-bench [--duration-ms N] [--quick] [--dir DIR] [GROUP...]
  --duration-ms N  length of each measurement (default 1000; 100 with --quick)
  --quick          short run for CI smoke tests: short measurements, one run each,
                   smaller data sets (64 MiB object, 128 K extents)
  --dir DIR        scratch directory for stores and files (default target/bench-tmp
                   of the source tree; not tmpfs, or the figures mean little)
  GROUP            noop, overlap, read, write, commit, reopen (default: every group;
                   read includes fio and the Python row)";

/// Events submitted per poll in the batched benchmarks.
const BATCH: usize = 32;
/// Submission queue size of the raw io_uring baseline.
const RING_ENTRIES: u32 = 256;
/// Threads, and event queues per thread, of the multi-EQ benchmark.
const THREADS: usize = 2;
const EQS_PER_THREAD: usize = 2;

type Result<T> = std::result::Result<T, String>;

/// A benchmark group: runs its measurements and returns its table rows.
type Group = fn(&Opts) -> Result<Vec<Row>>;
const GROUPS: &[(&str, Group)] = &[
    ("noop", noop_group),
    ("overlap", overlap::group),
    ("read", read::group),
    ("write", write::group),
    ("commit", commit::group),
    ("reopen", reopen::group),
];

struct Opts {
    /// Length of one measurement (after a warm-up of a quarter of it).
    duration: Duration,
    /// Runs per measurement; the best is reported.
    runs: usize,
    /// Short run: smaller data sets too.
    quick: bool,
    /// Scratch directory of the storage groups.
    dir: PathBuf,
}

#[derive(Clone, Copy)]
enum Unit {
    PerSec,
    Micros,
    Millis,
    Secs,
    GiBPerSec,
    /// Bytes per index entry.
    BytesPerExt,
}

impl Unit {
    fn fmt(self, v: f64) -> String {
        match self {
            Unit::PerSec => format!("{:.2} M/s", v / 1e6),
            Unit::Micros => format!("{v:.2} µs"),
            Unit::Millis => format!("{v:.2} ms"),
            Unit::Secs => format!("{v:.3} s"),
            Unit::GiBPerSec => format!("{v:.2} GiB/s"),
            Unit::BytesPerExt => format!("{v:.1} B"),
        }
    }
}

enum Goal {
    None,
    /// daos-rs / raw must be at least this.
    AtLeast(f64),
    /// daos-rs / raw must be at most this.
    AtMost(f64),
    /// The daos-rs figure itself (not the ratio) must be below this.
    Below(f64),
}

struct Row {
    name: String,
    unit: Unit,
    daos: f64,
    /// `None` if raw io_uring could not be measured (or there is no raw figure).
    raw: Option<f64>,
    goal: Goal,
    /// Printed under the table, marked on the row.
    footnote: Option<String>,
}

impl Row {
    fn new(name: &str, unit: Unit, daos: f64, raw: Option<f64>, goal: Goal) -> Row {
        Row {
            name: name.into(),
            unit,
            daos,
            raw,
            goal,
            footnote: None,
        }
    }

    fn rate(name: &str, daos: f64, raw: Option<f64>, goal: Goal) -> Row {
        Row::new(name, Unit::PerSec, daos, raw, goal)
    }

    fn with_note(mut self, note: impl Into<String>) -> Row {
        self.footnote = Some(note.into());
        self
    }

    /// The mean (judged against `goal`), p50 and p99 rows of a round-trip time.
    fn latency(name: &str, daos: &Latency, raw: Option<&Latency>, goal: Goal) -> [Row; 3] {
        Row::latency_in(name, Unit::Micros, daos, raw, goal)
    }

    /// As [`Row::latency`], in `unit` (µs or ms; `Latency` holds µs).
    fn latency_in(
        name: &str,
        unit: Unit,
        daos: &Latency,
        raw: Option<&Latency>,
        goal: Goal,
    ) -> [Row; 3] {
        let scale = if matches!(unit, Unit::Millis) {
            1e-3
        } else {
            1.0
        };
        let row = |stat: &str, f: fn(&Latency) -> f64, goal| {
            Row::new(
                &format!("{name}, {stat}"),
                unit,
                f(daos) * scale,
                raw.map(|r| f(r) * scale),
                goal,
            )
        };
        [
            row("mean", |l| l.mean, goal),
            row("p50", |l| l.p50, Goal::None),
            row("p99", |l| l.p99, Goal::None),
        ]
    }
}

// ---------------------------------------------------------------------------------------
// Groups

fn noop_group(o: &Opts) -> Result<Vec<Row>> {
    let (raw_batch, daos_batch) = best_pair(
        o,
        || rate(o.duration, Ring::nops_fn(BATCH)?),
        || rate(o.duration, EventQueue::noops_fn(BATCH)?),
    )?;
    let (raw_plugged, daos_plugged) = best_pair(
        o,
        || rate(o.duration, Ring::nops_fn(BATCH)?),
        || {
            let mut eq = EventQueue::new(BATCH)?;
            rate(o.duration, move || eq.noops_plugged())
        },
    )?;
    let (raw_qd1, daos_qd1) = best_pair(
        o,
        || latency(o.duration, Ring::nops_fn(1)?),
        || latency(o.duration, EventQueue::noops_fn(1)?),
    )?;
    let (raw_multi, daos_multi) = best_pair(
        o,
        || parallel(o, || Ring::nops_fn(BATCH)),
        || {
            parallel(o, || {
                let mut eqs: Vec<_> = (0..EQS_PER_THREAD)
                    .map(|_| EventQueue::new(BATCH))
                    .collect::<Result<_>>()?;
                Ok(move || eqs.iter_mut().map(EventQueue::noops).sum())
            })
        },
    )?;

    let mut rows = vec![
        Row::rate(
            "noop batch 32, plugged",
            daos_plugged,
            raw_plugged,
            Goal::AtLeast(0.30),
        )
        .with_note("daos_eq_plug, 32 daos_noop, daos_eq_unplug (one io_uring_enter), poll"),
        Row::rate("noop batch 32, unplugged", daos_batch, raw_batch, Goal::None)
            .with_note("each daos_noop is handed to the kernel by its call (32 io_uring_enter), then poll"),
    ];
    rows.extend(Row::latency(
        "noop QD1 round trip",
        &daos_qd1,
        raw_qd1.as_ref(),
        Goal::AtMost(2.0),
    ));
    rows.push(Row::rate(
        "noop batch 32, 2 thr x 2 EQ",
        daos_multi,
        raw_multi,
        Goal::None,
    ));
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// The two systems under test

/// A raw io_uring, the baseline.
struct Ring(IoUring);

impl Ring {
    fn new() -> Result<Self> {
        IoUring::new(RING_ENTRIES)
            .map(Ring)
            .map_err(|e| format!("io_uring_setup: {e}"))
    }

    /// A step for `rate`/`latency`: `n` NOPs on a ring of its own.
    fn nops_fn(n: usize) -> Result<impl FnMut() -> Result<u64>> {
        let mut ring = Ring::new()?;
        Ok(move || ring.nops(n))
    }

    /// Submits `n` NOPs, waits for all of them and reaps them.
    fn nops(&mut self, n: usize) -> Result<u64> {
        let nop = opcode::Nop::new().build();
        let mut sq = self.0.submission();
        for _ in 0..n {
            // SAFETY: a NOP refers to no memory, so nothing has to outlive the submission.
            unsafe { sq.push(&nop) }.map_err(|_| "io_uring submission queue full")?;
        }
        drop(sq);
        let mut reaped = 0;
        while reaped < n {
            self.0
                .submit_and_wait(n - reaped)
                .map_err(|e| format!("io_uring_enter: {e}"))?;
            for cqe in self.0.completion() {
                if cqe.result() < 0 {
                    return Err(format!("NOP completed with {}", errno(cqe.result())));
                }
                reaped += 1;
            }
        }
        Ok(n as u64)
    }
}

/// A daos-rs event queue with events initialised on it; finalised and destroyed on drop.
struct EventQueue {
    pub eqh: daos_handle_t,
    /// On the heap so that they never move while initialised.
    evs: Box<[daos_event]>,
    /// How many of `evs` are initialised.
    live: usize,
    /// Out-array of `daos_eq_poll`.
    polled: Vec<*mut daos_event>,
}

impl EventQueue {
    fn new(n: usize) -> Result<Self> {
        let mut eqh = daos_handle_t::default();
        // SAFETY: `eqh` is a valid out-pointer.
        check("daos_eq_create", unsafe { ffi::daos_eq_create(&mut eqh) })?;
        let mut eq = EventQueue {
            eqh,
            evs: vec![daos_event::default(); n].into_boxed_slice(),
            live: 0,
            polled: vec![ptr::null_mut(); n],
        };
        for ev in eq.evs.iter_mut() {
            // SAFETY: `ev` is valid and stays where it is until `daos_event_fini` in `drop`.
            check("daos_event_init", unsafe {
                ffi::daos_event_init(ev, eqh, ptr::null_mut())
            })?;
            eq.live += 1;
        }
        Ok(eq)
    }

    /// A step for `rate`/`latency`: `n` noops on an EQ of its own.
    fn noops_fn(n: usize) -> Result<impl FnMut() -> Result<u64>> {
        let mut eq = EventQueue::new(n)?;
        Ok(move || eq.noops())
    }

    /// Waits for at least one completed event and returns up to `max` of them
    /// (they stay in `self.polled[..n]`) as indexes into `evs`, checking each
    /// one's result.
    fn poll(&mut self, max: usize) -> Result<usize> {
        let want = max.min(self.polled.len()) as c_int;
        // SAFETY: `self.polled` has room for `want` pointers.
        let got = unsafe {
            ffi::daos_eq_poll(
                self.eqh,
                0,
                DAOS_EQ_WAIT.into(),
                want,
                self.polled.as_mut_ptr(),
            )
        };
        let n = check("daos_eq_poll", got)? as usize;
        for i in 0..n {
            let k = self.index_of(self.polled[i]);
            if self.evs[k].ev_error != 0 {
                return Err(format!(
                    "event completed with {}",
                    errno(self.evs[k].ev_error)
                ));
            }
        }
        Ok(n)
    }

    /// The index in `evs` of an event `daos_eq_poll` returned.
    fn index_of(&self, ev: *mut daos_event) -> usize {
        let base = self.evs.as_ptr() as usize;
        let i = (ev as usize - base) / std::mem::size_of::<daos_event>();
        assert!(
            i < self.evs.len(),
            "daos_eq_poll returned an event not of this EQ"
        );
        i
    }

    /// A pointer to event `i`, for an operation to carry.
    fn ev(&mut self, i: usize) -> *mut daos_event {
        &mut self.evs[i]
    }

    /// Runs operations `0..n` with every event of the EQ carrying one at a time:
    /// `start(i, ev)` starts operation `i` on `ev` and returns the call's result.
    fn pipeline(
        &mut self,
        n: usize,
        mut start: impl FnMut(usize, *mut daos_event) -> c_int,
    ) -> Result<()> {
        let mut free: Vec<usize> = (0..self.evs.len()).rev().collect();
        let (mut next, mut done) = (0, 0);
        while done < n {
            while next < n {
                let Some(i) = free.pop() else { break };
                check("operation", start(next, self.ev(i)))?;
                next += 1;
            }
            let k = self.poll(self.evs.len())?;
            for j in 0..k {
                free.push(self.index_of(self.polled[j]));
            }
            done += k;
        }
        Ok(())
    }

    /// As [`EventQueue::noops`], the noops dispatched between `daos_eq_plug`
    /// and `daos_eq_unplug` (one submission for all).
    fn noops_plugged(&mut self) -> Result<u64> {
        check("daos_eq_plug", ffi::daos_eq_plug(self.eqh))?;
        self.noops_inner(true)
    }

    /// Starts a noop on every event, then polls until all of them are back.
    fn noops(&mut self) -> Result<u64> {
        self.noops_inner(false)
    }

    fn noops_inner(&mut self, unplug: bool) -> Result<u64> {
        for ev in self.evs.iter_mut() {
            // SAFETY: `ev` is an initialised event of this EQ, not in flight.
            check("daos_noop", unsafe { ffi::daos_noop(ev, 0) })?;
        }
        if unplug {
            check("daos_eq_unplug", ffi::daos_eq_unplug(self.eqh))?;
        }
        let n = self.evs.len();
        let mut polled = 0;
        while polled < n {
            let want = (n - polled) as c_int;
            // SAFETY: `self.polled` has room for `n >= want` pointers.
            let got = unsafe {
                ffi::daos_eq_poll(
                    self.eqh,
                    0,
                    DAOS_EQ_WAIT.into(),
                    want,
                    self.polled.as_mut_ptr(),
                )
            };
            polled += check("daos_eq_poll", got)? as usize;
        }
        match self.evs.iter().find(|ev| ev.ev_error != 0) {
            Some(ev) => Err(format!("noop event completed with {}", errno(ev.ev_error))),
            None => Ok(n as u64),
        }
    }
}

impl Drop for EventQueue {
    fn drop(&mut self) {
        // Whatever is still in flight (after an error) completes first, so that the
        // caller's buffers, freed after this, are no longer in use.
        loop {
            // SAFETY: `self.polled` has room for all the events.
            let got = unsafe {
                ffi::daos_eq_poll(
                    self.eqh,
                    1,
                    DAOS_EQ_WAIT.into(),
                    self.polled.len() as c_int,
                    self.polled.as_mut_ptr(),
                )
            };
            if got <= 0 {
                break;
            }
        }
        for ev in &mut self.evs[..self.live] {
            // SAFETY: `ev` was initialised by `daos_event_init` and is still valid.
            if let Err(e) = check("daos_event_fini", unsafe { ffi::daos_event_fini(ev) }) {
                eprintln!("warning: {e}");
            }
        }
        if let Err(e) = check("daos_eq_destroy", ffi::daos_eq_destroy(self.eqh)) {
            eprintln!("warning: {e}");
        }
    }
}

fn check(call: &str, rc: c_int) -> Result<c_int> {
    if rc < 0 {
        Err(format!("{call} returned {}", errno(rc)))
    } else {
        Ok(rc)
    }
}

fn errno(rc: c_int) -> String {
    format!("{rc} ({})", io::Error::from_raw_os_error(-rc))
}

// ---------------------------------------------------------------------------------------
// Measurement

/// Calls `step` (which does some operations and returns how many) for `d`, after a warm-up
/// of `d / 4`; returns operations per second.
fn rate(d: Duration, mut step: impl FnMut() -> Result<u64>) -> Result<f64> {
    run_for(d / 4, &mut step)?;
    let (ops, elapsed) = run_for(d, &mut step)?;
    Ok(ops as f64 / elapsed.as_secs_f64())
}

fn run_for(d: Duration, step: &mut impl FnMut() -> Result<u64>) -> Result<(u64, Duration)> {
    let start = Instant::now();
    let mut ops = 0;
    loop {
        ops += step()?;
        let elapsed = start.elapsed();
        if elapsed >= d {
            return Ok((ops, elapsed));
        }
    }
}

/// Round-trip times, in µs.
struct Latency {
    mean: f64,
    p50: f64,
    p99: f64,
}

/// Times `round_trip` one call at a time for `d`, after a warm-up of `d / 4`.
fn latency(d: Duration, mut round_trip: impl FnMut() -> Result<u64>) -> Result<Latency> {
    run_for(d / 4, &mut round_trip)?;
    let mut samples = Vec::with_capacity(1 << 20);
    let start = Instant::now();
    let mut t0 = start;
    while t0 - start < d {
        round_trip()?;
        let t1 = Instant::now();
        samples.push(u32::try_from((t1 - t0).as_nanos()).unwrap_or(u32::MAX));
        t0 = t1;
    }
    samples.sort_unstable();
    let percentile = |p: usize| f64::from(samples[samples.len() * p / 100]) / 1e3;
    Ok(Latency {
        mean: (t0 - start).as_secs_f64() * 1e6 / samples.len() as f64,
        p50: percentile(50),
        p99: percentile(99),
    })
}

impl Latency {
    /// From separately timed calls.
    fn of(mut samples: Vec<Duration>) -> Latency {
        assert!(!samples.is_empty());
        samples.sort_unstable();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let total: Duration = samples.iter().sum();
        Latency {
            mean: us(total) / samples.len() as f64,
            p50: us(samples[samples.len() * 50 / 100]),
            p99: us(samples[samples.len() * 99 / 100]),
        }
    }
}

/// Aggregate operations per second of `THREADS` threads, each running the step that `setup`
/// makes in it (so what the step owns stays in its thread).
fn parallel<S>(o: &Opts, setup: impl Fn() -> Result<S> + Sync) -> Result<f64>
where
    S: FnMut() -> Result<u64>,
{
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    let step = setup();
                    start.wait();
                    rate(o.duration, step?)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("benchmark thread panicked"))
            .sum()
    })
}

/// A measured figure, of which the best run is reported.
trait Figure {
    fn beats(&self, other: &Self) -> bool;
}

impl Figure for f64 {
    fn beats(&self, other: &f64) -> bool {
        self > other
    }
}

impl Figure for Latency {
    fn beats(&self, other: &Latency) -> bool {
        self.mean < other.mean
    }
}

/// Measures the raw io_uring baseline and daos-rs alternately, `o.runs` times each, so that
/// both see the same machine load; returns the best of each. The raw figure is only a
/// baseline: if io_uring is refused it is `None` and the reason goes to stderr.
fn best_pair<R: Figure, D: Figure>(
    o: &Opts,
    mut raw: impl FnMut() -> Result<R>,
    mut daos: impl FnMut() -> Result<D>,
) -> Result<(Option<R>, D)> {
    fn keep<T: Figure>(best: &mut Option<T>, new: T) {
        if best.as_ref().map_or(true, |b| new.beats(b)) {
            *best = Some(new);
        }
    }
    let (mut best_raw, mut best_daos, mut raw_works) = (None, None, true);
    for _ in 0..o.runs {
        if raw_works {
            match raw() {
                Ok(r) => keep(&mut best_raw, r),
                Err(e) => {
                    eprintln!("warning: raw io_uring baseline not measured: {e}");
                    raw_works = false;
                }
            }
        }
        keep(&mut best_daos, daos()?);
    }
    Ok((best_raw, best_daos.expect("at least one run")))
}

// ---------------------------------------------------------------------------------------
// Report

fn print_header(o: &Opts) {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: three valid out-pointers.
    let rc = unsafe { ffi::daos_rs_version(&mut major, &mut minor, &mut patch) };
    let os = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim())
        })
        .unwrap_or("unknown CPU");
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("? GiB".into(), |kb| {
            format!("{:.1} GiB", kb as f64 / (1 << 20) as f64)
        });
    let engine = std::env::var("DAOS_RS_IO_ENGINE")
        .unwrap_or_else(|_| "default (uring, threads if io_uring is refused)".into());
    let fs_type = match sys::fs_type(&o.dir) {
        Ok((name, magic)) => format!("{name}, statfs f_type {magic:#x}"),
        Err(e) => e,
    };
    let args: Vec<String> = std::env::args().collect();
    println!(
        "daos-rs-bench: library {}",
        if rc == 0 {
            format!("{major}.{minor}.{patch}")
        } else {
            errno(rc)
        }
    );
    println!(
        "machine:   Linux {}, {cpus} CPUs, {model}, {mem} RAM",
        os.trim()
    );
    println!("io engine: {engine}");
    println!("scratch:   {} ({fs_type})", o.dir.display());
    println!("command:   {}", args.join(" "));
    println!(
        "each figure: best of {} run(s); rates and QD1 latencies: {} ms after a {} ms warm-up",
        o.runs,
        o.duration.as_millis(),
        (o.duration / 4).as_millis()
    );
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<50} {:>14} {:>14} {:>7} {:>10}  result",
        "benchmark", "daos-rs", "raw io_uring", "ratio", "goal"
    );
    let mut notes = Vec::new();
    for r in rows {
        let mark = r.footnote.as_ref().map(|n| {
            notes.push(n.clone());
            format!(" [{}]", notes.len())
        });
        print_row(r, mark.as_deref().unwrap_or(""));
    }
    for (i, n) in notes.iter().enumerate() {
        println!("[{}] {n}", i + 1);
    }
}

fn print_row(r: &Row, mark: &str) {
    let raw = r.raw.map_or("n/a".into(), |v| r.unit.fmt(v));
    let ratio = r.raw.map(|raw| r.daos / raw);
    let (goal, pass) = match r.goal {
        Goal::None => (String::new(), None),
        Goal::AtLeast(g) => (format!(">={g:.2}x"), ratio.map(|x| x >= g)),
        Goal::AtMost(g) => (format!("<={g:.2}x"), ratio.map(|x| x <= g)),
        Goal::Below(g) => (format!("<{}", r.unit.fmt(g)), Some(r.daos < g)),
    };
    let ratio = ratio.map_or("n/a".into(), |x| format!("{x:.2}x"));
    let result = match (&r.goal, pass) {
        (Goal::None, _) => "",
        (_, None) => "n/a",
        (_, Some(true)) => "PASS",
        (_, Some(false)) => "MISS",
    };
    println!(
        "{:<50} {:>14} {:>14} {ratio:>7} {goal:>10}  {result}{mark}",
        r.name,
        r.unit.fmt(r.daos),
        raw
    );
}

/// A line of a group's progress or findings, printed as it runs.
fn note(group: &str, msg: impl AsRef<str>) {
    println!("[{group}] {}", msg.as_ref());
}

// ---------------------------------------------------------------------------------------

fn default_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("bench-tmp")
}

fn parse_args() -> Result<(Opts, Vec<(&'static str, Group)>)> {
    let (mut duration_ms, mut quick, mut groups, mut dir) = (None, false, Vec::new(), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--duration-ms" => {
                let n = args.next().ok_or("--duration-ms needs a value")?;
                let n: u64 = n
                    .parse()
                    .map_err(|_| format!("bad --duration-ms value {n:?}"))?;
                duration_ms = Some(n.max(1));
            }
            "--dir" => dir = Some(PathBuf::from(args.next().ok_or("--dir needs a value")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            name => match GROUPS.iter().find(|(g, _)| *g == name) {
                Some(&group) => groups.push(group),
                None => return Err(format!("unknown argument or group {name:?}")),
            },
        }
    }
    if groups.is_empty() {
        groups = GROUPS.to_vec();
    }
    let duration = Duration::from_millis(duration_ms.unwrap_or(if quick { 100 } else { 1000 }));
    let dir = dir.unwrap_or_else(default_dir);
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let dir = fs::canonicalize(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok((
        Opts {
            duration,
            runs: if quick { 1 } else { 3 },
            quick,
            dir,
        },
        groups,
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--overlap-child") {
        return overlap::child(&args[2..]);
    }
    let (opts, groups) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("daos-rs-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    print_header(&opts);
    if matches!(sys::fs_type(&opts.dir), Ok(("tmpfs", _))) {
        eprintln!(
            "warning: {} is tmpfs: storage figures measure memory, not a file system",
            opts.dir.display()
        );
    }
    let mut rows = Vec::new();
    let mut failed = false;
    for (name, group) in groups {
        let t = Instant::now();
        match group(&opts) {
            Ok(r) => {
                note(name, format!("done in {:.1} s", t.elapsed().as_secs_f64()));
                rows.extend(r);
            }
            Err(e) => {
                eprintln!("daos-rs-bench: group {name}: {e}");
                failed = true;
                break;
            }
        }
    }
    print_table(&rows);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
