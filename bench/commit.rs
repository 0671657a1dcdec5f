//! `commit`: latency of `daos_epoch_commit` when each of 8 shards (on 8 targets)
//! got one 1 MiB write in the epoch, against the same with 1 shard; and each
//! against raw io_uring: fdatasync of as many files, in parallel, after a 1 MiB
//! write to each. The four are measured in turn, commit by commit, so that all of
//! them see the same disk (its load changes by the second on a shared machine).

use std::fs::{self, File};
use std::time::{Duration, Instant};

use crate::daos::{self, Container, Object};
use crate::raw::{self, Raw};
use crate::sys::{AlignedBuf, Scratch};
use crate::{Goal, Latency, Opts, Result, Row, Unit};

const MIB: u64 = 1 << 20;
const WIDE: usize = 8;
/// Rounds per measurement (a round is one commit of each kind): at most (each
/// adds 1 MiB per shard or file to the disk), and at least (even when a round is
/// slower than the measurement's duration).
const MAX_ROUNDS: usize = 50;
const MIN_ROUNDS: usize = 5;

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
    let mut raw = match RawCommits::new(&raw_dir) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("warning: raw io_uring baseline not measured: {e}");
            None
        }
    };

    // Best (lowest mean) of the runs, per figure: daos 1, daos 8, raw 1, raw 8.
    let mut best: [Option<Latency>; 4] = [None, None, None, None];
    for _ in 0..o.runs {
        let mut round = |samples: &mut [Vec<Duration>; 4]| -> Result<()> {
            samples[0].push(narrow.commit(&src)?);
            samples[1].push(wide.commit(&src)?);
            if let Some(r) = raw.as_mut() {
                match r.commit(&src) {
                    Ok((one, all)) => {
                        samples[2].push(one);
                        samples[3].push(all);
                    }
                    Err(e) => {
                        eprintln!("warning: raw io_uring baseline not measured: {e}");
                        raw = None;
                    }
                }
            }
            Ok(())
        };
        // Warm-up: the first commit of a run sets up what the next ones reuse.
        round(&mut Default::default())?;
        let mut samples: [Vec<Duration>; 4] = Default::default();
        let start = Instant::now();
        let max = if o.quick { MIN_ROUNDS } else { MAX_ROUNDS };
        while samples[0].len() < MIN_ROUNDS
            || (samples[0].len() < max && start.elapsed() < o.duration)
        {
            round(&mut samples)?;
        }
        for (b, s) in best.iter_mut().zip(samples) {
            if s.is_empty() {
                continue;
            }
            let l = Latency::of(s);
            if b.as_ref().map_or(true, |b| l.mean < b.mean) {
                *b = Some(l);
            }
        }
    }
    let [daos1, daos8, raw1, raw8] = best;
    let (daos1, daos8) = (
        daos1.ok_or("no 1-shard commit")?,
        daos8.ok_or("no 8-shard commit")?,
    );

    let mut rows = Vec::new();
    let mut r1 = Row::latency_in(
        "commit, 1 shard",
        Unit::Millis,
        &daos1,
        raw1.as_ref(),
        Goal::AtMost(1.2),
    );
    r1[0].footnote = Some(
        "after one 1 MiB write per shard in the epoch (untimed); raw: fdatasync of as many files \
         (one 1 MiB write each), all in flight on one ring; the four kinds take turns, commit by \
         commit"
            .into(),
    );
    rows.extend(r1);
    rows.extend(Row::latency_in(
        "commit, 8 shards",
        Unit::Millis,
        &daos8,
        raw8.as_ref(),
        Goal::AtMost(1.2),
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

    /// A 1 MiB write to every shard (untimed), then the timed commit of the epoch.
    fn commit(&mut self, src: &AlignedBuf) -> Result<Duration> {
        for obj in &self.objs {
            obj.write_sync(self.epoch, src.as_slice(), self.writes * MIB)?;
        }
        self.writes += 1;
        let t = Instant::now();
        self.co.commit(self.epoch)?;
        let d = t.elapsed();
        self.epoch += 1;
        Ok(d)
    }
}

/// The raw baseline: one file, and `WIDE` files.
struct RawCommits {
    ring: Raw,
    one: Vec<File>,
    all: Vec<File>,
    writes: u64,
}

impl RawCommits {
    fn new(dir: &std::path::Path) -> Result<RawCommits> {
        let files = |prefix: &str, n: usize| -> Result<Vec<File>> {
            (0..n)
                .map(|i| raw::create(&dir.join(format!("{prefix}{i}.dat"))))
                .collect()
        };
        Ok(RawCommits {
            ring: Raw::new()?,
            one: files("n", 1)?,
            all: files("w", WIDE)?,
            writes: 0,
        })
    }

    /// For one file, then for all: a 1 MiB write to each (untimed), then the timed
    /// fdatasync of them all in flight at once.
    fn commit(&mut self, src: &AlignedBuf) -> Result<(Duration, Duration)> {
        let mut times = [Duration::ZERO; 2];
        for (t, files) in times.iter_mut().zip([&self.one, &self.all]) {
            for f in files {
                self.ring
                    .write_seq(f, src.as_slice(), self.writes * MIB, MIB, 1)?;
            }
            let start = Instant::now();
            self.ring.fdatasync_all(files)?;
            *t = start.elapsed();
        }
        self.writes += 1;
        Ok((times[0], times[1]))
    }
}
