/* Kills during background work (SPEC §10): a writer killed with SIGKILL while
 * aggregation, compaction, a merge, a container unlink or a shard add is under way
 * leaves a store that opens, every committed byte right and nothing
 * uncommitted visible.
 *
 * The writer (the victim) is this program again, run with --victim (fork +
 * exec), in one of five phases, by round:
 *   aggregation  one long session: each epoch overwrites much of every
 *                object, commits, and slips to HCE, so older versions are
 *                merged in the background while it goes on;
 *   compaction   sessions of two epochs each (open, write, commit, slip,
 *                close): sealed segments whose data was overwritten pile up
 *                and are compacted in the background;
 *   unlink       besides the main container's epochs: side containers made
 *                (create, add a shard, write, commit, close) and unlinked;
 *   shard add    shards added to the main container now and then (at the
 *                epoch about to be written, on target 0, 1 or 2), then
 *                written in that epoch;
 *   merge        sessions of one epoch each (open, write, commit, close),
 *                never slipping: the sealed segments they leave are merged
 *                (every version kept) at each close.
 * What an epoch writes is a pure function of the epoch, the object and the
 * shards that exist, so the test recomputes it. The victim reports through a
 * pipe: each epoch whose commit returned 0, each shard whose add returned 0,
 * each side container begun, committed, being unlinked and unlinked. The
 * test kills it 5-150 ms after it opened the container, then checks:
 *   - the main container opens with status OK, HCE is the last commit
 *     reported or the one under way;
 *   - its shards are those reported, plus at most the one whose add was under
 *     way (whose objects read zeros);
 *   - every object reads as the model at HCE and at DAOS_EPOCH_HIGHEST (the
 *     epoch being written when it died never shows), and at the previous
 *     round's HCE while that is still readable;
 *   - a side container committed and not being unlinked opens and reads
 *     right; one unlinked is gone; one being made or unlinked is either gone
 *     or whole (HCE 0 and zeros, or HCE 1 and all its data).
 *
 * BGKILL_ROUNDS (default 32) rounds; BGKILL_SEED repeats the kill delays and
 * the victims' choices of an earlier run (printed at the start and with any
 * failure). The store goes under C_TESTS_TMPDIR (default /tmp); with
 * C_TESTS_PEER_MNTNS the victim runs on another client of the shared file
 * system. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define OBJ_PER_SHARD 3
#define SPAN (32 * 1024)
#define TAIL 1024
#define MAXSHARD 16
#define NTARGET 3
#define HIGHEST ((uint64_t)DAOS_EPOCH_HIGHEST)

enum { PH_AGGR, PH_COMPACT, PH_UNLINK, PH_SHARD, PH_MERGE, NPHASE };
static const char *const phase_name[NPHASE] = { "aggregation", "compaction", "unlink", "shard add", "merge" };

/* reports: 24 bytes, one write each (atomic, < PIPE_BUF) */
enum { R_READY = 1, R_COMMIT, R_SHARD, R_SIDE_BEGIN, R_SIDE_DONE, R_UNLINK_BEGIN, R_UNLINKED, R_FAIL };
struct rep { uint64_t kind, a, b; };

static char root[256], main_path[320];

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* the bytes written at object offset off by epoch e to object key k */
static void fill(uint8_t *b, uint64_t e, uint64_t k, uint64_t off, uint64_t len)
{
    uint64_t key = mix64(e * 0x100000001b3ull + k);
    for (uint64_t i = 0; i < len;) {
        uint64_t o = off + i, w = mix64(key ^ (o >> 3));
        for (unsigned x = (unsigned)(o & 7); x < 8 && i < len; x++, i++) b[i] = (uint8_t)(w >> (8 * x));
    }
}

static uint64_t okey(uint64_t shard, unsigned lo) { return shard * 16 + lo; }

/* what epoch e does to object key k: a write of [off, off + len), a punch,
 * or nothing; `big` (aggregation phase): mostly large overwrites */
struct op { int kind; uint64_t off, len; };
static struct op gen(uint64_t e, uint64_t k)
{
    uint64_t s = mix64(mix64(e) ^ (k << 7));
    struct op op = { 0, 0, 0 };
    unsigned p = (unsigned)(s % 100);
    s = mix64(s);
    if (p < 25) return op;
    op.kind = p < 88 ? 1 : 2;
    op.len = (p & 1) ? 1 + s % 512 : SPAN / 4 + s % (SPAN / 2);
    s = mix64(s);
    op.off = s % (SPAN - op.len + 1);
    return op;
}

/* ---------------------------------------------------------------- */
/* the victim */

static int rep_fd = -1;

static void report(uint64_t kind, uint64_t a, uint64_t b)
{
    struct rep r = { kind, a, b };
    if (write(rep_fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(3);
}

#define V_TRY(call)                                                          \
    do {                                                                     \
        int rc_ = (call);                                                    \
        if (rc_ < 0) {                                                       \
            report(R_FAIL, __LINE__, (uint64_t)-rc_);                        \
            _exit(3);                                                        \
        }                                                                    \
    } while (0)

static daos_handle_t v_coh;
static uint64_t v_shards[MAXSHARD];
static unsigned v_nshard;

static void v_open(void)
{
    daos_container_status_t st;
    V_TRY(daos_container_open(main_path, DAOS_COO_RW, 1, &st, &v_coh, NULL));
    if (st != DAOS_CONTAINER_ST_OK) V_TRY(-EUCLEAN);
}

/* writes epoch e on every object of every shard, commits it */
static uint8_t v_buf[SPAN];
static void v_epoch(uint64_t e, bool slip)
{
    for (unsigned i = 0; i < v_nshard; i++) {
        for (unsigned lo = 1; lo <= OBJ_PER_SHARD; lo++) {
            uint64_t k = okey(v_shards[i], lo);
            struct op op = gen(e, k);
            if (op.kind == 1) {
                daos_handle_t oh;
                V_TRY(daos_object_open(v_coh, h_oid(v_shards[i], lo), DAOS_OBJ_RW, &oh, NULL));
                fill(v_buf, e, k, op.off, op.len);
                V_TRY(h_write(oh, e, op.off, v_buf, op.len));
                V_TRY(daos_object_close(oh, NULL));
            } else if (op.kind == 2) {
                V_TRY(daos_object_punch(v_coh, h_ep(e), h_oid(v_shards[i], lo), op.off,
                                        op.off + op.len, NULL));
            }
        }
    }
    V_TRY(daos_epoch_commit(v_coh, h_ep(e), false, NULL, NULL));
    report(R_COMMIT, e, 0);
    if (slip) V_TRY(daos_epoch_slip(v_coh, h_ep(HIGHEST), NULL));
}

static void side_path(char *out, size_t n, uint64_t k) { snprintf(out, n, "%s/side-%" PRIu64, root, k); }

/* a side container k: one shard on target k % NTARGET, object 1 written at epoch 1 */
static void v_side(uint64_t k)
{
    char p[400];
    side_path(p, sizeof p, k);
    daos_handle_t c, oh;
    daos_container_status_t st;
    report(R_SIDE_BEGIN, k, 0);
    V_TRY(daos_container_open(p, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &c, NULL));
    unsigned tg = (unsigned)(k % NTARGET);
    int sh = 0;
    V_TRY(daos_shard_add(c, h_ep(1), 1, &tg, &sh, NULL));
    V_TRY(daos_object_open(c, h_oid(0, 1), DAOS_OBJ_RW, &oh, NULL));
    for (uint64_t off = 0; off < SPAN; off += 8192) {
        fill(v_buf, 1, 1000000 + k, off, 8192);
        V_TRY(h_write(oh, 1, off, v_buf, 8192));
    }
    V_TRY(daos_epoch_commit(c, h_ep(1), false, NULL, NULL));
    report(R_SIDE_DONE, k, 0);
    V_TRY(daos_container_close(c, NULL));
}

static int victim(int phase, uint64_t seed, uint64_t side_next)
{
    uint64_t rng = seed;
    v_open();
    struct daos_epoch_info info;
    V_TRY(daos_epoch_query(v_coh, &info, NULL));
    unsigned shards[MAXSHARD];
    daos_off_t anchor = 0;
    V_TRY(daos_container_list_shard(v_coh, info.epi_hce, DAOS_SHARD_LS_ALL, &anchor, MAXSHARD, shards, NULL));
    for (unsigned i = 0; i < MAXSHARD && shards[i] != (unsigned)-1; i++) v_shards[v_nshard++] = shards[i];
    report(R_READY, v_nshard, 0);
    uint64_t e = info.epi_hce.seq + 1;
    int64_t give_up = now_us() + 20 * 1000000; /* killed long before */
    uint64_t unlinked = side_next; /* the next side container to unlink */
    while (now_us() < give_up) {
        rng = mix64(rng);
        switch (phase) {
        case PH_AGGR:
            v_epoch(e++, true);
            break;
        case PH_COMPACT:
            v_epoch(e++, true);
            v_epoch(e++, true);
            V_TRY(daos_container_close(v_coh, NULL));
            v_open();
            break;
        case PH_UNLINK:
            v_epoch(e++, rng % 2 == 0);
            v_side(side_next++);
            if (side_next - unlinked > 2 || rng % 3 == 0) {
                char p[400];
                side_path(p, sizeof p, unlinked);
                report(R_UNLINK_BEGIN, unlinked, 0);
                V_TRY(daos_container_unlink(p, NULL));
                report(R_UNLINKED, unlinked, 0);
                unlinked++;
            }
            break;
        case PH_MERGE:
            v_epoch(e++, false);
            V_TRY(daos_container_close(v_coh, NULL));
            v_open();
            break;
        case PH_SHARD:
            if (v_nshard < MAXSHARD && rng % 3 == 0) {
                unsigned tg = (unsigned)((rng >> 8) % NTARGET);
                int sh = -1;
                V_TRY(daos_shard_add(v_coh, h_ep(e), 1, &tg, &sh, NULL));
                v_shards[v_nshard++] = (uint64_t)sh;
                report(R_SHARD, (uint64_t)sh, e);
            }
            v_epoch(e++, rng % 2 == 0);
            break;
        }
    }
    _exit(0);
}

/* ---------------------------------------------------------------- */
/* the test */

struct shard_m {
    uint64_t id, added; /* added: the epoch of its add (0: from the start) */
    uint8_t obj[OBJ_PER_SHARD][SPAN];
};
static struct shard_m *model, *prev; /* content at model_hce and prev_hce */
static unsigned nshard;
static uint64_t model_hce, prev_hce;
enum { S_NONE, S_BEGUN, S_DONE, S_UNLINKING, S_GONE };
static int side_state[4096];
static uint64_t side_next;
static uint64_t seed;
static unsigned round_no;
static char self_exe[4096];
static uint8_t rbuf[SPAN + TAIL];

#define RFAIL(...)                                                                         \
    do {                                                                                   \
        H_FAIL_(__VA_ARGS__);                                                              \
        fprintf(stderr, "   (round %u, BGKILL_SEED=%" PRIu64 " repeats this run)\n", round_no, seed); \
    } while (0)

static void apply_epoch(struct shard_m *m, unsigned n, uint64_t e)
{
    for (unsigned i = 0; i < n; i++) {
        if (m[i].added > e) continue;
        for (unsigned lo = 1; lo <= OBJ_PER_SHARD; lo++) {
            uint64_t k = okey(m[i].id, lo);
            struct op op = gen(e, k);
            if (op.kind == 1) fill(m[i].obj[lo - 1] + op.off, e, k, op.off, op.len);
            else if (op.kind == 2) memset(m[i].obj[lo - 1] + op.off, 0, op.len);
        }
    }
}

/* reads [0, SPAN + TAIL) of (shard, lo) at e; compares with want (NULL: zeros) */
static bool check_obj(daos_handle_t coh, uint64_t shard, unsigned lo, uint64_t e, const uint8_t *want,
                      const char *what)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, h_oid(shard, lo), DAOS_OBJ_RO, &oh, NULL);
    if (rc != 0) { RFAIL("%s: open of object (%" PRIu64 ", %u): %d", what, shard, lo, rc); return false; }
    memset(rbuf, 0xa5, sizeof rbuf);
    rc = h_read(oh, e, 0, rbuf, sizeof rbuf);
    daos_object_close(oh, NULL);
    if (rc != 0) {
        RFAIL("%s: read of object (%" PRIu64 ", %u) at epoch %" PRIu64 ": %d (%s)", what, shard, lo, e,
              rc, strerror(-rc));
        return false;
    }
    for (size_t i = 0; i < sizeof rbuf; i++) {
        uint8_t w = want && i < SPAN ? want[i] : 0;
        if (rbuf[i] != w) {
            size_t n = 0;
            while (i + n < sizeof rbuf && rbuf[i + n] != (want && i + n < SPAN ? want[i + n] : 0)) n++;
            int64_t from = -1;
            for (uint64_t x = model_hce + 3; x >= 1 && x + 200 > model_hce; x--) {
                uint8_t y[8];
                size_t m = n < 8 ? n : 8;
                fill(y, x, okey(shard, lo), i, m);
                if (memcmp(y, rbuf + i, m) == 0) { from = (int64_t)x; break; }
            }
            RFAIL("%s: object (%" PRIu64 ", %u) at epoch %" PRIu64 ": byte %zu is %#x, expected %#x "
                  "(%zu wrong bytes from there; they look like epoch %" PRId64 "'s; model at %" PRIu64 ")",
                  what, shard, lo, e, i, rbuf[i], w, n, from, model_hce);
            return false;
        }
    }
    CHECK(1);
    return true;
}

/* a side container: gone, or whole */
static void check_side(uint64_t k, bool must_exist, bool must_be_gone)
{
    char p[400];
    side_path(p, sizeof p, k);
    daos_handle_t c;
    daos_container_status_t st = 99;
    int rc = daos_container_open(p, DAOS_COO_RO, 1, &st, &c, NULL);
    if (rc == -ENOENT) {
        if (must_exist) RFAIL("side container %" PRIu64 " (committed, not unlinked) is gone", k);
        else CHECK(1);
        return;
    }
    if (rc != 0) { RFAIL("side container %" PRIu64 ": open gave %d (%s)", k, rc, strerror(-rc)); return; }
    if (must_be_gone) RFAIL("side container %" PRIu64 " was unlinked (the call returned 0) but still opens", k);
    if (st != DAOS_CONTAINER_ST_OK) RFAIL("side container %" PRIu64 ": status %u", k, st);
    struct daos_epoch_info ei;
    memset(&ei, 0, sizeof ei);
    CHECK_RC(daos_epoch_query(c, &ei, NULL), 0);
    static uint8_t want[SPAN];
    if (ei.epi_hce.seq == 1) {
        fill(want, 1, 1000000 + k, 0, SPAN);
        check_obj(c, 0, 1, HIGHEST, want, "side container");
    } else if (ei.epi_hce.seq == 0 && !must_exist) {
        /* made, not yet committed: no data (it may have no shard yet either) */
        daos_handle_t oh;
        if (daos_object_open(c, h_oid(0, 1), DAOS_OBJ_RO, &oh, NULL) == 0) {
            daos_object_close(oh, NULL);
            check_obj(c, 0, 1, HIGHEST, NULL, "side container under way");
        }
    } else {
        RFAIL("side container %" PRIu64 ": HCE %" PRIu64, k, ei.epi_hce.seq);
    }
    CHECK_RC(daos_container_close(c, NULL), 0);
}

static bool run_round(unsigned r, uint64_t *rng)
{
    int phase = (int)(r % NPHASE);
    *rng = mix64(*rng);
    unsigned delay_ms = 5 + (unsigned)(*rng % 146);
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); return false; }
    char a_phase[8], a_seed[32], a_fd[16], a_side[32];
    snprintf(a_phase, sizeof a_phase, "%d", phase);
    snprintf(a_seed, sizeof a_seed, "%" PRIu64, mix64(*rng));
    snprintf(a_fd, sizeof a_fd, "%d", p[1]);
    snprintf(a_side, sizeof a_side, "%" PRIu64, side_next);
    char *argv[] = { self_exe, (char *)"--victim", root, a_phase, a_seed, a_fd, a_side, NULL };
    pid_t pid = h_exec_peer(argv, p[0]);
    close(p[1]);
    if (pid < 0) { perror("fork"); close(p[0]); return false; }
    /* wait for it to be ready, then give it delay_ms */
    struct rep rep;
    uint64_t last = model_hce;
    unsigned ncommit = 0, nadd = 0;
    bool ready = false;
    struct pollfd pf = { p[0], POLLIN, 0 };
    if (poll(&pf, 1, 30000) == 1 && read(p[0], &rep, sizeof rep) == (ssize_t)sizeof rep && rep.kind == R_READY) {
        ready = true;
        if (rep.a != nshard) RFAIL("the victim sees %" PRIu64 " shards, the model %u", rep.a, nshard);
    } else {
        RFAIL("the victim did not open the container within 30 s");
    }
    if (ready) sleep_us((int64_t)delay_ms * 1000);
    kill(pid, SIGKILL);
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    /* what it reported */
    ssize_t n;
    while ((n = read(p[0], &rep, sizeof rep)) == (ssize_t)sizeof rep) {
        switch (rep.kind) {
        case R_COMMIT:
            if (rep.a <= last) RFAIL("commit %" PRIu64 " reported after %" PRIu64, rep.a, last);
            last = rep.a;
            ncommit++;
            break;
        case R_SHARD:
            if (nshard == MAXSHARD) { RFAIL("too many shards"); break; }
            memset(&model[nshard], 0, sizeof model[nshard]);
            model[nshard].id = rep.a;
            model[nshard].added = rep.b;
            prev[nshard] = model[nshard];
            nshard++;
            nadd++;
            break;
        case R_SIDE_BEGIN: side_state[rep.a % 4096] = S_BEGUN; side_next = rep.a + 1; break;
        case R_SIDE_DONE: side_state[rep.a % 4096] = S_DONE; break;
        case R_UNLINK_BEGIN: side_state[rep.a % 4096] = S_UNLINKING; break;
        case R_UNLINKED: side_state[rep.a % 4096] = S_GONE; break;
        case R_FAIL:
            RFAIL("the victim failed at test_bgkill.c:%" PRIu64 " with %d (%s)", rep.a, -(int)rep.b,
                  strerror((int)rep.b));
            break;
        default:
            RFAIL("unknown report %" PRIu64, rep.kind);
        }
    }
    close(p[0]);

    /* the main container */
    daos_handle_t coh;
    daos_container_status_t st = 99;
    int rc = daos_container_open(main_path, DAOS_COO_RO, 1, &st, &coh, NULL);
    if (rc != 0) { RFAIL("the main container does not open after the kill: %d (%s)", rc, strerror(-rc)); return false; }
    if (st != DAOS_CONTAINER_ST_OK) RFAIL("the main container's status is %u after the kill", st);
    struct daos_epoch_info ei;
    memset(&ei, 0, sizeof ei);
    CHECK_RC(daos_epoch_query(coh, &ei, NULL), 0);
    uint64_t hce = ei.epi_hce.seq;
    if (hce < last || hce > last + 1 || hce < model_hce) {
        RFAIL("HCE %" PRIu64 " after the kill; the victim reported %" PRIu64 " (model at %" PRIu64 ")", hce,
              last, model_hce);
        daos_container_close(coh, NULL);
        return false;
    }
    CHECK_EQ(ei.epi_hse.seq, hce);
    /* its shards: the reported ones, and at most one more (an add under way) */
    unsigned listed[MAXSHARD + 4];
    daos_off_t anchor = 0;
    CHECK_RC(daos_container_list_shard(coh, ei.epi_hce, DAOS_SHARD_LS_ALL, &anchor, MAXSHARD + 4, listed, NULL), 0);
    unsigned nl = 0, extra = 0;
    for (; nl < MAXSHARD + 4 && listed[nl] != (unsigned)-1; nl++) {
        bool known = false;
        for (unsigned i = 0; i < nshard; i++) known |= model[i].id == listed[nl];
        if (!known) {
            extra++;
            for (unsigned lo = 1; lo <= OBJ_PER_SHARD; lo++)
                check_obj(coh, listed[nl], lo, HIGHEST, NULL, "a shard whose add was under way");
            if (nshard < MAXSHARD) { /* from now on it is one of the container's */
                memset(&model[nshard], 0, sizeof model[nshard]);
                model[nshard].id = listed[nl];
                model[nshard].added = hce + 1;
                prev[nshard] = model[nshard];
                nshard++;
            }
        }
    }
    if (nl != nshard || extra > 1)
        RFAIL("%u shards listed, %u reported or found (%u unreported)", nl, nshard, extra);
    else CHECK(1);
    /* the model at HCE */
    if (hce > model_hce) {
        memcpy(prev, model, sizeof *model * MAXSHARD);
        prev_hce = model_hce;
        for (uint64_t e = model_hce + 1; e <= hce; e++) apply_epoch(model, nshard, e);
        model_hce = hce;
    }
    bool ok = true;
    for (unsigned i = 0; i < nshard && ok; i++)
        for (unsigned lo = 1; lo <= OBJ_PER_SHARD && ok; lo++) {
            ok &= check_obj(coh, model[i].id, lo, hce, model[i].obj[lo - 1], "at HCE");
            ok &= check_obj(coh, model[i].id, lo, HIGHEST, model[i].obj[lo - 1], "at DAOS_EPOCH_HIGHEST");
            if (prev_hce < model_hce && prev_hce >= ei.epi_hce_oldest.seq && prev_hce >= 1)
                ok &= check_obj(coh, model[i].id, lo, prev_hce, prev[i].obj[lo - 1], "at the previous round's HCE");
        }
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* side containers */
    unsigned nside = 0;
    for (uint64_t k = 0; k < side_next; k++) {
        int s = side_state[k % 4096];
        if (s == S_NONE) continue;
        check_side(k, s == S_DONE, s == S_GONE);
        nside++;
        if (s == S_BEGUN || s == S_UNLINKING) {
            /* clean up what the kill left half done: unlink works on it */
            char pth[400];
            side_path(pth, sizeof pth, k);
            rc = daos_container_unlink(pth, NULL);
            if (rc != 0 && rc != -ENOENT) RFAIL("unlink of side container %" PRIu64 " after the kill: %d", k, rc);
            side_state[k % 4096] = S_GONE;
        }
        if (s == S_GONE) side_state[k % 4096] = S_NONE;
    }
    printf("round %2u (%-11s): killed %3u ms after open, %2u commit(s) reported (last %" PRIu64 "), HCE %" PRIu64
           "%s, %u shard(s)%s, %u side container(s) checked: %s\n",
           r, phase_name[phase], delay_ms, ncommit, last, hce, hce == last + 1 ? " (under way, won)" : "",
           nshard, nadd || extra ? " (added)" : "", nside, ok ? "every byte as committed" : "MISMATCH");
    fflush(stdout);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "--victim") == 0) {
        snprintf(root, sizeof root, "%s", argv[2]);
        snprintf(main_path, sizeof main_path, "%s/main.co", root);
        rep_fd = atoi(argv[5]);
        return victim(atoi(argv[3]), strtoull(argv[4], NULL, 10), strtoull(argv[6], NULL, 10));
    }
    ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (sl <= 0) { perror("readlink"); printf("0 passed, 1 failed\n"); return 1; }
    self_exe[sl] = 0;
    unsigned rounds = 32;
    const char *v = getenv("BGKILL_ROUNDS");
    if (v && atoi(v) > 0) rounds = (unsigned)atoi(v);
    seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    v = getenv("BGKILL_SEED");
    if (v && *v) seed = strtoull(v, NULL, 0);
    printf("kills during background work: %u rounds, BGKILL_SEED=%" PRIu64 "\n", rounds, seed);
    model = calloc(MAXSHARD, sizeof *model);
    prev = calloc(MAXSHARD, sizeof *prev);
    if (h_new_store(root, sizeof root, "bgkill", NTARGET) != 0) { printf("0 passed, 1 failed\n"); return 1; }
    snprintf(main_path, sizeof main_path, "%s/main.co", root);
    daos_handle_t coh;
    daos_container_status_t st;
    int rc;
    CHECK_RC(rc = daos_container_open(main_path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    if (rc) return harness_summary();
    unsigned tg[2] = { 0, 1 };
    int sh[2] = { -1, -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 2, tg, sh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    for (int i = 0; i < 2; i++) model[i].id = prev[i].id = (uint64_t)sh[i];
    nshard = 2;
    int64_t t0 = now_us();
    uint64_t rng = seed;
    for (unsigned r = 1; r <= rounds; r++) {
        round_no = r;
        if (!run_round(r, &rng)) break;
    }
    printf("%u rounds in %.1f s\n", rounds, (double)(now_us() - t0) / 1e6);
    if (atomic_load(&h_fail) == 0) h_rmrf(root);
    else printf("store kept for inspection: %s (BGKILL_SEED=%" PRIu64 ")\n", root, seed);
    free(model);
    free(prev);
    return harness_summary();
}
