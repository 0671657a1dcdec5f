//! The thread-pool engine, for where io_uring is refused: the same requests,
//! carried out with ordinary system calls by a small pool of library worker
//! threads, so that a call given an event returns at once and its I/O runs
//! while the caller computes.
//!
//! A worker that finishes a request hands its completion to the EQ's
//! [`Sink`] itself (the EQ runs the operation's completion, the callbacks,
//! and wakes its pollers), so nothing needs a poller to make progress.
//! Delays (`Req::Timeout`) are kept by one timer thread, which hands each
//! expired one to a worker to deliver the same way (a completion callback
//! that blocks must not stop the clock). Both are per process, started on
//! first use, and rebuilt in a forked child (which never touches its
//! parent's threads).
//!
//! Requests queued by [`Local::push`] stay in the EQ until [`Local::launch`]
//! (at the call, or at the unplug of a plugged EQ). Each has a ticket: a
//! cancel wins only while the request has not started.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

use super::{drain_eventfd, new_eventfd, raw, signal_eventfd, sys_result, Cqe, Req, Sink, INTERNAL};
use crate::base::fork::PerFork;
use crate::error::Result;

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const CANCELLED: u8 = 2;
const DONE: u8 = 3;

/// The state of one request, shared by the EQ (cancel) and the thread that runs it.
struct Ticket(AtomicU8);

impl Ticket {
    /// Takes the request for running; false if it was cancelled first.
    fn start(&self) -> bool {
        self.0.compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }
}

/// A request on its way to a worker or the timer thread.
struct Job {
    req: Req,
    ud: u64,
    ticket: Arc<Ticket>,
    sink: Weak<dyn Sink>,
}

impl Job {
    fn deliver(self, result: i32) {
        self.ticket.0.store(DONE, Ordering::Release);
        if let Some(s) = self.sink.upgrade() {
            s.deliver(Cqe { user_data: self.ud, result });
        }
    }
}

/// The locked half: requests not yet launched, completions made at once
/// (NOPs, cancels), and the tickets of requests out in the pool.
pub struct Local {
    sink: Weak<dyn Sink>,
    held: Vec<(Req, u64, Arc<Ticket>)>,
    ready: VecDeque<Cqe>,
    /// Tickets of the requests not yet completed, by `user_data` (several
    /// requests of one operation may share one).
    tickets: HashMap<u64, Vec<Arc<Ticket>>>,
    wake_fd: Arc<OwnedFd>,
}

/// The half used without the lock: a sleeper waits on an eventfd.
pub struct Shared {
    wake_fd: Arc<OwnedFd>,
}

pub fn new() -> Result<(Local, Shared)> {
    let wake_fd = Arc::new(new_eventfd()?);
    let sink: Weak<dyn Sink> = Weak::<NoSink>::new();
    Ok((
        Local { sink, held: Vec::new(), ready: VecDeque::new(), tickets: HashMap::new(), wake_fd: wake_fd.clone() },
        Shared { wake_fd },
    ))
}

/// A sink that is never there (the placeholder until the EQ attaches itself).
struct NoSink;
impl Sink for NoSink {
    fn deliver(&self, _: Cqe) {}
}

impl Local {
    pub fn set_sink(&mut self, sink: Weak<dyn Sink>) {
        self.sink = sink;
    }

    pub fn push(&mut self, req: Req, ud: u64) {
        match req {
            Req::Cancel { target } => {
                let result = match self.tickets.get_mut(&target) {
                    Some(ts) => {
                        let won = ts.iter().position(|t| {
                            t.0.compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire).is_ok()
                        });
                        match won {
                            Some(i) => {
                                let t = ts.swap_remove(i);
                                if ts.is_empty() {
                                    self.tickets.remove(&target);
                                }
                                self.held.retain(|h| !Arc::ptr_eq(&h.2, &t));
                                self.ready.push_back(Cqe { user_data: target, result: -libc::ECANCELED });
                                0
                            }
                            None => -libc::EALREADY,
                        }
                    }
                    None => -libc::ENOENT,
                };
                self.ready.push_back(Cqe { user_data: ud, result });
            }
            req => {
                let t = Arc::new(Ticket(AtomicU8::new(QUEUED)));
                self.tickets.entry(ud).or_default().push(t.clone());
                self.held.push((req, ud, t));
            }
        }
    }

    /// Hands what is queued to the workers and the timer thread; NOPs
    /// complete at once (see [`Local::has_ready`]).
    pub fn launch(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let w = workers();
        for (req, ud, ticket) in std::mem::take(&mut self.held) {
            match req {
                Req::Nop => {
                    ticket.0.store(DONE, Ordering::Release);
                    self.completed(Cqe { user_data: ud, result: 0 });
                }
                Req::Timeout(d) => {
                    if let Err(job) = w.timer(Job { req, ud, ticket, sink: self.sink.clone() }, d) {
                        job.ticket.0.store(DONE, Ordering::Release);
                        self.completed(Cqe { user_data: ud, result: -libc::EAGAIN });
                    }
                }
                _ => {
                    if let Err(job) = w.run(Job { req, ud, ticket, sink: self.sink.clone() }) {
                        // No worker: run it here, as the inline engine would.
                        let result = execute(&job.req);
                        job.ticket.0.store(DONE, Ordering::Release);
                        self.completed(Cqe { user_data: ud, result });
                    }
                }
            }
        }
    }

    /// Whether completions made at once wait to be reaped.
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// A worker's completion: the request is no longer cancellable.
    pub fn completed(&mut self, c: Cqe) {
        if let Some(ts) = self.tickets.get_mut(&c.user_data) {
            if let Some(i) = ts.iter().position(|t| t.0.load(Ordering::Acquire) == DONE) {
                ts.swap_remove(i);
            }
            if ts.is_empty() {
                self.tickets.remove(&c.user_data);
            }
        }
        self.ready.push_back(c);
    }

    pub fn reap(&mut self, out: &mut Vec<Cqe>) {
        out.extend(self.ready.drain(..).filter(|c| c.user_data & INTERNAL == 0));
    }

    pub fn wake(&mut self) {
        signal_eventfd(raw(&self.wake_fd));
    }
}

impl Shared {
    pub fn wait(&self, deadline: Option<Instant>) {
        super::ppoll_one(raw(&self.wake_fd), deadline);
        drain_eventfd(raw(&self.wake_fd));
    }
}

/// Runs one request with ordinary system calls; the result is a count or -errno.
pub(super) fn execute(req: &Req) -> i32 {
    match *req {
        // SAFETY: the operation keeps `buf` valid for `len` bytes and the
        // descriptor open until the completion (see `Req`).
        Req::Read { fd, buf, len, off } => sys_result(unsafe { libc::pread(fd, buf.cast(), len as usize, off as libc::off_t) }),
        // SAFETY: as above.
        Req::Write { fd, buf, len, off } => sys_result(unsafe { libc::pwrite(fd, buf.cast(), len as usize, off as libc::off_t) }),
        // SAFETY: plain system call on a descriptor the operation keeps open.
        Req::Fsync { fd } => sys_result(unsafe { libc::fdatasync(fd) } as isize),
        Req::Nop => 0,
        Req::Timeout(_) => -libc::ETIME,
        Req::Cancel { .. } => -libc::ENOENT,
    }
}

// ---------------------------------------------------------------------------
// The process's workers and timer thread

/// How long a worker with nothing to do stays.
const IDLE_EXIT: Duration = Duration::from_secs(10);

struct Workers {
    jobs_tx: Sender<Job>,
    jobs_rx: Receiver<Job>,
    /// (threads, idle threads)
    count: Mutex<(usize, usize)>,
    max: usize,
    timer: Mutex<Option<Sender<(Instant, Job)>>>,
}

static WORKERS: PerFork<Workers> = PerFork::new();

/// This process's workers (a forked child makes its own; the parent's are
/// leaked there, never touched).
fn workers() -> &'static Workers {
    WORKERS.get(|_| {
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
        Workers { jobs_tx, jobs_rx, count: Mutex::new((0, 0)), max: crate::base::config::io_threads(), timer: Mutex::new(None) }
    })
}

impl Workers {
    /// Hands a request to a worker; gives it back if no worker can be started
    /// (the caller then runs it itself).
    fn run(&'static self, job: Job) -> std::result::Result<(), Job> {
        let mut c = self.count.lock();
        if c.0 == 0 && !self.spawn(&mut c) {
            return Err(job);
        }
        // Cannot fail: `self` holds the receiver.
        let _ = self.jobs_tx.send(job);
        self.grow(&mut c);
        Ok(())
    }

    /// Starts a worker if more jobs wait than workers are idle.
    fn grow(&'static self, c: &mut (usize, usize)) {
        if c.1 < self.jobs_rx.len() && c.0 < self.max {
            self.spawn(c);
        }
    }

    fn spawn(&'static self, c: &mut (usize, usize)) -> bool {
        c.0 += 1;
        c.1 += 1;
        match std::thread::Builder::new().name("daos-rs-io".into()).spawn(move || self.work()) {
            Ok(_) => true,
            Err(e) => {
                c.0 -= 1;
                c.1 -= 1;
                crate::log!(Error, "cannot start an I/O worker thread ({e})");
                false
            }
        }
    }

    /// A worker: counted idle while it waits for a job.
    fn work(&'static self) {
        loop {
            match self.jobs_rx.recv_timeout(IDLE_EXIT) {
                Ok(job) => {
                    {
                        let mut c = self.count.lock();
                        c.1 -= 1;
                        self.grow(&mut c);
                    }
                    run_job(job);
                    self.count.lock().1 += 1;
                }
                Err(RecvTimeoutError::Timeout) => {
                    let mut c = self.count.lock();
                    if self.jobs_rx.is_empty() {
                        c.0 -= 1;
                        c.1 -= 1;
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// Hands a delay to the timer thread; gives it back if that thread
    /// cannot be started.
    fn timer(&'static self, job: Job, after: Duration) -> std::result::Result<(), Job> {
        let at = Instant::now().checked_add(after).unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 32));
        let mut t = self.timer.lock();
        if t.is_none() {
            let (tx, rx) = crossbeam_channel::unbounded();
            match std::thread::Builder::new().name("daos-rs-timer".into()).spawn(move || timer_thread(rx)) {
                Ok(_) => *t = Some(tx),
                Err(e) => {
                    crate::log!(Error, "cannot start the timer thread ({e})");
                    return Err(job);
                }
            }
        }
        // Cannot fail: the timer thread never exits.
        let _ = t.as_ref().unwrap().send((at, job));
        Ok(())
    }
}

fn run_job(job: Job) {
    if !job.ticket.start() {
        return; // cancelled: the canceller completed it
    }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(&job.req))).unwrap_or(-libc::EIO);
    job.deliver(r);
}

/// A pending delay, earliest first.
struct Due(Instant, u64, Job);

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.0, o.1).cmp(&(self.0, self.1))
    }
}

/// Delivers each delay when it expires (a cancelled one is dropped then).
fn timer_thread(rx: Receiver<(Instant, Job)>) {
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let got = match heap.peek() {
            Some(Due(at, _, _)) => rx.recv_deadline(*at),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok((at, job)) => {
                seq += 1;
                heap.push(Due(at, seq, job));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|d| d.0 <= now) {
            let Due(_, _, job) = heap.pop().unwrap();
            // A worker delivers it (the completion, and its callback, run
            // there): a callback that waits for another delay must not
            // block the thread that keeps them.
            if let Err(job) = workers().run(job) {
                if job.ticket.start() {
                    job.deliver(-libc::ETIME);
                }
            }
        }
    }
}
