/* Calls that used to block forever (issue 11, defects 5 and 6), each under a
 * watchdog that reports the step it hung in:
 *  - daos_eq_destroy_force with a parent whose children are only partly
 *    dispatched, and daos_event_abort of such a parent (its never-dispatched
 *    children complete with -EINTR, so the parent completes and plain
 *    daos_eq_destroy no longer says -EBUSY forever);
 *  - a thread in daos_eq_destroy_force, daos_event_test or daos_eq_poll
 *    while other threads take in the completion it waits for (query, poll,
 *    the callback reaper): the sleeper must be woken (lost wake-up);
 *  - completion callbacks that wait for themselves: daos_eq_destroy_force of
 *    their own EQ, daos_event_test(self or its parent, -1),
 *    daos_eq_poll(own EQ, wait_inf, -1) with only themselves in flight:
 *    -EDEADLK, on the polling thread and on a library thread (the callback
 *    reaper with io_uring, a worker or the timer thread otherwise). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000

/* ------------------------------------------------------------------ */
/* watchdog: a step that does not finish within its time fails the program */

static _Atomic(const char *) wd_step = "start";
static _Atomic(const char *) wd_case = "main";
static _Atomic int64_t wd_deadline;

static void step(const char *what, int64_t limit_us)
{
    atomic_store(&wd_step, what);
    atomic_store(&wd_deadline, limit_us > 0 ? now_us() + limit_us : 0);
}

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        sleep_us(100 * MS);
        int64_t d = atomic_load(&wd_deadline);
        if (d != 0 && now_us() > d) {
            printf("FAIL: hung in: %s\n", atomic_load(&wd_step));
            printf("   %s: 1 failure(s)\n", atomic_load(&wd_case));
            printf("%ld passed, %ld failed\n", atomic_load(&h_pass), atomic_load(&h_fail) + 1);
            fflush(stdout);
            _exit(1);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* defect 5a: partly dispatched parents */

#define NKIDS 3

struct family {
    struct daos_event parent;
    struct daos_event kid[NKIDS];
};

static void family_init(struct family *f, daos_handle_t eqh)
{
    memset(f, 0, sizeof(*f));
    CHECK_RC(daos_event_init(&f->parent, eqh, NULL), 0);
    for (int i = 0; i < NKIDS; i++)
        CHECK_RC(daos_event_init(&f->kid[i], eqh, &f->parent), 0);
}

static void test_force_partial_parent(void)
{
    for (int variant = 0; variant < 4; variant++) {
        daos_handle_t eqh;
        struct family f;
        CHECK_RC(daos_eq_create(&eqh), 0);
        family_init(&f, eqh);
        /* kid 0 done, kid 1 in flight (a delay, or user-launched), kid 2 never dispatched */
        CHECK_RC(daos_noop(&f.kid[0], 0), 0);
        if (variant & 1) CHECK_RC(daos_event_launch(&f.kid[1]), 0);
        else CHECK_RC(daos_noop(&f.kid[1], 30 * SEC), 0);
        if (variant & 2) CHECK_RC(daos_event_abort(&f.parent), 0);
        step("daos_eq_destroy_force with a partly dispatched parent", 10 * SEC);
        CHECK_RC(daos_eq_destroy_force(eqh), 0);
        step("idle", 0);
        CHECK_RC(daos_event_fini(&f.parent), -ENOENT);
        CHECK_RC(daos_event_fini(&f.kid[2]), -ENOENT);
    }
    /* a parent whose children are all idle is not in flight: nothing to wait for */
    daos_handle_t eqh;
    struct family f;
    CHECK_RC(daos_eq_create(&eqh), 0);
    family_init(&f, eqh);
    step("daos_eq_destroy_force with an idle parent", 10 * SEC);
    CHECK_RC(daos_eq_destroy_force(eqh), 0);
    step("idle", 0);
}

static void test_abort_partial_parent(void)
{
    daos_handle_t eqh;
    struct family f;
    struct daos_event *evs[4];
    CHECK_RC(daos_eq_create(&eqh), 0);
    family_init(&f, eqh);
    f.kid[2].ev_error = 12345;
    CHECK_RC(daos_noop(&f.kid[0], 0), 0);
    CHECK_RC(daos_noop(&f.kid[1], 30 * SEC), 0);
    CHECK_RC(daos_eq_destroy(eqh), -EBUSY);
    CHECK_RC(daos_event_abort(&f.parent), 0);
    /* the never-dispatched child is done (-EINTR) and cannot be dispatched any more */
    CHECK_EQ(f.kid[2].ev_error, -EINTR);
    CHECK_RC(daos_noop(&f.kid[2], 0), -EBUSY);
    step("poll of an aborted, partly dispatched parent", 10 * SEC);
    CHECK_RC(daos_eq_poll(eqh, 0, 10 * SEC, 4, evs), 1);
    step("idle", 0);
    CHECK_PTR_EQ(evs[0], &f.parent);
    CHECK_EQ(f.parent.ev_error, -EINTR);
    CHECK_EQ(f.kid[0].ev_error, 0);
    CHECK_EQ(f.kid[1].ev_error, -EINTR);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);

    /* the family is idle again and reusable */
    for (int i = 0; i < NKIDS; i++) CHECK_RC(daos_noop(&f.kid[i], 0), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, 10 * SEC, 4, evs), 1);
    CHECK_EQ(f.parent.ev_error, 0);

    /* every dispatched child already done, one never dispatched: the abort
     * completes the parent at once */
    CHECK_RC(daos_noop(&f.kid[0], 0), 0);
    CHECK_RC(daos_event_abort(&f.parent), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 1);
    CHECK_EQ(f.parent.ev_error, -EINTR);

    /* and plain destroy is no longer -EBUSY */
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

/* ------------------------------------------------------------------ */
/* defect 5b: a sleeper whose completion another thread takes in */

struct spin {
    daos_handle_t eqh;
    struct daos_event *ev;
    _Atomic int stop;
    int mode;
};

static void *spinner(void *arg)
{
    struct spin *s = arg;
    struct daos_event *out[4];
    while (!atomic_load(&s->stop)) {
        switch (s->mode) {
        case 0: daos_eq_query(s->eqh, DAOS_EVQ_ALL, 0, NULL); break;
        case 1: daos_eq_poll(s->eqh, 0, DAOS_EQ_WAIT, 4, out); break; /* -EBADF once destroyed */
        default: daos_eq_poll(s->eqh, 1, 200, 4, out); break;
        }
    }
    return NULL;
}

static void test_lost_wakeup(void)
{
    char what[160];
    int64_t end = now_us() + 4 * SEC;
    int rounds = 0;
    for (int r = 0; now_us() < end || rounds < 60; r++, rounds++) {
        struct spin s[3];
        pthread_t t[3];
        daos_handle_t eqh;
        struct daos_event ev[2];
        memset(ev, 0, sizeof ev);
        CHECK_RC(daos_eq_create(&eqh), 0);
        for (int i = 0; i < 2; i++) {
            CHECK_RC(daos_event_init(&ev[i], eqh, NULL), 0);
            CHECK_RC(daos_noop(&ev[i], (uint64_t)(200 + (r % 7) * 300)), 0);
        }
        /* every combination of: the waiting call (r % 3), how many other
         * threads (1 + r / 3 % 3) and what they do (r / 9 % 3 onwards) */
        int nspin = 1 + r / 3 % 3;
        for (int i = 0; i < nspin; i++) {
            s[i].eqh = eqh;
            s[i].ev = &ev[0];
            atomic_store(&s[i].stop, 0);
            s[i].mode = (r / 9 + i) % 3;
            pthread_create(&t[i], NULL, spinner, &s[i]);
        }
        int which = r % 3;
        snprintf(what, sizeof what, "round %d: %s while %d thread(s) query/poll the EQ", r,
                 which == 0 ? "daos_eq_destroy_force" : which == 1 ? "daos_event_test(ev, -1)" : "daos_eq_poll(-1)",
                 nspin);
        step(what, 10 * SEC);
        if (which == 1) {
            bool done = false;
            CHECK_RC(daos_event_test(&ev[1], -1, &done), 0);
            CHECK(done);
        } else if (which == 2) {
            struct daos_event *out[2];
            int n = daos_eq_poll(eqh, 1, DAOS_EQ_WAIT, 2, out);
            CHECK(n >= 0);
        }
        CHECK_RC(daos_eq_destroy_force(eqh), 0);
        for (int i = 0; i < nspin; i++) atomic_store(&s[i].stop, 1);
        for (int i = 0; i < nspin; i++) pthread_join(t[i], NULL);
        step("idle", 0);
    }
    printf("   %d rounds\n", rounds);
}

/* ------------------------------------------------------------------ */
/* defect 6: callbacks that wait for themselves */

enum { A_FORCE_OWN, A_TEST_SELF, A_TEST_SELF_TIMED, A_TEST_PARENT, A_POLL_INF, A_POLL_INF_OTHER, A_FORCE_OTHER };

struct cbctx {
    int action;
    daos_handle_t own, other;
    struct daos_event *parent;
    _Atomic int calls;
    int rc, rc2;
    bool done;
    pthread_t thread;
};

static int wait_cb(void *arg, struct daos_event *ev, int rc)
{
    struct cbctx *c = arg;
    struct daos_event *out[4];
    c->thread = pthread_self();
    switch (c->action) {
    case A_FORCE_OWN: c->rc = daos_eq_destroy_force(c->own); break;
    case A_TEST_SELF:
        c->rc = daos_event_test(ev, -1, &c->done);
        c->rc2 = daos_event_test(ev, 0, &c->done); /* no wait: fine, not done */
        break;
    case A_TEST_SELF_TIMED: c->rc = daos_event_test(ev, 2 * MS, &c->done); break;
    case A_TEST_PARENT: c->rc = daos_event_test(c->parent, -1, &c->done); break;
    case A_POLL_INF: c->rc = daos_eq_poll(c->own, 1, DAOS_EQ_WAIT, 4, out); break;
    case A_POLL_INF_OTHER: c->rc = daos_eq_poll(c->own, 1, DAOS_EQ_WAIT, 4, out); break;
    case A_FORCE_OTHER: c->rc = daos_eq_destroy_force(c->other); break;
    }
    atomic_fetch_add(&c->calls, 1);
    return rc;
}

static const char *action_name(int a)
{
    static const char *n[] = { "destroy_force(own EQ)", "test(self, -1)", "test(self, 2 ms)", "test(parent, -1)",
                               "poll(own EQ, wait_inf, -1)", "poll(own EQ, wait_inf, -1) with another event in flight",
                               "destroy_force(another EQ)" };
    return n[a];
}

/* on_library_thread: nobody polls until the callback has run */
static void cb_case(int action, bool on_library_thread)
{
    char what[200];
    daos_handle_t eqh, eq2;
    struct daos_event parent, ev, other, ev2;
    struct cbctx c;
    memset(&c, 0, sizeof c);
    memset(&parent, 0, sizeof parent);
    memset(&ev, 0, sizeof ev);
    memset(&other, 0, sizeof other);
    memset(&ev2, 0, sizeof ev2);
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_eq_create(&eq2), 0);
    c.action = action;
    c.own = eqh;
    c.other = eq2;
    c.parent = &parent;
    c.done = true;
    c.rc2 = 1;
    if (action == A_TEST_PARENT) {
        CHECK_RC(daos_event_init(&parent, eqh, NULL), 0);
        CHECK_RC(daos_event_init(&ev, eqh, &parent), 0);
    } else {
        CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    }
    CHECK_RC(daos_event_init(&ev2, eq2, NULL), 0);
    CHECK_RC(daos_noop(&ev2, 30 * SEC), 0); /* keeps the other EQ busy */
    CHECK_RC(daos_event_register_comp_cb(&ev, wait_cb, &c), 0);
    if (action == A_POLL_INF_OTHER) {
        CHECK_RC(daos_event_init(&other, eqh, NULL), 0);
        CHECK_RC(daos_noop(&other, 20 * MS), 0);
    }
    snprintf(what, sizeof what, "a completion callback (run by %s) calling %s",
             on_library_thread ? "a library thread" : "the polling thread", action_name(action));
    step(what, 10 * SEC);
    CHECK_RC(daos_noop(&ev, on_library_thread ? 5 * MS : 0), 0);
    if (on_library_thread) {
        while (atomic_load(&c.calls) == 0) sleep_us(MS);
        CHECK(!pthread_equal(c.thread, pthread_self()));
    }
    struct daos_event *top = action == A_TEST_PARENT ? &parent : &ev;
    bool done = false;
    CHECK_RC(daos_event_test(top, 10 * SEC, &done), 0);
    CHECK(done);
    step("idle", 0);
    CHECK_EQ(atomic_load(&c.calls), 1);
    switch (action) {
    case A_FORCE_OWN: case A_TEST_SELF: case A_TEST_PARENT: case A_POLL_INF:
        if (c.rc != -EDEADLK) printf("   %s from a callback on %s returned %d\n", action_name(action),
                                     on_library_thread ? "a library thread" : "the polling thread", c.rc);
        CHECK_RC(c.rc, -EDEADLK);
        break;
    case A_TEST_SELF_TIMED: CHECK_RC(c.rc, 0); CHECK(!c.done); break;
    case A_POLL_INF_OTHER: CHECK_RC(c.rc, 1); break;  /* the other event */
    case A_FORCE_OTHER: CHECK_RC(c.rc, 0); break;
    }
    if (action == A_TEST_SELF) { CHECK_RC(c.rc2, 0); CHECK(!c.done); }
    /* the EQ is intact and usable */
    CHECK_RC(daos_noop(&ev, 0), 0);
    CHECK_RC(daos_event_test(top, 10 * SEC, &done), 0);
    CHECK(done);
    if (action == A_POLL_INF_OTHER) {
        CHECK_RC(daos_event_test(&other, 0, &done), 0);
        CHECK(done);
    }
    CHECK_RC(daos_eq_destroy(eqh), 0);
    if (action == A_FORCE_OTHER) CHECK_RC(daos_eq_destroy(eq2), -EBADF);
    else CHECK_RC(daos_eq_destroy_force(eq2), 0);
}

static void test_callback_waits_for_itself(void)
{
    for (int lib = 0; lib < 2; lib++)
        for (int a = A_FORCE_OWN; a <= A_FORCE_OTHER; a++) cb_case(a, lib);
}

/* A callback of an asynchronous metadata call (run by the metadata worker
 * that ran the call) makes another asynchronous call on the same container,
 * which runs after the first, and waits for it: the worker must have handed
 * the container on before running the callback. */
struct meta_cb {
    daos_handle_t coh;
    struct daos_event *ev2;
    int rc, rc2;
    bool done;
    _Atomic int calls;
};

static int meta_cb_fn(void *arg, struct daos_event *ev, int rc)
{
    (void)ev;
    struct meta_cb *m = arg;
    static daos_epoch_t e;
    static struct daos_container_info info;
    m->rc = daos_container_query(m->coh, &e, &info, m->ev2);
    m->rc2 = m->rc == 0 ? daos_event_test(m->ev2, 10 * SEC, &m->done) : m->rc;
    atomic_fetch_add(&m->calls, 1);
    return rc;
}

static void test_metadata_callback_waits_for_same_container(void)
{
    char root[256], path[320];
    if (h_new_store(root, sizeof root, "deadlock", 1) != 0) { CHECK(0); return; }
    snprintf(path, sizeof path, "%s/co", root);
    daos_handle_t eqh, coh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    CHECK_RC(daos_eq_create(&eqh), 0);
    struct daos_event ev, ev2;
    memset(&ev, 0, sizeof ev);
    memset(&ev2, 0, sizeof ev2);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&ev2, eqh, NULL), 0);
    struct meta_cb m = { .coh = coh, .ev2 = &ev2 };
    CHECK_RC(daos_event_register_comp_cb(&ev, meta_cb_fn, &m), 0);
    daos_epoch_t e;
    struct daos_container_info info;
    step("a metadata callback waiting for a later call on its container", 20 * SEC);
    CHECK_RC(daos_container_query(coh, &e, &info, &ev), 0);
    while (atomic_load(&m.calls) == 0) sleep_us(MS);
    bool done = false;
    CHECK_RC(daos_event_test(&ev, 10 * SEC, &done), 0);
    step("idle", 0);
    CHECK(done);
    CHECK_RC(m.rc, 0);
    CHECK_RC(m.rc2, 0);
    CHECK(m.done);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    h_rmrf(root);
}

int main(void)
{
    pthread_t wd;
    pthread_create(&wd, NULL, watchdog, NULL);
    pthread_detach(wd);
    /* DEADLOCK_CASE=name runs one case */
    const char *only = getenv("DEADLOCK_CASE");
#define CASE(fn) do { if (!only || strcmp(only, #fn) == 0) { atomic_store(&wd_case, #fn); RUN(fn); } } while (0)
    CASE(test_force_partial_parent);
    CASE(test_abort_partial_parent);
    CASE(test_callback_waits_for_itself);
    CASE(test_metadata_callback_waits_for_same_container);
    CASE(test_lost_wakeup);
    return harness_summary();
}
