/* Faults: a full target (-ENOSPC), a corrupted data block (-EIO, no wrong
 * bytes, health lowered), garbage and torn journal tails, a damaged journal
 * header. SPEC §4, §8 and §10. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000
#define KiB 1024
#define NONE_U 0xffffffffu

static daos_handle_t copen(const char *p, unsigned mode, daos_container_status_t *st_out)
{
    daos_handle_t coh = { 0 };
    daos_container_status_t st = 99;
    CHECK_RC(daos_container_open(p, mode, 1, &st, &coh, NULL), 0);
    if (st_out) *st_out = st;
    return coh;
}

static int commit(daos_handle_t coh, uint64_t e, unsigned *failed)
{
    unsigned f = NONE_U;
    int rc = daos_epoch_commit(coh, h_ep(e), false, &f, NULL);
    if (failed) *failed = f;
    return rc;
}

static uint64_t hce_of(daos_handle_t coh)
{
    struct daos_epoch_info ei;
    memset(&ei, 0, sizeof ei);
    CHECK_RC(daos_epoch_query(coh, &ei, NULL), 0);
    return ei.epi_hce.seq;
}

static int rw_obj(daos_handle_t coh, daos_obj_id_t oid, int write, uint64_t epoch, uint64_t off, void *buf,
                  size_t len)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, oid, write ? DAOS_OBJ_RW : DAOS_OBJ_RO, &oh, NULL);
    if (rc) return rc;
    rc = write ? h_write(oh, epoch, off, buf, len) : h_read(oh, epoch, off, buf, len);
    daos_object_close(oh, NULL);
    return rc;
}

/* the paths matching pattern; returns the count (at most cap) */
static int paths(const char *pattern, char out[][512], int cap)
{
    glob_t g;
    int n = 0;
    if (glob(pattern, 0, NULL, &g) != 0) return 0;
    for (size_t i = 0; i < g.gl_pathc && n < cap; i++) snprintf(out[n++], 512, "%s", g.gl_pathv[i]);
    globfree(&g);
    return n;
}

static off_t file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? sb.st_size : -1;
}

static int target_status(daos_handle_t sys, unsigned t)
{
    struct daos_target_info ti;
    memset(&ti, 0, sizeof ti);
    int rc = daos_sys_query_target(sys, t, &ti, NULL);
    return rc == 0 ? ti.ti_status : -1000 + rc;
}

/* ------------------------------------------------------------------ */

static void test_enospc(void)
{
    char root[128], mnt[128], tdir[256], cpath[256];
    CHECK_RC(h_tmpdir(root, sizeof root, "nospc"), 0);
    CHECK_RC(h_tmpdir(mnt, sizeof mnt, "nospc-mnt"), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
        printf("   SKIP: cannot mount a 4 MiB tmpfs at %s (%s; needs root/CAP_SYS_ADMIN): "
               "the -ENOSPC checks are skipped\n", mnt, strerror(errno));
        h_rmrf(mnt);
        h_rmrf(root);
        return;
    }
    snprintf(tdir, sizeof tdir, "%s/t0", mnt);
    const char *dirs[1] = { tdir };
    CHECK_RC(daos_sys_format(root, 1, dirs, DAOS_SYS_FORMAT_NO_PROBE), 0);
    daos_handle_t sys;
    CHECK_RC(daos_sys_open(root, &sys, NULL), 0);
    struct daos_target_info ti;
    CHECK_RC(daos_sys_query_target(sys, 0, &ti, NULL), 0);
    CHECK_EQ(ti.ti_type, DAOS_TARGET_TYPE_HDD); /* tmpfs: no block device, HDD when unknown */
    CHECK(ti.ti_space.ts_size <= 4u << 20 && ti.ti_space.ts_size >= 3u << 20);
    uint64_t free0 = ti.ti_space.ts_free;

    snprintf(cpath, sizeof cpath, "%s/full", root);
    daos_container_status_t st;
    daos_handle_t coh = copen(cpath, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[1] = { 0 };
    int sh[1] = { -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    static unsigned char keep[64 * KiB], chunk[256 * KiB], out[64 * KiB];
    h_fill(keep, sizeof keep, 1);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 1, 1, 0, keep, sizeof keep), 0);
    CHECK_RC(commit(coh, 1, NULL), 0);
    CHECK_RC(daos_sys_query_target(sys, 0, &ti, NULL), 0);
    CHECK(ti.ti_space.ts_free < free0);

    /* fill the target at epoch 2, asynchronously, until a write fails */
    daos_handle_t eqh, oh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid(0, 2), DAOS_OBJ_RW, &oh, NULL), 0);
    int err = 0, nok = 0;
    for (int i = 0; i < 64 && err == 0; i++) {
        h_fill(chunk, sizeof chunk, 100 + i);
        H_MMD1(m, chunk, sizeof chunk);
        H_IOD1(d, (uint64_t)i * sizeof chunk, sizeof chunk);
        int rc = daos_object_write(oh, h_ep(2), m, d, &ev);
        if (rc != 0) { err = rc; break; }
        struct daos_event *e = h_poll1(eqh, 10 * SEC);
        CHECK_PTR_EQ(e, &ev);
        if (e && ev.ev_error != 0) err = ev.ev_error;
        else if (e) nok++;
    }
    printf("   %d writes of 256 KiB went in before: %d (%s)\n", nok, err, err ? strerror(-err) : "none");
    CHECK_RC(err, -ENOSPC);
    CHECK(nok >= 4 && nok <= 16); /* 4 MiB hold at most 16 */
    /* a synchronous write fails the same way */
    h_fill(chunk, sizeof chunk, 999);
    CHECK_RC(h_write(oh, 2, 100ULL << 20, chunk, sizeof chunk), -ENOSPC);

    /* committed data is intact and readable, on the full target */
    memset(out, 0, sizeof out);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 0, 1, 0, out, sizeof out), 0);
    CHECK(memcmp(out, keep, sizeof out) == 0);
    memset(out, 0, sizeof out);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 0, H_HIGHEST.seq, 0, out, sizeof out), 0);
    CHECK(memcmp(out, keep, sizeof out) == 0);
    /* what went in before the failure reads back right (staged, this process) */
    int bad = 0;
    for (int i = 0; i < nok; i++) {
        static unsigned char want[256 * KiB], got[256 * KiB];
        h_fill(want, sizeof want, 100 + i);
        memset(got, 0, sizeof got);
        if (h_read(oh, 2, (uint64_t)i * sizeof got, got, sizeof got) != 0 || memcmp(got, want, sizeof got) != 0)
            bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);

    /* committing epoch 2 either fails (HCE stays 1, the shard named) or succeeds
     * with what went in; either way nothing committed is lost */
    unsigned failed = NONE_U;
    int rc = commit(coh, 2, &failed);
    printf("   commit of the full epoch: %d (%s)\n", rc, rc ? strerror(-rc) : "ok");
    if (rc != 0) {
        CHECK(rc == -ENOSPC || rc == -EIO);
        CHECK_EQ(failed, 0);
        CHECK_EQ(hce_of(coh), 1);
    } else {
        CHECK_EQ(hce_of(coh), 2);
    }
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* the container opens again, with its committed data */
    coh = copen(cpath, DAOS_COO_RW, &st);
    CHECK(st == DAOS_CONTAINER_ST_OK || st == DAOS_CONTAINER_ST_STUCK);
    CHECK_EQ(hce_of(coh), rc == 0 ? 2 : 1);
    memset(out, 0, sizeof out);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 0, H_HIGHEST.seq, 0, out, sizeof out), 0);
    CHECK(memcmp(out, keep, sizeof out) == 0);
    if (rc == 0 && nok > 0) { /* epoch 2 committed: what went in is there */
        static unsigned char want[256 * KiB], got[256 * KiB];
        int badc = 0;
        for (int i = 0; i < nok; i++) {
            h_fill(want, sizeof want, 100 + i);
            memset(got, 0, sizeof got);
            if (rw_obj(coh, h_oid(0, 2), 0, 2, (uint64_t)i * sizeof got, got, sizeof got) != 0 ||
                memcmp(got, want, sizeof got) != 0)
                badc++;
        }
        CHECK_EQ(badc, 0);
    }
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* and again read-only */
    coh = copen(cpath, DAOS_COO_RO, &st);
    memset(out, 0, sizeof out);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 0, 1, 0, out, sizeof out), 0);
    CHECK(memcmp(out, keep, sizeof out) == 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_sys_close(sys, NULL), 0);
    if (umount(mnt) != 0) {
        perror("umount");
        CHECK_RC(umount2(mnt, MNT_DETACH), 0);
    }
    h_rmrf(mnt);
    h_rmrf(root);
}

/* count of empty segment data files (*.dat of 0 bytes) under the store's
 * default targets */
static int empty_dats(const char *root)
{
    static char found[256][512];
    char pat[512];
    snprintf(pat, sizeof pat, "%s/.daos/targets/*/c-*/s-*/*.dat", root);
    int n = paths(pat, found, 256), empty = 0;
    for (int i = 0; i < n; i++)
        if (file_size(found[i]) == 0) empty++;
    return empty;
}

/* The whole store on a full file system (a 4 MiB tmpfs; root only): writes
 * fail with -ENOSPC and leave no empty segment file behind, committed data
 * stays, and the space can be given back through the API: close and unlink
 * succeed (unlink's marker needs no data block, close gives up sealing),
 * after which the store is usable again. */
static void test_enospc_whole_store(void)
{
    char mnt[128], cpath[256], c2[256];
    CHECK_RC(h_tmpdir(mnt, sizeof mnt, "nospc-store"), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
        printf("   SKIP: cannot mount a 4 MiB tmpfs at %s (%s; needs root/CAP_SYS_ADMIN)\n", mnt, strerror(errno));
        h_rmrf(mnt);
        return;
    }
    CHECK_RC(daos_sys_format(mnt, 1, NULL, DAOS_SYS_FORMAT_NO_PROBE), 0);
    struct statvfs sv0, sv1;
    CHECK_RC(statvfs(mnt, &sv0), 0);
    snprintf(cpath, sizeof cpath, "%s/full", mnt);
    daos_container_status_t st;
    daos_handle_t coh = copen(cpath, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[1] = { 0 };
    int sh[1] = { -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    static unsigned char keep[64 * KiB], chunk[256 * KiB], out[64 * KiB];
    h_fill(keep, sizeof keep, 7);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 1, 1, 0, keep, sizeof keep), 0);
    CHECK_RC(commit(coh, 1, NULL), 0);
    int rc = 0, nok = 0;
    for (int i = 0; i < 64 && rc == 0; i++) {
        h_fill(chunk, sizeof chunk, 50 + i);
        rc = rw_obj(coh, h_oid(0, 2), 1, 2, (uint64_t)i * sizeof chunk, chunk, sizeof chunk);
        if (rc == 0) nok++;
    }
    printf("   %d writes of 256 KiB before %d (%s)\n", nok, rc, strerror(-rc));
    CHECK_RC(rc, -ENOSPC);
    (void)commit(coh, 2, NULL); /* may fail: the store is full */
    /* a second writer's first write on the full store makes a segment: it
     * fails, leaving no file */
    daos_handle_t coh2;
    if (daos_container_open(cpath, DAOS_COO_RW, 1, &st, &coh2, NULL) == 0) {
        h_fill(chunk, sizeof chunk, 3);
        int wrc = rw_obj(coh2, h_oid(0, 3), 1, hce_of(coh2) + 1, 0, chunk, sizeof chunk);
        CHECK(wrc == -ENOSPC || wrc == 0);
        CHECK_RC(daos_container_close(coh2, NULL), 0);
    }
    CHECK_EQ(empty_dats(mnt), 0);
    memset(out, 0, sizeof out);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 0, 1, 0, out, sizeof out), 0);
    CHECK(memcmp(out, keep, sizeof out) == 0);
    /* the space comes back through the API: unlink while still full (the
     * data goes at the last close), then close */
    CHECK_RC(daos_container_unlink(cpath, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(access(cpath, F_OK), -1);
    CHECK_RC(statvfs(mnt, &sv1), 0);
    printf("   free blocks: %lu at the start, %lu after unlink\n", (unsigned long)sv0.f_bfree, (unsigned long)sv1.f_bfree);
    CHECK(sv1.f_bfree + 16 >= sv0.f_bfree);
    /* and the store is usable */
    snprintf(c2, sizeof c2, "%s/again", mnt);
    coh = copen(c2, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 1, 1, 0, keep, sizeof keep), 0);
    CHECK_RC(commit(coh, 1, NULL), 0);
    memset(out, 0, sizeof out);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 0, 1, 0, out, sizeof out), 0);
    CHECK(memcmp(out, keep, sizeof out) == 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_unlink(c2, NULL), 0);
    /* (this process keeps its stamp slot in the store open: detach) */
    CHECK_RC(umount2(mnt, MNT_DETACH), 0);
    h_rmrf(mnt);
}

/* An unlink killed between removing the container file and removing its
 * data (simulated: the marker made and the file removed by hand) leaves the
 * data; running the unlink again finishes the job (-ENOENT: the container is
 * gone) */
static void test_unlink_rerun(void)
{
    char root[256], cpath[320], pat[400], m[400];
    static char dirs[4][512];
    CHECK_RC(h_new_store(root, sizeof root, "unlink-rerun", 1), 0);
    snprintf(cpath, sizeof cpath, "%s/c", root);
    daos_container_status_t st;
    daos_handle_t coh = copen(cpath, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[1] = { 0 };
    int sh[1] = { -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    static unsigned char b[8 * KiB];
    h_fill(b, sizeof b, 5);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 1, 1, 0, b, sizeof b), 0);
    CHECK_RC(commit(coh, 1, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    snprintf(pat, sizeof pat, "%s/.daos/targets/0/c-*", root);
    CHECK_EQ(paths(pat, dirs, 4), 1);
    const char *id = strrchr(dirs[0], '/') + 1;
    snprintf(m, sizeof m, "%s/.daos/unlinked", root);
    mkdir(m, 0700);
    snprintf(m, sizeof m, "%s/.daos/unlinked/%s", root, id);
    int fd = open(m, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK_RC(unlink(cpath), 0);
    CHECK_EQ(access(dirs[0], F_OK), 0); /* the data is still there */
    CHECK_RC(daos_container_unlink(cpath, NULL), -ENOENT);
    CHECK_EQ(access(dirs[0], F_OK), -1); /* and now gone */
    CHECK_EQ(access(m, F_OK), -1);
    h_rmrf(root);
}

static void test_corrupt_data_block(void)
{
    char root[128], cpath[256], pat[300], dats[8][512];
    CHECK_RC(h_new_store(root, sizeof root, "bitrot", 1), 0);
    snprintf(cpath, sizeof cpath, "%s/c", root);
    daos_container_status_t st;
    daos_handle_t coh = copen(cpath, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[1] = { 0 };
    int sh[1] = { -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    static unsigned char data[64 * KiB], out[64 * KiB];
    h_fill(data, sizeof data, 42);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 1, 1, 0, data, sizeof data), 0);
    CHECK_RC(commit(coh, 1, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    snprintf(pat, sizeof pat, "%s/.daos/targets/0/c-*/s-*/*.dat", root);
    int n = paths(pat, dats, 8);
    CHECK_EQ(n, 1);
    if (n < 1) { h_rmrf(root); return; }
    CHECK(file_size(dats[0]) >= 4096 + 64 * KiB);
    /* the object's 64 KiB are the last bytes of the segment's data file */
    off_t at = (off_t)file_size(dats[0]) - 64 * KiB + 100;
    int fd = open(dats[0], O_RDWR);
    CHECK(fd >= 0);
    unsigned char b = 0;
    CHECK_EQ(pread(fd, &b, 1, at), 1);
    CHECK_EQ(b, data[100]);
    b ^= 0x01;
    CHECK_EQ(pwrite(fd, &b, 1, at), 1);
    close(fd);

    daos_handle_t sys;
    CHECK_RC(daos_sys_open(root, &sys, NULL), 0);
    CHECK_EQ(target_status(sys, 0), 100);
    coh = copen(cpath, DAOS_COO_RO, &st);
    memset(out, 0xcc, sizeof out);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 0, 1, 0, out, sizeof out), -EIO);
    CHECK(h_all_zero(out, sizeof out)); /* no wrong bytes */
    /* asynchronously: -EIO in ev_error */
    daos_handle_t eqh, oh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid(0, 1), DAOS_OBJ_RO, &oh, NULL), 0);
    memset(out, 0xcc, sizeof out);
    {
        H_MMD1(m, out, 4096);
        H_IOD1(d, 0, 4096);
        CHECK_RC(daos_object_read(oh, H_HIGHEST, m, d, &ev), 0);
    }
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, -EIO);
    CHECK(h_all_zero(out, 4096));
    /* a read of other chunks may succeed, but never with wrong bytes */
    memset(out, 0xcc, sizeof out);
    int rc = h_read(oh, 1, 32 * KiB, out, 32 * KiB);
    CHECK(rc == 0 || rc == -EIO);
    if (rc == 0) CHECK(memcmp(out, data + 32 * KiB, 32 * KiB) == 0);
    else CHECK(h_all_zero(out, 32 * KiB));
    printf("   read of the intact half of the extent: %d\n", rc);
    /* a read spanning the bad byte in a multi-fragment shape */
    {
        static unsigned char x[50], y[200];
        memset(x, 0xcc, sizeof x);
        memset(y, 0xcc, sizeof y);
        H_MMD(m, 2);
        m->mmd_frag[0] = (struct daos_mm_frag){ x, sizeof x };
        m->mmd_frag[1] = (struct daos_mm_frag){ y, sizeof y };
        H_IOD1(d, 60, 250);
        CHECK_RC(daos_object_read(oh, h_ep(1), m, d, NULL), -EIO);
        CHECK(h_all_zero(x, sizeof x) && h_all_zero(y, sizeof y));
    }
    CHECK_RC(daos_object_close(oh, NULL), 0);

    /* the target's health drops (asynchronously: allow a second) */
    int64_t deadline = now_us() + 1 * SEC;
    int s = target_status(sys, 0);
    while (s == 100 && now_us() < deadline) {
        sleep_us(20 * MS);
        s = target_status(sys, 0);
    }
    printf("   target health after the bad reads: %d\n", s);
    CHECK(s >= 0 && s < 100);
    /* a listener of the system container hears about it */
    struct daos_target_event tevs[4];
    unsigned tevn = 4;
    CHECK_RC(daos_sys_listen(sys, &tevn, tevs, &ev), 0);
    struct daos_event *e = h_poll1(eqh, 2 * SEC);
    CHECK_PTR_EQ(e, &ev);
    if (e == NULL) {
        CHECK_RC(daos_event_abort(&ev), 0);
        h_poll1(eqh, 5 * SEC);
    } else {
        CHECK_EQ(ev.ev_error, 0);
        CHECK(tevn >= 1);
        CHECK_EQ(tevs[0].te_target, 0);
        CHECK(tevs[0].te_status >= 0 && tevs[0].te_status < 100);
    }
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_sys_close(sys, NULL), 0);
    h_rmrf(root);
}

/* the .jnl files of the store at root */
static int journals(const char *root, char out[][512], int cap)
{
    char pat[300];
    snprintf(pat, sizeof pat, "%s/.daos/targets/*/c-*/s-*/*.jnl", root);
    return paths(pat, out, cap);
}

static void test_journal_tail(void)
{
    char root[128], cpath[256], jn[16][512];
    CHECK_RC(h_new_store(root, sizeof root, "jtail", 2), 0);
    snprintf(cpath, sizeof cpath, "%s/c", root);
    daos_container_status_t st;
    daos_handle_t coh = copen(cpath, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[2] = { 0, 1 };
    int sh[2] = { -1, -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 2, tg, sh, NULL), 0);
    static unsigned char e1[8 * KiB], e2[8 * KiB], e2b[8 * KiB], e3[8 * KiB], out[16 * KiB];
    h_fill(e1, sizeof e1, 1);
    h_fill(e2, sizeof e2, 2);
    h_fill(e2b, sizeof e2b, 22);
    h_fill(e3, sizeof e3, 3);
    for (int s = 0; s < 2; s++) CHECK_RC(rw_obj(coh, h_oid(s, 1), 1, 1, 0, e1, sizeof e1), 0);
    CHECK_RC(commit(coh, 1, NULL), 0);
    /* epoch 2, not committed: half over epoch 1's data, half beyond */
    for (int s = 0; s < 2; s++) CHECK_RC(rw_obj(coh, h_oid(s, 1), 1, 2, 4 * KiB, e2, sizeof e2), 0);
    CHECK_RC(daos_container_flush(coh, h_ep(2), NULL), 0); /* the records are in the journals */
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* 100 garbage bytes at the end of every journal */
    int nj = journals(root, jn, 16);
    CHECK(nj >= 2);
    unsigned char junk[100];
    h_fill(junk, sizeof junk, 777);
    for (int i = 0; i < nj; i++) {
        int fd = open(jn[i], O_WRONLY | O_APPEND);
        CHECK(fd >= 0);
        if (fd >= 0) { CHECK_EQ(write(fd, junk, sizeof junk), (long)sizeof junk); close(fd); }
    }
    coh = copen(cpath, DAOS_COO_RW, &st);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_EQ(hce_of(coh), 1);
    for (int s = 0; s < 2; s++) {
        memset(out, 0xcc, sizeof out);
        CHECK_RC(rw_obj(coh, h_oid(s, 1), 0, H_HIGHEST.seq, 0, out, sizeof out), 0);
        CHECK(memcmp(out, e1, sizeof e1) == 0);        /* epoch 1 intact */
        CHECK(h_all_zero(out + sizeof e1, 8 * KiB));    /* epoch 2 absent */
        memset(out, 0xcc, sizeof out);
        CHECK_RC(rw_obj(coh, h_oid(s, 1), 0, 2, 0, out, sizeof out), 0);
        CHECK(memcmp(out, e1, sizeof e1) == 0);
    }
    /* new writes at epoch 2 work, commit, and survive a reopen */
    for (int s = 0; s < 2; s++) CHECK_RC(rw_obj(coh, h_oid(s, 1), 1, 2, 4 * KiB, e2b, sizeof e2b), 0);
    CHECK_RC(commit(coh, 2, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    coh = copen(cpath, DAOS_COO_RO, &st);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_EQ(hce_of(coh), 2);
    for (int s = 0; s < 2; s++) {
        memset(out, 0xcc, sizeof out);
        CHECK_RC(rw_obj(coh, h_oid(s, 1), 0, H_HIGHEST.seq, 0, out, 12 * KiB), 0);
        CHECK(memcmp(out, e1, 4 * KiB) == 0);
        CHECK(memcmp(out + 4 * KiB, e2b, sizeof e2b) == 0);
        memset(out, 0xcc, sizeof out);
        CHECK_RC(rw_obj(coh, h_oid(s, 1), 0, 1, 0, out, 12 * KiB), 0);
        CHECK(memcmp(out, e1, sizeof e1) == 0);
        CHECK(h_all_zero(out + sizeof e1, 4 * KiB));
    }
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* a torn tail: epoch 3 staged by another writer, its journals cut short */
    off_t before[16];
    nj = journals(root, jn, 16);
    char names_before[16][512];
    int nb = nj;
    for (int i = 0; i < nj; i++) { before[i] = file_size(jn[i]); memcpy(names_before[i], jn[i], 512); }
    coh = copen(cpath, DAOS_COO_RW, &st);
    for (int s = 0; s < 2; s++) CHECK_RC(rw_obj(coh, h_oid(s, 1), 1, 3, 0, e3, sizeof e3), 0);
    CHECK_RC(daos_container_flush(coh, h_ep(3), NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    nj = journals(root, jn, 16);
    int cut = 0;
    for (int i = 0; i < nj; i++) {
        off_t was = 0;
        for (int j = 0; j < nb; j++)
            if (strcmp(jn[i], names_before[j]) == 0) was = before[j];
        off_t now = file_size(jn[i]);
        if (now > was && now > 4096 + 10) { /* grew: cut its last record short */
            CHECK_RC(truncate(jn[i], now - 10), 0);
            cut++;
        }
    }
    printf("   journals cut short: %d\n", cut);
    coh = copen(cpath, DAOS_COO_RW, &st);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_EQ(hce_of(coh), 2);
    for (int s = 0; s < 2; s++) {
        memset(out, 0xcc, sizeof out);
        CHECK_RC(rw_obj(coh, h_oid(s, 1), 0, H_HIGHEST.seq, 0, out, 12 * KiB), 0);
        CHECK(memcmp(out, e1, 4 * KiB) == 0);
        CHECK(memcmp(out + 4 * KiB, e2b, sizeof e2b) == 0);
    }
    for (int s = 0; s < 2; s++) CHECK_RC(rw_obj(coh, h_oid(s, 1), 1, 3, 0, e3, sizeof e3), 0);
    CHECK_RC(commit(coh, 3, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    coh = copen(cpath, DAOS_COO_RO, &st);
    CHECK_EQ(hce_of(coh), 3);
    for (int s = 0; s < 2; s++) {
        memset(out, 0xcc, sizeof out);
        CHECK_RC(rw_obj(coh, h_oid(s, 1), 0, H_HIGHEST.seq, 0, out, 12 * KiB), 0);
        CHECK(memcmp(out, e3, sizeof e3) == 0);
        CHECK(memcmp(out + 8 * KiB, e2b + 4 * KiB, 4 * KiB) == 0);
    }
    CHECK_RC(daos_container_close(coh, NULL), 0);
    h_rmrf(root);
}

/* A journal whose header is destroyed: its committed extents are gone, so a
 * read of them must fail (-EIO), not return zeros as if never written. */
static void test_damaged_journal_header(void)
{
    char root[128], cpath[256], jn[4][512];
    CHECK_RC(h_new_store(root, sizeof root, "jhead", 1), 0);
    snprintf(cpath, sizeof cpath, "%s/c", root);
    daos_container_status_t st;
    daos_handle_t coh = copen(cpath, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[1] = { 0 };
    int sh[1] = { -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    static unsigned char data[4 * KiB], out[4 * KiB];
    h_fill(data, sizeof data, 5);
    CHECK_RC(rw_obj(coh, h_oid(0, 1), 1, 1, 0, data, sizeof data), 0);
    CHECK_RC(commit(coh, 1, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_EQ(journals(root, jn, 4), 1);
    int fd = open(jn[0], O_WRONLY);
    CHECK(fd >= 0);
    if (fd >= 0) { CHECK_EQ(pwrite(fd, "XXXXXXXX", 8, 0), 8); close(fd); }

    daos_handle_t c = { 0 };
    int rc = daos_container_open(cpath, DAOS_COO_RO, 1, &st, &c, NULL);
    if (rc == 0) {
        printf("   open with a damaged journal: status %u\n", st);
        memset(out, 0xcc, sizeof out);
        rc = rw_obj(c, h_oid(0, 1), 0, 1, 0, out, sizeof out);
        if (rc == 0) {
            /* fine only if the library somehow still has the right bytes */
            if (h_all_zero(out, sizeof out))
                fprintf(stderr, "   a committed extent read back as zeros with rc 0\n");
            CHECK(memcmp(out, data, sizeof out) == 0);
        } else {
            CHECK_RC(rc, -EIO);
            CHECK(h_all_zero(out, sizeof out));
        }
        CHECK_RC(daos_container_close(c, NULL), 0);
    } else {
        printf("   open with a damaged journal: %d (%s)\n", rc, strerror(-rc));
        CHECK(rc == -EIO);
    }
    h_rmrf(root);
}

/* SPEC §10: a crash at any moment leaves the container openable, never STUCK,
 * with HCE equal to the last commit (or one under way) and every committed
 * byte readable; a commit is atomic across shards. A child commits epoch after
 * epoch on two shards and is killed (SIGKILL) at a random moment. */
static void crash_child(const char *cpath)
{
    daos_handle_t coh = { 0 };
    daos_container_status_t st;
    if (daos_container_open(cpath, DAOS_COO_RW, 1, &st, &coh, NULL) != 0) _exit(10);
    struct daos_epoch_info ei;
    if (daos_epoch_query(coh, &ei, NULL) != 0) _exit(11);
    static unsigned char blk[8 * KiB];
    for (uint64_t k = ei.epi_hce.seq + 1;; k++) {
        for (int s = 0; s < 2; s++) {
            memset(blk, (int)(k & 0xff), sizeof blk);
            memcpy(blk, &k, sizeof k);
            if (rw_obj(coh, h_oid(s, 1), 1, k, 0, blk, sizeof blk) != 0) _exit(12);
        }
        unsigned f;
        if (daos_epoch_commit(coh, h_ep(k), false, &f, NULL) != 0) _exit(13);
    }
}

static void test_crash_during_commits(void)
{
    char root[128], cpath[256];
    CHECK_RC(h_new_store(root, sizeof root, "crash", 2), 0);
    snprintf(cpath, sizeof cpath, "%s/c", root);
    daos_container_status_t st;
    daos_handle_t coh = copen(cpath, DAOS_COO_RW | DAOS_COO_CREATE, &st);
    unsigned tg[2] = { 0, 1 };
    int sh[2] = { 0, 1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 2, tg, sh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    uint64_t last = 0;
    int rounds_ok = 0, advanced = 0;
    for (int round = 0; round < 6; round++) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) crash_child(cpath);
        CHECK(pid > 0);
        sleep_us(60 * MS + (round * 17 % 50) * MS);
        kill(pid, SIGKILL);
        int ws = 0;
        CHECK_EQ(waitpid(pid, &ws, 0), pid);
        if (!(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL)) {
            fprintf(stderr, "   child ended by itself: status %d\n", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
            CHECK(0);
            break;
        }
        st = 99;
        coh.cookie = 0;
        int64_t t0 = now_us();
        CHECK_RC(daos_container_open(cpath, DAOS_COO_RW, 1, &st, &coh, NULL), 0);
        CHECK(now_us() - t0 < 5 * SEC); /* no lock left behind by the dead process */
        if (coh.cookie == 0) break;
        CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
        struct daos_epoch_info ei;
        CHECK_RC(daos_epoch_query(coh, &ei, NULL), 0);
        CHECK(ei.epi_hce.seq >= last);
        CHECK_EQ(ei.epi_hse.seq, ei.epi_hce.seq);
        if (ei.epi_hce.seq > last) advanced++;
        last = ei.epi_hce.seq;
        /* both shards hold the value of the HCE: the commit was atomic */
        int good = 1;
        for (int s = 0; s < 2 && last > 0; s++) {
            static unsigned char blk[8 * KiB];
            memset(blk, 0xcc, sizeof blk);
            int rc = rw_obj(coh, h_oid(s, 1), 0, last, 0, blk, sizeof blk);
            uint64_t v = 0;
            memcpy(&v, blk, sizeof v);
            if (rc != 0 || v != last || blk[sizeof blk - 1] != (unsigned char)(last & 0xff)) {
                fprintf(stderr, "   round %d: shard %d at HCE %llu: rc %d, value %llu\n", round, s,
                        (unsigned long long)last, rc, (unsigned long long)v);
                good = 0;
            }
        }
        CHECK(good);
        rounds_ok += good;
        CHECK_RC(daos_container_close(coh, NULL), 0);
    }
    printf("   6 kills: HCE reached %llu, advanced in %d rounds\n", (unsigned long long)last, advanced);
    CHECK(advanced >= 2); /* the child did commit between the kills */
    h_rmrf(root);
}

int main(void)
{
    RUN(test_enospc);
    RUN(test_enospc_whole_store);
    RUN(test_unlink_rerun);
    RUN(test_corrupt_data_block);
    RUN(test_journal_tail);
    RUN(test_damaged_journal_header);
    RUN(test_crash_during_commits);
    return harness_summary();
}
