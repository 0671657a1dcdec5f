/* What the README's "Using a store on a shared file system" asks of the file
 * system a store lives on, checked between two processes: the library's own
 * tests of several processes rest on these, so a failure here points at the
 * file system, not at daos-rs.
 *
 *   - flock(2) locks exclude each other across processes, shared locks
 *     share, and the lock of a process killed with SIGKILL is released;
 *   - fcntl(2) record locks (F_SETLK) exclude each other likewise;
 *   - rename(2) over an existing file is atomic: a reader that opens the name
 *     again and again sees the old file or the new one, whole, never a mix,
 *     never ENOENT (an open failing with ESTALE, which NFS and GlusterFS give
 *     when another client replaced the file meanwhile, is counted and
 *     printed, not failed: the opener retries);
 *   - close-to-open consistency: what a process wrote (and closed, or
 *     fsynced) is seen by another that opens the file afterwards, also when
 *     the file grew; a new or removed name is seen at once;
 *   - fsync and fdatasync succeed.
 *
 * On a local file system this is a quick sanity check. make test-sharedfs
 * runs it with the scratch directory on GlusterFS (C_TESTS_TMPDIR) and the
 * other process on another FUSE client (C_TESTS_PEER_MNTNS, harness.h), which
 * is what it is for. The other process is fork()ed and driven through pipes:
 * one command byte each way; every wait is bounded. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 20000 /* any answer of the other process */

static char dir[256];
static char f_lock[320], f_rec[320], f_ren[320], f_tmp[320], f_cto[320], f_new[320];

/* ---------- the other process: a tiny command interpreter ---------- */

/* Commands (one byte) and answers (one byte: 0 ok, else an errno, or a count) */
enum {
    C_FLOCK_EX_NB = 'a', /* try flock(LOCK_EX|LOCK_NB) on f_lock, unlock if got */
    C_FLOCK_SH_NB,       /* try flock(LOCK_SH|LOCK_NB), unlock if got */
    C_FLOCK_HOLD,        /* flock(LOCK_EX) (blocking), answer, keep it */
    C_FCNTL_NB,          /* try F_SETLK write lock on f_rec [0, 100), unlock if got */
    C_FCNTL_HOLD,        /* F_SETLKW [0, 100), answer, keep it */
    C_READ_RENAMED,      /* read f_ren in a loop until told to stop: answers bad count */
    C_READ_CTO,          /* open f_cto, answer the version found (byte) or 255 */
    C_SEE_NEW,           /* answers 1 if f_new exists, 0 if not */
    C_EXIT,
};

static int rd1(int fd, int ms)
{
    struct pollfd p = { fd, POLLIN, 0 };
    int n;
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR) { }
    if (n <= 0) return -1;
    unsigned char c;
    return read(fd, &c, 1) == 1 ? c : -1;
}

static void wr1(int fd, int v)
{
    unsigned char c = (unsigned char)v;
    if (write(fd, &c, 1) != 1) _exit(4);
}

/* f_ren's versions: 64 KiB, byte i = (version * 131 + i * 7) & 255, so a mix
 * of two versions, a short file or zeros never passes */
#define REN_LEN (64 * 1024)
static void ren_fill(uint8_t *b, unsigned v)
{
    for (unsigned i = 0; i < REN_LEN; i++) b[i] = (uint8_t)(v * 131 + i * 7);
}

static bool ren_whole(const uint8_t *b, ssize_t n)
{
    if (n != REN_LEN) return false;
    unsigned v = (unsigned)((uint8_t)(b[0] * 43)); /* 131 * 43 = 1 mod 256 */
    for (unsigned i = 0; i < REN_LEN; i++)
        if (b[i] != (uint8_t)(v * 131 + i * 7)) return false;
    return true;
}

static void child(int in, int out)
{
    int lockfd = open(f_lock, O_RDWR), recfd = open(f_rec, O_RDWR);
    if (lockfd < 0 || recfd < 0) _exit(5);
    static uint8_t buf[40 * 4096 + 1]; /* the longest file read, and one more byte */
    for (;;) {
        int c = rd1(in, 60000);
        if (c < 0 || c == C_EXIT) _exit(0);
        switch (c) {
        case C_FLOCK_EX_NB:
        case C_FLOCK_SH_NB: {
            int r = flock(lockfd, (c == C_FLOCK_EX_NB ? LOCK_EX : LOCK_SH) | LOCK_NB);
            int e = r == 0 ? 0 : errno;
            if (r == 0) flock(lockfd, LOCK_UN);
            wr1(out, e);
            break;
        }
        case C_FLOCK_HOLD:
            wr1(out, flock(lockfd, LOCK_EX) == 0 ? 0 : errno);
            break;
        case C_FCNTL_NB: {
            struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
            int r = fcntl(recfd, F_SETLK, &l);
            int e = r == 0 ? 0 : errno;
            if (r == 0) {
                l.l_type = F_UNLCK;
                fcntl(recfd, F_SETLK, &l);
            }
            wr1(out, e);
            break;
        }
        case C_FCNTL_HOLD: {
            struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
            wr1(out, fcntl(recfd, F_SETLKW, &l) == 0 ? 0 : errno);
            break;
        }
        case C_READ_RENAMED: {
            /* until the parent writes a byte: open, read whole, check */
            unsigned bad = 0, reads = 0, noent = 0, rderr = 0, mixed = 0, estale = 0;
            int other_errno = 0;
            wr1(out, 0); /* started */
            struct pollfd p = { in, POLLIN, 0 };
            while (poll(&p, 1, 0) == 0) {
                int fd = open(f_ren, O_RDONLY);
                if (fd < 0) {
                    /* ESTALE: the name still led to the file just replaced
                     * (NFS and GlusterFS do this; the VFS retries once);
                     * counted apart: a caller retries the open */
                    if (errno == ESTALE) { estale++; continue; }
                    bad++;
                    if (errno == ENOENT) noent++;
                    else other_errno = errno;
                    continue;
                }
                ssize_t n = 0, k = 0;
                while (n < (ssize_t)sizeof buf && (k = read(fd, buf + n, sizeof buf - (size_t)n)) > 0)
                    n += k;
                if (k < 0) { rderr++; other_errno = errno; }
                close(fd);
                if (!ren_whole(buf, n)) { bad++; if (k >= 0) mixed++; }
                reads++;
            }
            rd1(in, 1000); /* the stop byte */
            if (bad)
                fprintf(stderr, "   the reader: %u opens failed with ENOENT, %u reads failed, %u files read "
                        "were not one whole version; other errno: %s\n", noent, rderr, mixed,
                        other_errno ? strerror(other_errno) : "none");
            wr1(out, bad > 250 ? 250 : (int)bad);
            wr1(out, reads > 250 ? 250 : (int)reads);
            wr1(out, estale > 250 ? 250 : (int)estale);
            break;
        }
        case C_READ_CTO: {
            int fd = open(f_cto, O_RDONLY);
            if (fd < 0) { wr1(out, 255); break; }
            ssize_t n = 0, k;
            while (n < (ssize_t)sizeof buf && (k = read(fd, buf + n, sizeof buf - (size_t)n)) > 0)
                n += k;
            close(fd);
            /* version v: v * 4096 bytes of value v */
            int v = n > 0 ? buf[0] : 0;
            bool ok = n == (ssize_t)v * 4096;
            for (ssize_t i = 0; ok && i < n; i++) ok = buf[i] == (uint8_t)v;
            wr1(out, ok ? v : 254);
            break;
        }
        case C_SEE_NEW: {
            struct stat sb;
            wr1(out, stat(f_new, &sb) == 0 ? 1 : 0);
            break;
        }
        default:
            _exit(6);
        }
    }
}

/* ---------- the test ---------- */

static pid_t kid;
static int to_kid = -1, from_kid = -1;

static bool start_child(void)
{
    int a[2], b[2];
    if (pipe(a) != 0 || pipe(b) != 0) { perror("pipe"); return false; }
    int ns = h_peer_ns_pick();
    if (ns >= 0) printf("   the other process runs in the mount namespace %s\n", h_peer_ns_name(ns));
    fflush(stdout);
    fflush(stderr);
    kid = fork();
    if (kid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(a[1]);
        close(b[0]);
        if (h_peer_ns_enter(ns) != 0) _exit(96);
        child(a[0], b[1]);
        _exit(0);
    }
    close(a[0]);
    close(b[1]);
    to_kid = a[1];
    from_kid = b[0];
    return kid > 0;
}

/* sends a command, returns the answer (-1: none within WAIT_MS) */
static int ask(int cmd)
{
    wr1(to_kid, cmd);
    return rd1(from_kid, WAIT_MS);
}

static void end_child(bool kill_it)
{
    if (kid <= 0) return;
    if (kill_it) kill(kid, SIGKILL);
    else wr1(to_kid, C_EXIT);
    int ws = 0;
    waitpid(kid, &ws, 0);
    if (!kill_it) CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    close(to_kid);
    close(from_kid);
    kid = 0;
}

static int make_file(const char *p)
{
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror(p); return -1; }
    return fd;
}

static void test_flock(void)
{
    int fd = make_file(f_lock);
    CHECK(fd >= 0);
    close(make_file(f_rec));
    if (fd < 0 || !start_child()) return;
    CHECK_EQ(ask(C_FLOCK_EX_NB), 0);                /* free: the other gets it */
    CHECK_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
    CHECK_EQ(ask(C_FLOCK_EX_NB), EWOULDBLOCK);      /* held here: refused there */
    CHECK_EQ(ask(C_FLOCK_SH_NB), EWOULDBLOCK);
    CHECK_EQ(flock(fd, LOCK_UN), 0);
    CHECK_EQ(ask(C_FLOCK_EX_NB), 0);                /* released: seen there */
    CHECK_EQ(flock(fd, LOCK_SH | LOCK_NB), 0);
    CHECK_EQ(ask(C_FLOCK_SH_NB), 0);                /* shared locks share */
    CHECK_EQ(ask(C_FLOCK_EX_NB), EWOULDBLOCK);
    CHECK_EQ(flock(fd, LOCK_UN), 0);
    /* the other takes it and is killed: the lock must go with it */
    CHECK_EQ(ask(C_FLOCK_HOLD), 0);
    CHECK_EQ(flock(fd, LOCK_EX | LOCK_NB), -1);
    end_child(true);
    int got = -1;
    for (int i = 0; i < 200 && got != 0; i++) { /* at most 10 s */
        got = flock(fd, LOCK_EX | LOCK_NB);
        if (got != 0) sleep_us(50000);
    }
    if (got == 0) CHECK(1);
    else H_FAIL_("the flock of a process killed with SIGKILL was still held 10 s later");
    flock(fd, LOCK_UN);
    close(fd);
}

static void test_fcntl(void)
{
    int fd = open(f_rec, O_RDWR);
    CHECK(fd >= 0);
    if (fd < 0 || !start_child()) return;
    struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
    CHECK_EQ(ask(C_FCNTL_NB), 0);
    CHECK_EQ(fcntl(fd, F_SETLK, &l), 0);
    int e = ask(C_FCNTL_NB);
    CHECK(e == EAGAIN || e == EACCES);
    l.l_type = F_UNLCK;
    CHECK_EQ(fcntl(fd, F_SETLK, &l), 0);
    CHECK_EQ(ask(C_FCNTL_NB), 0);
    CHECK_EQ(ask(C_FCNTL_HOLD), 0);
    l.l_type = F_WRLCK;
    CHECK_EQ(fcntl(fd, F_SETLK, &l), -1);
    end_child(true);
    int got = -1;
    for (int i = 0; i < 200 && got != 0; i++) {
        got = fcntl(fd, F_SETLK, &l);
        if (got != 0) sleep_us(50000);
    }
    if (got == 0) CHECK(1);
    else H_FAIL_("the fcntl lock of a process killed with SIGKILL was still held 10 s later");
    close(fd);
}

static void test_rename(void)
{
    static uint8_t b[REN_LEN];
    ren_fill(b, 0);
    int fd = make_file(f_ren);
    CHECK_EQ(write(fd, b, REN_LEN), REN_LEN);
    CHECK_EQ(fsync(fd), 0);
    close(fd);
    if (!start_child()) return;
    CHECK_EQ(ask(C_READ_RENAMED), 0);
    unsigned n = 0;
    int64_t end = now_us() + 3000000;
    for (unsigned v = 1; v <= 400 && now_us() < end; v++, n++) {
        /* as the library replaces a container's metadata: write a temporary
         * file, fsync it, rename it over the old name, fsync the directory */
        ren_fill(b, v);
        fd = make_file(f_tmp);
        if (fd < 0) break;
        if (write(fd, b, REN_LEN) != REN_LEN) H_FAIL_("write %s: %s", f_tmp, strerror(errno));
        if (fdatasync(fd) != 0) H_FAIL_("fdatasync %s: %s", f_tmp, strerror(errno));
        close(fd);
        if (rename(f_tmp, f_ren) != 0) H_FAIL_("rename: %s", strerror(errno));
        int d = open(dir, O_RDONLY | O_DIRECTORY);
        if (d < 0 || fsync(d) != 0) H_FAIL_("fsync of the directory %s: %s", dir, strerror(errno));
        if (d >= 0) close(d);
    }
    wr1(to_kid, 0); /* stop */
    int bad = rd1(from_kid, WAIT_MS), reads = rd1(from_kid, WAIT_MS), estale = rd1(from_kid, WAIT_MS);
    printf("   %u renames; the other process opened and read the file %s%d times, %d not whole; "
           "%d opens failed with ESTALE (tolerated: see the README)\n",
           n, reads == 250 ? ">= " : "", reads, bad, estale);
    CHECK_EQ(bad, 0);
    CHECK(reads > 0);
    end_child(false);
}

static void test_close_to_open(void)
{
    if (!start_child()) return;
    CHECK_EQ(ask(C_READ_CTO), 255); /* not there yet */
    static uint8_t b[40 * 4096];
    for (int v = 1; v <= 40; v++) {
        /* rewrite the file (it grows each time), close it, then the other opens it */
        memset(b, v, sizeof b);
        int fd = open(f_cto, O_WRONLY | O_CREAT, 0600);
        if (fd < 0) { H_FAIL_("open %s: %s", f_cto, strerror(errno)); break; }
        ssize_t w = pwrite(fd, b, (size_t)v * 4096, 0);
        if (w != v * 4096) H_FAIL_("pwrite: %zd", w);
        if (v % 2) CHECK_EQ(fsync(fd), 0); /* half the time fsynced before the close */
        close(fd);
        int got = ask(C_READ_CTO);
        if (got != v) {
            H_FAIL_("after version %d of the file was written and closed, the other process "
                    "opening it read %s", v, got == 254 ? "a mix or a short file" :
                    got == 255 ? "nothing (ENOENT)" : "an older version");
            break;
        }
        CHECK(1);
    }
    /* names: a new file is seen, a removed one is gone */
    CHECK_EQ(ask(C_SEE_NEW), 0);
    close(make_file(f_new));
    CHECK_EQ(ask(C_SEE_NEW), 1);
    CHECK_EQ(unlink(f_new), 0);
    CHECK_EQ(ask(C_SEE_NEW), 0);
    unlink(f_cto);
    CHECK_EQ(ask(C_READ_CTO), 255);
    end_child(false);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (h_tmpdir(dir, sizeof dir, "fssem") != 0) { printf("0 passed, 1 failed\n"); return 1; }
    printf("scratch directory %s%s\n", dir,
           h_peer_ns_count() ? " (the other process on another client)" : "");
    snprintf(f_lock, sizeof f_lock, "%s/lock", dir);
    snprintf(f_rec, sizeof f_rec, "%s/rec", dir);
    snprintf(f_ren, sizeof f_ren, "%s/meta", dir);
    snprintf(f_tmp, sizeof f_tmp, "%s/.meta.tmp", dir);
    snprintf(f_cto, sizeof f_cto, "%s/cto", dir);
    snprintf(f_new, sizeof f_new, "%s/new", dir);
    RUN(test_flock);
    RUN(test_fcntl);
    RUN(test_rename);
    RUN(test_close_to_open);
    h_rmrf(dir);
    return harness_summary();
}
