/* Events: init/fini, reuse, noop, abort, unknown events, daos_event_test,
 * launch/complete, completion callbacks, version, concurrent misuse.
 * SPEC §1, §3, §12; contract /tmp/contract/API.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000

static daos_handle_t eqh; /* one EQ shared by most tests */

static void ev_init(struct daos_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    CHECK_RC(daos_event_init(ev, eqh, NULL), 0);
}

/* poll exactly one event, waiting up to 5 s; returns it (NULL if none) */
static struct daos_event *poll1(void)
{
    struct daos_event *evs[1] = { NULL };
    int rc = daos_eq_poll(eqh, 0, 5 * SEC, 1, evs);
    CHECK_EQ(rc, 1);
    return rc == 1 ? evs[0] : NULL;
}

static int poll_nowait(void)
{
    struct daos_event *evs[8];
    return daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 8, evs);
}

/* wait until `n` events of the EQ have completed (without polling them) */
static int wait_completed(int n)
{
    int64_t deadline = now_us() + 5 * SEC;
    int rc;
    while ((rc = daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL)) < n && now_us() < deadline)
        sleep_us(1 * MS);
    return rc;
}

/* ------------------------------------------------------------------ */

static void test_init_fini(void)
{
    struct daos_event ev;
    ev_init(&ev);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), -EALREADY);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_event_fini(&ev), -ENOENT);
    /* init again after fini */
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), -EALREADY);
    CHECK_RC(daos_event_fini(&ev), 0);

    /* init does not need a zeroed struct: a finalised one with stale bytes works */
    memset(&ev.ev_private, 0xab, sizeof(ev.ev_private));
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_fini(&ev), 0);

    /* fini while in flight: -EBUSY, nothing changes */
    ev_init(&ev);
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_event_fini(&ev), -EBUSY);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    CHECK_RC(daos_event_complete(&ev, 0), 0);
    /* fini of a COMPLETE, unpolled event: removed silently */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL), 1);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(poll_nowait(), 0);

    /* same with a noop that completed by itself */
    ev_init(&ev);
    CHECK_RC(daos_noop(&ev, 0), 0);
    CHECK_EQ(wait_completed(1), 1);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(poll_nowait(), 0);
    struct daos_event *evs[1];
    CHECK_RC(daos_eq_poll(eqh, 0, 100 * MS, 1, evs), 0);

    /* fini with a 300 ms noop in flight */
    ev_init(&ev);
    CHECK_RC(daos_noop(&ev, 300 * MS), 0);
    CHECK_RC(daos_event_fini(&ev), -EBUSY);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_RC(daos_event_fini(&ev), 0);
}

static void test_reuse(void)
{
    struct daos_event ev;
    ev_init(&ev);
    for (int i = 0; i < 5; i++) {
        ev.ev_error = 777;
        ev.ev_type = 12345;
        CHECK_RC(daos_noop(&ev, (uint64_t)i * MS), 0);
        CHECK_EQ(ev.ev_type, DAOS_EV_NOOP); /* set on dispatch */
        CHECK_PTR_EQ(poll1(), &ev);
        CHECK_EQ(ev.ev_error, 0);
        CHECK_EQ(ev.ev_type, DAOS_EV_NOOP);
    }
    /* alternate with user events */
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_USER);
    CHECK_RC(daos_event_complete(&ev, -ENOSPC), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, -ENOSPC);
    CHECK_RC(daos_noop(&ev, 0), 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_NOOP);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_RC(daos_event_fini(&ev), 0);
}

static void test_busy(void)
{
    struct daos_event ev;
    ev_init(&ev);
    CHECK_RC(daos_noop(&ev, 300 * MS), 0);
    CHECK_RC(daos_noop(&ev, 0), -EBUSY);
    CHECK_RC(daos_event_launch(&ev), -EBUSY);
    CHECK_EQ(ev.ev_type, DAOS_EV_NOOP);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_RC(poll_nowait(), 0); /* the refused calls queued nothing */

    /* COMPLETE but not yet polled is not NONE either */
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_event_launch(&ev), -EBUSY);
    CHECK_RC(daos_event_complete(&ev, 0), 0);
    CHECK_RC(daos_noop(&ev, 0), -EBUSY);
    CHECK_RC(daos_event_launch(&ev), -EBUSY);
    CHECK_EQ(ev.ev_type, DAOS_EV_USER);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_RC(poll_nowait(), 0);
    CHECK_RC(daos_event_fini(&ev), 0);
}

static void test_abort(void)
{
    struct daos_event ev;
    ev_init(&ev);

    /* idle: 0, no effect */
    CHECK_RC(daos_event_abort(&ev), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(poll_nowait(), 0);

    /* a 5 s noop already handed to the kernel */
    CHECK_RC(daos_noop(&ev, 5 * SEC), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    sleep_us(20 * MS);
    int64_t t0 = now_us();
    CHECK_RC(daos_event_abort(&ev), 0);
    CHECK_RC(daos_event_abort(&ev), 0); /* again while in ABORT: still 0 */
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK(now_us() - t0 < 500 * MS);
    CHECK_EQ(ev.ev_error, -EINTR);
    CHECK_EQ(ev.ev_type, DAOS_EV_NOOP);

    /* a 5 s noop not yet submitted (no poll since the dispatch) */
    CHECK_RC(daos_noop(&ev, 5 * SEC), 0);
    t0 = now_us();
    CHECK_RC(daos_event_abort(&ev), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK(now_us() - t0 < 500 * MS);
    CHECK_EQ(ev.ev_error, -EINTR);

    /* abort while another thread is blocked polling is tested in test_eq/test_threads;
     * after an abort the event is reusable and completes normally */
    CHECK_RC(daos_noop(&ev, 0), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, 0);

    /* a completed, unpolled event: abort is a no-op and keeps its result */
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_event_complete(&ev, -EIO), 0);
    CHECK_RC(daos_event_abort(&ev), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, -EIO);

    /* a user event in flight: abort either completes it with -EINTR or leaves it
     * to the user's daos_event_complete; either way it is polled exactly once */
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_event_abort(&ev), 0);
    int inflight = daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL);
    int completed = daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL);
    CHECK_EQ(inflight + completed, 1);
    if (inflight == 1)
        CHECK_RC(daos_event_complete(&ev, 0), 0);
    else
        CHECK_RC(daos_event_complete(&ev, 0), -EINVAL);
    CHECK_PTR_EQ(poll1(), &ev);
    if (inflight == 1)
        CHECK(ev.ev_error == 0 || ev.ev_error == -EINTR);
    else
        CHECK_EQ(ev.ev_error, -EINTR);
    CHECK_RC(poll_nowait(), 0);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
}

static _Atomic int never_calls;
static int never_cb(void *arg, struct daos_event *ev, int rc)
{
    (void)arg; (void)ev; (void)rc;
    never_calls++;
    return 0;
}

static void test_null_and_unknown(void)
{
    CHECK_RC(daos_event_abort(NULL), -EINVAL);
    CHECK_RC(daos_event_fini(NULL), -EINVAL);
    CHECK_RC(daos_event_init(NULL, eqh, NULL), -EINVAL);
    CHECK_RC(daos_event_launch(NULL), -EINVAL);
    CHECK_RC(daos_event_complete(NULL, 0), -EINVAL);
    CHECK_PTR_EQ(daos_event_next(NULL, NULL), NULL);
    bool done = false;
    CHECK_RC(daos_event_test(NULL, 0, &done), -EINVAL);
    CHECK_EQ(done, false);

    /* daos_noop(NULL): synchronous, sleeps, returns 0 */
    int64_t t0 = now_us();
    CHECK_RC(daos_noop(NULL, 50 * MS), 0);
    CHECK(now_us() - t0 >= 50 * MS);
    CHECK(now_us() - t0 < 2 * SEC);
    CHECK_RC(daos_noop(NULL, 0), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);

    /* unknown events: zeroed, random garbage, copies of live events, stale copies */
    struct daos_event zero, live, copy;
    memset(&zero, 0, sizeof(zero));
    ev_init(&live);
    struct daos_event *evs[1];
    srand(12345);
    for (int i = 0; i < 300; i++) {
        struct daos_event u;
        if (i == 0) {
            u = zero;
        } else if (i < 8) {
            u = live; /* a copy at another address, one word garbled */
            u.ev_private.space[i - 1] ^= ((uint64_t)rand() << 32) | (uint64_t)rand() | 1;
        } else if (i == 8) {
            u = live; /* an exact copy at another address */
        } else {
            unsigned char *p = (unsigned char *)&u;
            for (size_t k = 0; k < sizeof(u); k++) p[k] = (unsigned char)rand();
        }
        struct daos_event saved = u;
        bool d = true;
        CHECK_RC(daos_event_fini(&u), -ENOENT);
        CHECK_RC(daos_event_abort(&u), -ENOENT);
        CHECK_RC(daos_noop(&u, 0), -ENOENT);
        CHECK_RC(daos_noop(&u, 10 * SEC), -ENOENT);
        CHECK_RC(daos_event_launch(&u), -ENOENT);
        CHECK_RC(daos_event_complete(&u, 0), -ENOENT);
        CHECK_RC(daos_event_test(&u, 0, &d), -ENOENT);
        CHECK_EQ(d, true);
        CHECK_RC(daos_event_register_comp_cb(&u, never_cb, NULL), -ENOENT);
        CHECK_PTR_EQ(daos_event_next(&u, NULL), NULL);
        CHECK_PTR_EQ(daos_event_next(&live, &u), NULL);
        CHECK(memcmp(&u, &saved, sizeof(u)) == 0); /* never written */
        /* an unknown struct as a parent */
        struct daos_event child;
        memset(&child, 0, sizeof(child));
        CHECK_RC(daos_event_init(&child, eqh, &u), -ENOENT);
        CHECK_RC(daos_event_fini(&child), -ENOENT);
    }
    /* nothing was dispatched by any of that */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, 20 * MS, 1, evs), 0);

    /* an exact copy of a live event can be initialised (it is a different event) */
    copy = live;
    CHECK_RC(daos_event_init(&copy, eqh, NULL), 0);
    CHECK_RC(daos_event_fini(&copy), 0);
    CHECK_RC(daos_event_fini(&copy), -ENOENT);

    /* the live event was unharmed */
    CHECK_RC(daos_noop(&live, 0), 0);
    CHECK_PTR_EQ(poll1(), &live);
    CHECK_EQ(live.ev_error, 0);

    /* a stale copy: bytes of an event taken while live, after fini and slot reuse */
    struct daos_event stale = live;
    CHECK_RC(daos_event_fini(&live), 0);
    struct daos_event again;
    ev_init(&again);
    CHECK_RC(daos_event_fini(&stale), -ENOENT);
    CHECK_RC(daos_noop(&stale, 0), -ENOENT);
    /* and the same struct re-initialised gives a new event; stale bytes of it are dead */
    ev_init(&live);
    memcpy(&stale, &live, sizeof(live));
    CHECK_RC(daos_event_fini(&live), 0);
    memcpy(&live, &stale, sizeof(live)); /* the old bytes back at the same address */
    CHECK_RC(daos_event_fini(&live), -ENOENT);
    CHECK_RC(daos_noop(&live, 0), -ENOENT);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(daos_event_fini(&again), 0);
    CHECK_EQ(never_calls, 0);
}

/* ------------------------------------------------------------------ */

static void test_event_test(void)
{
    struct daos_event ev;
    bool done;
    ev_init(&ev);

    done = false;
    CHECK_RC(daos_event_test(&ev, 0, &done), 0); /* NONE → done */
    CHECK_EQ(done, true);
    done = false;
    CHECK_RC(daos_event_test(&ev, DAOS_EQ_WAIT, &done), 0); /* NONE, -1: no blocking */
    CHECK_EQ(done, true);

    /* in flight */
    CHECK_RC(daos_noop(&ev, 300 * MS), 0);
    done = true;
    int64_t t0 = now_us();
    CHECK_RC(daos_event_test(&ev, 0, &done), 0);
    CHECK_EQ(done, false);
    CHECK(now_us() - t0 < 100 * MS);
    done = true;
    t0 = now_us();
    CHECK_RC(daos_event_test(&ev, 30 * MS, &done), 0);
    CHECK_EQ(done, false);
    CHECK(now_us() - t0 >= 30 * MS);
    done = false;
    CHECK_RC(daos_event_test(&ev, DAOS_EQ_WAIT, &done), 0);
    CHECK_EQ(done, true);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_NOOP);
    /* taken out: poll does not return it, query does not count it */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(poll_nowait(), 0);
    /* and it is NONE: reusable */
    CHECK_RC(daos_noop(&ev, 20 * MS), 0);
    done = false;
    t0 = now_us();
    CHECK_RC(daos_event_test(&ev, 5 * SEC, &done), 0); /* returns when done, not at 5 s */
    CHECK_EQ(done, true);
    CHECK(now_us() - t0 < 2 * SEC);
    CHECK_RC(poll_nowait(), 0);

    /* COMPLETE, unpolled */
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_event_complete(&ev, -EIO), 0);
    done = false;
    CHECK_RC(daos_event_test(&ev, 0, &done), 0);
    CHECK_EQ(done, true);
    CHECK_EQ(ev.ev_error, -EIO);
    CHECK_RC(poll_nowait(), 0);

    /* argument errors */
    done = false;
    CHECK_RC(daos_event_test(&ev, 0, NULL), -EINVAL);
    CHECK_RC(daos_event_test(&ev, -2, &done), -EINVAL);
    CHECK_RC(daos_event_test(&ev, INT64_MIN, &done), -EINVAL);
    CHECK_EQ(done, false);

    /* a child: -EPERM */
    struct daos_event parent, child;
    ev_init(&parent);
    memset(&child, 0, sizeof(child));
    CHECK_RC(daos_event_init(&child, eqh, &parent), 0);
    done = false;
    CHECK_RC(daos_event_test(&child, 0, &done), -EPERM);
    CHECK_EQ(done, false);
    CHECK_RC(daos_event_fini(&parent), 0);
    CHECK_RC(daos_event_fini(&ev), 0);
}

/* ------------------------------------------------------------------ */

static void test_launch_complete(void)
{
    struct daos_event ev;
    ev_init(&ev);
    CHECK_RC(daos_event_complete(&ev, 0), -EINVAL); /* not in flight */
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_USER);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    CHECK_RC(daos_event_launch(&ev), -EBUSY);
    CHECK_RC(daos_event_complete(&ev, 1), -EINVAL);
    CHECK_RC(daos_event_complete(&ev, 0x7fffffff), -EINVAL);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1); /* still in flight */
    CHECK_RC(daos_event_complete(&ev, -EIO), 0);
    CHECK_RC(daos_event_complete(&ev, 0), -EINVAL); /* already complete */
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, -EIO);
    CHECK_RC(daos_event_complete(&ev, 0), -EINVAL); /* NONE again */

    /* a user event stays in flight until completed: poll times out */
    CHECK_RC(daos_event_launch(&ev), 0);
    struct daos_event *evs[1];
    CHECK_RC(daos_eq_poll(eqh, 0, 50 * MS, 1, evs), 0);
    CHECK_RC(daos_event_complete(&ev, 0), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, 0);

    /* completing an event the library dispatched */
    CHECK_RC(daos_noop(&ev, 200 * MS), 0);
    CHECK_RC(daos_event_complete(&ev, 0), -EPERM);
    CHECK_RC(daos_event_complete(&ev, -EIO), -EPERM);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, 0);

    /* a large negative rc is passed through */
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_event_complete(&ev, -100000), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, -100000);
    CHECK_RC(daos_event_fini(&ev), 0);
}

struct completer {
    struct daos_event *ev;
    int64_t delay;
    _Atomic int64_t t_complete;
    int rc;
};

static void *completer_thread(void *arg)
{
    struct completer *c = arg;
    sleep_us(c->delay);
    c->t_complete = now_us();
    c->rc = daos_event_complete(c->ev, -ETIMEDOUT);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_complete_wakes_poller(void)
{
    struct daos_event ev;
    ev_init(&ev);
    enum { ROUNDS = 7 };
    int64_t lat[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        CHECK_RC(daos_event_launch(&ev), 0);
        struct completer c = { &ev, 80 * MS, 0, 1 };
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, completer_thread, &c), 0);
        struct daos_event *evs[1] = { NULL };
        /* alternate DAOS_EQ_WAIT and a long finite timeout */
        int rc = daos_eq_poll(eqh, 0, (r & 1) ? 20 * SEC : DAOS_EQ_WAIT, 1, evs);
        int64_t t1 = now_us();
        pthread_join(th, NULL);
        CHECK_RC(rc, 1);
        CHECK_RC(c.rc, 0);
        CHECK_PTR_EQ(evs[0], &ev);
        CHECK_EQ(ev.ev_error, -ETIMEDOUT);
        lat[r] = t1 - c.t_complete;
        CHECK(lat[r] < 500 * MS); /* each one: generous, noisy VM */
    }
    qsort(lat, ROUNDS, sizeof(lat[0]), cmp_i64);
    printf("   wake-up latency after daos_event_complete: min %lld us, median %lld us, max %lld us\n",
           (long long)lat[0], (long long)lat[ROUNDS / 2], (long long)lat[ROUNDS - 1]);
    CHECK(lat[ROUNDS / 2] < 50 * MS);
    CHECK_RC(daos_event_fini(&ev), 0);
}

/* ------------------------------------------------------------------ */

struct cb_state {
    _Atomic int calls;
    struct daos_event *seen_ev;
    void *seen_arg;
    int seen_rc;
    int ret;             /* what the callback returns */
    int query_completed; /* daos_eq_query(COMPLETED) from inside the callback */
    int query_all;
    int poll_rc;         /* daos_eq_poll(NOWAIT) from inside the callback */
};

static int comp_cb(void *arg, struct daos_event *ev, int rc)
{
    struct cb_state *s = arg;
    s->calls++;
    s->seen_ev = ev;
    s->seen_arg = arg;
    s->seen_rc = rc;
    /* library calls from the callback must not deadlock */
    s->query_completed = daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL);
    s->query_all = daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL);
    struct daos_event *evs[1];
    s->poll_rc = daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 1, evs); /* nothing pollable yet */
    return s->ret;
}

static void test_comp_cb(void)
{
    struct daos_event ev;
    ev_init(&ev);

    /* noop: called once, with rc 0, before the event is pollable */
    struct cb_state s = { 0 };
    CHECK_RC(daos_event_register_comp_cb(&ev, comp_cb, &s), 0);
    CHECK_EQ(s.calls, 0);
    CHECK_RC(daos_noop(&ev, 10 * MS), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(s.calls, 1);
    CHECK_PTR_EQ(s.seen_ev, &ev);
    CHECK_PTR_EQ(s.seen_arg, &s);
    CHECK_EQ(s.seen_rc, 0);
    CHECK_EQ(s.query_completed, 0); /* not yet pollable while the callback ran */
    CHECK_RC(s.poll_rc, 0);
    CHECK(s.query_all >= 0);        /* the call worked from inside the callback */
    CHECK_EQ(ev.ev_error, 0);
    /* only the next completion */
    CHECK_RC(daos_noop(&ev, 0), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(s.calls, 1);

    /* a non-zero return replaces a zero rc */
    struct cb_state s2 = { 0 };
    s2.ret = -ECANCELED;
    CHECK_RC(daos_event_register_comp_cb(&ev, comp_cb, &s2), 0);
    CHECK_RC(daos_noop(&ev, 0), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(s2.calls, 1);
    CHECK_EQ(s2.seen_rc, 0);
    CHECK_EQ(ev.ev_error, -ECANCELED);

    /* ... but not a non-zero rc */
    struct cb_state s3 = { 0 };
    s3.ret = -ECANCELED;
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_event_register_comp_cb(&ev, comp_cb, &s3), 0); /* while in flight */
    CHECK_RC(daos_event_complete(&ev, -EIO), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(s3.seen_rc, -EIO);
    CHECK_EQ(ev.ev_error, -EIO);
    CHECK_EQ(s3.calls, 1);

    /* zero return keeps zero; user completion */
    struct cb_state s4 = { 0 };
    CHECK_RC(daos_event_register_comp_cb(&ev, comp_cb, &s4), 0);
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_event_complete(&ev, 0), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(s4.calls, 1);
    CHECK_EQ(s4.seen_rc, 0);
    CHECK_EQ(s4.query_completed, 0);
    CHECK_RC(s4.poll_rc, 0);
    CHECK_EQ(ev.ev_error, 0);

    /* aborted noop: the callback sees -EINTR */
    struct cb_state s5 = { 0 };
    CHECK_RC(daos_event_register_comp_cb(&ev, comp_cb, &s5), 0);
    CHECK_RC(daos_noop(&ev, 5 * SEC), 0);
    CHECK_RC(daos_event_abort(&ev), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(s5.calls, 1);
    CHECK_EQ(s5.seen_rc, -EINTR);
    CHECK_EQ(ev.ev_error, -EINTR);

    /* with daos_event_test */
    struct cb_state s6 = { 0 };
    s6.ret = -EAGAIN;
    CHECK_RC(daos_event_register_comp_cb(&ev, comp_cb, &s6), 0);
    CHECK_RC(daos_noop(&ev, 5 * MS), 0);
    bool done = false;
    CHECK_RC(daos_event_test(&ev, 5 * SEC, &done), 0);
    CHECK_EQ(done, true);
    CHECK_EQ(s6.calls, 1);
    CHECK_EQ(ev.ev_error, -EAGAIN);

    /* errors */
    struct cb_state s7 = { 0 };
    CHECK_RC(daos_event_register_comp_cb(NULL, comp_cb, &s7), -EINVAL);
    CHECK_RC(daos_event_register_comp_cb(&ev, NULL, &s7), -EINVAL);
    struct daos_event zero;
    memset(&zero, 0, sizeof(zero));
    CHECK_RC(daos_event_register_comp_cb(&zero, comp_cb, &s7), -ENOENT);
    /* the failed registration (NULL cb) left no callback behind */
    CHECK_RC(daos_noop(&ev, 0), 0);
    CHECK_PTR_EQ(poll1(), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(s7.calls, 0);
    CHECK_RC(daos_event_fini(&ev), 0);
}

/* a callback on one event may dispatch/complete another event of the same EQ */
static struct daos_event cb_other;
static int chain_cb(void *arg, struct daos_event *ev, int rc)
{
    (void)ev;
    (void)rc;
    int *r = arg;
    r[0] = daos_event_launch(&cb_other);
    r[1] = daos_event_complete(&cb_other, -E2BIG);
    return 0;
}

static void test_comp_cb_reentrant(void)
{
    struct daos_event ev;
    ev_init(&ev);
    ev_init(&cb_other);
    int r[2] = { 1, 1 };
    CHECK_RC(daos_event_register_comp_cb(&ev, chain_cb, r), 0);
    CHECK_RC(daos_noop(&ev, 0), 0);
    struct daos_event *evs[2] = { NULL, NULL };
    int got = 0;
    int64_t deadline = now_us() + 5 * SEC;
    while (got < 2 && now_us() < deadline) {
        int rc = daos_eq_poll(eqh, 0, 100 * MS, 2 - got, evs + got);
        CHECK(rc >= 0);
        if (rc > 0) got += rc;
    }
    CHECK_EQ(got, 2);
    CHECK_RC(r[0], 0);
    CHECK_RC(r[1], 0);
    /* both returned, once each */
    CHECK((evs[0] == &cb_other && evs[1] == &ev) || (evs[0] == &ev && evs[1] == &cb_other));
    CHECK_EQ(cb_other.ev_error, -E2BIG);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_event_fini(&cb_other), 0);
}

static void test_version(void)
{
    int maj = -1, min = -1, pat = -1;
    CHECK_RC(daos_rs_version(&maj, &min, &pat), 0);
    CHECK_EQ(maj, DAOS_RS_VERSION_MAJOR);
    CHECK_EQ(min, DAOS_RS_VERSION_MINOR);
    CHECK_EQ(pat, DAOS_RS_VERSION_PATCH);
    maj = min = pat = -7;
    CHECK_RC(daos_rs_version(NULL, &min, &pat), -EINVAL);
    CHECK_RC(daos_rs_version(&maj, NULL, &pat), -EINVAL);
    CHECK_RC(daos_rs_version(&maj, &min, NULL), -EINVAL);
    CHECK_RC(daos_rs_version(NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(maj, -7);
    CHECK_EQ(min, -7);
    CHECK_EQ(pat, -7);
}

/* ------------------------------------------------------------------ */
/* one event used by two threads at once: the loser gets -EBUSY (or -ENOENT
 * once the other thread finalised it), never a crash */

enum { RACE_NOOP_NOOP, RACE_LAUNCH_LAUNCH, RACE_COMPLETE_COMPLETE, RACE_FINI_NOOP, RACE_FINI_LAUNCH, RACE_KINDS };

struct race {
    pthread_barrier_t start, end;
    struct daos_event ev;
    int kind;
    int rounds;
    int rc[2];
};

static int race_op(struct race *r, int who)
{
    switch (r->kind) {
    case RACE_NOOP_NOOP: return daos_noop(&r->ev, 0);
    case RACE_LAUNCH_LAUNCH: return daos_event_launch(&r->ev);
    case RACE_COMPLETE_COMPLETE: return daos_event_complete(&r->ev, -who - 1);
    case RACE_FINI_NOOP: return who == 0 ? daos_event_fini(&r->ev) : daos_noop(&r->ev, 0);
    default: return who == 0 ? daos_event_fini(&r->ev) : daos_event_launch(&r->ev);
    }
}

static void *race_thread(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        pthread_barrier_wait(&r->start);
        r->rc[1] = race_op(r, 1);
        pthread_barrier_wait(&r->end);
        pthread_barrier_wait(&r->end); /* main checks and resets */
    }
    return NULL;
}

static void test_concurrent_misuse(void)
{
    struct race r;
    memset(&r, 0, sizeof(r));
    r.rounds = 500;
    for (int kind = 0; kind < RACE_KINDS; kind++) {
        r.kind = kind;
        int bad = 0, wins[2] = { 0, 0 };
        pthread_barrier_init(&r.start, NULL, 2);
        pthread_barrier_init(&r.end, NULL, 2);
        ev_init(&r.ev);
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, race_thread, &r), 0);
        for (int i = 0; i < r.rounds; i++) {
            if (kind == RACE_COMPLETE_COMPLETE) CHECK_RC(daos_event_launch(&r.ev), 0);
            pthread_barrier_wait(&r.start);
            r.rc[0] = race_op(&r, 0);
            pthread_barrier_wait(&r.end);
            int a = r.rc[0], b = r.rc[1];
            struct daos_event *evs[1];
            switch (kind) {
            case RACE_NOOP_NOOP:
            case RACE_LAUNCH_LAUNCH:
            case RACE_COMPLETE_COMPLETE: {
                int loser = kind == RACE_COMPLETE_COMPLETE ? -EINVAL : -EBUSY;
                /* exactly one winner; the loser is refused */
                if (!((a == 0 && (b == loser || b == -EBUSY)) || (b == 0 && (a == loser || a == -EBUSY))))
                    bad++;
                if (a == 0) wins[0]++;
                if (b == 0) wins[1]++;
                if (kind == RACE_LAUNCH_LAUNCH && (a == 0 || b == 0))
                    CHECK_RC(daos_event_complete(&r.ev, 0), 0);
                if (a == 0 || b == 0) {
                    int rc = daos_eq_poll(eqh, 0, 5 * SEC, 1, evs);
                    if (rc != 1 || evs[0] != &r.ev) bad++;
                    if (kind == RACE_COMPLETE_COMPLETE &&
                        r.ev.ev_error != (a == 0 ? -1 : -2)) bad++;
                }
                if (poll_nowait() != 0) bad++; /* never twice */
                break;
            }
            case RACE_FINI_LAUNCH: /* fini (main) vs launch (thread): no completion by itself */
                if (a == 0) {
                    if (b != -ENOENT && b != -EBUSY) bad++; /* a launched event can't be finalised */
                    wins[0]++;
                } else if (a == -EBUSY) {
                    if (b == 0) {
                        wins[1]++;
                        if (daos_event_complete(&r.ev, 0) != 0) bad++;
                        int rc = daos_eq_poll(eqh, 0, 5 * SEC, 1, evs);
                        if (rc != 1 || evs[0] != &r.ev) bad++;
                    } else if (b != -EBUSY) {
                        bad++;
                    }
                    if (daos_event_fini(&r.ev) != 0) bad++;
                } else {
                    bad++;
                }
                if (poll_nowait() != 0) bad++;
                if (daos_event_init(&r.ev, eqh, NULL) != 0) bad++;
                break;
            default: /* fini (main) vs noop (thread) */
                if (a == 0) {
                    /* fini succeeded: either it came first (noop refused), or the
                     * zero-delay noop came first and had already completed, so fini
                     * removed the COMPLETE event silently (the poll below checks
                     * that it is never returned) */
                    if (b != 0 && b != -ENOENT && b != -EBUSY) bad++;
                    wins[0]++;
                } else if (a == -EBUSY) {
                    if (b == 0) { /* noop won: event in flight, then polled */
                        wins[1]++;
                        int rc = daos_eq_poll(eqh, 0, 5 * SEC, 1, evs);
                        if (rc != 1 || evs[0] != &r.ev) bad++;
                    } else if (b != -EBUSY) {
                        bad++;
                    }
                    if (daos_event_fini(&r.ev) != 0) bad++;
                } else {
                    bad++;
                }
                if (poll_nowait() != 0) bad++;
                /* re-initialise for the next round */
                if (daos_event_init(&r.ev, eqh, NULL) != 0) bad++;
                break;
            }
            pthread_barrier_wait(&r.end);
        }
        pthread_join(th, NULL);
        printf("   race kind %d: wins main %d, thread %d\n", kind, wins[0], wins[1]);
        CHECK_EQ(bad, 0);
        if (kind != RACE_FINI_NOOP && kind != RACE_FINI_LAUNCH)
            CHECK_EQ(wins[0] + wins[1], r.rounds); /* exactly one winner per round */
        CHECK_RC(daos_event_fini(&r.ev), 0);
        pthread_barrier_destroy(&r.start);
        pthread_barrier_destroy(&r.end);
    }
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
}

int main(void)
{
    CHECK_RC(daos_eq_create(&eqh), 0);
    RUN(test_init_fini);
    RUN(test_reuse);
    RUN(test_busy);
    RUN(test_abort);
    RUN(test_null_and_unknown);
    RUN(test_event_test);
    RUN(test_launch_complete);
    RUN(test_complete_wakes_poller);
    RUN(test_comp_cb);
    RUN(test_comp_cb_reentrant);
    RUN(test_version);
    RUN(test_concurrent_misuse);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    return harness_summary();
}
