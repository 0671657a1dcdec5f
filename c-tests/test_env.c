/* Environment and process-wide behaviour, each scenario in a fresh child
 * process (the engine choice and log level are read once per process):
 *  - io_uring_setup refused (seccomp) and no DAOS_RS_IO_ENGINE: the library
 *    falls back to the thread-pool engine, says so once on stderr, and works;
 *  - DAOS_RS_IO_ENGINE=uring with io_uring refused: daos_eq_create fails
 *    cleanly with the kernel's errno;
 *  - bad input is logged as one line at the default level, and not at
 *    DAOS_RS_LOG=error;
 *  - DAOS_RS_IO_THREADS bounds the thread-pool engine's workers (a bad value
 *    is reported once); DAOS_RS_IO_ENGINE=sync is no longer a value (warned,
 *    chosen automatically). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

/* Makes io_uring_setup fail with EPERM in this process, as container sandboxes do. */
static int refuse_io_uring(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Sends stderr to a fresh temporary file; returns its fd for reading back. */
static int capture_stderr(void)
{
    char path[] = "/tmp/daos_rs_test_env_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    dup2(fd, 2);
    return fd;
}

static int count_lines_with(int fd, const char *needle)
{
    char buf[8192];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n < 0)
        return -1;
    buf[n] = 0;
    int count = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, needle))
            count++;
    return count;
}

/* Runs fn in a child process; the child's checks decide its exit status. */
static void in_child(const char *name, void (*fn)(void))
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(h_fail == 0 ? 0 : 1);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    printf("   child %s: %s\n", name, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "FAILED");
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

static void noop_round_trip(void)
{
    daos_handle_t eq;
    struct daos_event ev, *out[1];
    memset(&ev, 0, sizeof(ev));
    CHECK_RC(daos_eq_create(&eq), 0);
    CHECK_RC(daos_event_init(&ev, eq, NULL), 0);
    CHECK_RC(daos_noop(&ev, 10000), 0);
    CHECK_RC(daos_eq_poll(eq, 0, DAOS_EQ_WAIT, 1, out), 1);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_RC(daos_noop(&ev, 5000000), 0);
    CHECK_RC(daos_event_abort(&ev), 0);
    CHECK_RC(daos_eq_poll(eq, 0, DAOS_EQ_WAIT, 1, out), 1);
    CHECK_EQ(ev.ev_error, -EINTR);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eq), 0);
    CHECK_RC(daos_noop(NULL, 1000), 0);
}

static void child_fallback(void)
{
    unsetenv("DAOS_RS_IO_ENGINE");
    setenv("DAOS_RS_LOG", "warn", 1);
    int fd = capture_stderr();
    CHECK(fd >= 0);
    CHECK_EQ(refuse_io_uring(), 0);
    CHECK_EQ(syscall(__NR_io_uring_setup, 8, NULL), -1); /* really refused */
    noop_round_trip();
    noop_round_trip();
    CHECK_EQ(count_lines_with(fd, "using the thread-pool engine"), 1);
}

static void child_forced_uring_refused(void)
{
    setenv("DAOS_RS_IO_ENGINE", "uring", 1);
    setenv("DAOS_RS_LOG", "error", 1);
    CHECK_EQ(refuse_io_uring(), 0);
    daos_handle_t eq = { 12345 };
    CHECK_RC(daos_eq_create(&eq), -EPERM);
    CHECK_EQ(eq.cookie, 12345); /* out-parameter untouched */
}

static void child_log_default(void)
{
    unsetenv("DAOS_RS_LOG");
    int fd = capture_stderr();
    struct daos_event *out[1];
    daos_handle_t eq;
    CHECK_RC(daos_eq_create(&eq), 0);
    CHECK_RC(daos_eq_poll(eq, 0, 0, 0, out), -EINVAL);
    CHECK_EQ(count_lines_with(fd, "daos_eq_poll"), 1);
    CHECK_EQ(count_lines_with(fd, "eventn"), 1);
    CHECK_RC(daos_eq_destroy(eq), 0);
}

static void child_log_error_only(void)
{
    setenv("DAOS_RS_LOG", "error", 1);
    int fd = capture_stderr();
    struct daos_event *out[1];
    daos_handle_t eq;
    CHECK_RC(daos_eq_create(&eq), 0);
    CHECK_RC(daos_eq_poll(eq, 0, 0, 0, out), -EINVAL);
    CHECK_EQ(count_lines_with(fd, "daos_eq_poll"), 0);
    CHECK_RC(daos_eq_destroy(eq), 0);
}

/* Threads of this process whose name is `comm`. */
static int count_threads(const char *comm)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char p[300], name[64] = "";
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(p, "r");
        if (f) {
            if (fgets(name, sizeof name, f))
                name[strcspn(name, "\n")] = 0;
            fclose(f);
        }
        n += strcmp(name, comm) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

/* The thread-pool engine with DAOS_RS_IO_THREADS workers at most: `nwrites`
 * asynchronous writes in flight at once all complete. */
static void pool_writes(int nwrites, int max_workers)
{
    char root[256], path[300];
    daos_handle_t coh, oh, eq;
    daos_container_status_t st;
    unsigned tgt = 0;
    int shard = -1;
    CHECK_EQ(h_new_store(root, sizeof root, "env-pool", 1), 0);
    snprintf(path, sizeof path, "%s/c", root);
    CHECK_RC(daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &tgt, &shard, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid((uint64_t)shard, 1), DAOS_OBJ_RW, &oh, NULL), 0);
    CHECK_RC(daos_eq_create(&eq), 0);
    static char buf[16][65536];
    struct daos_event ev[16], *out[16];
    for (int i = 0; i < nwrites; i++) {
        memset(buf[i], 'a' + i, sizeof buf[i]);
        CHECK_RC(daos_event_init(&ev[i], eq, NULL), 0);
        H_MMD1(m, buf[i], sizeof buf[i]);
        H_IOD1(d, (uint64_t)i * sizeof buf[i], sizeof buf[i]);
        CHECK_RC(daos_object_write(oh, h_ep(2), m, d, &ev[i]), 0);
    }
    int got = 0;
    while (got < nwrites) {
        int n = daos_eq_poll(eq, 0, 30000000, nwrites, out);
        CHECK(n > 0);
        if (n <= 0)
            break;
        got += n;
    }
    int workers = count_threads("daos-rs-io");
    printf("   %d writes, %d worker thread(s) (at most %d)\n", nwrites, workers, max_workers);
    CHECK(workers >= 1 && workers <= max_workers);
    for (int i = 0; i < nwrites; i++) {
        CHECK_EQ(ev[i].ev_error, 0);
        CHECK_RC(daos_event_fini(&ev[i]), 0);
    }
    CHECK_RC(daos_eq_destroy(eq), 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    h_rmrf(root);
}

static void child_io_threads(void)
{
    setenv("DAOS_RS_IO_ENGINE", "threads", 1);
    setenv("DAOS_RS_IO_THREADS", "1", 1);
    setenv("DAOS_RS_LOG", "warn", 1);
    pool_writes(16, 1);
}

static void child_io_threads_bad(void)
{
    setenv("DAOS_RS_IO_ENGINE", "threads", 1);
    setenv("DAOS_RS_IO_THREADS", "lots", 1);
    setenv("DAOS_RS_LOG", "warn", 1);
    int fd = capture_stderr();
    CHECK(fd >= 0);
    pool_writes(4, 1024);
    CHECK_EQ(count_lines_with(fd, "DAOS_RS_IO_THREADS"), 1);
}

static void child_engine_sync_is_unknown(void)
{
    setenv("DAOS_RS_IO_ENGINE", "sync", 1);
    setenv("DAOS_RS_LOG", "warn", 1);
    int fd = capture_stderr();
    CHECK(fd >= 0);
    noop_round_trip();
    CHECK_EQ(count_lines_with(fd, "is not uring|threads"), 1);
}

static void test_io_threads(void)
{
    in_child("DAOS_RS_IO_THREADS=1", child_io_threads);
    in_child("DAOS_RS_IO_THREADS=lots", child_io_threads_bad);
    in_child("DAOS_RS_IO_ENGINE=sync", child_engine_sync_is_unknown);
}

static void test_fallback_when_io_uring_refused(void) { in_child("fallback", child_fallback); }
static void test_forced_uring_refused(void) { in_child("forced uring", child_forced_uring_refused); }
static void test_bad_input_logged(void)
{
    in_child("log default", child_log_default);
    in_child("log error", child_log_error_only);
}

int main(void)
{
    /* No library call in this process: every scenario runs in a child. */
    RUN(test_fallback_when_io_uring_refused);
    RUN(test_forced_uring_refused);
    RUN(test_bad_input_logged);
    RUN(test_io_threads);
    return harness_summary();
}
