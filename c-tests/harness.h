/* A tiny test harness for the daos-rs C tests.
 *
 *   CHECK(cond)             records a pass if cond is true
 *   CHECK_EQ(a, b)          integer equality, prints both values on failure
 *   CHECK_PTR_EQ(a, b)      pointer equality
 *   CHECK_RC(call, want)    call's int return equals want, prints errno names
 *   RUN(test_fn)            runs one `static void test_fn(void)`
 *   harness_summary()       prints "N passed, N failed" and returns the exit code
 *
 * Storage helpers (the h_* functions below): h_tmpdir/h_rmrf for scratch
 * directories, h_fill/h_all_zero for data patterns and, when daos_rs.h is
 * included first, H_MMD/H_IOD (descriptors on the stack), h_new_store,
 * h_write/h_read (one-fragment synchronous I/O), h_poll1 and CHECK_REFUSED
 * (an asynchronous call that must refuse its arguments without dispatching).
 *
 * Counters are atomic, so checks may be made from any thread.
 */
#ifndef DAOS_RS_C_TESTS_HARNESS_H
#define DAOS_RS_C_TESTS_HARNESS_H

/* now_us/sleep_us use POSIX clocks: put `#define _GNU_SOURCE` (or
 * _POSIX_C_SOURCE 200809L) at the very top of the test file. */
#if !defined(_GNU_SOURCE) && !(defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200809L)
#error "define _GNU_SOURCE or _POSIX_C_SOURCE 200809L before any #include"
#endif

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_long h_pass;
static atomic_long h_fail;

#define H_FAIL_(...)                                                     \
    do {                                                                 \
        atomic_fetch_add(&h_fail, 1);                                    \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);            \
        fprintf(stderr, __VA_ARGS__);                                    \
        fputc('\n', stderr);                                             \
    } while (0)

#define CHECK(cond)                                                      \
    do {                                                                 \
        if (cond) atomic_fetch_add(&h_pass, 1);                          \
        else H_FAIL_("CHECK(%s)", #cond);                                \
    } while (0)

#define CHECK_EQ(a, b)                                                   \
    do {                                                                 \
        long long h_a_ = (long long)(a), h_b_ = (long long)(b);          \
        if (h_a_ == h_b_) atomic_fetch_add(&h_pass, 1);                  \
        else H_FAIL_("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, h_a_, h_b_); \
    } while (0)

#define CHECK_PTR_EQ(a, b)                                               \
    do {                                                                 \
        const void *h_a_ = (const void *)(a), *h_b_ = (const void *)(b); \
        if (h_a_ == h_b_) atomic_fetch_add(&h_pass, 1);                  \
        else H_FAIL_("CHECK_PTR_EQ(%s, %s): %p != %p", #a, #b, h_a_, h_b_); \
    } while (0)

#define CHECK_RC(call, expected)                                         \
    do {                                                                 \
        int h_rc_ = (int)(call), h_want_ = (int)(expected);              \
        if (h_rc_ == h_want_) atomic_fetch_add(&h_pass, 1);              \
        else H_FAIL_("%s returned %d (%s), expected %d (%s)", #call,     \
                     h_rc_, h_rc_ < 0 ? strerror(-h_rc_) : "count",      \
                     h_want_, h_want_ < 0 ? strerror(-h_want_) : "count"); \
    } while (0)

#define RUN(test_fn)                                                     \
    do {                                                                 \
        long h_f0_ = atomic_load(&h_fail);                               \
        printf("-- %s\n", #test_fn);                                     \
        fflush(stdout);                                                  \
        test_fn();                                                       \
        if (atomic_load(&h_fail) != h_f0_)                               \
            printf("   %s: %ld failure(s)\n", #test_fn,                  \
                   atomic_load(&h_fail) - h_f0_);                        \
        fflush(stdout);                                                  \
    } while (0)

static inline int harness_summary(void)
{
    printf("%ld passed, %ld failed\n", atomic_load(&h_pass), atomic_load(&h_fail));
    fflush(stdout);
    return atomic_load(&h_fail) == 0 ? 0 : 1;
}

/* Monotonic clock in microseconds, for timing assertions. */
static inline int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void sleep_us(int64_t us)
{
    struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0) { }
}

/* ------------------------------------------------------------------ */
/* Scratch directories (for the storage tests). */

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where scratch directories go: $C_TESTS_TMPDIR if set (make test-sharedfs
 * points it into a GlusterFS mount), else /tmp. */
static inline const char *h_scratch_base(void)
{
    const char *b = getenv("C_TESTS_TMPDIR");
    return b != NULL && *b ? b : "/tmp";
}

/* Makes a fresh directory <base>/daosrs-<tag>-XXXXXX (base: h_scratch_base());
 * `out` gets its path. */
static inline int h_tmpdir(char *out, size_t n, const char *tag)
{
    if ((size_t)snprintf(out, n, "%s/daosrs-%s-XXXXXX", h_scratch_base(), tag) >= n) {
        fprintf(stderr, "h_tmpdir: %s is too long a base for a %zu-byte path\n",
                h_scratch_base(), n);
        return -1;
    }
    if (mkdtemp(out) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

static inline int h_rm_one_(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)ftw;
    if (flag == FTW_DP || flag == FTW_D) {
        chmod(p, 0700);
        return rmdir(p) == 0 ? 0 : (perror(p), 0);
    }
    return unlink(p) == 0 ? 0 : (perror(p), 0);
}

/* rm -rf path (does not follow symbolic links or cross into other mounts). */
static inline void h_rmrf(const char *path)
{
    /* The library's background space reclamation may still be finishing a
     * file in the tree just after the last close: go over it again then. */
    struct stat st;
    for (int i = 0; i < 50; i++) {
        nftw(path, h_rm_one_, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        if (lstat(path, &st) != 0) return;
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* xorshift pattern: deterministic bytes for `seed` */
/* One byte through a pipe: how a parent and a child that run together take
 * turns (h_say sends it, h_hear waits for it: 0, or -1 at EOF/error). */
static inline void h_say(int fd)
{
    char c = 1;
    if (write(fd, &c, 1) != 1) perror("write to pipe");
}

static inline int h_hear(int fd)
{
    char c;
    return read(fd, &c, 1) == 1 ? 0 : -1;
}

static inline void h_fill(void *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    unsigned char *b = (unsigned char *)buf;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        b[i] = (unsigned char)(x >> 24);
    }
}

static inline int h_all_zero(const void *buf, size_t len)
{
    const unsigned char *b = (const unsigned char *)buf;
    for (size_t i = 0; i < len; i++)
        if (b[i] != 0) return 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Several processes (SPEC §9): a child process makes a change while this one
 * waits for it. The child stamps when its change call started and returned
 * (h_xp()->start_us / done_us = now_us()) in memory shared with this process,
 * so that the wake-up can be timed. */

#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>

struct h_xp { int64_t start_us, done_us; };

/* The stamps, in a MAP_SHARED page made on first use (before any fork). */
static inline volatile struct h_xp *h_xp(void)
{
    static volatile struct h_xp *p;
    if (p == NULL) {
        void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            perror("mmap");
            abort();
        }
        p = (volatile struct h_xp *)m;
    }
    return p;
}

/* Forks a child that runs fn(arg) and _exits with its return value; clears
 * the stamps first. Returns the child's pid (-1 if fork failed). */
static inline pid_t h_spawn(int (*fn)(void *), void *arg)
{
    h_xp()->start_us = 0;
    h_xp()->done_us = 0;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) _exit(fn(arg));
    return pid;
}

/* Waits for a child; its exit status, or -2 if it did not exit normally. */
static inline int h_reap(pid_t pid)
{
    int ws = 0;
    if (pid <= 0 || waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws)) return -2;
    return WEXITSTATUS(ws);
}

/* ------------------------------------------------------------------ */
/* Other processes on other clients of a shared file system (make
 * test-sharedfs). $C_TESTS_PEER_MNTNS lists mount namespaces, separated by
 * spaces (e.g. "/proc/41/ns/mnt /proc/57/ns/mnt"), each a client with the
 * shared file system mounted at the same path as in this process's. A test
 * that starts another process calls h_peer_ns_pick() before fork() (in the
 * parent: it gives the next namespace, round robin, or -1 when the variable
 * is unset) and h_peer_ns_enter() in the child right after fork(): it moves
 * the child into that namespace with setns(2), using only async-signal-safe
 * calls (the parent may have threads). Unset, both do nothing, so make test
 * runs everything on this machine's own file system as before. */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>

#define H_PEER_NS_MAX 8

static char h_peer_ns_[H_PEER_NS_MAX][128];
static int h_peer_ns_n_ = -1, h_peer_ns_next_;

static inline int h_peer_ns_count(void)
{
    if (h_peer_ns_n_ < 0) {
        h_peer_ns_n_ = 0;
        const char *v = getenv("C_TESTS_PEER_MNTNS");
        while (v != NULL && *v && h_peer_ns_n_ < H_PEER_NS_MAX) {
            while (*v == ' ') v++;
            size_t k = strcspn(v, " ");
            if (k > 0 && k < sizeof h_peer_ns_[0]) {
                memcpy(h_peer_ns_[h_peer_ns_n_], v, k);
                h_peer_ns_[h_peer_ns_n_][k] = 0;
                h_peer_ns_n_++;
            }
            v += k;
        }
    }
    return h_peer_ns_n_;
}

/* the namespace for the next process started (-1: stay in this one) */
static inline int h_peer_ns_pick(void)
{
    int n = h_peer_ns_count();
    return n == 0 ? -1 : h_peer_ns_next_++ % n;
}

/* the namespace's path (for messages), "" for -1 */
static inline const char *h_peer_ns_name(int k)
{
    return k < 0 || k >= h_peer_ns_count() ? "" : h_peer_ns_[k];
}

/* In the child after fork(): enter namespace k (from h_peer_ns_pick); -1
 * does nothing. 0 or -errno; on failure one line on stderr. */
static inline int h_peer_ns_enter(int k)
{
    if (k < 0) return 0;
    int fd = open(h_peer_ns_[k], O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? -errno : (setns(fd, CLONE_NEWNS) == 0 ? 0 : -errno);
    if (fd >= 0) close(fd);
    if (rc != 0) {
        static const char m[] = "h_peer_ns_enter: cannot enter the mount namespace of C_TESTS_PEER_MNTNS\n";
        ssize_t w = write(2, m, sizeof m - 1);
        (void)w;
    }
    return rc;
}

/* fork() into the next namespace (h_peer_ns_pick, h_peer_ns_enter), with
 * stdio flushed first: as fork(), 0 in the child (which _exits with 3 if it
 * cannot enter the namespace), the child's pid (or -1) in the parent. */
static inline pid_t h_fork_peer(void)
{
    int ns = h_peer_ns_pick();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0 && h_peer_ns_enter(ns) != 0) _exit(3);
    return pid;
}

#include <dirent.h>
#include <sys/prctl.h>

/* Runs `argv` (argv[0]: an executable, usually this test re-run as a
 * victim) in a child made by h_fork_peer, killed when this process dies;
 * the child closes `close_fd` (the parent's end of a pipe) unless it is -1.
 * The child's pid in the parent, or -1. */
static inline pid_t h_exec_peer(char *const argv[], int close_fd)
{
    pid_t pid = h_fork_peer();
    if (pid == 0) {
        if (close_fd >= 0) close(close_fd);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(argv[0], argv);
        _exit(98);
    }
    return pid;
}

/* The path of the first entry of `dir` whose name starts with `prefix`
 * ("" if none) into out[n]. */
static inline void h_first_entry(const char *dir, const char *prefix, char *out, size_t n)
{
    out[0] = 0;
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            snprintf(out, n, "%s/%s", dir, e->d_name);
            break;
        }
    closedir(d);
}

#ifdef DAOS_RS_H
/* ------------------------------------------------------------------ */
/* daos-rs storage helpers: include daos_rs.h before harness.h. */

/* A descriptor with `n` fragments on the stack:
 *   H_MMD(m, 2); m->mmd_frag[0] = ...;   (m is a struct daos_mmd *) */
#define H_MMD(name, n)                                                   \
    union { struct daos_mmd d; unsigned char b[sizeof(struct daos_mmd) + \
        (n) * sizeof(struct daos_mm_frag)]; } name##_u_;                 \
    struct daos_mmd *name = &name##_u_.d;                                \
    name->mmd_nfrag = (n)
#define H_IOD(name, n)                                                   \
    union { struct daos_iod d; unsigned char b[sizeof(struct daos_iod) + \
        (n) * sizeof(struct daos_io_frag)]; } name##_u_;                 \
    struct daos_iod *name = &name##_u_.d;                                \
    name->iod_nfrag = (n)

/* one-fragment descriptors: buffer <-> [off, off + len) */
#define H_MMD1(name, addr, len) H_MMD(name, 1);                          \
    name->mmd_frag[0].mf_addr = (addr); name->mmd_frag[0].mf_nob = (len)
#define H_IOD1(name, off, len) H_IOD(name, 1);                           \
    name->iod_frag[0].if_offset = (off); name->iod_frag[0].if_nob = (len)

static inline daos_epoch_t h_ep(uint64_t seq) { daos_epoch_t e = { seq }; return e; }
#define H_HIGHEST h_ep((uint64_t)DAOS_EPOCH_HIGHEST)

static inline daos_obj_id_t h_oid(uint64_t shard, uint64_t lo)
{
    daos_obj_id_t o = { shard, lo };
    return o;
}

/* A fresh store of `ntargets` targets (no probe) in a new temp dir. */
static inline int h_new_store(char *root, size_t n, const char *tag, unsigned ntargets)
{
    if (h_tmpdir(root, n, tag) != 0) return -1;
    int rc = daos_sys_format(root, ntargets, NULL, DAOS_SYS_FORMAT_NO_PROBE);
    if (rc != 0) fprintf(stderr, "daos_sys_format(%s): %s\n", root, strerror(-rc));
    return rc;
}

/* Synchronous one-fragment write / read of [off, off + len). */
static inline int h_write(daos_handle_t oh, uint64_t epoch, uint64_t off, const void *buf, size_t len)
{
    H_MMD1(m, (void *)buf, len);
    H_IOD1(d, off, len);
    return daos_object_write(oh, h_ep(epoch), m, d, NULL);
}

static inline int h_read(daos_handle_t oh, uint64_t epoch, uint64_t off, void *buf, size_t len)
{
    H_MMD1(m, buf, len);
    H_IOD1(d, off, len);
    return daos_object_read(oh, h_ep(epoch), m, d, NULL);
}

/* Polls `eqh` for exactly one event for up to `timeout_us`; returns it or NULL. */
static inline struct daos_event *h_poll1(daos_handle_t eqh, int64_t timeout_us)
{
    struct daos_event *e = NULL;
    int n = daos_eq_poll(eqh, 0, timeout_us, 1, &e);
    return n == 1 ? e : NULL;
}

/* For an asynchronous call that must refuse its arguments at once (SPEC §1):
 * checks the return code, and if the call wrongly dispatched the event, polls
 * it back (reporting its ev_error) so that the EQ is clean for what follows. */
#define CHECK_REFUSED(call, want, eqh, evp)                              \
    do {                                                                 \
        int h_r_ = (call), h_w_ = (want);                                \
        if (h_r_ == h_w_) atomic_fetch_add(&h_pass, 1);                  \
        else H_FAIL_("%s returned %d (%s), expected %d (%s) at once", #call, \
                     h_r_, h_r_ < 0 ? strerror(-h_r_) : "ok",            \
                     h_w_, h_w_ < 0 ? strerror(-h_w_) : "ok");           \
        if (h_r_ == 0) {                                                 \
            struct daos_event *h_e_ = h_poll1((eqh), 5000000);           \
            fprintf(stderr, "   (it was dispatched and completed with ev_error %d)\n", \
                    h_e_ ? h_e_->ev_error : 99999);                      \
            (void)(evp);                                                 \
        }                                                                \
        CHECK_RC(daos_eq_query((eqh), DAOS_EVQ_ALL, 0, NULL), 0);        \
    } while (0)
/* For an event pending in this process that the change of the child `pid`
 * (see h_spawn) must complete: polls `eqh` for it (at most 5 s), reaps the
 * child (which must exit 0), and checks that the event came after the child
 * started its change and within `limit_us` of the change returning. Prints
 * the latency. Returns the event polled, or NULL (the caller then aborts its
 * event). */
static inline struct daos_event *h_woken_by(pid_t pid, daos_handle_t eqh, int64_t limit_us, const char *what)
{
    struct daos_event *e = h_poll1(eqh, limit_us > 5000000 ? limit_us : 5000000);
    int64_t t = now_us();
    int st = h_reap(pid);
    if (st != 0) H_FAIL_("the other process (%s) exited with %d", what, st);
    else atomic_fetch_add(&h_pass, 1);
    int64_t start = h_xp()->start_us, done = h_xp()->done_us;
    if (e == NULL) {
        H_FAIL_("%s pending in this process was not completed within 5 s of another process's change", what);
        return NULL;
    }
    if (start == 0 || done == 0 || t < start) {
        H_FAIL_("%s completed before the other process made its change", what);
        return e;
    }
    printf("   %s woken %.1f ms after the other process began its change (which returned after %.1f ms)\n",
           what, (double)(t - start) / 1000.0, (double)(done - start) / 1000.0);
    fflush(stdout);
    if (t - done <= limit_us) atomic_fetch_add(&h_pass, 1);
    else H_FAIL_("%s woken %.1f ms after the other process's change: more than %.0f ms", what,
                 (double)(t - done) / 1000.0, (double)limit_us / 1000.0);
    return e;
}
#endif /* DAOS_RS_H */

#endif
