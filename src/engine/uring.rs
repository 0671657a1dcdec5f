//! The io_uring engine: one ring per event queue.
//!
//! Requests are pushed to the submission queue under the EQ lock and
//! submitted (`io_uring_enter`) by the dispatching call before it returns,
//! unless the EQ is plugged. A read or write of [`ASYNC_MIN`] bytes or more
//! carries `IOSQE_ASYNC`: without it the kernel first tries it inline, in
//! `io_uring_enter`, and a read served from the page cache is then copied
//! there, in the caller's time (measured: 14 ms for 64 MiB, 47 ms for
//! 256 MiB); with it the submission takes a few µs and a kernel worker does
//! the copy. Smaller requests stay inline: punting costs a worker wake-up
//! (about 10 µs of latency), more than the copy of a few pages.

use std::collections::HashMap;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Instant;

use io_uring::{opcode, squeue, types, IoUring};

use super::{raw, Cqe, Req, INTERNAL};
use crate::error::{Error, Result};

const SQ_ENTRIES: u32 = 256;
const CQ_ENTRIES: u32 = 4096;
/// Reads and writes at least this long go to the kernel's workers at once.
pub(crate) const ASYNC_MIN: u32 = 256 << 10;

/// Submission and completion side; lives under the EQ lock.
pub struct Local {
    ring: Arc<IoUring>,
    /// Wakes the thread sleeping in [`Shared::wait`] (see there).
    wake_fd: Arc<OwnedFd>,
    /// Timespecs of timeouts, kept at a stable address until their completion.
    pinned: HashMap<u64, Box<types::Timespec>>,
    notify: Arc<OwnedFd>,
    notify_on: bool,
}

/// Submit and wait without the lock.
pub struct Shared {
    ring: Arc<IoUring>,
    wake_fd: Arc<OwnedFd>,
}

pub fn new(notify: Arc<OwnedFd>) -> io::Result<(Local, Shared)> {
    let ring = IoUring::builder().setup_cqsize(CQ_ENTRIES).build(SQ_ENTRIES)?;
    if !ring.params().is_feature_ext_arg() || !ring.params().is_feature_nodrop() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "kernel lacks IORING_FEAT_EXT_ARG or IORING_FEAT_NODROP (needs Linux >= 5.11)",
        ));
    }
    let ring = Arc::new(ring);
    let wake_fd = Arc::new(super::new_eventfd().map_err(|e| io::Error::from_raw_os_error(e.errno()))?);
    Ok((
        Local { ring: ring.clone(), wake_fd: wake_fd.clone(), pinned: HashMap::new(), notify, notify_on: false },
        Shared { ring, wake_fd },
    ))
}

fn entry_for(req: &Req, pinned: &mut HashMap<u64, Box<types::Timespec>>, ud: u64) -> squeue::Entry {
    match req {
        Req::Nop => opcode::Nop::new().build(),
        Req::Timeout(d) => {
            let ts = Box::new(types::Timespec::new().sec(d.as_secs()).nsec(d.subsec_nanos()));
            let e = opcode::Timeout::new(&*ts as *const types::Timespec).build();
            pinned.insert(ud, ts);
            e
        }
        Req::Cancel { target } => opcode::AsyncCancel::new(*target).build(),
        Req::Read { fd, buf, len, off } => {
            async_if_large(opcode::Read::new(types::Fd(*fd), *buf, *len).offset(*off).build(), *len)
        }
        Req::Write { fd, buf, len, off } => {
            async_if_large(opcode::Write::new(types::Fd(*fd), *buf, *len).offset(*off).build(), *len)
        }
        Req::Fsync { fd } => opcode::Fsync::new(types::Fd(*fd)).flags(types::FsyncFlags::DATASYNC).build(),
    }
    .user_data(ud)
}

fn async_if_large(e: squeue::Entry, len: u32) -> squeue::Entry {
    if len >= ASYNC_MIN {
        e.flags(squeue::Flags::ASYNC)
    } else {
        e
    }
}

impl Local {
    pub fn push(&mut self, req: Req, ud: u64, out: &mut Vec<Cqe>) -> Result<()> {
        let entry = entry_for(&req, &mut self.pinned, ud);
        loop {
            // SAFETY: the submission queue is only touched through `Local`, which
            // lives inside the EQ mutex, so no other thread pushes concurrently.
            let mut sq = unsafe { self.ring.submission_shared() };
            // SAFETY: a timeout's timespec is kept in `self.pinned` until that
            // request's completion is reaped; the buffers of reads and writes are
            // kept valid by the operation that made them (see `Req`).
            if unsafe { sq.push(&entry) }.is_ok() {
                sq.sync();
                return Ok(());
            }
            drop(sq);
            match self.ring.submitter().submit() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => self.drain_cq(out),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) => {}
                Err(e) => {
                    self.pinned.remove(&ud);
                    return Err(Error::os(e, "io_uring submit"));
                }
            }
        }
    }

    fn needs_enter(&self) -> bool {
        // SAFETY: as in `push`: only read under the EQ lock.
        let sq = unsafe { self.ring.submission_shared() };
        !sq.is_empty() || sq.cq_overflow() || sq.taskrun()
    }

    pub fn drain_cq(&mut self, out: &mut Vec<Cqe>) {
        // SAFETY: the completion queue is only read through `Local`, under the
        // EQ mutex; sleepers in `Shared::wait` never touch it.
        let cq = unsafe { self.ring.completion_shared() };
        for c in cq {
            let ud = c.user_data();
            if ud & INTERNAL == 0 {
                if !self.pinned.is_empty() {
                    self.pinned.remove(&ud);
                }
                out.push(Cqe { user_data: ud, result: c.result() });
            }
        }
    }

    /// Collects completions without submitting what is queued; completions
    /// held back in the kernel (CQ overflow) are fetched too.
    pub fn reap_completed(&mut self, out: &mut Vec<Cqe>) {
        // SAFETY: as in `push`: only read under the EQ lock.
        let overflow = unsafe { self.ring.submission_shared() }.cq_overflow();
        if overflow {
            // SAFETY: no submission (0 entries), no argument.
            let _ = unsafe { self.ring.submitter().enter::<libc::sigset_t>(0, 0, 1 /* GETEVENTS */, None) };
        }
        self.drain_cq(out);
    }

    /// Submits what is queued, if anything.
    pub fn flush(&mut self, out: &mut Vec<Cqe>) {
        // SAFETY: as in `push`: only read under the EQ lock.
        if unsafe { self.ring.submission_shared() }.is_empty() {
            return;
        }
        self.reap_submit(out);
    }

    fn reap_submit(&mut self, out: &mut Vec<Cqe>) {
        if let Err(e) = self.ring.submitter().submit() {
            match e.raw_os_error() {
                Some(libc::EBUSY) => self.drain_cq(out),
                Some(libc::EINTR | libc::EAGAIN) => {}
                _ => crate::log!(Error, "io_uring submit failed: {e}"),
            }
        }
    }

    pub fn reap(&mut self, out: &mut Vec<Cqe>) {
        if self.needs_enter() {
            if let Err(e) = self.ring.submitter().submit() {
                if !matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EINTR | libc::EAGAIN)) {
                    crate::log!(Error, "io_uring submit failed: {e}");
                }
            }
        }
        self.drain_cq(out);
    }

    /// Wakes the sleeper of [`Shared::wait`]. Not with a NOP through the
    /// ring: its completion could be reaped by another thread (a query, the
    /// callback reaper) before the sleeper sees it, and the wake-up would be
    /// lost. The eventfd is read only by the sleeper.
    pub fn wake(&mut self, _out: &mut Vec<Cqe>) {
        super::signal_eventfd(raw(&self.wake_fd));
    }

    pub fn enable_notify(&mut self) -> Result<RawFd> {
        if !self.notify_on {
            self.ring
                .submitter()
                .register_eventfd(raw(&self.notify))
                .map_err(|e| Error::os(e, "io_uring register eventfd"))?;
            self.notify_on = true;
        }
        Ok(raw(&self.notify))
    }
}

impl Shared {
    pub fn ring_fd(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.ring.as_raw_fd()
    }

    pub fn submit(&self) {
        if let Err(e) = self.ring.submitter().submit() {
            if !matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EINTR | libc::EAGAIN)) {
                crate::log!(Error, "io_uring submit failed: {e}");
            }
        }
    }

    /// Submits what is queued, then sleeps until the ring holds a completion
    /// (its descriptor is readable), [`Local::wake`] is called, or the
    /// deadline passes. The sleep is in `ppoll` on the ring and the wake-up
    /// eventfd rather than in `io_uring_enter(GETEVENTS)`: the latter only
    /// counts completions, so if another thread reaps them (the EQ lets any
    /// thread take in completions without blocking) the sleeper would sleep
    /// on although the state it waits for has changed. A wake-up through the
    /// eventfd cannot be taken by anyone else.
    pub fn wait(&self, deadline: Option<Instant>) {
        self.submit();
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return;
        }
        let mut fds = [
            libc::pollfd { fd: self.ring_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: raw(&self.wake_fd), events: libc::POLLIN, revents: 0 },
        ];
        let ts;
        let tsp = match deadline {
            None => std::ptr::null(),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                ts = libc::timespec {
                    tv_sec: left.as_secs() as libc::time_t,
                    tv_nsec: left.subsec_nanos() as libc::c_long,
                };
                &ts as *const libc::timespec
            }
        };
        // SAFETY: `fds` and `ts` are valid for the duration of the call.
        unsafe { libc::ppoll(fds.as_mut_ptr(), 2, tsp, std::ptr::null()) };
        super::drain_eventfd(raw(&self.wake_fd));
    }
}
