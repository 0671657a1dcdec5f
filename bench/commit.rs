//! `commit`: latency of `daos_epoch_commit` when each of 8 shards (on 8 targets)
//! got one 1 MiB write in the epoch, against the same with 1 shard; and each
//! against raw io_uring: fdatasync of as many files, in parallel, after a 1 MiB
//! write to each.

use std::fs::{self, File};
use std::time::{Duration, Instant};

use crate::daos::{self, Container, Object};
use crate::raw::{self, Raw};
use crate::sys::{AlignedBuf, Scratch};
use crate::{best_pair, Goal, Latency, Opts, Result, Row, Unit};

const MIB: u64 = 1 << 20;
const WIDE: usize = 8;
/// Commits per measurement: at most (each adds 1 MiB per shard to the store), and
/// at least (even when a commit is slower than the measurement's duration).
const MAX_COMMITS: usize = 50;
const MIN_COMMITS: usize = 5;

pub fn group(o: &Opts) -> Result<Vec<Row>> {
    let dir = Scratch::new(&o.dir, "commit")?;
    let store = dir.join("store");
    fs::create_dir(&store).map_err(|e| format!("create {}: {e}", store.display()))?;
    daos::format_store(&store, WIDE as u32)?;
    let src = AlignedBuf::pattern(MIB as usize, 13);

    let mut narrow = Shards::new(&store.join("c1"), &[0])?;
    let targets: Vec<u32> = (0..WIDE as u32).collect();
    let mut wide = Shards::new(&store.join("c8"), &targets)?;
    let raw_dir = dir.join("raw");
    fs::create_dir(&raw_dir).map_err(|e| format!("create {}: {e}", raw_dir.display()))?;
    let mut raw_narrow = RawFiles::new(&raw_dir, "n", 1);
    let mut raw_wide = RawFiles::new(&raw_dir, "w", WIDE);

    let (raw1, daos1) = best_pair(
        o,
        || raw_narrow.measure(o, &src),
        || narrow.measure(o, &src),
    )?;
    let (raw8, daos8) = best_pair(o, || raw_wide.measure(o, &src), || wide.measure(o, &src))?;

    let mut rows = Vec::new();
    let mut r1 = Row::latency_in(
        "commit, 1 shard",
        Unit::Millis,
        &daos1,
        raw1.as_ref(),
        Goal::None,
    );
    r1[0].footnote = Some(
        "after one 1 MiB write per shard in the epoch (untimed); raw: fdatasync of as many files \
         (one 1 MiB write each), all in flight on one ring"
            .into(),
    );
    rows.extend(r1);
    rows.extend(Row::latency_in(
        "commit, 8 shards",
        Unit::Millis,
        &daos8,
        raw8.as_ref(),
        Goal::None,
    ));
    rows.push(
        Row::new(
            "commit, 8 shards vs 1, mean",
            Unit::Millis,
            daos8.mean / 1e3,
            Some(daos1.mean / 1e3),
            Goal::AtMost(1.5),
        )
        .with_note(match (&raw1, &raw8) {
            (Some(r1), Some(r8)) => format!(
                "the baseline column here is daos-rs itself: the commit of 1 shard. For scale, \
                 raw io_uring fdatasync of 8 files vs 1 (8 MiB vs 1 MiB to write back): \
                 {:.2} vs {:.2} ms, {:.2}x",
                r8.mean / 1e3,
                r1.mean / 1e3,
                r8.mean / r1.mean
            ),
            _ => "the baseline column here is daos-rs itself: the commit of 1 shard".into(),
        }),
    );
    Ok(rows)
}

/// A container with one object on each of its shards, and its next epoch.
struct Shards {
    co: Container,
    objs: Vec<Object>,
    epoch: u64,
    /// Writes so far to each object (the next one goes after them).
    writes: u64,
}

impl Shards {
    fn new(path: &std::path::Path, targets: &[u32]) -> Result<Shards> {
        let co = Container::open(path, true, true)?;
        let ids = co.add_shards(1, targets)?;
        let objs = ids
            .iter()
            .map(|&s| co.object(s, 1))
            .collect::<Result<_>>()?;
        Ok(Shards {
            co,
            objs,
            epoch: 1,
            writes: 0,
        })
    }

    /// Commits epoch after epoch, each after a 1 MiB write to every shard
    /// (untimed), and times the commits.
    fn measure(&mut self, o: &Opts, src: &AlignedBuf) -> Result<Latency> {
        timed_loop(o, || {
            for obj in &self.objs {
                obj.write_sync(self.epoch, src.as_slice(), self.writes * MIB)?;
            }
            self.writes += 1;
            let t = Instant::now();
            self.co.commit(self.epoch)?;
            let d = t.elapsed();
            self.epoch += 1;
            Ok(d)
        })
    }
}

/// The raw baseline's files.
struct RawFiles {
    files: Vec<File>,
    paths: Vec<std::path::PathBuf>,
    writes: u64,
}

impl RawFiles {
    fn new(dir: &std::path::Path, prefix: &str, n: usize) -> RawFiles {
        RawFiles {
            files: Vec::new(),
            paths: (0..n)
                .map(|i| dir.join(format!("{prefix}{i}.dat")))
                .collect(),
            writes: 0,
        }
    }

    fn measure(&mut self, o: &Opts, src: &AlignedBuf) -> Result<Latency> {
        if self.files.is_empty() {
            self.files = self
                .paths
                .iter()
                .map(|p| raw::create(p))
                .collect::<Result<_>>()?;
        }
        let mut ring = Raw::new()?;
        timed_loop(o, || {
            for f in &self.files {
                ring.write_seq(f, src.as_slice(), self.writes * MIB, MIB, 1)?;
            }
            self.writes += 1;
            let t = Instant::now();
            ring.fdatasync_all(&self.files)?;
            Ok(t.elapsed())
        })
    }
}

/// Calls `once` (which times what it measures) for the measurement's duration,
/// between `MIN_COMMITS` and `MAX_COMMITS` times.
fn timed_loop(o: &Opts, mut once: impl FnMut() -> Result<Duration>) -> Result<Latency> {
    let start = Instant::now();
    let max = if o.quick { MIN_COMMITS } else { MAX_COMMITS };
    once()?; // warm-up: the first commit of a run also sets up what the next ones reuse
    let mut samples = Vec::new();
    while samples.len() < MIN_COMMITS || (samples.len() < max && start.elapsed() < o.duration) {
        samples.push(once()?);
    }
    Ok(Latency::of(samples))
}
