//! The callback reaper: with io_uring, a completion callback must run even if
//! nobody polls the EQ, so someone has to reap the ring. One thread per
//! process (started at the first callback armed on an in-flight event)
//! sleeps in `epoll_wait` on the ring descriptors of the EQs that have an
//! in-flight event with a callback — an io_uring descriptor is readable while
//! completions wait in it — and, when one is readable, runs that EQ's usual
//! non-blocking progress under its lock (reap, complete, callbacks outside the
//! lock, wake its pollers). An EQ leaves the set when it has no in-flight
//! callback left, so events without callbacks cost nothing.
//!
//! A poller blocked in the same EQ is not robbed: each completion is reaped
//! once, under the EQ lock, by whichever thread gets there first, and the
//! completed event waits in the EQ's list for the poller, which a reap that
//! completes an event wakes (see `Eq::settle`).
//!
//! The reaper belongs to the process state, so a forked child starts its own.

use std::collections::HashMap;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::Eq;
use crate::engine::raw;

struct Inner {
    epoll: OwnedFd,
    eqs: Mutex<HashMap<u64, Weak<Eq>>>,
}

/// The process's callback reaper.
#[derive(Default)]
pub struct CbReaper {
    inner: Mutex<Option<Arc<Inner>>>,
}

impl CbReaper {
    fn get(&self) -> Option<Arc<Inner>> {
        let mut g = self.inner.lock();
        if let Some(i) = g.as_ref() {
            return Some(i.clone());
        }
        // SAFETY: plain system call; the result is checked before use.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            crate::log!(Error, "epoll_create1 for the callback reaper: {}", std::io::Error::last_os_error());
            return None;
        }
        // SAFETY: `ep` is a fresh descriptor that nothing else owns.
        let inner = Arc::new(Inner { epoll: unsafe { OwnedFd::from_raw_fd(ep) }, eqs: Mutex::new(HashMap::new()) });
        let me = inner.clone();
        if let Err(e) = std::thread::Builder::new().name("daos-rs-reaper".into()).spawn(move || reap_loop(me)) {
            crate::log!(Error, "cannot start the callback reaper thread ({e}); callbacks run when the EQ is polled");
            return None;
        }
        *g = Some(inner.clone());
        Some(inner)
    }

    /// Watches the ring `fd` of the EQ `token`. Returns whether it is watched.
    /// Called under that EQ's lock.
    pub fn watch(&self, token: u64, eq: Weak<Eq>, fd: RawFd) -> bool {
        let Some(inner) = self.get() else { return false };
        inner.eqs.lock().insert(token, eq);
        let mut e = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: valid epoll fd, a live ring fd, a valid event struct.
        if unsafe { libc::epoll_ctl(raw(&inner.epoll), libc::EPOLL_CTL_ADD, fd, &mut e) } < 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EEXIST) {
                crate::log!(Error, "epoll_ctl for the callback reaper: {err}");
                inner.eqs.lock().remove(&token);
                return false;
            }
        }
        true
    }

    /// Stops watching. Called under that EQ's lock.
    pub fn unwatch(&self, token: u64, fd: RawFd) {
        let Some(inner) = self.inner.lock().clone() else { return };
        inner.eqs.lock().remove(&token);
        // SAFETY: valid epoll fd; the event argument may be NULL for DEL.
        unsafe { libc::epoll_ctl(raw(&inner.epoll), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
    }
}

fn reap_loop(inner: Arc<Inner>) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 32];
    loop {
        // SAFETY: `events` has room for 32 entries.
        let n = unsafe { libc::epoll_wait(raw(&inner.epoll), events.as_mut_ptr(), events.len() as i32, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            crate::log!(Error, "epoll_wait in the callback reaper: {}", std::io::Error::last_os_error());
            std::thread::sleep(std::time::Duration::from_millis(10));
            continue;
        }
        for e in &events[..n as usize] {
            let token = e.u64;
            let eq = inner.eqs.lock().get(&token).and_then(Weak::upgrade);
            match eq {
                Some(eq) => eq.reap_for_callbacks(),
                None => {
                    inner.eqs.lock().remove(&token);
                }
            }
        }
    }
}
