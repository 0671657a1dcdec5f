/* Many threads, many completions: each completed event is returned to exactly
 * one poller, none lost, none doubled (SPEC §1 "Threads", §2 look-up, §3). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000
#define DEADLINE_US (60LL * SEC) /* a hang is a failure, not a stuck CI job */

/* An event plus bookkeeping; the daos_event must be first so that the pointer
 * poll returns can be turned back into the slot. */
struct slot {
    struct daos_event ev;
    int eq;                 /* which EQ it belongs to */
    _Atomic int outstanding; /* 1 between dispatch and poll */
    _Atomic long dispatched;
    _Atomic long completed;
};

/* The user-event completer: a queue of launched events that a separate thread
 * completes with daos_event_complete. */
struct cqueue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct slot **items;
    int cap, head, len, stop;
};

struct eqctx {
    int idx;
    daos_handle_t eqh;
    long total;                 /* completions wanted on this EQ */
    _Atomic long issued;        /* dispatches reserved so far */
    _Atomic long done;          /* completions returned by poll */
    _Atomic long errors;        /* wrong ev_error, doubles, foreign events, bad rc */
    _Atomic long dispatch_fail;
    struct slot *slots;
    int nslots;
    struct cqueue q;
    int64_t deadline;
};

static void cq_push(struct cqueue *q, struct slot *s)
{
    pthread_mutex_lock(&q->mu);
    q->items[(q->head + q->len) % q->cap] = s;
    q->len++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void *completer_main(void *arg)
{
    struct eqctx *c = arg;
    struct cqueue *q = &c->q;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (q->len == 0 && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->len == 0 && q->stop) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        struct slot *s = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        pthread_mutex_unlock(&q->mu);
        if (daos_event_complete(&s->ev, 0) != 0)
            c->errors++;
    }
}

/* dispatch one operation on the slot: 2 of 3 are noops, 1 of 3 user events
 * completed by the completer thread */
static void dispatch(struct eqctx *c, struct slot *s, long n)
{
    int prev = atomic_exchange(&s->outstanding, 1);
    if (prev != 0) c->errors++;
    s->dispatched++;
    int rc;
    if (n % 3 == 2) {
        rc = daos_event_launch(&s->ev);
        if (rc == 0) cq_push(&c->q, s);
    } else {
        rc = daos_noop(&s->ev, 0);
    }
    if (rc != 0) {
        c->dispatch_fail++;
        fprintf(stderr, "dispatch failed: %d\n", rc);
    }
}

static void *poller_main(void *arg)
{
    struct eqctx *c = arg;
    struct daos_event *evs[16];
    long mine = 0;
    while (c->done < c->total && now_us() < c->deadline) {
        int n = daos_eq_poll(c->eqh, 0, 50 * MS, 16, evs);
        if (n < 0) {
            c->errors++;
            fprintf(stderr, "poll returned %d\n", n);
            break;
        }
        for (int i = 0; i < n; i++) {
            struct slot *s = (struct slot *)evs[i];
            if (s < c->slots || s >= c->slots + c->nslots || s->eq != c->idx) {
                c->errors++; /* not an event of this EQ */
                continue;
            }
            if (atomic_exchange(&s->outstanding, 0) != 1) c->errors++; /* doubled */
            if (s->ev.ev_error != 0) c->errors++;
            s->completed++;
            c->done++;
            mine++;
            long k = atomic_fetch_add(&c->issued, 1);
            if (k < c->total) dispatch(c, s, k);
        }
    }
    return (void *)mine;
}

static void eqctx_init(struct eqctx *c, int idx, long total, int nslots)
{
    memset(c, 0, sizeof(*c));
    c->idx = idx;
    c->total = total;
    c->nslots = nslots;
    c->slots = calloc((size_t)nslots, sizeof(struct slot));
    c->q.cap = nslots + 1;
    c->q.items = calloc((size_t)c->q.cap, sizeof(struct slot *));
    pthread_mutex_init(&c->q.mu, NULL);
    pthread_cond_init(&c->q.cv, NULL);
    CHECK_RC(daos_eq_create(&c->eqh), 0);
    for (int i = 0; i < nslots; i++) {
        c->slots[i].eq = idx;
        CHECK_RC(daos_event_init(&c->slots[i].ev, c->eqh, NULL), 0);
    }
}

/* runs pollers (and a completer) on several EQs at once, then checks them all */
static void run_eqs(int neq, int pollers_per_eq, long total_per_eq, int nslots)
{
    struct eqctx *ctx = calloc((size_t)neq, sizeof(*ctx));
    pthread_t *pollers = calloc((size_t)(neq * pollers_per_eq), sizeof(pthread_t));
    pthread_t *completers = calloc((size_t)neq, sizeof(pthread_t));
    int64_t t0 = now_us();
    for (int e = 0; e < neq; e++) {
        eqctx_init(&ctx[e], e, total_per_eq, nslots);
        ctx[e].deadline = t0 + DEADLINE_US;
    }
    for (int e = 0; e < neq; e++) {
        CHECK_EQ(pthread_create(&completers[e], NULL, completer_main, &ctx[e]), 0);
        for (int p = 0; p < pollers_per_eq; p++)
            CHECK_EQ(pthread_create(&pollers[e * pollers_per_eq + p], NULL, poller_main, &ctx[e]), 0);
    }
    /* the initial dispatch, from the main thread, while the pollers already poll */
    for (int e = 0; e < neq; e++)
        for (int i = 0; i < nslots; i++) {
            long k = atomic_fetch_add(&ctx[e].issued, 1);
            if (k < total_per_eq) dispatch(&ctx[e], &ctx[e].slots[i], k);
        }
    for (int e = 0; e < neq; e++) {
        printf("   eq %d: completions per poller:", e);
        for (int p = 0; p < pollers_per_eq; p++) {
            void *ret;
            pthread_join(pollers[e * pollers_per_eq + p], &ret);
            printf(" %ld", (long)ret);
        }
        printf("\n");
        pthread_mutex_lock(&ctx[e].q.mu);
        ctx[e].q.stop = 1;
        pthread_cond_signal(&ctx[e].q.cv);
        pthread_mutex_unlock(&ctx[e].q.mu);
        pthread_join(completers[e], NULL);
    }
    int64_t dt = now_us() - t0;
    long sum = 0;
    for (int e = 0; e < neq; e++)
        sum += ctx[e].done;
    printf("   %d EQ(s) x %d pollers: %ld completions in %.2f s (%.0f/s)\n", neq, pollers_per_eq,
           sum, dt / 1e6, sum / (dt / 1e6));

    for (int e = 0; e < neq; e++) {
        struct eqctx *c = &ctx[e];
        CHECK_EQ(c->done, total_per_eq);
        CHECK_EQ(c->errors, 0);
        CHECK_EQ(c->dispatch_fail, 0);
        long disp = 0, comp = 0, mismatch = 0, still_out = 0;
        for (int i = 0; i < nslots; i++) {
            disp += c->slots[i].dispatched;
            comp += c->slots[i].completed;
            mismatch += c->slots[i].dispatched != c->slots[i].completed;
            still_out += c->slots[i].outstanding;
        }
        CHECK_EQ(disp, total_per_eq);
        CHECK_EQ(comp, total_per_eq);
        CHECK_EQ(mismatch, 0);
        CHECK_EQ(still_out, 0);
        CHECK_RC(daos_eq_query(c->eqh, DAOS_EVQ_ALL, 0, NULL), 0);
        struct daos_event *evs[4];
        CHECK_RC(daos_eq_poll(c->eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 0);
        for (int i = 0; i < nslots; i++)
            CHECK_RC(daos_event_fini(&c->slots[i].ev), 0);
        CHECK_RC(daos_eq_destroy(c->eqh), 0);
        pthread_mutex_destroy(&c->q.mu);
        pthread_cond_destroy(&c->q.cv);
        free(c->q.items);
        free(c->slots);
    }
    free(ctx);
    free(pollers);
    free(completers);
}

static void test_one_eq_four_pollers(void)
{
    run_eqs(1, 4, 120000, 256);
}

static void test_several_eqs(void)
{
    run_eqs(4, 2, 20000, 64);
}

/* several threads blocked in DAOS_EQ_WAIT on one EQ: each completion wakes
 * exactly one of them, and destroy wakes the rest with -EBADF */
struct waiter {
    daos_handle_t eqh;
    _Atomic int *got;
    int rc_last;
    struct daos_event *ev_got;
};

static void *waiter_main(void *arg)
{
    struct waiter *w = arg;
    for (;;) {
        struct daos_event *evs[1];
        int rc = daos_eq_poll(w->eqh, 0, DAOS_EQ_WAIT, 1, evs);
        w->rc_last = rc;
        if (rc != 1) return NULL;
        (*w->got)++;
    }
}

static void test_blocked_waiters(void)
{
    enum { W = 4, N = 200 };
    daos_handle_t eqh = { 0 };
    CHECK_RC(daos_eq_create(&eqh), 0);
    _Atomic int got = 0;
    struct waiter w[W];
    pthread_t th[W];
    for (int i = 0; i < W; i++) {
        w[i] = (struct waiter){ eqh, &got, 12345, NULL };
        CHECK_EQ(pthread_create(&th[i], NULL, waiter_main, &w[i]), 0);
    }
    struct daos_event ev[8];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < 8; i++)
        CHECK_RC(daos_event_init(&ev[i], eqh, NULL), 0);
    sleep_us(50 * MS);
    int64_t deadline = now_us() + 20 * SEC;
    for (int k = 0; k < N; k++) {
        struct daos_event *e = &ev[k % 8];
        /* wait for the event to be polled back before reusing it */
        int rc;
        while ((rc = (k % 2) ? daos_noop(e, 0) : daos_event_launch(e)) == -EBUSY && now_us() < deadline)
            sleep_us(100);
        CHECK_RC(rc, 0);
        if (rc == 0 && (k % 2) == 0) CHECK_RC(daos_event_complete(e, 0), 0);
    }
    while (got < N && now_us() < deadline)
        sleep_us(1 * MS);
    CHECK_EQ(got, N);
    sleep_us(50 * MS);
    CHECK_EQ(got, N); /* nothing returned twice */
    int64_t t0 = now_us();
    for (int i = 0; i < 8; i++)
        CHECK_RC(daos_event_fini(&ev[i]), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    for (int i = 0; i < W; i++) {
        pthread_join(th[i], NULL);
        CHECK_RC(w[i].rc_last, -EBADF);
    }
    CHECK(now_us() - t0 < 2 * SEC);
}

/* aborts racing completions, with pollers on other threads: every dispatched
 * event comes back exactly once, with 0 (the noop won) or -EINTR (the cancel
 * won) */
struct abort_ctx {
    daos_handle_t eqh;
    struct slot slots[32];
    _Atomic long done, errors, eintr;
    long total;
    int64_t deadline;
};

static void *abort_poller(void *arg)
{
    struct abort_ctx *c = arg;
    struct daos_event *evs[8];
    while (c->done < c->total && now_us() < c->deadline) {
        int n = daos_eq_poll(c->eqh, 0, 20 * MS, 8, evs);
        if (n < 0) { c->errors++; break; }
        for (int i = 0; i < n; i++) {
            struct slot *s = (struct slot *)evs[i];
            if (s < c->slots || s >= c->slots + 32) { c->errors++; continue; }
            if (s->ev.ev_error == -EINTR) c->eintr++;
            else if (s->ev.ev_error != 0) c->errors++;
            s->completed++;
            /* hand the slot back to the dispatcher last */
            if (atomic_exchange(&s->outstanding, 0) != 1) c->errors++;
            c->done++;
        }
    }
    return NULL;
}

static void test_abort_races(void)
{
    struct abort_ctx *c = calloc(1, sizeof(*c));
    c->total = 20000;
    c->deadline = now_us() + DEADLINE_US;
    CHECK_RC(daos_eq_create(&c->eqh), 0);
    for (int i = 0; i < 32; i++)
        CHECK_RC(daos_event_init(&c->slots[i].ev, c->eqh, NULL), 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, abort_poller, c), 0);
    long issued = 0, refused = 0;
    unsigned seed = 7;
    while (issued < c->total && now_us() < c->deadline) {
        struct slot *s = &c->slots[issued % 32];
        if (atomic_load(&s->outstanding)) { sched_yield(); continue; }
        atomic_store(&s->outstanding, 1);
        s->dispatched++;
        seed = seed * 1103515245u + 12345u;
        uint64_t delay = (seed >> 16) % 4 == 0 ? 0 : (seed >> 16) % 300; /* us */
        int rc = daos_noop(&s->ev, delay);
        if (rc != 0) { refused++; atomic_store(&s->outstanding, 0); s->dispatched--; continue; }
        issued++;
        if ((seed >> 8) % 3 != 0) {
            if ((seed >> 4) % 2) sched_yield();
            rc = daos_event_abort(&s->ev); /* in flight, or already completed/polled */
            if (rc != 0) c->errors++;
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    printf("   %ld dispatched, %ld completed (%ld with -EINTR)\n", issued, (long)c->done,
           (long)c->eintr);
    CHECK_EQ(issued, c->total);
    CHECK_EQ(refused, 0);
    CHECK_EQ(c->done, c->total);
    CHECK_EQ(c->errors, 0);
    CHECK(c->eintr > 0); /* some cancels won */
    long mismatch = 0;
    for (int i = 0; i < 32; i++)
        mismatch += c->slots[i].dispatched != c->slots[i].completed;
    CHECK_EQ(mismatch, 0);
    CHECK_RC(daos_eq_query(c->eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    for (int i = 0; i < 32; i++)
        CHECK_RC(daos_event_fini(&c->slots[i].ev), 0);
    CHECK_RC(daos_eq_destroy(c->eqh), 0);
    free(c);
}

int main(void)
{
    RUN(test_one_eq_four_pollers);
    RUN(test_several_eqs);
    RUN(test_blocked_waiters);
    RUN(test_abort_races);
    return harness_summary();
}
