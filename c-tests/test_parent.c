/* Parent (compound) events and their children. SPEC §3 "Parents";
 * contract /tmp/contract/API.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000
#define NKIDS 4

static daos_handle_t eqh;

struct family {
    struct daos_event parent;
    struct daos_event kid[NKIDS];
};

static void family_init(struct family *f)
{
    memset(f, 0, sizeof(*f));
    CHECK_RC(daos_event_init(&f->parent, eqh, NULL), 0);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_init(&f->kid[i], eqh, &f->parent), 0);
}

static int poll_nowait(struct daos_event **evs, int n)
{
    return daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, n, evs);
}

/* ------------------------------------------------------------------ */

static void test_next(void)
{
    struct family f;
    family_init(&f);
    CHECK_PTR_EQ(daos_event_next(&f.parent, NULL), &f.kid[0]);
    for (int i = 0; i + 1 < NKIDS; i++)
        CHECK_PTR_EQ(daos_event_next(&f.parent, &f.kid[i]), &f.kid[i + 1]);
    CHECK_PTR_EQ(daos_event_next(&f.parent, &f.kid[NKIDS - 1]), NULL);

    /* bad input */
    struct daos_event zero, lonely, other_parent, other_kid;
    memset(&zero, 0, sizeof(zero));
    memset(&lonely, 0, sizeof(lonely));
    memset(&other_parent, 0, sizeof(other_parent));
    memset(&other_kid, 0, sizeof(other_kid));
    CHECK_RC(daos_event_init(&lonely, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&other_parent, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&other_kid, eqh, &other_parent), 0);
    CHECK_PTR_EQ(daos_event_next(NULL, NULL), NULL);
    CHECK_PTR_EQ(daos_event_next(NULL, &f.kid[0]), NULL);
    CHECK_PTR_EQ(daos_event_next(&zero, NULL), NULL);
    CHECK_PTR_EQ(daos_event_next(&lonely, NULL), NULL);      /* no children */
    CHECK_PTR_EQ(daos_event_next(&f.kid[0], NULL), NULL);    /* a child is not a parent */
    CHECK_PTR_EQ(daos_event_next(&f.parent, &zero), NULL);   /* unknown child */
    CHECK_PTR_EQ(daos_event_next(&f.parent, &lonely), NULL); /* not its child */
    CHECK_PTR_EQ(daos_event_next(&f.parent, &other_kid), NULL);
    CHECK_PTR_EQ(daos_event_next(&f.parent, &f.parent), NULL);
    CHECK_PTR_EQ(daos_event_next(&other_parent, NULL), &other_kid);
    CHECK_PTR_EQ(daos_event_next(&other_parent, &other_kid), NULL);

    /* a child that leaves (fini while the parent is NONE) drops out of the order */
    CHECK_RC(daos_event_fini(&f.kid[1]), 0);
    CHECK_PTR_EQ(daos_event_next(&f.parent, NULL), &f.kid[0]);
    CHECK_PTR_EQ(daos_event_next(&f.parent, &f.kid[0]), &f.kid[2]);
    CHECK_PTR_EQ(daos_event_next(&f.parent, &f.kid[2]), &f.kid[3]);
    CHECK_PTR_EQ(daos_event_next(&f.parent, &f.kid[1]), NULL);
    /* a new child goes to the end */
    CHECK_RC(daos_event_init(&f.kid[1], eqh, &f.parent), 0);
    CHECK_PTR_EQ(daos_event_next(&f.parent, &f.kid[3]), &f.kid[1]);
    CHECK_PTR_EQ(daos_event_next(&f.parent, &f.kid[1]), NULL);

    CHECK_RC(daos_event_fini(&f.parent), 0);
    CHECK_RC(daos_event_fini(&other_parent), 0);
    CHECK_RC(daos_event_fini(&lonely), 0);
    /* after fini the old parent is unknown */
    CHECK_PTR_EQ(daos_event_next(&f.parent, NULL), NULL);
    CHECK_PTR_EQ(daos_event_next(&other_parent, NULL), NULL);
}

static void test_dispatch_and_complete(void)
{
    struct family f;
    struct daos_event *evs[8];
    family_init(&f);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);

    /* first child dispatched: parent DISPATCH, type COMPOUND, counted once */
    CHECK_RC(daos_event_launch(&f.kid[0]), 0);
    CHECK_EQ(f.parent.ev_type, DAOS_EV_COMPOUND);
    CHECK_EQ(f.kid[0].ev_type, DAOS_EV_USER);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 8, evs), 1);
    CHECK_PTR_EQ(evs[0], &f.parent);

    /* completing one child while others are undispatched: parent stays in flight */
    CHECK_RC(daos_event_complete(&f.kid[0], 0), 0);
    CHECK_RC(poll_nowait(evs, 8), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);

    /* dispatch the rest */
    for (int i = 1; i < NKIDS; i++)
        CHECK_RC(daos_event_launch(&f.kid[i]), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 1);
    CHECK_RC(daos_event_complete(&f.kid[1], 0), 0);
    CHECK_RC(daos_event_complete(&f.kid[3], 0), 0);
    /* one child still in flight: never returned */
    CHECK_RC(poll_nowait(evs, 8), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, 50 * MS, 8, evs), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL), 0);
    CHECK_RC(daos_event_complete(&f.kid[2], 0), 0);

    /* the parent completes; children are never returned, never counted */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL), 1);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 8, evs), 1);
    CHECK_PTR_EQ(evs[0], &f.parent);
    memset(evs, 0, sizeof(evs));
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 8, evs), 1);
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_PTR_EQ(evs[1], NULL);
    CHECK_EQ(f.parent.ev_error, 0);
    CHECK_EQ(f.parent.ev_type, DAOS_EV_COMPOUND);
    CHECK_RC(poll_nowait(evs, 8), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);

    /* parent and children are NONE again: reusable, with noops of different delays */
    bool done = false;
    CHECK_RC(daos_event_test(&f.parent, 0, &done), 0);
    CHECK_EQ(done, true);
    const uint64_t delay[NKIDS] = { 60 * MS, 10 * MS, 40 * MS, 0 };
    int64_t t0 = now_us();
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_noop(&f.kid[i], delay[i]), 0);
    CHECK_EQ(f.parent.ev_type, DAOS_EV_COMPOUND);
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 8, evs), 1);
    CHECK(now_us() - t0 >= 55 * MS); /* not before the slowest child */
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_EQ(f.parent.ev_error, 0);
    for (int i = 0; i < NKIDS; i++) {
        CHECK_EQ(f.kid[i].ev_type, DAOS_EV_NOOP);
        CHECK_EQ(f.kid[i].ev_error, 0);
    }

    /* mixed: an independent event alongside; parent counted once */
    struct daos_event solo;
    memset(&solo, 0, sizeof(solo));
    CHECK_RC(daos_event_init(&solo, eqh, NULL), 0);
    CHECK_RC(daos_event_launch(&solo), 0);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_launch(&f.kid[i]), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 2);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_complete(&f.kid[i], 0), 0);
    CHECK_RC(daos_event_complete(&solo, 0), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 8, evs), 2);
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_PTR_EQ(evs[1], &solo);
    CHECK_RC(poll_nowait(evs, 8), 2);
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_PTR_EQ(evs[1], &solo);

    /* daos_event_test on a parent waits for its children */
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_noop(&f.kid[i], (uint64_t)(i + 1) * 10 * MS), 0);
    done = false;
    CHECK_RC(daos_event_test(&f.parent, 5 * SEC, &done), 0);
    CHECK_EQ(done, true);
    CHECK_EQ(f.parent.ev_error, 0);
    CHECK_RC(poll_nowait(evs, 8), 0);

    CHECK_RC(daos_event_fini(&solo), 0);
    CHECK_RC(daos_event_fini(&f.parent), 0);
}

static void test_first_error(void)
{
    struct family f;
    struct daos_event *evs[8];
    family_init(&f);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_launch(&f.kid[i]), 0);
    /* kid 1 fails first (in time and in order), kid 3 later */
    CHECK_RC(daos_event_complete(&f.kid[1], -EIO), 0);
    CHECK_RC(daos_event_complete(&f.kid[0], 0), 0);
    CHECK_RC(daos_event_complete(&f.kid[3], -ENOSPC), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 8, evs), 0);
    CHECK_RC(daos_event_complete(&f.kid[2], 0), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 8, evs), 1);
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_EQ(f.parent.ev_error, -EIO);
    CHECK_EQ(f.kid[0].ev_error, 0);
    CHECK_EQ(f.kid[1].ev_error, -EIO);
    CHECK_EQ(f.kid[2].ev_error, 0);
    CHECK_EQ(f.kid[3].ev_error, -ENOSPC);

    /* next round all succeed: the parent's error is reset to 0 */
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_launch(&f.kid[i]), 0);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_complete(&f.kid[i], 0), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 8, evs), 1);
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_EQ(f.parent.ev_error, 0);
    CHECK_EQ(f.kid[1].ev_error, 0);

    /* a single failing child among noops */
    for (int i = 0; i < NKIDS - 1; i++)
        CHECK_RC(daos_noop(&f.kid[i], 5 * MS), 0);
    CHECK_RC(daos_event_launch(&f.kid[NKIDS - 1]), 0);
    CHECK_RC(daos_event_complete(&f.kid[NKIDS - 1], -EROFS), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 8, evs), 1);
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_EQ(f.parent.ev_error, -EROFS);
    CHECK_RC(daos_event_fini(&f.parent), 0);
}

static void test_eperm(void)
{
    struct family f;
    struct daos_event x, zero;
    memset(&x, 0, sizeof(x));
    memset(&zero, 0, sizeof(zero));
    family_init(&f);

    /* no nesting: a child cannot be a parent */
    CHECK_RC(daos_event_init(&x, eqh, &f.kid[0]), -EPERM);
    CHECK_RC(daos_event_fini(&x), -ENOENT);
    /* unknown parent */
    CHECK_RC(daos_event_init(&x, eqh, &zero), -ENOENT);
    CHECK_RC(daos_event_fini(&x), -ENOENT);
    /* a parent with children is never an operation's event */
    CHECK_RC(daos_noop(&f.parent, 0), -EPERM);
    CHECK_RC(daos_event_launch(&f.parent), -EPERM);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    /* nor can one complete a parent */
    CHECK(daos_event_complete(&f.parent, 0) < 0);

    /* children are added only while the parent is NONE */
    CHECK_RC(daos_event_launch(&f.kid[0]), 0);
    CHECK_RC(daos_event_init(&x, eqh, &f.parent), -EPERM);
    CHECK_RC(daos_event_fini(&x), -ENOENT);
    CHECK(daos_event_complete(&f.parent, 0) < 0);
    /* child fini with the parent in flight: -EBUSY (the child itself is NONE) */
    CHECK_RC(daos_event_fini(&f.kid[1]), -EBUSY);
    /* parent fini with a child in flight: -EBUSY, nothing changes */
    CHECK_RC(daos_event_fini(&f.parent), -EBUSY);
    CHECK_PTR_EQ(daos_event_next(&f.parent, NULL), &f.kid[0]);
    CHECK_PTR_EQ(daos_event_next(&f.parent, &f.kid[0]), &f.kid[1]);
    /* a child in flight cannot be finalised either */
    CHECK_RC(daos_event_fini(&f.kid[0]), -EBUSY);

    for (int i = 1; i < NKIDS; i++)
        CHECK_RC(daos_event_launch(&f.kid[i]), 0);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_complete(&f.kid[i], 0), 0);
    /* completed, unpolled parent: still not NONE */
    CHECK_RC(daos_event_init(&x, eqh, &f.parent), -EPERM);
    CHECK_RC(daos_event_fini(&f.kid[2]), -EBUSY);
    struct daos_event *evs[4];
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 1);
    CHECK_PTR_EQ(evs[0], &f.parent);

    /* now NONE: a child can leave, and a new one can join */
    CHECK_RC(daos_event_fini(&f.kid[2]), 0);
    CHECK_RC(daos_event_init(&x, eqh, &f.parent), 0);
    CHECK_RC(daos_event_init(&x, eqh, &f.parent), -EALREADY);

    /* a parent whose last child left is an ordinary event again */
    struct daos_event p2, c2;
    memset(&p2, 0, sizeof(p2));
    memset(&c2, 0, sizeof(c2));
    CHECK_RC(daos_event_init(&p2, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&c2, eqh, &p2), 0);
    CHECK_RC(daos_noop(&p2, 0), -EPERM);
    CHECK_RC(daos_event_fini(&c2), 0);
    CHECK_RC(daos_noop(&p2, 0), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 4, evs), 1);
    CHECK_PTR_EQ(evs[0], &p2);
    CHECK_EQ(p2.ev_type, DAOS_EV_NOOP);
    CHECK_RC(daos_event_fini(&p2), 0);

    /* fini of the parent finalises its children */
    CHECK_RC(daos_event_fini(&f.parent), 0);
    for (int i = 0; i < NKIDS; i++)
        if (i != 2) CHECK_RC(daos_event_fini(&f.kid[i]), -ENOENT);
    CHECK_RC(daos_event_fini(&x), -ENOENT);
    CHECK_RC(daos_event_fini(&f.kid[2]), -ENOENT);
    CHECK_RC(daos_noop(&f.kid[0], 0), -ENOENT);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
}

static void test_child_ignores_eqh(void)
{
    daos_handle_t other = { 0 };
    CHECK_RC(daos_eq_create(&other), 0);
    struct daos_event p, c1, c2;
    memset(&p, 0, sizeof(p));
    memset(&c1, 0, sizeof(c1));
    memset(&c2, 0, sizeof(c2));
    CHECK_RC(daos_event_init(&p, eqh, NULL), 0);
    daos_handle_t bad = { 0 };
    CHECK_RC(daos_event_init(&c1, bad, &p), 0);   /* eqh ignored with a parent */
    CHECK_RC(daos_event_init(&c2, other, &p), 0); /* joins the parent's EQ, not `other` */
    CHECK_RC(daos_noop(&c1, 0), 0);
    CHECK_RC(daos_noop(&c2, 0), 0);
    struct daos_event *evs[4];
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 4, evs), 1);
    CHECK_PTR_EQ(evs[0], &p);
    CHECK_RC(daos_eq_poll(other, 0, 20 * MS, 4, evs), 0);
    CHECK_RC(daos_eq_query(other, DAOS_EVQ_ALL, 0, NULL), 0);
    /* destroying `other` does not touch c2 */
    CHECK_RC(daos_eq_destroy(other), 0);
    CHECK_PTR_EQ(daos_event_next(&p, &c1), &c2);
    CHECK_RC(daos_event_fini(&c2), 0);
    CHECK_RC(daos_event_fini(&p), 0);
    CHECK_RC(daos_event_fini(&c1), -ENOENT);
}

static void test_abort_parent(void)
{
    struct family f;
    struct daos_event *evs[4];
    family_init(&f);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_noop(&f.kid[i], 5 * SEC), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    int64_t t0 = now_us();
    CHECK_RC(daos_event_abort(&f.parent), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 4, evs), 1);
    CHECK(now_us() - t0 < 1 * SEC);
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_EQ(f.parent.ev_error, -EINTR);
    for (int i = 0; i < NKIDS; i++)
        CHECK_EQ(f.kid[i].ev_error, -EINTR);

    /* abort of one child: the parent reports -EINTR, the others 0 */
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_noop(&f.kid[i], i == 2 ? 5 * SEC : 0), 0);
    CHECK_RC(daos_event_abort(&f.kid[2]), 0);
    t0 = now_us();
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 4, evs), 1);
    CHECK(now_us() - t0 < 1 * SEC);
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_EQ(f.parent.ev_error, -EINTR);
    CHECK_EQ(f.kid[0].ev_error, 0);
    CHECK_EQ(f.kid[2].ev_error, -EINTR);

    /* abort of an idle parent: no effect */
    CHECK_RC(daos_event_abort(&f.parent), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(daos_event_fini(&f.parent), 0);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_fini(&f.kid[i]), -ENOENT);
}

static void test_fini_completed_family(void)
{
    struct family f;
    struct daos_event *evs[4];
    family_init(&f);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_launch(&f.kid[i]), 0);
    /* daos_event_test on the parent: not done while children are in flight */
    bool done = true;
    CHECK_RC(daos_event_test(&f.parent, 0, &done), 0);
    CHECK_EQ(done, false);
    CHECK_RC(daos_event_test(&f.parent, 20 * MS, &done), 0);
    CHECK_EQ(done, false);
    /* a child that is not in flight ignores abort; the family goes on */
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_complete(&f.kid[i], i == 3 ? -EIO : 0), 0);
    CHECK_RC(daos_event_abort(&f.kid[0]), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL), 1);
    /* the parent is COMPLETE, unpolled: fini removes it and its children silently */
    CHECK_RC(daos_event_fini(&f.parent), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 0);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_fini(&f.kid[i]), -ENOENT);
}

static void test_destroy_with_family(void)
{
    daos_handle_t saved = eqh;
    CHECK_RC(daos_eq_create(&eqh), 0);
    struct family f;
    family_init(&f);
    CHECK_RC(daos_event_launch(&f.kid[0]), 0);
    CHECK_RC(daos_eq_destroy(eqh), -EBUSY); /* a child in flight */
    CHECK_RC(daos_event_complete(&f.kid[0], 0), 0);
    for (int i = 1; i < NKIDS; i++)
        CHECK_RC(daos_event_launch(&f.kid[i]), 0);
    CHECK_RC(daos_eq_destroy(eqh), -EBUSY);
    for (int i = 1; i < NKIDS; i++)
        CHECK_RC(daos_event_complete(&f.kid[i], 0), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_event_fini(&f.parent), -ENOENT);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_fini(&f.kid[i]), -ENOENT);
    eqh = saved;
}

/* An event launched by the caller, then made a parent: only its children
 * complete it (found by the ABI fuzzer: daos_event_complete on it completed
 * it a second time, and destroy_force completed it with a child in flight). */
static void test_launched_then_parent(void)
{
    struct daos_event p, kid, *evs[2];
    memset(&p, 0, sizeof p);
    memset(&kid, 0, sizeof kid);
    CHECK_RC(daos_event_init(&p, eqh, NULL), 0);
    CHECK_RC(daos_event_launch(&p), 0);
    CHECK_RC(daos_event_complete(&p, 0), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 2, evs), 1);
    CHECK_RC(daos_event_init(&kid, eqh, &p), 0);
    CHECK_RC(daos_noop(&kid, 50 * MS), 0);
    CHECK_RC(daos_event_complete(&p, 0), -EPERM);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 2, evs), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 2, evs), 1);
    CHECK_PTR_EQ(evs[0], &p);
    CHECK_EQ(kid.ev_error, 0);
    /* destroy_force does not complete it before its child either */
    daos_handle_t eq2;
    struct daos_event p2, kid2, other;
    memset(&p2, 0, sizeof p2);
    memset(&kid2, 0, sizeof kid2);
    memset(&other, 0, sizeof other);
    CHECK_RC(daos_eq_create(&eq2), 0);
    CHECK_RC(daos_event_init(&p2, eq2, NULL), 0);
    CHECK_RC(daos_event_launch(&p2), 0);
    CHECK_RC(daos_event_complete(&p2, 0), 0);
    CHECK_RC(daos_event_test(&p2, 0, &(bool){ false }), 0);
    CHECK_RC(daos_event_init(&kid2, eq2, &p2), 0);
    CHECK_RC(daos_event_launch(&kid2), 0);
    CHECK_RC(daos_eq_destroy_force(eq2), 0);
    CHECK_EQ(kid2.ev_error, -EINTR);
    CHECK_RC(daos_event_fini(&p), 0);
}

int main(void)
{
    CHECK_RC(daos_eq_create(&eqh), 0);
    RUN(test_next);
    RUN(test_dispatch_and_complete);
    RUN(test_first_error);
    RUN(test_eperm);
    RUN(test_child_ignores_eqh);
    RUN(test_abort_parent);
    RUN(test_fini_completed_family);
    RUN(test_destroy_with_family);
    RUN(test_launched_then_parent);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    return harness_summary();
}
