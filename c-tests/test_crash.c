/* Crash safety (SPEC §10): a writer process killed with SIGKILL at a random
 * moment leaves the container openable, with HCE equal to its last commit
 * that returned 0 (or the one under way), every committed byte intact, and
 * nothing uncommitted visible.
 *
 * The parent formats a store (2 targets), makes a container with 2 shards,
 * then runs CRASH_ROUNDS rounds (default 24). Each round forks a writer that
 * commits epoch after epoch (HCE+1, HCE+2, ...) and reports each epoch whose
 * commit returned 0 through a pipe; the parent kills it after 1-60 ms, reopens
 * the container read-only and compares every byte of every object with a
 * model. What the writer does in an epoch is a pure function of the epoch
 * number, so the parent recomputes the expected content of any epoch without
 * being told what was written.
 *
 * The writer also slips its read reference now and then, so older versions
 * get aggregated while it runs, and a kill can land in that too.
 *
 * Commits append to the container file's metadata log, and replace the file
 * (a checkpoint) when the log is full. Rounds take turns: the log at its
 * default size (mostly appends), a 1 KiB log (a checkpoint every few
 * commits), no log (every commit a checkpoint), and a 1 KiB log where the
 * kill is aimed at a checkpoint: the
 * parent watches the container's directory (inotify) and kills the writer
 * 0-500 us after a checkpoint's temporary file appears (while it is written,
 * flushed or renamed). Where no checkpoint is seen within 2 s (a shared file
 * system's other client makes no events here) the round kills after its
 * delay; otherwise at least one round must have been killed in a checkpoint.
 *
 * CRASH_SEED=n repeats the kill delays of an earlier run (the writes never
 * depend on the seed); CRASH_MAX_DELAY_MS (default 60) bounds the delays;
 * CRASH_VERBOSE prints the writer's timings. The store is made under
 * C_TESTS_TMPDIR (default /tmp); with C_TESTS_PEER_MNTNS (make test-sharedfs)
 * each writer runs on another client of the shared file system. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define NSHARD 2
#define OBJ_PER_SHARD 4
#define NOBJ (NSHARD * OBJ_PER_SHARD)
#define SPAN (64 * 1024)   /* every write and punch stays inside [0, SPAN) */
#define TAIL 4096          /* read past SPAN too: always zeros */
#define NROUND 3           /* ops per object per epoch, in order */
#define MAX_EXT 32768      /* longest extent of one write */
#define BUF_MAX (2 * MAX_EXT)

/* a child's report: an epoch it committed, or FAIL_BIT | line << 16 | errno */
#define FAIL_BIT (1ull << 63)

static const uint64_t obj_lo[OBJ_PER_SHARD] = { 1, 2, 77, 1ull << 40 };

static char store_dir[256];
static unsigned max_delay_ms = 60; /* CRASH_MAX_DELAY_MS */
static bool verbose;               /* CRASH_VERBOSE: the writer's timings on stderr */
static char co_path[320];
static int shard_id[NSHARD];

/* ---------- the deterministic workload ---------- */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The byte at `off` of object `obj` as written in epoch `e`: depends on all
 * three, so a byte from another epoch or another place never matches by luck
 * for long. */
static void fill(uint8_t *buf, uint64_t e, unsigned obj, uint64_t off, uint64_t len)
{
    uint64_t key = mix64(e * 0x100000001b3ull + obj);
    for (uint64_t i = 0; i < len;) {
        uint64_t o = off + i;
        uint64_t w = mix64(key ^ (o >> 3));
        for (unsigned b = (unsigned)(o & 7); b < 8 && i < len; b++, i++)
            buf[i] = (uint8_t)(w >> (8 * b));
    }
}

static uint64_t rng_next(uint64_t *s)
{
    *s = mix64(*s);
    return *s;
}

enum { OP_NONE, OP_WRITE, OP_PUNCH };

struct op {
    int kind;
    unsigned next;        /* write: number of extents (1 or 2) */
    uint64_t off[2], len[2];
    unsigned nmem;        /* write: memory fragments (1..3) */
    uint64_t cut[2];      /* write: where the memory is cut into fragments */
    bool to_end;          /* punch: [off, end of object) */
};

static uint64_t pick_len(uint64_t *s)
{
    unsigned c = (unsigned)(rng_next(s) % 100);
    if (c < 35) return 1 + rng_next(s) % 64;
    if (c < 75) return 1 + rng_next(s) % 8192;
    return 8192 + rng_next(s) % (MAX_EXT - 8192 + 1);
}

/* What epoch `e` does to object `obj` in round `round`. */
static struct op gen_op(uint64_t e, unsigned obj, unsigned round)
{
    uint64_t s = mix64(mix64(e) ^ ((uint64_t)obj << 8) ^ round);
    struct op op;
    memset(&op, 0, sizeof(op));
    unsigned p = (unsigned)(rng_next(&s) % 100);
    if (p < 30)
        return op; /* untouched this round */
    if (p < 85) {
        op.kind = OP_WRITE;
        op.next = 1;
        op.len[0] = pick_len(&s);
        op.off[0] = rng_next(&s) % (SPAN - op.len[0] + 1);
        if (rng_next(&s) % 3 == 0) {
            uint64_t l = pick_len(&s), o = rng_next(&s) % (SPAN - l + 1);
            /* the extents of one write never overlap: which would win is not defined */
            if (o + l <= op.off[0] || o >= op.off[0] + op.len[0]) {
                op.off[1] = o;
                op.len[1] = l;
                op.next = 2;
            }
        }
        uint64_t total = op.len[0] + op.len[1];
        op.nmem = 1 + (unsigned)(rng_next(&s) % 3);
        if (total < op.nmem) op.nmem = (unsigned)total;
        if (op.nmem >= 2) {
            op.cut[0] = 1 + rng_next(&s) % (total - 1);
            if (op.nmem == 3) {
                if (total - op.cut[0] < 2) op.nmem = 2;
                else op.cut[1] = op.cut[0] + 1 + rng_next(&s) % (total - op.cut[0] - 1);
            }
        }
    } else {
        op.kind = OP_PUNCH;
        op.len[0] = pick_len(&s);
        op.off[0] = rng_next(&s) % (SPAN - op.len[0] + 1);
        op.to_end = rng_next(&s) % 5 == 0;
        if (op.to_end && op.off[0] < SPAN / 2) op.off[0] += SPAN / 2; /* keep some data */
    }
    return op;
}

/* model[obj] holds [0, SPAN) of each object */
static void apply_epoch(uint8_t (*model)[SPAN], uint64_t e)
{
    for (unsigned r = 0; r < NROUND; r++) {
        for (unsigned obj = 0; obj < NOBJ; obj++) {
            struct op op = gen_op(e, obj, r);
            if (op.kind == OP_WRITE) {
                for (unsigned x = 0; x < op.next; x++)
                    fill(model[obj] + op.off[x], e, obj, op.off[x], op.len[x]);
            } else if (op.kind == OP_PUNCH) {
                uint64_t end = op.to_end ? SPAN : op.off[0] + op.len[0];
                memset(model[obj] + op.off[0], 0, end - op.off[0]);
            }
        }
    }
}

static daos_obj_id_t oid_of(unsigned obj)
{
    daos_obj_id_t oid = { (uint64_t)shard_id[obj / OBJ_PER_SHARD], obj_lo[obj % OBJ_PER_SHARD] };
    return oid;
}

/* ---------- the writer (child process) ---------- */

static int wfd = -1;
static int64_t t_fork;

static void report(uint64_t v)
{
    /* 8 bytes < PIPE_BUF: one atomic write, nothing else */
    ssize_t n = write(wfd, &v, sizeof(v));
    (void)n;
}

#define CHILD_TRY(call)                                                     \
    do {                                                                    \
        int rc_ = (call);                                                   \
        if (rc_ < 0) {                                                      \
            report(FAIL_BIT | ((uint64_t)__LINE__ << 16) | (uint64_t)(-rc_)); \
            _exit(3);                                                       \
        }                                                                   \
    } while (0)

static daos_handle_t c_eq, c_coh, c_oh[NOBJ];
static struct daos_event c_ev[NOBJ], c_cev;
static uint8_t *c_buf[NOBJ];
static int c_inflight;

static void c_take(struct daos_event *got)
{
    if (got->ev_error != 0) {
        report(FAIL_BIT | ((uint64_t)__LINE__ << 16) | (uint64_t)(-got->ev_error));
        _exit(3);
    }
    c_inflight--;
}

static void c_drain(void)
{
    struct daos_event *evs[NOBJ + 1];
    while (c_inflight > 0) {
        int n = daos_eq_poll(c_eq, 0, DAOS_EQ_WAIT, NOBJ + 1, evs);
        CHILD_TRY(n);
        for (int i = 0; i < n; i++) c_take(evs[i]);
    }
}

static void c_issue(uint64_t e, unsigned obj, unsigned round, bool async)
{
    struct op op = gen_op(e, obj, round);
    struct daos_event *ev = async ? &c_ev[obj] : NULL;
    daos_epoch_t ep = { e };
    if (op.kind == OP_NONE)
        return;
    if (op.kind == OP_PUNCH) {
        CHILD_TRY(daos_object_punch(c_coh, ep, oid_of(obj), op.off[0],
                                    op.to_end ? (daos_off_t)-1 : op.off[0] + op.len[0], ev));
    } else {
        uint64_t total = 0;
        for (unsigned x = 0; x < op.next; x++) {
            fill(c_buf[obj] + total, e, obj, op.off[x], op.len[x]);
            total += op.len[x];
        }
        /* descriptors are copied by the call: freed right after it */
        daos_mmd *mmd = malloc(sizeof(*mmd) + 3 * sizeof(daos_mm_frag));
        daos_iod *iod = malloc(sizeof(*iod) + 2 * sizeof(daos_io_frag));
        if (mmd == NULL || iod == NULL) CHILD_TRY(-ENOMEM);
        uint64_t bounds[4] = { 0, op.cut[0], op.cut[1], 0 };
        bounds[op.nmem] = total;
        mmd->mmd_nfrag = op.nmem;
        for (unsigned f = 0; f < op.nmem; f++) {
            mmd->mmd_frag[f].mf_addr = c_buf[obj] + bounds[f];
            mmd->mmd_frag[f].mf_nob = bounds[f + 1] - bounds[f];
        }
        iod->iod_nfrag = op.next;
        for (unsigned x = 0; x < op.next; x++) {
            iod->iod_frag[x].if_offset = op.off[x];
            iod->iod_frag[x].if_nob = op.len[x];
        }
        int rc = daos_object_write(c_oh[obj], ep, mmd, iod, ev);
        free(mmd);
        free(iod);
        CHILD_TRY(rc);
    }
    if (async) c_inflight++;
}

/* one round of epoch e on every object; async rounds share the EQ */
static void c_round(uint64_t e, unsigned round, bool async, bool wait)
{
    for (unsigned obj = 0; obj < NOBJ; obj++) c_issue(e, obj, round, async);
    if (async && wait) c_drain();
}

static void writer(void)
{
    daos_container_status_t st;
    daos_epoch_info info;
    CHILD_TRY(daos_eq_create(&c_eq));
    CHILD_TRY(daos_container_open(co_path, DAOS_COO_RW, 1, &st, &c_coh, NULL));
    if (st != DAOS_CONTAINER_ST_OK) CHILD_TRY(-EUCLEAN);
    CHILD_TRY(daos_epoch_query(c_coh, &info, NULL));
    for (unsigned obj = 0; obj < NOBJ; obj++) {
        unsigned mode = DAOS_OBJ_RW | (obj % 3 == 0 ? DAOS_OBJ_IO_BUFFERED : 0);
        CHILD_TRY(daos_object_open(c_coh, oid_of(obj), mode, &c_oh[obj], NULL));
        CHILD_TRY(daos_event_init(&c_ev[obj], c_eq, NULL));
        c_buf[obj] = malloc(BUF_MAX);
        if (c_buf[obj] == NULL) CHILD_TRY(-ENOMEM);
    }
    CHILD_TRY(daos_event_init(&c_cev, c_eq, NULL));
    int64_t t_open = now_us();
    if (verbose)
        fprintf(stderr, "  writer: container open %.1f ms after fork\n",
                (double)(t_open - t_fork) / 1000);

    int64_t give_up = now_us() + 20 * 1000000; /* the parent kills us long before */
    bool pre_issued = false;
    for (uint64_t e = info.epi_hce.seq + 1; now_us() < give_up; e++) {
        uint64_t h = mix64(e ^ 0xc0ffee);
        for (unsigned r = pre_issued ? 1 : 0; r < NROUND; r++) {
            /* round 0 always asynchronous; later rounds sometimes synchronous */
            bool async = r == 0 || ((h >> r) & 1);
            c_round(e, r, async, true);
        }
        /* sometimes start the next epoch's first round before committing this
         * one, and leave it in flight across the commit */
        pre_issued = h % 3 == 0;
        if (pre_issued) c_round(e + 1, 0, true, false);

        daos_epoch_t ep = { e };
        unsigned failed = 0;
        bool sync = h % 11 == 0;
        if ((h >> 8) & 1) {
            CHILD_TRY(daos_epoch_commit(c_coh, ep, sync, &failed, NULL));
        } else {
            CHILD_TRY(daos_epoch_commit(c_coh, ep, sync, &failed, &c_cev));
            c_inflight++;
        }
        c_drain(); /* the commit and any pre-issued writes */
        report(e);
        /* now and then let older versions go: they may then be aggregated
         * (merged, their space reclaimed), which a kill may interrupt too */
        if (h % 4 == 1)
            CHILD_TRY(daos_epoch_slip(c_coh, (daos_epoch_t){ (uint64_t)DAOS_EPOCH_HIGHEST }, NULL));
        if (verbose)
            fprintf(stderr, "  writer: epoch %" PRIu64 " committed %.1f ms after open\n", e,
                    (double)(now_us() - t_open) / 1000);
    }
    _exit(0);
}

/* ---------- the parent ---------- */

static uint8_t (*model)[SPAN];      /* content at model_epoch */
static uint8_t (*prev_model)[SPAN]; /* content at prev_epoch */
static uint64_t model_epoch, prev_epoch;
static uint8_t rbuf[SPAN + TAIL];

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

/* reads object obj at epoch e (two memory fragments, one extent) and
 * compares it with want; returns false (after one failure) on a mismatch */
static bool verify_obj(daos_handle_t coh, unsigned obj, daos_epoch_t e, const uint8_t *want,
                       const char *what)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, oid_of(obj), DAOS_OBJ_RO, &oh, NULL);
    CHECK_RC(rc, 0);
    if (rc != 0) return false;
    memset(rbuf, 0xa5, sizeof(rbuf));
    daos_mmd *mmd = malloc(sizeof(*mmd) + 2 * sizeof(daos_mm_frag));
    daos_iod *iod = malloc(sizeof(*iod) + sizeof(daos_io_frag));
    uint64_t cut = 1 + (obj * 12345) % (SPAN + TAIL - 1);
    mmd->mmd_nfrag = 2;
    mmd->mmd_frag[0] = (daos_mm_frag){ rbuf, cut };
    mmd->mmd_frag[1] = (daos_mm_frag){ rbuf + cut, SPAN + TAIL - cut };
    iod->iod_nfrag = 1;
    iod->iod_frag[0] = (daos_io_frag){ 0, SPAN + TAIL };
    rc = daos_object_read(oh, e, mmd, iod, NULL);
    free(mmd);
    free(iod);
    CHECK_RC(rc, 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    if (rc != 0) return false;
    size_t bad = SIZE_MAX;
    for (size_t i = 0; i < sizeof(rbuf); i++) {
        uint8_t w = i < SPAN ? want[i] : 0;
        if (rbuf[i] != w) { bad = i; break; }
    }
    if (bad == SIZE_MAX) { CHECK(1); return true; }
    /* say which epoch the wrong byte came from, if any recent one */
    size_t run = 0;
    for (size_t i = bad; i < sizeof(rbuf) && rbuf[i] != (i < SPAN ? want[i] : 0); i++) run++;
    int64_t from = -1;
    for (uint64_t e2 = model_epoch + 3; e2 >= 1 && e2 + 64 > model_epoch; e2--) {
        uint8_t x[8];
        size_t n = run < 8 ? run : 8;
        fill(x, e2, obj, bad, n);
        if (memcmp(x, rbuf + bad, n) == 0) { from = (int64_t)e2; break; }
    }
    H_FAIL_("%s: object %u (shard %d, lo %" PRIu64 ") at epoch %" PRIu64
            ": byte %zu is %#x, expected %#x (%zu wrong bytes from there; "
            "they look like epoch %" PRId64 "'s data; model at %" PRIu64 ")",
            what, obj, shard_id[obj / OBJ_PER_SHARD], obj_lo[obj % OBJ_PER_SHARD], e.seq, bad,
            rbuf[bad], bad < SPAN ? want[bad] : 0, run, from, model_epoch);
    return false;
}

static void setup(void)
{
    if (h_tmpdir(store_dir, sizeof store_dir, "crash") != 0) exit(2);
    snprintf(co_path, sizeof(co_path), "%s/crash.co", store_dir);
    CHECK_RC(daos_sys_format(store_dir, 2, NULL, DAOS_SYS_FORMAT_NO_PROBE), 0);

    daos_container_status_t st = 99;
    daos_handle_t coh;
    CHECK_RC(daos_container_open(co_path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    unsigned targets[NSHARD] = { 0, 1 };
    int shards[NSHARD] = { -1, -1 };
    CHECK_RC(daos_shard_add(coh, (daos_epoch_t){ 1 }, NSHARD, targets, shards, NULL), 0);
    for (int i = 0; i < NSHARD; i++) {
        CHECK(shards[i] >= 0);
        shard_id[i] = shards[i];
    }
    CHECK(shard_id[0] != shard_id[1]);
    daos_epoch_info info;
    CHECK_RC(daos_epoch_query(coh, &info, NULL), 0);
    CHECK_EQ(info.epi_hce.seq, 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    printf("store %s, container %s, shards %d and %d\n", store_dir, co_path, shard_id[0],
           shard_id[1]);
}

static unsigned ckpt_kills; /* rounds killed inside a checkpoint */

/* Waits (at most 2 s) until a checkpoint's temporary file (".crash.co.tmp.*")
 * is made in the store directory watched by `ifd`; returns whether it was. */
static bool wait_checkpoint(int ifd)
{
    int64_t until = now_us() + 2000000;
    char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (now_us() < until) {
        struct pollfd p = { .fd = ifd, .events = POLLIN };
        if (poll(&p, 1, (int)((until - now_us()) / 1000) + 1) <= 0) continue;
        ssize_t n = read(ifd, ev, sizeof ev);
        for (ssize_t off = 0; off < n;) {
            struct inotify_event *e = (struct inotify_event *)(ev + off);
            if (e->len > 0 && strncmp(e->name, ".crash.co.tmp.", 14) == 0) return true;
            off += (ssize_t)sizeof *e + e->len;
        }
    }
    return false;
}

/* one crash round; returns false if the container's state makes going on pointless */
static bool crash_round(unsigned round, uint64_t *seed, uint64_t *total_epochs)
{
    int fds[2];
    if (pipe(fds) != 0) { perror("pipe"); exit(2); }
    unsigned delay_ms = 1 + (unsigned)(rng_next(seed) % max_delay_ms);
    unsigned extra_us = (unsigned)(rng_next(seed) % 500);
    /* the metadata log: default, 1 KiB, 1 KiB with the kill in a checkpoint,
     * off (every update a checkpoint) */
    unsigned kind = round % 4;
    const char *log_size = kind == 0 ? NULL : kind == 3 ? "off" : "1K";
    int ifd = -1;
    if (kind == 2) {
        ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ifd < 0 || inotify_add_watch(ifd, store_dir, IN_CREATE) < 0) { perror("inotify"); exit(2); }
    }
    fflush(stdout);
    fflush(stderr);
    t_fork = now_us();
    int ns = h_peer_ns_pick(); /* with C_TESTS_PEER_MNTNS: another client */
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        close(fds[0]);
        wfd = fds[1];
        if (h_peer_ns_enter(ns) != 0) {
            report(FAIL_BIT | ((uint64_t)__LINE__ << 16) | (uint64_t)EPERM);
            _exit(3);
        }
        if (log_size != NULL) setenv("DAOS_RS_META_LOG", log_size, 1);
        writer();
        _exit(0);
    }
    close(fds[1]);
    const char *how = log_size == NULL ? "log 32K" : kind == 3 ? "log off" : "log 1K";
    if (ifd >= 0 && wait_checkpoint(ifd)) {
        sleep_us(extra_us);
        how = "in a checkpoint";
        ckpt_kills++;
    } else {
        if (ifd >= 0) how = "log 1K, no checkpoint seen";
        sleep_us((int64_t)delay_ms * 1000);
    }
    if (ifd >= 0) close(ifd);
    CHECK_RC(kill(pid, SIGKILL), 0);
    int ws = 0;
    CHECK_EQ(waitpid(pid, &ws, 0), pid);
    CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);

    uint64_t last = model_epoch, v;
    unsigned ncommits = 0;
    ssize_t n;
    while ((n = read(fds[0], &v, sizeof(v))) == (ssize_t)sizeof(v)) {
        if (v & FAIL_BIT) {
            H_FAIL_("round %u: the writer failed at test_crash.c:%u with %d (%s)", round,
                    (unsigned)((v >> 16) & 0xffff), -(int)(v & 0xffff), strerror((int)(v & 0xffff)));
            continue;
        }
        CHECK(v > last); /* commits are reported in order */
        last = v;
        ncommits++;
    }
    CHECK_EQ(n, 0);
    close(fds[0]);

    daos_container_status_t st = 99;
    daos_handle_t coh;
    int rc = daos_container_open(co_path, DAOS_COO_RO, 1, &st, &coh, NULL);
    CHECK_RC(rc, 0);
    if (rc != 0) return false;
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    daos_epoch_info info;
    memset(&info, 0, sizeof(info));
    CHECK_RC(daos_epoch_query(coh, &info, NULL), 0);
    uint64_t hce = info.epi_hce.seq;
    CHECK(hce >= last);
    CHECK(hce <= last + 1);
    CHECK_EQ(info.epi_hse.seq, hce);
    bool going = hce >= model_epoch;
    if (!going || hce > last + 1) {
        H_FAIL_("round %u: HCE %" PRIu64 ", the writer reported %" PRIu64 " (model at %" PRIu64
                "): stopping", round, hce, last, model_epoch);
        daos_container_close(coh, NULL);
        return false;
    }

    /* bring the model to HCE, keeping the previous state */
    if (hce > model_epoch) {
        memcpy(prev_model, model, (size_t)NOBJ * SPAN);
        prev_epoch = model_epoch;
        for (uint64_t e = model_epoch + 1; e <= hce; e++) apply_epoch(model, e);
        model_epoch = hce;
    }
    bool ok = true;
    for (unsigned obj = 0; obj < NOBJ; obj++) {
        ok &= verify_obj(coh, obj, info.epi_hce, model[obj], "at HCE");
        /* nothing of the epoch being written when the writer died shows */
        ok &= verify_obj(coh, obj, (daos_epoch_t){ (uint64_t)DAOS_EPOCH_HIGHEST }, model[obj],
                         "at DAOS_EPOCH_HIGHEST");
        if (prev_epoch < model_epoch && prev_epoch >= info.epi_hce_oldest.seq)
            ok &= verify_obj(coh, obj, (daos_epoch_t){ prev_epoch }, prev_model[obj],
                             "at the previous round's HCE");
    }
    CHECK_RC(daos_container_close(coh, NULL), 0);
    *total_epochs += ncommits;
    printf("round %2u: killed %s after %.1f ms, %2u commit(s) reported (last %" PRIu64
           "), HCE %" PRIu64 "%s, %s\n",
           round, how, (double)(now_us() - t_fork) / 1000, ncommits, last, hce,
           hce == last + 1 ? " (commit under way won)" : "",
           ok ? "every byte as committed" : "MISMATCH");
    fflush(stdout);
    return ok;
}

int main(void)
{
    unsigned rounds = 24;
    const char *r = getenv("CRASH_ROUNDS");
    if (r != NULL && atoi(r) > 0) rounds = (unsigned)atoi(r);
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    const char *d = getenv("CRASH_MAX_DELAY_MS");
    if (d != NULL && atoi(d) > 0) max_delay_ms = (unsigned)atoi(d);
    verbose = getenv("CRASH_VERBOSE") != NULL;
    const char *s = getenv("CRASH_SEED");
    if (s != NULL && *s) seed = strtoull(s, NULL, 0);
    printf("crash test: %u rounds, seed %" PRIu64 " (CRASH_SEED=%" PRIu64 " repeats the delays)\n",
           rounds, seed, seed);

    model = calloc(NOBJ, SPAN);
    prev_model = calloc(NOBJ, SPAN);
    if (model == NULL || prev_model == NULL) return 2;

    int64_t t0 = now_us();
    setup();
    uint64_t rng = seed, total = 0;
    for (unsigned i = 1; i <= rounds; i++)
        if (!crash_round(i, &rng, &total)) break;
    printf("%" PRIu64 " epochs committed in %u rounds (%u killed in a checkpoint), %.1f s\n", total,
           rounds, ckpt_kills, (double)(now_us() - t0) / 1e6);
    /* a kill in a checkpoint was tried (not where the writer is another
     * client of a shared file system: its files make no events here) */
    if (getenv("C_TESTS_PEER_MNTNS") == NULL && rounds >= 4) CHECK(ckpt_kills > 0);

    if (atomic_load(&h_fail) == 0) nftw(store_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else printf("store kept for inspection: %s\n", store_dir);
    free(model);
    free(prev_model);
    return harness_summary();
}
