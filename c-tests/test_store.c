/* The store and the system container: daos_sys_format, daos_sys_open,
 * daos_sys_query, daos_sys_query_target, daos_sys_target_set_status,
 * daos_sys_listen, daos_sys_close. SPEC §1, §4 and §12. */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static daos_handle_t sys_open(const char *root)
{
    daos_handle_t h = { 0 };
    CHECK_RC(daos_sys_open(root, &h, NULL), 0);
    return h;
}

/* SSD/HDD as SPEC §4 defines it: the rotational flag of the block device
 * behind `dir`; HDD when unknown. */
static int expected_type(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) return DAOS_TARGET_TYPE_HDD;
    char p[256];
    const char *fmt[] = { "/sys/dev/block/%u:%u/queue/rotational",
                          "/sys/dev/block/%u:%u/../queue/rotational" };
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, fmt[i], major(st.st_dev), minor(st.st_dev));
        FILE *f = fopen(p, "r");
        if (!f) continue;
        int r = -1;
        if (fscanf(f, "%d", &r) != 1) r = -1;
        fclose(f);
        if (r == 0) return DAOS_TARGET_TYPE_SSD;
        if (r == 1) return DAOS_TARGET_TYPE_HDD;
    }
    return DAOS_TARGET_TYPE_HDD;
}

/* ------------------------------------------------------------------ */

static void test_format_default(void)
{
    char root[128], p[256];
    CHECK_RC(h_tmpdir(root, sizeof root, "store"), 0);
    CHECK_RC(daos_sys_format(root, 3, NULL, DAOS_SYS_FORMAT_NO_PROBE), 0);
    snprintf(p, sizeof p, "%s/.daos", root);
    CHECK(is_dir(p));
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/.daos/targets/%d", root, i);
        CHECK(is_dir(p)); /* targets live inside .daos/ by default */
    }
    snprintf(p, sizeof p, "%s/.daos/targets/3", root);
    CHECK(!exists(p));

    /* three targets: the whole tree holds cage, rack, node + 3 targets */
    daos_handle_t h = sys_open(root);
    CHECK_EQ(h.cookie & 7, 2); /* SPEC §2: type 2 = system container */
    CHECK_EQ((h.cookie >> 3) & 0x7f, (uint64_t)getpid() & 0x7f);
    struct daos_location all = { DAOS_LOC_UNKNOWN, DAOS_LOC_UNKNOWN, DAOS_LOC_UNKNOWN };
    unsigned n = 0;
    CHECK_RC(daos_sys_query(h, &all, 0, &n, NULL, NULL), 0);
    CHECK_EQ(n, 6);
    struct daos_target_info ti;
    for (unsigned t = 0; t < 3; t++) CHECK_RC(daos_sys_query_target(h, t, &ti, NULL), 0);
    CHECK_RC(daos_sys_query_target(h, 3, &ti, NULL), -ENOENT);
    CHECK_RC(daos_sys_close(h, NULL), 0);

    /* formatting twice, or inside a store, is -EEXIST */
    CHECK_RC(daos_sys_format(root, 3, NULL, DAOS_SYS_FORMAT_NO_PROBE), -EEXIST);
    CHECK_RC(daos_sys_format(root, 1, NULL, 0), -EEXIST);
    snprintf(p, sizeof p, "%s/sub", root);
    CHECK_RC(mkdir(p, 0755), 0);
    CHECK_RC(daos_sys_format(p, 1, NULL, DAOS_SYS_FORMAT_NO_PROBE), -EEXIST);
    snprintf(p, sizeof p, "%s/.daos", root);
    CHECK_RC(daos_sys_format(p, 1, NULL, DAOS_SYS_FORMAT_NO_PROBE), -EEXIST);
    snprintf(p, sizeof p, "%s/sub/.daos", root);
    CHECK(!exists(p)); /* the refused format made nothing */
    /* the store is unharmed */
    h = sys_open(root);
    n = 0;
    CHECK_RC(daos_sys_query(h, &all, 0, &n, NULL, NULL), 0);
    CHECK_EQ(n, 6);
    CHECK_RC(daos_sys_close(h, NULL), 0);
    h_rmrf(root);
}

static void test_format_args(void)
{
    char root[128], p[256];
    CHECK_RC(h_tmpdir(root, sizeof root, "fmtargs"), 0);
    CHECK_RC(daos_sys_format(root, 0, NULL, DAOS_SYS_FORMAT_NO_PROBE), -EINVAL);
    CHECK_RC(daos_sys_format(root, 65537, NULL, DAOS_SYS_FORMAT_NO_PROBE), -EINVAL);
    CHECK_RC(daos_sys_format(root, 1, NULL, 2), -EINVAL);
    CHECK_RC(daos_sys_format(root, 1, NULL, DAOS_SYS_FORMAT_NO_PROBE | 0x100), -EINVAL);
    CHECK_RC(daos_sys_format(root, 1, NULL, 0x80000000u), -EINVAL);
    CHECK_RC(daos_sys_format(NULL, 1, NULL, DAOS_SYS_FORMAT_NO_PROBE), -EINVAL);
    /* a NULL entry in target_dirs is a required value missing */
    const char *dirs_null[2] = { "/tmp", NULL };
    CHECK_RC(daos_sys_format(root, 2, dirs_null, DAOS_SYS_FORMAT_NO_PROBE), -EINVAL);
    /* nothing was made by the refused calls (SPEC §1) */
    snprintf(p, sizeof p, "%s/.daos", root);
    CHECK(!exists(p));
    daos_handle_t h = { 0 };
    CHECK_RC(daos_sys_open(root, &h, NULL), -ENOENT);
    CHECK_EQ(h.cookie, 0);

    /* file-system errors */
    snprintf(p, sizeof p, "%s/missing", root);
    CHECK_RC(daos_sys_format(p, 1, NULL, DAOS_SYS_FORMAT_NO_PROBE), -ENOENT);
    snprintf(p, sizeof p, "%s/file", root);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK_RC(daos_sys_format(p, 1, NULL, DAOS_SYS_FORMAT_NO_PROBE), -ENOTDIR);

    /* the directory is still formattable afterwards */
    CHECK_RC(daos_sys_format(root, 1, NULL, DAOS_SYS_FORMAT_NO_PROBE), 0);
    h_rmrf(root);
}

static void test_format_target_dirs(void)
{
    char root[128], other[128], t0[256], t1[256], p[300];
    CHECK_RC(h_tmpdir(root, sizeof root, "tdroot"), 0);
    CHECK_RC(h_tmpdir(other, sizeof other, "tddirs"), 0);
    snprintf(t0, sizeof t0, "%s/disk0", other);
    snprintf(t1, sizeof t1, "%s/deeper/disk1", other); /* created if missing */
    CHECK_RC(mkdir(t0, 0755), 0);
    const char *dirs[2] = { t0, t1 };
    CHECK_RC(daos_sys_format(root, 2, dirs, DAOS_SYS_FORMAT_NO_PROBE), 0);
    CHECK(is_dir(t1));
    snprintf(p, sizeof p, "%s/.daos/targets/0", root);
    CHECK(!exists(p)); /* not the default place */

    /* the targets are usable: a shard on target 1 lands in t1 */
    snprintf(p, sizeof p, "%s/cont", root);
    daos_handle_t coh = { 0 };
    daos_container_status_t st = 99;
    CHECK_RC(daos_container_open(p, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned tg[1] = { 1 };
    int sh[1] = { -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    CHECK_EQ(sh[0], 0);
    daos_handle_t h = sys_open(root);
    struct daos_target_info ti;
    memset(&ti, 0, sizeof ti);
    CHECK_RC(daos_sys_query_target(h, 1, &ti, NULL), 0);
    CHECK_EQ(ti.ti_space.ts_nshard, 1);
    CHECK_EQ(ti.ti_status, 100);
    CHECK_RC(daos_sys_query_target(h, 0, &ti, NULL), 0);
    CHECK_EQ(ti.ti_space.ts_nshard, 0);
    CHECK_RC(daos_sys_close(h, NULL), 0);
    int found = 0;
    DIR *d = opendir(t1);
    CHECK(d != NULL);
    for (struct dirent *de; d && (de = readdir(d)) != NULL;)
        if (strncmp(de->d_name, "c-", 2) == 0) found++;
    if (d) closedir(d);
    CHECK_EQ(found, 1);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* a target directory of a store cannot be given to another store */
    char root2[128];
    CHECK_RC(h_tmpdir(root2, sizeof root2, "tdroot2"), 0);
    const char *dirs2[1] = { t0 };
    CHECK_RC(daos_sys_format(root2, 1, dirs2, DAOS_SYS_FORMAT_NO_PROBE), -EEXIST);
    snprintf(p, sizeof p, "%s/.daos", root2);
    h = (daos_handle_t){ 0 };
    CHECK_RC(daos_sys_open(root2, &h, NULL), -ENOENT);
    h_rmrf(root2);
    h_rmrf(root);
    h_rmrf(other);
}

static void test_format_probe(void)
{
    char root[128];
    CHECK_RC(h_tmpdir(root, sizeof root, "probe"), 0);
    int64_t t0 = now_us();
    CHECK_RC(daos_sys_format(root, 1, NULL, 0), 0);
    printf("   probe of one target took %lld ms\n", (long long)(now_us() - t0) / 1000);
    daos_handle_t h = sys_open(root);
    struct daos_target_info ti;
    memset(&ti, 0, sizeof ti);
    CHECK_RC(daos_sys_query_target(h, 0, &ti, NULL), 0);
    CHECK(ti.ti_perf.tp_rdbw > 0);
    CHECK(ti.ti_perf.tp_rdbw_bs > 0);
    CHECK(ti.ti_perf.tp_wrbw > 0);
    CHECK(ti.ti_perf.tp_wrbw_bs > 0);
    CHECK(ti.ti_perf.tp_iops > 0);
    CHECK(ti.ti_perf.tp_iops_bs > 0);
    CHECK_EQ(ti.ti_affinity.ta_net_dist, 0);
    printf("   rd %u MB/s @%u, wr %u MB/s @%u, %u IOPS @%u, latency %llu us\n",
           ti.ti_perf.tp_rdbw, ti.ti_perf.tp_rdbw_bs, ti.ti_perf.tp_wrbw, ti.ti_perf.tp_wrbw_bs,
           ti.ti_perf.tp_iops, ti.ti_perf.tp_iops_bs, (unsigned long long)ti.ti_affinity.ta_latency);
    CHECK_RC(daos_sys_close(h, NULL), 0);
    h_rmrf(root);

    /* without the probe the figures are 0 (never measured) */
    CHECK_RC(h_new_store(root, sizeof root, "noprobe", 1), 0);
    h = sys_open(root);
    memset(&ti, 0x5a, sizeof ti);
    CHECK_RC(daos_sys_query_target(h, 0, &ti, NULL), 0);
    CHECK_EQ(ti.ti_perf.tp_rdbw, 0);
    CHECK_EQ(ti.ti_perf.tp_wrbw, 0);
    CHECK_EQ(ti.ti_perf.tp_iops, 0);
    CHECK_RC(daos_sys_close(h, NULL), 0);
    h_rmrf(root);
}

static void test_sys_open(void)
{
    char root[128], outside[128], p[512];
    CHECK_RC(h_new_store(root, sizeof root, "sysopen", 1), 0);
    CHECK_RC(h_tmpdir(outside, sizeof outside, "nostore"), 0);
    daos_handle_t h = { 0 }, h2 = { 0 };
    CHECK_RC(daos_sys_open(root, &h, NULL), 0);
    CHECK(h.cookie != 0);
    /* a deep path inside the store that does not exist */
    snprintf(p, sizeof p, "%s/a/b/c/d/e/container", root);
    CHECK_RC(daos_sys_open(p, &h2, NULL), 0);
    CHECK(h2.cookie != 0 && h2.cookie != h.cookie);
    struct daos_target_info ti;
    CHECK_RC(daos_sys_query_target(h2, 0, &ti, NULL), 0);
    CHECK_RC(daos_sys_close(h2, NULL), 0);
    /* an existing subdirectory too */
    snprintf(p, sizeof p, "%s/sub", root);
    CHECK_RC(mkdir(p, 0755), 0);
    h2.cookie = 0;
    CHECK_RC(daos_sys_open(p, &h2, NULL), 0);
    CHECK_RC(daos_sys_close(h2, NULL), 0);

    /* outside any store */
    daos_handle_t bad = { 0x1234 };
    CHECK_RC(daos_sys_open(outside, &bad, NULL), -ENOENT);
    CHECK_EQ(bad.cookie, 0x1234); /* not written on failure */
    snprintf(p, sizeof p, "%s/x/y", outside);
    CHECK_RC(daos_sys_open(p, &bad, NULL), -ENOENT);
    CHECK_RC(daos_sys_open(NULL, &bad, NULL), -EINVAL);
    CHECK_RC(daos_sys_open(root, NULL, NULL), -EINVAL);
    CHECK_EQ(bad.cookie, 0x1234);

    /* asynchronously, on an EQ */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    h2.cookie = 0;
    CHECK_RC(daos_sys_open(root, &h2, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_SYS_OPEN);
    CHECK(h2.cookie != 0);
    CHECK_EQ(h2.cookie & 7, 2);
    /* an async open outside a store fails in ev_error */
    bad.cookie = 0x1234;
    int rc = daos_sys_open(outside, &bad, &ev);
    if (rc == 0) {
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
        CHECK_EQ(ev.ev_error, -ENOENT);
    } else {
        CHECK_RC(rc, -ENOENT);
    }
    CHECK_EQ(bad.cookie, 0x1234);
    /* async close */
    CHECK_RC(daos_sys_close(h2, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_SYS_CLOSE);
    CHECK_RC(daos_sys_query_target(h2, 0, &ti, NULL), -EBADF);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);

    CHECK_RC(daos_sys_close(h, NULL), 0);
    h_rmrf(root);
    h_rmrf(outside);
}

/* checks lks[0..n) against the expected (type, id) pairs */
static void check_keys(const struct daos_loc_key *lks, unsigned n, const unsigned *want, unsigned nwant,
                       const char *what)
{
    CHECK_EQ(n, nwant);
    int bad = 0;
    for (unsigned i = 0; i < n && i < nwant; i++)
        if (lks[i].lk_type != want[2 * i] || lks[i].lk_id != want[2 * i + 1]) bad++;
    if (bad) {
        fprintf(stderr, "   %s: got", what);
        for (unsigned i = 0; i < n; i++) fprintf(stderr, " (%u,%u)", lks[i].lk_type, lks[i].lk_id);
        fprintf(stderr, "\n");
    }
    CHECK_EQ(bad, 0);
}

/* one query: count with lks NULL, then the footprints */
static void q(daos_handle_t h, int cage, int rack, int node, unsigned depth, const unsigned *want,
              unsigned nwant, const char *what)
{
    struct daos_location loc = { cage, rack, node };
    unsigned n = 12345;
    CHECK_RC(daos_sys_query(h, &loc, depth, &n, NULL, NULL), 0);
    CHECK_EQ(n, nwant);
    struct daos_loc_key lks[16];
    memset(lks, 0xee, sizeof lks);
    n = 16;
    CHECK_RC(daos_sys_query(h, &loc, depth, &n, lks, NULL), 0);
    check_keys(lks, n, want, nwant, what);
    CHECK_EQ(lks[nwant].lk_type, 0xeeeeeeeeu); /* nothing stored past the total */
}

#define C DAOS_LOC_TYP_CAGE
#define R DAOS_LOC_TYP_RACK
#define N DAOS_LOC_TYP_NODE
#define T DAOS_LOC_TYP_TARGET
#define U DAOS_LOC_UNKNOWN

static void test_sys_query(void)
{
    char root[128];
    CHECK_RC(h_new_store(root, sizeof root, "query", 3), 0);
    daos_handle_t h = sys_open(root);

    static const unsigned whole[] = { C, 0, R, 0, N, 0, T, 0, T, 1, T, 2 };
    q(h, U, U, U, 0, whole, 6, "whole tree depth 0");
    q(h, U, U, U, 4, whole, 6, "whole tree depth 4");
    q(h, U, U, U, 100, whole, 6, "whole tree depth 100");
    q(h, U, U, U, 1, whole, 1, "depth 1 (cages)");
    q(h, U, U, U, 2, whole, 2, "depth 2 (cages, racks)");
    q(h, U, U, U, 3, whole, 3, "depth 3 (cages, racks, nodes)");
    /* cage given: below it */
    q(h, 0, U, U, 0, whole + 2, 5, "cage 0, depth 0");
    q(h, 0, U, U, 3, whole + 2, 5, "cage 0, depth 3");
    q(h, 0, U, U, 1, whole + 2, 1, "cage 0, depth 1");
    q(h, 0, U, U, 2, whole + 2, 2, "cage 0, depth 2");
    /* cage and rack given */
    q(h, 0, 0, U, 0, whole + 4, 4, "rack 0, depth 0");
    q(h, 0, 0, U, 2, whole + 4, 4, "rack 0, depth 2");
    q(h, 0, 0, U, 1, whole + 4, 1, "rack 0, depth 1");
    /* all given: the targets of the node */
    q(h, 0, 0, 0, 0, whole + 6, 3, "node 0");
    q(h, 0, 0, 0, 1, whole + 6, 3, "node 0, depth 1");

    /* unknown cage, rack or node */
    struct daos_location loc = { 7, U, U };
    unsigned n = 99;
    struct daos_loc_key lks[8];
    CHECK_RC(daos_sys_query(h, &loc, 0, &n, NULL, NULL), -ENOENT);
    CHECK_EQ(n, 99); /* not written on failure */
    loc = (struct daos_location){ 0, 3, U };
    CHECK_RC(daos_sys_query(h, &loc, 0, &n, lks, NULL), -ENOENT);
    loc = (struct daos_location){ 0, 0, 9 };
    CHECK_RC(daos_sys_query(h, &loc, 0, &n, lks, NULL), -ENOENT);
    CHECK_EQ(n, 99);
    /* inconsistent: a rack without its cage, a node without its rack */
    loc = (struct daos_location){ U, 0, U };
    CHECK_RC(daos_sys_query(h, &loc, 0, &n, NULL, NULL), -EINVAL);
    loc = (struct daos_location){ 0, U, 0 };
    CHECK_RC(daos_sys_query(h, &loc, 0, &n, NULL, NULL), -EINVAL);
    loc = (struct daos_location){ U, U, U };
    CHECK_RC(daos_sys_query(h, NULL, 0, &n, NULL, NULL), -EINVAL);
    CHECK_RC(daos_sys_query(h, &loc, 0, NULL, lks, NULL), -EINVAL);

    /* lkn smaller than the total: stores lkn, sets the total */
    memset(lks, 0xee, sizeof lks);
    n = 2;
    CHECK_RC(daos_sys_query(h, &loc, 0, &n, lks, NULL), 0);
    CHECK_EQ(n, 6);
    CHECK_EQ(lks[0].lk_type, C);
    CHECK_EQ(lks[1].lk_type, R);
    CHECK_EQ(lks[2].lk_type, 0xeeeeeeeeu);
    CHECK_EQ(lks[2].lk_id, 0xeeeeeeeeu);
    /* lkn 0 with an array stores nothing */
    memset(lks, 0xee, sizeof lks);
    n = 0;
    CHECK_RC(daos_sys_query(h, &loc, 0, &n, lks, NULL), 0);
    CHECK_EQ(n, 6);
    CHECK_EQ(lks[0].lk_type, 0xeeeeeeeeu);

    /* asynchronously */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    memset(lks, 0xee, sizeof lks);
    n = 8;
    CHECK_RC(daos_sys_query(h, &loc, 0, &n, lks, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_SYS_QUERY);
    check_keys(lks, n, whole, 6, "async whole tree");
    loc.lc_cage = 5;
    int rc = daos_sys_query(h, &loc, 0, &n, lks, &ev);
    if (rc == 0) {
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
        CHECK_EQ(ev.ev_error, -ENOENT);
    } else {
        CHECK_RC(rc, -ENOENT);
    }
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);

    CHECK_RC(daos_sys_close(h, NULL), 0);
    h_rmrf(root);
}

static void test_query_target(void)
{
    char root[128], p[256];
    CHECK_RC(h_new_store(root, sizeof root, "qtarget", 2), 0);
    daos_handle_t h = sys_open(root);
    for (unsigned t = 0; t < 2; t++) {
        struct daos_target_info ti;
        memset(&ti, 0x5a, sizeof ti);
        CHECK_RC(daos_sys_query_target(h, t, &ti, NULL), 0);
        CHECK_EQ(ti.ti_status, 100);
        CHECK(ti.ti_type == DAOS_TARGET_TYPE_SSD || ti.ti_type == DAOS_TARGET_TYPE_HDD);
        snprintf(p, sizeof p, "%s/.daos/targets/%u", root, t);
        CHECK_EQ(ti.ti_type, expected_type(p));
        CHECK_EQ(ti.ti_loc.tl_nlocs, 1);
        CHECK_EQ(ti.ti_loc.tl_current, 0);
        CHECK_EQ(ti.ti_loc.tl_failovers[0].lc_cage, 0);
        CHECK_EQ(ti.ti_loc.tl_failovers[0].lc_rack, 0);
        CHECK_EQ(ti.ti_loc.tl_failovers[0].lc_node, 0);
        CHECK(ti.ti_space.ts_size > 0);
        CHECK(ti.ti_space.ts_free > 0);
        CHECK(ti.ti_space.ts_size >= ti.ti_space.ts_free);
        struct statvfs sv;
        CHECK_RC(statvfs(p, &sv), 0);
        CHECK_EQ(ti.ti_space.ts_size, (uint64_t)sv.f_blocks * sv.f_frsize);
        /* free space moves, but not by more than a few hundred MiB here */
        uint64_t fr = (uint64_t)sv.f_bavail * sv.f_frsize;
        uint64_t diff = fr > ti.ti_space.ts_free ? fr - ti.ti_space.ts_free : ti.ti_space.ts_free - fr;
        CHECK(diff < (256ULL << 20));
        CHECK_EQ(ti.ti_space.ts_nshard, 0);
        CHECK_EQ(ti.ti_affinity.ta_net_dist, 0);
    }

    /* nshard counts the shards that containers add */
    snprintf(p, sizeof p, "%s/c1", root);
    daos_handle_t coh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(p, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned tg[3] = { 1, 1, 0 };
    int sh[3] = { -1, -1, -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 3, tg, sh, NULL), 0);
    snprintf(p, sizeof p, "%s/c2", root);
    daos_handle_t coh2;
    CHECK_RC(daos_container_open(p, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh2, NULL), 0);
    unsigned tg2[1] = { 1 };
    int sh2[1] = { -1 };
    CHECK_RC(daos_shard_add(coh2, h_ep(1), 1, tg2, sh2, NULL), 0);
    struct daos_target_info ti;
    CHECK_RC(daos_sys_query_target(h, 0, &ti, NULL), 0);
    CHECK_EQ(ti.ti_space.ts_nshard, 1);
    CHECK_RC(daos_sys_query_target(h, 1, &ti, NULL), 0);
    CHECK_EQ(ti.ti_space.ts_nshard, 3);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_close(coh2, NULL), 0);
    /* unlinking a container removes its shards from the count */
    snprintf(p, sizeof p, "%s/c1", root);
    CHECK_RC(daos_container_unlink(p, NULL), 0);
    CHECK_RC(daos_sys_query_target(h, 1, &ti, NULL), 0);
    CHECK_EQ(ti.ti_space.ts_nshard, 1);
    CHECK_RC(daos_sys_query_target(h, 0, &ti, NULL), 0);
    CHECK_EQ(ti.ti_space.ts_nshard, 0);

    /* unknown target; NULL info; out-parameter untouched on failure */
    memset(&ti, 0x5a, sizeof ti);
    struct daos_target_info before = ti;
    CHECK_RC(daos_sys_query_target(h, 2, &ti, NULL), -ENOENT);
    CHECK_RC(daos_sys_query_target(h, 1000000, &ti, NULL), -ENOENT);
    CHECK_RC(daos_sys_query_target(h, 0xffffffffu, &ti, NULL), -ENOENT);
    CHECK(memcmp(&ti, &before, sizeof ti) == 0);
    CHECK_RC(daos_sys_query_target(h, 0, NULL, NULL), -EINVAL);

    /* asynchronously */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    memset(&ti, 0, sizeof ti);
    CHECK_RC(daos_sys_query_target(h, 1, &ti, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_SYS_QUERY_TGT);
    CHECK_EQ(ti.ti_status, 100);
    CHECK_EQ(ti.ti_space.ts_nshard, 1);
    int rc = daos_sys_query_target(h, 7, &ti, &ev);
    if (rc == 0) {
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
        CHECK_EQ(ev.ev_error, -ENOENT);
    } else {
        CHECK_RC(rc, -ENOENT);
    }
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_sys_close(h, NULL), 0);
    h_rmrf(root);
}

static int status_of(daos_handle_t h, unsigned t)
{
    struct daos_target_info ti;
    memset(&ti, 0, sizeof ti);
    ti.ti_status = -77;
    int rc = daos_sys_query_target(h, t, &ti, NULL);
    return rc == 0 ? ti.ti_status : rc - 1000;
}

static void test_set_status(void)
{
    char root[128];
    CHECK_RC(h_new_store(root, sizeof root, "status", 2), 0);
    daos_handle_t h = sys_open(root), h2 = sys_open(root);
    CHECK_RC(daos_sys_target_set_status(h, 1, DAOS_TARGET_ST_DISABLED), 0);
    CHECK_EQ(status_of(h, 1), DAOS_TARGET_ST_DISABLED);
    CHECK_EQ(status_of(h, 0), 100);
    CHECK_EQ(status_of(h2, 1), DAOS_TARGET_ST_DISABLED); /* visible to every handle */
    /* durable: a handle opened later sees it */
    daos_handle_t h3 = sys_open(root);
    CHECK_EQ(status_of(h3, 1), DAOS_TARGET_ST_DISABLED);
    CHECK_RC(daos_sys_close(h3, NULL), 0);
    /* disabling twice is fine */
    CHECK_RC(daos_sys_target_set_status(h, 1, DAOS_TARGET_ST_DISABLED), 0);
    CHECK_RC(daos_sys_target_set_status(h2, 1, DAOS_TARGET_ST_HEALTHY), 0);
    CHECK_EQ(status_of(h, 1), 100);
    /* enabling with a health */
    CHECK_RC(daos_sys_target_set_status(h, 0, 40), 0);
    CHECK_EQ(status_of(h, 0), 40);
    CHECK_RC(daos_sys_target_set_status(h, 0, 0), 0);
    CHECK_EQ(status_of(h, 0), 0);
    CHECK_RC(daos_sys_target_set_status(h, 0, 100), 0);
    CHECK_EQ(status_of(h, 0), 100);

    /* bad status: nothing changes */
    CHECK_RC(daos_sys_target_set_status(h, 0, 101), -EINVAL);
    CHECK_RC(daos_sys_target_set_status(h, 0, -3), -EINVAL);
    CHECK_RC(daos_sys_target_set_status(h, 0, DAOS_TARGET_ST_UNKNOWN), -EINVAL);
    CHECK_RC(daos_sys_target_set_status(h, 0, 1000), -EINVAL);
    CHECK_RC(daos_sys_target_set_status(h, 0, INT32_MIN), -EINVAL);
    CHECK_EQ(status_of(h, 0), 100);
    CHECK_RC(daos_sys_target_set_status(h, 2, DAOS_TARGET_ST_DISABLED), -ENOENT);
    CHECK_RC(daos_sys_target_set_status(h, 0xffffffffu, 100), -ENOENT);
    CHECK_RC(daos_sys_close(h, NULL), 0);
    CHECK_RC(daos_sys_close(h2, NULL), 0);
    h_rmrf(root);
}

static void test_listen(void)
{
    char root[128];
    CHECK_RC(h_new_store(root, sizeof root, "listen", 3), 0);
    daos_handle_t h = sys_open(root), adm = sys_open(root);
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);

    /* pending until a status changes */
    struct daos_target_event tevs[4];
    memset(tevs, 0xee, sizeof tevs);
    unsigned tevn = 4;
    CHECK_RC(daos_sys_listen(h, &tevn, tevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    CHECK_RC(daos_sys_target_set_status(adm, 1, DAOS_TARGET_ST_DISABLED), 0);
    int64_t t0 = now_us();
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK(now_us() - t0 < 2 * SEC);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_SYS_LISTEN);
    CHECK_EQ(tevn, 1);
    CHECK_EQ(tevs[0].te_target, 1);
    CHECK_EQ(tevs[0].te_status, DAOS_TARGET_ST_DISABLED);
    CHECK_EQ(tevs[1].te_target, 0xeeeeeeeeu);

    /* seen: the next listen is pending again; enabling completes it */
    tevn = 4;
    CHECK_RC(daos_sys_listen(h, &tevn, tevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    CHECK_RC(daos_sys_target_set_status(adm, 1, DAOS_TARGET_ST_HEALTHY), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(tevn, 1);
    CHECK_EQ(tevs[0].te_target, 1);
    CHECK_EQ(tevs[0].te_status, 100);

    /* a change made before the listen, unseen by this handle: at once */
    CHECK_RC(daos_sys_target_set_status(adm, 2, DAOS_TARGET_ST_DISABLED), 0);
    memset(tevs, 0xee, sizeof tevs);
    tevn = 4;
    t0 = now_us();
    CHECK_RC(daos_sys_listen(h, &tevn, tevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 2 * SEC), &ev);
    CHECK(now_us() - t0 < SEC);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(tevn, 1);
    CHECK_EQ(tevs[0].te_target, 2);
    CHECK_EQ(tevs[0].te_status, DAOS_TARGET_ST_DISABLED);
    /* synchronous listen with an unseen change returns at once */
    CHECK_RC(daos_sys_target_set_status(adm, 2, DAOS_TARGET_ST_HEALTHY), 0);
    tevn = 4;
    CHECK_RC(daos_sys_listen(h, &tevn, tevs, NULL), 0);
    CHECK_EQ(tevn, 1);
    CHECK_EQ(tevs[0].te_target, 2);
    CHECK_EQ(tevs[0].te_status, 100);

    /* two unseen changes: both reported */
    CHECK_RC(daos_sys_target_set_status(adm, 0, DAOS_TARGET_ST_DISABLED), 0);
    CHECK_RC(daos_sys_target_set_status(adm, 2, 50), 0);
    memset(tevs, 0xee, sizeof tevs);
    tevn = 4;
    CHECK_RC(daos_sys_listen(h, &tevn, tevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 2 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(tevn, 2);
    int saw0 = 0, saw2 = 0;
    for (unsigned i = 0; i < 2; i++) {
        if (tevs[i].te_target == 0 && tevs[i].te_status == DAOS_TARGET_ST_DISABLED) saw0++;
        if (tevs[i].te_target == 2 && tevs[i].te_status == 50) saw2++;
    }
    CHECK_EQ(saw0, 1);
    CHECK_EQ(saw2, 1);
    CHECK_EQ(tevs[2].te_target, 0xeeeeeeeeu);
    /* capacity 1 with two unseen changes: stores one, never more */
    CHECK_RC(daos_sys_target_set_status(adm, 0, 100), 0);
    CHECK_RC(daos_sys_target_set_status(adm, 2, 100), 0);
    memset(tevs, 0xee, sizeof tevs);
    tevn = 1;
    CHECK_RC(daos_sys_listen(h, &tevn, tevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 2 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(tevn, 1);
    CHECK(tevs[0].te_target == 0 || tevs[0].te_target == 2);
    CHECK_EQ(tevs[0].te_status, 100);
    CHECK_EQ(tevs[1].te_target, 0xeeeeeeeeu);

    /* a fresh handle has seen the current state: pending */
    daos_handle_t h2 = sys_open(root);
    tevn = 4;
    CHECK_RC(daos_sys_listen(h2, &tevn, tevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    /* abort of a pending listen: -EINTR */
    CHECK_RC(daos_event_abort(&ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, -EINTR);

    /* closing the handle ends a pending listen with -EBADF */
    tevn = 4;
    CHECK_RC(daos_sys_listen(h2, &tevn, tevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    CHECK_RC(daos_sys_close(h2, NULL), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, -EBADF);

    /* bad arguments: the event is not dispatched */
    tevn = 0;
    CHECK_REFUSED(daos_sys_listen(h, &tevn, tevs, &ev), -EINVAL, eqh, &ev);
    CHECK_RC(daos_sys_listen(h, &tevn, tevs, NULL), -EINVAL);
    tevn = 4;
    CHECK_REFUSED(daos_sys_listen(h, NULL, tevs, &ev), -EINVAL, eqh, &ev);
    CHECK_REFUSED(daos_sys_listen(h, &tevn, NULL, &ev), -EINVAL, eqh, &ev);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_REFUSED(daos_sys_listen(h2, &tevn, tevs, &ev), -EBADF, eqh, &ev);

    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_sys_close(h, NULL), 0);
    CHECK_RC(daos_sys_close(adm, NULL), 0);
    h_rmrf(root);
}

struct child_status { const char *root; unsigned target; int status; };

/* In another process: sets a target's status (stamped in h_xp()). */
static int child_set_status(void *p)
{
    struct child_status *c = p;
    daos_handle_t h = { 0 };
    int rc = daos_sys_open(c->root, &h, NULL);
    h_xp()->start_us = now_us();
    if (rc == 0) rc = daos_sys_target_set_status(h, c->target, c->status);
    h_xp()->done_us = now_us();
    if (rc == 0) rc = daos_sys_close(h, NULL);
    return rc == 0 ? 0 : 1;
}

/* SPEC §4: daos_sys_listen completes "also when another process made the change". */
static void test_listen_other_process(void)
{
    char root[128];
    CHECK_RC(h_new_store(root, sizeof root, "listenproc", 2), 0);
    daos_handle_t h = sys_open(root);
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    struct daos_target_event tevs[4];
    memset(tevs, 0xee, sizeof tevs);
    unsigned tevn = 4;
    /* the listen is pending before the other process changes anything, and
     * is woken by that change within a second */
    CHECK_RC(daos_sys_listen(h, &tevn, tevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    struct child_status dis = { root, 1, DAOS_TARGET_ST_DISABLED };
    pid_t pid = h_spawn(child_set_status, &dis);
    CHECK(pid > 0);
    struct daos_event *e = h_woken_by(pid, eqh, 1 * SEC, "a sys listen");
    CHECK_PTR_EQ(e, &ev);
    if (e == NULL) {
        CHECK_RC(daos_event_abort(&ev), 0);
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    } else {
        CHECK_EQ(ev.ev_error, 0);
        CHECK_EQ(tevn, 1);
        CHECK_EQ(tevs[0].te_target, 1);
        CHECK_EQ(tevs[0].te_status, DAOS_TARGET_ST_DISABLED);
    }
    /* the change is durable and visible to this process's queries at once */
    CHECK_EQ(status_of(h, 1), DAOS_TARGET_ST_DISABLED);
    /* a health change made by another process wakes a listen too */
    tevn = 4;
    CHECK_RC(daos_sys_listen(h, &tevn, tevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    struct child_status health = { root, 0, 70 };
    pid = h_spawn(child_set_status, &health);
    e = h_woken_by(pid, eqh, 1 * SEC, "a sys listen");
    CHECK_PTR_EQ(e, &ev);
    if (e == NULL) {
        CHECK_RC(daos_event_abort(&ev), 0);
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    } else {
        CHECK_EQ(ev.ev_error, 0);
        CHECK_EQ(tevn, 1);
        CHECK_EQ(tevs[0].te_target, 0);
        CHECK_EQ(tevs[0].te_status, 70);
    }
    /* a listen made after the other process's change completes at once */
    daos_handle_t h2 = sys_open(root);
    struct child_status en = { root, 1, DAOS_TARGET_ST_HEALTHY };
    CHECK_EQ(h_reap(h_spawn(child_set_status, &en)), 0);
    tevn = 4;
    CHECK_RC(daos_sys_listen(h2, &tevn, tevs, &ev), 0);
    e = h_poll1(eqh, 2 * SEC);
    CHECK_PTR_EQ(e, &ev);
    if (e == NULL) {
        CHECK_RC(daos_event_abort(&ev), 0);
        h_poll1(eqh, 5 * SEC);
    } else {
        CHECK_EQ(ev.ev_error, 0);
        CHECK_EQ(tevs[0].te_target, 1);
        CHECK_EQ(tevs[0].te_status, 100);
    }
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_sys_close(h2, NULL), 0);
    CHECK_RC(daos_sys_close(h, NULL), 0);
    h_rmrf(root);
}

static void check_sys_badf(daos_handle_t bad)
{
    struct daos_location loc = { U, U, U };
    unsigned n = 5;
    struct daos_loc_key lks[8];
    struct daos_target_info ti;
    struct daos_target_event tevs[2];
    CHECK_RC(daos_sys_query(bad, &loc, 0, &n, NULL, NULL), -EBADF);
    CHECK_RC(daos_sys_query(bad, &loc, 0, &n, lks, NULL), -EBADF);
    CHECK_EQ(n, 5);
    CHECK_RC(daos_sys_query_target(bad, 0, &ti, NULL), -EBADF);
    CHECK_RC(daos_sys_target_set_status(bad, 0, DAOS_TARGET_ST_DISABLED), -EBADF);
    n = 2;
    CHECK_RC(daos_sys_listen(bad, &n, tevs, NULL), -EBADF);
    CHECK_RC(daos_sys_close(bad, NULL), -EBADF);
}

static void test_close_badf(void)
{
    char root[128], p[256];
    CHECK_RC(h_new_store(root, sizeof root, "sysclose", 1), 0);
    daos_handle_t h = sys_open(root);
    daos_handle_t keep = sys_open(root);
    CHECK_RC(daos_sys_close(h, NULL), 0);
    check_sys_badf(h);
    check_sys_badf((daos_handle_t){ 0 });

    /* a container handle, an object handle and an EQ are not system handles */
    snprintf(p, sizeof p, "%s/c", root);
    daos_handle_t coh, oh, eqh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(p, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned tg[1] = { 0 };
    int sh[1] = { -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid(0, 1), DAOS_OBJ_RW, &oh, NULL), 0);
    CHECK_RC(daos_eq_create(&eqh), 0);
    check_sys_badf(coh);
    check_sys_badf(oh);
    check_sys_badf(eqh);
    /* the system type bits on a container's value */
    check_sys_badf((daos_handle_t){ (coh.cookie & ~7ULL) | 2 });
    /* and the other way round */
    struct daos_container_info ci;
    daos_epoch_t e = H_HIGHEST;
    CHECK_RC(daos_container_query(keep, &e, &ci, NULL), -EBADF);
    CHECK_RC(daos_container_close(keep, NULL), -EBADF);
    /* nothing above harmed the live handles */
    CHECK_EQ(status_of(keep, 0), 100);
    CHECK_RC(daos_container_query(coh, &e, &ci, NULL), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_sys_close(keep, NULL), 0);
    check_sys_badf(keep);
    h_rmrf(root);
}

int main(void)
{
    RUN(test_format_default);
    RUN(test_format_args);
    RUN(test_format_target_dirs);
    RUN(test_format_probe);
    RUN(test_sys_open);
    RUN(test_sys_query);
    RUN(test_query_target);
    RUN(test_set_status);
    RUN(test_listen);
    RUN(test_listen_other_process);
    RUN(test_close_badf);
    return harness_summary();
}
