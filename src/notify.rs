//! Change notifications across processes: a pending `daos_epoch_wait`,
//! `daos_container_listen` or `daos_sys_listen` must complete soon after
//! another process changes the container file or the store configuration
//! (SPEC §4, §5, §8, §9).
//!
//! One notifier per process (a [`PerFork`] static, built again after
//! `fork()`) owns one inotify descriptor, one eventfd for
//! wake-ups and one thread, `daos-rs-notify`, blocked in `poll(2)` on both.
//! Everything is made on the first [`watch`], not before: a process that never
//! waits uses no inotify instance (there are only 128 per user by default).
//!
//! A watch names a file in a directory; its callback runs on the notifier
//! thread, with no lock of the notifier held, whenever that file is created,
//! replaced by a rename, written and closed, deleted, moved away or has its
//! attributes changed. Watches on one directory share one inotify watch,
//! counted, and removed with the last [`WatchGuard`]. A queue overflow calls
//! every callback (something may have been missed); the kernel dropping a
//! directory's watch (the directory was removed, or its file system
//! unmounted) calls that directory's callbacks once and detaches them.
//!
//! Where inotify cannot see the changes (it cannot be initialised, the
//! directory is on a network or cluster file system, where other machines'
//! changes make no events, or `DAOS_RS_NOTIFY=poll`), a watch is *polled*:
//! the same thread calls its callback every `DAOS_RS_POLL_MS` milliseconds
//! (default 100). Only then does the thread wake on a timeout; with no polled
//! watch it sleeps until an event or a wake-up.
//!
//! A callback that the thread has already picked up may still run once just
//! after its guard is dropped: callbacks must hold only weak references to
//! what they inspect, and tolerate being called for nothing.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::base::fork::PerFork;

/// What a watch calls when its file may have changed.
pub type Callback = Arc<dyn Fn() + Send + Sync>;

/// Default interval of polled watches, in milliseconds (`DAOS_RS_POLL_MS`).
pub(crate) const DEFAULT_POLL_MS: u64 = 100;
/// Largest accepted `DAOS_RS_POLL_MS` (one minute).
pub(crate) const MAX_POLL_MS: u64 = 60_000;

/// Events on a watched directory that concern one of its files.
const FILE_EVENTS: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_CLOSE_WRITE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_ATTRIB;

/// How the notifier learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Config {
    /// `DAOS_RS_NOTIFY=poll`: every watch is polled.
    pub(crate) force_poll: bool,
    /// Interval of polled watches.
    pub(crate) interval: Duration,
}

/// `DAOS_RS_NOTIFY`: whether polling is forced, and a warning for a value
/// that is neither `inotify` nor `poll`.
pub(crate) fn parse_mode(v: Option<&str>) -> (bool, Option<String>) {
    match v.map(str::trim) {
        None | Some("") | Some("inotify") => (false, None),
        Some("poll") => (true, None),
        Some(other) => (false, Some(format!("DAOS_RS_NOTIFY={other:?} is not inotify|poll; using inotify where it works"))),
    }
}

/// `DAOS_RS_POLL_MS`: the interval, and a warning for an invalid value.
pub(crate) fn parse_poll_ms(v: Option<&str>) -> (Duration, Option<String>) {
    let default = Duration::from_millis(DEFAULT_POLL_MS);
    let Some(v) = v else { return (default, None) };
    match v.trim().parse::<u64>() {
        Ok(ms) if (1..=MAX_POLL_MS).contains(&ms) => (Duration::from_millis(ms), None),
        _ => (
            default,
            Some(format!("DAOS_RS_POLL_MS={v:?} is not a number of milliseconds in 1..={MAX_POLL_MS}; using {DEFAULT_POLL_MS}")),
        ),
    }
}

impl Config {
    /// The configuration from the environment, read once per process (an
    /// invalid value is reported once).
    pub(crate) fn from_env() -> Config {
        static CONFIG: OnceLock<Config> = OnceLock::new();
        *CONFIG.get_or_init(|| {
            let (force_poll, w1) = parse_mode(std::env::var("DAOS_RS_NOTIFY").ok().as_deref());
            let (interval, w2) = parse_poll_ms(std::env::var("DAOS_RS_POLL_MS").ok().as_deref());
            for w in [w1, w2].into_iter().flatten() {
                crate::log!(Warn, "{w}");
            }
            Config { force_poll, interval }
        })
    }
}

/// The name of a file system on which inotify misses other machines'
/// changes, from its `statfs` magic number.
pub(crate) fn remote_fs_name(f_type: u32) -> Option<&'static str> {
    Some(match f_type {
        0x6969 => "NFS",
        0xFF53_4D42 => "CIFS",
        0xFE53_4D42 => "SMB2",
        0x0BD0_0BD0 => "Lustre",
        0x4750_4653 => "GPFS",
        0x00C3_6400 => "CephFS",
        0x6573_5546 => "FUSE",
        0x0102_1997 => "9P",
        0x1983_0326 => "BeeGFS",
        0x1998_0122 => "OrangeFS",
        0x5346_414F => "AFS",
        _ => return None,
    })
}

/// The remote (or cluster) file system `dir` is on, if any: one that other
/// machines change too (None also when `statfs` fails).
pub(crate) fn remote_fs_of(dir: &Path) -> Option<&'static str> {
    let c = CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    remote_fs(&c)
}

/// The remote file system `dir` is on, if any (None also when `statfs` fails:
/// inotify then decides).
fn remote_fs(dir: &CString) -> Option<&'static str> {
    // SAFETY: an all-zero statfs is a valid out-buffer.
    let mut sf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `dir` is a valid C string and `sf` a valid out-buffer for the call.
    if unsafe { libc::statfs(dir.as_ptr(), &mut sf) } != 0 {
        return None;
    }
    // The magic numbers are 32-bit; f_type is a signed long on 64-bit Linux.
    remote_fs_name(sf.f_type as u32)
}

/// One registered watch.
struct Watch {
    /// The inotify watch of its directory; None when polled, or detached
    /// after the kernel dropped the directory's watch.
    wd: Option<i32>,
    name: OsString,
    polled: bool,
    cb: Callback,
    /// Cleared when the guard goes, so a callback picked up meanwhile is skipped.
    live: Arc<AtomicBool>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    watches: std::collections::HashMap<u64, Watch>,
    /// Guards per inotify watch descriptor.
    dirs: std::collections::HashMap<i32, usize>,
    npolled: usize,
    /// When the polled watches are next due.
    next_poll: Option<Instant>,
    stop: bool,
}

/// The running half of a notifier: its descriptors, watches and thread.
struct Core {
    config: Config,
    /// None where inotify could not be initialised (every watch is polled).
    ino: Option<OwnedFd>,
    wake: OwnedFd,
    inner: Mutex<Inner>,
    /// Fork generation it was made in (see [`WatchGuard`]'s drop).
    fork_gen: u64,
}

/// A process's notifier (see the module documentation). Owned by
/// this module ([`watch`]); its thread starts with the first watch.
pub struct Notifier {
    config: Option<Config>,
    core: Mutex<Option<Arc<Core>>>,
}

impl Default for Notifier {
    /// A notifier configured from the environment when first used.
    fn default() -> Self {
        Notifier { config: None, core: Mutex::new(None) }
    }
}

/// Keeps a watch registered; dropping it unregisters the watch (and removes
/// the directory's inotify watch with its last guard).
pub struct WatchGuard {
    core: Arc<Core>,
    id: u64,
}

impl std::fmt::Debug for WatchGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchGuard").field("id", &self.id).finish()
    }
}

/// Watches the file `name` in `dir` with the process's notifier: `cb` runs on
/// the notifier thread after each change of it, until the guard is dropped.
/// None if the notifier cannot run (logged); the caller then learns of other
/// processes' changes only when it next looks.
pub fn watch(dir: &Path, name: &OsStr, cb: Callback) -> Option<WatchGuard> {
    static NOTIFIER: PerFork<Notifier> = PerFork::new();
    NOTIFIER.get(|_| Notifier::default()).watch(dir, name, cb)
}

impl Notifier {
    /// A notifier with a given configuration instead of the environment's.
    #[cfg(test)]
    pub(crate) fn with_config(config: Config) -> Notifier {
        Notifier { config: Some(config), core: Mutex::new(None) }
    }

    /// See [`watch`].
    pub fn watch(&self, dir: &Path, name: &OsStr, cb: Callback) -> Option<WatchGuard> {
        let core = self.core()?;
        let id = core.add(dir, name, cb);
        Some(WatchGuard { core, id })
    }

    /// The running core, made (descriptors and thread) on first use.
    fn core(&self) -> Option<Arc<Core>> {
        let mut slot = self.core.lock();
        if let Some(c) = slot.as_ref() {
            return Some(c.clone());
        }
        let config = self.config.unwrap_or_else(Config::from_env);
        // SAFETY: plain system call with constant flags.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            crate::log!(Error, "cannot create the notifier's eventfd ({}); no notifications of other processes' changes", std::io::Error::last_os_error());
            return None;
        }
        // SAFETY: `efd` is a new descriptor that nothing else owns.
        let wake = unsafe { OwnedFd::from_raw_fd(efd) };
        // SAFETY: plain system call with constant flags.
        let ifd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        let ino = if ifd >= 0 {
            // SAFETY: `ifd` is a new descriptor that nothing else owns.
            Some(unsafe { OwnedFd::from_raw_fd(ifd) })
        } else {
            crate::log!(
                Info,
                "inotify is not available ({}); changes by other processes are polled every {} ms",
                std::io::Error::last_os_error(),
                config.interval.as_millis()
            );
            None
        };
        let core = Arc::new(Core {
            config,
            ino,
            wake,
            inner: Mutex::new(Inner::default()),
            fork_gen: crate::base::fork::fork_gen(),
        });
        let c2 = core.clone();
        match std::thread::Builder::new().name("daos-rs-notify".into()).spawn(move || c2.run()) {
            Ok(_) => {
                *slot = Some(core.clone());
                Some(core)
            }
            Err(e) => {
                crate::log!(Error, "cannot start the notifier thread ({e}); no notifications of other processes' changes");
                None
            }
        }
    }
}

impl Drop for Notifier {
    /// Stops the thread (only notifiers made for tests are ever dropped, and
    /// a state that lost the race to be installed, which never started one).
    fn drop(&mut self) {
        if let Some(core) = self.core.get_mut().take() {
            core.inner.lock().stop = true;
            core.wake();
        }
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        // In a forked child the notifier (and its lock, which a thread of the
        // parent may have held at the fork) is the parent's: leave it alone.
        if crate::base::fork::fork_gen() != self.core.fork_gen {
            return;
        }
        self.core.remove(self.id);
    }
}

impl Core {
    fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our eventfd. A full
        // counter (EAGAIN) already means a wake-up is pending.
        unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    /// Registers a watch; returns its id.
    fn add(&self, dir: &Path, name: &OsStr, cb: Callback) -> u64 {
        let cdir = CString::new(dir.as_os_str().as_bytes()).ok();
        let mut why_poll: Option<String> = if self.config.force_poll {
            Some("DAOS_RS_NOTIFY=poll".into())
        } else if self.ino.is_none() {
            Some("inotify is not available".into())
        } else if cdir.is_none() {
            Some("the path holds a NUL byte".into())
        } else {
            cdir.as_ref().and_then(remote_fs).map(|fs| format!("the directory is on {fs}, where other machines' changes make no inotify events"))
        };
        let mut inner = self.inner.lock();
        let mut wd = None;
        if let (None, Some(ino), Some(c)) = (&why_poll, &self.ino, &cdir) {
            // Adding the same directory (inode) again returns its existing
            // watch descriptor, with the same mask.
            // SAFETY: `c` is a valid C string; `ino` is our inotify descriptor.
            let w = unsafe { libc::inotify_add_watch(ino.as_raw_fd(), c.as_ptr(), FILE_EVENTS | libc::IN_ONLYDIR) };
            if w >= 0 {
                *inner.dirs.entry(w).or_insert(0) += 1;
                wd = Some(w);
            } else {
                why_poll = Some(format!("inotify_add_watch failed: {}", std::io::Error::last_os_error()));
            }
        }
        let polled = wd.is_none();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.watches.insert(id, Watch { wd, name: name.to_os_string(), polled, cb, live: Arc::new(AtomicBool::new(true)) });
        let mut start_timer = false;
        if polled {
            inner.npolled += 1;
            if inner.next_poll.is_none() {
                inner.next_poll = Some(Instant::now() + self.config.interval);
                start_timer = true;
            }
        }
        drop(inner);
        if start_timer {
            self.wake();
        }
        let file = dir.join(name);
        match why_poll {
            None => crate::log!(Info, "watching {} with inotify", file.display()),
            Some(why) => crate::log!(
                Info,
                "watching {} by polling every {} ms ({why})",
                file.display(),
                self.config.interval.as_millis()
            ),
        }
        id
    }

    fn remove(&self, id: u64) {
        let mut inner = self.inner.lock();
        let Some(w) = inner.watches.remove(&id) else { return };
        w.live.store(false, Ordering::Release);
        if w.polled {
            inner.npolled -= 1;
            if inner.npolled == 0 {
                inner.next_poll = None;
            }
        }
        let Some(wd) = w.wd else { return };
        let last = match inner.dirs.get_mut(&wd) {
            Some(n) => {
                *n -= 1;
                *n == 0
            }
            None => false,
        };
        if last {
            inner.dirs.remove(&wd);
            if let Some(ino) = &self.ino {
                // SAFETY: removes a watch descriptor of our inotify descriptor;
                // a stale one only gives EINVAL.
                unsafe { libc::inotify_rm_watch(ino.as_raw_fd(), wd) };
            }
        }
    }

    /// How long `poll` may sleep: until the polled watches are due, or for
    /// ever (-1) when there are none.
    fn timeout_ms(inner: &Inner, now: Instant) -> i32 {
        match inner.next_poll {
            None => -1,
            Some(t) => {
                let d = t.saturating_duration_since(now);
                // Round up so that the wake-up is not before the deadline.
                (d.as_micros().div_ceil(1000)).min(i32::MAX as u128) as i32
            }
        }
    }

    /// The thread: sleeps in poll(2) on the inotify descriptor and the
    /// eventfd, maps events to callbacks, runs them without the lock.
    fn run(self: Arc<Self>) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let timeout = {
                let inner = self.inner.lock();
                if inner.stop {
                    return;
                }
                Core::timeout_ms(&inner, Instant::now())
            };
            let mut fds = [
                libc::pollfd { fd: self.wake.as_raw_fd(), events: libc::POLLIN, revents: 0 },
                // poll ignores a negative descriptor.
                libc::pollfd { fd: self.ino.as_ref().map_or(-1, |f| f.as_raw_fd()), events: libc::POLLIN, revents: 0 },
            ];
            // SAFETY: `fds` is a valid array of two pollfd for the call.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINTR) {
                    crate::log!(Error, "notifier: poll failed ({e})");
                    // Not a polling loop: only keeps a persistent failure from spinning.
                    std::thread::sleep(Duration::from_millis(100));
                }
                continue;
            }
            if fds[0].revents != 0 {
                let mut v = [0u8; 8];
                // SAFETY: reads at most 8 bytes into a live 8-byte buffer from our eventfd.
                unsafe { libc::read(self.wake.as_raw_fd(), v.as_mut_ptr().cast(), v.len()) };
            }
            let mut fire: Vec<(u64, Callback, Arc<AtomicBool>)> = Vec::new();
            if fds[1].revents != 0 {
                self.read_events(&mut buf, &mut fire);
            }
            {
                let mut inner = self.inner.lock();
                let now = Instant::now();
                if inner.next_poll.is_some_and(|t| t <= now) {
                    inner.next_poll = Some(now + self.config.interval);
                    for (&id, w) in inner.watches.iter().filter(|(_, w)| w.polled) {
                        push_once(&mut fire, id, w);
                    }
                }
            }
            for (_, cb, live) in fire {
                if !live.load(Ordering::Acquire) {
                    continue;
                }
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb())).is_err() {
                    crate::log!(Error, "internal error in a change notification");
                }
            }
        }
    }

    /// Reads every queued inotify event and adds the callbacks they concern.
    fn read_events(&self, buf: &mut [u8], fire: &mut Vec<(u64, Callback, Arc<AtomicBool>)>) {
        let Some(ino) = &self.ino else { return };
        loop {
            // SAFETY: reads into a live buffer of `buf.len()` bytes from our
            // inotify descriptor (non-blocking).
            let n = unsafe { libc::read(ino.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EINTR) => continue,
                        Some(libc::EAGAIN) => {}
                        _ => crate::log!(Error, "notifier: reading inotify events failed ({e})"),
                    }
                }
                return;
            }
            let mut inner = self.inner.lock();
            for ev in parse_events(&buf[..n as usize]) {
                if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                    crate::log!(Info, "notifier: inotify queue overflowed; every watch is called");
                    for (&id, w) in inner.watches.iter() {
                        push_once(fire, id, w);
                    }
                } else if ev.mask & libc::IN_IGNORED != 0 {
                    // The kernel dropped the directory's watch (directory
                    // removed, file system unmounted, or our own rm_watch).
                    if inner.dirs.remove(&ev.wd).is_some() {
                        for (&id, w) in inner.watches.iter_mut().filter(|(_, w)| w.wd == Some(ev.wd)) {
                            w.wd = None;
                            push_once(fire, id, w);
                        }
                    }
                } else if !ev.name.is_empty() {
                    for (&id, w) in inner.watches.iter() {
                        if w.wd == Some(ev.wd) && w.name.as_bytes() == ev.name {
                            push_once(fire, id, w);
                        }
                    }
                }
            }
        }
    }
}

fn push_once(fire: &mut Vec<(u64, Callback, Arc<AtomicBool>)>, id: u64, w: &Watch) {
    if !fire.iter().any(|f| f.0 == id) {
        fire.push((id, w.cb.clone(), w.live.clone()));
    }
}

/// One event as read from an inotify descriptor.
struct RawEvent<'a> {
    wd: i32,
    mask: u32,
    name: &'a [u8],
}

/// Splits a read of inotify events: each is `wd: i32, mask: u32, cookie: u32,
/// len: u32` then `len` bytes of NUL-padded name.
fn parse_events(mut b: &[u8]) -> Vec<RawEvent<'_>> {
    let mut out = Vec::new();
    while b.len() >= 16 {
        let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let Some(raw) = b.get(16..16 + len) else { break };
        let name = &raw[..raw.iter().position(|&c| c == 0).unwrap_or(raw.len())];
        out.push(RawEvent { wd, mask, name });
        b = &b[16 + len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::AtomicUsize;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("daos-rs-notify-{tag}-{}-{:x}", std::process::id(), crate::base::os::random_u64()));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn inotify_config() -> Config {
        Config { force_poll: false, interval: Duration::from_millis(DEFAULT_POLL_MS) }
    }

    fn counter() -> (Arc<AtomicUsize>, Callback) {
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        (n, Arc::new(move || {
            n2.fetch_add(1, Ordering::SeqCst);
        }))
    }

    /// Waits up to 2 s for the count to pass `above`.
    fn wait_above(n: &AtomicUsize, above: usize) -> bool {
        let end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < end {
            if n.load(Ordering::SeqCst) > above {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    fn replace(dir: &Path, name: &str, data: &[u8]) {
        crate::base::fs::atomic_write(&dir.join(name), data).unwrap();
    }

    fn mode_of(g: &WatchGuard) -> (Option<i32>, bool) {
        let inner = g.core.inner.lock();
        let w = &inner.watches[&g.id];
        (w.wd, w.polled)
    }

    #[test]
    fn fires_on_rename_over_and_delete_not_for_other_files() {
        let d = TempDir::new("rename");
        replace(&d.0, "f", b"1");
        let nf = Notifier::with_config(inotify_config());
        let (n, cb) = counter();
        let g = nf.watch(&d.0, OsStr::new("f"), cb).unwrap();
        let (wd, polled) = mode_of(&g);
        assert!(wd.is_some() && !polled, "a local directory is watched with inotify");
        // Another file of the directory (and the temporary files of
        // atomic_write) do not call it.
        replace(&d.0, "other", b"x");
        std::fs::remove_file(d.0.join("other")).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(n.load(Ordering::SeqCst), 0);
        // Replaced by rename.
        replace(&d.0, "f", b"2");
        assert!(wait_above(&n, 0), "rename over the file");
        std::thread::sleep(Duration::from_millis(50));
        let after_rename = n.load(Ordering::SeqCst);
        // Deleted.
        std::fs::remove_file(d.0.join("f")).unwrap();
        assert!(wait_above(&n, after_rename), "delete of the file");
        // Created and written in place.
        let c = n.load(Ordering::SeqCst);
        std::fs::write(d.0.join("f"), b"3").unwrap();
        assert!(wait_above(&n, c), "create of the file");
        drop(g);
    }

    #[test]
    fn dropping_the_guard_stops_callbacks_and_removes_the_watch() {
        let d = TempDir::new("drop");
        let nf = Notifier::with_config(inotify_config());
        let (n1, cb1) = counter();
        let (n2, cb2) = counter();
        let g1 = nf.watch(&d.0, OsStr::new("a"), cb1).unwrap();
        let g2 = nf.watch(&d.0, OsStr::new("b"), cb2).unwrap();
        let core = g1.core.clone();
        // One inotify watch for the directory, shared.
        assert_eq!(mode_of(&g1).0, mode_of(&g2).0);
        assert_eq!(core.inner.lock().dirs.values().copied().collect::<Vec<_>>(), vec![2]);
        drop(g1);
        replace(&d.0, "a", b"1");
        replace(&d.0, "b", b"1");
        assert!(wait_above(&n2, 0), "the other guard still works");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(n1.load(Ordering::SeqCst), 0, "a dropped guard's callback is not called");
        assert_eq!(core.inner.lock().dirs.values().copied().collect::<Vec<_>>(), vec![1]);
        drop(g2);
        assert!(core.inner.lock().dirs.is_empty(), "the last guard removes the inotify watch");
        let before = n2.load(Ordering::SeqCst);
        replace(&d.0, "b", b"2");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(n2.load(Ordering::SeqCst), before);
        // The directory can be watched again afterwards.
        let (n3, cb3) = counter();
        let _g3 = nf.watch(&d.0, OsStr::new("b"), cb3).unwrap();
        replace(&d.0, "b", b"3");
        assert!(wait_above(&n3, 0));
    }

    #[test]
    fn removed_directory_calls_once_and_detaches() {
        let d = TempDir::new("rmdir");
        let sub = d.0.join("sub");
        std::fs::create_dir(&sub).unwrap();
        let nf = Notifier::with_config(inotify_config());
        let (n, cb) = counter();
        let g = nf.watch(&sub, OsStr::new("f"), cb).unwrap();
        std::fs::remove_dir(&sub).unwrap();
        assert!(wait_above(&n, 0), "IN_IGNORED calls the directory's watches");
        let end = Instant::now() + Duration::from_secs(2);
        while mode_of(&g).0.is_some() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(mode_of(&g).0, None, "detached");
        assert!(g.core.inner.lock().dirs.is_empty());
        drop(g);
    }

    #[test]
    fn polled_watches_are_called_back_on_the_interval() {
        let d = TempDir::new("poll");
        let nf = Notifier::with_config(Config { force_poll: true, interval: Duration::from_millis(20) });
        let (n, cb) = counter();
        let g = nf.watch(&d.0, OsStr::new("f"), cb).unwrap();
        assert_eq!(mode_of(&g), (None, true));
        assert!(g.core.inner.lock().dirs.is_empty(), "no inotify watch for a polled guard");
        let start = Instant::now();
        assert!(wait_above(&n, 4), "called back repeatedly with nothing changing");
        assert!(start.elapsed() >= Duration::from_millis(80), "not faster than the interval");
        let core = g.core.clone();
        drop(g);
        // No polled watch left: the thread sleeps without a timeout.
        assert_eq!(Core::timeout_ms(&core.inner.lock(), Instant::now()), -1);
        std::thread::sleep(Duration::from_millis(30));
        let c = n.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(n.load(Ordering::SeqCst), c, "no calls after the guard is dropped");
    }

    #[test]
    fn a_panicking_callback_does_not_stop_the_thread() {
        let d = TempDir::new("panic");
        let nf = Notifier::with_config(inotify_config());
        let _g1 = nf.watch(&d.0, OsStr::new("p"), Arc::new(|| panic!("test panic in a callback"))).unwrap();
        replace(&d.0, "p", b"1");
        std::thread::sleep(Duration::from_millis(50));
        let (n, cb) = counter();
        let _g2 = nf.watch(&d.0, OsStr::new("q"), cb).unwrap();
        replace(&d.0, "q", b"1");
        assert!(wait_above(&n, 0));
    }

    #[test]
    fn settings_and_file_systems() {
        assert_eq!(parse_mode(None), (false, None));
        assert_eq!(parse_mode(Some("inotify")), (false, None));
        assert_eq!(parse_mode(Some("poll")), (true, None));
        let (p, w) = parse_mode(Some("fast"));
        assert!(!p && w.is_some());
        assert_eq!(parse_poll_ms(None), (Duration::from_millis(100), None));
        assert_eq!(parse_poll_ms(Some("25")), (Duration::from_millis(25), None));
        for bad in ["0", "-5", "abc", "", "60001"] {
            let (d, w) = parse_poll_ms(Some(bad));
            assert_eq!(d, Duration::from_millis(100), "{bad:?}");
            assert!(w.is_some(), "{bad:?} warns");
        }
        assert_eq!(remote_fs_name(0x6969), Some("NFS"));
        assert_eq!(remote_fs_name(0xFF53_4D42), Some("CIFS"));
        assert_eq!(remote_fs_name(0x6573_5546), Some("FUSE"));
        assert_eq!(remote_fs_name(0xEF53), None, "ext4 is local");
        assert_eq!(remote_fs_name(0x0102_1994), None, "tmpfs is local");
    }

    #[test]
    fn parses_event_records() {
        let mut b = Vec::new();
        for (wd, mask, name) in [(3i32, libc::IN_MOVED_TO, &b"meta"[..]), (4, libc::IN_Q_OVERFLOW, &b""[..])] {
            let len = if name.is_empty() { 0 } else { 16 };
            b.extend_from_slice(&wd.to_ne_bytes());
            b.extend_from_slice(&mask.to_ne_bytes());
            b.extend_from_slice(&0u32.to_ne_bytes());
            b.extend_from_slice(&(len as u32).to_ne_bytes());
            let mut n = name.to_vec();
            n.resize(len, 0);
            b.extend_from_slice(&n);
        }
        let ev = parse_events(&b);
        assert_eq!(ev.len(), 2);
        assert_eq!((ev[0].wd, ev[0].mask, ev[0].name), (3, libc::IN_MOVED_TO, &b"meta"[..]));
        assert_eq!((ev[1].wd, ev[1].mask, ev[1].name), (4, libc::IN_Q_OVERFLOW, &b""[..]));
        // A truncated record is not read past.
        assert_eq!(parse_events(&b[..20]).len(), 0);
    }
}
