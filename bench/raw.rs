//! The raw io_uring baseline of the storage benchmarks: the same file I/O, done
//! directly with the `io_uring` crate on plain files.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use io_uring::{opcode, squeue, types, IoUring};

use crate::{errno, Result};

/// A ring for file I/O.
pub struct Raw(IoUring);

impl Raw {
    pub fn new() -> Result<Raw> {
        IoUring::new(crate::RING_ENTRIES)
            .map(Raw)
            .map_err(|e| format!("io_uring_setup: {e}"))
    }

    /// Runs requests `0..n`, at most `qd` in flight: `sqe(i)` builds request `i`
    /// and says what it must return (a byte count, or 0).
    pub fn pipeline(
        &mut self,
        n: usize,
        qd: usize,
        mut sqe: impl FnMut(usize) -> (squeue::Entry, i32),
    ) -> Result<()> {
        let mut want = vec![0i32; n];
        let (mut next, mut done) = (0, 0);
        while done < n {
            while next < n && next - done < qd {
                let (e, w) = sqe(next);
                want[next] = w;
                // SAFETY: the caller keeps the buffers of its requests valid until
                // this call returns, by which time every request has completed.
                unsafe { self.0.submission().push(&e.user_data(next as u64)) }
                    .map_err(|_| "io_uring submission queue full")?;
                next += 1;
            }
            self.0
                .submit_and_wait(1)
                .map_err(|e| format!("io_uring_enter: {e}"))?;
            for cqe in self.0.completion() {
                let i = cqe.user_data() as usize;
                if cqe.result() != want[i] {
                    return Err(if cqe.result() < 0 {
                        format!("raw request {i} failed: {}", errno(cqe.result()))
                    } else {
                        format!(
                            "raw request {i} did {} bytes, not {}",
                            cqe.result(),
                            want[i]
                        )
                    });
                }
                done += 1;
            }
        }
        Ok(())
    }

    /// Writes `total` bytes of `buf` (repeated) to `f` from offset `at`, in
    /// `buf.len()` pieces, `qd` in flight.
    pub fn write_seq(
        &mut self,
        f: &File,
        buf: &[u8],
        at: u64,
        total: u64,
        qd: usize,
    ) -> Result<()> {
        let fd = types::Fd(f.as_raw_fd());
        let len = buf.len() as u64;
        self.pipeline((total / len) as usize, qd, |i| {
            let e = opcode::Write::new(fd, buf.as_ptr(), len as u32)
                .offset(at + i as u64 * len)
                .build();
            (e, len as i32)
        })
    }

    /// Reads all of `f` (`size` bytes) into `buf` piece by piece, `qd` in flight
    /// (the pieces overwrite each other: this is for timing and warming).
    pub fn read_all(&mut self, f: &File, buf: &mut [u8], size: u64, qd: usize) -> Result<()> {
        let fd = types::Fd(f.as_raw_fd());
        let piece = buf.len() as u64;
        let n = size.div_ceil(piece) as usize;
        let p = buf.as_mut_ptr();
        self.pipeline(n, qd, |i| {
            let off = i as u64 * piece;
            let len = piece.min(size - off);
            (
                opcode::Read::new(fd, p, len as u32).offset(off).build(),
                len as i32,
            )
        })
    }

    /// `fdatasync` of every file, all in flight at once.
    pub fn fdatasync_all(&mut self, files: &[File]) -> Result<()> {
        self.pipeline(files.len(), files.len(), |i| {
            let e = opcode::Fsync::new(types::Fd(files[i].as_raw_fd()))
                .flags(types::FsyncFlags::DATASYNC)
                .build();
            (e, 0)
        })
    }

    /// One read of `len` bytes at `off` into `buf`, waited for.
    pub fn read_at(&mut self, f: &File, buf: *mut u8, len: u32, off: u64) -> Result<()> {
        let e = opcode::Read::new(types::Fd(f.as_raw_fd()), buf, len)
            .offset(off)
            .build();
        // SAFETY: `buf` is valid for `len` bytes until the completion, reaped below.
        unsafe { self.0.submission().push(&e) }.map_err(|_| "io_uring submission queue full")?;
        self.0
            .submit_and_wait(1)
            .map_err(|e| format!("io_uring_enter: {e}"))?;
        let cqe = self.0.completion().next().ok_or("no completion")?;
        if cqe.result() != len as i32 {
            return Err(format!("raw read returned {}", cqe.result()));
        }
        Ok(())
    }
}

pub fn create(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| format!("create {}: {e}", path.display()))
}

pub fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| format!("open {}: {e}", path.display()))
}
