/* daos_rs_set_log_callback: the library's log in the host's hands. Each
 * scenario runs in a fresh child process (the level is read once per
 * process), with stderr captured:
 *  - a bad call's explanation reaches the callback, at DAOS_RS_LOG_WARN, with
 *    the user's argument, and nothing goes to stderr;
 *  - NULL sends the messages to stderr again, and the old callback hears no more;
 *  - DAOS_RS_LOG still filters what the callback gets;
 *  - inside the callback, a message goes to stderr (no recursion) and
 *    replacing the callback is -EBUSY;
 *  - 8 threads logging at once while the main thread swaps two callbacks:
 *    every message arrives exactly once, whole, and a replaced callback is
 *    never running once daos_rs_set_log_callback has returned;
 *  - a forked child keeps the callback. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

static int cap_fd = -1, orig_fd = -1;

/* Sends stderr to a fresh temporary file; returns its fd for reading back. */
static int capture_stderr(void)
{
    char path[] = "/tmp/daos_rs_test_log_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    orig_fd = dup(2);
    dup2(fd, 2);
    return cap_fd = fd;
}

/* Puts stderr back; after a failed check, shows what was captured (the
 * failure lines are there). */
static void restore_stderr(void)
{
    if (cap_fd < 0)
        return;
    dup2(orig_fd, 2);
    if (atomic_load(&h_fail) != 0) {
        char buf[8192];
        ssize_t n = pread(cap_fd, buf, sizeof buf, 0);
        fprintf(stderr, "   captured stderr:\n");
        if (n > 0)
            fwrite(buf, 1, (size_t)n, stderr);
    }
}

/* What the captured stderr holds (NUL-terminated, at most n - 1 bytes). */
static void read_back(int fd, char *buf, size_t n)
{
    ssize_t got = pread(fd, buf, n - 1, 0);
    buf[got > 0 ? got : 0] = 0;
}

/* Runs fn in a child process with DAOS_RS_LOG=level; the child's checks
 * count in its own harness counters, reported back through its exit status
 * (0 all passed) and added here as one check. */
static void in_child(const char *name, const char *level, void (*fn)(void))
{
    int p[2];
    long counts[2] = { 0, 0 };
    if (pipe(p) != 0) {
        CHECK(!"pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        atomic_store(&h_pass, 0);
        atomic_store(&h_fail, 0);
        setenv("DAOS_RS_LOG", level, 1);
        fn();
        restore_stderr();
        counts[0] = atomic_load(&h_pass);
        counts[1] = atomic_load(&h_fail);
        printf("   %s: %ld passed, %ld failed in the child\n", name, counts[0], counts[1]);
        fflush(stdout);
        _exit(write(p[1], counts, sizeof counts) == sizeof counts ? 0 : 1);
    }
    close(p[1]);
    int st = 0;
    CHECK(pid > 0 && read(p[0], counts, sizeof counts) == sizeof counts);
    close(p[0]);
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(counts[0] > 0);
    /* the child's checks count here */
    atomic_fetch_add(&h_pass, counts[0]);
    atomic_fetch_add(&h_fail, counts[1]);
}

struct seen {
    atomic_int calls;
    atomic_int warn;
    atomic_int bad; /* a message that is empty, has a newline, or a wrong level */
    char last[512];
};

static void record(void *arg, int level, const char *msg)
{
    struct seen *s = arg;
    atomic_fetch_add(&s->calls, 1);
    if (level == DAOS_RS_LOG_WARN)
        atomic_fetch_add(&s->warn, 1);
    if (msg == NULL || msg[0] == 0 || strchr(msg, '\n') != NULL || level < DAOS_RS_LOG_ERROR ||
        level > DAOS_RS_LOG_DEBUG)
        atomic_fetch_add(&s->bad, 1);
    else
        snprintf(s->last, sizeof s->last, "%s", msg);
}

static void bad_input_reaches_the_callback(void)
{
    int fd = capture_stderr();
    static struct seen s;
    char err[4096];

    CHECK_RC(daos_rs_set_log_callback(record, &s), 0);
    CHECK_RC(daos_eq_create(NULL), -EINVAL);
    CHECK_EQ(atomic_load(&s.calls), 1);
    CHECK_EQ(atomic_load(&s.warn), 1);
    CHECK_EQ(atomic_load(&s.bad), 0);
    CHECK(strstr(s.last, "daos_eq_create") != NULL);
    CHECK(strstr(s.last, "invalid argument") != NULL);
    read_back(fd, err, sizeof err);
    CHECK_EQ(strlen(err), 0);

    /* NULL: stderr again, and the old callback hears nothing more. */
    CHECK_RC(daos_rs_set_log_callback(NULL, NULL), 0);
    CHECK_RC(daos_eq_create(NULL), -EINVAL);
    CHECK_EQ(atomic_load(&s.calls), 1);
    read_back(fd, err, sizeof err);
    CHECK(strstr(err, "daos_rs[") == err);
    CHECK(strstr(err, "] warn: daos_eq_create: invalid argument") != NULL);
    CHECK(strchr(err, '\n') == err + strlen(err) - 1); /* one line */
}

static void level_still_filters(void)
{
    int fd = capture_stderr();
    static struct seen s;
    char err[4096];

    CHECK_RC(daos_rs_set_log_callback(record, &s), 0);
    CHECK_RC(daos_eq_create(NULL), -EINVAL); /* logged at warn: below error */
    CHECK_EQ(atomic_load(&s.calls), 0);
    read_back(fd, err, sizeof err);
    CHECK_EQ(strlen(err), 0);
    CHECK_RC(daos_rs_set_log_callback(NULL, NULL), 0);
}

static atomic_int inner_rc = 1;
static atomic_int inner_calls;

/* A callback that breaks the rule: calls the library from inside. */
static void reenter(void *arg, int level, const char *msg)
{
    (void)arg; (void)level; (void)msg;
    if (atomic_fetch_add(&inner_calls, 1) == 0) {
        atomic_store(&inner_rc, daos_rs_set_log_callback(NULL, NULL));
        (void)daos_eq_destroy((daos_handle_t){ 0 }); /* logs: must not recurse */
    }
}

static void inside_the_callback(void)
{
    int fd = capture_stderr();
    char err[4096];

    CHECK_RC(daos_rs_set_log_callback(reenter, NULL), 0);
    CHECK_RC(daos_eq_create(NULL), -EINVAL);
    CHECK_EQ(atomic_load(&inner_calls), 1);
    CHECK_EQ(atomic_load(&inner_rc), -EBUSY);
    read_back(fd, err, sizeof err);
    /* the nested call's explanation, on stderr */
    CHECK(strstr(err, "daos_eq_destroy") != NULL);
    /* the callback is still installed: replacing it failed */
    CHECK_RC(daos_eq_create(NULL), -EINVAL);
    CHECK_EQ(atomic_load(&inner_calls), 2);
    CHECK_RC(daos_rs_set_log_callback(NULL, NULL), 0);
}

#define NTHREADS 8
#define PER_THREAD 300

/* Counts calls in progress: a replaced callback must have none. */
struct swap_cb {
    struct seen s;
    atomic_int inside;
};

static void swap_record(void *arg, int level, const char *msg)
{
    struct swap_cb *c = arg;
    atomic_fetch_add(&c->inside, 1);
    record(&c->s, level, msg);
    sched_yield(); /* widen the window a replacement has to wait out */
    atomic_fetch_sub(&c->inside, 1);
}

static atomic_int go;

static void *logger(void *arg)
{
    (void)arg;
    while (!atomic_load(&go)) { }
    for (int i = 0; i < PER_THREAD; i++)
        CHECK_RC(daos_eq_destroy((daos_handle_t){ 0 }), -EBADF);
    return NULL;
}

static void many_threads(void)
{
    int fd = capture_stderr();
    static struct swap_cb a, b;
    pthread_t t[NTHREADS];
    char err[4096];
    int swaps = 0, still_inside = 0;

    CHECK_RC(daos_rs_set_log_callback(swap_record, &a), 0);
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, logger, NULL), 0);
    atomic_store(&go, 1);
    /* swap while they log; each time, the replaced one must be idle */
    int64_t until = now_us() + 60 * 1000000LL;
    while (atomic_load(&a.s.calls) + atomic_load(&b.s.calls) < NTHREADS * PER_THREAD &&
           now_us() < until) {
        struct swap_cb *next = swaps % 2 ? &a : &b, *prev = swaps % 2 ? &b : &a;
        CHECK_RC(daos_rs_set_log_callback(swap_record, next), 0);
        if (atomic_load(&prev->inside) != 0)
            still_inside++;
        swaps++;
        sleep_us(200);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_RC(daos_rs_set_log_callback(NULL, NULL), 0);
    CHECK_EQ(still_inside, 0);
    CHECK_EQ(atomic_load(&a.s.calls) + atomic_load(&b.s.calls), NTHREADS * PER_THREAD);
    CHECK_EQ(atomic_load(&a.s.warn) + atomic_load(&b.s.warn), NTHREADS * PER_THREAD);
    CHECK_EQ(atomic_load(&a.s.bad) + atomic_load(&b.s.bad), 0);
    CHECK(swaps > 1);
    printf("   %d messages from %d threads, callback swapped %d times\n", NTHREADS * PER_THREAD,
           NTHREADS, swaps);
    read_back(fd, err, sizeof err);
    CHECK_EQ(strlen(err), 0);
}

static void fork_keeps_the_callback(void)
{
    static struct seen s;
    CHECK_RC(daos_rs_set_log_callback(record, &s), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = daos_eq_create(NULL) == -EINVAL && atomic_load(&s.calls) == 1 &&
                 daos_rs_set_log_callback(NULL, NULL) == 0;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(atomic_load(&s.calls), 0); /* the child's message stayed in the child */
    CHECK_RC(daos_rs_set_log_callback(NULL, NULL), 0);
}

static void test_bad_input_reaches_the_callback(void)
{
    in_child("callback", "warn", bad_input_reaches_the_callback);
}

static void test_level_still_filters(void)
{
    in_child("filter", "error", level_still_filters);
}

static void test_inside_the_callback(void)
{
    in_child("reentry", "warn", inside_the_callback);
}

static void test_many_threads(void)
{
    in_child("threads", "warn", many_threads);
}

static void test_fork_keeps_the_callback(void)
{
    in_child("fork", "warn", fork_keeps_the_callback);
}

int main(void)
{
    /* No library call in this process: every scenario runs in a child. */
    RUN(test_bad_input_reaches_the_callback);
    RUN(test_level_still_filters);
    RUN(test_inside_the_callback);
    RUN(test_many_threads);
    RUN(test_fork_keeps_the_callback);
    return harness_summary();
}
