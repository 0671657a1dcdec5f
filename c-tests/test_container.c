/* Containers: open/create, modes, permissions, close, query, list_shard,
 * listen, flush, unlink, snapshot, read-only handles, corrupt metadata.
 * SPEC §1, §5, §6 and §8. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000
#define NONE_U 0xffffffffu

static char g_root[128];

static void cpath(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_root, name);
}

static daos_handle_t copen(const char *path, unsigned mode, daos_container_status_t *st_out)
{
    daos_handle_t coh = { 0 };
    daos_container_status_t st = 99;
    CHECK_RC(daos_container_open(path, mode, 1, &st, &coh, NULL), 0);
    if (st_out) *st_out = st;
    return coh;
}

/* adds one shard per target at `epoch`; ids[] gets the ids made */
static void add_shards(daos_handle_t coh, uint64_t epoch, unsigned n, const unsigned *targets, int *ids)
{
    unsigned tg[64];
    int sh[64];
    for (unsigned i = 0; i < n; i++) { tg[i] = targets[i]; sh[i] = ids ? ids[i] : -1; }
    CHECK_RC(daos_shard_add(coh, h_ep(epoch), n, tg, sh, NULL), 0);
    if (ids) for (unsigned i = 0; i < n; i++) ids[i] = sh[i];
}

static int put(daos_handle_t coh, daos_obj_id_t oid, uint64_t epoch, uint64_t off, const void *buf, size_t len)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, oid, DAOS_OBJ_RW, &oh, NULL);
    if (rc) return rc;
    rc = h_write(oh, epoch, off, buf, len);
    int rc2 = daos_object_close(oh, NULL);
    return rc ? rc : rc2;
}

static int get(daos_handle_t coh, daos_obj_id_t oid, uint64_t epoch, uint64_t off, void *buf, size_t len)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, oid, DAOS_OBJ_RO, &oh, NULL);
    if (rc) return rc;
    rc = h_read(oh, epoch, off, buf, len);
    int rc2 = daos_object_close(oh, NULL);
    return rc ? rc : rc2;
}

static int commit(daos_handle_t coh, uint64_t e)
{
    unsigned failed = NONE_U;
    return daos_epoch_commit(coh, h_ep(e), false, &failed, NULL);
}

static uint64_t hce_of(daos_handle_t coh)
{
    struct daos_epoch_info ei;
    memset(&ei, 0, sizeof ei);
    int rc = daos_epoch_query(coh, &ei, NULL);
    CHECK_RC(rc, 0);
    return ei.epi_hce.seq;
}

/* number of entries named prefix* in dir */
static int count_prefix(const char *pattern)
{
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    int n = rc == 0 ? (int)g.gl_pathc : 0;
    if (rc == 0) globfree(&g);
    return n;
}

static int shard_dirs(void)
{
    char pat[300];
    snprintf(pat, sizeof pat, "%s/.daos/targets/*/c-*", g_root);
    return count_prefix(pat);
}

/* list_shard into ids[cap] (one call, anchor 0); returns the number listed */
static int list_all(daos_handle_t coh, daos_shard_list_t opc, unsigned *ids, unsigned cap)
{
    daos_off_t anchor = 0;
    for (unsigned i = 0; i < cap; i++) ids[i] = 0x5a5a5a5a;
    int rc = daos_container_list_shard(coh, H_HIGHEST, opc, &anchor, cap, ids, NULL);
    CHECK_RC(rc, 0);
    if (rc) return -1;
    CHECK_EQ(anchor, DAOS_LIST_END);
    int n = 0;
    while ((unsigned)n < cap && ids[n] != NONE_U) n++;
    for (unsigned i = n; i < cap; i++) CHECK_EQ(ids[i], NONE_U);
    return n;
}

/* ------------------------------------------------------------------ */

static void test_open_create(void)
{
    char p[256], q[256], outside[128];
    cpath(p, sizeof p, "c-create");
    daos_container_status_t st = 99;
    daos_handle_t coh = { 0 };
    /* missing without CREATE */
    CHECK_RC(daos_container_open(p, DAOS_COO_RW, 1, &st, &coh, NULL), -ENOENT);
    CHECK_RC(daos_container_open(p, DAOS_COO_RO, 1, &st, &coh, NULL), -ENOENT);
    CHECK_EQ(coh.cookie, 0);
    CHECK_EQ(st, 99);
    struct stat sb;
    CHECK(stat(p, &sb) != 0);

    CHECK_RC(daos_container_open(p, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK(coh.cookie != 0);
    CHECK_EQ(coh.cookie & 7, 3); /* SPEC §2: type 3 = container */
    /* a file in the namespace: stat(2) works on it */
    CHECK_RC(stat(p, &sb), 0);
    CHECK(S_ISREG(sb.st_mode));
    CHECK_EQ(sb.st_uid, geteuid());
    /* an empty container: no shards */
    struct daos_container_info ci;
    daos_epoch_t e = H_HIGHEST;
    memset(&ci, 0x5a, sizeof ci);
    CHECK_RC(daos_container_query(coh, &e, &ci, NULL), 0);
    CHECK_EQ(ci.ci_nshard, 0);
    CHECK_EQ(e.seq, 0);
    CHECK_EQ(hce_of(coh), 0);
    /* CREATE on an existing container opens it */
    daos_handle_t c2 = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK(c2.cookie != coh.cookie);
    daos_handle_t c3 = copen(p, DAOS_COO_RO | DAOS_COO_OWN_RECOV, &st);
    daos_handle_t c4 = { 0 };
    CHECK_RC(daos_container_open(p, DAOS_COO_RO, 0, &st, &c4, NULL), 0); /* nprocess 0 = 1 */
    CHECK_RC(daos_container_close(c4, NULL), 0);
    CHECK_RC(daos_container_close(c3, NULL), 0);
    CHECK_RC(daos_container_close(c2, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* parent directory missing, or outside any store */
    cpath(q, sizeof q, "nodir/c");
    coh.cookie = 0;
    CHECK_RC(daos_container_open(q, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), -ENOENT);
    CHECK_RC(h_tmpdir(outside, sizeof outside, "outside"), 0);
    snprintf(q, sizeof q, "%s/c", outside);
    CHECK_RC(daos_container_open(q, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), -ENOENT);
    CHECK(stat(q, &sb) != 0);
    CHECK_EQ(coh.cookie, 0);
    h_rmrf(outside);

    /* a container in a subdirectory of the store */
    cpath(q, sizeof q, "sub");
    CHECK_RC(mkdir(q, 0755), 0);
    cpath(q, sizeof q, "sub/c");
    coh = copen(q, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* NULL arguments */
    CHECK_RC(daos_container_open(NULL, DAOS_COO_RW, 1, &st, &coh, NULL), -EINVAL);
    CHECK_RC(daos_container_open(p, DAOS_COO_RW, 1, &st, NULL, NULL), -EINVAL);
    /* collective open, with a peer in this same process (other processes:
     * test_multiproc) */
    {
        daos_handle_t m, peer = {0}, plain;
        unsigned size = 0, small = 3;
        CHECK_RC(daos_container_open(p, DAOS_COO_RW, 2, &st, &m, NULL), 0);
        CHECK_RC(daos_local2global(m, NULL, NULL), -EINVAL);
        CHECK_RC(daos_local2global(m, NULL, &size), 0);
        CHECK(size > 16);
        unsigned char *g = malloc(size);
        CHECK_RC(daos_local2global(m, g, &small), -ENOBUFS);
        CHECK_EQ(small, size);
        CHECK_RC(daos_local2global(m, g, &size), 0);
        CHECK_RC(daos_global2local(NULL, size, &peer, NULL), -EINVAL);
        CHECK_RC(daos_global2local(g, size, NULL, NULL), -EINVAL);
        CHECK_RC(daos_global2local(g, size - 1, &peer, NULL), -EINVAL);
        CHECK_RC(daos_global2local(g, size, &peer, NULL), 0);
        CHECK(peer.cookie != 0);
        /* a peer may not commit, abort, wait or share the handle */
        daos_epoch_t e = h_ep(100);
        CHECK_RC(daos_epoch_commit(peer, h_ep(100), 0, NULL, NULL), -EPERM);
        CHECK_RC(daos_epoch_abort(peer, h_ep(100), NULL, NULL), -EPERM);
        CHECK_RC(daos_epoch_wait(peer, &e, NULL, NULL), -EPERM);
        CHECK_RC(daos_local2global(peer, NULL, &size), -EPERM);
        /* refreshing the peer in place keeps its handle */
        daos_handle_t again = peer;
        CHECK_RC(daos_global2local(g, size, &again, NULL), 0);
        CHECK_EQ(again.cookie, peer.cookie);
        /* an ordinary handle has nothing to share */
        CHECK_RC(daos_container_open(p, DAOS_COO_RO, 1, &st, &plain, NULL), 0);
        CHECK_RC(daos_local2global(plain, NULL, &size), -EINVAL);
        CHECK_RC(daos_container_close(plain, NULL), 0);
        /* the master's close revokes the peer */
        CHECK_RC(daos_container_close(m, NULL), 0);
        struct daos_epoch_info info;
        CHECK_RC(daos_epoch_query(peer, &info, NULL), -EPERM);
        daos_handle_t other = {0};
        CHECK_RC(daos_global2local(g, size, &other, NULL), -EPERM);
        CHECK_RC(daos_container_close(peer, NULL), 0);
        CHECK_RC(daos_container_close(peer, NULL), -EBADF);
        free(g);
    }

    /* asynchronously */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    cpath(q, sizeof q, "c-async");
    coh.cookie = 0;
    st = 99;
    CHECK_RC(daos_container_open(q, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_CO_OPEN);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK(coh.cookie != 0);
    CHECK_RC(daos_container_close(coh, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_CO_CLOSE);
    cpath(q, sizeof q, "c-async-missing");
    daos_handle_t keep = { 0x777 };
    int rc = daos_container_open(q, DAOS_COO_RW, 1, &st, &keep, &ev);
    if (rc == 0) {
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
        CHECK_EQ(ev.ev_error, -ENOENT);
    } else {
        CHECK_RC(rc, -ENOENT);
    }
    CHECK_EQ(keep.cookie, 0x777);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

static void test_open_bad_modes(void)
{
    char p[256], f[256];
    cpath(p, sizeof p, "c-modes");
    daos_container_status_t st = 99;
    daos_handle_t coh = { 0 };
    unsigned bad[] = { 0, DAOS_COO_CREATE, DAOS_COO_RO | DAOS_COO_RW,
                       DAOS_COO_RO | DAOS_COO_RW | DAOS_COO_CREATE, DAOS_COO_RW | (1u << 4),
                       DAOS_COO_RW | DAOS_COO_CREATE | (1u << 31), DAOS_COO_OWN_RECOV };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(daos_container_open(p, bad[i], 1, &st, &coh, NULL), -EINVAL);
        struct stat sb;
        CHECK(stat(p, &sb) != 0); /* a refused CREATE made nothing */
    }
    CHECK_EQ(coh.cookie, 0);
    CHECK_EQ(st, 99);
    /* the same bad modes on an existing container */
    coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        daos_handle_t c = { 0 };
        CHECK_RC(daos_container_open(p, bad[i], 1, &st, &c, NULL), -EINVAL);
        CHECK_EQ(c.cookie, 0);
    }

    /* a regular file that is not a container; a directory */
    cpath(f, sizeof f, "plain.txt");
    FILE *fp = fopen(f, "w");
    CHECK(fp != NULL);
    if (fp) { fputs("this is not a container\n", fp); fclose(fp); }
    CHECK_RC(daos_container_open(f, DAOS_COO_RO, 1, &st, &coh, NULL), -EINVAL);
    CHECK_RC(daos_container_open(f, DAOS_COO_RW, 1, &st, &coh, NULL), -EINVAL);
    CHECK_RC(daos_container_open(f, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), -EINVAL);
    cpath(f, sizeof f, "empty");
    fp = fopen(f, "w");
    if (fp) fclose(fp);
    CHECK_RC(daos_container_open(f, DAOS_COO_RW, 1, &st, &coh, NULL), -EINVAL);
    cpath(f, sizeof f, "adir");
    CHECK_RC(mkdir(f, 0755), 0);
    CHECK_RC(daos_container_open(f, DAOS_COO_RW, 1, &st, &coh, NULL), -EINVAL);
    CHECK_RC(daos_container_open(f, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), -EINVAL);
    /* the store's own metadata is not a container */
    snprintf(f, sizeof f, "%s/.daos", g_root);
    CHECK_RC(daos_container_open(f, DAOS_COO_RO, 1, &st, &coh, NULL), -EINVAL);
    /* the plain file is untouched */
    cpath(f, sizeof f, "plain.txt");
    char line[64] = { 0 };
    fp = fopen(f, "r");
    if (fp) { CHECK(fgets(line, sizeof line, fp) != NULL); fclose(fp); }
    CHECK(strcmp(line, "this is not a container\n") == 0);
}

static void test_permissions(void)
{
    char p[256];
    cpath(p, sizeof p, "c-perm");
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(chmod(p, 0444), 0);
    if (geteuid() != 0) {
        daos_handle_t c = { 0 };
        CHECK_RC(daos_container_open(p, DAOS_COO_RW, 1, &st, &c, NULL), -EACCES);
        CHECK_EQ(c.cookie, 0);
        c = copen(p, DAOS_COO_RO, &st);
        CHECK_RC(daos_container_close(c, NULL), 0);
        CHECK_RC(chmod(p, 0000), 0);
        CHECK_RC(daos_container_open(p, DAOS_COO_RO, 1, &st, &c, NULL), -EACCES);
    } else {
        printf("   SKIP: running as root, permissions do not refuse root; "
               "checking -EACCES in a child that drops to uid/gid 65534 instead\n");
        /* let the unprivileged child reach the container */
        CHECK_RC(chmod(g_root, 0755), 0);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            int bad = 0;
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
            daos_handle_t c = { 0 };
            daos_container_status_t s2;
            int rc = daos_container_open(p, DAOS_COO_RW, 1, &s2, &c, NULL);
            if (rc != -EACCES) {
                fprintf(stderr, "child: open RW of a 0444 container gave %d (%s), want -EACCES\n", rc,
                        rc < 0 ? strerror(-rc) : "ok");
                bad = 1;
            }
            if (c.cookie != 0) bad = 1;
            _exit(bad);
        }
        CHECK(pid > 0);
        int ws = 0;
        CHECK_EQ(waitpid(pid, &ws, 0), pid);
        CHECK(WIFEXITED(ws));
        if (WIFEXITED(ws) && WEXITSTATUS(ws) == 100)
            printf("   SKIP: could not drop privileges in the child\n");
        else
            CHECK_EQ(WEXITSTATUS(ws), 0);
        CHECK_RC(chmod(g_root, 0700), 0);
    }
    CHECK_RC(chmod(p, 0644), 0);
}

static void test_close(void)
{
    char p[256];
    cpath(p, sizeof p, "c-close");
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[1] = { 0 };
    add_shards(coh, 1, 1, tg, NULL);
    daos_handle_t oh1, oh2;
    CHECK_RC(daos_object_open(coh, h_oid(0, 1), DAOS_OBJ_RW, &oh1, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid(0, 2), DAOS_OBJ_RO, &oh2, NULL), 0);
    CHECK_EQ(oh1.cookie & 7, 4);
    char buf[16] = "0123456789abcdef";
    CHECK_RC(h_write(oh1, 1, 0, buf, 16), 0);
    CHECK_RC(commit(coh, 1), 0);
    /* a second handle on the same container is independent */
    daos_handle_t other = copen(p, DAOS_COO_RO, &st);

    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), -EBADF);
    struct daos_container_info ci;
    daos_epoch_t e = H_HIGHEST;
    CHECK_RC(daos_container_query(coh, &e, &ci, NULL), -EBADF);
    struct daos_epoch_info ei;
    CHECK_RC(daos_epoch_query(coh, &ei, NULL), -EBADF);
    daos_handle_t oh3 = { 0 };
    CHECK_RC(daos_object_open(coh, h_oid(0, 1), DAOS_OBJ_RO, &oh3, NULL), -EBADF);
    CHECK_EQ(oh3.cookie, 0);
    /* object handles opened through it are closed too */
    char out[16];
    CHECK_RC(h_read(oh1, 1, 0, out, 16), -EBADF);
    CHECK_RC(h_write(oh1, 2, 0, buf, 16), -EBADF);
    CHECK_RC(h_read(oh2, 1, 0, out, 16), -EBADF);
    CHECK_RC(daos_object_close(oh1, NULL), -EBADF);
    CHECK_RC(daos_object_close(oh2, NULL), -EBADF);
    /* the other handle still works */
    memset(out, 0, sizeof out);
    CHECK_RC(get(other, h_oid(0, 1), 1, 0, out, 16), 0);
    CHECK(memcmp(out, buf, 16) == 0);
    CHECK_RC(daos_container_close(other, NULL), 0);
    /* other handle types are not container handles */
    daos_handle_t eqh;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_container_close(eqh, NULL), -EBADF);
    CHECK_RC(daos_container_close((daos_handle_t){ 0 }, NULL), -EBADF);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

static void test_query(void)
{
    char p[256];
    cpath(p, sizeof p, "c-query");
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[3] = { 0, 1, 0 };
    int ids[3] = { -1, -1, -1 };
    add_shards(coh, 1, 3, tg, ids);
    CHECK_EQ(ids[0], 0);
    CHECK_EQ(ids[1], 1);
    CHECK_EQ(ids[2], 2);
    CHECK_RC(put(coh, h_oid(1, 1), 1, 0, "x", 1), 0);
    CHECK_RC(commit(coh, 1), 0);

    struct stat sb;
    CHECK_RC(stat(p, &sb), 0);
    struct daos_container_info ci;
    memset(&ci, 0x5a, sizeof ci);
    daos_epoch_t e = H_HIGHEST;
    CHECK_RC(daos_container_query(coh, &e, &ci, NULL), 0);
    CHECK_EQ(e.seq, 1); /* HIGHEST in: HSE out */
    CHECK_EQ(ci.ci_nshard, 3);
    CHECK_EQ(ci.ci_nshard_stuck, 0);
    CHECK_EQ(ci.ci_nshard_disabled, 0);
    CHECK_EQ(ci.ci_uid, sb.st_uid);
    CHECK_EQ(ci.ci_gid, sb.st_gid);
    /* an epoch above HCE is also set to HSE */
    e = h_ep(77);
    CHECK_RC(daos_container_query(coh, &e, &ci, NULL), 0);
    CHECK_EQ(e.seq, 1);
    /* a committed epoch stays */
    e = h_ep(1);
    CHECK_RC(daos_container_query(coh, &e, &ci, NULL), 0);
    CHECK_EQ(e.seq, 1);

    /* a disabled shard */
    int dis[1] = { 2 };
    CHECK_RC(daos_shard_disable(coh, h_ep(2), 1, dis, NULL), 0);
    e = H_HIGHEST;
    CHECK_RC(daos_container_query(coh, &e, &ci, NULL), 0);
    CHECK_EQ(ci.ci_nshard, 3);
    CHECK_EQ(ci.ci_nshard_disabled, 1);
    CHECK_EQ(ci.ci_nshard_stuck, 0);

    /* NULL arguments; out-parameters untouched on failure */
    memset(&ci, 0x5a, sizeof ci);
    struct daos_container_info before = ci;
    e = H_HIGHEST;
    CHECK_RC(daos_container_query(coh, NULL, &ci, NULL), -EINVAL);
    CHECK_RC(daos_container_query(coh, &e, NULL, NULL), -EINVAL);
    CHECK(memcmp(&ci, &before, sizeof ci) == 0);
    CHECK_EQ(e.seq, (uint64_t)DAOS_EPOCH_HIGHEST);

    /* asynchronously */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_container_query(coh, &e, &ci, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_CO_QUERY);
    CHECK_EQ(ci.ci_nshard, 3);
    CHECK_EQ(e.seq, 1);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* st_blocks is the space the container uses (SPEC §5): 1 MiB of data shows */
    cpath(p, sizeof p, "c-blocks");
    coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned t0[1] = { 0 };
    add_shards(coh, 1, 1, t0, NULL);
    char *big = malloc(1 << 20);
    h_fill(big, 1 << 20, 9);
    CHECK_RC(put(coh, h_oid(0, 1), 1, 0, big, 1 << 20), 0);
    CHECK_RC(commit(coh, 1), 0);
    free(big);
    CHECK_RC(stat(p, &sb), 0);
    if ((long long)sb.st_blocks * 512 < (1LL << 20))
        fprintf(stderr, "   st_blocks of a container holding 1 MiB: %lld (x512 = %lld bytes)\n",
                (long long)sb.st_blocks, (long long)sb.st_blocks * 512);
    /* Known gap: a container's data lives in shards on the targets, not in
     * its file, so st_blocks counts the metadata only (checked only with
     * DAOS_RS_TEST_ST_BLOCKS). */
    if (getenv("DAOS_RS_TEST_ST_BLOCKS"))
        CHECK((long long)sb.st_blocks * 512 >= (1LL << 20));
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_list_shard(void)
{
    char p[256];
    cpath(p, sizeof p, "c-list");
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned ids[16];
    /* empty container */
    CHECK_EQ(list_all(coh, DAOS_SHARD_LS_ALL, ids, 4), 0);

    unsigned tg[10];
    int want[10];
    for (int i = 0; i < 10; i++) { tg[i] = i % 2; want[i] = i * 3 + 1; } /* 1, 4, 7, ... 28 */
    add_shards(coh, 1, 10, tg, want);
    CHECK_EQ(want[9], 28);
    CHECK_EQ(list_all(coh, DAOS_SHARD_LS_ALL, ids, 16), 10);
    for (int i = 0; i < 10; i++) CHECK_EQ(ids[i], (unsigned)(i * 3 + 1)); /* increasing order */
    CHECK_EQ(list_all(coh, DAOS_SHARD_LS_STUCK, ids, 16), 0);
    CHECK_EQ(list_all(coh, DAOS_SHARD_LS_DISABLED, ids, 16), 0);

    /* paging: 4 + 4 + 2 */
    daos_off_t anchor = 0;
    unsigned got[12], ngot = 0;
    for (int call = 0; call < 3; call++) {
        unsigned page[4];
        memset(page, 0x5a, sizeof page);
        CHECK_RC(daos_container_list_shard(coh, h_ep(0), DAOS_SHARD_LS_ALL, &anchor, 4, page, NULL), 0);
        for (int i = 0; i < 4; i++)
            if (page[i] != NONE_U && ngot < 12) got[ngot++] = page[i];
        if (call < 2) {
            CHECK(anchor != DAOS_LIST_END);
            CHECK(page[3] != NONE_U);
        } else {
            CHECK_EQ(anchor, DAOS_LIST_END); /* everything listed */
            CHECK_EQ(page[2], NONE_U);        /* unused slots */
            CHECK_EQ(page[3], NONE_U);
        }
    }
    CHECK_EQ(ngot, 10);
    for (unsigned i = 0; i < ngot; i++) CHECK_EQ(got[i], (unsigned)(i * 3 + 1));
    /* 5 + 5: END on the call that listed the last one */
    anchor = 0;
    unsigned page5[5];
    CHECK_RC(daos_container_list_shard(coh, h_ep(0), DAOS_SHARD_LS_ALL, &anchor, 5, page5, NULL), 0);
    CHECK(anchor != DAOS_LIST_END);
    CHECK_EQ(page5[0], 1);
    CHECK_RC(daos_container_list_shard(coh, h_ep(0), DAOS_SHARD_LS_ALL, &anchor, 5, page5, NULL), 0);
    CHECK_EQ(anchor, DAOS_LIST_END);
    CHECK_EQ(page5[0], 16);
    CHECK_EQ(page5[4], 28);

    /* disabled ones */
    int dis[2] = { 7, 22 };
    CHECK_RC(daos_shard_disable(coh, h_ep(1), 2, dis, NULL), 0);
    CHECK_EQ(dis[0], 7);
    CHECK_EQ(dis[1], 22);
    int n = list_all(coh, DAOS_SHARD_LS_DISABLED, ids, 16);
    CHECK_EQ(n, 2);
    CHECK_EQ(ids[0], 7);
    CHECK_EQ(ids[1], 22);
    CHECK_EQ(list_all(coh, DAOS_SHARD_LS_ALL, ids, 16), 10); /* disabled shards are still shards */
    CHECK_EQ(list_all(coh, DAOS_SHARD_LS_STUCK, ids, 16), 0);
    /* paging through the disabled ones, 1 at a time */
    anchor = 0;
    unsigned one[1];
    CHECK_RC(daos_container_list_shard(coh, h_ep(0), DAOS_SHARD_LS_DISABLED, &anchor, 1, one, NULL), 0);
    CHECK_EQ(one[0], 7);
    CHECK(anchor != DAOS_LIST_END);
    CHECK_RC(daos_container_list_shard(coh, h_ep(0), DAOS_SHARD_LS_DISABLED, &anchor, 1, one, NULL), 0);
    CHECK_EQ(one[0], 22);
    CHECK_EQ(anchor, DAOS_LIST_END);

    /* bad arguments: nothing written */
    anchor = 0;
    memset(ids, 0x5a, sizeof ids);
    CHECK_RC(daos_container_list_shard(coh, h_ep(0), 3, &anchor, 16, ids, NULL), -EINVAL);
    CHECK_RC(daos_container_list_shard(coh, h_ep(0), 0xffffffffu, &anchor, 16, ids, NULL), -EINVAL);
    CHECK_EQ(anchor, 0);
    CHECK_EQ(ids[0], 0x5a5a5a5a);
    CHECK_RC(daos_container_list_shard(coh, h_ep(0), DAOS_SHARD_LS_ALL, NULL, 16, ids, NULL), -EINVAL);
    CHECK_RC(daos_container_list_shard(coh, h_ep(0), DAOS_SHARD_LS_ALL, &anchor, 16, NULL, NULL), -EINVAL);

    /* asynchronously */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    anchor = 0;
    memset(ids, 0x5a, sizeof ids);
    CHECK_RC(daos_container_list_shard(coh, h_ep(0), DAOS_SHARD_LS_DISABLED, &anchor, 4, ids, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_CO_LS_SHARD);
    CHECK_EQ(ids[0], 7);
    CHECK_EQ(ids[1], 22);
    CHECK_EQ(ids[2], NONE_U);
    CHECK_EQ(anchor, DAOS_LIST_END);
    CHECK_REFUSED(daos_container_list_shard(coh, h_ep(0), 9, &anchor, 4, ids, &ev), -EINVAL, eqh, &ev);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_listen(void)
{
    char p[256];
    cpath(p, sizeof p, "c-listen");
    daos_container_status_t st;
    daos_handle_t a = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    daos_handle_t b = copen(p, DAOS_COO_RW, &st);
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);

    /* pending until another handle adds a shard */
    struct daos_shard_event sevs[4];
    memset(sevs, 0xee, sizeof sevs);
    unsigned sevn = 4;
    CHECK_RC(daos_container_listen(a, &sevn, sevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    unsigned tg[1] = { 1 };
    int ids[1] = { 5 };
    add_shards(b, 3, 1, tg, ids);
    CHECK_EQ(ids[0], 5);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_CO_LISTEN);
    CHECK_EQ(sevn, 1);
    CHECK_EQ(sevs[0].se_shard, 5);
    CHECK_EQ(sevs[0].se_target, 1);
    CHECK_EQ(sevs[0].se_epoch.seq, 3);
    CHECK_EQ(sevs[0].se_status, 100);
    CHECK_EQ(sevs[1].se_shard, 0xeeeeeeeeu);

    /* seen: pending again; the same handle adds one */
    sevn = 4;
    CHECK_RC(daos_container_listen(a, &sevn, sevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    unsigned tg0[1] = { 0 };
    ids[0] = -1;
    add_shards(a, 2, 1, tg0, ids);
    CHECK_EQ(ids[0], 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(sevn, 1);
    CHECK_EQ(sevs[0].se_shard, 0);
    CHECK_EQ(sevs[0].se_target, 0);
    CHECK_EQ(sevs[0].se_epoch.seq, 2);

    /* disabling a shard: se_status -1 */
    sevn = 4;
    CHECK_RC(daos_container_listen(a, &sevn, sevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    int dis[1] = { 5 };
    CHECK_RC(daos_shard_disable(b, h_ep(4), 1, dis, NULL), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(sevn, 1);
    CHECK_EQ(sevs[0].se_shard, 5);
    CHECK_EQ(sevs[0].se_target, 1);
    CHECK_EQ(sevs[0].se_status, DAOS_TARGET_ST_DISABLED);
    CHECK_EQ(sevs[0].se_epoch.seq, 4);

    /* b has not listened yet: its first listen sees all three changes at once */
    memset(sevs, 0xee, sizeof sevs);
    sevn = 4;
    CHECK_RC(daos_container_listen(b, &sevn, sevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 2 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK(sevn >= 1 && sevn <= 3);
    printf("   a listener that missed 3 changes got %u event(s)\n", sevn);
    /* a handle opened now has seen everything: pending; the abort ends it */
    daos_handle_t c = copen(p, DAOS_COO_RO, &st);
    sevn = 4;
    CHECK_RC(daos_container_listen(c, &sevn, sevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    CHECK_RC(daos_event_abort(&ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, -EINTR);
    /* closing the handle ends a pending listen with -EBADF */
    sevn = 4;
    CHECK_RC(daos_container_listen(c, &sevn, sevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    CHECK_RC(daos_container_close(c, NULL), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, -EBADF);

    /* a synchronous listen with a change unseen returns at once */
    unsigned tg2[1] = { 0 };
    ids[0] = -1;
    add_shards(b, 5, 1, tg2, ids);
    sevn = 4;
    CHECK_RC(daos_container_listen(a, &sevn, sevs, NULL), 0);
    CHECK_EQ(sevn, 1);
    CHECK_EQ(sevs[0].se_shard, (unsigned)ids[0]);

    /* bad arguments */
    sevn = 0;
    CHECK_REFUSED(daos_container_listen(a, &sevn, sevs, &ev), -EINVAL, eqh, &ev);
    CHECK_RC(daos_container_listen(a, &sevn, sevs, NULL), -EINVAL);
    sevn = 4;
    CHECK_REFUSED(daos_container_listen(a, NULL, sevs, &ev), -EINVAL, eqh, &ev);
    CHECK_REFUSED(daos_container_listen(a, &sevn, NULL, &ev), -EINVAL, eqh, &ev);
    CHECK_REFUSED(daos_container_listen(c, &sevn, sevs, &ev), -EBADF, eqh, &ev);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);

    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(a, NULL), 0);
    CHECK_RC(daos_container_close(b, NULL), 0);
}

struct child_layout { const char *path; int add; unsigned target; int shard; uint64_t epoch; };

/* In another process: adds a shard on `target`, or disables `shard`, at
 * `epoch` (the change stamped in h_xp()). */
static int child_layout_change(void *p)
{
    struct child_layout *c = p;
    daos_handle_t coh = { 0 };
    daos_container_status_t st;
    int rc = daos_container_open(c->path, DAOS_COO_RW, 1, &st, &coh, NULL);
    if (rc != 0) return 10;
    unsigned tg[1] = { c->target };
    int sh[1] = { c->shard };
    h_xp()->start_us = now_us();
    rc = c->add ? daos_shard_add(coh, h_ep(c->epoch), 1, tg, sh, NULL)
                : daos_shard_disable(coh, h_ep(c->epoch), 1, sh, NULL);
    h_xp()->done_us = now_us();
    if (rc != 0) return 11;
    return daos_container_close(coh, NULL) == 0 ? 0 : 12;
}

/* SPEC §5: daos_container_listen completes when the layout changes "in this or another process". */
static void test_listen_other_process(void)
{
    char p[256];
    cpath(p, sizeof p, "c-listen-proc");
    daos_container_status_t st;
    daos_handle_t a = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    struct daos_shard_event sevs[4];
    memset(sevs, 0xee, sizeof sevs);
    unsigned sevn = 4;
    /* pending before the other process changes the layout, woken within a second */
    CHECK_RC(daos_container_listen(a, &sevn, sevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    struct child_layout add = { p, 1, 1, 3, 1 };
    pid_t pid = h_spawn(child_layout_change, &add);
    CHECK(pid > 0);
    struct daos_event *e = h_woken_by(pid, eqh, 1 * SEC, "a container listen");
    CHECK_PTR_EQ(e, &ev);
    if (e == NULL) {
        CHECK_RC(daos_event_abort(&ev), 0);
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    } else {
        CHECK_EQ(ev.ev_error, 0);
        CHECK_EQ(sevn, 1);
        CHECK_EQ(sevs[0].se_shard, 3);
        CHECK_EQ(sevs[0].se_target, 1);
        CHECK_EQ(sevs[0].se_epoch.seq, 1);
    }
    /* the new shard is usable through the handle opened before it was added
     * (SPEC §6: layout changes take effect at once; §9: a query refreshes) */
    struct daos_epoch_info ei;
    CHECK_RC(daos_epoch_query(a, &ei, NULL), 0);
    struct daos_container_info ci;
    daos_epoch_t eq = H_HIGHEST;
    CHECK_RC(daos_container_query(a, &eq, &ci, NULL), 0);
    CHECK_EQ(ci.ci_nshard, 1);
    unsigned ids[4];
    CHECK_EQ(list_all(a, DAOS_SHARD_LS_ALL, ids, 4), 1);
    CHECK_EQ(ids[0], 3);
    CHECK_RC(put(a, h_oid(3, 1), 2, 0, "z", 1), 0);

    /* a shard disabled by another process: a read-only handle's listen hears it */
    daos_handle_t r = copen(p, DAOS_COO_RO, &st);
    sevn = 4;
    CHECK_RC(daos_container_listen(r, &sevn, sevs, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    struct child_layout dis = { p, 0, 0, 3, 5 };
    pid = h_spawn(child_layout_change, &dis);
    e = h_woken_by(pid, eqh, 1 * SEC, "a container listen");
    CHECK_PTR_EQ(e, &ev);
    if (e == NULL) {
        CHECK_RC(daos_event_abort(&ev), 0);
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    } else {
        CHECK_EQ(ev.ev_error, 0);
        CHECK_EQ(sevn, 1);
        CHECK_EQ(sevs[0].se_shard, 3);
        CHECK_EQ(sevs[0].se_status, DAOS_TARGET_ST_DISABLED);
        CHECK_EQ(sevs[0].se_epoch.seq, 5);
    }
    CHECK_RC(daos_container_close(r, NULL), 0);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(a, NULL), 0);
}

static void test_flush(void)
{
    char p[256];
    cpath(p, sizeof p, "c-flush");
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[2] = { 0, 1 };
    add_shards(coh, 1, 2, tg, NULL);
    CHECK_RC(daos_container_flush(coh, h_ep(1), NULL), 0); /* nothing written yet */
    char buf[4096];
    h_fill(buf, sizeof buf, 3);
    CHECK_RC(put(coh, h_oid(0, 1), 1, 0, buf, sizeof buf), 0);
    CHECK_RC(put(coh, h_oid(1, 1), 2, 0, buf, sizeof buf), 0);
    CHECK_RC(daos_container_flush(coh, h_ep(1), NULL), 0);
    CHECK_RC(daos_container_flush(coh, H_HIGHEST, NULL), 0);
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_container_flush(coh, h_ep(2), &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_CO_FLUSH);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    /* a flush is not a commit */
    CHECK_EQ(hce_of(coh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_flush(coh, h_ep(1), NULL), -EBADF);
    coh = copen(p, DAOS_COO_RO, &st);
    char out[4096];
    memset(out, 0x77, sizeof out);
    CHECK_RC(get(coh, h_oid(0, 1), H_HIGHEST.seq, 0, out, sizeof out), 0);
    CHECK(h_all_zero(out, sizeof out)); /* flushed but never committed: discarded at close */
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_unlink(void)
{
    char p[256], q[256];
    cpath(p, sizeof p, "c-unlink");
    int before = shard_dirs();
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[3] = { 0, 1, 1 };
    add_shards(coh, 1, 3, tg, NULL);
    char buf[8192];
    h_fill(buf, sizeof buf, 11);
    CHECK_RC(put(coh, h_oid(0, 9), 1, 100, buf, sizeof buf), 0);
    CHECK_RC(put(coh, h_oid(2, 9), 1, 0, buf, sizeof buf), 0);
    CHECK_RC(commit(coh, 1), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_EQ(shard_dirs(), before + 2); /* one container directory per target */

    CHECK_RC(daos_container_unlink(p, NULL), 0);
    struct stat sb;
    CHECK(stat(p, &sb) != 0 && errno == ENOENT);
    CHECK_EQ(shard_dirs(), before);
    CHECK_RC(daos_container_open(p, DAOS_COO_RW, 1, &st, &coh, NULL), -ENOENT);
    CHECK_RC(daos_container_unlink(p, NULL), -ENOENT);
    /* a new container at the same path is empty */
    coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned ids[4];
    CHECK_EQ(list_all(coh, DAOS_SHARD_LS_ALL, ids, 4), 0);
    CHECK_EQ(hce_of(coh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_unlink(p, NULL), 0);

    /* not a container: refused, and the file stays */
    cpath(q, sizeof q, "not-a-container");
    FILE *fp = fopen(q, "w");
    if (fp) { fputs("data\n", fp); fclose(fp); }
    CHECK_RC(daos_container_unlink(q, NULL), -EINVAL);
    CHECK_RC(stat(q, &sb), 0);
    cpath(q, sizeof q, "a-dir");
    CHECK_RC(mkdir(q, 0755), 0);
    CHECK_RC(daos_container_unlink(q, NULL), -EINVAL);
    CHECK_RC(stat(q, &sb), 0);
    CHECK_RC(daos_container_unlink(NULL, NULL), -EINVAL);

    /* asynchronously */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_unlink(p, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_CO_UNLINK);
    CHECK(stat(p, &sb) != 0);
    int rc = daos_container_unlink(p, &ev);
    if (rc == 0) {
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
        CHECK_EQ(ev.ev_error, -ENOENT);
    } else {
        CHECK_RC(rc, -ENOENT);
    }
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

static void test_unlink_while_open(void)
{
    char p[256];
    cpath(p, sizeof p, "c-unlink-open");
    int before = shard_dirs();
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[2] = { 0, 1 };
    add_shards(coh, 1, 2, tg, NULL);
    char buf[20000], out[20000];
    h_fill(buf, sizeof buf, 21);
    CHECK_RC(put(coh, h_oid(1, 4), 1, 0, buf, sizeof buf), 0);
    CHECK_RC(commit(coh, 1), 0);
    daos_handle_t oh;
    CHECK_RC(daos_object_open(coh, h_oid(1, 4), DAOS_OBJ_RW, &oh, NULL), 0);
    daos_handle_t ro = copen(p, DAOS_COO_RO, &st);

    CHECK_RC(daos_container_unlink(p, NULL), 0);
    struct stat sb;
    CHECK(stat(p, &sb) != 0);
    daos_handle_t c2 = { 0 };
    CHECK_RC(daos_container_open(p, DAOS_COO_RO, 1, &st, &c2, NULL), -ENOENT);

    /* the open handles keep working */
    memset(out, 0, sizeof out);
    CHECK_RC(h_read(oh, 1, 0, out, sizeof out), 0);
    CHECK(memcmp(out, buf, sizeof out) == 0);
    memset(out, 0, sizeof out);
    CHECK_RC(get(ro, h_oid(1, 4), 1, 0, out, sizeof out), 0);
    CHECK(memcmp(out, buf, sizeof out) == 0);
    CHECK_RC(h_write(oh, 2, 5, "later", 5), 0);
    CHECK_RC(commit(coh, 2), 0);
    memset(out, 0, sizeof out);
    CHECK_RC(h_read(oh, 2, 0, out, 20), 0);
    CHECK(memcmp(out, buf, 5) == 0 && memcmp(out + 5, "later", 5) == 0);
    CHECK(memcmp(out + 10, buf + 10, 10) == 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    struct daos_container_info ci;
    daos_epoch_t e = H_HIGHEST;
    CHECK_RC(daos_container_query(coh, &e, &ci, NULL), 0);
    CHECK_EQ(ci.ci_nshard, 2);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* still one handle: data still there */
    memset(out, 0, sizeof out);
    CHECK_RC(get(ro, h_oid(1, 4), 1, 0, out, sizeof out), 0);
    CHECK(memcmp(out, buf, sizeof out) == 0);
    CHECK_RC(daos_container_close(ro, NULL), 0);
    /* the space is reclaimed at the last close */
    CHECK_EQ(shard_dirs(), before);
}

/* The other process of test_unlink_while_open_elsewhere: opens the container,
 * says so; once told (it is unlinked and closed in the parent by then),
 * reads, writes, commits and reads again, says so; once told, closes. */
static int child_keeps_working(const char *p, int up, int down)
{
    daos_handle_t coh = { 0 };
    daos_container_status_t st;
    if (daos_container_open(p, DAOS_COO_RW, 1, &st, &coh, NULL) != 0) return 10;
    h_say(up);
    if (h_hear(down) != 0) return 11;
    char buf[20000], out[20000];
    h_fill(buf, sizeof buf, 31);
    if (get(coh, h_oid(1, 4), 1, 0, out, sizeof out) != 0) return 12;
    if (memcmp(out, buf, sizeof out) != 0) return 13;
    if (put(coh, h_oid(0, 4), 2, 5, "later", 5) != 0) return 14;
    if (commit(coh, 2) != 0) return 15;
    if (hce_of(coh) != 2) return 16;
    memset(out, 0, sizeof out);
    if (get(coh, h_oid(0, 4), 2, 0, out, 10) != 0) return 17;
    if (!h_all_zero(out, 5) || memcmp(out + 5, "later", 5) != 0) return 18;
    if (get(coh, h_oid(1, 4), 2, 0, out, sizeof out) != 0 || memcmp(out, buf, sizeof out) != 0) return 19;
    h_say(up);
    if (h_hear(down) != 0) return 20;
    if (daos_container_close(coh, NULL) != 0) return 21;
    return 0;
}

static int registry_dirs(void)
{
    char pat[300];
    snprintf(pat, sizeof pat, "%s/.daos/open/c-*", g_root);
    return count_prefix(pat);
}

/* SPEC §5: unlinked while another process has it open: that process keeps
 * reading, writing and committing; the space goes at its close. */
static void test_unlink_while_open_elsewhere(void)
{
    char p[256];
    cpath(p, sizeof p, "c-unlink-elsewhere");
    int before = shard_dirs(), regs = registry_dirs();
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[2] = { 0, 1 };
    add_shards(coh, 1, 2, tg, NULL);
    char buf[20000];
    h_fill(buf, sizeof buf, 31);
    CHECK_RC(put(coh, h_oid(1, 4), 1, 0, buf, sizeof buf), 0);
    CHECK_RC(commit(coh, 1), 0);
    int down[2], up[2];
    CHECK_RC(pipe(down), 0);
    CHECK_RC(pipe(up), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        _exit(child_keeps_working(p, up[1], down[0]));
    }
    close(down[0]);
    close(up[1]);
    CHECK(pid > 0);
    CHECK_RC(h_hear(up[0]), 0); /* open in the other process */
    CHECK_RC(daos_container_unlink(p, NULL), 0);
    struct stat sb;
    CHECK(stat(p, &sb) != 0 && errno == ENOENT);
    daos_handle_t c2 = { 0 };
    CHECK_RC(daos_container_open(p, DAOS_COO_RO, 1, &st, &c2, NULL), -ENOENT);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_EQ(shard_dirs(), before + 2); /* the last close here, but open elsewhere */
    h_say(down[1]);
    CHECK_RC(h_hear(up[0]), 0); /* it read, wrote and committed */
    CHECK_EQ(shard_dirs(), before + 2);
    CHECK(stat(p, &sb) != 0); /* its commit stays in memory */
    h_say(down[1]);
    close(down[1]);
    close(up[0]);
    int ws = 0;
    CHECK_EQ(waitpid(pid, &ws, 0), pid);
    CHECK(WIFEXITED(ws));
    CHECK_EQ(WEXITSTATUS(ws), 0);
    /* its close was the last one anywhere: the space is reclaimed */
    CHECK_EQ(shard_dirs(), before);
    CHECK_EQ(registry_dirs(), regs);
}

/* st_ino of every regular file matching pattern */
static int inodes_of(const char *pattern, ino_t *out, int cap)
{
    glob_t g;
    int n = 0;
    if (glob(pattern, 0, NULL, &g) != 0) return 0;
    for (size_t i = 0; i < g.gl_pathc && n < cap; i++) {
        struct stat sb;
        if (stat(g.gl_pathv[i], &sb) == 0 && S_ISREG(sb.st_mode)) out[n++] = sb.st_ino;
    }
    globfree(&g);
    return n;
}

static void test_snapshot(void)
{
    /* a store of its own, so that only this container's files are counted */
    char saved[128], p[256], s1[256], s2[256], pat[300];
    memcpy(saved, g_root, sizeof saved);
    CHECK_RC(h_new_store(g_root, sizeof g_root, "snap", 2), 0);
    cpath(p, sizeof p, "c-snap-src");
    cpath(s1, sizeof s1, "c-snap-at2");
    cpath(s2, sizeof s2, "c-snap-at1");
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[2] = { 0, 1 };
    add_shards(coh, 1, 2, tg, NULL);
    char a[4096], b[4096], c[4096], out[4096];
    h_fill(a, sizeof a, 1);
    h_fill(b, sizeof b, 2);
    h_fill(c, sizeof c, 3);
    CHECK_RC(put(coh, h_oid(0, 1), 1, 0, a, sizeof a), 0);
    CHECK_RC(put(coh, h_oid(1, 1), 1, 0, a, sizeof a), 0);
    CHECK_RC(commit(coh, 1), 0);
    CHECK_RC(put(coh, h_oid(0, 1), 2, 0, b, sizeof b), 0);
    CHECK_RC(commit(coh, 2), 0);

    /* the data files of the source before the snapshot */
    ino_t src[64];
    snprintf(pat, sizeof pat, "%s/.daos/targets/*/c-*/s-*/*.dat", g_root);
    int nsrc = inodes_of(pat, src, 64);
    CHECK(nsrc >= 2);

    CHECK_RC(daos_container_snapshot(coh, h_ep(2), s1, NULL), 0);
    CHECK_RC(daos_container_snapshot(coh, h_ep(1), s2, NULL), 0);
    /* costs metadata: the source's data files are shared by hard links */
    {
        glob_t g;
        int linked = 0, total = 0;
        if (glob(pat, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                struct stat sb;
                if (stat(g.gl_pathv[i], &sb) != 0) continue;
                for (int j = 0; j < nsrc; j++)
                    if (sb.st_ino == src[j]) {
                        total++;
                        if (sb.st_nlink >= 2) linked++;
                    }
            }
            globfree(&g);
        }
        /* each source file is seen under the source and under each snapshot */
        CHECK(total >= 2 * nsrc);
        CHECK_EQ(linked, total);
    }

    /* later changes of the source */
    CHECK_RC(put(coh, h_oid(0, 1), 3, 100, c, sizeof c), 0);
    CHECK_RC(put(coh, h_oid(1, 1), 3, 0, c, sizeof c), 0);
    CHECK_RC(daos_object_punch(coh, h_ep(3), h_oid(0, 1), 0, 50, NULL), 0);
    CHECK_RC(commit(coh, 3), 0);

    daos_handle_t sh = copen(s1, DAOS_COO_RW, &st);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_EQ(hce_of(sh), 2);
    memset(out, 0, sizeof out);
    CHECK_RC(get(sh, h_oid(0, 1), H_HIGHEST.seq, 0, out, sizeof out), 0);
    CHECK(memcmp(out, b, sizeof out) == 0);
    CHECK_RC(get(sh, h_oid(1, 1), H_HIGHEST.seq, 0, out, sizeof out), 0);
    CHECK(memcmp(out, a, sizeof out) == 0);
    /* independent: writing to the snapshot changes nothing in the source */
    CHECK_RC(put(sh, h_oid(1, 1), 3, 0, b, sizeof b), 0);
    CHECK_RC(commit(sh, 3), 0);
    CHECK_RC(get(coh, h_oid(1, 1), 3, 0, out, sizeof out), 0);
    CHECK(memcmp(out, c, sizeof out) == 0);
    CHECK_RC(get(sh, h_oid(1, 1), 3, 0, out, sizeof out), 0);
    CHECK(memcmp(out, b, sizeof out) == 0);
    CHECK_RC(daos_container_close(sh, NULL), 0);

    daos_handle_t sh1 = copen(s2, DAOS_COO_RO, &st);
    CHECK_EQ(hce_of(sh1), 1);
    CHECK_RC(get(sh1, h_oid(0, 1), H_HIGHEST.seq, 0, out, sizeof out), 0);
    CHECK(memcmp(out, a, sizeof out) == 0);
    CHECK_RC(daos_container_close(sh1, NULL), 0);

    /* epoch above HCE, existing path, NULL path, outside the store */
    char s3[256], outside[128];
    cpath(s3, sizeof s3, "c-snap-bad");
    CHECK_RC(daos_container_snapshot(coh, h_ep(4), s3, NULL), -EINVAL);
    CHECK_RC(daos_container_snapshot(coh, H_HIGHEST, s3, NULL), -EINVAL);
    struct stat sb;
    CHECK(stat(s3, &sb) != 0);
    CHECK_RC(daos_container_snapshot(coh, h_ep(3), s1, NULL), -EEXIST);
    CHECK_RC(daos_container_snapshot(coh, h_ep(3), p, NULL), -EEXIST);
    CHECK_RC(daos_container_snapshot(coh, h_ep(3), NULL, NULL), -EINVAL);
    CHECK_RC(h_tmpdir(outside, sizeof outside, "snapout"), 0);
    snprintf(s3, sizeof s3, "%s/snap", outside);
    int rc = daos_container_snapshot(coh, h_ep(3), s3, NULL);
    CHECK(rc == -EINVAL || rc == -ENOENT);
    CHECK(stat(s3, &sb) != 0);
    h_rmrf(outside);

    /* the snapshot outlives its source */
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_unlink(p, NULL), 0);
    sh = copen(s1, DAOS_COO_RO, &st);
    CHECK_RC(get(sh, h_oid(0, 1), 2, 0, out, sizeof out), 0);
    CHECK(memcmp(out, b, sizeof out) == 0);
    CHECK_RC(daos_container_close(sh, NULL), 0);
    CHECK_RC(daos_container_unlink(s1, NULL), 0);
    CHECK_RC(daos_container_unlink(s2, NULL), 0);
    CHECK_EQ(shard_dirs(), 0);
    h_rmrf(g_root);
    memcpy(g_root, saved, sizeof saved);
}

static void test_snapshot_disabled_and_async(void)
{
    char p[256], s[256];
    cpath(p, sizeof p, "c-snap2-src");
    cpath(s, sizeof s, "c-snap2");
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[3] = { 0, 1, 0 };
    add_shards(coh, 1, 3, tg, NULL);
    CHECK_RC(put(coh, h_oid(0, 1), 1, 0, "zero", 4), 0);
    CHECK_RC(put(coh, h_oid(2, 1), 1, 0, "two!", 4), 0);
    CHECK_RC(commit(coh, 1), 0);
    int dis[1] = { 1 };
    CHECK_RC(daos_shard_disable(coh, h_ep(2), 1, dis, NULL), 0);
    CHECK_RC(commit(coh, 2), 0);

    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_container_snapshot(coh, h_ep(2), s, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_CO_SNAPSHOT);
    /* disabled shards are not cloned */
    daos_handle_t sh = copen(s, DAOS_COO_RO, &st);
    unsigned ids[8];
    int n = list_all(sh, DAOS_SHARD_LS_ALL, ids, 8);
    CHECK_EQ(n, 2);
    CHECK_EQ(ids[0], 0);
    CHECK_EQ(ids[1], 2);
    char out[4];
    CHECK_RC(get(sh, h_oid(2, 1), 2, 0, out, 4), 0);
    CHECK(memcmp(out, "two!", 4) == 0);
    daos_handle_t oh = { 0 };
    CHECK_RC(daos_object_open(sh, h_oid(1, 1), DAOS_OBJ_RO, &oh, NULL), -ENOENT);
    CHECK_RC(daos_container_close(sh, NULL), 0);
    int rc = daos_container_snapshot(coh, h_ep(2), s, &ev);
    if (rc == 0) {
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
        CHECK_EQ(ev.ev_error, -EEXIST);
    } else {
        CHECK_RC(rc, -EEXIST);
    }
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

/* SPEC §5: FAULTY when a shard's target is disabled or missing */
static void test_status_faulty(void)
{
    char root[128], other[128], t1[256], p[256];
    CHECK_RC(h_tmpdir(root, sizeof root, "faulty"), 0);
    CHECK_RC(h_tmpdir(other, sizeof other, "faulty-t"), 0);
    char t0[256];
    snprintf(t0, sizeof t0, "%s/t0", other);
    snprintf(t1, sizeof t1, "%s/t1", other);
    const char *dirs[2] = { t0, t1 };
    CHECK_RC(daos_sys_format(root, 2, dirs, DAOS_SYS_FORMAT_NO_PROBE), 0);
    snprintf(p, sizeof p, "%s/c", root);
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[2] = { 0, 1 };
    add_shards(coh, 1, 2, tg, NULL);
    CHECK_RC(put(coh, h_oid(0, 1), 1, 0, "zero", 4), 0);
    CHECK_RC(commit(coh, 1), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    daos_handle_t sys;
    CHECK_RC(daos_sys_open(root, &sys, NULL), 0);
    CHECK_RC(daos_sys_target_set_status(sys, 1, DAOS_TARGET_ST_DISABLED), 0);
    coh = copen(p, DAOS_COO_RO, &st);
    CHECK_EQ(st, DAOS_CONTAINER_ST_FAULTY);
    char out[4];
    CHECK_RC(get(coh, h_oid(0, 1), 1, 0, out, 4), 0); /* the healthy shard still reads */
    CHECK(memcmp(out, "zero", 4) == 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_sys_target_set_status(sys, 1, DAOS_TARGET_ST_HEALTHY), 0);
    coh = copen(p, DAOS_COO_RO, &st);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* the directory of target 1 disappears: UNKNOWN, and the container is FAULTY */
    h_rmrf(t1);
    struct daos_target_info ti;
    memset(&ti, 0, sizeof ti);
    CHECK_RC(daos_sys_query_target(sys, 1, &ti, NULL), 0);
    CHECK_EQ(ti.ti_status, DAOS_TARGET_ST_UNKNOWN);
    CHECK_RC(daos_sys_query_target(sys, 0, &ti, NULL), 0);
    CHECK_EQ(ti.ti_status, 100);
    st = 99;
    coh.cookie = 0;
    CHECK_RC(daos_container_open(p, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_FAULTY);
    if (coh.cookie) {
        memset(out, 0, sizeof out);
        CHECK_RC(get(coh, h_oid(0, 1), 1, 0, out, 4), 0);
        CHECK(memcmp(out, "zero", 4) == 0);
        CHECK_RC(daos_container_close(coh, NULL), 0);
    }
    CHECK_RC(daos_sys_close(sys, NULL), 0);
    h_rmrf(root);
    h_rmrf(other);
}

static void test_read_only_handle(void)
{
    char p[256];
    cpath(p, sizeof p, "c-ro");
    daos_container_status_t st;
    daos_handle_t rw = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[1] = { 0 };
    add_shards(rw, 1, 1, tg, NULL);
    CHECK_RC(put(rw, h_oid(0, 1), 1, 0, "abc", 3), 0);
    CHECK_RC(commit(rw, 1), 0);
    CHECK_RC(daos_container_close(rw, NULL), 0);

    daos_handle_t ro = copen(p, DAOS_COO_RO, &st);
    unsigned t[1] = { 1 };
    int sh[1] = { -1 };
    CHECK_RC(daos_shard_add(ro, h_ep(2), 1, t, sh, NULL), -EPERM);
    CHECK_EQ(sh[0], -1);
    int dis[1] = { 0 };
    CHECK_RC(daos_shard_disable(ro, h_ep(2), 1, dis, NULL), -EPERM);
    unsigned failed = NONE_U;
    CHECK_RC(daos_epoch_commit(ro, h_ep(2), false, &failed, NULL), -EPERM);
    CHECK_RC(daos_epoch_abort(ro, h_ep(2), &failed, NULL), -EPERM);
    CHECK_EQ(failed, NONE_U);
    CHECK_RC(daos_object_punch(ro, h_ep(2), h_oid(0, 1), 0, 2, NULL), -EPERM);
    daos_handle_t oh = { 0 };
    CHECK_RC(daos_object_open(ro, h_oid(0, 1), DAOS_OBJ_RW, &oh, NULL), -EPERM);
    CHECK_RC(daos_object_open(ro, h_oid(0, 1), DAOS_OBJ_RW | DAOS_OBJ_IO_BUFFERED, &oh, NULL), -EPERM);
    CHECK_EQ(oh.cookie, 0);
    CHECK_RC(daos_object_open(ro, h_oid(0, 1), DAOS_OBJ_RO, &oh, NULL), 0);
    CHECK_RC(h_write(oh, 2, 0, "xyz", 3), -EPERM);
    char out[3];
    CHECK_RC(h_read(oh, 1, 0, out, 3), 0);
    CHECK(memcmp(out, "abc", 3) == 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    /* nothing changed */
    unsigned ids[4];
    CHECK_EQ(list_all(ro, DAOS_SHARD_LS_ALL, ids, 4), 1);
    CHECK_EQ(list_all(ro, DAOS_SHARD_LS_DISABLED, ids, 4), 0);
    CHECK_EQ(hce_of(ro), 1);
    /* the async forms refuse before dispatch */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_REFUSED(daos_epoch_commit(ro, h_ep(2), false, &failed, &ev), -EPERM, eqh, &ev);
    CHECK_REFUSED(daos_object_punch(ro, h_ep(2), h_oid(0, 1), 0, 2, &ev), -EPERM, eqh, &ev);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 0);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(ro, NULL), 0);
}

static void test_corrupt_metadata(void)
{
    char p[256];
    cpath(p, sizeof p, "c-corrupt");
    daos_container_status_t st;
    daos_handle_t coh = copen(p, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[1] = { 0 };
    add_shards(coh, 1, 1, tg, NULL);
    CHECK_RC(put(coh, h_oid(0, 3), 1, 0, "committed", 9), 0);
    CHECK_RC(commit(coh, 1), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* flip a byte in the middle of the container's metadata: the file
     * starts with magic, version, then the length of the metadata that
     * follows (the zeroed log area after it is not metadata) */
    int fd = open(p, O_RDWR);
    CHECK(fd >= 0);
    uint32_t mlen = 0;
    CHECK_EQ(pread(fd, &mlen, 4, 12), 4);
    CHECK(mlen > 32);
    off_t mid = 16 + mlen / 2;
    unsigned char byte = 0;
    CHECK_EQ(pread(fd, &byte, 1, mid), 1);
    byte ^= 0x5a;
    CHECK_EQ(pwrite(fd, &byte, 1, mid), 1);
    close(fd);

    st = 99;
    coh.cookie = 0;
    CHECK_RC(daos_container_open(p, DAOS_COO_RW, 1, &st, &coh, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_CORRUPT);
    if (coh.cookie == 0) return;
    /* the handle is read-only */
    unsigned t[1] = { 0 };
    int sh[1] = { -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(2), 1, t, sh, NULL), -EPERM);
    unsigned failed;
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), false, &failed, NULL), -EPERM);
    CHECK_RC(daos_object_punch(coh, h_ep(2), h_oid(0, 3), 0, 2, NULL), -EPERM);
    daos_handle_t oh = { 0 };
    CHECK_RC(daos_object_open(coh, h_oid(0, 3), DAOS_OBJ_RW, &oh, NULL), -EPERM);
    if (daos_object_open(coh, h_oid(0, 3), DAOS_OBJ_RO, &oh, NULL) == 0) {
        CHECK_RC(h_write(oh, 2, 0, "x", 1), -EPERM);
        CHECK_RC(daos_object_close(oh, NULL), 0);
    }
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* RO open reports it too */
    st = 99;
    CHECK_RC(daos_container_open(p, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_CORRUPT);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* the file was not rewritten by these opens */
    fd = open(p, O_RDONLY);
    unsigned char now = 0;
    CHECK_EQ(pread(fd, &now, 1, mid), 1);
    close(fd);
    CHECK_EQ(now, byte);
}

int main(void)
{
    if (h_new_store(g_root, sizeof g_root, "cont", 2) != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_open_create);
    RUN(test_open_bad_modes);
    RUN(test_permissions);
    RUN(test_close);
    RUN(test_query);
    RUN(test_list_shard);
    RUN(test_listen);
    RUN(test_listen_other_process);
    RUN(test_flush);
    RUN(test_unlink);
    RUN(test_unlink_while_open);
    RUN(test_unlink_while_open_elsewhere);
    RUN(test_snapshot);
    RUN(test_snapshot_disabled_and_async);
    RUN(test_status_faulty);
    RUN(test_read_only_handle);
    RUN(test_corrupt_metadata);
    h_rmrf(g_root);
    return harness_summary();
}
