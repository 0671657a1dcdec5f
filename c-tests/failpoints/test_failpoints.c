/* Fault injection without root: needs the library built with the cargo
 * feature "failpoints" (scripts/failpoint-tests.sh builds it into
 * build/failpoints/ and runs this program on both engines; the library of
 * make test has no failpoints, and there this program says so and skips).
 *
 * For each failpoint (see src/base/failpoint.rs) and each kind of fault
 * (ENOSPC, EIO, a short write; an fsync fails with EIO or ENOSPC), on a
 * fresh container: epoch 1 is written and committed without faults; then the
 * fault is armed (DAOS_RS_FAILPOINTS) and epoch 2 written and committed:
 * the write or the commit must fail with a negative errno (the fault's, as
 * the failpoint reports it); HCE stays 1 unless the commit succeeded, and
 * epoch 1 reads back intact. With the fault cleared, a write and commit of
 * a new epoch work and read back, in this handle and after a reopen. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "daos_rs.h"
#include "../harness.h"

#define KiB 1024

static char root[256];
static int ncase;

static int rw(daos_handle_t coh, int write, uint64_t e, uint64_t off, void *b, size_t n)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, h_oid(0, 1), write ? DAOS_OBJ_RW : DAOS_OBJ_RO, &oh, NULL);
    if (rc) return rc;
    rc = write ? h_write(oh, e, off, b, n) : h_read(oh, e, off, b, n);
    daos_object_close(oh, NULL);
    return rc;
}

static uint64_t hce(daos_handle_t coh)
{
    struct daos_epoch_info ei;
    memset(&ei, 0, sizeof ei);
    CHECK_RC(daos_epoch_query(coh, &ei, NULL), 0);
    return ei.epi_hce.seq;
}

static void one(const char *point, const char *kind)
{
    char path[400], fp[128];
    snprintf(path, sizeof path, "%s/c%d", root, ncase++);
    static unsigned char a[64 * KiB], b[64 * KiB], c[64 * KiB], out[64 * KiB];
    h_fill(a, sizeof a, 1 + ncase);
    h_fill(b, sizeof b, 100 + ncase);
    h_fill(c, sizeof c, 200 + ncase);
    daos_container_status_t st;
    daos_handle_t coh;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned tg = 0;
    int sh = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &tg, &sh, NULL), 0);
    CHECK_RC(rw(coh, 1, 1, 0, a, sizeof a), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), false, NULL, NULL), 0);

    snprintf(fp, sizeof fp, "%s=%s", point, kind);
    setenv("DAOS_RS_FAILPOINTS", fp, 1);
    int wrc = rw(coh, 1, 2, 0, b, sizeof b);
    int crc = daos_epoch_commit(coh, h_ep(2), false, NULL, NULL);
    unsetenv("DAOS_RS_FAILPOINTS");
    int want = strcmp(kind, "eio") == 0 ? -EIO : -ENOSPC;
    if (strcmp(point, "fsync") == 0 && strcmp(kind, "short") == 0) want = -EIO;
    int got = wrc ? wrc : crc;
    printf("   %s=%s: write %d, commit %d\n", point, kind, wrc, crc);
    CHECK_EQ(got, want);
    uint64_t h = hce(coh);
    CHECK(h == 1 || (h == 2 && crc == 0));
    memset(out, 0, sizeof out);
    CHECK_RC(rw(coh, 0, 1, 0, out, sizeof out), 0);
    CHECK(memcmp(out, a, sizeof out) == 0);

    /* the fault cleared: the store works */
    uint64_t e = h + 1;
    CHECK_RC(rw(coh, 1, e, 0, c, sizeof c), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(e), false, NULL, NULL), 0);
    memset(out, 0, sizeof out);
    CHECK_RC(rw(coh, 0, e, 0, out, sizeof out), 0);
    CHECK(memcmp(out, c, sizeof out) == 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* and after a reopen: epoch 1 and the new epoch */
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_EQ(hce(coh), e);
    memset(out, 0, sizeof out);
    CHECK_RC(rw(coh, 0, 1, 0, out, sizeof out), 0);
    CHECK(memcmp(out, a, sizeof out) == 0);
    memset(out, 0, sizeof out);
    CHECK_RC(rw(coh, 0, e, 0, out, sizeof out), 0);
    CHECK(memcmp(out, c, sizeof out) == 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_failpoints(void)
{
    static const char *points[] = { "data_write", "journal_append", "fsync", "meta_write", "rename" };
    static const char *kinds[] = { "enospc", "eio", "short" };
    for (size_t p = 0; p < sizeof points / sizeof *points; p++)
        for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
            one(points[p], kinds[k]);
}

int main(void)
{
    if (h_new_store(root, sizeof root, "failpoints", 1) != 0) return 2;
    /* is this library built with failpoints? an armed data_write fails */
    {
        char path[400];
        snprintf(path, sizeof path, "%s/probe", root);
        daos_container_status_t st;
        daos_handle_t coh;
        unsigned tg = 0;
        int sh = -1;
        static unsigned char x[4096];
        CHECK_RC(daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
        CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &tg, &sh, NULL), 0);
        setenv("DAOS_RS_FAILPOINTS", "data_write=eio", 1);
        int rc = rw(coh, 1, 1, 0, x, sizeof x);
        unsetenv("DAOS_RS_FAILPOINTS");
        daos_container_close(coh, NULL);
        if (rc == 0) {
            printf("SKIP: this library has no failpoints (build it with --features failpoints)\n");
            h_rmrf(root);
            return harness_summary();
        }
    }
    RUN(test_failpoints);
    h_rmrf(root);
    return harness_summary();
}
