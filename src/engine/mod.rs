//! The I/O engines behind an event queue (SPEC §11): io_uring, or, where
//! io_uring is refused, a pool of library worker threads making ordinary
//! system calls; and an inline executor for synchronous calls under the
//! thread-pool engine.
//!
//! An engine is split in two halves. [`Local`] is the submission and completion
//! side; it lives inside the EQ's mutex and is touched only with that lock held.
//! [`Shared`] is what a thread may use without the lock: submit what is queued,
//! sleep until something completes, and wake a sleeper from another thread.
//! The io_uring engine has no thread of its own: the kernel runs the I/O and
//! whoever polls the EQ reaps. The thread-pool engine's workers hand each
//! completion to the EQ through the [`Sink`] it attached.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::base::config::{self, EngineKind};

mod inline;
mod threads;
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
// the memory until the completion, whichever thread submits or runs it.
unsafe impl Send for Req {}

/// A completion: the `user_data` of its request and the result (>= 0 or -errno).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cqe {
    pub user_data: u64,
    pub result: i32,
}

/// `user_data` values with this bit set belong to the engine (wake-ups).
pub(crate) const INTERNAL: u64 = 1 << 63;

/// Where an engine that completes requests on threads of its own hands each
/// completion: the event queue, which runs the operation's completion and
/// wakes its pollers. Called without any lock of the engine held.
pub trait Sink: Send + Sync {
    fn deliver(&self, cqe: Cqe);
}

/// The locked half of an engine.
pub enum Local {
    Uring(uring::Local),
    Threads(threads::Local),
    Inline(inline::Local),
}

/// The half of an engine usable without the EQ lock.
pub enum Shared {
    Uring(uring::Shared),
    Threads(threads::Shared),
    Inline(inline::Shared),
}

/// Builds both halves of an engine of the process's kind, falling back to the
/// thread-pool engine if io_uring is refused and the choice was not forced.
/// `private`: the engine of a thread's private EQ for synchronous calls,
/// which under the thread-pool engine is the inline executor (no thread hop).
pub fn new_engine(notify: Arc<OwnedFd>, private: bool) -> Result<(Local, Arc<Shared>)> {
    let (kind, forced) = config::engine_choice();
    if kind == EngineKind::Uring {
        match uring::new(notify.clone()) {
            Ok((l, s)) => return Ok((Local::Uring(l), Arc::new(Shared::Uring(s)))),
            Err(e) if forced => {
                return Err(Error::os(e, "io_uring setup (DAOS_RS_IO_ENGINE=uring)"));
            }
            Err(e) => config::uring_refused(&e),
        }
    }
    if private {
        let (l, s) = inline::new(notify)?;
        return Ok((Local::Inline(l), Arc::new(Shared::Inline(s))));
    }
    let (l, s) = threads::new()?;
    Ok((Local::Threads(l), Arc::new(Shared::Threads(s))))
}

impl Local {
    /// Attaches the EQ that receives the completions of worker threads.
    pub fn set_sink(&mut self, sink: Weak<dyn Sink>) {
        if let Local::Threads(t) = self {
            t.set_sink(sink);
        }
    }

    /// Queues a request. It is handed over by [`Local::launch`] and
    /// [`Shared::submit`] (both), or by a reap or wait; the inline executor
    /// runs it here. A cancel takes effect at once where it can.
    pub fn push(&mut self, req: Req, user_data: u64, out: &mut Vec<Cqe>) -> Result<()> {
        match self {
            Local::Uring(u) => u.push(req, user_data, out),
            Local::Threads(t) => {
                t.push(req, user_data);
                Ok(())
            }
            Local::Inline(s) => s.push(req, user_data),
        }
    }

    /// Hands queued requests to the workers (thread-pool engine; io_uring
    /// submits with [`Shared::submit`], without the lock).
    pub fn launch(&mut self) {
        if let Local::Threads(t) = self {
            t.launch();
        }
    }

    /// Hands queued requests over from under the lock (both engines; for the
    /// follow-up requests of a completion).
    pub fn flush(&mut self, out: &mut Vec<Cqe>) {
        match self {
            Local::Uring(u) => u.flush(out),
            Local::Threads(t) => t.launch(),
            Local::Inline(_) => {}
        }
    }

    /// Whether completions already made wait to be reaped (NOPs and cancels
    /// of the thread-pool engine, everything of the inline executor).
    pub fn has_ready(&self) -> bool {
        match self {
            Local::Uring(_) => false,
            Local::Threads(t) => t.has_ready(),
            Local::Inline(s) => s.has_ready(),
        }
    }

    /// A completion a worker delivered through the [`Sink`].
    pub fn completed(&mut self, c: Cqe) {
        if let Local::Threads(t) = self {
            t.completed(c);
        }
    }

    /// Hands queued requests over and collects what has completed, without
    /// blocking.
    pub fn reap(&mut self, out: &mut Vec<Cqe>) {
        match self {
            Local::Uring(u) => u.reap(out),
            Local::Threads(t) => {
                t.launch();
                t.reap(out)
            }
            Local::Inline(s) => s.reap(out),
        }
    }

    /// Collects what has completed without handing anything over.
    pub fn reap_completed(&mut self, out: &mut Vec<Cqe>) {
        match self {
            Local::Uring(u) => u.reap_completed(out),
            Local::Threads(t) => t.reap(out),
            Local::Inline(s) => s.reap(out),
        }
    }

    /// Makes a thread sleeping in [`Shared::wait`] return soon.
    pub fn wake(&mut self, out: &mut Vec<Cqe>) {
        match self {
            Local::Uring(u) => u.wake(out),
            Local::Threads(t) => t.wake(),
            Local::Inline(s) => s.wake(),
        }
    }

    /// Turns on notifications of completions on the EQ's notify fd, and
    /// returns the fd that `daos_eq_get_fd` hands out.
    pub fn enable_notify(&mut self, notify: &Arc<OwnedFd>) -> Result<RawFd> {
        match self {
            Local::Uring(u) => u.enable_notify(),
            // Workers complete events through the EQ, which signals the fd.
            Local::Threads(_) => Ok(raw(notify)),
            Local::Inline(s) => s.enable_notify(),
        }
    }
}

impl Shared {
    /// Hands queued requests to the kernel (io_uring; without the EQ lock).
    pub fn submit(&self) {
        match self {
            Shared::Uring(u) => u.submit(),
            Shared::Threads(_) | Shared::Inline(_) => {}
        }
    }

    /// Submits what is queued and sleeps until a completion may be ready, a
    /// wake-up arrives, or the deadline passes. Called without the EQ lock.
    pub fn wait(&self, deadline: Option<Instant>) {
        match self {
            Shared::Uring(u) => u.wait(deadline),
            Shared::Threads(t) => t.wait(deadline),
            Shared::Inline(s) => s.wait(deadline),
        }
    }

    /// A descriptor that is readable while completions wait in the kernel to
    /// be reaped (the io_uring ring), for a thread that reaps on behalf of
    /// completion callbacks. `None`: completions need no reaper.
    pub fn ring_fd(&self) -> Option<RawFd> {
        match self {
            Shared::Uring(u) => Some(u.ring_fd()),
            _ => None,
        }
    }
}

/// A system call's return value as a completion result (count or -errno).
pub(crate) fn sys_result(r: isize) -> i32 {
    if r < 0 {
        -std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
    } else {
        r as i32
    }
}

/// Sleeps in `ppoll` until `fd` is readable or the deadline passes.
pub(crate) fn ppoll_one(fd: RawFd, deadline: Option<Instant>) {
    let mut fds = [libc::pollfd { fd, events: libc::POLLIN, revents: 0 }];
    let ts;
    let tsp = match deadline {
        None => std::ptr::null(),
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            ts = libc::timespec { tv_sec: left.as_secs() as libc::time_t, tv_nsec: left.subsec_nanos() as libc::c_long };
            &ts as *const libc::timespec
        }
    };
    // SAFETY: `fds` and `ts` are valid for the duration of the call.
    unsafe { libc::ppoll(fds.as_mut_ptr(), 1, tsp, std::ptr::null()) };
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
