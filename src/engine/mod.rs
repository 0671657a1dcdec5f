//! The I/O engines behind an event queue: io_uring, or ordinary system calls
//! with the same behaviour when io_uring is refused (SPEC §11).
//!
//! An engine is split in two halves. [`Local`] is the submission and completion
//! side; it lives inside the EQ's mutex and is touched only with that lock held.
//! [`Shared`] is what a thread may use without the lock: submit what is queued,
//! sleep until something completes, and wake a sleeper from another thread.
//! There is no engine thread: whoever polls the EQ drives it.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::runtime::{self, EngineKind};

mod sync;
mod uring;

/// One request to the engine; its completion is a [`Cqe`] with the same `user_data`.
#[derive(Debug)]
pub enum Req {
    /// Completes at once with 0.
    Nop,
    /// Completes with `-ETIME` after the duration (from submission).
    Timeout(Duration),
    /// Cancels the request with `user_data == target`: that one completes with
    /// `-ECANCELED` if the cancel won. The cancel itself completes with 0 or a
    /// negative errno (`-ENOENT`, `-EALREADY`).
    Cancel { target: u64 },
    /// Reads `len` bytes at file offset `off` into `buf`; completes with the
    /// byte count or a negative errno. The submitter keeps `buf` valid and
    /// the descriptor open until the completion.
    Read { fd: RawFd, buf: *mut u8, len: u32, off: u64 },
    /// Writes `len` bytes from `buf` at file offset `off`; as `Read`.
    Write { fd: RawFd, buf: *const u8, len: u32, off: u64 },
    /// `fdatasync(fd)`; completes with 0 or a negative errno.
    Fsync { fd: RawFd },
}

// SAFETY: the raw pointers of `Read`/`Write` are only carried to the kernel
// (or to pread/pwrite); the operation that built the request owns or borrows
// the memory until the completion, whichever thread submits it.
unsafe impl Send for Req {}

/// A completion: the `user_data` of its request and the result (>= 0 or -errno).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cqe {
    pub user_data: u64,
    pub result: i32,
}

/// `user_data` values with this bit set belong to the engine (wake-ups).
pub(crate) const INTERNAL: u64 = 1 << 63;

/// The locked half of an engine.
pub enum Local {
    Uring(uring::Local),
    Sync(sync::Local),
}

/// The half of an engine usable without the EQ lock.
pub enum Shared {
    Uring(uring::Shared),
    Sync(sync::Shared),
}

/// Builds both halves of an engine of the configured kind, falling back to the
/// synchronous engine if io_uring is refused and the choice was not forced.
pub fn new_engine(notify: Arc<OwnedFd>) -> Result<(Local, Arc<Shared>, EngineKind)> {
    let (kind, forced) = runtime::engine_choice();
    if kind == EngineKind::Uring {
        match uring::new(notify.clone()) {
            Ok((l, s)) => return Ok((Local::Uring(l), Arc::new(Shared::Uring(s)), kind)),
            Err(e) if forced => {
                return Err(Error::os(e, "io_uring setup (DAOS_RS_IO_ENGINE=uring)"));
            }
            Err(e) => runtime::uring_refused(&e),
        }
    }
    let (l, s) = sync::new(notify)?;
    Ok((Local::Sync(l), Arc::new(Shared::Sync(s)), EngineKind::Sync))
}

impl Local {
    /// Queues a request. It reaches the kernel at the next [`Local::submit`],
    /// [`Shared::submit`] or [`Shared::wait`], or at once if the queue is full.
    pub fn push(&mut self, req: Req, user_data: u64, out: &mut Vec<Cqe>) -> Result<()> {
        match self {
            Local::Uring(u) => u.push(req, user_data, out),
            Local::Sync(s) => s.push(req, user_data),
        }
    }

    /// Hands queued requests to the kernel and collects what has completed,
    /// without blocking.
    pub fn reap(&mut self, out: &mut Vec<Cqe>) {
        match self {
            Local::Uring(u) => u.reap(out),
            Local::Sync(s) => s.reap(out),
        }
    }

    /// Collects what has completed without entering the kernel (the sync
    /// engine has no kernel queue and reaps as usual).
    pub fn reap_completed(&mut self, out: &mut Vec<Cqe>) {
        match self {
            Local::Uring(u) => u.drain_cq(out),
            Local::Sync(s) => s.reap(out),
        }
    }

    /// Makes a thread sleeping in [`Shared::wait`] return soon.
    pub fn wake(&mut self, out: &mut Vec<Cqe>) {
        match self {
            Local::Uring(u) => u.wake(out),
            Local::Sync(s) => s.wake(),
        }
    }

    /// Turns on notifications of completions on the EQ's notify fd, and
    /// returns the fd that `daos_eq_get_fd` hands out.
    pub fn enable_notify(&mut self) -> Result<RawFd> {
        match self {
            Local::Uring(u) => u.enable_notify(),
            Local::Sync(s) => s.enable_notify(),
        }
    }
}

impl Shared {
    /// Hands queued requests to the kernel (without the EQ lock).
    pub fn submit(&self) {
        match self {
            Shared::Uring(u) => u.submit(),
            Shared::Sync(s) => s.kick(),
        }
    }

    /// Submits what is queued and sleeps in the kernel until a completion may be
    /// ready, a wake-up arrives, or the deadline passes. Called without the EQ lock.
    pub fn wait(&self, deadline: Option<Instant>) {
        match self {
            Shared::Uring(u) => u.wait(deadline),
            Shared::Sync(s) => s.wait(deadline),
        }
    }
}

/// Reads an eventfd until it is empty (non-blocking fd).
pub(crate) fn drain_eventfd(fd: RawFd) {
    let mut v = 0u64;
    // SAFETY: reading 8 bytes into a local u64 from an fd we own.
    unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
}

/// Adds one to an eventfd.
pub(crate) fn signal_eventfd(fd: RawFd) {
    let v = 1u64;
    // SAFETY: writing 8 bytes from a local u64 to an fd we own.
    unsafe { libc::write(fd, (&v as *const u64).cast(), 8) };
}

/// A new non-blocking, close-on-exec eventfd.
pub fn new_eventfd() -> Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked before use.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::os(std::io::Error::last_os_error(), "eventfd"));
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

pub(crate) fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}
