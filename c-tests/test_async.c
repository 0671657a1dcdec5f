/* Asynchronous calls run while the caller computes (SPEC §11), on every
 * engine: after a call given an event returns, its work goes on without any
 * further library call. Each test dispatches, then watches from outside the
 * library only (stat(2) of the data file, poll(2) on the EQ's fd, the bytes
 * of a read buffer, a completion callback's flag) until the work shows done,
 * within a generous bound; only then does it poll. Also: plug/unplug
 * batching (nothing reaches the kernel while plugged and nobody polls), and
 * a slow metadata call of one container not holding back another's. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daos_rs.h"
#include "harness.h"

/* Generous: a machine shared with other builds and tests. */
#define LIMIT_US (60 * 1000000LL)
#define BIG (128u << 20)

static int set_flag(void *arg, struct daos_event *ev, int rc)
{
    (void)ev;
    atomic_store((atomic_int *)arg, rc == 0 ? 1 : 2);
    return 0;
}

/* Whether `fd` is readable now (poll(2), no library call). */
static int readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* Adds up the sizes of the *.dat files below `dir` (the shards' data). */
static long long dat_bytes(const char *dir)
{
    long long total = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0)))
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        size_t n = strlen(e->d_name);
        if (S_ISDIR(st.st_mode))
            total += dat_bytes(p);
        else if (n > 4 && strcmp(e->d_name + n - 4, ".dat") == 0)
            total += st.st_size;
    }
    closedir(d);
    return total;
}

struct fixture {
    char root[256], path[300];
    daos_handle_t coh, oh, eq;
};

static int setup(struct fixture *f, const char *tag)
{
    daos_container_status_t st;
    unsigned tgt = 0;
    int shard = -1;
    long fails = h_fail;
    if (h_new_store(f->root, sizeof f->root, tag, 1) != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/c", f->root);
    CHECK_RC(daos_container_open(f->path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &f->coh, NULL), 0);
    CHECK_RC(daos_shard_add(f->coh, h_ep(1), 1, &tgt, &shard, NULL), 0);
    CHECK_RC(daos_object_open(f->coh, h_oid((uint64_t)shard, 7), DAOS_OBJ_RW, &f->oh, NULL), 0);
    CHECK_RC(daos_eq_create(&f->eq), 0);
    return h_fail != fails ? -1 : 0;
}

static void teardown(struct fixture *f)
{
    CHECK_RC(daos_object_close(f->oh, NULL), 0);
    CHECK_RC(daos_container_close(f->coh, NULL), 0);
    CHECK_RC(daos_eq_destroy(f->eq), 0);
    h_rmrf(f->root);
}

/* A large write and a delayed noop, each with a callback: the file grows to
 * its full size and both callbacks run while the caller only watches. */
static void test_write_and_noop_progress_without_poll(void)
{
    struct fixture f;
    if (setup(&f, "async-w") != 0)
        return;
    char *buf = malloc(BIG);
    CHECK(buf != NULL);
    h_fill(buf, BIG, 11);
    struct daos_event ew, en, *out[2];
    atomic_int wdone = 0, ndone = 0;
    CHECK_RC(daos_event_init(&ew, f.eq, NULL), 0);
    CHECK_RC(daos_event_init(&en, f.eq, NULL), 0);
    CHECK_RC(daos_event_register_comp_cb(&ew, set_flag, &wdone), 0);
    CHECK_RC(daos_event_register_comp_cb(&en, set_flag, &ndone), 0);
    long long before = dat_bytes(f.root);
    H_MMD1(m, buf, BIG);
    H_IOD1(d, 0, BIG);
    CHECK_RC(daos_object_write(f.oh, h_ep(2), m, d, &ew), 0);
    CHECK_RC(daos_noop(&en, 50000), 0);

    /* From here on, no library call until everything shows done. */
    int64_t t0 = now_us();
    long long grown = 0;
    while (now_us() - t0 < LIMIT_US) {
        grown = dat_bytes(f.root) - before;
        if (grown >= (long long)BIG && atomic_load(&wdone) && atomic_load(&ndone))
            break;
        sleep_us(2000);
    }
    printf("   after %.3f s without a library call: data file grew %lld of %u bytes, "
           "write callback %d, noop callback %d\n",
           (now_us() - t0) / 1e6, grown, BIG, atomic_load(&wdone), atomic_load(&ndone));
    CHECK(grown >= (long long)BIG);
    CHECK_EQ(atomic_load(&wdone), 1);
    CHECK_EQ(atomic_load(&ndone), 1);

    int got = 0;
    while (got < 2) {
        int n = daos_eq_poll(f.eq, 0, 5000000, 2, out);
        CHECK(n > 0);
        if (n <= 0)
            break;
        got += n;
    }
    CHECK_EQ(ew.ev_error, 0);
    CHECK_EQ(en.ev_error, 0);
    /* The data is right. */
    char *back = malloc(BIG);
    CHECK(back != NULL);
    CHECK_RC(h_read(f.oh, 2, 0, back, BIG), 0);
    CHECK(memcmp(back, buf, BIG) == 0);
    free(back);
    CHECK_RC(daos_event_fini(&ew), 0);
    CHECK_RC(daos_event_fini(&en), 0);
    free(buf);
    teardown(&f);
}

/* The EQ's fd becomes readable by itself once an operation completes. */
static void test_fd_readable_without_poll(void)
{
    struct fixture f;
    if (setup(&f, "async-fd") != 0)
        return;
    int fd = -1;
    struct daos_event ev, *out[1];
    CHECK_RC(daos_event_init(&ev, f.eq, NULL), 0);
    CHECK_RC(daos_noop(&ev, 100000), 0);
    /* Asked for after the dispatch: the noop went without it. */
    CHECK_RC(daos_eq_get_fd(f.eq, &fd), 0);
    CHECK(!readable(fd));
    int64_t t0 = now_us();
    while (!readable(fd) && now_us() - t0 < LIMIT_US)
        sleep_us(2000);
    CHECK(readable(fd));
    CHECK_RC(daos_eq_poll(f.eq, 0, 0, 1, out), 1);
    CHECK_EQ(ev.ev_error, 0);

    /* The same for a large write. */
    char *buf = malloc(BIG / 2);
    CHECK(buf != NULL);
    h_fill(buf, BIG / 2, 5);
    H_MMD1(m, buf, BIG / 2);
    H_IOD1(d, 0, BIG / 2);
    CHECK_RC(daos_object_write(f.oh, h_ep(2), m, d, &ev), 0);
    /* The fd may turn readable at each request's completion, before the
     * whole operation's (documented): wait for it, poll without waiting,
     * and go on until the event comes back. */
    int n = 0;
    t0 = now_us();
    while (n == 0 && now_us() - t0 < LIMIT_US) {
        while (!readable(fd) && now_us() - t0 < LIMIT_US)
            sleep_us(2000);
        n = daos_eq_poll(f.eq, 0, 0, 1, out);
    }
    CHECK_EQ(n, 1);
    CHECK_EQ(ev.ev_error, 0);
    free(buf);
    CHECK_RC(daos_event_fini(&ev), 0);
    teardown(&f);
}

/* A large read fills the caller's buffer, and its callback runs, while the
 * caller only looks at the buffer. */
static void test_read_progress_without_poll(void)
{
    struct fixture f;
    if (setup(&f, "async-r") != 0)
        return;
    char *buf = malloc(BIG);
    char *back = calloc(1, BIG);
    CHECK(buf != NULL && back != NULL);
    h_fill(buf, BIG, 23);
    buf[0] = buf[BIG / 2] = buf[BIG - 1] = 0x5a; /* never 0: visible when it lands */
    CHECK_RC(h_write(f.oh, 2, 0, buf, BIG), 0);
    struct daos_event ev, *out[1];
    atomic_int done = 0;
    CHECK_RC(daos_event_init(&ev, f.eq, NULL), 0);
    CHECK_RC(daos_event_register_comp_cb(&ev, set_flag, &done), 0);
    H_MMD1(m, back, BIG);
    H_IOD1(d, 0, BIG);
    CHECK_RC(daos_object_read(f.oh, h_ep(2), m, d, &ev), 0);

    volatile char *v = back;
    int64_t t0 = now_us();
    while (now_us() - t0 < LIMIT_US) {
        if (v[0] == 0x5a && v[BIG / 2] == 0x5a && v[BIG - 1] == 0x5a && atomic_load(&done))
            break;
        sleep_us(2000);
    }
    printf("   after %.3f s without a library call: buffer %s, callback %d\n", (now_us() - t0) / 1e6,
           v[0] == 0x5a && v[BIG / 2] == 0x5a && v[BIG - 1] == 0x5a ? "filled" : "NOT filled",
           atomic_load(&done));
    CHECK(v[0] == 0x5a && v[BIG / 2] == 0x5a && v[BIG - 1] == 0x5a);
    CHECK_EQ(atomic_load(&done), 1);
    CHECK_RC(daos_eq_poll(f.eq, 0, 5000000, 1, out), 1);
    CHECK_EQ(ev.ev_error, 0);
    CHECK(memcmp(back, buf, BIG) == 0);
    CHECK_RC(daos_event_fini(&ev), 0);
    free(buf);
    free(back);
    teardown(&f);
}

/* An asynchronous commit completes (callback, fd) without a poll, and
 * another handle then sees the new HCE. */
static void test_commit_progress_without_poll(void)
{
    struct fixture f;
    if (setup(&f, "async-c") != 0)
        return;
    char *buf = malloc(BIG / 4);
    CHECK(buf != NULL);
    h_fill(buf, BIG / 4, 3);
    CHECK_RC(h_write(f.oh, 2, 0, buf, BIG / 4), 0);
    int fd = -1;
    CHECK_RC(daos_eq_get_fd(f.eq, &fd), 0);
    struct daos_event ev, *out[1];
    atomic_int done = 0;
    CHECK_RC(daos_event_init(&ev, f.eq, NULL), 0);
    CHECK_RC(daos_event_register_comp_cb(&ev, set_flag, &done), 0);
    CHECK_RC(daos_epoch_commit(f.coh, h_ep(2), false, NULL, &ev), 0);
    int64_t t0 = now_us();
    while (!(atomic_load(&done) && readable(fd)) && now_us() - t0 < LIMIT_US)
        sleep_us(2000);
    CHECK_EQ(atomic_load(&done), 1);
    CHECK(readable(fd));
    CHECK_RC(daos_eq_poll(f.eq, 0, 0, 1, out), 1);
    CHECK_EQ(ev.ev_error, 0);
    daos_handle_t co2;
    daos_container_status_t st;
    daos_epoch_info info;
    CHECK_RC(daos_container_open(f.path, DAOS_COO_RO, 1, &st, &co2, NULL), 0);
    CHECK_RC(daos_epoch_query(co2, &info, NULL), 0);
    CHECK_EQ(info.epi_hce.seq, 2);
    CHECK_RC(daos_container_close(co2, NULL), 0);
    CHECK_RC(daos_event_fini(&ev), 0);
    free(buf);
    teardown(&f);
}

/* Plugged: a noop (no delay) does not complete, however long nobody polls;
 * the unplug hands it over and it completes without a poll. */
static void test_plug_holds_until_unplug(void)
{
    daos_handle_t eq;
    int fd = -1;
    CHECK_RC(daos_eq_create(&eq), 0);
    CHECK_RC(daos_eq_get_fd(eq, &fd), 0);
    enum { N = 8 };
    struct daos_event ev[N], *out[N];
    atomic_int done[N];
    for (int i = 0; i < N; i++) {
        atomic_init(&done[i], 0);
        CHECK_RC(daos_event_init(&ev[i], eq, NULL), 0);
        CHECK_RC(daos_event_register_comp_cb(&ev[i], set_flag, &done[i]), 0);
    }
    CHECK_RC(daos_eq_plug(eq), 0);
    CHECK_RC(daos_eq_plug(eq), 0); /* not nested: one unplug ends it */
    for (int i = 0; i < N; i++)
        CHECK_RC(daos_noop(&ev[i], 0), 0);
    sleep_us(300000);
    int any = 0;
    for (int i = 0; i < N; i++)
        any |= atomic_load(&done[i]);
    CHECK_EQ(any, 0);
    CHECK(!readable(fd));
    CHECK_RC(daos_eq_unplug(eq), 0);
    int64_t t0 = now_us();
    int all = 0;
    while (now_us() - t0 < LIMIT_US) {
        all = 1;
        for (int i = 0; i < N; i++)
            all &= atomic_load(&done[i]) == 1;
        if (all && readable(fd))
            break;
        sleep_us(1000);
    }
    CHECK_EQ(all, 1);
    CHECK(readable(fd));
    CHECK_RC(daos_eq_poll(eq, 0, 0, N, out), N);
    CHECK_RC(daos_eq_unplug(eq), 0); /* not plugged: nothing to do */

    /* A poll of a plugged EQ hands over what it holds; the EQ stays plugged. */
    CHECK_RC(daos_eq_plug(eq), 0);
    for (int i = 0; i < N; i++) {
        atomic_store(&done[i], 0);
        CHECK_RC(daos_event_register_comp_cb(&ev[i], set_flag, &done[i]), 0);
        CHECK_RC(daos_noop(&ev[i], 0), 0);
    }
    int got = 0;
    t0 = now_us();
    while (got < N && now_us() - t0 < LIMIT_US) {
        int n = daos_eq_poll(eq, 0, 1000000, N, out);
        CHECK(n >= 0);
        if (n < 0)
            break;
        got += n;
    }
    CHECK_EQ(got, N);
    /* Still plugged after the poll. */
    atomic_store(&done[0], 0);
    CHECK_RC(daos_event_register_comp_cb(&ev[0], set_flag, &done[0]), 0);
    CHECK_RC(daos_noop(&ev[0], 0), 0);
    sleep_us(200000);
    CHECK_EQ(atomic_load(&done[0]), 0);
    CHECK(!readable(fd));
    CHECK_RC(daos_eq_poll(eq, 0, 1000000, 1, out), 1); /* the poll hands it over */
    CHECK_EQ(atomic_load(&done[0]), 1);
    CHECK_RC(daos_eq_unplug(eq), 0);

    /* An abort of a plugged operation goes at once. */
    CHECK_RC(daos_eq_plug(eq), 0);
    CHECK_RC(daos_noop(&ev[0], 30000000), 0);
    CHECK_RC(daos_event_abort(&ev[0]), 0);
    CHECK_RC(daos_eq_poll(eq, 0, 10000000, 1, out), 1);
    CHECK_EQ(ev[0].ev_error, -EINTR);
    CHECK_RC(daos_eq_unplug(eq), 0);

    for (int i = 0; i < N; i++)
        CHECK_RC(daos_event_fini(&ev[i]), 0);
    CHECK_RC(daos_eq_destroy(eq), 0);
    daos_handle_t bad = { 12345 };
    CHECK_RC(daos_eq_plug(bad), -EBADF);
    CHECK_RC(daos_eq_unplug(bad), -EBADF);
}

/* A plugged EQ holds object I/O too: the file does not grow until the unplug. */
static void test_plug_holds_object_io(void)
{
    struct fixture f;
    if (setup(&f, "async-p") != 0)
        return;
    enum { N = 16, SZ = 1 << 20 };
    char *buf = malloc((size_t)N * SZ);
    CHECK(buf != NULL);
    h_fill(buf, (size_t)N * SZ, 9);
    struct daos_event ev[N], *out[N];
    CHECK_RC(h_write(f.oh, 2, (uint64_t)N * SZ, buf, 4096), 0); /* makes the data file */
    long long before = dat_bytes(f.root);
    CHECK_RC(daos_eq_plug(f.eq), 0);
    for (int i = 0; i < N; i++) {
        CHECK_RC(daos_event_init(&ev[i], f.eq, NULL), 0);
        H_MMD1(m, buf + (size_t)i * SZ, SZ);
        H_IOD1(d, (uint64_t)i * SZ, SZ);
        CHECK_RC(daos_object_write(f.oh, h_ep(2), m, d, &ev[i]), 0);
    }
    sleep_us(300000);
    CHECK_EQ(dat_bytes(f.root) - before, 0);
    CHECK_RC(daos_eq_unplug(f.eq), 0);
    int64_t t0 = now_us();
    while (dat_bytes(f.root) - before < (long long)N * SZ && now_us() - t0 < LIMIT_US)
        sleep_us(2000);
    CHECK(dat_bytes(f.root) - before >= (long long)N * SZ);
    int got = 0;
    while (got < N) {
        int n = daos_eq_poll(f.eq, 0, 5000000, N, out);
        CHECK(n > 0);
        if (n <= 0)
            break;
        got += n;
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ(ev[i].ev_error, 0);
        CHECK_RC(daos_event_fini(&ev[i]), 0);
    }
    char *back = malloc((size_t)N * SZ);
    CHECK(back != NULL);
    CHECK_RC(h_read(f.oh, 2, 0, back, (size_t)N * SZ), 0);
    CHECK(memcmp(back, buf, (size_t)N * SZ) == 0);
    free(back);
    free(buf);
    teardown(&f);
}

/* A commit that must flush a lot of data to disk (slow) on container A
 * does not hold back an open of container B issued after it: B's open
 * completes first. Calls on A keep their order: a query issued after the
 * commit completes after it and sees its HCE. */
static void test_slow_container_does_not_block_another(void)
{
    struct fixture f;
    if (setup(&f, "async-m") != 0)
        return;
    const size_t SLOW = 256u << 20;
    char *buf = malloc(64u << 20);
    CHECK(buf != NULL);
    for (size_t off = 0; off < SLOW; off += 64u << 20) {
        h_fill(buf, 64u << 20, off);
        CHECK_RC(h_write(f.oh, 2, off, buf, 64u << 20), 0);
    }
    free(buf);
    char other[320];
    snprintf(other, sizeof other, "%s/other", f.root);
    daos_handle_t coh2;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(other, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh2, NULL), 0);
    CHECK_RC(daos_container_close(coh2, NULL), 0);

    struct daos_event ec, eq_, eo;
    daos_epoch_info info;
    memset(&info, 0, sizeof info);
    CHECK_RC(daos_event_init(&ec, f.eq, NULL), 0);
    CHECK_RC(daos_event_init(&eq_, f.eq, NULL), 0);
    CHECK_RC(daos_event_init(&eo, f.eq, NULL), 0);
    CHECK_RC(daos_epoch_commit(f.coh, h_ep(2), false, NULL, &ec), 0);
    CHECK_RC(daos_epoch_query(f.coh, &info, &eq_), 0);
    coh2.cookie = 0;
    CHECK_RC(daos_container_open(other, DAOS_COO_RO, 1, &st, &coh2, &eo), 0);
    struct daos_event *order[3];
    int got = 0;
    while (got < 3) {
        struct daos_event *e = h_poll1(f.eq, LIMIT_US);
        CHECK(e != NULL);
        if (!e)
            break;
        order[got++] = e;
    }
    if (got == 3) {
        const char *name[3];
        for (int i = 0; i < 3; i++)
            name[i] = order[i] == &ec ? "commit A" : order[i] == &eq_ ? "query A" : "open B";
        printf("   completion order: %s, %s, %s\n", name[0], name[1], name[2]);
        CHECK_PTR_EQ(order[0], &eo);     /* B first: it did not wait behind A's commit */
        CHECK_PTR_EQ(order[1], &ec);     /* A's calls in call order */
        CHECK_PTR_EQ(order[2], &eq_);
    }
    CHECK_EQ(ec.ev_error, 0);
    CHECK_EQ(eq_.ev_error, 0);
    CHECK_EQ(eo.ev_error, 0);
    CHECK_EQ(info.epi_hce.seq, 2);
    CHECK(coh2.cookie != 0);
    CHECK_RC(daos_container_close(coh2, NULL), 0);
    CHECK_RC(daos_event_fini(&ec), 0);
    CHECK_RC(daos_event_fini(&eq_), 0);
    CHECK_RC(daos_event_fini(&eo), 0);
    teardown(&f);
}

int main(void)
{
    RUN(test_write_and_noop_progress_without_poll);
    RUN(test_fd_readable_without_poll);
    RUN(test_read_progress_without_poll);
    RUN(test_commit_progress_without_poll);
    RUN(test_plug_holds_until_unplug);
    RUN(test_plug_holds_object_io);
    RUN(test_slow_container_does_not_block_another);
    return harness_summary();
}
