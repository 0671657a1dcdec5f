/* Model test (SPEC §8, §9, §10): a seeded random sequence of writes,
 * punches, commits (some sync), aborts, slips, flushes, snapshots, reopens
 * and writers in other processes killed with SIGKILL, checked after every
 * step against an in-memory model of what a read at each epoch must return.
 *
 * The model (SPEC §8): a read at epoch e sees, for every byte, the newest
 * committed write or punch with epoch <= e, plus this handle's own
 * uncommitted writes (staged) with epoch <= e; in one epoch the later call
 * wins. DAOS_EPOCH_HIGHEST sees everything. Writes and punches need an epoch
 * above HCE (-EPERM); commit(e <= HCE) does nothing, except that a commit
 * after another process's commit dropped some of this handle's staged writes
 * returns -ESTALE (once; the rest of it is done as usual); abort(e) drops staged
 * epochs >= e (-EPERM for e <= HCE); slip moves the handle's reference up to
 * min(e, HCE) and never down; closing drops what was staged. Another process's
 * commit of ec publishes its writes in epochs <= ec and closes those epochs to
 * this handle: its own staged writes there disappear (seen at its next query).
 * What a killed process wrote and did not commit never shows. A snapshot at
 * e is a container whose HCE is e and whose content is the content at e.
 *
 * Checked after every step: epoch query (HCE, HSE, slipped; oldest never
 * above slipped and never moving down), reads of objects at HIGHEST, at every
 * staged epoch, at HCE, at the oldest readable epoch and at every epoch
 * between (a sample of them when there are many, all of them every 100 steps
 * and at the end), at sync-kept epochs below the oldest (which stay readable),
 * at an epoch below the oldest (-ESTALE, or the right bytes), and one snapshot
 * container. A read below the oldest epoch may give -ESTALE; one at or above
 * it must not, unless a fresh query says the oldest moved past it meanwhile.
 *
 * MODEL_OPS (default 1500) steps, MODEL_SEED (default: time and pid) seeds
 * the sequence: the seed is printed at the start and with any failure, and
 * MODEL_SEED=n MODEL_OPS=m repeats a run exactly (what a killed writer had
 * time to write while looping before the kill varies, and is never visible).
 * MODEL_VERBOSE=1 prints every step. The first mismatch stops the run and
 * prints the last steps. The store goes under C_TESTS_TMPDIR (default /tmp);
 * with C_TESTS_PEER_MNTNS the other processes run on other clients.
 *
 * The other processes are this program again (--child), fork()ed and
 * execv()ed: half of them commit an epoch before they are killed
 * (MODEL_CHILD_COMMIT=0: none do). A child that used the library straight
 * after fork(), without exec, could, under ASan, hang in malloc on a lock
 * another thread held at the fork (c-tests/test_commit_after_slip.c tests
 * commits of such children, without ASan). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define NSHARD 2
#define OBJ_PER_SHARD 3
#define NOBJ (NSHARD * OBJ_PER_SHARD)
#define SPAN 4096        /* writes and punches stay in [0, SPAN) */
#define TAIL 256         /* reads go this far past SPAN: always zeros */
#define MAXSTAGE 4       /* writes go to HCE + 1 .. HCE + MAXSTAGE */
#define MAXSNAP 3
#define HIGHEST ((uint64_t)DAOS_EPOCH_HIGHEST)

static const uint64_t obj_lo[OBJ_PER_SHARD] = { 1, 77, 1ull << 40 };

/* ---------- randomness and data ---------- */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* two streams: rng makes the steps, crng picks what to read. What the steps
 * do depends only on rng and the model, never on what the library reports
 * (such as how far aggregation went), so a seed always makes the same steps. */
static uint64_t rng, crng;
static uint64_t rnd(uint64_t n) { rng = mix64(rng); return n ? rng % n : 0; }
static bool chance(unsigned pct) { return rnd(100) < pct; }
static uint64_t crnd(uint64_t n) { crng = mix64(crng); return n ? crng % n : 0; }

/* the data of write `id` at object offset o */
static void fill(uint8_t *b, uint64_t id, uint64_t off, uint64_t len)
{
    uint64_t key = mix64(id * 0x100000001b3ull + 7);
    for (uint64_t i = 0; i < len;) {
        uint64_t o = off + i, w = mix64(key ^ (o >> 3));
        for (unsigned k = (unsigned)(o & 7); k < 8 && i < len; k++, i++) b[i] = (uint8_t)(w >> (8 * k));
    }
}

/* ---------- the model ---------- */

typedef uint8_t content_t[NOBJ][SPAN];

struct op {
    uint64_t epoch, id; /* id: the data's seed, and the order of the calls */
    unsigned obj;
    bool punch;
    unsigned next;      /* write: 1 or 2 extents; punch: 1 */
    uint64_t off[2], len[2];
};

static void apply(content_t *c, const struct op *op)
{
    for (unsigned x = 0; x < op->next; x++) {
        if (op->punch) memset((*c)[op->obj] + op->off[x], 0, op->len[x]);
        else fill((*c)[op->obj] + op->off[x], op->id, op->off[x], op->len[x]);
    }
}

/* committed versions: ver[e - ver_base] is the content at epoch e, for
 * ver_base <= e <= hce */
static content_t **ver;
static uint64_t ver_base, ver_cap;
static uint64_t hce, slipped, oldest_seen;
/* sync-kept epochs (readable for good) and their content */
static struct kept { uint64_t e; content_t *c; } *kept;
static unsigned nkept;
/* this handle's staged writes, in call order */
static struct op *staged;
static unsigned nstaged, cap_staged;
/* staged ops that another process's commit dropped, not yet reported by a
 * commit of this handle (-ESTALE) */
static unsigned lost;
static uint64_t next_id = 1;

static content_t *ver_at(uint64_t e)
{
    if (e >= ver_base && e <= hce) return ver[e - ver_base];
    for (unsigned i = 0; i < nkept; i++)
        if (kept[i].e == e) return kept[i].c;
    return NULL;
}

/* appends the version of epoch hce + 1 = `base` + the given ops of that epoch */
static void push_version(const content_t *base, const struct op *ops, unsigned n, uint64_t e)
{
    if (e - ver_base + 1 > ver_cap) {
        ver_cap = (e - ver_base + 1) * 2;
        ver = realloc(ver, ver_cap * sizeof *ver);
    }
    content_t *c = malloc(sizeof *c);
    memcpy(c, base, sizeof *c);
    for (unsigned i = 0; i < n; i++)
        if (ops[i].epoch == e) apply(c, &ops[i]);
    ver[e - ver_base] = c;
    hce = e;
}

/* publishes `ops` (in call order) for epochs hce + 1 .. e */
static void model_commit(const struct op *ops, unsigned n, uint64_t e)
{
    while (hce < e) push_version(ver[hce - ver_base], ops, n, hce + 1);
}

/* drops staged ops matching pred */
static void drop_staged(bool (*pred)(const struct op *, uint64_t), uint64_t arg)
{
    unsigned k = 0;
    for (unsigned i = 0; i < nstaged; i++)
        if (!pred(&staged[i], arg)) staged[k++] = staged[i];
    nstaged = k;
}
static bool at_or_below(const struct op *o, uint64_t e) { return o->epoch <= e; }
static bool at_or_above(const struct op *o, uint64_t e) { return o->epoch >= e; }

/* frees versions below `oldest` (kept epochs have their own copies) */
static void forget_below(uint64_t oldest)
{
    if (oldest > hce) oldest = hce;
    if (oldest <= ver_base) return;
    uint64_t n = oldest - ver_base;
    for (uint64_t i = 0; i < n; i++) free(ver[i]);
    memmove(ver, ver + n, (hce - oldest + 1) * sizeof *ver);
    ver_base = oldest;
}

/* what a read of this handle at epoch e must return */
static void expected(content_t *out, uint64_t e)
{
    if (e != HIGHEST && e <= hce) {
        memcpy(out, ver_at(e), sizeof *out);
        return;
    }
    memcpy(out, ver[hce - ver_base], sizeof *out);
    for (uint64_t x = hce + 1; x <= hce + MAXSTAGE + 1 && x <= e; x++)
        for (unsigned i = 0; i < nstaged; i++)
            if (staged[i].epoch == x) apply(out, &staged[i]);
}

/* ---------- the store ---------- */

static char root[256], path[320];
static int shard_id[NSHARD];
static daos_handle_t coh, oh[NOBJ], ohb[NOBJ]; /* ohb: DAOS_OBJ_IO_BUFFERED */
static struct snap { char path[352]; uint64_t e; content_t *c; } snaps[MAXSNAP];
static unsigned nsnap, snap_serial;
static uint64_t seed;
static long step, nsteps;
static bool failed;
static char hist[24][160];
static unsigned nhist;
static bool verbose;
static struct { long reads, estale, estale_ok, children, child_commits, snaps, aborts, commits, slips; } st;

static daos_obj_id_t oid_of(unsigned obj)
{
    daos_obj_id_t o = { (uint64_t)shard_id[obj / OBJ_PER_SHARD], obj_lo[obj % OBJ_PER_SHARD] };
    return o;
}

__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
    char *s = hist[nhist++ % 24];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, 160, fmt, ap);
    va_end(ap);
    if (verbose) printf("  %5ld %s\n", step, s);
}

__attribute__((format(printf, 1, 2))) static void bad(const char *fmt, ...)
{
    if (failed) return;
    failed = true;
    atomic_fetch_add(&h_fail, 1);
    fprintf(stderr, "test_model: FAIL at step %ld (MODEL_SEED=%" PRIu64 " MODEL_OPS=%ld repeats it): ",
            step, seed, nsteps);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fprintf(stderr, "  model: HCE %" PRIu64 ", slipped %" PRIu64 ", oldest seen %" PRIu64
            ", %u staged ops; the last steps:\n", hce, slipped, oldest_seen, nstaged);
    unsigned n = nhist < 24 ? nhist : 24;
    for (unsigned i = nhist - n; i < nhist; i++) fprintf(stderr, "    %s\n", hist[i % 24]);
}

#define EXPECT_RC(call, want, ...)                                              \
    do {                                                                        \
        int rc_ = (call), w_ = (want);                                          \
        if (rc_ == w_) atomic_fetch_add(&h_pass, 1);                            \
        else {                                                                  \
            char m_[160];                                                       \
            snprintf(m_, sizeof m_, __VA_ARGS__);                               \
            bad("%s: %s returned %d (%s), the model expects %d (%s)", m_, #call, rc_, \
                rc_ ? strerror(-rc_) : "ok", w_, w_ ? strerror(-w_) : "ok");    \
        }                                                                       \
    } while (0)

static int open_objects(void)
{
    for (unsigned i = 0; i < NOBJ; i++) {
        int rc = daos_object_open(coh, oid_of(i), DAOS_OBJ_RW, &oh[i], NULL);
        if (rc == 0) rc = daos_object_open(coh, oid_of(i), DAOS_OBJ_RW | DAOS_OBJ_IO_BUFFERED, &ohb[i], NULL);
        if (rc) return rc;
    }
    return 0;
}

static int open_rw(void)
{
    daos_container_status_t s = 99;
    int rc = daos_container_open(path, DAOS_COO_RW, 1, &s, &coh, NULL);
    if (rc == 0 && s != DAOS_CONTAINER_ST_OK) bad("status %u after open", s);
    if (rc == 0) rc = open_objects();
    return rc;
}

/* reads [0, SPAN + TAIL) of object obj at epoch e through `h`; compares with
 * want (NULL: -ESTALE or want2 are both fine). Returns the rc. */
static uint8_t rbuf[SPAN + TAIL];
static int read_obj(daos_handle_t h, unsigned obj, uint64_t e, uint8_t *out)
{
    unsigned cut = 1 + (unsigned)((e * 31 + obj * 977) % (SPAN + TAIL - 1));
    H_MMD(m, 2);
    m->mmd_frag[0] = (daos_mm_frag){ out, cut };
    m->mmd_frag[1] = (daos_mm_frag){ out + cut, SPAN + TAIL - cut };
    H_IOD1(d, 0, SPAN + TAIL);
    memset(out, 0xa5, SPAN + TAIL);
    st.reads++;
    return daos_object_read(h, h_ep(e), m, d, NULL);
}

/* every write made so far, by id (for saying where wrong bytes came from) */
static struct op *all_ops;
static uint64_t all_cap;
static const char **all_who;

static void remember(const struct op *op, const char *who)
{
    if (op->id >= all_cap) {
        all_cap = (op->id + 1) * 2;
        all_ops = realloc(all_ops, all_cap * sizeof *all_ops);
        all_who = realloc(all_who, all_cap * sizeof *all_who);
    }
    all_ops[op->id] = *op;
    all_who[op->id] = who;
}

/* which write the `n` bytes at object offset `off` came from (0: none known) */
static uint64_t whose(const uint8_t *got, unsigned obj, uint64_t off, unsigned n)
{
    uint8_t x[16];
    if (n > sizeof x) n = sizeof x;
    for (uint64_t id = 1; id < next_id; id++) {
        if (id >= all_cap || all_ops[id].obj != obj) continue;
        fill(x, id, off, n);
        if (memcmp(x, got, n) == 0) return id;
    }
    for (uint64_t id = 1000000000; id < 1000000000 + 200000; id++) {
        fill(x, id, off, n);
        if (memcmp(x, got, n) == 0) return id;
    }
    return 0;
}

static bool same(const uint8_t *got, const uint8_t *want, unsigned obj, uint64_t e, const char *what)
{
    for (unsigned i = 0; i < SPAN + TAIL; i++) {
        uint8_t w = i < SPAN ? want[i] : 0;
        if (got[i] != w) {
            unsigned n = 0;
            while (i + n < SPAN + TAIL && got[i + n] != (i + n < SPAN ? want[i + n] : 0)) n++;
            char from[200] = "";
            uint64_t id = n >= 4 && got[i] != 0 ? whose(got + i, obj, i, n) : 0;
            if (id >= 1000000000)
                snprintf(from, sizeof from, "; they are from the write loop of a killed process "
                         "(never committed)");
            else if (id)
                snprintf(from, sizeof from, "; they are from write #%" PRIu64 " (%s, epoch %" PRIu64 ")",
                         id, all_who[id], all_ops[id].epoch);
            bad("%s: object %u at epoch %s%" PRIu64 ": byte %u is %#x, the model says %#x "
                "(%u wrong bytes from there%s)", what, obj, e == HIGHEST ? "HIGHEST=" : "", e, i,
                got[i], w, n, from);
            return false;
        }
    }
    atomic_fetch_add(&h_pass, 1);
    return true;
}

static struct daos_epoch_info query(const char *what)
{
    struct daos_epoch_info ei;
    memset(&ei, 0, sizeof ei);
    EXPECT_RC(daos_epoch_query(coh, &ei, NULL), 0, "%s", what);
    return ei;
}

/* checks one object at epoch e against the model */
static content_t exp_c;
static void check_read(unsigned obj, uint64_t e, uint64_t oldest)
{
    if (failed) return;
    bool below = e != HIGHEST && e < oldest;
    content_t *keptc = e != HIGHEST ? ver_at(e) : NULL;
    bool is_kept = false;
    for (unsigned i = 0; i < nkept; i++) is_kept |= kept[i].e == e;
    if (below && !is_kept && keptc == NULL) {
        /* below the oldest and not modelled any more: only -ESTALE */
        int rc = read_obj(oh[obj], obj, e, rbuf);
        if (rc == -ESTALE) { st.estale++; atomic_fetch_add(&h_pass, 1); }
        else bad("read of object %u at epoch %" PRIu64 " below the oldest %" PRIu64 " returned %d, "
                 "expected -ESTALE (the model no longer knows its content)", obj, e, oldest, rc);
        return;
    }
    expected(&exp_c, e);
    int rc = read_obj(oh[obj], obj, e, rbuf);
    if (rc == -ESTALE && below && !is_kept) { st.estale++; atomic_fetch_add(&h_pass, 1); return; }
    if (rc == -ESTALE && !is_kept) {
        /* the oldest may have moved since the query: only if a fresh one says so */
        struct daos_epoch_info ei = query("re-query after -ESTALE");
        if (ei.epi_hce_oldest.seq > e) {
            st.estale_ok++;
            atomic_fetch_add(&h_pass, 1);
            return;
        }
        bad("read of object %u at epoch %" PRIu64 " gave -ESTALE, but the oldest readable epoch "
            "is %" PRIu64, obj, e, ei.epi_hce_oldest.seq);
        return;
    }
    if (rc != 0) {
        bad("read of object %u at epoch %" PRIu64 " returned %d (%s)%s", obj, e, rc, strerror(-rc),
            is_kept ? " (a sync-kept epoch)" : "");
        return;
    }
    same(rbuf, exp_c[obj], obj, e, is_kept && below ? "sync-kept epoch below the oldest" : "read");
}

static void check_snapshot(unsigned k)
{
    struct snap *s = &snaps[k];
    daos_handle_t h;
    daos_container_status_t cs = 99;
    int rc = daos_container_open(s->path, DAOS_COO_RO, 1, &cs, &h, NULL);
    if (rc != 0) { bad("open of the snapshot %s (of epoch %" PRIu64 "): %d", s->path, s->e, rc); return; }
    struct daos_epoch_info ei;
    memset(&ei, 0, sizeof ei);
    EXPECT_RC(daos_epoch_query(h, &ei, NULL), 0, "query of a snapshot");
    if (ei.epi_hce.seq != s->e) bad("the snapshot of epoch %" PRIu64 " has HCE %" PRIu64, s->e, ei.epi_hce.seq);
    for (unsigned obj = 0; obj < NOBJ && !failed; obj++) {
        daos_handle_t o;
        EXPECT_RC(daos_object_open(h, oid_of(obj), DAOS_OBJ_RO, &o, NULL), 0, "snapshot object");
        if (failed) break;
        uint64_t e = obj % 2 ? HIGHEST : s->e;
        rc = read_obj(o, obj, e, rbuf);
        if (rc != 0) bad("read of the snapshot of epoch %" PRIu64 ": %d", s->e, rc);
        else same(rbuf, (*s->c)[obj], obj, e, "snapshot");
        daos_object_close(o, NULL);
    }
    EXPECT_RC(daos_container_close(h, NULL), 0, "close of a snapshot");
}

static void check(bool full, int touched)
{
    if (failed) return;
    struct daos_epoch_info ei = query("check");
    if (failed) return;
    uint64_t oldest = ei.epi_hce_oldest.seq;
    if (ei.epi_hce.seq != hce || ei.epi_hse.seq != hce || ei.epi_hce_slipped.seq != slipped) {
        bad("query: HCE %" PRIu64 " HSE %" PRIu64 " slipped %" PRIu64 ", the model says %" PRIu64
            ", %" PRIu64 ", %" PRIu64, ei.epi_hce.seq, ei.epi_hse.seq, ei.epi_hce_slipped.seq, hce, hce, slipped);
        return;
    }
    if (oldest > slipped || oldest < oldest_seen) {
        bad("query: the oldest readable epoch is %" PRIu64 " (slipped %" PRIu64 ", it was %" PRIu64 ")",
            oldest, slipped, oldest_seen);
        return;
    }
    atomic_fetch_add(&h_pass, 1);
    oldest_seen = oldest;
    /* the epochs to read */
    uint64_t eps[64];
    unsigned ne = 0;
    eps[ne++] = HIGHEST;
    for (uint64_t x = hce + 1; x <= hce + MAXSTAGE; x++) eps[ne++] = x;
    uint64_t lo = oldest;
    if (full) {
        /* the whole window is read below */
    } else if (hce - lo + 1 <= 12) {
        for (uint64_t x = lo; x <= hce; x++) eps[ne++] = x;
    } else {
        eps[ne++] = hce;
        eps[ne++] = lo;
        for (int i = 0; i < 6; i++) eps[ne++] = lo + crnd(hce - lo + 1);
    }
    for (unsigned i = 0; i < nkept && ne < 60; i++) eps[ne++] = kept[i].e;
    if (oldest > 0) eps[ne++] = crnd(oldest);
    for (unsigned i = 0; i < ne && !failed; i++) {
        if (full || eps[i] == HIGHEST) {
            for (unsigned obj = 0; obj < NOBJ; obj++) check_read(obj, eps[i], oldest);
        } else {
            check_read(touched >= 0 && crnd(2) ? (unsigned)touched : (unsigned)crnd(NOBJ), eps[i], oldest);
        }
    }
    if (full) {
        /* every epoch of a wide window */
        for (uint64_t x = lo; x <= hce && !failed; x++)
            for (unsigned obj = 0; obj < NOBJ; obj++) check_read(obj, x, oldest);
        for (unsigned k = 0; k < nsnap && !failed; k++) check_snapshot(k);
    } else if (nsnap && step % 8 == 0) {
        check_snapshot((unsigned)crnd(nsnap));
    }
    forget_below(oldest);
}

/* ---------- the steps ---------- */

static struct op gen_op(uint64_t epoch, bool punch)
{
    struct op op;
    memset(&op, 0, sizeof op);
    op.epoch = epoch;
    op.id = next_id++;
    op.obj = (unsigned)rnd(NOBJ);
    op.punch = punch;
    op.next = 1;
    unsigned c = (unsigned)rnd(100);
    op.len[0] = c < 30 ? 1 + rnd(16) : c < 85 ? 1 + rnd(1500) : 1 + rnd(SPAN);
    op.off[0] = rnd(SPAN - op.len[0] + 1);
    if (!punch && chance(30)) {
        uint64_t l = 1 + rnd(600), o = rnd(SPAN - l + 1);
        if (o + l <= op.off[0] || o >= op.off[0] + op.len[0]) {
            op.off[1] = o;
            op.len[1] = l;
            op.next = 2;
        }
    }
    return op;
}

/* issues a write or punch through this process's handles */
static uint8_t wbuf[2 * SPAN];
static int issue(daos_handle_t c, daos_handle_t o, const struct op *op)
{
    if (op->punch) {
        bool to_end = op->off[0] + op->len[0] == SPAN && op->len[0] > 1;
        return daos_object_punch(c, h_ep(op->epoch), oid_of(op->obj), op->off[0],
                                 to_end ? (daos_off_t)-1 : op->off[0] + op->len[0], NULL);
    }
    uint64_t total = 0;
    for (unsigned x = 0; x < op->next; x++) {
        fill(wbuf + total, op->id, op->off[x], op->len[x]);
        total += op->len[x];
    }
    H_MMD(m, 2);
    H_IOD(d, 2);
    d->iod_nfrag = op->next;
    for (unsigned x = 0; x < op->next; x++) d->iod_frag[x] = (daos_io_frag){ op->off[x], op->len[x] };
    uint64_t cut = total > 1 ? 1 + (op->id % (total - 1)) : total;
    m->mmd_nfrag = total > 1 ? 2 : 1;
    m->mmd_frag[0] = (daos_mm_frag){ wbuf, cut };
    m->mmd_frag[1] = (daos_mm_frag){ wbuf + cut, total - cut };
    return daos_object_write(o, h_ep(op->epoch), m, d, NULL);
}

static void stage(const struct op *op)
{
    if (nstaged == cap_staged) {
        cap_staged = cap_staged ? cap_staged * 2 : 64;
        staged = realloc(staged, cap_staged * sizeof *staged);
    }
    staged[nstaged++] = *op;
}

static uint64_t pick_epoch(void)
{
    if (chance(4)) return hce > 0 ? hce - rnd(hce < 3 ? hce : 3) : 0; /* closed: -EPERM */
    return hce + 1 + rnd(MAXSTAGE);
}

static int step_write(bool punch)
{
    uint64_t e = pick_epoch();
    struct op op = gen_op(e, punch);
    bool buffered = chance(30);
    int want = e <= hce ? -EPERM : 0;
    note("%s #%" PRIu64 " obj %u epoch %" PRIu64 " [%" PRIu64 ", +%" PRIu64 ")%s%s", punch ? "punch" : "write",
         op.id, op.obj, e, op.off[0], op.len[0], op.next == 2 ? " and another extent" : "",
         buffered ? " (buffered handle)" : "");
    remember(&op, want ? "this process's, refused" : "this process's");
    EXPECT_RC(issue(coh, buffered ? ohb[op.obj] : oh[op.obj], &op), want, "%s", punch ? "punch" : "write");
    if (want == 0) stage(&op);
    return (int)op.obj;
}

static void step_commit(void)
{
    uint64_t e = hce + rnd(MAXSTAGE + 1);
    if (hce > 0 && chance(10)) e = hce - 1;
    bool sync = chance(10);
    unsigned failed_shard = 777;
    note("commit %" PRIu64 "%s", e, sync ? " sync" : "");
    if (lost) note("  (%u of this handle's writes were dropped by another process's commit: -ESTALE)", lost);
    EXPECT_RC(daos_epoch_commit(coh, h_ep(e), sync, &failed_shard, NULL), lost ? -ESTALE : 0, "commit");
    lost = 0;
    if (failed_shard != 777) bad("commit wrote *shard_failed = %u", failed_shard);
    if (e > hce) {
        model_commit(staged, nstaged, e);
        drop_staged(at_or_below, e);
        st.commits++;
        if (sync) {
            kept = realloc(kept, (nkept + 1) * sizeof *kept);
            kept[nkept].e = e;
            kept[nkept].c = malloc(sizeof(content_t));
            memcpy(kept[nkept].c, ver_at(e), sizeof(content_t));
            nkept++;
        }
    }
}

static void step_abort(void)
{
    uint64_t e = hce + rnd(MAXSTAGE + 1);
    note("abort %" PRIu64, e);
    unsigned fs = 777;
    EXPECT_RC(daos_epoch_abort(coh, h_ep(e), &fs, NULL), e <= hce ? -EPERM : 0, "abort");
    if (e > hce) {
        drop_staged(at_or_above, e);
        st.aborts++;
    }
}

static void step_slip(void)
{
    uint64_t e = chance(40) ? HIGHEST : slipped + rnd(hce - slipped + 3) - (slipped > 0 && chance(10));
    note("slip %s%" PRIu64, e == HIGHEST ? "HIGHEST=" : "", e);
    EXPECT_RC(daos_epoch_slip(coh, h_ep(e), NULL), 0, "slip");
    uint64_t to = e > hce ? hce : e;
    if (to > slipped) slipped = to;
    st.slips++;
}

static void step_flush(void)
{
    uint64_t e = hce + 1 + rnd(MAXSTAGE);
    note("flush %" PRIu64, e);
    EXPECT_RC(daos_container_flush(coh, h_ep(e), NULL), 0, "flush");
}

static void step_snapshot(void)
{
    if (nsnap == MAXSNAP) {
        /* the oldest goes */
        note("unlink snapshot %s", snaps[0].path);
        EXPECT_RC(daos_container_unlink(snaps[0].path, NULL), 0, "unlink of a snapshot");
        free(snaps[0].c);
        memmove(&snaps[0], &snaps[1], (MAXSNAP - 1) * sizeof snaps[0]);
        nsnap--;
    }
    struct snap *s = &snaps[nsnap];
    snprintf(s->path, sizeof s->path, "%s/snap-%u", root, snap_serial++);
    uint64_t e;
    int want = 0;
    if (chance(10)) {
        e = hce + 1; /* not committed */
        want = -EINVAL;
    } else {
        e = slipped + rnd(hce - slipped + 1); /* never below the oldest readable epoch */
    }
    note("snapshot of epoch %" PRIu64 " at %s", e, s->path);
    int rc = daos_container_snapshot(coh, h_ep(e), s->path, NULL);
    if (rc == -ESTALE && want == 0) {
        struct daos_epoch_info ei = query("re-query after a snapshot's -ESTALE");
        if (ei.epi_hce_oldest.seq > e) return; /* moved meanwhile */
    }
    EXPECT_RC(rc, want, "snapshot");
    if (rc == 0 && want == 0) {
        s->e = e;
        s->c = malloc(sizeof(content_t));
        memcpy(s->c, ver_at(e), sizeof(content_t));
        nsnap++;
        st.snaps++;
        check_snapshot(nsnap - 1);
    }
}

static void step_reopen(void)
{
    note("close and reopen the container (%u staged ops dropped)", nstaged);
    EXPECT_RC(daos_container_close(coh, NULL), 0, "close");
    nstaged = 0;
    lost = 0;
    EXPECT_RC(open_rw(), 0, "reopen");
    slipped = hce;
}

/* Another process (this program again, with --child) writes, maybe commits,
 * and is killed: what it must do comes through a pipe. */
static char self_exe[4096];
static bool child_commits; /* unless MODEL_CHILD_COMMIT=0 */

struct job {
    char path[320];
    int shard_id[NSHARD];
    unsigned n, nops;
    bool commit, loop;
    uint64_t ec;
    struct op ops[16];
};

/* the other process: answers 'D' when done, 'E' or 'C' when a call failed */
static int child_main(int in, int out)
{
    struct job job;
    size_t got = 0;
    while (got < sizeof job) {
        ssize_t k = read(in, (char *)&job + got, sizeof job - got);
        if (k <= 0) return 2;
        got += (size_t)k;
    }
    memcpy(path, job.path, sizeof job.path);
    memcpy(shard_id, job.shard_id, sizeof shard_id);
    char r = 'E';
    daos_handle_t c, o[NOBJ];
    daos_container_status_t cs;
    if (daos_container_open(path, DAOS_COO_RW, 1, &cs, &c, NULL) != 0) goto out;
    for (unsigned i = 0; i < NOBJ; i++)
        if (daos_object_open(c, oid_of(i), DAOS_OBJ_RW, &o[i], NULL) != 0) goto out;
    for (unsigned i = 0; i < job.nops; i++) {
        if (issue(c, o[job.ops[i].obj], &job.ops[i]) != 0) goto out;
        if (job.commit && i + 1 == job.n) {
            if (daos_epoch_commit(c, h_ep(job.ec), false, NULL, NULL) != 0) { r = 'C'; goto out; }
        }
    }
    r = 'D';
    if (write(out, &r, 1) != 1) return 1;
    if (job.loop) { /* more writes, never committed, until killed */
        struct op x = job.ops[0];
        for (uint64_t k = 0;; k++) {
            x.epoch = job.ec + 1 + k % 3;
            x.id = 1000000000 + k;
            issue(c, o[x.obj], &x);
        }
    }
    for (;;) pause();
out:
    if (write(out, &r, 1) != 1) return 1;
    for (;;) pause();
}

/* Another process writes (and maybe commits), and is killed. */
static void step_child(void)
{
    unsigned n = 1 + (unsigned)rnd(6);
    struct op ops[16];
    unsigned nops = 0;
    bool commit = chance(50) && child_commits, loop = chance(30);
    uint64_t ec = hce + 1 + rnd(3);
    for (unsigned i = 0; i < n; i++) ops[nops++] = gen_op(hce + 1 + rnd(MAXSTAGE), chance(20));
    unsigned after = commit ? (unsigned)rnd(3) : 0; /* uncommitted ops above ec */
    for (unsigned i = 0; i < after; i++) ops[nops++] = gen_op(ec + 1 + rnd(2), chance(20));
    for (unsigned i = 0; i < nops; i++)
        remember(&ops[i], !commit ? "a killed process's, not committed" :
                 i < n && ops[i].epoch <= ec ? "a killed process's, committed" :
                 "a killed process's, above what it committed");
    note("another process: %u ops (writes #%" PRIu64 "..#%" PRIu64 ")%s%s, then SIGKILL", nops,
         ops[0].id, ops[nops - 1].id,
         commit ? ", commit" : ", no commit", loop ? ", writes in a loop until killed" : "");
    char ce[32];
    snprintf(ce, sizeof ce, "%" PRIu64, ec);
    if (commit) note("  (it commits %s after its first %u ops)", ce, n);
    for (unsigned i = 0; i < nops; i++)
        note("  its %s #%" PRIu64 " obj %u epoch %" PRIu64 " [%" PRIu64 ", +%" PRIu64 ")%s",
             ops[i].punch ? "punch" : "write", ops[i].id, ops[i].obj, ops[i].epoch, ops[i].off[0],
             ops[i].len[0], ops[i].next == 2 ? " and another extent" : "");
    struct job job;
    memset(&job, 0, sizeof job);
    snprintf(job.path, sizeof job.path, "%s", path);
    memcpy(job.shard_id, shard_id, sizeof job.shard_id);
    job.n = n;
    job.nops = nops;
    job.commit = commit;
    job.loop = loop;
    job.ec = ec;
    memcpy(job.ops, ops, nops * sizeof ops[0]);
    int p[2], q[2];
    if (pipe(p) != 0) { bad("pipe: %s", strerror(errno)); return; }
    if (pipe(q) != 0) { bad("pipe: %s", strerror(errno)); close(p[0]); close(p[1]); return; }
    int ns = h_peer_ns_pick();
    char a_in[16], a_out[16];
    snprintf(a_in, sizeof a_in, "%d", q[0]);
    snprintf(a_out, sizeof a_out, "%d", p[1]);
    char *argv[] = { self_exe, (char *)"--child", a_in, a_out, NULL };
    fflush(stdout);
    fflush(stderr);
    /* fork() and exec(): this process has threads (the library's), and a
     * child of a threaded process may only make async-signal-safe calls
     * (under ASan, a malloc can deadlock on a lock another thread held) */
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        close(q[1]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (h_peer_ns_enter(ns) != 0) _exit(1);
        execv(self_exe, argv);
        _exit(98);
    }
    close(q[0]);
    if (pid > 0 && write(q[1], &job, sizeof job) != (ssize_t)sizeof job) bad("cannot send the job");
    close(q[1]);
    close(p[1]);
    if (pid < 0) { bad("fork: %s", strerror(errno)); close(p[0]); return; }
    char r = 0;
    struct pollfd pf = { p[0], POLLIN, 0 };
    if (poll(&pf, 1, 30000) != 1 || read(p[0], &r, 1) != 1) r = 'T';
    if (loop && r == 'D') sleep_us((int64_t)(rnd(5) + 1) * 1000);
    kill(pid, SIGKILL);
    int ws = 0;
    waitpid(pid, &ws, 0);
    close(p[0]);
    st.children++;
    if (r != 'D') {
        bad("the other process %s", r == 'T' ? "did not report within 30 s" :
            r == 'C' ? "could not commit" : "failed to open or write");
        return;
    }
    if (commit) {
        /* published: its ops in epochs <= ec (in call order); ours there are dropped */
        struct op pub[16];
        unsigned np = 0;
        for (unsigned i = 0; i < n; i++) pub[np++] = ops[i];
        model_commit(pub, np, ec);
        unsigned before = nstaged;
        drop_staged(at_or_below, ec);
        lost += before - nstaged;
        st.child_commits++;
    }
    /* this handle learns of it at its next query (check() makes one) */
}

static void run_step(void)
{
    unsigned c = (unsigned)rnd(1000);
    int touched = -1;
    if (c < 400) touched = step_write(false);
    else if (c < 500) touched = step_write(true);
    else if (c < 640) step_commit();
    else if (c < 700) step_abort();
    else if (c < 800) step_slip();
    else if (c < 830) step_flush();
    else if (c < 870) step_snapshot();
    else if (c < 900) step_reopen();
    else if (c < 945) step_child();
    else check(true, -1); /* a step of reads only: every epoch, every object */
    check(step % 100 == 0, touched);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child") == 0) return child_main(atoi(argv[2]), atoi(argv[3]));
    ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (sl <= 0) { perror("readlink /proc/self/exe"); printf("0 passed, 1 failed\n"); return 1; }
    self_exe[sl] = 0;
    child_commits = !(getenv("MODEL_CHILD_COMMIT") && atoi(getenv("MODEL_CHILD_COMMIT")) == 0);
    nsteps = 1500;
    const char *v = getenv("MODEL_OPS");
    if (v && atol(v) > 0) nsteps = atol(v);
    seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    v = getenv("MODEL_SEED");
    if (v && *v) seed = strtoull(v, NULL, 0);
    verbose = getenv("MODEL_VERBOSE") != NULL;
    printf("model test: %ld steps, MODEL_SEED=%" PRIu64 "%s\n", nsteps, seed,
           child_commits ? "" : ", other processes never commit (MODEL_CHILD_COMMIT=0)");
    fflush(stdout);
    rng = seed;
    crng = mix64(seed ^ 0x5eed);

    if (h_new_store(root, sizeof root, "model", 2) != 0) { printf("0 passed, 1 failed\n"); return 1; }
    snprintf(path, sizeof path, "%s/model.co", root);
    daos_container_status_t s;
    int rc;
    CHECK_RC(rc = daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &s, &coh, NULL), 0);
    if (rc) return harness_summary();
    unsigned tg[NSHARD] = { 0, 1 };
    int sh[NSHARD] = { -1, -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), NSHARD, tg, sh, NULL), 0);
    for (int i = 0; i < NSHARD; i++) shard_id[i] = sh[i];
    CHECK_RC(open_objects(), 0);
    /* epoch 0: all zeros */
    ver_cap = 64;
    ver = calloc(ver_cap, sizeof *ver);
    ver[0] = calloc(1, sizeof(content_t));
    struct daos_epoch_info ei = query("start");
    hce = 0;
    slipped = ei.epi_hce_slipped.seq;
    CHECK_EQ(ei.epi_hce.seq, 0);

    int64_t t0 = now_us();
    for (step = 1; step <= nsteps && !failed; step++) run_step();
    step--;
    if (!failed) check(true, -1);
    printf("%ld steps in %.1f s: HCE %" PRIu64 ", oldest %" PRIu64 ", %ld reads (%ld -ESTALE below the "
           "oldest, %ld after it moved), %ld commits (%u sync), %ld aborts, %ld slips, %ld snapshots, "
           "%ld other processes killed (%ld had committed)\n",
           step, (double)(now_us() - t0) / 1e6, hce, oldest_seen, st.reads, st.estale, st.estale_ok,
           st.commits, nkept, st.aborts, st.slips, st.snaps, st.children, st.child_commits);
    if (failed) {
        printf("FAILED: MODEL_SEED=%" PRIu64 " MODEL_OPS=%ld repeats it; the store is kept: %s\n", seed,
               nsteps, root);
    } else {
        daos_container_close(coh, NULL);
        h_rmrf(root);
    }
    for (uint64_t e = ver_base; e <= hce; e++) free(ver[e - ver_base]);
    free(ver);
    for (unsigned i = 0; i < nkept; i++) free(kept[i].c);
    free(kept);
    for (unsigned i = 0; i < nsnap; i++) free(snaps[i].c);
    free(staged);
    free(all_ops);
    free(all_who);
    return harness_summary();
}
