/* daos_object_size: where an object's data ends at an epoch, as reads see
 * it: nothing written (0), writes with holes below, writes past the end,
 * punches of the tail (and of everything), older epochs, this handle's
 * uncommitted writes (seen by every handle of the process, as reads are),
 * aborted writes, bad arguments, a disabled
 * shard. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daos_rs.h"
#include "harness.h"

static char root[256], path[300];

static uint64_t size_at(daos_handle_t oh, uint64_t epoch)
{
    daos_size_t s = 0xdeadbeef;
    int rc = daos_object_size(oh, h_ep(epoch), &s);
    CHECK_RC(rc, 0);
    return rc == 0 ? s : UINT64_MAX;
}

static void test_object_size(void)
{
    daos_handle_t coh, oh, oh2, coh2;
    daos_container_status_t st;
    unsigned target = 0;
    int shard = -1;
    char buf[4096];
    const uint64_t H = (uint64_t)DAOS_EPOCH_HIGHEST;

    if (h_new_store(root, sizeof root, "objsize", 1) != 0) {
        CHECK(!"store");
        return;
    }
    snprintf(path, sizeof path, "%s/c", root);
    CHECK_RC(daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &target, &shard, NULL), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), false, NULL, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid((uint64_t)shard, 5), DAOS_OBJ_RW, &oh, NULL), 0);

    CHECK_EQ(size_at(oh, H), 0); /* never written */
    h_fill(buf, sizeof buf, 1);
    CHECK_RC(h_write(oh, 2, 0, buf, 5), 0);
    CHECK_EQ(size_at(oh, 2), 5);                     /* uncommitted, this handle */
    CHECK_EQ(size_at(oh, H), 5);
    CHECK_EQ(size_at(oh, 1), 0);                     /* before the write */
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), false, NULL, NULL), 0);

    /* a write far past the end: the hole below it counts */
    CHECK_RC(h_write(oh, 3, (1 << 20) + 10, buf, 6), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(3), false, NULL, NULL), 0);
    CHECK_EQ(size_at(oh, 3), (1 << 20) + 16);
    CHECK_EQ(size_at(oh, 2), 5);

    /* an uncommitted write: every handle of this process sees it, as its
     * reads do; aborted, it is gone */
    char back[100];
    CHECK_RC(h_write(oh, 4, 3 << 20, buf, 100), 0);
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &coh2, NULL), 0);
    CHECK_RC(daos_object_open(coh2, h_oid((uint64_t)shard, 5), DAOS_OBJ_RO, &oh2, NULL), 0);
    CHECK_EQ(size_at(oh, H), (3 << 20) + 100);
    CHECK_EQ(size_at(oh2, H), (3 << 20) + 100);
    CHECK_RC(h_read(oh2, H, 3 << 20, back, sizeof back), 0);
    CHECK(memcmp(back, buf, sizeof back) == 0);
    CHECK_RC(daos_epoch_abort(coh, h_ep(4), NULL, NULL), 0);
    CHECK_EQ(size_at(oh, H), (1 << 20) + 16);

    /* punching the tail, from inside the first write's hole, ends it at 5 */
    CHECK_RC(daos_object_punch(coh, h_ep(5), h_oid((uint64_t)shard, 5), 4096, (daos_off_t)-1, NULL), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(5), false, NULL, NULL), 0);
    CHECK_EQ(size_at(oh, 5), 5);
    CHECK_EQ(size_at(oh, 4), (1 << 20) + 16);       /* the older epoch still has it */
    /* punching the last bytes of data: the end moves down to what is left */
    CHECK_RC(daos_object_punch(coh, h_ep(6), h_oid((uint64_t)shard, 5), 3, 5, NULL), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(6), false, NULL, NULL), 0);
    CHECK_EQ(size_at(oh, H), 3);
    /* and everything: empty again */
    CHECK_RC(daos_object_punch(coh, h_ep(7), h_oid((uint64_t)shard, 5), 0, (daos_off_t)-1, NULL), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(7), false, NULL, NULL), 0);
    CHECK_EQ(size_at(oh, H), 0);
    CHECK_EQ(size_at(oh2, 6), 3);

    /* bad arguments change nothing */
    daos_size_t s = 77;
    CHECK_RC(daos_object_size(oh, H_HIGHEST, NULL), -EINVAL);
    CHECK_RC(daos_object_size((daos_handle_t){ 0 }, H_HIGHEST, &s), -EBADF);
    CHECK_RC(daos_object_size(coh, H_HIGHEST, &s), -EBADF); /* a container handle */
    CHECK_EQ(s, 77);

    /* a disabled shard has no size */
    CHECK_RC(daos_shard_disable(coh, h_ep(8), 1, &shard, NULL), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(8), false, NULL, NULL), 0);
    CHECK_RC(daos_object_size(oh, H_HIGHEST, &s), -ENOENT);
    CHECK_EQ(s, 77);

    CHECK_RC(daos_object_close(oh2, NULL), 0);
    CHECK_RC(daos_container_close(coh2, NULL), 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_object_size(oh, H_HIGHEST, &s), -EBADF); /* closed */
    h_rmrf(root);
}

int main(void)
{
    RUN(test_object_size);
    return harness_summary();
}
