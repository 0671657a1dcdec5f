/* Kills that leave litter (issue 11, defect 8): a process SIGKILLed while it
 * compacts, adds a shard or writes before its first commit leaves files the
 * next open removes, and space reclamation goes on at that open, without a
 * new commit.
 *
 *   compaction   epoch 1 writes 4 extents of 256 KiB (one segment, sealed
 *                at close), epoch 2 (another process) overwrites 3 of them
 *                and slips: the first segment holds 256 KiB live of 1 MiB,
 *                so its live extent is copied into a new segment in the
 *                background. Kill points, by round:
 *                  caught   this process takes the container's lock as soon
 *                           as the compaction's new segment appears (inotify),
 *                           so the compaction cannot publish it, then kills
 *                           the writer: a finished but unpublished copy
 *                           (rounds until it was caught twice, at most 6: the
 *                           copy takes two fsyncs, the lock usually wins);
 *                  publish  killed when the container file is replaced after
 *                           the new segment appeared (published, the old
 *                           files maybe not unlinked yet);
 *                  delays   killed 0 .. 30 ms after the slip began.
 *                Then a fresh open (read-write; a slip, no commit): within
 *                5 s the shard's data files take at most 1.5 MiB (live data:
 *                1 MiB; before: 1.75 MiB and more) in at most two segments,
 *                every .dat has its .jnl, and object reads are right at HCE
 *                and at epoch 1 (or -ESTALE there).
 *   shard add    the container's lock is held by this process while the
 *                other adds a shard: the add makes the shard's directory and
 *                waits for the lock; killed then. Also kills after delays.
 *                A fresh open leaves no shard directory the layout lacks,
 *                and a shard added with the freed id is written and read.
 *   first write  a writer killed after writing 1 MiB without a commit (and
 *                one killed in the middle of writing): a fresh open leaves
 *                only the committed segment, whose data reads right.
 *
 * The store goes under C_TESTS_TMPDIR (default /tmp); the killed process
 * runs in another mount namespace under make test-sharedfs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define HIGHEST ((uint64_t)DAOS_EPOCH_HIGHEST)
#define EXT (256 * 1024)
#define NEXT 4

static char root[256], co[320], shard0[700];
static unsigned char buf[EXT], want[EXT];

/* ---------- files ---------- */

/* segments of a shard directory: counts of .dat and .jnl, allocated bytes of the .dat */
struct segs { int dat, jnl; long long bytes; };
static struct segs segs_of(const char *dir)
{
    struct segs s = { 0, 0, 0 };
    DIR *d = opendir(dir);
    if (d == NULL) return s;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 4) continue;
        if (strcmp(e->d_name + l - 4, ".jnl") == 0) s.jnl++;
        if (strcmp(e->d_name + l - 4, ".dat") == 0) {
            s.dat++;
            char p[1000];
            struct stat st;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (stat(p, &st) == 0) s.bytes += (long long)st.st_blocks * 512;
        }
    }
    closedir(d);
    return s;
}

/* Waits (at most 2 s) until no journal in `dir` is locked: a killed
 * process's files can stay open a little after waitpid() while the kernel
 * cancels its io_uring requests, and its litter is only swept once it has
 * let them go. */
static void wait_unlocked(const char *dir)
{
    int64_t end = now_us() + 2000000;
    for (;;) {
        bool held = false;
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            size_t l = strlen(e->d_name);
            if (l < 4 || strcmp(e->d_name + l - 4, ".jnl") != 0) continue;
            char p[1000];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            if (flock(fd, LOCK_EX | LOCK_NB) != 0) held = true;
            close(fd);
        }
        if (d) closedir(d);
        if (!held || now_us() > end) return;
        sleep_us(2000);
    }
}

static int lock_fd(void)
{
    char ld[400], lf[700];
    snprintf(ld, sizeof ld, "%s/.daos/locks", root);
    h_first_entry(ld, "c-", lf, sizeof lf);
    return lf[0] ? open(lf, O_RDWR | O_CLOEXEC) : -1;
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---------- the container ---------- */

static void ext_data(unsigned char *b, uint64_t epoch, unsigned i) { h_fill(b, EXT, epoch * 100 + i); }

static int fresh(const char *tag, unsigned ntarget)
{
    if (h_new_store(root, sizeof root, tag, ntarget) != 0) return -1;
    snprintf(co, sizeof co, "%s/c", root);
    daos_handle_t c, oh;
    daos_container_status_t st;
    int rc = daos_container_open(co, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &c, NULL);
    if (rc != 0) return rc;
    unsigned tg = 0;
    int sh = 0;
    rc = daos_shard_add(c, h_ep(1), 1, &tg, &sh, NULL);
    if (rc == 0) rc = daos_object_open(c, h_oid(0, 1), DAOS_OBJ_RW, &oh, NULL);
    for (unsigned i = 0; rc == 0 && i < NEXT; i++) {
        ext_data(buf, 1, i);
        rc = h_write(oh, 1, (uint64_t)i * EXT, buf, EXT);
    }
    if (rc == 0) rc = daos_object_close(oh, NULL);
    if (rc == 0) rc = daos_epoch_commit(c, h_ep(1), false, NULL, NULL);
    int rc2 = daos_container_close(c, NULL);
    char cd[600], td[400];
    snprintf(td, sizeof td, "%s/.daos/targets/0", root);
    h_first_entry(td, "c-", cd, sizeof cd);
    snprintf(shard0, sizeof shard0, "%s/s-0", cd);
    return rc != 0 ? rc : rc2;
}

/* what extent i of object (0, 1) holds at epoch e (epoch 2 overwrote 1..3) */
static uint64_t ext_epoch(uint64_t e, unsigned i) { return e >= 2 && i > 0 ? 2 : 1; }

/* object (0, 1) reads right at HCE and at epoch 1 (or -ESTALE there) */
static void check_reads(daos_handle_t c, uint64_t hce)
{
    daos_handle_t oh;
    CHECK_RC(daos_object_open(c, h_oid(0, 1), DAOS_OBJ_RO, &oh, NULL), 0);
    for (uint64_t e = 1; e <= hce; e++) {
        for (unsigned i = 0; i < NEXT; i++) {
            memset(buf, 0, EXT);
            int rc = h_read(oh, e, (uint64_t)i * EXT, buf, EXT);
            if (rc == -ESTALE && e < hce) continue;
            CHECK_RC(rc, 0);
            ext_data(want, ext_epoch(e, i), i);
            if (memcmp(buf, want, EXT) != 0) H_FAIL_("extent %u reads wrong at epoch %llu", i, (unsigned long long)e);
        }
    }
    CHECK_RC(daos_object_close(oh, NULL), 0);
}

static bool killed(pid_t pid)
{
    int ws = 0;
    return waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL;
}

/* ---------- compaction ---------- */

/* The writer: overwrites extents 1..3 in epoch 2, commits, says so, waits
 * for the word, slips (compaction starts in the background) and waits to
 * be killed. */
static int compact_victim(int say, int hear)
{
    daos_handle_t c, oh;
    daos_container_status_t st;
    if (daos_container_open(co, DAOS_COO_RW, 1, &st, &c, NULL) != 0) return 10;
    if (daos_object_open(c, h_oid(0, 1), DAOS_OBJ_RW, &oh, NULL) != 0) return 11;
    for (unsigned i = 1; i < NEXT; i++) {
        ext_data(buf, 2, i);
        if (h_write(oh, 2, (uint64_t)i * EXT, buf, EXT) != 0) return 12;
    }
    if (daos_epoch_commit(c, h_ep(2), false, NULL, NULL) != 0) return 13;
    h_say(say);
    if (h_hear(hear) != 0) return 14;
    if (daos_epoch_slip(c, H_HIGHEST, NULL) != 0) return 15;
    for (;;) pause();
}

enum { K_CAUGHT, K_PUBLISH, K_DELAY };

/* waits (at most 3 s) for an inotify event on `ifd` of watch `wd` with
 * `mask` whose name ends in `suffix`; whether one came */
static bool await_event(int ifd, int wd, uint32_t mask, const char *suffix)
{
    char ev[4096] __attribute__((aligned(8)));
    int64_t end = now_us() + 3000000;
    while (now_us() < end) {
        struct pollfd p = { ifd, POLLIN, 0 };
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = read(ifd, ev, sizeof ev);
        for (ssize_t off = 0; off < n;) {
            struct inotify_event *e = (struct inotify_event *)(ev + off);
            size_t l = e->len ? strlen(e->name) : 0;
            if (e->wd == wd && (e->mask & mask) && l >= strlen(suffix) && strcmp(e->name + l - strlen(suffix), suffix) == 0)
                return true;
            off += (ssize_t)(sizeof *e + e->len);
        }
    }
    return false;
}

static int caught_rounds;

static void compaction_round(int kind, int64_t delay_us)
{
    if (fresh("lkill-compact", 1) != 0) { CHECK(0); return; }
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0) { CHECK(0); return; }
    pid_t pid = h_fork_peer();
    if (pid == 0) {
        _exit(compact_victim(up[1], down[0]));
    }
    if (h_hear(up[0]) != 0) {
        H_FAIL_("the writer failed before its slip (exit %d)", h_reap(pid));
        return;
    }
    struct segs before = segs_of(shard0);
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int wseg = inotify_add_watch(ifd, shard0, IN_CREATE);
    int wroot = inotify_add_watch(ifd, root, IN_MOVED_TO);
    int lfd = lock_fd();
    CHECK(ifd >= 0 && wseg >= 0 && wroot >= 0 && lfd >= 0);
    h_say(down[1]);
    const char *what = "delay";
    bool hit = false;
    if (kind == K_CAUGHT) {
        what = "caught";
        if (await_event(ifd, wseg, IN_CREATE, ".jnl")) {
            /* the compaction cannot publish its copy from now on */
            if (flock(lfd, LOCK_EX) != 0) perror("flock");
            struct segs s = segs_of(shard0);
            hit = s.jnl > before.jnl;
        }
    } else if (kind == K_PUBLISH) {
        what = "publish";
        if (await_event(ifd, wseg, IN_CREATE, ".jnl")) await_event(ifd, wroot, IN_MOVED_TO, "c");
    } else {
        sleep_us(delay_us);
    }
    kill(pid, SIGKILL);
    CHECK(killed(pid));
    wait_unlocked(shard0);
    struct segs left = segs_of(shard0);
    if (kind == K_CAUGHT) {
        flock(lfd, LOCK_UN);
        caught_rounds += hit;
    }
    close(lfd);
    close(ifd);
    close(up[0]); close(up[1]); close(down[0]); close(down[1]);

    /* a fresh open: the litter goes, reclamation goes on (no commit) */
    daos_handle_t c;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(co, DAOS_COO_RW, 1, &st, &c, NULL), 0);
    CHECK_RC(daos_epoch_slip(c, H_HIGHEST, NULL), 0);
    struct segs s = segs_of(shard0);
    int64_t t0 = now_us();
    while (now_us() - t0 < 5000000) {
        s = segs_of(shard0);
        if (s.bytes <= 3 * 512 * 1024 && s.jnl <= 2 && s.jnl == s.dat) break;
        sleep_us(20000);
    }
    printf("   %-7s %6.1f ms: segments %d before the slip, %d at the kill%s, %d (%lld KiB) %.0f ms after the open\n", what,
           (double)delay_us / 1000.0, before.jnl, left.jnl, kind == K_CAUGHT ? (hit ? " (caught)" : " (missed)") : "",
           s.jnl, s.bytes / 1024, (double)(now_us() - t0) / 1000.0);
    fflush(stdout);
    if (s.bytes > 3 * 512 * 1024) H_FAIL_("%s: %lld KiB of data files for 1 MiB live after 5 s", what, s.bytes / 1024);
    else atomic_fetch_add(&h_pass, 1);
    CHECK(s.jnl <= 2);
    CHECK_EQ(s.jnl, s.dat);
    struct daos_epoch_info info;
    CHECK_RC(daos_epoch_query(c, &info, NULL), 0);
    CHECK_EQ(info.epi_hce.seq, 2);
    check_reads(c, 2);
    CHECK_RC(daos_container_close(c, NULL), 0);
    /* and once more from a fresh state */
    CHECK_RC(daos_container_open(co, DAOS_COO_RO, 1, &st, &c, NULL), 0);
    check_reads(c, 2);
    CHECK_RC(daos_container_close(c, NULL), 0);
    CHECK_RC(daos_container_unlink(co, NULL), 0);
    h_rmrf(root);
}

static void compaction(void)
{
    caught_rounds = 0;
    int tries = 0;
    while (tries < 6 && caught_rounds < 2) {
        compaction_round(K_CAUGHT, 0);
        tries++;
    }
    compaction_round(K_PUBLISH, 0);
    static const int64_t delays[] = { 0, 500, 2000, 5000, 12000, 30000 };
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) compaction_round(K_DELAY, delays[i]);
    printf("   the compaction's copy was caught unpublished in %d of %d rounds\n", caught_rounds, tries);
    /* (it takes at least two fsyncs: this process's lock comes first) */
    CHECK(caught_rounds > 0);
}

/* ---------- shard add ---------- */

static int add_victim(int say, int hear, int loop)
{
    daos_handle_t c;
    daos_container_status_t st;
    if (daos_container_open(co, DAOS_COO_RW, 1, &st, &c, NULL) != 0) return 10;
    h_say(say);
    if (h_hear(hear) != 0) return 11;
    for (uint64_t e = 2;; e++) {
        unsigned tg = (unsigned)((e + 1) % 2); /* the first on target 1 */
        int sh = -1;
        if (daos_shard_add(c, h_ep(e), 1, &tg, &sh, NULL) != 0) return 12;
        if (!loop) break;
    }
    for (;;) pause();
}

static void shard_add_round(bool hold, int64_t delay_us)
{
    if (fresh("lkill-shard", 2) != 0) { CHECK(0); return; }
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0) { CHECK(0); return; }
    pid_t pid = h_fork_peer();
    if (pid == 0) {
        _exit(add_victim(up[1], down[0], !hold));
    }
    if (h_hear(up[0]) != 0) {
        H_FAIL_("the shard adder failed at its open (exit %d)", h_reap(pid));
        return;
    }
    char c0[600], c1[700], s1[800];
    strcpy(c0, shard0);
    *strrchr(c0, '/') = 0;
    snprintf(c1, sizeof c1, "%s/.daos/targets/1/%s", root, strrchr(c0, '/') + 1);
    snprintf(s1, sizeof s1, "%s/s-1", c1);
    int lfd = lock_fd();
    bool orphan = false;
    if (hold) {
        CHECK(lfd >= 0 && flock(lfd, LOCK_EX) == 0);
        h_say(down[1]);
        int64_t end = now_us() + 3000000;
        while (!exists(s1) && now_us() < end) sleep_us(200);
        orphan = exists(s1);
        CHECK(orphan);
    } else {
        h_say(down[1]);
        sleep_us(delay_us);
    }
    kill(pid, SIGKILL);
    CHECK(killed(pid));
    if (hold) flock(lfd, LOCK_UN);
    close(lfd);
    close(up[0]); close(up[1]); close(down[0]); close(down[1]);

    daos_handle_t c;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(co, DAOS_COO_RW, 1, &st, &c, NULL), 0);
    /* every shard directory is one of the layout */
    unsigned ids[64];
    daos_off_t anchor = 0;
    CHECK_RC(daos_container_list_shard(c, H_HIGHEST, DAOS_SHARD_LS_ALL, &anchor, 64, ids, NULL), 0);
    int stray = 0, nshard = 0;
    for (unsigned t = 0; t < 2; t++) {
        char cd[700];
        snprintf(cd, sizeof cd, "%s/.daos/targets/%u/%s", root, t, strrchr(c0, '/') + 1);
        DIR *d = opendir(cd);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strncmp(e->d_name, "s-", 2) != 0) continue;
            unsigned id = (unsigned)atoi(e->d_name + 2);
            bool listed = false;
            for (int k = 0; k < 64 && ids[k] != (unsigned)-1; k++) listed |= ids[k] == id;
            stray += !listed;
        }
        if (d) closedir(d);
    }
    for (int k = 0; k < 64 && ids[k] != (unsigned)-1; k++) nshard++;
    printf("   %s %5.1f ms: %d shards, %d directories the layout lacks after the open\n", hold ? "held " : "delay",
           (double)delay_us / 1000.0, nshard, stray);
    CHECK_EQ(stray, 0);
    /* a shard added now (with the lowest free id) is written and read */
    struct daos_epoch_info info;
    CHECK_RC(daos_epoch_query(c, &info, NULL), 0);
    uint64_t e = info.epi_hce.seq + 1;
    unsigned tg = 1;
    int sh = -1;
    CHECK_RC(daos_shard_add(c, h_ep(e), 1, &tg, &sh, NULL), 0);
    if (hold) CHECK_EQ(sh, 1);
    daos_handle_t oh;
    CHECK_RC(daos_object_open(c, h_oid((uint64_t)sh, 1), DAOS_OBJ_RW, &oh, NULL), 0);
    ext_data(want, 9, 0);
    CHECK_RC(h_write(oh, e, 0, want, EXT), 0);
    CHECK_RC(daos_epoch_commit(c, h_ep(e), false, NULL, NULL), 0);
    memset(buf, 0, EXT);
    CHECK_RC(h_read(oh, e, 0, buf, EXT), 0);
    CHECK(memcmp(buf, want, EXT) == 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    check_reads(c, 1);
    CHECK_RC(daos_container_close(c, NULL), 0);
    CHECK_RC(daos_container_unlink(co, NULL), 0);
    h_rmrf(root);
}

static void shard_add(void)
{
    shard_add_round(true, 0);
    shard_add_round(true, 0);
    static const int64_t delays[] = { 300, 1000, 3000, 8000 };
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) shard_add_round(false, delays[i]);
}

/* ---------- first write ---------- */

static int write_victim(int say, bool loop)
{
    daos_handle_t c, oh;
    daos_container_status_t st;
    if (daos_container_open(co, DAOS_COO_RW, 1, &st, &c, NULL) != 0) return 10;
    if (daos_object_open(c, h_oid(0, 2), DAOS_OBJ_RW, &oh, NULL) != 0) return 11;
    h_say(say);
    for (uint64_t off = 0;; off += EXT) {
        ext_data(buf, 5, 0);
        if (h_write(oh, 2, off % (64 * EXT), buf, EXT) != 0) return 12;
        if (!loop && off + EXT >= 4 * EXT) break;
    }
    if (!loop) h_say(say);
    for (;;) pause();
}

static void first_write_round(bool loop, int64_t delay_us)
{
    if (fresh("lkill-write", 1) != 0) { CHECK(0); return; }
    int up[2];
    if (pipe(up) != 0) { CHECK(0); return; }
    pid_t pid = h_fork_peer();
    if (pid == 0) {
        _exit(write_victim(up[1], loop));
    }
    CHECK_RC(h_hear(up[0]), 0);
    if (loop) sleep_us(delay_us);
    else CHECK_RC(h_hear(up[0]), 0);
    kill(pid, SIGKILL);
    CHECK(killed(pid));
    close(up[0]); close(up[1]);
    wait_unlocked(shard0);
    struct segs left = segs_of(shard0);
    daos_handle_t c;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(co, DAOS_COO_RO, 1, &st, &c, NULL), 0);
    struct segs s = segs_of(shard0);
    printf("   %s %5.1f ms: %d segments at the kill, %d after the open\n", loop ? "writing" : "written",
           (double)delay_us / 1000.0, left.jnl, s.jnl);
    CHECK_EQ(s.jnl, 1);
    CHECK_EQ(s.dat, 1);
    check_reads(c, 1);
    CHECK_RC(daos_container_close(c, NULL), 0);
    CHECK_RC(daos_container_unlink(co, NULL), 0);
    h_rmrf(root);
}

static void first_write(void)
{
    first_write_round(false, 0);
    static const int64_t delays[] = { 0, 1000, 5000 };
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) first_write_round(true, delays[i]);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(compaction);
    RUN(shard_add);
    RUN(first_write);
    return harness_summary();
}
