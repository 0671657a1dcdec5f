/* Containers without data checksums (DAOS_RS_COO_NOCSUM, an extension: a
 * property at create):
 *
 * - the property is reported by daos_rs_container_props, survives close and
 *   reopen (it is in the container's metadata) and snapshots; a container made
 *   without it reports 0; an existing container keeps its own property whatever
 *   the flag of a later open; the flag without DAOS_COO_CREATE is -EINVAL, as a
 *   NULL out-pointer or a bad handle of the query are refused;
 * - writes and reads give the right bytes, aligned and not, across epochs;
 * - a byte flipped in the data file: the checked container's read fails with
 *   -EIO, the unchecked one's returns the flipped byte (nothing verifies it). */
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

#define OLEN (3 * 4096 + 100)

static char root[128];

static unsigned props_of(daos_handle_t coh)
{
    unsigned p = 0xdead;
    CHECK_RC(daos_rs_container_props(coh, &p), 0);
    return p;
}

static void test_property(void)
{
    CHECK_EQ(h_new_store(root, sizeof(root), "nocsum", 1), 0);
    char on[192], off[192], snap[192];
    snprintf(on, sizeof(on), "%s/on", root);
    snprintf(off, sizeof(off), "%s/off", root);
    snprintf(snap, sizeof(snap), "%s/snap", root);
    daos_handle_t coh;
    daos_container_status_t st;

    /* a property at create only */
    CHECK_RC(daos_container_open(off, DAOS_COO_RW | DAOS_RS_COO_NOCSUM, 1, &st, &coh, NULL), -EINVAL);
    CHECK_RC(daos_container_open(off, DAOS_COO_RO | DAOS_RS_COO_NOCSUM, 1, &st, &coh, NULL), -EINVAL);

    CHECK_RC(daos_container_open(on, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    CHECK_EQ(props_of(coh), 0u);
    CHECK_RC(daos_rs_container_props(coh, NULL), -EINVAL);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    daos_handle_t bad = { 0x7777 };
    unsigned p;
    CHECK_RC(daos_rs_container_props(bad, &p), -EBADF);
    CHECK_RC(daos_rs_container_props(coh, &p), -EBADF); /* closed */

    CHECK_RC(daos_container_open(off, DAOS_COO_RW | DAOS_COO_CREATE | DAOS_RS_COO_NOCSUM, 1, &st, &coh, NULL), 0);
    CHECK_EQ(props_of(coh), (unsigned)DAOS_RS_COO_NOCSUM);
    unsigned t = 0;
    int sid = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &t, &sid, NULL), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), true, NULL, NULL), 0);
    CHECK_EQ(props_of(coh), (unsigned)DAOS_RS_COO_NOCSUM); /* after metadata updates */
    CHECK_RC(daos_container_snapshot(coh, h_ep(1), snap, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* recorded in the metadata: read-only reopen, and the snapshot */
    CHECK_RC(daos_container_open(off, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_EQ(props_of(coh), (unsigned)DAOS_RS_COO_NOCSUM);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_open(snap, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_EQ(props_of(coh), (unsigned)DAOS_RS_COO_NOCSUM);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* an existing container keeps its property whatever the flag says */
    CHECK_RC(daos_container_open(on, DAOS_COO_RW | DAOS_COO_CREATE | DAOS_RS_COO_NOCSUM, 1, &st, &coh, NULL), 0);
    CHECK_EQ(props_of(coh), 0u);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_open(off, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    CHECK_EQ(props_of(coh), (unsigned)DAOS_RS_COO_NOCSUM);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    h_rmrf(root);
}

/* the data file of the container's only shard (one writer: one segment) */
static char datafile[512];
static int ndat;

static int find_dat(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)ftw;
    size_t n = strlen(p);
    if (flag == FTW_F && n > 4 && strcmp(p + n - 4, ".dat") == 0 && strstr(p, "/c-")) {
        snprintf(datafile, sizeof(datafile), "%s", p);
        ndat++;
    }
    return 0;
}

/* Makes container `name` (with `mode_extra` at create), writes object 1 at
 * epochs 1 and 2 and commits both; checks reads of every kind; then flips the
 * last byte of the data file and returns the rc of a read of the whole object,
 * with the byte it read there in *last. */
static int write_read_flip(const char *name, unsigned mode_extra, unsigned char *last, unsigned char *want_last)
{
    char co[192];
    snprintf(co, sizeof(co), "%s/%s", root, name);
    daos_handle_t coh, oh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(co, DAOS_COO_RW | DAOS_COO_CREATE | mode_extra, 1, &st, &coh, NULL), 0);
    unsigned t = 0;
    int sid = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &t, &sid, NULL), 0);
    static unsigned char a[OLEN], b[OLEN], buf[OLEN], want[OLEN];
    h_fill(a, OLEN, 1);
    h_fill(b, OLEN, 2);
    CHECK_RC(daos_object_open(coh, h_oid(sid, 1), DAOS_OBJ_RW, &oh, NULL), 0);
    CHECK_RC(h_write(oh, 1, 0, a, OLEN), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), true, NULL, NULL), 0);
    CHECK_RC(h_write(oh, 2, 1000, b, 5000), 0); /* unaligned overwrite */
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), true, NULL, NULL), 0);
    memcpy(want, a, OLEN);
    memcpy(want + 1000, b, 5000);
    memset(buf, 0x5a, OLEN);
    CHECK_RC(h_read(oh, 2, 0, buf, OLEN), 0);
    CHECK(memcmp(buf, want, OLEN) == 0);
    memset(buf, 0x5a, OLEN);
    CHECK_RC(h_read(oh, 1, 0, buf, OLEN), 0);
    CHECK(memcmp(buf, a, OLEN) == 0);
    /* reads that start and end inside chunks */
    for (unsigned off = 1; off < OLEN; off += 2999) {
        unsigned len = OLEN - off < 777 ? OLEN - off : 777;
        memset(buf, 0x5a, len);
        CHECK_RC(h_read(oh, 2, off, buf, len), 0);
        CHECK(memcmp(buf, want + off, len) == 0);
    }
    /* the last byte of the data file is the last byte of the epoch-2 write */
    ndat = 0;
    nftw(root, find_dat, 16, FTW_PHYS);
    CHECK_EQ(ndat, 1);
    int fd = -1;
    if (ndat == 1)
        fd = open(datafile, O_RDWR);
    CHECK(fd >= 0);
    int rc = -1;
    if (fd >= 0) {
        struct stat sb;
        CHECK_EQ(fstat(fd, &sb), 0);
        unsigned char x;
        CHECK_EQ(pread(fd, &x, 1, sb.st_size - 1), 1);
        CHECK_EQ(x, b[4999]);
        x ^= 0x10;
        *want_last = x;
        CHECK_EQ(pwrite(fd, &x, 1, sb.st_size - 1), 1);
        close(fd);
        memset(buf, 0x5a, OLEN);
        rc = h_read(oh, 2, 0, buf, OLEN);
        *last = buf[1000 + 4999];
    }
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_unlink(co, NULL), 0);
    return rc;
}

static void test_data_unchecked(void)
{
    CHECK_EQ(h_new_store(root, sizeof(root), "nocsum-data", 1), 0);
    unsigned char last = 0, flipped = 0;
    /* checked: the flipped byte fails its chunk's checksum */
    CHECK_RC(write_read_flip("on", 0, &last, &flipped), -EIO);
    /* unchecked: nothing verifies it, the flipped byte is read */
    CHECK_RC(write_read_flip("off", DAOS_RS_COO_NOCSUM, &last, &flipped), 0);
    CHECK_EQ(last, flipped);
    h_rmrf(root);
}

int main(void)
{
    RUN(test_property);
    RUN(test_data_unchecked);
    return harness_summary();
}
