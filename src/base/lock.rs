//! Lock files that a forked child never keeps: [`Tracked`] descriptors and
//! the [`Held`] `flock`s on them.

use std::fs::{self, File};
use std::io;

use crate::base::fs::PRIVATE_FILE;

/// Descriptors holding an `flock` that tells other processes this one is
/// alive (a writer's journal, a reader's registration, a stamp slot, a
/// master's token, a held lock file). A child made by `fork()` shares the
/// parent's open file descriptions, and so their locks: a child keeping its
/// copy would keep the lock held after the parent let it go (another user of
/// the lock, the child itself included, would then wait for it forever), or
/// after the parent died (making it look alive). The at-fork child handler
/// closes the child's copies (`after_fork_in_child`), which leaves the
/// parent's locks as they are.
///
/// A descriptor is recorded from the moment it is opened — before any lock
/// is asked for on it — until it is closed, and both the open-and-record and
/// the forget-and-close happen under the fork lock, which the at-fork
/// prepare handler takes: no child is made with a copy of a lockable
/// descriptor that is not recorded (see [`Tracked`]). The fork lock is held
/// only around those system calls, never while waiting for an `flock`.
pub(crate) mod held_locks {
    use std::cell::UnsafeCell;
    use std::os::fd::RawFd;
    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

    const SLOTS: usize = 16384;
    static FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
    static HINT: AtomicUsize = AtomicUsize::new(0);

    /// A process-wide mutex that the at-fork handlers can take and release
    /// (a pthread mutex: unlocking it in the child, in the thread that
    /// forked, is what `pthread_atfork` is made for).
    struct ForkLock(UnsafeCell<libc::pthread_mutex_t>);
    // SAFETY: the mutex is only used through pthread calls, which synchronise.
    unsafe impl Sync for ForkLock {}
    static FORK_LOCK: ForkLock = ForkLock(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));

    fn lock() {
        // SAFETY: a statically initialised mutex, never moved or destroyed.
        unsafe { libc::pthread_mutex_lock(FORK_LOCK.0.get()) };
    }

    fn unlock() {
        // SAFETY: as above; called by the thread that locked it.
        unsafe { libc::pthread_mutex_unlock(FORK_LOCK.0.get()) };
    }

    /// Holds the fork lock while it lives.
    pub(super) struct Guard(());

    impl Guard {
        pub(super) fn take() -> Guard {
            crate::base::fork::ensure_atfork();
            lock();
            Guard(())
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            unlock();
        }
    }

    /// At-fork prepare handler: no descriptor is between its open and its
    /// recording, or its forgetting and its close, while the child is made.
    pub extern "C" fn prepare_fork() {
        lock();
    }

    /// At-fork parent handler.
    pub extern "C" fn after_fork_in_parent() {
        unlock();
    }

    /// At-fork child handler: releases the fork lock (taken by this thread
    /// in `prepare_fork`) and closes the copies of the parent's recorded
    /// descriptors. Async-signal-safe (pthread unlock, atomics, close(2)).
    pub extern "C" fn after_fork_in_child() {
        unlock();
        for slot in FDS.iter() {
            let fd = slot.swap(-1, Ordering::AcqRel);
            if fd >= 0 {
                // SAFETY: the descriptor is the child's copy of one the
                // parent's (now unreachable) state owns; nothing in the child
                // uses it, and close is async-signal-safe.
                unsafe { libc::close(fd) };
            }
        }
    }

    /// Records `fd` (under the fork lock).
    pub(super) fn add(fd: RawFd) {
        let start = HINT.load(Ordering::Relaxed);
        for i in 0..SLOTS {
            let k = (start + i) % SLOTS;
            if FDS[k].compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                HINT.store(k + 1, Ordering::Relaxed);
                return;
            }
        }
        crate::log!(Warn, "more than {SLOTS} liveness locks held: a forked child may keep one of them");
    }

    /// Forgets `fd` (under the fork lock, before it is closed); nothing if
    /// it was not recorded.
    pub(super) fn remove(fd: RawFd) {
        for (k, slot) in FDS.iter().enumerate() {
            if slot.load(Ordering::Relaxed) == fd && slot.compare_exchange(fd, -1, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                HINT.store(k, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Whether `fd` is recorded (tests).
    #[cfg(test)]
    pub fn recorded(fd: RawFd) -> bool {
        FDS.iter().any(|s| s.load(Ordering::Relaxed) == fd)
    }
}

/// A file that a forked child never keeps a copy of (see [`held_locks`]):
/// recorded from its open to its close, so that any `flock` taken on it,
/// now or later, stays with this process. Dereferences to the `File`.
pub(crate) struct Tracked {
    file: std::mem::ManuallyDrop<File>,
    recorded: bool,
}

impl Tracked {
    /// Opens a file with `open` and records it, both under the fork lock.
    /// The file is one the library takes `flock`s on: it is made readable
    /// and writable by its owner only (`flock` needs nothing more than a
    /// descriptor open for reading, so another account able to open it
    /// could hold its lock): `open` should create it with mode 0600, and an
    /// existing file with more permissions (made by an earlier version, or
    /// under another umask) is changed to 0600.
    pub fn open(open: impl FnOnce() -> io::Result<File>) -> io::Result<Tracked> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::PermissionsExt;
        let t = {
            let _g = held_locks::Guard::take();
            let file = open()?;
            held_locks::add(file.as_raw_fd());
            Tracked { file: std::mem::ManuallyDrop::new(file), recorded: true }
        };
        let mode = t.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            if let Err(e) = t.set_permissions(std::fs::Permissions::from_mode(PRIVATE_FILE)) {
                crate::log!(Warn, "a lock file is open to other accounts (mode {:o}) and cannot be made private: {e}", mode & 0o7777);
            }
        }
        Ok(t)
    }

    /// A file on which no lock is ever taken (not recorded).
    pub fn untracked(file: File) -> Tracked {
        Tracked { file: std::mem::ManuallyDrop::new(file), recorded: false }
    }
}

impl std::ops::Deref for Tracked {
    type Target = File;
    fn deref(&self) -> &File {
        &self.file
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        let _g = self.recorded.then(held_locks::Guard::take);
        if self.recorded {
            held_locks::remove(self.file.as_raw_fd());
        }
        // SAFETY: dropped once, here; the field is not used after.
        unsafe { std::mem::ManuallyDrop::drop(&mut self.file) };
    }
}

/// A file on which this process holds an `flock` that says it is alive;
/// unlocked and closed on drop (see [`held_locks`]).
pub(crate) struct Held(Tracked);

impl Held {
    /// Takes `op` (`LOCK_EX`, `LOCK_SH`, optionally `| LOCK_NB`) on `f`
    /// (recorded since its open, so a child forked while this waits does
    /// not keep the lock once it is granted).
    pub fn lock(f: Tracked, op: i32) -> std::io::Result<Held> {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: flock on a descriptor `f` owns.
            if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
                return Ok(Held(f));
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
    }

    pub fn file(&self) -> &fs::File {
        &self.0
    }
}

impl std::ops::Deref for Held {
    type Target = fs::File;
    fn deref(&self) -> &fs::File {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_files_are_recorded_from_open_to_close() {
        use std::os::fd::AsRawFd;
        let t = Tracked::open(|| File::open("/dev/null")).unwrap();
        let fd = t.as_raw_fd();
        assert!(held_locks::recorded(fd));
        let h = Held::lock(t, libc::LOCK_SH).unwrap();
        assert!(held_locks::recorded(fd));
        drop(h);
        assert!(!held_locks::recorded(fd), "forgotten once closed");
        let u = Tracked::untracked(File::open("/dev/null").unwrap());
        assert!(!held_locks::recorded(u.as_raw_fd()));
        assert!(Tracked::open(|| File::open("/nonexistent/x")).is_err());
    }
}
