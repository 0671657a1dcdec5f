//! A short performance probe of a target directory: sequential write (to
//! stable storage) and read bandwidth with 1 MiB blocks, and 4 KiB random
//! reads for IOPS and latency. Reads use O_DIRECT where the file system
//! allows it, so the page cache does not flatter the figures.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::Instant;

use crate::error::Result;
use crate::abi::types::daos_target_perf;
use crate::base::fs::io_err;

const BS: usize = 1 << 20;
const FILE_MB: usize = 16;
const SMALL: usize = 4096;
const SMALL_OPS: usize = 512;

/// What the probe measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProbeResult {
    pub perf: daos_target_perf,
    pub latency_us: u64,
}

/// A buffer aligned for O_DIRECT.
struct Aligned {
    v: Vec<u8>,
    off: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let v = vec![0xA5u8; len + 4096];
        let off = (4096 - (v.as_ptr() as usize % 4096)) % 4096;
        Aligned { v, off, len }
    }
    fn buf(&mut self) -> &mut [u8] {
        &mut self.v[self.off..self.off + self.len]
    }
}

fn mbps(bytes: usize, secs: f64) -> u32 {
    ((bytes as f64 / 1e6) / secs.max(1e-9)).min(u32::MAX as f64) as u32
}

/// Probes the target directory `dir` (about 16 MiB of I/O).
pub fn probe_target(dir: &Path) -> Result<ProbeResult> {
    let path = dir.join(".probe");
    let res = run(&path);
    let _ = fs::remove_file(&path);
    res
}

fn run(path: &Path) -> Result<ProbeResult> {
    let mut buf = Aligned::new(BS);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| io_err(e, format!("probe file {}", path.display())))?;
    let t = Instant::now();
    for _ in 0..FILE_MB {
        f.write_all(buf.buf()).map_err(|e| io_err(e, "probe write"))?;
    }
    f.sync_data().map_err(|e| io_err(e, "probe fsync"))?;
    let wr = t.elapsed().as_secs_f64();
    drop(f);
    let direct = OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(path);
    let f = match direct {
        Ok(f) => f,
        Err(_) => {
            let f = OpenOptions::new().read(true).open(path).map_err(|e| io_err(e, "probe reopen"))?;
            // SAFETY: advisory call on a descriptor we own.
            unsafe { libc::posix_fadvise(std::os::fd::AsRawFd::as_raw_fd(&f), 0, 0, libc::POSIX_FADV_DONTNEED) };
            f
        }
    };
    let t = Instant::now();
    for i in 0..FILE_MB {
        f.read_exact_at(buf.buf(), (i * BS) as u64).map_err(|e| io_err(e, "probe read"))?;
    }
    let rd = t.elapsed().as_secs_f64();
    let mut small = Aligned::new(SMALL);
    let blocks = (FILE_MB * BS / SMALL) as u64;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let t = Instant::now();
    for _ in 0..SMALL_OPS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        f.read_exact_at(small.buf(), (x % blocks) * SMALL as u64).map_err(|e| io_err(e, "probe read"))?;
    }
    let sm = t.elapsed().as_secs_f64();
    Ok(ProbeResult {
        perf: daos_target_perf {
            tp_rdbw: mbps(FILE_MB * BS, rd),
            tp_rdbw_bs: BS as u32,
            tp_wrbw: mbps(FILE_MB * BS, wr),
            tp_wrbw_bs: BS as u32,
            tp_iops: (SMALL_OPS as f64 / sm.max(1e-9)).min(u32::MAX as f64) as u32,
            tp_iops_bs: SMALL as u32,
        },
        latency_us: ((sm / SMALL_OPS as f64) * 1e6).round().max(1.0) as u64,
    })
}
