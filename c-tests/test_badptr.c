/* Every function, NULL for each pointer argument, and bad handles: the
 * documented negative errno, never a crash, and out-params untouched on
 * failure (SPEC §1 "Out-parameters are written only on success"). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000

#define SENTINEL_EV ((struct daos_event *)(uintptr_t)0xdeadbeef)
#define SENTINEL_COOKIE 0x5eed5eed5eed5eedULL

static daos_handle_t eqh;

static int dummy_cb(void *arg, struct daos_event *ev, int rc)
{
    (void)ev;
    if (arg) (*(int *)arg)++;
    return rc;
}

static void fill(struct daos_event **evs, int n)
{
    for (int i = 0; i < n; i++) evs[i] = SENTINEL_EV;
}

static int untouched(struct daos_event **evs, int n)
{
    for (int i = 0; i < n; i++)
        if (evs[i] != SENTINEL_EV) return 0;
    return 1;
}

/* bad handles of every kind */
static int bad_handles(daos_handle_t *out, daos_handle_t live, daos_handle_t dead)
{
    int n = 0;
    uint64_t c = live.cookie;
    out[n++] = (daos_handle_t){ 0 };
    out[n++] = dead;
    out[n++] = (daos_handle_t){ (c & ~7ULL) | 0 };
    out[n++] = (daos_handle_t){ (c & ~7ULL) | 2 };
    out[n++] = (daos_handle_t){ (c & ~7ULL) | 3 };
    out[n++] = (daos_handle_t){ (c & ~7ULL) | 4 };
    out[n++] = (daos_handle_t){ (c & ~7ULL) | 7 };
    out[n++] = (daos_handle_t){ c ^ (0x40ULL << 3) };      /* other PID */
    out[n++] = (daos_handle_t){ c + (0x1000ULL << 10) };   /* never issued */
    out[n++] = (daos_handle_t){ ~0ULL };
    out[n++] = (daos_handle_t){ SENTINEL_COOKIE };
    return n;
}

static void test_eq_calls(void)
{
    daos_handle_t dead = { 0 };
    CHECK_RC(daos_eq_create(&dead), 0);
    CHECK_RC(daos_eq_destroy(dead), 0);
    daos_handle_t bad[16];
    int nbad = bad_handles(bad, eqh, dead);

    /* daos_eq_create */
    CHECK_RC(daos_eq_create(NULL), -EINVAL);

    struct daos_event *evs[4];
    int fd;
    struct daos_event ev;
    for (int i = 0; i < nbad; i++) {
        daos_handle_t h = bad[i];
        CHECK_RC(daos_eq_destroy(h), -EBADF);
        CHECK_RC(daos_eq_destroy_force(h), -EBADF);
        fill(evs, 4);
        CHECK_RC(daos_eq_poll(h, 0, DAOS_EQ_NOWAIT, 4, evs), -EBADF);
        CHECK_RC(daos_eq_poll(h, 0, DAOS_EQ_WAIT, 4, evs), -EBADF);
        CHECK_RC(daos_eq_poll(h, 1, 10 * MS, 4, evs), -EBADF);
        CHECK(untouched(evs, 4));
        CHECK_RC(daos_eq_query(h, DAOS_EVQ_ALL, 4, evs), -EBADF);
        CHECK_RC(daos_eq_query(h, DAOS_EVQ_INFLIGHT, 0, NULL), -EBADF);
        CHECK(untouched(evs, 4));
        fd = -5;
        CHECK_RC(daos_eq_get_fd(h, &fd), -EBADF);
        CHECK_EQ(fd, -5);
        memset(&ev, 0x3c, sizeof(ev));
        struct daos_event before = ev;
        CHECK_RC(daos_event_init(&ev, h, NULL), -EBADF);
        CHECK(memcmp(&ev, &before, sizeof(ev)) == 0);
    }

    /* NULL pointers with a live handle */
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, NULL), -EINVAL);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_WAIT, 1, NULL), -EINVAL);
    CHECK_RC(daos_eq_get_fd(eqh, NULL), -EINVAL);
    /* query: NULL evs is allowed (count only) */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 4, NULL), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    /* bad argument values leave out-params alone */
    fill(evs, 4);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 0, evs), -EINVAL);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, -5, evs), -EINVAL);
    CHECK_RC(daos_eq_poll(eqh, 0, -3, 4, evs), -EINVAL);
    CHECK_RC(daos_eq_query(eqh, 0, 4, evs), -EINVAL);
    CHECK_RC(daos_eq_query(eqh, 8, 4, evs), -EINVAL);
    CHECK(untouched(evs, 4));

    /* the live EQ still works */
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 0);
    CHECK(untouched(evs, 4));
}

static void test_event_calls_null(void)
{
    int count = 0;
    bool done = true;
    CHECK_RC(daos_event_init(NULL, eqh, NULL), -EINVAL);
    CHECK_RC(daos_event_fini(NULL), -EINVAL);
    CHECK_PTR_EQ(daos_event_next(NULL, NULL), NULL);
    CHECK_RC(daos_event_abort(NULL), -EINVAL);
    CHECK_RC(daos_noop(NULL, 0), 0); /* synchronous */
    CHECK_RC(daos_event_launch(NULL), -EINVAL);
    CHECK_RC(daos_event_complete(NULL, 0), -EINVAL);
    CHECK_RC(daos_event_complete(NULL, -EIO), -EINVAL);
    CHECK_RC(daos_event_test(NULL, 0, &done), -EINVAL);
    CHECK_EQ(done, true);
    CHECK_RC(daos_event_test(NULL, 0, NULL), -EINVAL);
    CHECK_RC(daos_event_register_comp_cb(NULL, dummy_cb, &count), -EINVAL);

    struct daos_event ev;
    memset(&ev, 0, sizeof(ev));
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_test(&ev, 0, NULL), -EINVAL);
    CHECK_RC(daos_event_test(&ev, -1, NULL), -EINVAL);
    CHECK_RC(daos_event_register_comp_cb(&ev, NULL, &count), -EINVAL);
    CHECK_RC(daos_event_register_comp_cb(&ev, NULL, NULL), -EINVAL);
    CHECK_RC(daos_event_register_comp_cb(&ev, dummy_cb, NULL), 0); /* arg may be NULL */
    CHECK_RC(daos_noop(&ev, 0), 0);
    struct daos_event *evs[1];
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 1, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_PTR_EQ(daos_event_next(&ev, NULL), NULL); /* not a parent */
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_EQ(count, 0);

    /* version */
    int a = 11, b = 22, c = 33;
    CHECK_RC(daos_rs_version(NULL, &b, &c), -EINVAL);
    CHECK_RC(daos_rs_version(&a, NULL, &c), -EINVAL);
    CHECK_RC(daos_rs_version(&a, &b, NULL), -EINVAL);
    CHECK_RC(daos_rs_version(NULL, NULL, &c), -EINVAL);
    CHECK_RC(daos_rs_version(NULL, &b, NULL), -EINVAL);
    CHECK_RC(daos_rs_version(&a, NULL, NULL), -EINVAL);
    CHECK_RC(daos_rs_version(NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(a, 11);
    CHECK_EQ(b, 22);
    CHECK_EQ(c, 33);
    CHECK_RC(daos_rs_version(&a, &b, &c), 0);
    CHECK_EQ(a, DAOS_RS_VERSION_MAJOR);
    CHECK_EQ(b, DAOS_RS_VERSION_MINOR);
    CHECK_EQ(c, DAOS_RS_VERSION_PATCH);
}

/* failing calls on an unknown or refused event never write the caller's struct */
static void test_event_untouched_on_failure(void)
{
    struct daos_event u;
    memset(&u, 0x6b, sizeof(u));
    struct daos_event before = u;
    bool done = false;
    int count = 0;
    CHECK_RC(daos_event_fini(&u), -ENOENT);
    CHECK_RC(daos_event_abort(&u), -ENOENT);
    CHECK_RC(daos_noop(&u, 0), -ENOENT);
    CHECK_RC(daos_event_launch(&u), -ENOENT);
    CHECK_RC(daos_event_complete(&u, 0), -ENOENT);
    int rc = daos_event_complete(&u, 1); /* two errors at once: either is right */
    CHECK(rc == -EINVAL || rc == -ENOENT);
    CHECK_RC(daos_event_test(&u, 0, &done), -ENOENT);
    CHECK_EQ(done, false);
    CHECK_RC(daos_event_register_comp_cb(&u, dummy_cb, &count), -ENOENT);
    CHECK_PTR_EQ(daos_event_next(&u, NULL), NULL);
    CHECK(memcmp(&u, &before, sizeof(u)) == 0);

    /* init refused for an unknown parent: the struct is unchanged */
    struct daos_event ev;
    memset(&ev, 0x21, sizeof(ev));
    before = ev;
    CHECK_RC(daos_event_init(&ev, eqh, &u), -ENOENT);
    CHECK(memcmp(&ev, &before, sizeof(ev)) == 0);

    /* a live, in-flight event: refused calls leave ev_type and ev_error alone */
    memset(&ev, 0, sizeof(ev));
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_event_launch(&ev), 0);
    ev.ev_error = 4242;
    CHECK_RC(daos_noop(&ev, 0), -EBUSY);
    CHECK_RC(daos_event_launch(&ev), -EBUSY);
    CHECK_RC(daos_event_complete(&ev, 5), -EINVAL);
    CHECK_RC(daos_event_fini(&ev), -EBUSY);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), -EALREADY);
    CHECK_EQ(ev.ev_type, DAOS_EV_USER);
    CHECK_EQ(ev.ev_error, 4242);
    CHECK_RC(daos_event_complete(&ev, 0), 0);
    struct daos_event *evs[1];
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 1, evs), 1);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_EQ(count, 0);
}

/* garbage on the heap (pointers that are not readable memory are out of scope) */
static void test_heap_garbage(void)
{
    unsigned char *buf = malloc(sizeof(struct daos_event) + 16);
    CHECK(buf != NULL);
    if (!buf) return;
    for (size_t i = 0; i < sizeof(struct daos_event) + 16; i++) buf[i] = (unsigned char)(i * 37);
    struct daos_event *ev = (struct daos_event *)(void *)(buf + 8);
    CHECK_RC(daos_event_fini(ev), -ENOENT);
    CHECK_RC(daos_event_abort(ev), -ENOENT);
    CHECK_RC(daos_noop(ev, 0), -ENOENT);
    free(buf);
}

int main(void)
{
    CHECK_RC(daos_eq_create(&eqh), 0);
    RUN(test_eq_calls);
    RUN(test_event_calls_null);
    RUN(test_event_untouched_on_failure);
    RUN(test_heap_garbage);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    return harness_summary();
}
