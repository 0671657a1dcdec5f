/* daos_eq_get_fd: a descriptor readable while the EQ has completed events
 * (SPEC §12); it must become readable by itself, for epoll/select/asyncio. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000

/* poll(2) the fd for input; returns 1 if readable, 0 if not, -1 on error */
static int readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int rc = poll(&p, 1, timeout_ms);
    if (rc < 0) return -1;
    return rc == 1 && (p.revents & POLLIN) ? 1 : 0;
}

/* epoll_wait, retried on EINTR as any event loop does (libuv, asyncio). An
 * io_uring completion delivered as task work can interrupt epoll_wait in the
 * thread that submitted it; count those to report them. */
static int eintr_count;
static int epoll_wait_r(int ep, struct epoll_event *out, int max, int timeout_ms)
{
    int64_t deadline = now_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int n = epoll_wait(ep, out, max, timeout_ms);
        if (n >= 0 || errno != EINTR) return n;
        eintr_count++;
        int64_t left = deadline - now_us();
        timeout_ms = left > 0 ? (int)(left / 1000) : 0;
    }
}

/* which of the epoll set's tags (1, 2) are ready within timeout_ms: a bit mask */
static int ready_mask(int ep, int timeout_ms)
{
    struct epoll_event out[4];
    int n = epoll_wait_r(ep, out, 4, timeout_ms);
    if (n < 0) return -1;
    int mask = 0;
    for (int i = 0; i < n; i++)
        if (out[i].events & EPOLLIN) mask |= (int)out[i].data.u32;
    return mask;
}

static void test_get_fd(void)
{
    daos_handle_t eqh = { 0 }, eq2 = { 0 };
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_eq_create(&eq2), 0);
    int fd1 = -1, fd2 = -1, fd3 = -1;
    CHECK_RC(daos_eq_get_fd(eqh, &fd1), 0);
    CHECK_RC(daos_eq_get_fd(eqh, &fd2), 0);
    CHECK_RC(daos_eq_get_fd(eq2, &fd3), 0);
    CHECK(fd1 >= 0);
    CHECK_EQ(fd1, fd2);
    CHECK(fd3 >= 0);
    CHECK(fd3 != fd1);
    CHECK_RC(daos_eq_get_fd(eqh, NULL), -EINVAL);
    int fd = -99;
    daos_handle_t bad = { 0 };
    CHECK_RC(daos_eq_get_fd(bad, &fd), -EBADF);
    CHECK_EQ(fd, -99);
    CHECK_RC(daos_eq_destroy(eq2), 0);
    CHECK_RC(daos_eq_get_fd(eq2, &fd), -EBADF);
    CHECK_EQ(fd, -99);
    CHECK_RC(daos_eq_get_fd(eqh, &fd), 0);
    CHECK_EQ(fd, fd1);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

static void test_readable_by_itself(void)
{
    daos_handle_t eqh = { 0 };
    CHECK_RC(daos_eq_create(&eqh), 0);
    int fd = -1;
    CHECK_RC(daos_eq_get_fd(eqh, &fd), 0);
    struct daos_event ev, ev2;
    memset(&ev, 0, sizeof(ev));
    memset(&ev2, 0, sizeof(ev2));
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&ev2, eqh, NULL), 0);
    struct daos_event *evs[4];

    CHECK_EQ(readable(fd, 0), 0); /* nothing completed */

    /* a noop with a delay; no daos_eq_poll: the fd must turn readable by itself */
    int64_t t0 = now_us();
    CHECK_RC(daos_noop(&ev, 200 * MS), 0);
    CHECK_EQ(readable(fd, 0), 0); /* not yet */
    CHECK_EQ(readable(fd, 5000), 1);
    int64_t dt = now_us() - t0;
    CHECK(dt >= 195 * MS); /* not before the noop completed */
    CHECK(dt < 3 * SEC);
    CHECK_EQ(readable(fd, 0), 1); /* stays readable until drained */
    /* query changes no state: still readable */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL), 1);
    CHECK_EQ(readable(fd, 0), 1);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev);
    CHECK_EQ(readable(fd, 0), 0); /* drained */
    CHECK_EQ(readable(fd, 50), 0);

    /* a zero-delay noop */
    CHECK_RC(daos_noop(&ev, 0), 0);
    CHECK_EQ(readable(fd, 5000), 1);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 1);
    CHECK_EQ(readable(fd, 0), 0);

    /* two completions: readable until both are polled */
    CHECK_RC(daos_noop(&ev, 0), 0);
    CHECK_RC(daos_noop(&ev2, 0), 0);
    int64_t deadline = now_us() + 5 * SEC;
    while (daos_eq_query(eqh, DAOS_EVQ_COMPLETED, 0, NULL) < 2 && now_us() < deadline)
        sleep_us(1 * MS);
    CHECK_EQ(readable(fd, 0), 1);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 1, evs), 1);
    CHECK_EQ(readable(fd, 0), 1); /* one still waiting */
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 1, evs), 1);
    CHECK_EQ(readable(fd, 0), 0);

    /* a user completion in this thread */
    CHECK_RC(daos_event_launch(&ev), 0);
    CHECK_EQ(readable(fd, 0), 0);
    CHECK_RC(daos_event_complete(&ev, -EIO), 0);
    CHECK_EQ(readable(fd, 0), 1);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 1);
    CHECK_EQ(ev.ev_error, -EIO);
    CHECK_EQ(readable(fd, 0), 0);

    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_event_fini(&ev2), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

struct completer {
    struct daos_event *ev;
    _Atomic int64_t t;
    int rc;
};

static void *completer_main(void *arg)
{
    struct completer *c = arg;
    sleep_us(100 * MS);
    c->t = now_us();
    c->rc = daos_event_complete(c->ev, 0);
    return NULL;
}

static void test_user_complete_other_thread(void)
{
    daos_handle_t eqh = { 0 };
    CHECK_RC(daos_eq_create(&eqh), 0);
    int fd = -1;
    CHECK_RC(daos_eq_get_fd(eqh, &fd), 0);
    struct daos_event ev;
    memset(&ev, 0, sizeof(ev));
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_launch(&ev), 0);
    struct completer c = { &ev, 0, 1 };
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, completer_main, &c), 0);
    CHECK_EQ(readable(fd, 5000), 1);
    int64_t t1 = now_us();
    pthread_join(th, NULL);
    CHECK_RC(c.rc, 0);
    CHECK(c.t > 0 && t1 >= c.t);
    printf("   fd readable %lld us after daos_event_complete in another thread\n",
           (long long)(t1 - c.t));
    CHECK(t1 - c.t < 200 * MS);
    struct daos_event *evs[1];
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 1, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev);
    CHECK_EQ(readable(fd, 0), 0);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

static void test_epoll(void)
{
    daos_handle_t eqh = { 0 }, eq2 = { 0 };
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_eq_create(&eq2), 0);
    int fd = -1, fd2 = -1;
    CHECK_RC(daos_eq_get_fd(eqh, &fd), 0);
    CHECK_RC(daos_eq_get_fd(eq2, &fd2), 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    struct epoll_event ee = { .events = EPOLLIN, .data.u32 = 1 };
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee), 0);
    struct epoll_event ee2 = { .events = EPOLLIN, .data.u32 = 2 };
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, fd2, &ee2), 0);

    struct daos_event ev, ev2;
    memset(&ev, 0, sizeof(ev));
    memset(&ev2, 0, sizeof(ev2));
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&ev2, eq2, NULL), 0);
    struct daos_event *evs[2];

    CHECK_EQ(ready_mask(ep, 0), 0);
    for (int round = 0; round < 3; round++) {
        /* a noop on the second EQ: only its fd fires */
        CHECK_RC(daos_noop(&ev2, 20 * MS), 0);
        CHECK_EQ(ready_mask(ep, 5000), 2);
        /* level-triggered: reported again until drained */
        CHECK_EQ(ready_mask(ep, 0), 2);
        CHECK_RC(daos_eq_poll(eq2, 0, 5 * SEC, 2, evs), 1);
        CHECK_PTR_EQ(evs[0], &ev2);
        CHECK_EQ(ready_mask(ep, 0), 0);

        /* a noop on the first EQ */
        CHECK_RC(daos_noop(&ev, 10 * MS), 0);
        CHECK_EQ(ready_mask(ep, 5000), 1);
        CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 2, evs), 1);
        CHECK_PTR_EQ(evs[0], &ev);
        CHECK_EQ(ready_mask(ep, 50), 0);
    }

    /* edge-triggered: a wake-up for each new completion */
    struct epoll_event et = { .events = EPOLLIN | EPOLLET, .data.u32 = 1 };
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &et), 0);
    for (int round = 0; round < 3; round++) {
        CHECK_RC(daos_noop(&ev, 0), 0);
        CHECK_EQ(ready_mask(ep, 5000), 1);
        CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 2, evs), 1);
    }

    if (eintr_count)
        printf("   note: epoll_wait returned EINTR %d time(s) with no signal handler installed\n",
               eintr_count);
    close(ep);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_event_fini(&ev2), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_eq_destroy(eq2), 0);
}

/* an event loop that waits only on the fd and then polls: no completion lost */
static void test_event_loop(void)
{
    daos_handle_t eqh = { 0 };
    CHECK_RC(daos_eq_create(&eqh), 0);
    int fd = -1;
    CHECK_RC(daos_eq_get_fd(eqh, &fd), 0);
    enum { NEV = 16, TOTAL = 2000 };
    struct daos_event ev[NEV];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < NEV; i++) {
        CHECK_RC(daos_event_init(&ev[i], eqh, NULL), 0);
        CHECK_RC(daos_noop(&ev[i], (uint64_t)(i % 3) * 100), 0);
    }
    int issued = NEV, got = 0, stalls = 0;
    int64_t deadline = now_us() + 20 * SEC;
    while (got < TOTAL && now_us() < deadline) {
        if (readable(fd, 2000) != 1) {
            stalls++;
            break;
        }
        struct daos_event *evs[NEV];
        int n = daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, NEV, evs);
        if (n < 0) break;
        for (int i = 0; i < n; i++) {
            got++;
            if (issued < TOTAL) {
                CHECK_RC(daos_noop(evs[i], 0), 0);
                issued++;
            }
        }
    }
    CHECK_EQ(stalls, 0);
    CHECK_EQ(got, TOTAL);
    for (int i = 0; i < NEV; i++)
        CHECK_RC(daos_event_fini(&ev[i]), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

int main(void)
{
    RUN(test_get_fd);
    RUN(test_readable_by_itself);
    RUN(test_user_complete_other_thread);
    RUN(test_epoll);
    RUN(test_event_loop);
    return harness_summary();
}
