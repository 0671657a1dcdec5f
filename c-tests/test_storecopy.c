/* A store is self-contained (SPEC §10): a copy of its directory (cp -a) is a
 * store of its own — writes and unlinks through the copy never touch the
 * original — and a store whose target directory belongs to another store is
 * not used at all (-EXDEV), rather than changing that store's data.
 *
 * - test_copy_default_targets / test_copy_targets_inside: format, write,
 *   commit, `cp -a` the store, write and commit through the copy, unlink the
 *   container in the copy: the original's files and content are untouched.
 * - test_target_of_another_store: store B's target directory turns out to be
 *   store A's (a symbolic link here; a moved mount in life): opening B, its
 *   containers, and unlinking in it give -EXDEV; A is untouched. */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define OLEN 10000

static unsigned char v1[OLEN], v2[OLEN], buf[OLEN];

/* ---------- a listing of the files under a directory (names and sizes) ---------- */

static char listing[16384];
static size_t listing_len;
static size_t listing_skip;

static int list_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    /* registrations of readers and lock files come and go with opens */
    if (flag != FTW_F || strstr(p, "/.daos/open/") || strstr(p, "/.daos/locks/") || strstr(p, "/.daos/slots/"))
        return 0;
    int n = snprintf(listing + listing_len, sizeof(listing) - listing_len, "%s %lld\n", p + listing_skip,
                     (long long)sb->st_size);
    if (n > 0 && (size_t)n < sizeof(listing) - listing_len) listing_len += (size_t)n;
    return 0;
}

/* Files of the store at `root` with their sizes (paths relative to it). */
static char *files_of(const char *root)
{
    listing_len = 0;
    listing[0] = 0;
    listing_skip = strlen(root);
    nftw(root, list_one, 16, FTW_PHYS);
    return strdup(listing);
}

/* ---------- the store's content ---------- */

static int shard_ids[2];

static int put(daos_handle_t coh, int s, uint64_t e, const unsigned char *data)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, h_oid(shard_ids[s], 5), DAOS_OBJ_RW, &oh, NULL);
    if (rc == 0) rc = h_write(oh, e, 0, data, OLEN);
    if (rc == 0) rc = daos_object_close(oh, NULL);
    return rc;
}

/* Reads object 5 of both shards of the container at `co` at HIGHEST: each
 * must be `want`; returns the first rc that is not 0. */
static void check_content(const char *co, const unsigned char *want, uint64_t hce, const char *what)
{
    daos_handle_t coh, oh;
    daos_container_status_t st = 99;
    int rc = daos_container_open(co, DAOS_COO_RO, 1, &st, &coh, NULL);
    if (rc != 0) {
        H_FAIL_("%s: open %s: %s", what, co, strerror(-rc));
        return;
    }
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    struct daos_epoch_info info;
    CHECK_RC(daos_epoch_query(coh, &info, NULL), 0);
    CHECK_EQ(info.epi_hce.seq, hce);
    for (int s = 0; s < 2; s++) {
        CHECK_RC(daos_object_open(coh, h_oid(shard_ids[s], 5), DAOS_OBJ_RO, &oh, NULL), 0);
        memset(buf, 0, OLEN);
        rc = h_read(oh, (uint64_t)DAOS_EPOCH_HIGHEST, 0, buf, OLEN);
        if (rc != 0 || memcmp(buf, want, OLEN) != 0)
            H_FAIL_("%s: %s shard %d: rc %d, %s bytes", what, co, shard_ids[s], rc,
                    memcmp(buf, want, OLEN) ? "other" : "the right");
        else
            atomic_fetch_add(&h_pass, 1);
        daos_object_close(oh, NULL);
    }
    daos_container_close(coh, NULL);
}

/* Formats `a` (dirs: NULL for the default targets), makes container c with a
 * shard on each target, writes v1, commits 1; `cp -a a b`; writes v2 through
 * b, commits 2; unlinks c in b. a stays as it was. */
static void copy_case(const char *base, const char *const *dirs)
{
    char a[256], b[256], ca[300], cb[300], cmd[700];
    snprintf(a, sizeof(a), "%s/A", base);
    snprintf(b, sizeof(b), "%s/B", base);
    snprintf(ca, sizeof(ca), "%s/c", a);
    snprintf(cb, sizeof(cb), "%s/c", b);
    CHECK_RC(mkdir(a, 0700), 0);
    CHECK_RC(daos_sys_format(a, 2, dirs, DAOS_SYS_FORMAT_NO_PROBE), 0);
    daos_handle_t coh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(ca, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned t[2] = { 0, 1 };
    shard_ids[0] = shard_ids[1] = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 2, t, shard_ids, NULL), 0);
    CHECK_RC(put(coh, 0, 1, v1), 0);
    CHECK_RC(put(coh, 1, 1, v1), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), false, NULL, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s'", a, b);
    CHECK_RC(system(cmd), 0);
    char *before = files_of(a);

    /* the copy works on its own */
    check_content(cb, v1, 1, "the copy as copied");
    CHECK_RC(daos_container_open(cb, DAOS_COO_RW, 1, &st, &coh, NULL), 0);
    CHECK_RC(put(coh, 0, 2, v2), 0);
    CHECK_RC(put(coh, 1, 2, v2), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), false, NULL, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    check_content(cb, v2, 2, "the copy after its commit");

    /* the original did not see any of it */
    char *after = files_of(a);
    if (strcmp(before, after) != 0)
        H_FAIL_("writes through the copy changed the original's files:\n--- before\n%s--- after\n%s", before, after);
    else
        atomic_fetch_add(&h_pass, 1);
    free(after);
    check_content(ca, v1, 1, "the original after the copy's commit");

    /* unlink in the copy leaves the original's shards */
    CHECK_RC(daos_container_unlink(cb, NULL), 0);
    after = files_of(a);
    if (strcmp(before, after) != 0)
        H_FAIL_("unlink in the copy changed the original's files:\n--- before\n%s--- after\n%s", before, after);
    else
        atomic_fetch_add(&h_pass, 1);
    free(after);
    check_content(ca, v1, 1, "the original after the copy's unlink");
    free(before);
}

static void test_copy_default_targets(void)
{
    char base[128];
    if (h_tmpdir(base, sizeof(base), "copy") != 0) return;
    copy_case(base, NULL);
    h_rmrf(base);
}

static void test_copy_targets_inside(void)
{
    char base[128], d0[200], d1[200];
    if (h_tmpdir(base, sizeof(base), "copyin") != 0) return;
    snprintf(d0, sizeof(d0), "%s/A/disks/0", base);
    snprintf(d1, sizeof(d1), "%s/A/disks/1", base);
    const char *dirs[2] = { d0, d1 };
    copy_case(base, dirs);
    h_rmrf(base);
}

static void test_target_of_another_store(void)
{
    char base[128], a[200], b[200], ta[200], tb[200], tb_away[220], ca[220], cb[220];
    if (h_tmpdir(base, sizeof(base), "xtarget") != 0) return;
    snprintf(a, sizeof(a), "%s/A", base);
    snprintf(b, sizeof(b), "%s/B", base);
    snprintf(ta, sizeof(ta), "%s/ta", base);
    snprintf(tb, sizeof(tb), "%s/tb", base);
    snprintf(tb_away, sizeof(tb_away), "%s/tb.away", base);
    snprintf(ca, sizeof(ca), "%s/c", a);
    snprintf(cb, sizeof(cb), "%s/c", b);
    CHECK_RC(mkdir(a, 0700), 0);
    CHECK_RC(mkdir(b, 0700), 0);
    const char *da[1] = { ta }, *db[1] = { tb };
    CHECK_RC(daos_sys_format(a, 1, da, DAOS_SYS_FORMAT_NO_PROBE), 0);
    CHECK_RC(daos_sys_format(b, 1, db, DAOS_SYS_FORMAT_NO_PROBE), 0);
    daos_handle_t coh, sysh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(ca, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned t[1] = { 0 };
    shard_ids[0] = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, t, shard_ids, NULL), 0);
    shard_ids[1] = shard_ids[0];
    CHECK_RC(put(coh, 0, 1, v1), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), false, NULL, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* B has a container too, made while its target was its own */
    CHECK_RC(daos_container_open(cb, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    char *before = files_of(ta);

    /* B's target directory is now A's */
    CHECK_RC(rename(tb, tb_away), 0);
    CHECK_RC(symlink(ta, tb), 0);
    CHECK_RC(daos_sys_open(b, &sysh, NULL), -EXDEV);
    CHECK_RC(daos_container_open(cb, DAOS_COO_RW, 1, &st, &coh, NULL), -EXDEV);
    CHECK_RC(daos_container_open(cb, DAOS_COO_RO, 1, &st, &coh, NULL), -EXDEV);
    CHECK_RC(daos_container_unlink(cb, NULL), -EXDEV);
    char *after = files_of(ta);
    CHECK(strcmp(before, after) == 0);
    free(after);
    check_content(ca, v1, 1, "A while B has its target");

    /* B's own directory back: B works again */
    CHECK_RC(unlink(tb), 0);
    CHECK_RC(rename(tb_away, tb), 0);
    CHECK_RC(daos_sys_open(b, &sysh, NULL), 0);
    CHECK_RC(daos_sys_close(sysh, NULL), 0);
    CHECK_RC(daos_container_unlink(cb, NULL), 0);
    free(before);
    h_rmrf(base);
}

int main(void)
{
    h_fill(v1, OLEN, 1);
    h_fill(v2, OLEN, 2);
    RUN(test_copy_default_targets);
    RUN(test_copy_targets_inside);
    RUN(test_target_of_another_store);
    return harness_summary();
}
