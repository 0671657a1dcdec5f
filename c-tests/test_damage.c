/* Damage on disk (SPEC §10): a damaged journal record or container file
 * gives -EIO or status CORRUPT, never other bytes, never a crash.
 *
 * - A flipped byte in a journal record's header: the record cannot be placed
 *   (it may have been any extent of its shard), so every read of that shard
 *   fails with -EIO; the other shard reads right.
 * - A flipped byte in a record's chunk checksums: exactly the bytes that
 *   record provides read as -EIO; other objects, and older epochs, read right.
 * - A journal shorter than what commits published: -EIO, not zeros.
 * - A container file whose journal length field says ~1 TB: status CORRUPT
 *   (or the open fails), never an allocation that aborts the process.
 * (The corruption sweep, test_sweep.c, flips every byte of every file.) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define OLEN 8192

static char root[128], co[160];
static int shard_ids[2];

/* the files found by find_files() */
static char found[8][512];
static int nfound;
static const char *want_dir, *want_ext;

static int find_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)ftw;
    size_t n = strlen(p), e = strlen(want_ext);
    if (flag == FTW_F && n > e && strcmp(p + n - e, want_ext) == 0 && strstr(p, want_dir) && nfound < 8)
        snprintf(found[nfound++], sizeof(found[0]), "%s", p);
    return 0;
}

/* Files under the store whose path holds `dir` and ends with `ext`. */
static int find_files(const char *dir, const char *ext)
{
    nfound = 0;
    want_dir = dir;
    want_ext = ext;
    nftw(root, find_one, 16, FTW_PHYS);
    return nfound;
}

static unsigned char expect1[OLEN], expect2[OLEN], expect3[OLEN], old1[OLEN];

/* Store with 2 shards; shard 0: object 1 written at epochs 1 and 2, object
 * 2 at epoch 1; shard 1: object 1 at epoch 1. Commits 1 and 2 (kept). One
 * writer, so each shard has one journal: records (obj1 e1), (obj2 e1),
 * (obj1 e2) on shard 0. */
static int make_store(void)
{
    daos_handle_t coh, o1, o2, o3;
    daos_container_status_t st;
    if (h_new_store(root, sizeof(root), "damage", 1) != 0) return -1;
    snprintf(co, sizeof(co), "%s/c", root);
    int rc = daos_container_open(co, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL);
    if (rc != 0) return rc;
    unsigned t[2] = { 0, 0 };
    shard_ids[0] = shard_ids[1] = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 2, t, shard_ids, NULL), 0);
    h_fill(old1, OLEN, 1);
    h_fill(expect1, OLEN, 11);
    h_fill(expect2, OLEN, 2);
    h_fill(expect3, OLEN, 3);
    CHECK_RC(daos_object_open(coh, h_oid(shard_ids[0], 1), DAOS_OBJ_RW, &o1, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid(shard_ids[0], 2), DAOS_OBJ_RW, &o2, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid(shard_ids[1], 1), DAOS_OBJ_RW, &o3, NULL), 0);
    CHECK_RC(h_write(o1, 1, 0, old1, OLEN), 0);
    CHECK_RC(h_write(o2, 1, 0, expect2, OLEN), 0);
    CHECK_RC(h_write(o3, 1, 0, expect3, OLEN), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), true, NULL, NULL), 0);
    CHECK_RC(h_write(o1, 2, 0, expect1, OLEN), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), true, NULL, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    return 0;
}

/* Reads object `lo` of shard index `s` at `epoch`: its rc; `buf` gets the bytes. */
static int read_obj(daos_handle_t coh, int s, uint64_t lo, uint64_t epoch, unsigned char *buf)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, h_oid(shard_ids[s], lo), DAOS_OBJ_RO, &oh, NULL);
    if (rc != 0) return rc;
    memset(buf, 0x5a, OLEN);
    rc = h_read(oh, epoch, 0, buf, OLEN);
    daos_object_close(oh, NULL);
    return rc;
}

/* One read: it must give `want` or fail with -EIO; returns the rc. */
static int check_read(daos_handle_t coh, int s, uint64_t lo, uint64_t epoch, const unsigned char *want, const char *what)
{
    static unsigned char buf[OLEN];
    int rc = read_obj(coh, s, lo, epoch, buf);
    if (rc == 0 && memcmp(buf, want, OLEN) != 0)
        H_FAIL_("%s: object %d.%llu at epoch %llu read other bytes with rc 0", what, s, (unsigned long long)lo,
                (unsigned long long)epoch);
    else if (rc != 0 && rc != -EIO)
        H_FAIL_("%s: object %d.%llu at epoch %llu: rc %d (%s), expected 0 or -EIO", what, s, (unsigned long long)lo,
                (unsigned long long)epoch, rc, strerror(-rc));
    else
        atomic_fetch_add(&h_pass, 1);
    return rc;
}

static int flip_byte(const char *path, off_t at, unsigned char x)
{
    int fd = open(path, O_RDWR);
    unsigned char b;
    if (fd < 0 || pread(fd, &b, 1, at) != 1) {
        if (fd >= 0) close(fd);
        return -1;
    }
    b ^= x;
    int ok = pwrite(fd, &b, 1, at) == 1;
    close(fd);
    return ok ? 0 : -1;
}

/* The journal of shard index `s` (one writer: one journal per shard). */
static const char *journal_of(int s)
{
    char dir[32];
    snprintf(dir, sizeof(dir), "/s-%d/", shard_ids[s]);
    if (find_files(dir, ".jnl") != 1) {
        H_FAIL_("shard %d has %d journals, expected 1", shard_ids[s], nfound);
        return NULL;
    }
    static char p[512];
    snprintf(p, sizeof(p), "%s", found[0]);
    return p;
}

/* Records of shard 0's journal: (obj1 e1) at 4096, (obj2 e1), (obj1 e2), each
 * 64 + 4 * 2 bytes (two 4 KiB chunks). */
#define REC0 4096
#define RECSZ 72

static void test_record_header_damage(void)
{
    CHECK_RC(make_store(), 0);
    const char *j = journal_of(0);
    if (j == NULL) return;
    /* the epoch field of the second record (object 2 of shard 0) */
    CHECK_RC(flip_byte(j, REC0 + RECSZ + 16, 0x04), 0);
    daos_handle_t coh;
    daos_container_status_t st = 99;
    CHECK_RC(daos_container_open(co, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    /* Before: the record and the ones after it were ignored: object 1 read
     * its epoch 1 bytes at epoch 2, object 2 zeros, both with rc 0. */
    CHECK_RC(check_read(coh, 0, 1, 2, expect1, "header damage"), -EIO);
    CHECK_RC(check_read(coh, 0, 2, 2, expect2, "header damage"), -EIO);
    CHECK_RC(check_read(coh, 0, 1, 1, old1, "header damage"), -EIO);
    /* the other shard is not affected */
    CHECK_RC(check_read(coh, 1, 1, 2, expect3, "header damage, other shard"), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    h_rmrf(root);
}

static void test_record_checksum_damage(void)
{
    CHECK_RC(make_store(), 0);
    const char *j = journal_of(0);
    if (j == NULL) return;
    /* the first chunk checksum of the third record (object 1 at epoch 2) */
    CHECK_RC(flip_byte(j, REC0 + 2 * RECSZ + 64, 0x80), 0);
    daos_handle_t coh;
    daos_container_status_t st = 99;
    CHECK_RC(daos_container_open(co, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    /* exactly that extent reads as -EIO */
    CHECK_RC(check_read(coh, 0, 1, 2, expect1, "checksum damage"), -EIO);
    /* what does not depend on it reads right: object 2, object 1 at epoch 1 */
    CHECK_RC(check_read(coh, 0, 2, 2, expect2, "checksum damage"), 0);
    CHECK_RC(check_read(coh, 0, 1, 1, old1, "checksum damage"), 0);
    CHECK_RC(check_read(coh, 1, 1, 2, expect3, "checksum damage"), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* also after it is open read-write, and written again */
    daos_handle_t oh;
    CHECK_RC(daos_container_open(co, DAOS_COO_RW, 1, &st, &coh, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid(shard_ids[0], 1), DAOS_OBJ_RW, &oh, NULL), 0);
    static unsigned char fresh[OLEN];
    h_fill(fresh, OLEN, 99);
    CHECK_RC(h_write(oh, 3, 0, fresh, OLEN), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(3), false, NULL, NULL), 0);
    CHECK_RC(check_read(coh, 0, 1, 3, fresh, "rewritten"), 0);
    CHECK_RC(check_read(coh, 0, 1, 2, expect1, "rewritten"), -EIO);
    daos_object_close(oh, NULL);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    h_rmrf(root);
}

static void test_short_journal(void)
{
    CHECK_RC(make_store(), 0);
    const char *j = journal_of(0);
    if (j == NULL) return;
    /* cut the last record */
    CHECK_RC(truncate(j, REC0 + 2 * RECSZ), 0);
    daos_handle_t coh;
    daos_container_status_t st = 99;
    CHECK_RC(daos_container_open(co, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_RC(check_read(coh, 0, 1, 2, expect1, "short journal"), -EIO);
    CHECK_RC(check_read(coh, 0, 2, 2, expect2, "short journal"), -EIO);
    CHECK_RC(check_read(coh, 1, 1, 2, expect3, "short journal"), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    h_rmrf(root);
}

/* The container file records each journal's published length (u64 LE):
 * find shard 0's (its journal's size) and make it ~1 TB. */
static void test_meta_length_damage(void)
{
    CHECK_RC(make_store(), 0);
    const char *j = journal_of(0);
    if (j == NULL) return;
    struct stat sj;
    CHECK_RC(stat(j, &sj), 0);
    uint64_t want = (uint64_t)sj.st_size;
    unsigned char meta[4096];
    int fd = open(co, O_RDONLY);
    ssize_t n = read(fd, meta, sizeof(meta));
    close(fd);
    CHECK(n > 16);
    long at = -1;
    for (long i = 0; i + 8 <= n; i++) {
        uint64_t v;
        memcpy(&v, meta + i, 8);
        if (v == want) { at = i; break; }
    }
    CHECK(at >= 0);
    if (at < 0) return;
    for (int byte = 4; byte < 8; byte++) {
        CHECK_RC(flip_byte(co, at + byte, 0x01), 0);
        daos_handle_t coh;
        daos_container_status_t st = 99;
        int rc = daos_container_open(co, DAOS_COO_RO, 1, &st, &coh, NULL);
        CHECK(rc == 0 || rc == -EIO || rc == -EINVAL);
        if (rc == 0) {
            CHECK_EQ(st, DAOS_CONTAINER_ST_CORRUPT);
            static unsigned char buf[OLEN];
            /* any result but a crash: the container says it is CORRUPT */
            (void)read_obj(coh, 0, 1, 2, buf);
            (void)read_obj(coh, 1, 1, 2, buf);
            CHECK_RC(daos_container_close(coh, NULL), 0);
        }
        CHECK_RC(flip_byte(co, at + byte, 0x01), 0);
    }
    h_rmrf(root);
}

int main(void)
{
    RUN(test_record_header_damage);
    RUN(test_record_checksum_damage);
    RUN(test_short_journal);
    RUN(test_meta_length_damage);
    return harness_summary();
}
