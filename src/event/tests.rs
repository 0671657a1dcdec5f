//! Unit tests of the event core, on whichever engine the process selected
//! (`make test` runs them once with `DAOS_RS_IO_ENGINE=uring` and once with `threads`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::abi::types::{daos_event, DAOS_EV_COMPOUND, DAOS_EV_NOOP};

struct Ev(Box<daos_event>);

impl Ev {
    fn new() -> Ev {
        Ev(Box::default())
    }
    fn p(&mut self) -> EvPtr {
        // SAFETY: the boxed event outlives every use in the test, which
        // finalises it before dropping it.
        unsafe { EvPtr::new(&mut *self.0) }.unwrap()
    }
}

fn poll(eq: u64, wait_inf: bool, t: Timeout, max: usize) -> Vec<EvPtr> {
    let mut v = Vec::new();
    eq_poll(eq, wait_inf, t, max, &mut |_, e| v.push(e)).unwrap();
    v
}

fn noop(ev: EvPtr, us: u64) -> Result<()> {
    run_op(Some(ev), Box::new(NoopOp::new(us)))
}

#[test]
fn noop_round_trip_sets_type_and_error() {
    let eq = eq_create().unwrap();
    let mut e = Ev::new();
    event_init(e.p(), eq, None).unwrap();
    e.0.ev_error = 99;
    noop(e.p(), 0).unwrap();
    let got = poll(eq, false, Timeout::Forever, 4);
    assert_eq!(got, vec![e.p()]);
    assert_eq!(e.0.ev_type, DAOS_EV_NOOP);
    assert_eq!(e.0.ev_error, 0);
    // Reusable without a new init.
    noop(e.p(), 100).unwrap();
    assert_eq!(poll(eq, false, Timeout::Forever, 4).len(), 1);
    event_fini(e.p()).unwrap();
    assert_eq!(event_fini(e.p()).unwrap_err().errno(), libc::ENOENT);
    eq_destroy(eq).unwrap();
}

#[test]
fn completions_come_oldest_first() {
    let eq = eq_create().unwrap();
    let mut evs: Vec<Ev> = (0..3).map(|_| Ev::new()).collect();
    for e in evs.iter_mut() {
        event_init(e.p(), eq, None).unwrap();
    }
    noop(evs[0].p(), 30_000).unwrap();
    noop(evs[1].p(), 5_000).unwrap();
    noop(evs[2].p(), 15_000).unwrap();
    let mut order = Vec::new();
    while order.len() < 3 {
        order.extend(poll(eq, true, Timeout::Forever, 1));
    }
    assert_eq!(order, vec![evs[1].p(), evs[2].p(), evs[0].p()]);
    eq_destroy(eq).unwrap();
}

#[test]
fn abort_cancels_a_long_noop() {
    let eq = eq_create().unwrap();
    let mut e = Ev::new();
    event_init(e.p(), eq, None).unwrap();
    noop(e.p(), 5_000_000).unwrap();
    assert_eq!(eq_destroy(eq).unwrap_err().errno(), libc::EBUSY);
    let t = Instant::now();
    event_abort(e.p()).unwrap();
    assert_eq!(poll(eq, false, Timeout::Forever, 1).len(), 1);
    assert!(t.elapsed() < Duration::from_millis(500));
    assert_eq!(e.0.ev_error, -libc::EINTR);
    eq_destroy(eq).unwrap();
    assert_eq!(event_fini(e.p()).unwrap_err().errno(), libc::ENOENT);
}

#[test]
fn timeouts_and_wait_inf() {
    let eq = eq_create().unwrap();
    let t = Instant::now();
    assert!(poll(eq, true, Timeout::Forever, 1).is_empty());
    assert!(poll(eq, false, Timeout::NoWait, 1).is_empty());
    assert!(t.elapsed() < Duration::from_millis(100));
    let t = Instant::now();
    assert!(poll(eq, false, Timeout::Micros(50_000), 1).is_empty());
    assert!(t.elapsed() >= Duration::from_millis(50));
    eq_destroy(eq).unwrap();
}

#[test]
fn parent_completes_after_all_children() {
    let eq = eq_create().unwrap();
    let mut parent = Ev::new();
    let mut kids: Vec<Ev> = (0..3).map(|_| Ev::new()).collect();
    event_init(parent.p(), eq, None).unwrap();
    for k in kids.iter_mut() {
        event_init(k.p(), 0, Some(parent.p())).unwrap();
    }
    assert_eq!(event_next(parent.p(), None), Some(kids[0].p()));
    assert_eq!(event_next(parent.p(), Some(kids[2].p())), None);
    assert_eq!(noop(parent.p(), 0).unwrap_err().errno(), libc::EPERM);
    event_launch(kids[0].p()).unwrap();
    assert_eq!(parent.0.ev_type, DAOS_EV_COMPOUND);
    noop(kids[1].p(), 0).unwrap();
    event_launch(kids[2].p()).unwrap();
    event_complete(kids[2].p(), -libc::EIO).unwrap();
    assert!(poll(eq, false, Timeout::Micros(20_000), 4).is_empty(), "kid 0 still in flight");
    event_complete(kids[0].p(), -libc::ENOSPC).unwrap();
    assert_eq!(poll(eq, false, Timeout::Forever, 4), vec![parent.p()]);
    assert_eq!(parent.0.ev_error, -libc::EIO, "first error in completion order");
    // Everything is idle again: children may be dispatched anew.
    noop(kids[1].p(), 5_000_000).unwrap();
    assert_eq!(event_fini(parent.p()).unwrap_err().errno(), libc::EBUSY);
    event_launch(kids[0].p()).unwrap();
    event_launch(kids[2].p()).unwrap();
    event_abort(parent.p()).unwrap();
    event_complete(kids[0].p(), 0).unwrap();
    event_complete(kids[2].p(), 0).unwrap();
    assert_eq!(poll(eq, false, Timeout::Forever, 4), vec![parent.p()]);
    assert_eq!(kids[1].0.ev_error, -libc::EINTR);
    assert_eq!(parent.0.ev_error, -libc::EINTR);
    event_fini(parent.p()).unwrap();
    assert_eq!(event_fini(kids[1].p()).unwrap_err().errno(), libc::ENOENT);
    eq_destroy(eq).unwrap();
}

#[test]
fn many_pollers_get_each_completion_once() {
    const N: usize = 20_000;
    const POOL: usize = 64;
    let eq = eq_create().unwrap();
    let mut pool: Vec<Ev> = (0..POOL).map(|_| Ev::new()).collect();
    for e in pool.iter_mut() {
        event_init(e.p(), eq, None).unwrap();
    }
    let seen = Arc::new((0..POOL).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
    let got = Arc::new(AtomicUsize::new(0));
    let addrs: Vec<usize> = pool.iter_mut().map(|e| e.p().as_ptr() as usize).collect();
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    let pollers: Vec<_> = (0..4)
        .map(|_| {
            let (seen, got, addrs, tx) = (seen.clone(), got.clone(), addrs.clone(), tx.clone());
            std::thread::spawn(move || {
                while got.load(Ordering::SeqCst) < N {
                    let mut v = Vec::new();
                    eq_poll(eq, false, Timeout::Micros(2_000), 8, &mut |_, e| v.push(e.as_ptr() as usize))
                        .unwrap();
                    for a in v {
                        let i = addrs.iter().position(|&x| x == a).unwrap();
                        seen[i].fetch_add(1, Ordering::SeqCst);
                        got.fetch_add(1, Ordering::SeqCst);
                        tx.send(i).unwrap();
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut sent = 0;
    for e in pool.iter_mut() {
        noop(e.p(), 0).unwrap();
        sent += 1;
    }
    for i in rx.iter() {
        if sent < N {
            noop(pool[i].p(), 0).unwrap();
            sent += 1;
        }
        if got.load(Ordering::SeqCst) >= N {
            break;
        }
    }
    for p in pollers {
        p.join().unwrap();
    }
    let total: usize = seen.iter().map(|s| s.load(Ordering::SeqCst)).sum();
    assert_eq!(total, N);
    eq_destroy(eq).unwrap();
}

#[test]
fn synchronous_noop_waits() {
    let t = Instant::now();
    run_op(None, Box::new(NoopOp::new(20_000))).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(20));
}

#[test]
fn event_limit_and_liveness() {
    // Not through the environment: tests run in parallel in one process.
    let eq = eq_create().unwrap();
    find_eq(eq).unwrap().set_max_events(2);
    let (mut a, mut b, mut c) = (Ev::new(), Ev::new(), Ev::new());
    event_init(a.p(), eq, None).unwrap();
    assert_eq!(event_init(a.p(), eq, None).unwrap_err().errno(), libc::EALREADY);
    event_init(b.p(), eq, None).unwrap();
    assert_eq!(event_init(c.p(), eq, None).unwrap_err().errno(), libc::EMFILE);
    // A byte copy of a live event at another address is not that event.
    let mut copy = Ev(Box::new(*a.0));
    assert_eq!(event_fini(copy.p()).unwrap_err().errno(), libc::ENOENT);
    event_fini(b.p()).unwrap();
    event_init(c.p(), eq, None).unwrap();
    eq_destroy(eq).unwrap();
}

fn fd_readable(fd: i32, wait_ms: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, wait_ms) == 1 }
}

#[test]
fn dispatched_work_completes_without_a_poll() {
    let eq = eq_create().unwrap();
    let fd = eq_get_fd(eq).unwrap();
    let mut e = Ev::new();
    event_init(e.p(), eq, None).unwrap();
    noop(e.p(), 20_000).unwrap();
    // No library call until the fd says it is done.
    let t = Instant::now();
    while !fd_readable(fd, 100) {
        assert!(t.elapsed() < Duration::from_secs(60), "the noop never completed on its own");
    }
    assert_eq!(poll(eq, false, Timeout::NoWait, 1), vec![e.p()]);
    eq_destroy(eq).unwrap();
}

#[test]
fn a_plugged_eq_holds_operations_until_unplugged() {
    let eq = eq_create().unwrap();
    let fd = eq_get_fd(eq).unwrap();
    let mut evs: Vec<Ev> = (0..4).map(|_| Ev::new()).collect();
    eq_plug(eq).unwrap();
    for e in evs.iter_mut() {
        event_init(e.p(), eq, None).unwrap();
        noop(e.p(), 0).unwrap();
    }
    assert!(!fd_readable(fd, 200), "a plugged EQ handed a noop over");
    eq_unplug(eq).unwrap();
    let t = Instant::now();
    while !fd_readable(fd, 100) {
        assert!(t.elapsed() < Duration::from_secs(60), "the unplug did not hand the noops over");
    }
    let mut got = 0;
    while got < 4 {
        got += poll(eq, false, Timeout::Micros(1_000_000), 4).len();
    }
    eq_destroy(eq).unwrap();
    assert_eq!(eq_plug(eq).unwrap_err().errno(), libc::EBADF);
}

/// An operation that queues a delay, then fails (issue 11: a start that fails
/// part-way). Records when its request completed and when it was dropped.
struct PartlyStarted {
    seen: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

impl Op for PartlyStarted {
    fn ev_type(&self) -> crate::abi::types::daos_ev_type_t {
        DAOS_EV_NOOP
    }
    fn start(&mut self, sub: &mut Submit<'_>) -> Result<()> {
        sub.push(0, crate::engine::Req::Timeout(Duration::from_millis(150)))?;
        Err(Error::Inval("the second part is refused".into()))
    }
    fn on_cqe(&mut self, _tag: u8, _res: i32, _sub: &mut Submit<'_>) {
        self.seen.fetch_add(1, Ordering::SeqCst);
    }
    fn result(&self, _aborted: bool) -> i32 {
        0
    }
}

impl Drop for PartlyStarted {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_start_failing_part_way_reports_through_the_completion() {
    // With an event: the call succeeds, the operation (and what its queued
    // request uses) lives until that request completes, then the event
    // completes with the start's error.
    let eq = eq_create().unwrap();
    let mut e = Ev::new();
    event_init(e.p(), eq, None).unwrap();
    let (seen, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    run_op(Some(e.p()), Box::new(PartlyStarted { seen: seen.clone(), dropped: dropped.clone() })).unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 0, "the operation was freed with a request in the engine");
    assert_eq!(poll(eq, false, Timeout::NoWait, 4).len(), 0);
    assert_eq!(poll(eq, false, Timeout::Forever, 4), vec![e.p()]);
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(e.0.ev_error, -libc::EINVAL);
    event_fini(e.p()).unwrap();
    eq_destroy(eq).unwrap();

    // Without an event: the error is returned only after the request ended.
    let (seen, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let err = run_op(None, Box::new(PartlyStarted { seen: seen.clone(), dropped: dropped.clone() })).unwrap_err();
    assert_eq!(err.errno(), libc::EINVAL);
    assert_eq!(seen.load(Ordering::SeqCst), 1, "returned before the queued request completed");
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn an_operation_beside_runs_while_the_thread_makes_synchronous_calls() {
    // A 50 ms noop started beside, then ten synchronous 1 ms noops on the
    // same thread's private EQ: each runs and returns while the one beside
    // is still under way, which is then waited for.
    let t0 = Instant::now();
    let b = start_beside(Box::new(NoopOp::new(50_000))).unwrap();
    for _ in 0..10 {
        run_op(None, Box::new(NoopOp::new(1_000))).unwrap();
    }
    let sync_done = t0.elapsed();
    b.wait().unwrap();
    let all_done = t0.elapsed();
    assert!(all_done >= Duration::from_millis(50), "{all_done:?}");
    assert!(sync_done >= Duration::from_millis(10), "{sync_done:?}");
    // Dropping it waits for it too; the next one starts afresh.
    let t1 = Instant::now();
    drop(start_beside(Box::new(NoopOp::new(20_000))).unwrap());
    assert!(t1.elapsed() >= Duration::from_millis(20));
    start_beside(Box::new(NoopOp::new(0))).unwrap().wait().unwrap();
}
