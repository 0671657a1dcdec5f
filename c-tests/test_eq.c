/* Event queues: create/destroy, handles, poll, query, limits, destroy_force.
 * SPEC §2, §3 and §12; contract /tmp/contract/API.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000

static daos_handle_t mkh(uint64_t c) { daos_handle_t h = { c }; return h; }

static daos_handle_t new_eq(void)
{
    daos_handle_t eqh = { 0 };
    CHECK_RC(daos_eq_create(&eqh), 0);
    return eqh;
}

/* ------------------------------------------------------------------ */

static void test_create_destroy(void)
{
    daos_handle_t a = { 0 }, b = { 0 };
    CHECK_RC(daos_eq_create(&a), 0);
    CHECK_RC(daos_eq_create(&b), 0);
    CHECK(a.cookie != 0);
    CHECK(b.cookie != 0);
    CHECK(a.cookie != b.cookie);
    /* SPEC §2 layout: type 1 = EQ in bits 0..2, low 7 bits of the pid in bits 3..9 */
    CHECK_EQ(a.cookie & 7, 1);
    CHECK_EQ((a.cookie >> 3) & 0x7f, (uint64_t)getpid() & 0x7f);
    CHECK_EQ(b.cookie & 7, 1);
    /* a fresh EQ is empty */
    CHECK_RC(daos_eq_query(a, DAOS_EVQ_ALL, 0, NULL), 0);
    struct daos_event *evs[4];
    CHECK_RC(daos_eq_poll(a, 0, DAOS_EQ_NOWAIT, 4, evs), 0);
    CHECK_RC(daos_eq_destroy(a), 0);
    CHECK_RC(daos_eq_destroy(a), -EBADF);
    CHECK_RC(daos_eq_destroy(b), 0);

    /* the 54-bit value is never reused: many create/destroy cycles give new cookies */
    uint64_t seen[64];
    for (int i = 0; i < 64; i++) {
        daos_handle_t h = { 0 };
        CHECK_RC(daos_eq_create(&h), 0);
        seen[i] = h.cookie;
        CHECK(h.cookie != a.cookie && h.cookie != b.cookie);
        CHECK_RC(daos_eq_destroy(h), 0);
    }
    int dup = 0;
    for (int i = 0; i < 64; i++)
        for (int j = i + 1; j < 64; j++)
            dup += seen[i] == seen[j];
    CHECK_EQ(dup, 0);

    CHECK_RC(daos_eq_create(NULL), -EINVAL);
}

/* every EQ call with a bad handle gives -EBADF and writes no out-param */
static void check_bad_handle(daos_handle_t bad)
{
    struct daos_event *sentinel = (struct daos_event *)(uintptr_t)0x5a5a5a5a;
    struct daos_event *evs[2] = { sentinel, sentinel };
    int fd = -12345;
    struct daos_event ev;
    memset(&ev, 0, sizeof(ev));
    struct daos_event before = ev;

    CHECK_RC(daos_eq_poll(bad, 0, DAOS_EQ_NOWAIT, 2, evs), -EBADF);
    CHECK_RC(daos_eq_poll(bad, 1, DAOS_EQ_WAIT, 2, evs), -EBADF);
    CHECK_RC(daos_eq_poll(bad, 0, 1000, 2, evs), -EBADF);
    CHECK_PTR_EQ(evs[0], sentinel);
    CHECK_PTR_EQ(evs[1], sentinel);
    CHECK_RC(daos_eq_query(bad, DAOS_EVQ_ALL, 0, NULL), -EBADF);
    CHECK_RC(daos_eq_query(bad, DAOS_EVQ_COMPLETED, 2, evs), -EBADF);
    CHECK_PTR_EQ(evs[0], sentinel);
    CHECK_RC(daos_event_init(&ev, bad, NULL), -EBADF);
    CHECK(memcmp(&ev, &before, sizeof(ev)) == 0);
    CHECK_RC(daos_event_fini(&ev), -ENOENT); /* the failed init left nothing live */
    CHECK_RC(daos_eq_get_fd(bad, &fd), -EBADF);
    CHECK_EQ(fd, -12345);
    CHECK_RC(daos_eq_destroy(bad), -EBADF);
    CHECK_RC(daos_eq_destroy_force(bad), -EBADF);
}

static void test_bad_handles(void)
{
    daos_handle_t live = new_eq();
    daos_handle_t dead = new_eq();
    CHECK_RC(daos_eq_destroy(dead), 0);
    uint64_t c = live.cookie;

    check_bad_handle(mkh(0));
    for (uint64_t t = 0; t < 8; t++) /* every type except EQ (1) */
        if (t != 1) check_bad_handle(mkh((c & ~7ULL) | t));
    check_bad_handle(mkh((c & ~7ULL) | 3)); /* a container's type bits */
    check_bad_handle(dead);
    check_bad_handle(mkh(c ^ (1ULL << 3)));            /* another process's PID bits */
    check_bad_handle(mkh(c ^ (0x55ULL << 3)));
    check_bad_handle(mkh(c + (12345ULL << 10)));       /* never issued */
    check_bad_handle(mkh((0x2aaaaaaaaaaaaULL << 10) | (((uint64_t)getpid() & 0x7f) << 3) | 1));
    check_bad_handle(mkh(~0ULL));
    if (c != 1) check_bad_handle(mkh(1)); /* type EQ, pid bits 0, value 0 */

    /* the live EQ is unharmed by all of this */
    CHECK_RC(daos_eq_query(live, DAOS_EVQ_ALL, 0, NULL), 0);
    struct daos_event ev;
    memset(&ev, 0, sizeof(ev));
    CHECK_RC(daos_event_init(&ev, live, NULL), 0);
    CHECK_RC(daos_noop(&ev, 0), 0);
    struct daos_event *evs[1] = { NULL };
    CHECK_RC(daos_eq_poll(live, 0, DAOS_EQ_WAIT, 1, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(live), 0);
}

static void test_poll_args(void)
{
    daos_handle_t eqh = new_eq();
    struct daos_event *sentinel = (struct daos_event *)(uintptr_t)0x77;
    struct daos_event *evs[4] = { sentinel, sentinel, sentinel, sentinel };
    struct daos_event ev;
    memset(&ev, 0, sizeof(ev));
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_event_complete(&ev, 0), 0); /* one completed event is waiting */

    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 0, evs), -EINVAL);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, -1, evs), -EINVAL);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, INT32_MIN, evs), -EINVAL);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, NULL), -EINVAL);
    CHECK_RC(daos_eq_poll(eqh, 0, -2, 4, evs), -EINVAL);
    CHECK_RC(daos_eq_poll(eqh, 1, INT64_MIN, 4, evs), -EINVAL);
    CHECK_PTR_EQ(evs[0], sentinel);
    /* nothing was consumed by the failing calls */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL), 1);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev);
    CHECK_PTR_EQ(evs[1], sentinel); /* only the returned count is written */
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

static void test_timeouts(void)
{
    daos_handle_t eqh = new_eq();
    struct daos_event *evs[2];
    struct daos_event ev;
    memset(&ev, 0, sizeof(ev));
    int64_t t0, dt;

    /* empty EQ */
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 2, evs), 0);
    CHECK(now_us() - t0 < 100 * MS);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 1, DAOS_EQ_WAIT, 2, evs), 0); /* wait_inf, nothing in flight */
    CHECK(now_us() - t0 < 100 * MS);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 1, 3 * SEC, 2, evs), 0);
    CHECK(now_us() - t0 < 100 * MS);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 0, 100 * MS, 2, evs), 0); /* empty, wait_inf 0: waits */
    dt = now_us() - t0;
    CHECK(dt >= 100 * MS);
    CHECK(dt < 2 * SEC);

    /* idle (NONE) events are not "in flight" */
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 1, DAOS_EQ_WAIT, 2, evs), 0);
    CHECK(now_us() - t0 < 100 * MS);

    /* a 5 s noop in flight */
    CHECK_RC(daos_noop(&ev, 5 * SEC), 0);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 2, evs), 0);
    CHECK(now_us() - t0 < 100 * MS);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 1, 200 * MS, 2, evs), 0);
    dt = now_us() - t0;
    CHECK(dt >= 200 * MS);
    CHECK(dt < 2 * SEC);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 0, 200 * MS, 2, evs), 0);
    dt = now_us() - t0;
    CHECK(dt >= 200 * MS);
    CHECK(dt < 2 * SEC);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);

    /* clean up: abort, then the event completes promptly with -EINTR */
    CHECK_RC(daos_event_abort(&ev), 0);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 1, DAOS_EQ_WAIT, 2, evs), 1);
    CHECK(now_us() - t0 < 1 * SEC);
    CHECK_PTR_EQ(evs[0], &ev);
    CHECK_EQ(ev.ev_error, -EINTR);

    /* a short noop with a long timeout returns as soon as it completes */
    CHECK_RC(daos_noop(&ev, 50 * MS), 0);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 0, 10 * SEC, 2, evs), 1);
    dt = now_us() - t0;
    CHECK(dt >= 45 * MS);
    CHECK(dt < 2 * SEC);
    CHECK_EQ(ev.ev_error, 0);

    /* DAOS_EQ_WAIT blocks until the noop completes */
    CHECK_RC(daos_noop(&ev, 100 * MS), 0);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_WAIT, 2, evs), 1);
    dt = now_us() - t0;
    CHECK(dt >= 95 * MS);
    CHECK(dt < 2 * SEC);

    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

/* ------------------------------------------------------------------ */
/* order of completion */

static void test_order(void)
{
    daos_handle_t eqh = new_eq();
    struct daos_event ev[3];
    const uint64_t delay[3] = { 90 * MS, 30 * MS, 60 * MS };
    const int want[3] = { 1, 2, 0 }; /* indices by increasing delay */
    struct daos_event *evs[3];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < 3; i++)
        CHECK_RC(daos_event_init(&ev[i], eqh, NULL), 0);

    /* one at a time */
    for (int i = 0; i < 3; i++)
        CHECK_RC(daos_noop(&ev[i], delay[i]), 0);
    for (int k = 0; k < 3; k++) {
        evs[0] = NULL;
        CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 1, evs), 1);
        CHECK_PTR_EQ(evs[0], &ev[want[k]]);
    }

    /* all at once: a single poll returns them oldest completion first */
    for (int i = 0; i < 3; i++)
        CHECK_RC(daos_noop(&ev[i], delay[i]), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 3); /* also submits */
    sleep_us(400 * MS);
    memset(evs, 0, sizeof(evs));
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 3, evs), 3);
    for (int k = 0; k < 3; k++)
        CHECK_PTR_EQ(evs[k], &ev[want[k]]);

    /* user completions: order of daos_event_complete calls */
    for (int i = 0; i < 3; i++)
        CHECK_RC(daos_event_launch(&ev[i]), 0);
    CHECK_RC(daos_event_complete(&ev[2], 0), 0);
    CHECK_RC(daos_event_complete(&ev[0], 0), 0);
    CHECK_RC(daos_event_complete(&ev[1], 0), 0);
    memset(evs, 0, sizeof(evs));
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 2, evs), 2);
    CHECK_PTR_EQ(evs[0], &ev[2]);
    CHECK_PTR_EQ(evs[1], &ev[0]);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 3, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev[1]);

    for (int i = 0; i < 3; i++)
        CHECK_RC(daos_event_fini(&ev[i]), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

/* ------------------------------------------------------------------ */
/* eq_query */

static int in_set(struct daos_event *e, struct daos_event *set, int n)
{
    for (int i = 0; i < n; i++)
        if (e == &set[i]) return 1;
    return 0;
}

static void test_query(void)
{
    daos_handle_t eqh = new_eq();
    struct daos_event done[2], fly[3], idle;
    struct daos_event *evs[8];
    struct daos_event *sentinel = (struct daos_event *)(uintptr_t)0x99;
    memset(done, 0, sizeof(done));
    memset(fly, 0, sizeof(fly));
    memset(&idle, 0, sizeof(idle));

    CHECK_RC(daos_event_init(&idle, eqh, NULL), 0);
    for (int i = 0; i < 2; i++) CHECK_RC(daos_event_init(&done[i], eqh, NULL), 0);
    for (int i = 0; i < 3; i++) CHECK_RC(daos_event_init(&fly[i], eqh, NULL), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0); /* idle events don't count */

    for (int i = 0; i < 3; i++) CHECK_RC(daos_event_launch(&fly[i]), 0);
    for (int i = 0; i < 2; i++) CHECK_RC(daos_event_launch(&done[i]), 0);
    CHECK_RC(daos_event_complete(&done[1], 0), 0);   /* done[1] completes first */
    CHECK_RC(daos_event_complete(&done[0], -EIO), 0);

    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL), 2);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 3);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 5);

    /* evs non-NULL with n == 0: count only, nothing stored */
    for (int i = 0; i < 8; i++) evs[i] = sentinel;
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, evs), 5);
    CHECK_PTR_EQ(evs[0], sentinel);

    /* COMPLETED: in poll order */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 8, evs), 2);
    CHECK_PTR_EQ(evs[0], &done[1]);
    CHECK_PTR_EQ(evs[1], &done[0]);
    CHECK_PTR_EQ(evs[2], sentinel);

    /* INFLIGHT */
    for (int i = 0; i < 8; i++) evs[i] = sentinel;
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 8, evs), 3);
    CHECK(in_set(evs[0], fly, 3) && in_set(evs[1], fly, 3) && in_set(evs[2], fly, 3));
    CHECK(evs[0] != evs[1] && evs[1] != evs[2] && evs[0] != evs[2]);
    CHECK_PTR_EQ(evs[3], sentinel);

    /* ALL: completed first (poll order), then in flight */
    for (int i = 0; i < 8; i++) evs[i] = sentinel;
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 8, evs), 5);
    CHECK_PTR_EQ(evs[0], &done[1]);
    CHECK_PTR_EQ(evs[1], &done[0]);
    CHECK(in_set(evs[2], fly, 3) && in_set(evs[3], fly, 3) && in_set(evs[4], fly, 3));
    CHECK(evs[2] != evs[3] && evs[3] != evs[4] && evs[2] != evs[4]);
    CHECK_PTR_EQ(evs[5], sentinel);

    /* fewer slots than events: stores n, returns n */
    for (int i = 0; i < 8; i++) evs[i] = sentinel;
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 3, evs), 3);
    CHECK_PTR_EQ(evs[0], &done[1]);
    CHECK_PTR_EQ(evs[1], &done[0]);
    CHECK(in_set(evs[2], fly, 3));
    CHECK_PTR_EQ(evs[3], sentinel);
    for (int i = 0; i < 8; i++) evs[i] = sentinel;
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 1, evs), 1);
    CHECK_PTR_EQ(evs[0], &done[1]);
    CHECK_PTR_EQ(evs[1], sentinel);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 2, evs), 2);
    CHECK(in_set(evs[0], fly, 3) && in_set(evs[1], fly, 3));

    /* bad modes */
    for (int i = 0; i < 8; i++) evs[i] = sentinel;
    CHECK_RC(daos_eq_query(eqh, 0, 8, evs), -EINVAL);
    CHECK_RC(daos_eq_query(eqh, 4, 8, evs), -EINVAL);
    CHECK_RC(daos_eq_query(eqh, 7, 0, NULL), -EINVAL);
    CHECK_RC(daos_eq_query(eqh, 0xffffffffu, 8, evs), -EINVAL);
    CHECK_PTR_EQ(evs[0], sentinel);

    /* query changed no state: poll gets both completed events, in order */
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 8, evs), 2);
    CHECK_PTR_EQ(evs[0], &done[1]);
    CHECK_PTR_EQ(evs[1], &done[0]);
    CHECK_EQ(done[0].ev_error, -EIO);
    CHECK_EQ(done[1].ev_error, 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 3);

    /* a noop: in flight, then completed */
    CHECK_RC(daos_noop(&idle, 50 * MS), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 4);
    int64_t deadline = now_us() + 5 * SEC;
    int rc;
    while ((rc = daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL)) == 0 && now_us() < deadline)
        sleep_us(5 * MS);
    CHECK_EQ(rc, 1); /* query takes in what has completed by itself */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 3);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 8, evs), 1);
    CHECK_PTR_EQ(evs[0], &idle);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 8, evs), 1);
    CHECK_PTR_EQ(evs[0], &idle);

    for (int i = 0; i < 3; i++) CHECK_RC(daos_event_complete(&fly[i], 0), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 8, evs), 3);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(daos_event_fini(&idle), 0);
    for (int i = 0; i < 2; i++) CHECK_RC(daos_event_fini(&done[i]), 0);
    for (int i = 0; i < 3; i++) CHECK_RC(daos_event_fini(&fly[i]), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

/* ------------------------------------------------------------------ */
/* destroy */

static void test_destroy_busy(void)
{
    daos_handle_t eqh = new_eq();
    struct daos_event ev, idle;
    struct daos_event *evs[2];
    memset(&ev, 0, sizeof(ev));
    memset(&idle, 0, sizeof(idle));
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&idle, eqh, NULL), 0);

    CHECK_RC(daos_noop(&ev, 200 * MS), 0);
    CHECK_RC(daos_eq_destroy(eqh), -EBUSY);
    /* nothing changed */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    CHECK_RC(daos_event_abort(&idle), 0); /* idle is still a live event */
    CHECK_RC(daos_eq_destroy(eqh), -EBUSY);
    int64_t t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_WAIT, 2, evs), 1);
    CHECK(now_us() - t0 < 2 * SEC);
    CHECK_PTR_EQ(evs[0], &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_NOOP);

    /* a user event in flight also blocks destroy */
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), -EBUSY);
    CHECK_RC(daos_event_complete(&ev, 0), 0);
    /* completed-but-unpolled does not block destroy */
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_event_fini(&ev), -ENOENT);
    CHECK_RC(daos_event_fini(&idle), -ENOENT);
}

static void test_destroy_forgets(void)
{
    daos_handle_t eqh = new_eq();
    struct daos_event idle, done;
    memset(&idle, 0, sizeof(idle));
    memset(&done, 0, sizeof(done));
    CHECK_RC(daos_event_init(&idle, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&done, eqh, NULL), 0);
    CHECK_RC(daos_noop(&done, 0), 0);
    int64_t deadline = now_us() + 5 * SEC;
    int rc;
    while ((rc = daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL)) == 0 && now_us() < deadline)
        sleep_us(1 * MS);
    CHECK_EQ(rc, 1);
    CHECK_RC(daos_eq_destroy(eqh), 0);

    CHECK_RC(daos_event_fini(&idle), -ENOENT);
    CHECK_RC(daos_event_fini(&done), -ENOENT);
    CHECK_RC(daos_noop(&idle, 0), -ENOENT);
    CHECK_RC(daos_event_launch(&done), -ENOENT);
    CHECK_RC(daos_event_abort(&idle), -ENOENT);
    bool flag = false;
    CHECK_RC(daos_event_test(&done, 0, &flag), -ENOENT);
    CHECK_EQ(flag, false);

    /* the structs are no longer live, so they can be initialised again */
    daos_handle_t eq2 = new_eq();
    CHECK_RC(daos_event_init(&idle, eq2, NULL), 0);
    CHECK_RC(daos_event_init(&done, eq2, NULL), 0);
    CHECK_RC(daos_event_fini(&idle), 0);
    CHECK_RC(daos_event_fini(&done), 0);
    CHECK_RC(daos_eq_destroy(eq2), 0);
}

struct blocked_poller {
    daos_handle_t eqh;
    int rc;
    _Atomic int64_t t_return;
};

static void *blocked_poll_thread(void *arg)
{
    struct blocked_poller *bp = arg;
    struct daos_event *evs[1];
    bp->rc = daos_eq_poll(bp->eqh, 0, DAOS_EQ_WAIT, 1, evs);
    bp->t_return = now_us();
    return NULL;
}

static void test_destroy_wakes_poller(void)
{
    for (int round = 0; round < 2; round++) {
        struct blocked_poller bp = { new_eq(), 12345, 0 };
        struct daos_event ev;
        memset(&ev, 0, sizeof(ev));
        if (round == 1) /* with an idle event, wait_inf 0 still blocks */
            CHECK_RC(daos_event_init(&ev, bp.eqh, NULL), 0);
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, blocked_poll_thread, &bp), 0);
        sleep_us(150 * MS);
        CHECK_EQ(bp.t_return, 0); /* still blocked */
        int64_t t0 = now_us();
        CHECK_RC(daos_eq_destroy(bp.eqh), 0);
        pthread_join(th, NULL);
        CHECK_RC(bp.rc, -EBADF);
        CHECK(bp.t_return - t0 < 500 * MS);
        if (round == 1) CHECK_RC(daos_event_fini(&ev), -ENOENT);
    }
}

/* ------------------------------------------------------------------ */

static void test_event_limit(void)
{
    CHECK_EQ(setenv("DAOS_RS_EQ_MAX_EVENTS", "8", 1), 0);
    daos_handle_t eqh = new_eq();
    CHECK_EQ(unsetenv("DAOS_RS_EQ_MAX_EVENTS"), 0);
    daos_handle_t other = new_eq(); /* made after unsetenv: default limit */

    struct daos_event ev[10];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < 8; i++)
        CHECK_RC(daos_event_init(&ev[i], eqh, NULL), 0);
    struct daos_event before = ev[8];
    CHECK_RC(daos_event_init(&ev[8], eqh, NULL), -EMFILE);
    CHECK(memcmp(&before, &ev[8], sizeof(before)) == 0);
    CHECK_RC(daos_event_fini(&ev[8]), -ENOENT);
    /* other EQs are not limited by it */
    for (int i = 8; i < 10; i++)
        CHECK_RC(daos_event_init(&ev[i], other, NULL), 0);
    for (int i = 8; i < 10; i++)
        CHECK_RC(daos_event_fini(&ev[i]), 0);
    /* fini frees a slot */
    CHECK_RC(daos_event_fini(&ev[3]), 0);
    CHECK_RC(daos_event_init(&ev[8], eqh, NULL), 0);
    CHECK_RC(daos_event_init(&ev[9], eqh, NULL), -EMFILE);
    for (int i = 0; i < 9; i++)
        if (i != 3) CHECK_RC(daos_event_fini(&ev[i]), 0);

    /* children count too: a parent and 7 children fill it */
    struct daos_event parent, kids[8];
    memset(&parent, 0, sizeof(parent));
    memset(kids, 0, sizeof(kids));
    CHECK_RC(daos_event_init(&parent, eqh, NULL), 0);
    for (int i = 0; i < 7; i++)
        CHECK_RC(daos_event_init(&kids[i], eqh, &parent), 0);
    CHECK_RC(daos_event_init(&kids[7], eqh, &parent), -EMFILE);
    CHECK_RC(daos_event_init(&ev[0], eqh, NULL), -EMFILE);
    CHECK_EQ(daos_event_next(&parent, &kids[6]) == NULL, 1);
    CHECK_RC(daos_event_fini(&parent), 0); /* finalises the children */
    CHECK_RC(daos_event_fini(&kids[0]), -ENOENT);
    for (int i = 0; i < 8; i++)
        CHECK_RC(daos_event_init(&ev[i], eqh, NULL), 0);
    for (int i = 0; i < 8; i++)
        CHECK_RC(daos_event_fini(&ev[i]), 0);

    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_eq_destroy(other), 0);
}

struct cb_rec {
    _Atomic int calls;
    int rc;
};

static int record_cb(void *arg, struct daos_event *ev, int rc)
{
    (void)ev;
    struct cb_rec *r = arg;
    r->rc = rc;
    r->calls++;
    return 0;
}

static void test_destroy_force(void)
{
    daos_handle_t eqh = new_eq();
    struct daos_event ev[4], idle;
    memset(ev, 0, sizeof(ev));
    memset(&idle, 0, sizeof(idle));
    CHECK_RC(daos_event_init(&idle, eqh, NULL), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_RC(daos_event_init(&ev[i], eqh, NULL), 0);
        CHECK_RC(daos_noop(&ev[i], 5 * SEC), 0);
    }
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 4); /* submitted now */
    CHECK_RC(daos_eq_destroy(eqh), -EBUSY);
    int64_t t0 = now_us();
    CHECK_RC(daos_eq_destroy_force(eqh), 0);
    CHECK(now_us() - t0 < 1 * SEC);
    struct daos_event *evs[4];
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), -EBADF);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), -EBADF);
    CHECK_RC(daos_eq_destroy(eqh), -EBADF);
    CHECK_RC(daos_eq_destroy_force(eqh), -EBADF);
    for (int i = 0; i < 4; i++)
        CHECK_RC(daos_event_fini(&ev[i]), -ENOENT);
    CHECK_RC(daos_event_fini(&idle), -ENOENT);

    /* noops that were never handed to the kernel (no poll since dispatch) */
    eqh = new_eq();
    for (int i = 0; i < 4; i++) {
        CHECK_RC(daos_event_init(&ev[i], eqh, NULL), 0);
        CHECK_RC(daos_noop(&ev[i], 5 * SEC), 0);
    }
    t0 = now_us();
    CHECK_RC(daos_eq_destroy_force(eqh), 0);
    CHECK(now_us() - t0 < 1 * SEC);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), -EBADF);
    for (int i = 0; i < 4; i++)
        CHECK_RC(daos_event_fini(&ev[i]), -ENOENT);

    /* user-launched events and a family in flight: they complete with -EINTR
     * (callbacks included) and the EQ goes away */
    eqh = new_eq();
    struct daos_event user, parent, kids[2];
    memset(&user, 0, sizeof(user));
    memset(&parent, 0, sizeof(parent));
    memset(kids, 0, sizeof(kids));
    CHECK_RC(daos_event_init(&user, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&parent, eqh, NULL), 0);
    for (int i = 0; i < 2; i++)
        CHECK_RC(daos_event_init(&kids[i], eqh, &parent), 0);
    struct cb_rec rec = { 0, 0 };
    CHECK_RC(daos_event_register_comp_cb(&user, record_cb, &rec), 0);
    CHECK_RC(daos_event_launch(&user), 0);
    CHECK_RC(daos_event_launch(&kids[0]), 0);
    CHECK_RC(daos_noop(&kids[1], 5 * SEC), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 2);
    t0 = now_us();
    CHECK_RC(daos_eq_destroy_force(eqh), 0);
    CHECK(now_us() - t0 < 1 * SEC);
    CHECK_EQ(rec.calls, 1);
    CHECK_EQ(rec.rc, -EINTR);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), -EBADF);
    CHECK_RC(daos_event_fini(&user), -ENOENT);
    CHECK_RC(daos_event_fini(&parent), -ENOENT);
    CHECK_RC(daos_event_fini(&kids[0]), -ENOENT);
    CHECK_RC(daos_event_complete(&user, 0), -ENOENT);

    /* on an idle EQ it is a plain destroy */
    eqh = new_eq();
    CHECK_RC(daos_eq_destroy_force(eqh), 0);
    CHECK_RC(daos_eq_destroy(eqh), -EBADF);
}

/* a poller blocked with a timeout is woken by destroy_force as well */
static void test_destroy_force_wakes_poller(void)
{
    struct blocked_poller bp = { new_eq(), 12345, 0 };
    struct daos_event ev;
    memset(&ev, 0, sizeof(ev));
    CHECK_RC(daos_event_init(&ev, bp.eqh, NULL), 0);
    CHECK_RC(daos_noop(&ev, 10 * SEC), 0);
    CHECK_RC(daos_eq_query(bp.eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, blocked_poll_thread, &bp), 0);
    sleep_us(100 * MS);
    int64_t t0 = now_us();
    CHECK_RC(daos_eq_destroy_force(bp.eqh), 0);
    pthread_join(th, NULL);
    /* the poller either got the aborted event or was told the EQ is gone */
    CHECK(bp.rc == 1 || bp.rc == -EBADF);
    CHECK(bp.t_return - t0 < 1 * SEC);
    CHECK_RC(daos_event_fini(&ev), -ENOENT);
}


/* a thread blocked in daos_event_test on an event is released by destroy_force */
struct blocked_tester {
    struct daos_event *ev;
    int rc;
    bool done;
    _Atomic int64_t t_return;
};

static void *blocked_test_thread(void *arg)
{
    struct blocked_tester *bt = arg;
    bt->rc = daos_event_test(bt->ev, DAOS_EQ_WAIT, &bt->done);
    bt->t_return = now_us();
    return NULL;
}

static void test_destroy_force_wakes_tester(void)
{
    daos_handle_t eqh = new_eq();
    struct daos_event ev;
    memset(&ev, 0, sizeof(ev));
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_noop(&ev, 10 * SEC), 0);
    struct blocked_tester bt = { &ev, 12345, false, 0 };
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, blocked_test_thread, &bt), 0);
    sleep_us(100 * MS);
    CHECK_EQ(bt.t_return, 0); /* still waiting */
    int64_t t0 = now_us();
    CHECK_RC(daos_eq_destroy_force(eqh), 0);
    pthread_join(th, NULL);
    CHECK(bt.t_return - t0 < 1 * SEC);
    /* it saw the aborted completion, or was told the event/EQ is gone */
    CHECK((bt.rc == 0 && bt.done) || bt.rc == -EBADF || bt.rc == -ENOENT);
    CHECK_RC(daos_event_fini(&ev), -ENOENT);
}

/* EQs own descriptors (a ring, eventfds): create/destroy must not leak them */
static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1) n++;
    return n;
}

static void test_no_fd_leak(void)
{
    int before = count_fds();
    int last_fd = -1;
    for (int i = 0; i < 300; i++) {
        daos_handle_t eqh = new_eq();
        struct daos_event ev;
        memset(&ev, 0, sizeof(ev));
        CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
        if (i % 2) CHECK_RC(daos_eq_get_fd(eqh, &last_fd), 0);
        CHECK_RC(daos_noop(&ev, i % 3 ? 0 : 1000), 0);
        struct daos_event *evs[1];
        CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 1, evs), 1);
        CHECK_RC(daos_event_fini(&ev), 0);
        if (i % 5 == 0) CHECK_RC(daos_eq_destroy_force(eqh), 0);
        else CHECK_RC(daos_eq_destroy(eqh), 0);
    }
    CHECK_EQ(count_fds(), before);
    /* many EQs alive at once */
    enum { N = 64 };
    daos_handle_t eqs[N];
    for (int i = 0; i < N; i++)
        CHECK_RC(daos_eq_create(&eqs[i]), 0);
    for (int i = 0; i < N; i++)
        CHECK_RC(daos_eq_destroy(eqs[i]), 0);
    CHECK_EQ(count_fds(), before);
}

int main(void)
{
    RUN(test_create_destroy);
    RUN(test_bad_handles);
    RUN(test_poll_args);
    RUN(test_timeouts);
    RUN(test_order);
    RUN(test_query);
    RUN(test_destroy_busy);
    RUN(test_destroy_forgets);
    RUN(test_destroy_wakes_poller);
    RUN(test_event_limit);
    RUN(test_destroy_force);
    RUN(test_destroy_force_wakes_poller);
    RUN(test_destroy_force_wakes_tester);
    RUN(test_no_fd_leak);
    return harness_summary();
}
