/* Small holes in the API (SPEC §1, §5, §6, §8):
 * - committing DAOS_EPOCH_HIGHEST would move HCE to 2^64-1 for good: -EINVAL;
 * - a layout change at DAOS_EPOCH_HIGHEST (where no write can be): -EINVAL;
 * - a commit on a container with no (enabled) shard moves HCE to its epoch;
 * - a commit after a shard's directory was removed under the open container
 *   fails with -EIO naming that shard, and HCE stays;
 * - an abort whose shard lost its files says which in *shard_failed;
 * - no container may be made inside .daos/ or a target directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

static char root[128], co[200];

static uint64_t hce_of(daos_handle_t coh)
{
    struct daos_epoch_info info;
    memset(&info, 0, sizeof(info));
    CHECK_RC(daos_epoch_query(coh, &info, NULL), 0);
    return info.epi_hce.seq;
}

static daos_handle_t new_container(const char *name, int nshards, int *sid)
{
    daos_handle_t coh = { 0 };
    daos_container_status_t st;
    snprintf(co, sizeof(co), "%s/%s", root, name);
    CHECK_RC(daos_container_open(co, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    if (nshards > 0) {
        unsigned t[2] = { 0, 1 };
        sid[0] = sid[1] = -1;
        CHECK_RC(daos_shard_add(coh, h_ep(1), (unsigned)nshards, t, sid, NULL), 0);
    }
    return coh;
}

static int write_obj(daos_handle_t coh, int shard, uint64_t e)
{
    static unsigned char buf[4096];
    daos_handle_t oh;
    h_fill(buf, sizeof(buf), e);
    int rc = daos_object_open(coh, h_oid(shard, 1), DAOS_OBJ_RW, &oh, NULL);
    if (rc == 0) rc = h_write(oh, e, 0, buf, sizeof(buf));
    daos_object_close(oh, NULL);
    return rc;
}

static void test_highest_is_not_committable(void)
{
    int sid[2];
    daos_handle_t coh = new_container("hi", 1, sid), eqh;
    CHECK_RC(write_obj(coh, sid[0], 2), 0);
    CHECK_RC(daos_epoch_commit(coh, H_HIGHEST, false, NULL, NULL), -EINVAL);
    CHECK_EQ(hce_of(coh), 0);
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_REFUSED(daos_epoch_commit(coh, H_HIGHEST, true, NULL, &ev), -EINVAL, eqh, &ev);
    CHECK_EQ(hce_of(coh), 0);
    /* the container is still writable and committable */
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), false, NULL, NULL), 0);
    CHECK_EQ(hce_of(coh), 2);
    CHECK_RC(write_obj(coh, sid[0], 3), 0);
    /* layout changes at HIGHEST */
    unsigned t = 1;
    int id = -1;
    CHECK_RC(daos_shard_add(coh, H_HIGHEST, 1, &t, &id, NULL), -EINVAL);
    CHECK_EQ(id, -1);
    int dis = sid[0];
    CHECK_RC(daos_shard_disable(coh, H_HIGHEST, 1, &dis, NULL), -EINVAL);
    CHECK_REFUSED(daos_shard_add(coh, H_HIGHEST, 1, &t, &id, &ev), -EINVAL, eqh, &ev);
    struct daos_epoch_info info;
    CHECK_RC(daos_epoch_query(coh, &info, NULL), 0);
    CHECK_EQ(info.epi_layout_changed.seq, 1);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_commit_without_shards_moves_hce(void)
{
    int sid[2];
    daos_handle_t coh = new_container("empty", 0, sid);
    unsigned failed = 12345;
    CHECK_RC(daos_epoch_commit(coh, h_ep(5), false, &failed, NULL), 0);
    CHECK_EQ(failed, 12345);
    CHECK_EQ(hce_of(coh), 5);
    /* a layout change must be above it now */
    unsigned t = 0;
    int id = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(5), 1, &t, &id, NULL), -EPERM);
    CHECK_RC(daos_shard_add(coh, h_ep(6), 1, &t, &id, NULL), 0);
    CHECK_RC(write_obj(coh, id, 6), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(6), false, NULL, NULL), 0);
    CHECK_EQ(hce_of(coh), 6);
    /* every shard disabled: nothing holds HCE back either */
    CHECK_RC(daos_shard_disable(coh, h_ep(7), 1, &id, NULL), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(8), false, NULL, NULL), 0);
    CHECK_EQ(hce_of(coh), 8);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* and it stays so */
    daos_container_status_t st;
    CHECK_RC(daos_container_open(co, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_EQ(hce_of(coh), 8);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

/* rm -rf the directory of shard `id` on target `t` (of every container: the
 * test containers have distinct shard ids on it, or are done with) */
static void remove_shard_dir(int t, int id)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s/.daos/targets/%d/c-*/s-%d", root, t, id);
    CHECK_RC(system(cmd), 0);
}

static void test_commit_after_shard_dir_removed(void)
{
    int sid[2];
    daos_handle_t coh = new_container("gone", 2, sid);
    CHECK_RC(write_obj(coh, sid[0], 2), 0);
    CHECK_RC(write_obj(coh, sid[1], 2), 0);
    remove_shard_dir(1, sid[1]);
    unsigned failed = 12345;
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), false, &failed, NULL), -EIO);
    CHECK_EQ(failed, (unsigned)sid[1]);
    CHECK_EQ(hce_of(coh), 0);
    /* no writes on the shard whose directory went: the commit fails too */
    CHECK_RC(write_obj(coh, sid[0], 3), 0);
    failed = 12345;
    CHECK_RC(daos_epoch_commit(coh, h_ep(3), false, &failed, NULL), -EIO);
    CHECK_EQ(failed, (unsigned)sid[1]);
    /* disabling the lost shard lets the others commit */
    int dis = sid[1];
    CHECK_RC(daos_shard_disable(coh, h_ep(4), 1, &dis, NULL), 0);
    CHECK_RC(write_obj(coh, sid[0], 4), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(4), false, NULL, NULL), 0);
    CHECK_EQ(hce_of(coh), 4);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_abort_names_the_failed_shard(void)
{
    int sid[2];
    daos_handle_t coh = new_container("abort", 2, sid);
    /* an abort that goes well writes nothing */
    CHECK_RC(write_obj(coh, sid[0], 2), 0);
    unsigned failed = 12345;
    CHECK_RC(daos_epoch_abort(coh, h_ep(2), &failed, NULL), 0);
    CHECK_EQ(failed, 12345);
    CHECK_RC(write_obj(coh, sid[1], 3), 0);
    remove_shard_dir(1, sid[1]);
    CHECK_RC(daos_epoch_abort(coh, h_ep(3), &failed, NULL), -EIO);
    CHECK_EQ(failed, (unsigned)sid[1]);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_no_container_inside_the_library_s_directories(void)
{
    char p[300];
    daos_handle_t coh;
    daos_container_status_t st;
    const char *inside[] = { ".daos/c", ".daos/locks/c", ".daos/targets/0/c", ".daos/store.meta" };
    for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", root, inside[i]);
        CHECK_RC(daos_container_open(p, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), -EINVAL);
        CHECK_RC(daos_container_open(p, DAOS_COO_RO, 1, &st, &coh, NULL), -EINVAL);
    }
    snprintf(p, sizeof(p), "%s/.daos/c", root);
    struct stat sb;
    CHECK(stat(p, &sb) != 0);
    /* a snapshot there neither */
    int sid[2];
    coh = new_container("src", 1, sid);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), false, NULL, NULL), 0);
    CHECK_RC(daos_container_snapshot(coh, h_ep(1), p, NULL), -EINVAL);
    CHECK(stat(p, &sb) != 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* a target directory given inside the store */
    char base[128], store[200], tdir[220], c2[260];
    if (h_tmpdir(base, sizeof(base), "holes2") != 0) return;
    snprintf(store, sizeof(store), "%s/s", base);
    snprintf(tdir, sizeof(tdir), "%s/s/disk0", base);
    CHECK_RC(mkdir(store, 0700), 0);
    const char *dirs[1] = { tdir };
    CHECK_RC(daos_sys_format(store, 1, dirs, DAOS_SYS_FORMAT_NO_PROBE), 0);
    snprintf(c2, sizeof(c2), "%s/c", tdir);
    CHECK_RC(daos_container_open(c2, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), -EINVAL);
    snprintf(c2, sizeof(c2), "%s/c", store);
    CHECK_RC(daos_container_open(c2, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    h_rmrf(base);
}

int main(void)
{
    if (h_new_store(root, sizeof(root), "holes", 2) != 0) return 1;
    RUN(test_highest_is_not_committable);
    RUN(test_commit_without_shards_moves_hce);
    RUN(test_commit_after_shard_dir_removed);
    RUN(test_abort_names_the_failed_shard);
    RUN(test_no_container_inside_the_library_s_directories);
    h_rmrf(root);
    return harness_summary();
}
