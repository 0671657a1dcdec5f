//! The metadata pool: the threads that run asynchronous metadata calls (open,
//! close, query, commit, shard add, list, snapshot, flush, object open and
//! close, sys calls...).
//!
//! Each call has a [`MetaKey`], normally its container's. Calls with one key
//! run one at a time, in the order they were made; calls with different keys
//! run in parallel. A key with calls waiting is one entry in a crossbeam
//! channel; a worker that takes it runs that key's calls until none is left.
//! The pool grows on demand (a new worker whenever more keys wait than
//! workers are idle) up to [`MAX_WORKERS`], so one slow container does not
//! hold back another; a worker idle for [`IDLE_EXIT`] exits. The pool lives in
//! the process state, so a forked child builds its own.
//!
//! A job that completes an event whose completion callback is registered
//! leaves the callback to run after the worker has handed the key on (to
//! another worker if calls wait behind it): a callback that makes another
//! asynchronous call on the same container and waits for it would otherwise
//! wait for itself (see [`defer_callbacks`]).

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

/// A metadata call to run on the pool.
pub type MetaJob = Box<dyn FnOnce() + Send>;

/// Most threads the pool runs at once.
pub(crate) const MAX_WORKERS: usize = 16;
/// How long an idle worker stays.
const IDLE_EXIT: Duration = Duration::from_secs(5);

/// What orders asynchronous metadata calls: calls with equal keys run in
/// call order, one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetaKey(u64);

impl MetaKey {
    /// The key of a container (or store) at `path`, as the library names it
    /// (absolute, parent resolved). Two paths naming one file through
    /// different links may get different keys; calls then only lose their
    /// mutual order, never their own effect.
    pub fn path(path: &std::path::Path) -> MetaKey {
        let mut h = DefaultHasher::new();
        1u8.hash(&mut h);
        path.hash(&mut h);
        MetaKey(h.finish())
    }

    /// A key of its own: ordered with nothing else.
    pub fn unordered() -> MetaKey {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut h = DefaultHasher::new();
        2u8.hash(&mut h);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed).hash(&mut h);
        MetaKey(h.finish())
    }
}

struct State {
    /// Calls waiting, per key; a key is here while a worker runs its calls or
    /// it waits in the channel.
    queues: HashMap<MetaKey, VecDeque<MetaJob>>,
    workers: usize,
    idle: usize,
}

struct Inner {
    st: Mutex<State>,
    tx: Sender<MetaKey>,
    rx: Receiver<MetaKey>,
}

/// The process's metadata pool; its threads start on first use.
pub struct MetaPool {
    inner: Arc<Inner>,
}

impl Default for MetaPool {
    fn default() -> MetaPool {
        let (tx, rx) = crossbeam_channel::unbounded();
        MetaPool {
            inner: Arc::new(Inner {
                st: Mutex::new(State { queues: HashMap::new(), workers: 0, idle: 0 }),
                tx,
                rx,
            }),
        }
    }
}

impl MetaPool {
    /// Runs `job` after the calls already submitted with `key`.
    pub fn submit(&self, key: MetaKey, job: MetaJob) {
        let inner = &self.inner;
        let mut st = inner.st.lock();
        if let Some(q) = st.queues.get_mut(&key) {
            q.push_back(job);
            return;
        }
        st.queues.insert(key, VecDeque::from([job]));
        // Cannot fail: `inner` holds the receiver.
        let _ = inner.tx.send(key);
        if !grow(inner, &mut st) && st.workers == 0 {
            // No thread at all: run the key's calls here.
            let q = st.queues.remove(&key);
            let _ = inner.rx.try_recv();
            drop(st);
            for job in q.into_iter().flatten() {
                run(job);
            }
        }
    }
}

/// Starts a worker if more keys wait than workers are idle. Returns false if
/// one was needed and could not be started.
fn grow(inner: &Arc<Inner>, st: &mut State) -> bool {
    if st.idle >= inner.rx.len() || st.workers >= MAX_WORKERS {
        return true;
    }
    st.workers += 1;
    st.idle += 1;
    let me = inner.clone();
    match std::thread::Builder::new().name("daos-rs-meta".into()).spawn(move || work(me)) {
        Ok(_) => true,
        Err(e) => {
            st.workers -= 1;
            st.idle -= 1;
            crate::log!(Error, "cannot start a metadata thread ({e})");
            false
        }
    }
}

thread_local! {
    /// Inside a job of a pool worker: the EQs whose completion callbacks
    /// wait to run until the worker has handed its key on.
    static DEFERRED: RefCell<Option<Vec<Arc<super::Eq>>>> = const { RefCell::new(None) };
}

/// Called by an EQ that completed an event from a job of this pool: its
/// completion callbacks are to run after the worker has handed the job's key
/// on, so a callback that waits for a later call with the same key (an
/// asynchronous call on the same container, then `daos_event_test(ev, -1)`)
/// does not wait for itself. `Err` gives the EQ back when the calling thread
/// is not a worker in a job (it then runs them at once).
pub(super) fn defer_callbacks(eq: Arc<super::Eq>) -> Result<(), Arc<super::Eq>> {
    DEFERRED.with(|d| match d.try_borrow_mut() {
        Ok(mut d) => match d.as_mut() {
            Some(v) => {
                if !v.iter().any(|e| Arc::ptr_eq(e, &eq)) {
                    v.push(eq);
                }
                Ok(())
            }
            None => Err(eq),
        },
        Err(_) => Err(eq),
    })
}

fn run(job: MetaJob) {
    // A panic in one call must not end the thread.
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
        crate::log!(Error, "internal error in an asynchronous metadata call");
    }
}

fn work(inner: Arc<Inner>) {
    loop {
        let key = match inner.rx.recv_timeout(IDLE_EXIT) {
            Ok(k) => k,
            Err(RecvTimeoutError::Timeout) => {
                let mut st = inner.st.lock();
                if inner.rx.is_empty() {
                    st.workers -= 1;
                    st.idle -= 1;
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        {
            let mut st = inner.st.lock();
            st.idle -= 1;
            grow(&inner, &mut st);
        }
        loop {
            let job = {
                let mut st = inner.st.lock();
                let q = st.queues.get_mut(&key).expect("a key in the channel has a queue");
                match q.pop_front() {
                    Some(j) => j,
                    None => {
                        st.queues.remove(&key);
                        st.idle += 1;
                        break;
                    }
                }
            };
            DEFERRED.with(|d| *d.borrow_mut() = Some(Vec::new()));
            run(job);
            let deferred = DEFERRED.with(|d| d.borrow_mut().take()).unwrap_or_default();
            if deferred.is_empty() {
                continue;
            }
            // Completion callbacks to run: hand the key on first (to another
            // worker if calls wait behind it), then run them, then go back
            // to the channel.
            {
                let mut st = inner.st.lock();
                let more = st.queues.get(&key).is_some_and(|q| !q.is_empty());
                if more {
                    // Cannot fail: `inner` holds the receiver.
                    let _ = inner.tx.send(key);
                    grow(&inner, &mut st);
                } else {
                    st.queues.remove(&key);
                }
            }
            for eq in deferred {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| eq.run_deferred_callbacks())).is_err() {
                    crate::log!(Error, "internal error running completion callbacks");
                }
            }
            inner.st.lock().idle += 1;
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_key_in_order_other_keys_beside() {
        let pool = MetaPool::default();
        let a = MetaKey::path(std::path::Path::new("/a"));
        let b = MetaKey::path(std::path::Path::new("/b"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
        // `a` blocks until `b` has run: b must not wait behind a.
        {
            let log = log.clone();
            pool.submit(a, Box::new(move || {
                release_rx.recv_timeout(Duration::from_secs(30)).expect("b ran beside a");
                log.lock().push("a1");
            }));
        }
        for name in ["a2", "a3"] {
            let log = log.clone();
            pool.submit(a, Box::new(move || log.lock().push(name)));
        }
        let done = Arc::new(AtomicUsize::new(0));
        {
            let (log, done) = (log.clone(), done.clone());
            pool.submit(b, Box::new(move || {
                log.lock().push("b1");
                release_tx.send(()).unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        let t = std::time::Instant::now();
        while log.lock().len() < 4 {
            assert!(t.elapsed() < Duration::from_secs(60), "pool stalled: {:?}", log.lock());
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(*log.lock(), vec!["b1", "a1", "a2", "a3"]);
    }
}
