//! The inline executor: the same requests, carried out with ordinary system
//! calls by the thread that submits them. It is the engine of the private EQs
//! of synchronous calls (`ev == NULL`) under the thread-pool engine: the caller
//! waits for the result anyway, so running the request in its own thread saves
//! the hand-off to a worker and back. Timeouts are kept in a timer list backed
//! by a timerfd, so a sleeper (or an epoll loop on its fd) wakes when one expires.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{drain_eventfd, new_eventfd, raw, signal_eventfd, sys_result, Cqe, Req, INTERNAL};
use crate::error::{Error, Result};

/// The locked half.
pub struct Local {
    ready: VecDeque<Cqe>,
    timers: BTreeMap<(Instant, u64), u64>,
    timer_of: HashMap<u64, (Instant, u64)>,
    seq: u64,
    armed: Option<Instant>,
    timerfd: Arc<OwnedFd>,
    wake_fd: Arc<OwnedFd>,
    notify: Arc<OwnedFd>,
    notify_on: bool,
    epoll: Option<OwnedFd>,
}

/// The half used without the lock.
pub struct Shared {
    timerfd: Arc<OwnedFd>,
    wake_fd: Arc<OwnedFd>,
}

fn os_err(what: &str) -> Error {
    Error::os(io::Error::last_os_error(), what)
}

pub fn new(notify: Arc<OwnedFd>) -> Result<(Local, Shared)> {
    // SAFETY: plain system call; the result is checked before use.
    let tfd = unsafe {
        libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
    };
    if tfd < 0 {
        return Err(os_err("timerfd_create"));
    }
    // SAFETY: `tfd` is a fresh descriptor that nothing else owns.
    let timerfd = Arc::new(unsafe { OwnedFd::from_raw_fd(tfd) });
    let wake_fd = Arc::new(new_eventfd()?);
    Ok((
        Local {
            ready: VecDeque::new(),
            timers: BTreeMap::new(),
            timer_of: HashMap::new(),
            seq: 0,
            armed: None,
            timerfd: timerfd.clone(),
            wake_fd: wake_fd.clone(),
            notify,
            notify_on: false,
            epoll: None,
        },
        Shared { timerfd, wake_fd },
    ))
}


fn set_timer(fd: RawFd, after: Option<Duration>) {
    let mut spec: libc::itimerspec = unsafe { std::mem::zeroed() };
    if let Some(d) = after {
        // A zero value would disarm the timer: expire in 1 ns instead.
        let d = d.max(Duration::from_nanos(1));
        spec.it_value.tv_sec = d.as_secs() as libc::time_t;
        spec.it_value.tv_nsec = d.subsec_nanos() as libc::c_long;
    }
    // SAFETY: `spec` is a valid itimerspec on the stack; old value not wanted.
    unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) };
}

impl Local {
    fn ready_push(&mut self, c: Cqe) {
        self.ready.push_back(c);
        if self.notify_on {
            signal_eventfd(raw(&self.notify));
        }
    }

    fn rearm(&mut self) {
        let first = self.timers.keys().next().map(|k| k.0);
        if first != self.armed {
            self.armed = first;
            set_timer(raw(&self.timerfd), first.map(|t| t.saturating_duration_since(Instant::now())));
        }
    }

    pub fn push(&mut self, req: Req, ud: u64) -> Result<()> {
        match req {
            Req::Nop => self.ready_push(Cqe { user_data: ud, result: 0 }),
            Req::Timeout(d) => {
                let at = Instant::now() + d;
                self.seq += 1;
                self.timers.insert((at, self.seq), ud);
                self.timer_of.insert(ud, (at, self.seq));
                self.rearm();
            }
            Req::Cancel { target } => {
                let result = match self.timer_of.remove(&target) {
                    Some(key) => {
                        self.timers.remove(&key);
                        self.rearm();
                        self.ready_push(Cqe { user_data: target, result: -libc::ECANCELED });
                        0
                    }
                    None => -libc::ENOENT,
                };
                self.ready_push(Cqe { user_data: ud, result });
            }
            Req::Read { fd, buf, len, off } => {
                // SAFETY: the operation keeps `buf` valid for `len` bytes (see `Req`).
                let r = unsafe { libc::pread(fd, buf.cast(), len as usize, off as libc::off_t) };
                self.ready_push(Cqe { user_data: ud, result: sys_result(r) });
            }
            Req::Write { fd, buf, len, off } => {
                // SAFETY: the operation keeps `buf` valid for `len` bytes (see `Req`).
                let r = unsafe { libc::pwrite(fd, buf.cast(), len as usize, off as libc::off_t) };
                self.ready_push(Cqe { user_data: ud, result: sys_result(r) });
            }
            Req::Fsync { fd } => {
                // SAFETY: plain system call on a descriptor the operation keeps open.
                let r = unsafe { libc::fdatasync(fd) } as isize;
                self.ready_push(Cqe { user_data: ud, result: sys_result(r) });
            }
        }
        Ok(())
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    pub fn reap(&mut self, out: &mut Vec<Cqe>) {
        if !self.timers.is_empty() {
            drain_eventfd(raw(&self.timerfd));
            let now = Instant::now();
            while let Some((&key, &ud)) = self.timers.iter().next() {
                if key.0 > now {
                    break;
                }
                self.timers.remove(&key);
                self.timer_of.remove(&ud);
                self.ready.push_back(Cqe { user_data: ud, result: -libc::ETIME });
            }
            self.armed = None;
            self.rearm();
        }
        out.extend(self.ready.drain(..).filter(|c| c.user_data & INTERNAL == 0));
    }

    pub fn wake(&mut self) {
        signal_eventfd(raw(&self.wake_fd));
    }

    pub fn enable_notify(&mut self) -> Result<RawFd> {
        if let Some(ep) = &self.epoll {
            return Ok(raw(ep));
        }
        // SAFETY: plain system call; the result is checked before use.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(os_err("epoll_create1"));
        }
        // SAFETY: `ep` is a fresh descriptor that nothing else owns.
        let ep = unsafe { OwnedFd::from_raw_fd(ep) };
        for fd in [raw(&self.notify), raw(&self.timerfd)] {
            let mut e = libc::epoll_event { events: libc::EPOLLIN as u32, u64: fd as u64 };
            // SAFETY: valid epoll fd, valid fd and a valid event struct.
            if unsafe { libc::epoll_ctl(raw(&ep), libc::EPOLL_CTL_ADD, fd, &mut e) } < 0 {
                return Err(os_err("epoll_ctl"));
            }
        }
        self.notify_on = true;
        if !self.ready.is_empty() {
            signal_eventfd(raw(&self.notify));
        }
        let r = raw(&ep);
        self.epoll = Some(ep);
        Ok(r)
    }
}

impl Shared {
    pub fn wait(&self, deadline: Option<Instant>) {
        let mut fds = [
            libc::pollfd { fd: raw(&self.wake_fd), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: raw(&self.timerfd), events: libc::POLLIN, revents: 0 },
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
        drain_eventfd(raw(&self.wake_fd));
    }
}
