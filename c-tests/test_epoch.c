/* Epochs: query, commit, abort, slip, wait, visibility of staged writes,
 * aggregation and sync commits, partly failed commits. SPEC §1, §5, §6, §8. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000
#define NONE_U 0xffffffffu

static char g_root[128];
static int g_seq;
static char g_last[256]; /* path of the last container made */

static daos_handle_t copen(const char *p, unsigned mode)
{
    daos_handle_t coh = { 0 };
    daos_container_status_t st;
    CHECK_RC(daos_container_open(p, mode, 1, &st, &coh, NULL), 0);
    return coh;
}

/* a new container with one shard per target given (shard i on targets[i]) */
static daos_handle_t new_container(unsigned n, const unsigned *targets)
{
    snprintf(g_last, sizeof g_last, "%s/ep-%d", g_root, g_seq++);
    daos_handle_t coh = copen(g_last, DAOS_COO_RW | DAOS_COO_CREATE);
    unsigned tg[8];
    int sh[8];
    for (unsigned i = 0; i < n; i++) { tg[i] = targets ? targets[i] : 0; sh[i] = (int)i; }
    if (n) CHECK_RC(daos_shard_add(coh, h_ep(1), n, tg, sh, NULL), 0);
    return coh;
}

static int put(daos_handle_t coh, uint64_t shard, uint64_t epoch, uint64_t off, const void *buf, size_t len)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, h_oid(shard, 1), DAOS_OBJ_RW, &oh, NULL);
    if (rc) return rc;
    rc = h_write(oh, epoch, off, buf, len);
    daos_object_close(oh, NULL);
    return rc;
}

static int get(daos_handle_t coh, uint64_t shard, uint64_t epoch, uint64_t off, void *buf, size_t len)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, h_oid(shard, 1), DAOS_OBJ_RO, &oh, NULL);
    if (rc) return rc;
    rc = h_read(oh, epoch, off, buf, len);
    daos_object_close(oh, NULL);
    return rc;
}

/* reads 4 bytes at offset 0 of object 1 of `shard` as a string (zero bytes as '0', "ERR" on error) */
static const char *get4(daos_handle_t coh, uint64_t shard, uint64_t epoch)
{
    static char s[8][5];
    static int k;
    char *o = s[k++ % 8];
    memset(o, 0, 5);
    if (get(coh, shard, epoch, 0, o, 4) != 0) return "ERR";
    for (int i = 0; i < 4; i++) if (o[i] == 0) o[i] = '0';
    return o;
}

static int commit(daos_handle_t coh, uint64_t e)
{
    unsigned failed = NONE_U;
    return daos_epoch_commit(coh, h_ep(e), false, &failed, NULL);
}

static struct daos_epoch_info equery(daos_handle_t coh)
{
    struct daos_epoch_info ei;
    memset(&ei, 0xee, sizeof ei);
    CHECK_RC(daos_epoch_query(coh, &ei, NULL), 0);
    return ei;
}

#define CHECK_STR(a, b)                                                  \
    do {                                                                 \
        const char *h_sa_ = (a), *h_sb_ = (b);                           \
        if (strcmp(h_sa_, h_sb_) == 0) atomic_fetch_add(&h_pass, 1);     \
        else H_FAIL_("%s is \"%s\", expected \"%s\"", #a, h_sa_, h_sb_); \
    } while (0)

/* ------------------------------------------------------------------ */

static void test_query_fields(void)
{
    daos_handle_t coh = new_container(0, NULL);
    struct daos_epoch_info ei = equery(coh);
    CHECK_EQ(ei.epi_hce.seq, 0);
    CHECK_EQ(ei.epi_hse.seq, 0);
    CHECK_EQ(ei.epi_hce_slipped.seq, 0);
    CHECK_EQ(ei.epi_hce_oldest.seq, 0);
    CHECK_EQ(ei.epi_layout_changed.seq, 0);

    unsigned tg[1] = { 0 };
    int sh[1] = { 0 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    CHECK_RC(put(coh, 0, 1, 0, "one.", 4), 0);
    CHECK_RC(commit(coh, 1), 0);
    ei = equery(coh);
    CHECK_EQ(ei.epi_hce.seq, 1);
    CHECK_EQ(ei.epi_hse.seq, 1);
    CHECK_EQ(ei.epi_layout_changed.seq, 1);
    CHECK(ei.epi_hce_oldest.seq <= 1);
    /* commits that skip epochs; a layout change at epoch 4 */
    CHECK_RC(put(coh, 0, 3, 0, "thr.", 4), 0);
    CHECK_RC(commit(coh, 3), 0);
    ei = equery(coh);
    CHECK_EQ(ei.epi_hce.seq, 3);
    CHECK_EQ(ei.epi_layout_changed.seq, 1);
    sh[0] = 1;
    CHECK_RC(daos_shard_add(coh, h_ep(4), 1, tg, sh, NULL), 0);
    CHECK_RC(commit(coh, 4), 0);
    ei = equery(coh);
    CHECK_EQ(ei.epi_hce.seq, 4);
    CHECK_EQ(ei.epi_hse.seq, 4);
    CHECK_EQ(ei.epi_layout_changed.seq, 4);
    /* aborting the epoch of a layout change does not undo it */
    int sh2[1] = { 2 };
    CHECK_RC(daos_shard_add(coh, h_ep(5), 1, tg, sh2, NULL), 0);
    unsigned failed = NONE_U;
    CHECK_RC(daos_epoch_abort(coh, h_ep(5), &failed, NULL), 0);
    daos_handle_t oh;
    CHECK_RC(daos_object_open(coh, h_oid(2, 1), DAOS_OBJ_RW, &oh, NULL), 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(commit(coh, 5), 0);
    ei = equery(coh);
    CHECK_EQ(ei.epi_layout_changed.seq, 5);

    /* the values are the same through another handle */
    daos_handle_t c2 = copen(g_last, DAOS_COO_RO);
    struct daos_epoch_info e2 = equery(c2);
    CHECK_EQ(e2.epi_hce.seq, 5);
    CHECK_EQ(e2.epi_hse.seq, 5);
    CHECK_EQ(e2.epi_layout_changed.seq, 5);
    CHECK_RC(daos_container_close(c2, NULL), 0);

    /* NULL info; asynchronously */
    CHECK_RC(daos_epoch_query(coh, NULL, NULL), -EINVAL);
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    memset(&ei, 0, sizeof ei);
    CHECK_RC(daos_epoch_query(coh, &ei, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_EP_QUERY);
    CHECK_EQ(ei.epi_hce.seq, 5);
    CHECK_REFUSED(daos_epoch_query(coh, NULL, &ev), -EINVAL, eqh, &ev);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_epoch_query(coh, &ei, NULL), -EBADF);
}

static void test_write_needs_epoch_above_hce(void)
{
    daos_handle_t coh = new_container(1, NULL);
    CHECK_RC(put(coh, 0, 1, 0, "AAAA", 4), 0);
    CHECK_RC(commit(coh, 2), 0); /* commits everything <= 2 */
    CHECK_RC(put(coh, 0, 1, 0, "BBBB", 4), -EPERM);
    CHECK_RC(put(coh, 0, 2, 0, "BBBB", 4), -EPERM);
    CHECK_RC(put(coh, 0, 0, 0, "BBBB", 4), -EPERM);
    CHECK_RC(daos_object_punch(coh, h_ep(2), h_oid(0, 1), 0, 4, NULL), -EPERM);
    CHECK_STR(get4(coh, 0, 2), "AAAA");
    CHECK_STR(get4(coh, 0, 1), "AAAA");
    CHECK_RC(put(coh, 0, 3, 0, "CCCC", 4), 0);
    CHECK_STR(get4(coh, 0, 3), "CCCC");
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_versions(void)
{
    daos_handle_t coh = new_container(1, NULL);
    CHECK_RC(put(coh, 0, 1, 0, "e1e1", 4), 0);
    CHECK_RC(commit(coh, 1), 0);
    CHECK_RC(put(coh, 0, 2, 0, "e2e2", 4), 0);
    CHECK_RC(commit(coh, 2), 0);
    CHECK_RC(daos_object_punch(coh, h_ep(3), h_oid(0, 1), 2, 4, NULL), 0);
    CHECK_RC(commit(coh, 3), 0);
    CHECK_STR(get4(coh, 0, 1), "e1e1");
    CHECK_STR(get4(coh, 0, 2), "e2e2");
    CHECK_STR(get4(coh, 0, 3), "e200");
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "e200");
    CHECK_STR(get4(coh, 0, 1000), "e200"); /* above HCE: the newest */
    /* after a reopen, the versions are still there */
    CHECK_RC(daos_container_close(coh, NULL), 0);
    coh = copen(g_last, DAOS_COO_RO);
    CHECK_STR(get4(coh, 0, 1), "e1e1");
    CHECK_STR(get4(coh, 0, 2), "e2e2");
    CHECK_STR(get4(coh, 0, 3), "e200");
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_staging_visibility(void)
{
    daos_handle_t coh = new_container(1, NULL);
    CHECK_RC(put(coh, 0, 1, 0, "old.", 4), 0);
    CHECK_RC(commit(coh, 1), 0);
    CHECK_RC(put(coh, 0, 2, 0, "new.", 4), 0); /* staged, not committed */
    CHECK_STR(get4(coh, 0, 1), "old."); /* at HCE */
    CHECK_STR(get4(coh, 0, 2), "new."); /* at its epoch, this process */
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "new.");
    /* another handle of this process sees this process's staging at that epoch too */
    daos_handle_t other = copen(g_last, DAOS_COO_RO);
    CHECK_STR(get4(other, 0, 1), "old.");
    CHECK_STR(get4(other, 0, 2), "new.");
    CHECK_EQ(equery(other).epi_hce.seq, 1);
    /* another process does not see it */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        daos_handle_t c = { 0 };
        daos_container_status_t st;
        if (daos_container_open(g_last, DAOS_COO_RO, 1, &st, &c, NULL) != 0) _exit(10);
        char o[5] = { 0 };
        if (get(c, 0, H_HIGHEST.seq, 0, o, 4) != 0) bad |= 1;
        if (memcmp(o, "old.", 4) != 0) { fprintf(stderr, "child: HIGHEST read \"%.4s\"\n", o); bad |= 2; }
        memset(o, 0, sizeof o);
        if (get(c, 0, 2, 0, o, 4) != 0) bad |= 4;
        if (memcmp(o, "old.", 4) != 0) { fprintf(stderr, "child: epoch 2 read \"%.4s\"\n", o); bad |= 8; }
        daos_container_close(c, NULL);
        _exit(bad);
    }
    CHECK(pid > 0);
    int ws = 0;
    CHECK_EQ(waitpid(pid, &ws, 0), pid);
    CHECK(WIFEXITED(ws));
    CHECK_EQ(WEXITSTATUS(ws), 0);
    /* once committed, the other process sees it */
    CHECK_RC(commit(coh, 2), 0);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        daos_handle_t c = { 0 };
        daos_container_status_t st;
        if (daos_container_open(g_last, DAOS_COO_RO, 1, &st, &c, NULL) != 0) _exit(10);
        char o[5] = { 0 };
        int bad = get(c, 0, H_HIGHEST.seq, 0, o, 4) != 0 || memcmp(o, "new.", 4) != 0;
        daos_container_close(c, NULL);
        _exit(bad);
    }
    CHECK(pid > 0);
    CHECK_EQ(waitpid(pid, &ws, 0), pid);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    CHECK_RC(daos_container_close(other, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_commit_noop(void)
{
    daos_handle_t coh = new_container(1, NULL);
    CHECK_RC(put(coh, 0, 1, 0, "AAAA", 4), 0);
    CHECK_RC(commit(coh, 3), 0);
    CHECK_RC(commit(coh, 3), 0);
    CHECK_RC(commit(coh, 2), 0);
    CHECK_RC(commit(coh, 0), 0);
    CHECK_EQ(equery(coh).epi_hce.seq, 3);
    CHECK_EQ(equery(coh).epi_hse.seq, 3);
    /* a commit with nothing written still moves HCE */
    CHECK_RC(commit(coh, 4), 0);
    CHECK_EQ(equery(coh).epi_hce.seq, 4);
    /* shard_failed is written only on failure */
    unsigned failed = 12345;
    CHECK_RC(daos_epoch_commit(coh, h_ep(5), true, &failed, NULL), 0);
    CHECK_EQ(failed, 12345);
    CHECK_RC(daos_epoch_commit(coh, h_ep(6), false, NULL, NULL), 0); /* NULL shard_failed is fine */
    CHECK_EQ(equery(coh).epi_hce.seq, 6);
    /* asynchronously */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(put(coh, 0, 7, 0, "7777", 4), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(7), false, &failed, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_EP_COMMIT);
    CHECK_EQ(equery(coh).epi_hce.seq, 7);
    CHECK_STR(get4(coh, 0, 7), "7777");
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* the commits are durable */
    coh = copen(g_last, DAOS_COO_RO);
    CHECK_EQ(equery(coh).epi_hce.seq, 7);
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "7777");
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

/* daos_epoch_hold / daos_epoch_hold_query (extensions): arguments, the
 * epoch given, release, the asynchronous forms, and two handles of one
 * process (the two-process cases are in test_multiproc.c) */
static void test_hold(void)
{
    daos_handle_t a = new_container(1, NULL);
    CHECK_RC(commit(a, 2), 0);
    daos_handle_t b = copen(g_last, DAOS_COO_RW), r = copen(g_last, DAOS_COO_RO);
    /* bad arguments: nothing held, nothing written */
    CHECK_RC(daos_epoch_hold(a, NULL, NULL), -EINVAL);
    daos_epoch_t e = { 0 };
    CHECK_RC(daos_epoch_hold((daos_handle_t){ 0 }, &e, NULL), -EBADF);
    CHECK_RC(daos_epoch_hold(r, &e, NULL), -EPERM);
    CHECK_EQ(e.seq, 0);
    CHECK_RC(daos_epoch_hold_query((daos_handle_t){ 0 }, &e, NULL, NULL), -EBADF);
    CHECK_RC(daos_epoch_hold_query(r, NULL, NULL, NULL), 0);
    daos_epoch_t lo = { 7 }, own = { 7 };
    CHECK_RC(daos_epoch_hold_query(a, &lo, &own, NULL), 0);
    CHECK_EQ(lo.seq, H_HIGHEST.seq);
    CHECK_EQ(own.seq, H_HIGHEST.seq);
    /* 0: the lowest epoch above HCE; a request above it is granted as given,
     * one another handle holds is not (distinct epochs) */
    CHECK_RC(daos_epoch_hold(a, &e, NULL), 0);
    CHECK_EQ(e.seq, 3);
    daos_epoch_t f = { 3 };
    CHECK_RC(daos_epoch_hold(b, &f, NULL), 0);
    CHECK_EQ(f.seq, 4);
    f.seq = 10;
    CHECK_RC(daos_epoch_hold(b, &f, NULL), 0); /* replaces its hold of 4 */
    CHECK_EQ(f.seq, 10);
    CHECK_RC(daos_epoch_hold_query(r, &lo, &own, NULL), 0);
    CHECK_EQ(lo.seq, 3);
    CHECK_EQ(own.seq, H_HIGHEST.seq);
    CHECK_RC(daos_epoch_hold_query(b, &lo, &own, NULL), 0);
    CHECK_EQ(own.seq, 10);
    /* B commits 10: durable (HSE), not HCE (other processes do not see it:
     * test_multiproc.c; this one sees it as its staging data) */
    CHECK_RC(put(b, 0, 10, 0, "BBBB", 4), 0);
    CHECK_RC(commit(b, 10), 0);
    CHECK_EQ(equery(r).epi_hce.seq, 2);
    CHECK_EQ(equery(r).epi_hse.seq, 10);
    CHECK_STR(get4(r, 0, 2), "0000");
    CHECK_STR(get4(b, 0, H_HIGHEST.seq), "BBBB");
    /* a new hold lands above the pending commit */
    daos_epoch_t g = { 0 };
    CHECK_RC(daos_epoch_hold(b, &g, NULL), 0);
    CHECK_EQ(g.seq, 11);
    /* asynchronously: A releases its hold; HCE moves to 10 (below B's 11) */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    daos_epoch_t rel = H_HIGHEST;
    CHECK_RC(daos_epoch_hold(a, &rel, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_EP_HOLD);
    CHECK_EQ(rel.seq, H_HIGHEST.seq);
    CHECK_EQ(equery(r).epi_hce.seq, 10);
    CHECK_STR(get4(r, 0, H_HIGHEST.seq), "BBBB");
    lo.seq = own.seq = 0;
    CHECK_RC(daos_epoch_hold_query(r, &lo, &own, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(lo.seq, 11);
    CHECK_EQ(own.seq, H_HIGHEST.seq);
    daos_epoch_t h = { 0 };
    CHECK_RC(daos_epoch_hold(a, &h, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(h.seq, 12);
    /* a wait for 12 completes when both holders are done */
    daos_epoch_t w = { 12 };
    CHECK_RC(daos_epoch_wait(r, &w, NULL, &ev), 0);
    CHECK_RC(put(a, 0, 12, 0, "AAAA", 4), 0);
    CHECK_RC(commit(a, 12), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL); /* B's 11 still held */
    CHECK_RC(daos_container_close(b, NULL), 0);  /* its close releases it */
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(w.seq, 12);
    CHECK_STR(get4(r, 0, H_HIGHEST.seq), "AAAA");
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(r, NULL), 0);
    CHECK_RC(daos_container_close(a, NULL), 0);
}

/* the same epoch written by two handles of one process: the second commit
 * says its writes were dropped (-ESTALE, also asynchronously), once */
static void test_commit_stale(void)
{
    daos_handle_t a = new_container(1, NULL);
    daos_handle_t b = copen(g_last, DAOS_COO_RW);
    CHECK_RC(put(a, 0, 2, 0, "AAAA", 4), 0);
    daos_handle_t oh;
    CHECK_RC(daos_object_open(b, h_oid(0, 2), DAOS_OBJ_RW, &oh, NULL), 0);
    CHECK_RC(h_write(oh, 2, 0, "BBBB", 4), 0);
    CHECK_RC(h_write(oh, 3, 4, "bbbb", 4), 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(commit(a, 2), 0);
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    unsigned failed = NONE_U;
    CHECK_RC(daos_epoch_commit(b, h_ep(3), false, &failed, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, -ESTALE);
    CHECK_EQ(failed, NONE_U);
    /* the rest of the commit was made */
    CHECK_EQ(equery(a).epi_hce.seq, 3);
    char buf[8];
    CHECK_RC(daos_object_open(a, h_oid(0, 2), DAOS_OBJ_RO, &oh, NULL), 0);
    CHECK_RC(h_read(oh, 3, 0, buf, 8), 0);
    CHECK(memcmp(buf, "\0\0\0\0bbbb", 8) == 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(commit(b, 3), 0);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(b, NULL), 0);
    CHECK_RC(daos_container_close(a, NULL), 0);
}

static void test_abort(void)
{
    daos_handle_t coh = new_container(2, NULL);
    CHECK_RC(put(coh, 0, 1, 0, "AAAA", 4), 0);
    CHECK_RC(commit(coh, 1), 0);
    /* writes and punches at the aborted epoch are dropped */
    CHECK_RC(put(coh, 0, 2, 0, "BBBB", 4), 0);
    CHECK_RC(put(coh, 1, 2, 0, "bbbb", 4), 0);
    CHECK_STR(get4(coh, 0, 2), "BBBB");
    unsigned failed = NONE_U;
    CHECK_RC(daos_epoch_abort(coh, h_ep(2), &failed, NULL), 0);
    CHECK_EQ(failed, NONE_U);
    CHECK_STR(get4(coh, 0, 2), "AAAA");
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "AAAA");
    CHECK_STR(get4(coh, 1, H_HIGHEST.seq), "0000");
    CHECK_RC(daos_object_punch(coh, h_ep(2), h_oid(0, 1), 0, 4, NULL), 0);
    CHECK_STR(get4(coh, 0, 2), "0000");
    CHECK_RC(daos_epoch_abort(coh, h_ep(2), &failed, NULL), 0);
    CHECK_STR(get4(coh, 0, 2), "AAAA");
    /* abort e drops e and above, keeps below */
    CHECK_RC(put(coh, 0, 2, 0, "XXXX", 4), 0);
    CHECK_RC(put(coh, 0, 3, 0, "YYYY", 4), 0);
    CHECK_RC(put(coh, 1, 4, 0, "ZZZZ", 4), 0);
    CHECK_RC(daos_epoch_abort(coh, h_ep(3), &failed, NULL), 0);
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "XXXX");
    CHECK_STR(get4(coh, 1, H_HIGHEST.seq), "0000");
    /* abort at or below HCE */
    CHECK_RC(daos_epoch_abort(coh, h_ep(1), &failed, NULL), -EPERM);
    CHECK_RC(daos_epoch_abort(coh, h_ep(0), &failed, NULL), -EPERM);
    CHECK_EQ(failed, NONE_U);
    CHECK_STR(get4(coh, 0, 1), "AAAA");
    /* writes after the abort, at the aborted epoch, are kept and commit */
    CHECK_RC(put(coh, 0, 3, 0, "CCCC", 4), 0);
    CHECK_STR(get4(coh, 0, 3), "CCCC");
    CHECK_RC(commit(coh, 3), 0);
    CHECK_EQ(equery(coh).epi_hce.seq, 3);
    CHECK_STR(get4(coh, 0, 3), "CCCC");
    CHECK_STR(get4(coh, 0, 2), "XXXX");
    CHECK_RC(daos_epoch_abort(coh, h_ep(3), &failed, NULL), -EPERM);
    /* asynchronously */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(put(coh, 0, 4, 0, "DDDD", 4), 0);
    CHECK_RC(daos_epoch_abort(coh, h_ep(4), &failed, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_EP_ABORT);
    CHECK_STR(get4(coh, 0, 4), "CCCC");
    CHECK_REFUSED(daos_epoch_abort(coh, h_ep(2), &failed, &ev), -EPERM, eqh, &ev);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* after a reopen: what was committed, nothing aborted */
    coh = copen(g_last, DAOS_COO_RO);
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "CCCC");
    CHECK_STR(get4(coh, 1, H_HIGHEST.seq), "0000");
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_close_discards(void)
{
    daos_handle_t coh = new_container(1, NULL);
    CHECK_RC(put(coh, 0, 1, 0, "keep", 4), 0);
    CHECK_RC(commit(coh, 1), 0);
    CHECK_RC(put(coh, 0, 2, 0, "lose", 4), 0);
    CHECK_RC(daos_container_flush(coh, h_ep(2), NULL), 0); /* even flushed */
    CHECK_RC(daos_container_close(coh, NULL), 0);
    coh = copen(g_last, DAOS_COO_RW);
    CHECK_EQ(equery(coh).epi_hce.seq, 1);
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "keep");
    CHECK_STR(get4(coh, 0, 2), "keep");
    /* epoch 2 is free to be written again */
    CHECK_RC(put(coh, 0, 2, 0, "two.", 4), 0);
    CHECK_RC(commit(coh, 2), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    coh = copen(g_last, DAOS_COO_RO);
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "two.");
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_slip_and_aggregation(void)
{
    daos_handle_t coh = new_container(1, NULL);
    CHECK_RC(put(coh, 0, 1, 0, "e1..", 4), 0);
    CHECK_RC(commit(coh, 1), 0);
    CHECK_RC(put(coh, 0, 2, 0, "e2..", 4), 0);
    unsigned failed = NONE_U;
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), true, &failed, NULL), 0); /* keep 2 for good */
    CHECK_RC(put(coh, 0, 3, 0, "e3..", 4), 0);
    CHECK_RC(commit(coh, 3), 0);
    CHECK_RC(put(coh, 0, 4, 0, "e4..", 4), 0);
    CHECK_RC(commit(coh, 4), 0);
    /* before the slip everything is readable */
    CHECK_STR(get4(coh, 0, 1), "e1..");
    CHECK_STR(get4(coh, 0, 3), "e3..");
    struct daos_epoch_info ei = equery(coh);
    CHECK(ei.epi_hce_oldest.seq <= 1);
    CHECK(ei.epi_hce_slipped.seq < 4);

    CHECK_RC(daos_epoch_slip(coh, H_HIGHEST, NULL), 0);
    ei = equery(coh);
    CHECK_EQ(ei.epi_hce_slipped.seq, 4);
    CHECK(ei.epi_hce_oldest.seq > 1);
    printf("   after slipping to HCE 4: oldest readable epoch %llu\n",
           (unsigned long long)ei.epi_hce_oldest.seq);
    CHECK_STR(get4(coh, 0, 1), "ERR");
    char o[4];
    CHECK_RC(get(coh, 0, 1, 0, o, 4), -ESTALE);
    CHECK_STR(get4(coh, 0, 2), "e2..");  /* kept by the sync commit */
    CHECK_STR(get4(coh, 0, 4), "e4..");
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "e4..");
    /* the other epoch-taking calls agree */
    daos_off_t anchor = 0;
    daos_obj_id_t oids[2];
    CHECK_RC(daos_shard_list_obj(coh, h_ep(1), 0, &anchor, 2, oids, NULL), -ESTALE);
    struct daos_shard_info si;
    daos_epoch_t e1 = h_ep(1);
    CHECK_RC(daos_shard_query(coh, &e1, 0, &si, NULL), -ESTALE);
    char snap[300];
    snprintf(snap, sizeof snap, "%s-snap", g_last);
    CHECK_RC(daos_container_snapshot(coh, h_ep(1), snap, NULL), -ESTALE);
    /* durable: still so after a reopen */
    CHECK_RC(daos_container_close(coh, NULL), 0);
    coh = copen(g_last, DAOS_COO_RO);
    CHECK_RC(get(coh, 0, 1, 0, o, 4), -ESTALE);
    CHECK_STR(get4(coh, 0, 2), "e2..");
    CHECK_STR(get4(coh, 0, 4), "e4..");
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static void test_reference_holds_epochs(void)
{
    daos_handle_t w = new_container(1, NULL);
    CHECK_RC(put(w, 0, 1, 0, "AAAA", 4), 0);
    CHECK_RC(commit(w, 1), 0);
    daos_handle_t r = copen(g_last, DAOS_COO_RO); /* reads at HCE 1 until slipped */
    CHECK_EQ(equery(r).epi_hce_slipped.seq, 1);
    CHECK_RC(put(w, 0, 2, 0, "BBBB", 4), 0);
    CHECK_RC(commit(w, 2), 0);
    CHECK_RC(put(w, 0, 3, 0, "CCCC", 4), 0);
    CHECK_RC(commit(w, 3), 0);
    CHECK_RC(daos_epoch_slip(w, H_HIGHEST, NULL), 0);
    /* r's reference keeps epoch 1 readable, for both handles */
    CHECK_STR(get4(r, 0, 1), "AAAA");
    CHECK_STR(get4(w, 0, 1), "AAAA");
    CHECK(equery(w).epi_hce_oldest.seq <= 1);
    /* r reads at its reference: HIGHEST is still the newest committed */
    CHECK_STR(get4(r, 0, 3), "CCCC");
    /* slip backwards: no-op */
    CHECK_RC(daos_epoch_slip(r, h_ep(2), NULL), 0);
    CHECK_EQ(equery(r).epi_hce_slipped.seq, 2);
    CHECK_RC(daos_epoch_slip(r, h_ep(1), NULL), 0);
    CHECK_EQ(equery(r).epi_hce_slipped.seq, 2);
    /* above HCE: HCE */
    CHECK_RC(daos_epoch_slip(r, h_ep(1000), NULL), 0);
    CHECK_EQ(equery(r).epi_hce_slipped.seq, 3);
    /* now nothing holds epoch 1; whatever is reported must be consistent */
    struct daos_epoch_info ei = equery(w);
    char o[4];
    int rc = get(w, 0, 1, 0, o, 4);
    if (ei.epi_hce_oldest.seq > 1) CHECK_RC(rc, -ESTALE);
    else CHECK(rc == 0 && memcmp(o, "AAAA", 4) == 0);
    /* asynchronously */
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    CHECK_RC(put(w, 0, 4, 0, "DDDD", 4), 0);
    CHECK_RC(commit(w, 4), 0);
    CHECK_RC(daos_epoch_slip(r, H_HIGHEST, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_EP_SLIP);
    CHECK_EQ(equery(r).epi_hce_slipped.seq, 4);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_epoch_slip((daos_handle_t){ 0 }, H_HIGHEST, NULL), -EBADF);
    CHECK_RC(daos_container_close(r, NULL), 0);
    CHECK_RC(daos_container_close(w, NULL), 0);
}

static void test_wait(void)
{
    daos_handle_t w = new_container(1, NULL);
    CHECK_RC(put(w, 0, 1, 0, "AAAA", 4), 0);
    CHECK_RC(commit(w, 1), 0);
    daos_handle_t r = copen(g_last, DAOS_COO_RO);
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);

    /* already reached: at once, with the HCE */
    daos_epoch_t e = h_ep(1);
    daos_epoch_t layout = h_ep(777);
    CHECK_RC(daos_epoch_wait(r, &e, &layout, NULL), 0);
    CHECK_EQ(e.seq, 1);
    CHECK(layout.seq != 777);
    e = h_ep(0);
    CHECK_RC(daos_epoch_wait(r, &e, NULL, NULL), 0);
    CHECK_EQ(e.seq, 1);
    e = h_ep(1);
    int64_t t0 = now_us();
    CHECK_RC(daos_epoch_wait(r, &e, NULL, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 2 * SEC), &ev);
    CHECK(now_us() - t0 < SEC);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(ev.ev_type, DAOS_EV_EP_WAIT);
    CHECK_EQ(e.seq, 1);

    /* HCE + 1: pending until another handle commits; a layout change on the way */
    e = h_ep(2);
    layout = h_ep(777);
    CHECK_RC(daos_epoch_wait(r, &e, &layout, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    unsigned tg[1] = { 1 };
    int sh[1] = { 1 };
    CHECK_RC(daos_shard_add(w, h_ep(2), 1, tg, sh, NULL), 0);
    CHECK_RC(put(w, 0, 2, 0, "BBBB", 4), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL); /* not before the commit */
    CHECK_RC(commit(w, 2), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(e.seq, 2);
    CHECK_EQ(layout.seq, 2);
    CHECK_STR(get4(r, 0, 2), "BBBB");
    /* waiting for a later epoch completes once HCE reaches it, with that HCE */
    e = h_ep(4);
    CHECK_RC(daos_epoch_wait(r, &e, NULL, &ev), 0);
    CHECK_RC(commit(w, 3), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    CHECK_RC(commit(w, 5), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(e.seq, 5);

    /* HIGHEST: the next commit after the call */
    e = H_HIGHEST;
    CHECK_RC(daos_epoch_wait(r, &e, NULL, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 100 * MS), NULL);
    CHECK_RC(put(w, 0, 6, 0, "CCCC", 4), 0);
    CHECK_RC(commit(w, 6), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(e.seq, 6);
    /* the writer itself may wait */
    e = H_HIGHEST;
    CHECK_RC(daos_epoch_wait(w, &e, NULL, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    CHECK_RC(commit(w, 7), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(e.seq, 7);

    /* abort of a pending wait */
    e = h_ep(100);
    CHECK_RC(daos_epoch_wait(r, &e, NULL, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    CHECK_RC(daos_event_abort(&ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, -EINTR);
    CHECK_EQ(e.seq, 100); /* not written on failure */

    /* closing the handle ends its pending wait with -EBADF */
    daos_handle_t r2 = copen(g_last, DAOS_COO_RO);
    e = h_ep(100);
    CHECK_RC(daos_epoch_wait(r2, &e, NULL, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    CHECK_RC(daos_container_close(r2, NULL), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, -EBADF);
    CHECK_EQ(e.seq, 100);

    /* bad arguments */
    CHECK_RC(daos_epoch_wait(r, NULL, NULL, NULL), -EINVAL);
    CHECK_REFUSED(daos_epoch_wait(r, NULL, &layout, &ev), -EINVAL, eqh, &ev);
    e = h_ep(1);
    CHECK_RC(daos_epoch_wait((daos_handle_t){ 0 }, &e, NULL, NULL), -EBADF);
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(r, NULL), 0);
    CHECK_RC(daos_container_close(w, NULL), 0);
}

/* runs fn(arg) in a child process; returns its exit status (0 = fine) */
static int in_child(int (*fn)(void *), void *arg)
{
    return h_reap(h_spawn(fn, arg));
}

struct child_commit { const char *path; uint64_t epoch; uint64_t shard; const char *data; };

/* In another process: writes `data` to `shard` at `epoch` and commits it
 * (the commit stamped in h_xp()). */
static int child_write_commit(void *p)
{
    struct child_commit *c = p;
    daos_handle_t coh = { 0 };
    daos_container_status_t st;
    if (daos_container_open(c->path, DAOS_COO_RW, 1, &st, &coh, NULL) != 0) return 10;
    if (put(coh, c->shard, c->epoch, 0, c->data, 4) != 0) return 11;
    unsigned failed;
    h_xp()->start_us = now_us();
    int rc = daos_epoch_commit(coh, h_ep(c->epoch), false, &failed, NULL);
    h_xp()->done_us = now_us();
    if (rc != 0) return 12;
    if (daos_container_close(coh, NULL) != 0) return 13;
    return 0;
}

/* A wait for `want` (an epoch, or DAOS_EPOCH_HIGHEST) on `r`, registered and
 * pending before another process commits `epoch` in the container at
 * `path`, completes within `limit_us` of that commit, with HCE `epoch`. */
static void check_wait_woken(daos_handle_t r, daos_epoch_t want, const char *path, uint64_t epoch,
                             uint64_t shard, const char *data, int64_t limit_us)
{
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    daos_epoch_t e = want;
    CHECK_RC(daos_epoch_wait(r, &e, NULL, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 50 * MS), NULL);
    struct child_commit c = { path, epoch, shard, data };
    pid_t pid = h_spawn(child_write_commit, &c);
    CHECK(pid > 0);
    struct daos_event *got = h_woken_by(pid, eqh, limit_us, "an epoch wait");
    CHECK_PTR_EQ(got, &ev);
    if (got == NULL) {
        CHECK_RC(daos_event_abort(&ev), 0);
        CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    } else {
        CHECK_EQ(ev.ev_error, 0);
        CHECK_EQ(e.seq, epoch);
    }
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

/* SPEC §8/§9: a wait completes also for commits made by other processes; readers
 * in other processes see a commit at their next open, slip, query or wait. */
static void test_other_process_commits(void)
{
    daos_handle_t coh = new_container(2, NULL);
    CHECK_RC(put(coh, 0, 1, 0, "AAAA", 4), 0);
    CHECK_RC(commit(coh, 1), 0);
    daos_handle_t r = copen(g_last, DAOS_COO_RO);

    /* query: sees another process's commit */
    struct child_commit c2 = { g_last, 2, 0, "BBBB" };
    CHECK_EQ(in_child(child_write_commit, &c2), 0);
    struct daos_epoch_info ei = equery(r);
    CHECK_EQ(ei.epi_hce.seq, 2);
    CHECK_STR(get4(r, 0, 2), "BBBB");
    CHECK_STR(get4(r, 0, 1), "AAAA");
    /* the writer of this process learns the new HCE too: epoch 2 is closed to it */
    CHECK_EQ(equery(coh).epi_hce.seq, 2);
    CHECK_RC(put(coh, 1, 2, 0, "late", 4), -EPERM);

    /* wait: pending until another process commits, then woken at once */
    check_wait_woken(r, h_ep(3), g_last, 3, 1, "CCCC", 1 * SEC);
    /* slip: moves to the new HCE */
    CHECK_RC(daos_epoch_slip(r, H_HIGHEST, NULL), 0);
    CHECK_EQ(equery(r).epi_hce_slipped.seq, 3);
    CHECK_STR(get4(r, 1, 3), "CCCC");

    /* two writers in two processes: this one writes epoch 4 while the other commits 4 too */
    CHECK_RC(put(coh, 1, 5, 0, "mine", 4), 0);
    struct child_commit c4 = { g_last, 4, 0, "DDDD" };
    CHECK_EQ(in_child(child_write_commit, &c4), 0);
    CHECK_RC(commit(coh, 5), 0);
    CHECK_EQ(equery(coh).epi_hce.seq, 5);
    daos_handle_t n = copen(g_last, DAOS_COO_RO);
    CHECK_STR(get4(n, 0, 5), "DDDD");
    CHECK_STR(get4(n, 1, 5), "mine");
    CHECK_STR(get4(n, 1, 4), "CCCC");
    CHECK_RC(daos_container_close(n, NULL), 0);

    /* DAOS_EPOCH_HIGHEST: the next commit, made by another process; a
     * writer's handle waits as well as a reader's */
    check_wait_woken(coh, H_HIGHEST, g_last, 6, 0, "EEEE", 1 * SEC);
    check_wait_woken(r, H_HIGHEST, g_last, 7, 1, "FFFF", 1 * SEC);
    CHECK_STR(get4(r, 1, 7), "FFFF");

    CHECK_RC(daos_container_close(r, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

/* The wait of test_other_process_commits in a fresh process with
 * DAOS_RS_NOTIFY=MODE (the library reads it once per process): this program
 * run as `test_epoch --wait-check MODE STORE`. Exits 0 if every check passed. */
static int wait_check_main(const char *mode, const char *root)
{
    snprintf(g_last, sizeof g_last, "%s/wait-%s-%d", root, mode, (int)getpid());
    daos_handle_t coh = copen(g_last, DAOS_COO_RW | DAOS_COO_CREATE);
    unsigned tg[1] = { 0 };
    int sh[1] = { 0 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, tg, sh, NULL), 0);
    CHECK_RC(commit(coh, 1), 0);
    daos_handle_t r = copen(g_last, DAOS_COO_RO);
    /* polled: within a few intervals (default 100 ms); inotify: at once */
    int64_t limit = strcmp(mode, "poll") == 0 ? 500 * MS : 1 * SEC;
    check_wait_woken(r, h_ep(2), g_last, 2, 0, "PPPP", limit);
    check_wait_woken(r, H_HIGHEST, g_last, 3, 0, "QQQQ", limit);
    CHECK_RC(daos_container_close(r, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_container_unlink(g_last, NULL), 0);
    printf("   (%s) %ld checks ok, %ld not\n", mode, atomic_load(&h_pass), atomic_load(&h_fail));
    fflush(stdout);
    return atomic_load(&h_fail) == 0 ? 0 : 1;
}

extern char **environ;

/* SPEC §13 / README: DAOS_RS_NOTIFY=poll|inotify. Runs the wait check in a
 * fresh process (this program, re-executed) in each mode, with its log at
 * info level in a file, and checks from the log that the mode asked for was
 * the one used. */
static void test_wait_notify_modes(void)
{
    const char *modes[2] = { "poll", "inotify" };
    const char *says[2] = { "by polling every 100 ms (DAOS_RS_NOTIFY=poll)", "with inotify" };
    for (int m = 0; m < 2; m++) {
        char mode_env[64], logp[160];
        snprintf(mode_env, sizeof mode_env, "DAOS_RS_NOTIFY=%s", modes[m]);
        snprintf(logp, sizeof logp, "%s/notify-%s.log", g_root, modes[m]);
        /* the environment and arguments are built before the fork: the
         * child only redirects stderr and executes */
        size_t n = 0;
        while (environ[n]) n++;
        char **envp = calloc(n + 3, sizeof *envp);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (strncmp(environ[i], "DAOS_RS_NOTIFY=", 15) != 0 && strncmp(environ[i], "DAOS_RS_POLL_MS=", 16) != 0 &&
                strncmp(environ[i], "DAOS_RS_LOG=", 12) != 0)
                envp[k++] = environ[i];
        envp[k++] = mode_env;
        envp[k++] = "DAOS_RS_LOG=info";
        envp[k] = NULL;
        char *argv[] = { "test_epoch", "--wait-check", (char *)modes[m], g_root, NULL };
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            dup2(fd, 2);
            execve("/proc/self/exe", argv, envp);
            _exit(127);
        }
        close(fd);
        free(envp);
        CHECK_EQ(h_reap(pid), 0);
        /* the log says how the container file was watched */
        char buf[16384] = { 0 };
        FILE *f = fopen(logp, "r");
        size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        buf[got] = 0;
        if (m == 1 && (strstr(buf, "inotify is not available") || strstr(buf, "where other machines' changes make no inotify events")))
            printf("   inotify cannot watch %s here: the default mode polls (as documented)\n", g_root);
        else if (strstr(buf, says[m]) != NULL) atomic_fetch_add(&h_pass, 1);
        else H_FAIL_("DAOS_RS_NOTIFY=%s: the log does not say the container was watched %s; it holds:\n%s",
                     modes[m], says[m], buf);
        if (m == 0 && strstr(buf, "with inotify") != NULL)
            H_FAIL_("DAOS_RS_NOTIFY=%s: a watch used the other mode; the log holds:\n%s", modes[m], buf);
    }
}

/* The minimal form of the above: a commit by another process survives this
 * process's later commit (SPEC §10: after a commit returns 0 its data survives). */
static void test_commit_keeps_other_process_commit(void)
{
    daos_handle_t a = new_container(2, NULL);
    CHECK_RC(commit(a, 1), 0);
    struct child_commit c2 = { g_last, 2, 0, "BBBB" };
    CHECK_EQ(in_child(child_write_commit, &c2), 0);
    CHECK_RC(put(a, 1, 3, 0, "AAAA", 4), 0);
    CHECK_RC(commit(a, 3), 0);
    CHECK_RC(daos_container_close(a, NULL), 0);
    daos_handle_t n = copen(g_last, DAOS_COO_RO);
    CHECK_EQ(equery(n).epi_hce.seq, 3);
    CHECK_STR(get4(n, 0, 3), "BBBB"); /* the other process's committed epoch 2 */
    CHECK_STR(get4(n, 1, 3), "AAAA");
    CHECK_RC(daos_container_close(n, NULL), 0);
}

/* A child that runs alongside the caller: `fn(arg, to_parent, from_parent)`
 * gives its exit status. Returns its pid; *to_child / *from_child are the
 * parent's ends of the pipes. */
static pid_t alongside(int (*fn)(void *, int, int), void *arg, int *to_child, int *from_child)
{
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        _exit(fn(arg, up[1], down[0]));
    }
    close(down[0]);
    close(up[1]);
    *to_child = down[1];
    *from_child = up[0];
    return pid;
}

static int reaped(pid_t pid, int to_child, int from_child)
{
    close(to_child);
    close(from_child);
    int ws = 0;
    if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws)) return -2;
    return WEXITSTATUS(ws);
}

#define BIG (256 * 1024)

/* Opens the container read-only (its reference: HCE, epoch 2), says so, and
 * once told, reads epoch 2 (after catching up with the other process's
 * aggregation and compaction) and checks every byte; then closes. */
static int child_reader(void *p, int up, int down)
{
    const char *path = p;
    daos_handle_t coh = { 0 };
    daos_container_status_t st;
    if (daos_container_open(path, DAOS_COO_RO, 1, &st, &coh, NULL) != 0) return 10;
    h_say(up);
    if (h_hear(down) != 0) return 11;
    struct daos_epoch_info ei;
    if (daos_epoch_query(coh, &ei, NULL) != 0) return 12;
    if (ei.epi_hce_slipped.seq != 2 || ei.epi_hce_oldest.seq > 2) return 13;
    static unsigned char want[BIG], got[BIG];
    h_fill(want, BIG, 2);
    memset(got, 0, BIG);
    if (get(coh, 0, 2, 0, got, BIG) != 0) return 14;
    if (memcmp(got, want, BIG) != 0) return 15;
    if (daos_container_close(coh, NULL) != 0) return 16;
    return 0;
}

/* The data files of every shard of the store. */
static int data_files(glob_t *g)
{
    char pat[300];
    snprintf(pat, sizeof pat, "%s/.daos/targets/*/c-*/s-*/*.dat", g_root);
    return glob(pat, 0, NULL, g) == 0 ? (int)g->gl_pathc : 0;
}

/* SPEC §8, §9: a version still readable by an open handle in any process is
 * never reclaimed; the oldest readable epoch moves once that handle closes. */
static void test_reader_elsewhere_holds_its_epoch(void)
{
    static unsigned char buf[BIG], out[BIG];
    daos_handle_t coh = new_container(1, NULL);
    /* overwrites in epoch 1, which nobody reads once epoch 2 is the oldest:
     * most of the segment becomes garbage (so it is compacted) */
    h_fill(buf, BIG, 1);
    for (int i = 0; i < 10; i++) CHECK_RC(put(coh, 0, 1, 0, buf, BIG), 0);
    for (uint64_t e = 1; e <= 2; e++) {
        h_fill(buf, BIG, e);
        CHECK_RC(put(coh, 0, e, 0, buf, BIG), 0);
        CHECK_RC(commit(coh, e), 0);
    }
    int to, from;
    pid_t pid = alongside(child_reader, g_last, &to, &from);
    CHECK(pid > 0);
    if (pid <= 0) return;
    CHECK_RC(h_hear(from), 0); /* the other process reads at epoch 2 */
    for (uint64_t e = 3; e <= 8; e++) {
        h_fill(buf, BIG, e);
        CHECK_RC(put(coh, 0, e, 0, buf, BIG), 0);
        CHECK_RC(commit(coh, e), 0);
    }
    CHECK_RC(daos_container_close(coh, NULL), 0); /* its segment is sealed */
    glob_t before;
    int nbefore = data_files(&before);
    coh = copen(g_last, DAOS_COO_RW);
    CHECK_RC(daos_epoch_slip(coh, H_HIGHEST, NULL), 0);
    struct daos_epoch_info ei = equery(coh);
    CHECK_EQ(ei.epi_hce_slipped.seq, 8);
    CHECK_EQ(ei.epi_hce_oldest.seq, 2); /* held back by the other process */
    /* space reclamation runs in the background: wait until a data file goes */
    int compacted = 0;
    for (int i = 0; i < 500 && !compacted; i++) {
        for (int k = 0; k < nbefore && !compacted; k++)
            if (access(before.gl_pathv[k], F_OK) != 0) compacted = 1;
        if (!compacted) sleep_us(10 * MS);
    }
    if (nbefore) globfree(&before);
    CHECK(compacted);
    char o[4];
    CHECK_RC(get(coh, 0, 1, 0, o, 4), -ESTALE);
    memset(out, 0, BIG);
    CHECK_RC(get(coh, 0, 2, 0, out, BIG), 0);
    h_fill(buf, BIG, 2);
    CHECK(memcmp(out, buf, BIG) == 0);
    h_say(to); /* the other process reads epoch 2, then closes */
    CHECK_EQ(reaped(pid, to, from), 0);
    CHECK_RC(daos_epoch_slip(coh, H_HIGHEST, NULL), 0);
    CHECK_EQ(equery(coh).epi_hce_oldest.seq, 8);
    memset(out, 0, BIG);
    CHECK_RC(get(coh, 0, 8, 0, out, BIG), 0);
    h_fill(buf, BIG, 8);
    CHECK(memcmp(out, buf, BIG) == 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* a new reader agrees */
    coh = copen(g_last, DAOS_COO_RO);
    CHECK_EQ(equery(coh).epi_hce_oldest.seq, 8);
    CHECK_RC(get(coh, 0, 2, 0, o, 4), -ESTALE);
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

/* Opens the container for writing, says so, and once told writes "BBBB" at
 * offset 0 in epoch 3 and commits. */
static int child_writer(void *p, int up, int down)
{
    const char *path = p;
    daos_handle_t coh = { 0 };
    daos_container_status_t st;
    if (daos_container_open(path, DAOS_COO_RW, 1, &st, &coh, NULL) != 0) return 10;
    h_say(up);
    if (h_hear(down) != 0) return 11;
    if (put(coh, 0, 3, 0, "BBBB", 4) != 0) return 12;
    unsigned failed;
    if (daos_epoch_commit(coh, h_ep(3), false, &failed, NULL) != 0) return 13;
    if (daos_container_close(coh, NULL) != 0) return 14;
    return 0;
}

/* Two writers that opened the container together write the same offset in
 * two epochs: each version stays readable at its epoch (their journal
 * records must not share an index key). */
static void test_writers_opened_together(void)
{
    daos_handle_t coh = new_container(1, NULL);
    CHECK_RC(commit(coh, 1), 0);
    int to, from;
    pid_t pid = alongside(child_writer, g_last, &to, &from);
    CHECK(pid > 0);
    if (pid <= 0) return;
    CHECK_RC(h_hear(from), 0);
    CHECK_RC(put(coh, 0, 2, 0, "AAAA", 4), 0);
    CHECK_RC(commit(coh, 2), 0);
    h_say(to);
    CHECK_EQ(reaped(pid, to, from), 0);
    daos_handle_t n = copen(g_last, DAOS_COO_RO);
    CHECK_STR(get4(n, 0, 2), "AAAA");
    CHECK_STR(get4(n, 0, 3), "BBBB");
    CHECK_RC(daos_container_close(n, NULL), 0);
    CHECK_EQ(equery(coh).epi_hce.seq, 3);
    CHECK_STR(get4(coh, 0, 2), "AAAA");
    CHECK_STR(get4(coh, 0, 3), "BBBB");
    CHECK_RC(daos_container_close(coh, NULL), 0);
}

static unsigned list_stuck(daos_handle_t coh, unsigned *ids, unsigned cap)
{
    daos_off_t anchor = 0;
    for (unsigned i = 0; i < cap; i++) ids[i] = 0x5a5a5a5a;
    CHECK_RC(daos_container_list_shard(coh, H_HIGHEST, DAOS_SHARD_LS_STUCK, &anchor, cap, ids, NULL), 0);
    unsigned n = 0;
    while (n < cap && ids[n] != NONE_U) n++;
    return n;
}

static void test_partial_commit_failure(void)
{
    unsigned tg[2] = { 0, 1 };
    daos_handle_t coh = new_container(2, tg);
    daos_handle_t sys;
    CHECK_RC(daos_sys_open(g_root, &sys, NULL), 0);
    CHECK_RC(put(coh, 0, 1, 0, "a1a1", 4), 0);
    CHECK_RC(put(coh, 1, 1, 0, "b1b1", 4), 0);
    CHECK_RC(commit(coh, 1), 0);

    /* epoch 2 on both shards, then target 1 goes away */
    CHECK_RC(put(coh, 0, 2, 0, "a2a2", 4), 0);
    CHECK_RC(put(coh, 1, 2, 0, "b2b2", 4), 0);
    CHECK_RC(daos_sys_target_set_status(sys, 1, DAOS_TARGET_ST_DISABLED), 0);
    unsigned failed = NONE_U;
    int rc = daos_epoch_commit(coh, h_ep(2), false, &failed, NULL);
    CHECK(rc < 0);
    printf("   commit with target 1 disabled: %d (%s), shard_failed %u\n", rc, strerror(-rc), failed);
    CHECK_EQ(failed, 1);
    struct daos_epoch_info ei = equery(coh);
    CHECK_EQ(ei.epi_hce.seq, 1);
    CHECK_EQ(ei.epi_hse.seq, 2);
    unsigned ids[8];
    CHECK_EQ(list_stuck(coh, ids, 8), 1);
    CHECK_EQ(ids[0], 1);
    struct daos_container_info ci;
    daos_epoch_t e = H_HIGHEST;
    CHECK_RC(daos_container_query(coh, &e, &ci, NULL), 0);
    CHECK_EQ(e.seq, 2);
    CHECK_EQ(ci.ci_nshard_stuck, 1);
    /* another open sees it */
    daos_handle_t c2 = { 0 };
    daos_container_status_t st = 99;
    CHECK_RC(daos_container_open(g_last, DAOS_COO_RO, 1, &st, &c2, NULL), 0);
    CHECK(st == DAOS_CONTAINER_ST_STUCK || st == DAOS_CONTAINER_ST_FAULTY);
    printf("   status of a reopen: %u\n", st);
    CHECK_EQ(equery(c2).epi_hse.seq, 2);
    CHECK_EQ(equery(c2).epi_hce.seq, 1);
    CHECK_EQ(list_stuck(c2, ids, 8), 1);
    CHECK_RC(daos_container_close(c2, NULL), 0);
    /* committed data at HCE is intact */
    CHECK_STR(get4(coh, 0, 1), "a1a1");

    /* the target comes back: committing again succeeds */
    CHECK_RC(daos_sys_target_set_status(sys, 1, DAOS_TARGET_ST_HEALTHY), 0);
    failed = NONE_U;
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), false, &failed, NULL), 0);
    ei = equery(coh);
    CHECK_EQ(ei.epi_hce.seq, 2);
    CHECK_EQ(ei.epi_hse.seq, 2);
    CHECK_EQ(list_stuck(coh, ids, 8), 0);
    st = 99;
    CHECK_RC(daos_container_open(g_last, DAOS_COO_RO, 1, &st, &c2, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_STR(get4(c2, 0, 2), "a2a2");
    CHECK_STR(get4(c2, 1, 2), "b2b2");
    CHECK_STR(get4(c2, 1, 1), "b1b1");
    CHECK_RC(daos_container_close(c2, NULL), 0);

    /* the other way out: disable the shard and commit the next epoch */
    CHECK_RC(put(coh, 0, 3, 0, "a3a3", 4), 0);
    CHECK_RC(put(coh, 1, 3, 0, "b3b3", 4), 0);
    CHECK_RC(daos_sys_target_set_status(sys, 1, DAOS_TARGET_ST_DISABLED), 0);
    failed = NONE_U;
    rc = daos_epoch_commit(coh, h_ep(3), false, &failed, NULL);
    CHECK(rc < 0);
    CHECK_EQ(failed, 1);
    CHECK_EQ(equery(coh).epi_hse.seq, 3);
    CHECK_EQ(equery(coh).epi_hce.seq, 2);
    int dis[1] = { 1 };
    CHECK_RC(daos_shard_disable(coh, h_ep(4), 1, dis, NULL), 0);
    failed = NONE_U;
    CHECK_RC(daos_epoch_commit(coh, h_ep(4), false, &failed, NULL), 0);
    CHECK_EQ(failed, NONE_U);
    ei = equery(coh);
    CHECK_EQ(ei.epi_hce.seq, 4);
    CHECK_EQ(ei.epi_hse.seq, 4);
    CHECK_EQ(list_stuck(coh, ids, 8), 0);
    CHECK_STR(get4(coh, 0, 4), "a3a3");
    CHECK_RC(daos_container_close(coh, NULL), 0);
    coh = copen(g_last, DAOS_COO_RO);
    CHECK_EQ(equery(coh).epi_hce.seq, 4);
    CHECK_STR(get4(coh, 0, H_HIGHEST.seq), "a3a3");
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_sys_target_set_status(sys, 1, DAOS_TARGET_ST_HEALTHY), 0);
    CHECK_RC(daos_sys_close(sys, NULL), 0);
}

static void test_async_commit_failure(void)
{
    unsigned tg[2] = { 0, 1 };
    daos_handle_t coh = new_container(2, tg);
    daos_handle_t sys;
    CHECK_RC(daos_sys_open(g_root, &sys, NULL), 0);
    CHECK_RC(put(coh, 1, 1, 0, "b1b1", 4), 0);
    CHECK_RC(daos_sys_target_set_status(sys, 1, DAOS_TARGET_ST_DISABLED), 0);
    daos_handle_t eqh;
    struct daos_event ev;
    CHECK_RC(daos_eq_create(&eqh), 0);
    CHECK_RC(daos_event_init(&ev, eqh, NULL), 0);
    unsigned failed = NONE_U;
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), false, &failed, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK(ev.ev_error < 0);
    CHECK_EQ(failed, 1);
    CHECK_EQ(equery(coh).epi_hce.seq, 0);
    CHECK_RC(daos_sys_target_set_status(sys, 1, DAOS_TARGET_ST_HEALTHY), 0);
    failed = NONE_U;
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), false, &failed, &ev), 0);
    CHECK_PTR_EQ(h_poll1(eqh, 5 * SEC), &ev);
    CHECK_EQ(ev.ev_error, 0);
    CHECK_EQ(equery(coh).epi_hce.seq, 1);
    CHECK_STR(get4(coh, 1, 1), "b1b1");
    CHECK_RC(daos_event_fini(&ev), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    CHECK_RC(daos_sys_close(sys, NULL), 0);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--wait-check") == 0) return wait_check_main(argv[2], argv[3]);
    if (h_new_store(g_root, sizeof g_root, "epoch", 2) != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_query_fields);
    RUN(test_write_needs_epoch_above_hce);
    RUN(test_versions);
    RUN(test_staging_visibility);
    RUN(test_commit_noop);
    RUN(test_hold);
    RUN(test_commit_stale);
    RUN(test_abort);
    RUN(test_close_discards);
    RUN(test_slip_and_aggregation);
    RUN(test_reference_holds_epochs);
    RUN(test_wait);
    RUN(test_other_process_commits);
    RUN(test_wait_notify_modes);
    RUN(test_commit_keeps_other_process_commit);
    RUN(test_writers_opened_together);
    RUN(test_reader_elsewhere_holds_its_epoch);
    RUN(test_partial_commit_failure);
    RUN(test_async_commit_failure);
    h_rmrf(g_root);
    return harness_summary();
}
