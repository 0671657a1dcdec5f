/* Litter (issue 11, defect 8): what a process that dies leaves behind next
 * to a container is swept at the next open (or close, or unlink) once its
 * owner is dead, and what a live process still uses never is.
 *
 *   tmp_files            a metadata update's `.NAME.tmp.PID.X` beside the
 *                        container, left by a process that died with the
 *                        container open: gone at the next open; one left
 *                        beside a container that is then unlinked: gone too.
 *   tombstones_bounded   200 collective opens and closes leave at most a
 *                        few tombstones (`REVOKED!`) in the token directory,
 *                        not 200; a peer's buffer of the first of them, whose
 *                        tombstone went, still gives -EPERM (revoked).
 *   orphan_shard_dir     a shard directory the layout does not have (a shard
 *                        add killed between making it and recording it):
 *                        gone at the next open; the shard id is free, and a
 *                        shard added with it works.
 *   unpublished_segments a writer that dies before its first commit: its
 *                        segment files go at the next open; one that closes
 *                        without committing: at its close. Committed data
 *                        reads right after.
 *   live_owner_kept      while a sweep runs (another process died), a live
 *                        writer's unpublished segment and a live master's
 *                        token stay; the writer commits afterwards and its
 *                        data reads right.
 *
 * Children run in other mount namespaces under make test-sharedfs
 * (C_TESTS_PEER_MNTNS, see harness.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define HIGHEST ((uint64_t)DAOS_EPOCH_HIGHEST)
#define LEN (64 * 1024)

static char root[256], co[320];

/* ---------- files of the store ---------- */

/* the container's directory on target t (".daos/targets/t/c-..."), "" if none */
static void cdir_of(unsigned t, char *out, size_t n)
{
    char td[400];
    snprintf(td, sizeof td, "%s/.daos/targets/%u", root, t);
    out[0] = 0;
    DIR *d = opendir(td);
    if (d == NULL) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "c-", 2) == 0) {
            snprintf(out, n, "%s/%s", td, e->d_name);
            break;
        }
    }
    closedir(d);
}

/* entries of dir whose name starts with prefix and ends with suffix */
static int count_in(const char *dir, const char *prefix, const char *suffix)
{
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    int n = 0;
    struct dirent *e;
    size_t ls = strlen(suffix);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && l >= ls && strcmp(e->d_name + l - ls, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}


static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void touch(const char *p, const char *what)
{
    int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd >= 0) {
        if (write(fd, what, strlen(what)) < 0) perror("write");
        close(fd);
    } else {
        perror(p);
    }
}

/* ---------- the container ---------- */

static int fresh(const char *tag, unsigned ntarget)
{
    if (h_new_store(root, sizeof root, tag, ntarget) != 0) return -1;
    snprintf(co, sizeof co, "%s/c", root);
    daos_handle_t c;
    daos_container_status_t st;
    int rc = daos_container_open(co, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &c, NULL);
    if (rc != 0) return rc;
    unsigned tg = 0;
    int sh = 0;
    rc = daos_shard_add(c, h_ep(1), 1, &tg, &sh, NULL);
    if (rc == 0) {
        daos_handle_t oh;
        static unsigned char b[LEN];
        h_fill(b, LEN, 1);
        rc = daos_object_open(c, h_oid(0, 1), DAOS_OBJ_RW, &oh, NULL);
        if (rc == 0) rc = h_write(oh, 1, 0, b, LEN);
        if (rc == 0) rc = daos_object_close(oh, NULL);
        if (rc == 0) rc = daos_epoch_commit(c, h_ep(1), false, NULL, NULL);
    }
    int rc2 = daos_container_close(c, NULL);
    return rc != 0 ? rc : rc2;
}

/* object (0, 1) reads as written at epoch 1 (seed 1) */
static void check_data(daos_handle_t c)
{
    static unsigned char b[LEN], want[LEN];
    h_fill(want, LEN, 1);
    daos_handle_t oh;
    CHECK_RC(daos_object_open(c, h_oid(0, 1), DAOS_OBJ_RO, &oh, NULL), 0);
    memset(b, 0, LEN);
    CHECK_RC(h_read(oh, HIGHEST, 0, b, LEN), 0);
    CHECK(memcmp(b, want, LEN) == 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
}

static int open_rw(daos_handle_t *c)
{
    daos_container_status_t st;
    return daos_container_open(co, DAOS_COO_RW, 1, &st, c, NULL);
}

/* (Read-only where segment files are counted: a read-write open after a
 * sweep also resumes space reclamation, which rewrites segments.) */
static int open_ro(daos_handle_t *c)
{
    daos_container_status_t st;
    return daos_container_open(co, DAOS_COO_RO, 1, &st, c, NULL);
}

/* A child that opens the container, runs fn (which may leave litter), and
 * dies with the container open (SIGKILL to itself). */
static pid_t die_with_open(void (*fn)(daos_handle_t))
{
    pid_t pid = h_fork_peer();
    if (pid == 0) {
        daos_handle_t c;
        if (open_rw(&c) != 0) _exit(4);
        if (fn) fn(c);
        kill(getpid(), SIGKILL);
        _exit(5);
    }
    return pid;
}

static bool killed(pid_t pid)
{
    int ws = 0;
    return waitpid(pid, &ws, 0) == pid && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL;
}

/* ---------- tests ---------- */

static void plant_tmp(daos_handle_t c)
{
    (void)c;
    char p[400];
    /* what Meta::save leaves when killed between its write and its rename */
    snprintf(p, sizeof p, "%s/.c.tmp.%d.1234abcd", root, (int)getpid());
    touch(p, "half a container file");
}

static void tmp_files(void)
{
    if (fresh("litter-tmp", 1) != 0) { CHECK(0); return; }
    /* another user file whose name only looks alike stays */
    char other[400];
    snprintf(other, sizeof other, "%s/.c.tmp.notours", root);
    touch(other, "x");
    pid_t pid = die_with_open(plant_tmp);
    CHECK(killed(pid));
    CHECK_EQ(count_in(root, ".c.tmp.", ""), 2);
    daos_handle_t c;
    CHECK_RC(open_rw(&c), 0);
    CHECK_EQ(count_in(root, ".c.tmp.", ""), 1);
    CHECK(exists(other));
    check_data(c);
    CHECK_RC(daos_container_close(c, NULL), 0);

    /* left beside a container that is then unlinked */
    char p[400];
    snprintf(p, sizeof p, "%s/.c.tmp.999999.feed", root);
    touch(p, "half a container file");
    CHECK_RC(daos_container_unlink(co, NULL), 0);
    CHECK(!exists(p));
    CHECK(exists(other));
    h_rmrf(root);
}

static void tombstones_bounded(void)
{
    if (fresh("litter-tomb", 1) != 0) { CHECK(0); return; }
    int bad = 0;
    /* the buffer of the first collective open, whose tombstone is trimmed */
    static char first[1 << 16];
    unsigned int first_size = sizeof first;
    for (int i = 0; i < 200; i++) {
        daos_handle_t c;
        daos_container_status_t st;
        if (daos_container_open(co, DAOS_COO_RW, 4, &st, &c, NULL) != 0) { bad++; continue; }
        if (i == 0 && daos_local2global(c, first, &first_size) != 0) bad++;
        if (daos_container_close(c, NULL) != 0) bad++;
    }
    CHECK_EQ(bad, 0);
    char tdir[400], cd[600];
    snprintf(tdir, sizeof tdir, "%s/.daos/tokens", root);
    h_first_entry(tdir, "c-", cd, sizeof cd);
    int n = count_in(cd, "", "");
    printf("   %d files in the token directory after 200 collective opens\n", n);
    CHECK(n <= 20);
    /* the latest revocation still reads as one */
    daos_handle_t c, p;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(co, DAOS_COO_RW, 4, &st, &c, NULL), 0);
    static char g[1 << 16];
    unsigned int size = sizeof g;
    CHECK_RC(daos_local2global(c, g, &size), 0);
    CHECK_RC(daos_container_close(c, NULL), 0);
    CHECK_RC(daos_global2local(g, size, &p, NULL), -EPERM);
    /* and so does the first one, 200 closes ago (its id is in the token
     * directory's revoked list: -EINVAL, unknown, before that list) */
    CHECK_RC(daos_global2local(first, first_size, &p, NULL), -EPERM);
    CHECK_RC(daos_container_unlink(co, NULL), 0);
    h_rmrf(root);
}

static char orphan[700];
static void plant_shard_dir(daos_handle_t c)
{
    (void)c;
    /* a shard add killed between its mkdir and its metadata update */
    if (mkdir(orphan, 0700) != 0) perror(orphan);
}

static void orphan_shard_dir(void)
{
    if (fresh("litter-shard", 2) != 0) { CHECK(0); return; }
    char c0[600], c1[600], s0[700];
    cdir_of(0, c0, sizeof c0);
    /* the container has no directory on target 1 yet: made as a shard add would */
    snprintf(c1, sizeof c1, "%s/.daos/targets/1/%s", root, strrchr(c0, '/') + 1);
    if (mkdir(c1, 0700) != 0) perror(c1);
    snprintf(orphan, sizeof orphan, "%s/s-1", c1);
    snprintf(s0, sizeof s0, "%s/s-0", c0);
    pid_t pid = die_with_open(plant_shard_dir);
    CHECK(killed(pid));
    CHECK(exists(orphan));
    daos_handle_t c;
    CHECK_RC(open_rw(&c), 0);
    CHECK(!exists(orphan));
    CHECK(exists(s0));
    check_data(c);
    /* the id is free: a shard added with it is written and read */
    unsigned tg = 1;
    int sh = -1;
    CHECK_RC(daos_shard_add(c, h_ep(2), 1, &tg, &sh, NULL), 0);
    CHECK_EQ(sh, 1);
    daos_handle_t oh;
    static unsigned char b[LEN], r[LEN];
    h_fill(b, LEN, 7);
    CHECK_RC(daos_object_open(c, h_oid(1, 1), DAOS_OBJ_RW, &oh, NULL), 0);
    CHECK_RC(h_write(oh, 2, 0, b, LEN), 0);
    CHECK_RC(daos_epoch_commit(c, h_ep(2), false, NULL, NULL), 0);
    CHECK_RC(h_read(oh, 2, 0, r, LEN), 0);
    CHECK(memcmp(b, r, LEN) == 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(daos_container_close(c, NULL), 0);
    CHECK_RC(daos_container_unlink(co, NULL), 0);
    h_rmrf(root);
}

static void write_uncommitted(daos_handle_t c)
{
    daos_handle_t oh;
    static unsigned char b[LEN];
    h_fill(b, LEN, 99);
    if (daos_object_open(c, h_oid(0, 1), DAOS_OBJ_RW, &oh, NULL) != 0) _exit(6);
    if (h_write(oh, 2, 0, b, LEN) != 0) _exit(7);
}

static void unpublished_segments(void)
{
    if (fresh("litter-seg", 1) != 0) { CHECK(0); return; }
    char c0[600], s0[700];
    cdir_of(0, c0, sizeof c0);
    snprintf(s0, sizeof s0, "%s/s-0", c0);
    CHECK_EQ(count_in(s0, "", ".jnl"), 1);
    pid_t pid = die_with_open(write_uncommitted);
    CHECK(killed(pid));
    CHECK_EQ(count_in(s0, "", ".jnl"), 2);
    CHECK_EQ(count_in(s0, "", ".dat"), 2);
    daos_handle_t c;
    CHECK_RC(open_ro(&c), 0);
    CHECK_EQ(count_in(s0, "", ".jnl"), 1);
    CHECK_EQ(count_in(s0, "", ".dat"), 1);
    check_data(c);
    CHECK_RC(daos_container_close(c, NULL), 0);
    /* a writer that closes without committing drops its segment itself */
    CHECK_RC(open_rw(&c), 0);
    write_uncommitted(c);
    CHECK_EQ(count_in(s0, "", ".jnl"), 2);
    CHECK_RC(daos_container_close(c, NULL), 0);
    CHECK_EQ(count_in(s0, "", ".jnl"), 1);
    CHECK_EQ(count_in(s0, "", ".dat"), 1);
    CHECK_RC(open_rw(&c), 0);
    check_data(c);
    CHECK_RC(daos_container_close(c, NULL), 0);
    CHECK_RC(daos_container_unlink(co, NULL), 0);
    h_rmrf(root);
}

/* The live owner: opens the container as the master of a collective open,
 * writes epoch 2 without committing, says so, waits for the word, then
 * commits and closes. */
static int live_owner(int say, int hear)
{
    daos_handle_t c, oh;
    daos_container_status_t st;
    if (daos_container_open(co, DAOS_COO_RW, 2, &st, &c, NULL) != 0) return 10;
    static unsigned char b[LEN];
    h_fill(b, LEN, 2);
    if (daos_object_open(c, h_oid(0, 2), DAOS_OBJ_RW, &oh, NULL) != 0) return 11;
    if (h_write(oh, 2, 0, b, LEN) != 0) return 12;
    h_say(say);
    if (h_hear(hear) != 0) return 13;
    if (daos_epoch_commit(c, h_ep(2), false, NULL, NULL) != 0) return 14;
    if (daos_object_close(oh, NULL) != 0) return 15;
    if (daos_container_close(c, NULL) != 0) return 16;
    return 0;
}

static void live_owner_kept(void)
{
    if (fresh("litter-live", 1) != 0) { CHECK(0); return; }
    char c0[600], s0[700], tdir[400], tk[600];
    cdir_of(0, c0, sizeof c0);
    snprintf(s0, sizeof s0, "%s/s-0", c0);
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0) { CHECK(0); return; }
    pid_t owner = h_fork_peer();
    if (owner == 0) {
        _exit(live_owner(up[1], down[0]));
    }
    CHECK_RC(h_hear(up[0]), 0);
    CHECK_EQ(count_in(s0, "", ".jnl"), 2);
    snprintf(tdir, sizeof tdir, "%s/.daos/tokens", root);
    h_first_entry(tdir, "c-", tk, sizeof tk);
    int tokens = count_in(tk, "", "");
    CHECK_EQ(tokens, 1);
    /* another process dies, leaving litter: the next open sweeps */
    pid_t pid = die_with_open(plant_tmp);
    CHECK(killed(pid));
    daos_handle_t c;
    CHECK_RC(open_ro(&c), 0);
    CHECK_EQ(count_in(root, ".c.tmp.", ""), 0); /* the sweep ran */
    CHECK_EQ(count_in(s0, "", ".jnl"), 2);      /* the live writer's segment stays */
    CHECK_EQ(count_in(s0, "", ".dat"), 2);
    CHECK_EQ(count_in(tk, "", ""), tokens);     /* so does the live master's token */
    CHECK_RC(daos_container_close(c, NULL), 0);
    /* its segment held, the sweep left a marker listing it to look at again */
    char lit[400];
    snprintf(lit, sizeof lit, "%s/.daos/litter", root);
    CHECK_EQ(count_in(lit, "c-", ""), 1);
    h_say(down[1]);
    CHECK_EQ(h_reap(owner), 0);
    CHECK_RC(open_rw(&c), 0);
    /* published now (by its commit): nothing left to look at */
    CHECK_EQ(count_in(lit, "c-", ""), 0);
    check_data(c);
    static unsigned char b[LEN], want[LEN];
    h_fill(want, LEN, 2);
    daos_handle_t oh;
    CHECK_RC(daos_object_open(c, h_oid(0, 2), DAOS_OBJ_RO, &oh, NULL), 0);
    CHECK_RC(h_read(oh, 2, 0, b, LEN), 0);
    CHECK(memcmp(b, want, LEN) == 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(daos_container_close(c, NULL), 0);
    close(up[0]); close(up[1]); close(down[0]); close(down[1]);
    CHECK_RC(daos_container_unlink(co, NULL), 0);
    h_rmrf(root);
}

int main(void)
{
    RUN(tmp_files);
    RUN(tombstones_bounded);
    RUN(orphan_shard_dir);
    RUN(unpublished_segments);
    RUN(live_owner_kept);
    return harness_summary();
}
