/* Corruption sweep (SPEC §10): damage any byte of any file of a store, or cut
 * any file short, and every read gives the right bytes or an error — never
 * other bytes, never a crash, never a hang.
 *
 * A small store (2 targets, 2 shards) gets a few commits, a punch, an abort
 * and a second writer (so one shard has two segments). Then, for every file
 * of the store (store.meta, target markers, the container file, journals,
 * data files, stamp slots, ...), one at a time and restored after each:
 *   - every byte is flipped (XOR 0x01, 0x80 or 0xff, by position);
 *   - the file is cut short at several points;
 * and after each damage the container is opened read-only and every object
 * read at every epoch. Each read must return the bytes a model says, or fail
 * with -EIO; the open may fail, or report CORRUPT (then reads may return
 * anything but must not crash). A watchdog (alarm) ends a case that hangs,
 * naming it. Each failure names the file, the offset and the damage.
 *
 * What is sampled by default (well under a minute): in the 4 KiB header of a
 * segment file, bytes 0..64 (magic, version, ids, checksum) and every 64th
 * byte of the zero padding; in a data file's data (from 2 MiB on), every
 * SWEEP_STRIDE-th byte (default 29) and the first and last byte of every
 * 4 KiB chunk; the hole between a data file's header and its data (never
 * read) every 4096th byte. Every other byte of every file is flipped.
 * SWEEP_FULL=1 flips every byte but those of the hole with all three masks
 * (tens of minutes). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define SPAN 12288          /* every object is read over [0, SPAN) */
#define NOBJ 4
#define NEPOCH 5            /* epochs 1..5 are read */
#define HDR 4096            /* segment file header */
#define DATA_START (2u << 20) /* where data starts in a .dat */

static char root[128], co[160];
static int sid[2];           /* shard ids: A (target 0), B (target 1) */
static daos_obj_id_t objs[NOBJ];
/* expected content of each object at each epoch (index 0 unused) */
static unsigned char model[NOBJ][NEPOCH + 1][SPAN];

static bool full;
static long stride = 29;

/* ---------- the workload and its model ---------- */

static unsigned char pat[SPAN];

static void m_write(int o, int e, size_t off, size_t len, uint64_t seed)
{
    h_fill(pat, len, seed);
    for (int k = e; k <= NEPOCH; k++) memcpy(&model[o][k][off], pat, len);
}

static void m_punch(int o, int e, size_t a, size_t b)
{
    for (int k = e; k <= NEPOCH; k++) memset(&model[o][k][a], 0, b - a);
}

static int w(daos_handle_t coh, int o, int e, size_t off, size_t len, uint64_t seed, bool keep)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, objs[o], DAOS_OBJ_RW, &oh, NULL);
    if (rc != 0) return rc;
    h_fill(pat, len, seed);
    rc = h_write(oh, e, off, pat, len);
    daos_object_close(oh, NULL);
    if (rc == 0 && keep) m_write(o, e, off, len, seed);
    return rc;
}

static int make_store(void)
{
    daos_handle_t coh;
    daos_container_status_t st;
    if (h_new_store(root, sizeof(root), "sweep", 2) != 0) return -1;
    snprintf(co, sizeof(co), "%s/c", root);
    memset(model, 0, sizeof(model));
    CHECK_RC(daos_container_open(co, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned t[2] = { 0, 1 };
    sid[0] = sid[1] = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 2, t, sid, NULL), 0);
    objs[0] = h_oid(sid[0], 1);
    objs[1] = h_oid(sid[0], 2);
    objs[2] = h_oid(sid[1], 1);
    objs[3] = h_oid(sid[1], 2);
    /* writer 1 */
    CHECK_RC(w(coh, 0, 1, 0, 10000, 1, true), 0);
    CHECK_RC(w(coh, 2, 1, 0, 5000, 2, true), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), true, NULL, NULL), 0);
    CHECK_RC(w(coh, 0, 2, 4096, 1904, 3, true), 0);
    CHECK_RC(daos_object_punch(coh, h_ep(2), objs[2], 1000, 2000, NULL), 0);
    m_punch(2, 2, 1000, 2000);
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), true, NULL, NULL), 0);
    CHECK_RC(w(coh, 1, 3, 0, 4096, 4, false), 0);
    CHECK_RC(daos_epoch_abort(coh, h_ep(3), NULL, NULL), 0);
    CHECK_RC(w(coh, 1, 4, 100, 200, 5, true), 0);
    CHECK_RC(w(coh, 2, 4, 4500, 4500, 6, true), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(4), true, NULL, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* writer 2: segments of its own */
    CHECK_RC(daos_container_open(co, DAOS_COO_RW, 1, &st, &coh, NULL), 0);
    CHECK_RC(w(coh, 3, 5, 0, 4096, 7, true), 0);
    CHECK_RC(w(coh, 0, 5, 8000, 100, 8, true), 0);
    CHECK_RC(w(coh, 2, 5, 12000, 288, 9, true), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(5), true, NULL, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    return h_fail == 0 ? 0 : -1;
}

/* ---------- checking one damaged store ---------- */

static char what[700];       /* the case under way, for failures and the watchdog */
static long n_cases, n_open_failed, n_corrupt, n_reads_ok, n_reads_eio;

static void watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: watchdog: a case hung for 30 s: ";
    if (write(2, msg, sizeof(msg) - 1) < 0) {}
    if (write(2, what, strlen(what)) < 0) {}
    if (write(2, "\n", 1) < 0) {}
    _exit(3);
}

/* Opens the container and reads everything; checks it against the model
 * unless the container says it is CORRUPT. `strict`: no error allowed. */
static void check_store(bool strict)
{
    static unsigned char buf[SPAN];
    daos_handle_t coh;
    daos_container_status_t st = 99;
    n_cases++;
    alarm(30);
    int rc = daos_container_open(co, DAOS_COO_RO, 1, &st, &coh, NULL);
    if (rc != 0) {
        n_open_failed++;
        if (strict || rc > 0) H_FAIL_("%s: open: %d (%s)", what, rc, strerror(rc < 0 ? -rc : 0));
        alarm(0);
        return;
    }
    bool corrupt = st == DAOS_CONTAINER_ST_CORRUPT;
    if (corrupt) n_corrupt++;
    if (strict && st != DAOS_CONTAINER_ST_OK) H_FAIL_("%s: status %u", what, st);
    for (int o = 0; o < NOBJ; o++) {
        daos_handle_t oh;
        rc = daos_object_open(coh, objs[o], DAOS_OBJ_RO, &oh, NULL);
        if (rc != 0) {
            if (!corrupt) H_FAIL_("%s: object %d open: %d (%s)", what, o, rc, strerror(-rc));
            continue;
        }
        for (int e = 1; e <= NEPOCH; e++) {
            memset(buf, 0xa5, sizeof(buf));
            rc = h_read(oh, e, 0, buf, SPAN);
            if (corrupt) continue;
            if (rc == 0 && memcmp(buf, model[o][e], SPAN) == 0) {
                n_reads_ok++;
            } else if (rc == 0) {
                size_t i = 0;
                while (buf[i] == model[o][e][i]) i++;
                H_FAIL_("%s: object %d at epoch %d: OTHER BYTES with rc 0 (first at %zu: %02x, expected %02x)",
                        what, o, e, i, buf[i], model[o][e][i]);
            } else if (rc == -EIO && !strict) {
                n_reads_eio++;
            } else {
                H_FAIL_("%s: object %d at epoch %d: rc %d (%s)", what, o, e, rc, strerror(-rc));
            }
        }
        daos_object_close(oh, NULL);
    }
    rc = daos_container_close(coh, NULL);
    if (rc != 0) H_FAIL_("%s: close: %d", what, rc);
    alarm(0);
}

/* ---------- damaging the files ---------- */

static char files[64][512];
static off_t sizes[64];
static int nfiles;

static int collect(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_F && nfiles < 64) {
        snprintf(files[nfiles], sizeof(files[0]), "%s", p);
        sizes[nfiles++] = sb->st_size;
    }
    return 0;
}

static bool ends_with(const char *s, const char *x)
{
    size_t n = strlen(s), m = strlen(x);
    return n >= m && strcmp(s + n - m, x) == 0;
}

/* Whether byte `i` of file `f` is flipped (see the sampling above). */
static bool sampled(int f, off_t i)
{
    bool seg = ends_with(files[f], ".dat") || ends_with(files[f], ".jnl");
    /* the unused hole between a data file's header and its data: never read */
    if (ends_with(files[f], ".dat") && i >= HDR && i < DATA_START) return i % 4096 == 0;
    if (full) return true;
    if (seg && i < HDR) return i < 64 || i % 64 == 0;
    if (ends_with(files[f], ".dat")) {
        off_t c = (i - DATA_START) % 4096;
        return c == 0 || c == 4095 || i % stride == 0 || i == sizes[f] - 1;
    }
    return true;
}

static void put_byte(int fd, off_t at, unsigned char b)
{
    if (pwrite(fd, &b, 1, at) != 1) H_FAIL_("pwrite: %s", strerror(errno));
}

/* The whole file (sparse holes read as zeros), to restore a cut. */
static unsigned char *slurp(const char *p, off_t n)
{
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    int fd = open(p, O_RDONLY);
    if (b == NULL || fd < 0 || pread(fd, b, (size_t)n, 0) != n) {
        H_FAIL_("read %s", p);
        if (fd >= 0) close(fd);
        free(b);
        return NULL;
    }
    close(fd);
    return b;
}

/* Restores the file to `orig` (a full rewrite for small files: the library
 * may have replaced store.meta meanwhile, e.g. lowering a target's health). */
static void restore(int f, const unsigned char *orig, off_t from)
{
    int fd = open(files[f], O_RDWR);
    if (fd < 0) {
        H_FAIL_("reopen %s: %s", files[f], strerror(errno));
        return;
    }
    if (sizes[f] <= 65536) from = 0;
    if (pwrite(fd, orig + from, (size_t)(sizes[f] - from), from) != sizes[f] - from || ftruncate(fd, sizes[f]) != 0)
        H_FAIL_("restore %s", files[f]);
    close(fd);
}

static void sweep_file(int f)
{
    const char *p = files[f];
    off_t n = sizes[f];
    const char *name = p + strlen(root);
    long before = n_cases;
    unsigned char *orig = slurp(p, n);
    if (orig == NULL) return;
    static const unsigned char masks[3] = { 0x01, 0x80, 0xff };
    for (off_t i = 0; i < n; i++) {
        if (!sampled(f, i)) continue;
        for (int k = 0; k < 3; k++) {
            if (!full && k != i % 3) continue;
            int fd = open(p, O_RDWR);
            if (fd < 0) {
                H_FAIL_("open %s: %s", p, strerror(errno));
                free(orig);
                return;
            }
            snprintf(what, sizeof(what), "%s byte %lld ^ 0x%02x", name, (long long)i, masks[k]);
            put_byte(fd, i, orig[i] ^ masks[k]);
            close(fd);
            check_store(false);
            restore(f, orig, i);
        }
    }
    off_t cuts[] = { 0, 1, 8, n / 4, n / 2, n - 4, n - 1, HDR, HDR + 1, HDR + 64, HDR + 68, DATA_START, DATA_START + 4096 };
    for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
        off_t c = cuts[k];
        if (c < 0 || c >= n) continue;
        bool dup = false;
        for (size_t j = 0; j < k; j++) dup |= cuts[j] == c;
        if (dup) continue;
        snprintf(what, sizeof(what), "%s cut to %lld of %lld bytes", name, (long long)c, (long long)n);
        if (truncate(p, c) != 0) H_FAIL_("truncate %s: %s", p, strerror(errno));
        check_store(false);
        restore(f, orig, c);
    }
    free(orig);
    printf("   %-72s %7lld bytes, %5ld cases\n", name, (long long)n, n_cases - before);
    fflush(stdout);
}

static void test_sweep(void)
{
    /* the segments of both writers stay as they are (not merged at the
     * second close), so that each kind of file is damaged */
    setenv("DAOS_RS_MERGE", "off", 1);
    if (make_store() != 0) return;
    snprintf(what, sizeof(what), "the undamaged store");
    check_store(true);
    nfiles = 0;
    nftw(root, collect, 16, FTW_PHYS);
    CHECK(nfiles >= 8);
    int njnl = 0, ndat = 0;
    for (int f = 0; f < nfiles; f++) {
        njnl += ends_with(files[f], ".jnl");
        ndat += ends_with(files[f], ".dat");
    }
    CHECK_EQ(njnl, 4); /* shards A and B: writers 1 and 2 */
    CHECK_EQ(ndat, 4);
    int64_t t0 = now_us();
    for (int f = 0; f < nfiles; f++) {
        if (sizes[f] > 0) sweep_file(f);
    }
    /* everything restored: the store reads right again */
    snprintf(what, sizeof(what), "the restored store");
    check_store(true);
    printf("   %ld cases in %.1f s: open failed %ld, CORRUPT %ld; reads right %ld, -EIO %ld\n", n_cases,
           (double)(now_us() - t0) / 1e6, n_open_failed, n_corrupt, n_reads_ok, n_reads_eio);
    h_rmrf(root);
}

int main(void)
{
    full = getenv("SWEEP_FULL") && atoi(getenv("SWEEP_FULL")) != 0;
    if (getenv("SWEEP_STRIDE") && atol(getenv("SWEEP_STRIDE")) > 0) stride = atol(getenv("SWEEP_STRIDE"));
    signal(SIGALRM, watchdog);
    RUN(test_sweep);
    return harness_summary();
}
