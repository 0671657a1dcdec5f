/* ABI fuzzer (SPEC §1-§3, §12): random calls of the whole C API over pools of
 * valid, stale (closed, destroyed), wrong-type and made-up handles; valid,
 * NULL, misaligned and garbage-filled event structs; events in every state
 * (idle, in flight, aborted, completed, finalised), parents and children;
 * valid, NULL, empty, mismatched, overflowing and misaligned buffers and
 * descriptors; destroy and destroy_force; completion callbacks that call back
 * into the library. One thread, or three threads sharing the pools.
 *
 * What must hold: no crash, no sanitizer report, no hang; every call returns
 * 0 or a negative errno (poll and query: a count up to what was asked); an
 * event returned by poll or query is one of ours, at most once per call.
 *
 * Each seed runs in a process of its own (this program, exec'd with --seed),
 * watched by this one: the seed's process writes, for each of its threads,
 * the call in flight and its arguments into shared memory; if no call
 * finishes for 20 s (or the seed overruns its time by 60 s) the watchdog
 * prints every thread's call in flight, a gdb backtrace when gdb is there,
 * and kills it. A seed that crashes, hangs, trips a sanitizer or fails a
 * check is reported with how to repeat it.
 *
 *   FUZZ_SECONDS   total time of the run (default 30; make test runs this
 *                  program once per engine), split into seeds of ~3 s,
 *                  alternately one and three threads
 *   FUZZ_SEED=S    run only seed S (FUZZ_THREADS=1|3, default 1; its length
 *                  FUZZ_SEED_SECONDS, default 3)
 *
 * Among the calls (issue 11, defects 5 and 6, which used to hang):
 * daos_eq_destroy_force on EQs holding parents whose children are only
 * partly dispatched, from several threads at once; from inside completion
 * callbacks, daos_eq_destroy_force of the callback's own EQ and
 * daos_event_test(self, -1) (both must give -EDEADLK).
 *
 * The stores go under C_TESTS_TMPDIR (default /tmp). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MAXT 4
#define NEV 40           /* event structs (never freed) */
#define NH 48            /* handle pool */
#define NBUF 8
#define BUFSZ (64 * 1024)
#define HANG_S 20

/* ---------------------------------------------------------------- */
/* what each thread is doing, in memory the watchdog shares */

struct slot {
    _Atomic uint64_t done;    /* calls finished */
    _Atomic int busy;
    char call[320];
};
struct shared {
    _Atomic uint64_t calls;
    _Atomic int failed;
    struct slot t[MAXT + 2];  /* t[MAXT]: the main thread (setup, cleanup);
                               * t[MAXT + 1]: callbacks run by a library thread */
};
static struct shared *sh;
#define LIBT (MAXT + 1)
static __thread int my_slot = LIBT; /* threads of the library run callbacks */
static __thread int in_cb;

__attribute__((format(printf, 1, 2))) static void enter(const char *fmt, ...)
{
    struct slot *s = &sh->t[my_slot];
    if (in_cb) {
        /* a call made from a callback: append to what is in flight */
        size_t l = strnlen(s->call, sizeof s->call);
        if (l < sizeof s->call - 40) {
            va_list ap;
            va_start(ap, fmt);
            snprintf(s->call + l, sizeof s->call - l, " -> (in a callback) ");
            l = strnlen(s->call, sizeof s->call);
            vsnprintf(s->call + l, sizeof s->call - l, fmt, ap);
            va_end(ap);
        }
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->call, sizeof s->call, fmt, ap);
    va_end(ap);
    atomic_store(&s->busy, 1);
}

static void leave(void)
{
    if (in_cb) return;
    struct slot *s = &sh->t[my_slot];
    atomic_store(&s->busy, 0);
    atomic_fetch_add(&s->done, 1);
    atomic_fetch_add(&sh->calls, 1);
}

static uint64_t seed;
static int nthreads;

__attribute__((format(printf, 1, 2))) static void fuzz_fail(const char *fmt, ...)
{
    atomic_store(&sh->failed, 1);
    atomic_fetch_add(&h_fail, 1);
    fprintf(stderr, "FAIL (seed %" PRIu64 ", %d thread(s)): ", seed, nthreads);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " [in: %s]\n", sh->t[my_slot].call);
}

/* checks a return code: 0 or a negative errno; counts up to max */
static _Atomic uint64_t n_ok;
static int rc_ok(const char *call, int rc, int max)
{
    if (rc >= 0) atomic_fetch_add(&n_ok, 1);
    if (rc > max || rc < -4095) fuzz_fail("%s returned %d", call, rc);
    return rc;
}

/* ---------------------------------------------------------------- */
/* pools */

static __thread uint64_t rs;
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static uint64_t rnd(uint64_t n) { rs = mix64(rs); return n ? rs % n : rs; }
static bool chance(unsigned pct) { return rnd(100) < pct; }

enum { K_EQ = 1, K_SYS, K_CO, K_OBJ };
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
/* handles: valid ones, and stale, made-up or wrong-type ones (kept after
 * close, so they stay in the pool as stale) */
static struct { daos_handle_t h; int kind; } hp[NH];

/* Where an asynchronous open writes its handle: the library writes it when the
 * operation completes, long after the calling frame is gone, so it must be
 * memory that outlives the call (a stack variable here was overwritten by the
 * completion and corrupted a later frame). Synchronous opens use the caller's. */
static daos_handle_t async_out[64];
static atomic_uint async_out_i;
static daos_handle_t *out_h(daos_handle_t *sync_h, struct daos_event *ev)
{
    return ev ? &async_out[atomic_fetch_add(&async_out_i, 1) % 64] : sync_h;
}
static struct daos_event evs[NEV] __attribute__((aligned(64)));
static daos_handle_t ev_eq[NEV];       /* the EQ an event was last initialised on */
static unsigned char garbage[4][sizeof(struct daos_event) + 16] __attribute__((aligned(64)));
static uint8_t *bufs[NBUF];
static struct daos_event *pollout[MAXT + 1][16];
static char root[256], co_path[2][320], snap_dir[320];
static _Atomic unsigned snap_serial;

static daos_handle_t pick_h(int want)
{
    /* mostly a handle of the wanted kind, else anything (wrong type, stale,
     * made up) */
    pthread_mutex_lock(&pool_mu);
    daos_handle_t r = { 0 };
    unsigned c = (unsigned)rnd(100);
    if (c < 70) {
        for (int tries = 0; tries < 8; tries++) {
            unsigned i = (unsigned)rnd(NH);
            if (hp[i].kind == want) { r = hp[i].h; break; }
        }
    } else if (c < 88) {
        r = hp[rnd(NH)].h;
    } else if (c < 93) {
        r.cookie = 0;
    } else if (c < 97) {
        r.cookie = rnd(0);
    } else {
        /* right type bits, another pid's bits */
        r.cookie = (rnd(1u << 20) << 10) | ((uint64_t)(getpid() + 1 + rnd(100)) & 0x7f) << 3 | (uint64_t)want;
    }
    pthread_mutex_unlock(&pool_mu);
    return r;
}

static void add_h(daos_handle_t h, int kind)
{
    pthread_mutex_lock(&pool_mu);
    unsigned i = (unsigned)rnd(NH);
    hp[i].h = h;
    hp[i].kind = kind;
    pthread_mutex_unlock(&pool_mu);
}

/* our event structs: evs[], and the garbage-filled ones (an aligned one is
 * a struct like any other once initialised) */
static bool is_ours(const struct daos_event *e)
{
    const unsigned char *p = (const unsigned char *)e;
    return (e >= &evs[0] && e < &evs[NEV]) ||
           (p >= &garbage[0][0] && p < &garbage[0][0] + sizeof garbage);
}

static struct daos_event *all_ev(int i)
{
    return i < NEV ? &evs[i] : (struct daos_event *)garbage[i - NEV];
}
#define NALL (NEV + 4)

static struct daos_event *pick_ev(bool allow_null)
{
    unsigned c = (unsigned)rnd(100);
    if (c < 88 || !allow_null) {
        if (c >= 96) return (struct daos_event *)(garbage[rnd(4)] + (chance(50) ? 0 : 1 + rnd(7)));
        return &evs[rnd(NEV)];
    }
    if (c < 96) return NULL;
    return (struct daos_event *)garbage[rnd(4)];
}

/* a descriptor pair: usually consistent, sometimes not */
struct desc {
    union { struct daos_mmd d; unsigned char b[sizeof(struct daos_mmd) + 4 * sizeof(struct daos_mm_frag)]; } m;
    union { struct daos_iod d; unsigned char b[sizeof(struct daos_iod) + 4 * sizeof(struct daos_io_frag)]; } i;
};

static void make_desc(struct desc *d, struct daos_mmd **mm, struct daos_iod **io)
{
    uint8_t *b = bufs[rnd(NBUF)];
    unsigned nf = (unsigned)rnd(4) + (chance(10) ? 0 : 1);
    if (nf > 4) nf = 4;
    uint64_t total = 0;
    d->m.d.mmd_nfrag = nf;
    for (unsigned f = 0; f < nf; f++) {
        uint64_t len = chance(10) ? 0 : 1 + rnd(BUFSZ / 8);
        uint64_t off = rnd(BUFSZ - len + 1); /* any alignment */
        d->m.d.mmd_frag[f].mf_addr = chance(3) ? NULL : b + off;
        d->m.d.mmd_frag[f].mf_nob = len;
        total += len;
    }
    unsigned ni = 1 + (unsigned)rnd(3);
    d->i.d.iod_nfrag = ni;
    uint64_t left = total;
    for (unsigned f = 0; f < ni; f++) {
        uint64_t len = f + 1 == ni ? left : rnd(left + 1);
        left -= len;
        d->i.d.iod_frag[f].if_offset = chance(5) ? UINT64_MAX - rnd(100) : rnd(1u << 22);
        d->i.d.iod_frag[f].if_nob = len;
    }
    if (chance(8)) d->i.d.iod_frag[0].if_nob += 1 + rnd(10); /* totals differ */
    if (chance(3)) d->m.d.mmd_nfrag = chance(50) ? UINT64_MAX : (1ull << 40);
    if (chance(3)) d->i.d.iod_nfrag = chance(50) ? UINT64_MAX : 0;
    *mm = chance(4) ? NULL : &d->m.d;
    *io = chance(4) ? NULL : &d->i.d;
}

static daos_epoch_t pick_epoch(void)
{
    unsigned c = (unsigned)rnd(10);
    daos_epoch_t e = { c < 2 ? (uint64_t)DAOS_EPOCH_HIGHEST : c < 3 ? 0 : 1 + rnd(12) };
    return e;
}

static daos_obj_id_t pick_oid(void)
{
    daos_obj_id_t o = { chance(85) ? rnd(2) : rnd(0), rnd(6) };
    return o;
}

/* ---------------------------------------------------------------- */
/* completion callbacks that call back in */

static int cb(void *arg, struct daos_event *ev, int rc);

static void do_cb_action(struct daos_event *self)
{
    size_t idx = (size_t)(self - evs);
    daos_handle_t own = idx < NEV ? ev_eq[idx] : (daos_handle_t){ 0 };
    struct daos_event *other = &evs[rnd(NEV)];
    bool done;
    int n;
    switch (rnd(12)) {
    case 0: enter("daos_noop(other %p, 0)", (void *)other); rc_ok("noop in cb", daos_noop(other, 0), 0); break;
    case 1: enter("daos_event_launch(other %p)", (void *)other); rc_ok("launch in cb", daos_event_launch(other), 0); break;
    case 2: enter("daos_event_complete(other %p, -EIO)", (void *)other);
        rc_ok("complete in cb", daos_event_complete(other, -EIO), 0); break;
    case 3: enter("daos_eq_query(own eq %#" PRIx64 ")", own.cookie);
        rc_ok("eq_query in cb", daos_eq_query(own, DAOS_EVQ_ALL, 0, NULL), INT_MAX); break;
    case 4: enter("daos_event_test(other %p, 0)", (void *)other);
        rc_ok("test in cb", daos_event_test(other, 0, &done), 0); break;
    case 5: enter("daos_eq_poll(own eq %#" PRIx64 ", NOWAIT)", own.cookie);
        n = daos_eq_poll(own, 0, DAOS_EQ_NOWAIT, 16, pollout[MAXT]);
        rc_ok("poll in cb", n, 16);
        break;
    case 6: enter("daos_event_abort(other %p)", (void *)other); rc_ok("abort in cb", daos_event_abort(other), 0); break;
    case 7: enter("daos_event_register_comp_cb(other %p)", (void *)other);
        rc_ok("register in cb", daos_event_register_comp_cb(other, cb, NULL), 0); break;
    case 8: enter("daos_eq_destroy(own eq %#" PRIx64 ")", own.cookie); rc_ok("destroy in cb", daos_eq_destroy(own), 0); break;
    case 9: {
        enter("daos_eq_destroy_force(own eq %#" PRIx64 ")", own.cookie);
        /* -EDEADLK if `own` is still the event's EQ */
        rc_ok("destroy_force in cb", daos_eq_destroy_force(own), 0);
        break;
    }
    case 10: {
        enter("daos_event_test(self %p, -1)", (void *)self);
        int rc = daos_event_test(self, -1, &done);
        rc_ok("test(self) in cb", rc, 0);
        if (rc != -EDEADLK && rc != -EPERM) /* -EPERM: a child */
            fuzz_fail("daos_event_test(self, -1) in its callback returned %d, not -EDEADLK", rc);
        break;
    }
    default: break;
    }
}

static int cb(void *arg, struct daos_event *ev, int rc)
{
    (void)arg;
    if (my_slot == LIBT && in_cb == 0) {
        snprintf(sh->t[LIBT].call, sizeof sh->t[LIBT].call, "the completion callback of %p", (void *)ev);
        atomic_store(&sh->t[LIBT].busy, 1);
    }
    in_cb++;
    if (in_cb < 3) do_cb_action(ev);
    in_cb--;
    if (my_slot == LIBT && in_cb == 0) {
        atomic_store(&sh->t[LIBT].busy, 0);
        atomic_fetch_add(&sh->t[LIBT].done, 1);
    }
    return chance(20) ? -ECANCELED : rc;
}

/* ---------------------------------------------------------------- */
/* one random call */

#define CALL(fmt, ...) enter(fmt, __VA_ARGS__)

static void check_events(const char *what, int n, struct daos_event **out)
{
    for (int i = 0; i < n; i++) {
        struct daos_event *e = out[i];
        if (!is_ours(e)) {
            fuzz_fail("%s returned an event %p that is not one of ours", what, (void *)e);
            return;
        }
        for (int j = 0; j < i; j++)
            if (out[j] == e) fuzz_fail("%s returned event %p twice", what, (void *)e);
    }
}

static void one_call(void)
{
    int rc;
    bool done;
    unsigned c = (unsigned)rnd(100);
    struct daos_event *ev = pick_ev(true);
    if (c < 6) { /* EQs */
        daos_handle_t h;
        CALL("daos_eq_create(%s)", "&h");
        rc = rc_ok("eq_create", daos_eq_create(chance(3) ? NULL : &h), 0);
        leave();
        if (rc == 0) add_h(h, K_EQ);
    } else if (c < 9) {
        daos_handle_t h = pick_h(K_EQ);
        CALL("daos_eq_destroy(%#" PRIx64 ")", h.cookie);
        rc_ok("eq_destroy", daos_eq_destroy(h), 0);
        leave();
    } else if (c < 10) {
        /* destroy_force, also with partly dispatched parents, from any thread */
        daos_handle_t h = pick_h(K_EQ);
        CALL("daos_eq_destroy_force(%#" PRIx64 ")", h.cookie);
        rc_ok("eq_destroy_force", daos_eq_destroy_force(h), 0);
        leave();
    } else if (c < 17) {
        daos_handle_t h = pick_h(K_EQ);
        int n = chance(5) ? (int)rnd(3) - 1 : 1 + (int)rnd(16);
        int64_t t = chance(50) ? 0 : chance(90) ? (int64_t)rnd(20000) : -2;
        int wi = (int)rnd(2);
        struct daos_event **out = chance(3) ? NULL : pollout[my_slot];
        CALL("daos_eq_poll(%#" PRIx64 ", wait_inf %d, timeout %" PRId64 ", n %d, evs %p)", h.cookie, wi, t, n, (void *)out);
        rc = rc_ok("eq_poll", daos_eq_poll(h, wi, t, n, out), n > 0 ? n : 0);
        if (rc > 0) check_events("eq_poll", rc, out);
        leave();
    } else if (c < 20) {
        daos_handle_t h = pick_h(K_EQ);
        unsigned mode = chance(10) ? (unsigned)rnd(8) : 1 + (unsigned)rnd(3);
        unsigned n = (unsigned)rnd(17);
        struct daos_event **out = chance(30) ? NULL : pollout[my_slot];
        CALL("daos_eq_query(%#" PRIx64 ", mode %u, n %u, evs %p)", h.cookie, mode, n, (void *)out);
        rc = rc_ok("eq_query", daos_eq_query(h, mode, n, out), out && n ? (int)n : INT_MAX);
        if (rc > 0 && out && n) check_events("eq_query", rc, out);
        leave();
    } else if (c < 21) {
        daos_handle_t h = pick_h(K_EQ);
        int fd;
        CALL("daos_eq_get_fd(%#" PRIx64 ")", h.cookie);
        rc_ok("eq_get_fd", daos_eq_get_fd(h, chance(5) ? NULL : &fd), 0);
        leave();
    } else if (c < 29) { /* events */
        daos_handle_t h = pick_h(K_EQ);
        struct daos_event *parent = chance(25) ? pick_ev(false) : NULL;
        CALL("daos_event_init(%p, %#" PRIx64 ", parent %p)", (void *)ev, h.cookie, (void *)parent);
        rc = rc_ok("event_init", daos_event_init(ev, h, parent), 0);
        if (rc == 0 && ev >= &evs[0] && ev < &evs[NEV]) {
            daos_handle_t eq = h;
            if (parent && parent >= &evs[0] && parent < &evs[NEV]) eq = ev_eq[parent - evs];
            ev_eq[ev - evs] = eq;
        }
        leave();
    } else if (c < 33) {
        CALL("daos_event_fini(%p)", (void *)ev);
        rc_ok("event_fini", daos_event_fini(ev), 0);
        leave();
    } else if (c < 35) {
        struct daos_event *child = chance(50) ? NULL : pick_ev(true);
        CALL("daos_event_next(%p, %p)", (void *)ev, (void *)child);
        struct daos_event *n = daos_event_next(ev, child);
        if (n && !is_ours(n)) fuzz_fail("event_next returned %p, not one of ours", (void *)n);
        leave();
    } else if (c < 39) {
        CALL("daos_event_abort(%p)", (void *)ev);
        rc_ok("event_abort", daos_event_abort(ev), 0);
        leave();
    } else if (c < 45) {
        uint64_t d = chance(50) ? 0 : rnd(3000);
        if (!ev) d = rnd(300);
        CALL("daos_noop(%p, %" PRIu64 ")", (void *)ev, d);
        rc_ok("noop", daos_noop(ev, d), 0);
        leave();
    } else if (c < 49) {
        CALL("daos_event_launch(%p)", (void *)ev);
        rc_ok("event_launch", daos_event_launch(ev), 0);
        leave();
    } else if (c < 53) {
        int r = chance(10) ? (int)rnd(5) : -(int)rnd(200);
        CALL("daos_event_complete(%p, %d)", (void *)ev, r);
        rc_ok("event_complete", daos_event_complete(ev, r), 0);
        leave();
    } else if (c < 56) {
        int64_t t = chance(50) ? 0 : chance(90) ? (int64_t)rnd(20000) : -2;
        CALL("daos_event_test(%p, %" PRId64 ")", (void *)ev, t);
        rc_ok("event_test", daos_event_test(ev, t, chance(5) ? NULL : &done), 0);
        leave();
    } else if (c < 59) {
        CALL("daos_event_register_comp_cb(%p)", (void *)ev);
        rc_ok("register_comp_cb", daos_event_register_comp_cb(ev, chance(5) ? NULL : cb, NULL), 0);
        leave();
    } else if (c < 62) { /* the system container */
        daos_handle_t h;
        const char *p = chance(80) ? root : chance(50) ? NULL : "/nonexistent/daos";
        CALL("daos_sys_open(%s, ev %p)", p ? p : "NULL", (void *)ev);
        rc = rc_ok("sys_open", daos_sys_open(p, out_h(&h, ev), ev), 0);
        leave();
        if (rc == 0 && !ev) add_h(h, K_SYS);
    } else if (c < 63) {
        daos_handle_t h = pick_h(K_SYS);
        CALL("daos_sys_close(%#" PRIx64 ", ev %p)", h.cookie, (void *)ev);
        rc_ok("sys_close", daos_sys_close(h, ev), 0);
        leave();
    } else if (c < 65) {
        daos_handle_t h = pick_h(K_SYS);
        static struct daos_target_info ti;
        static struct daos_loc_key lks[16];
        static unsigned lkn;
        struct daos_location loc = { DAOS_LOC_UNKNOWN, DAOS_LOC_UNKNOWN, DAOS_LOC_UNKNOWN };
        if (chance(30)) loc.lc_cage = (int)rnd(3) - 1;
        if (chance(50)) {
            CALL("daos_sys_query_target(%#" PRIx64 ", %u, ev %p)", h.cookie, 0u, (void *)ev);
            rc_ok("sys_query_target", daos_sys_query_target(h, (unsigned)rnd(4), chance(5) ? NULL : &ti, ev), 0);
        } else {
            lkn = (unsigned)rnd(17);
            CALL("daos_sys_query(%#" PRIx64 ", depth, lkn %u, ev %p)", h.cookie, lkn, (void *)ev);
            rc_ok("sys_query", daos_sys_query(h, chance(5) ? NULL : &loc, (unsigned)rnd(6), chance(5) ? NULL : &lkn,
                                              chance(30) ? NULL : lks, ev), 0);
        }
        leave();
    } else if (c < 66) {
        daos_handle_t h = pick_h(K_SYS);
        static struct daos_target_event tevs[4];
        static unsigned tevn;
        tevn = (unsigned)rnd(5);
        if (!ev) return; /* synchronous: waits for a change */
        CALL("daos_sys_listen(%#" PRIx64 ", %u, ev %p)", h.cookie, tevn, (void *)ev);
        rc_ok("sys_listen", daos_sys_listen(h, &tevn, tevs, ev), 0);
        leave();
    } else if (c < 70) { /* containers */
        daos_handle_t h;
        static daos_container_status_t st;
        const char *p = chance(85) ? co_path[rnd(2)] : chance(50) ? NULL : root;
        unsigned mode = chance(85) ? (chance(50) ? DAOS_COO_RW : DAOS_COO_RO) : (unsigned)rnd(32);
        unsigned np = chance(85) ? 1 : (unsigned)rnd(4);
        CALL("daos_container_open(%s, mode %#x, nprocess %u, ev %p)", p ? p : "NULL", mode, np, (void *)ev);
        rc = rc_ok("container_open", daos_container_open(p, mode, np, &st, out_h(&h, ev), ev), 0);
        leave();
        if (rc == 0 && !ev) add_h(h, K_CO);
    } else if (c < 72) {
        daos_handle_t h = pick_h(K_CO);
        CALL("daos_container_close(%#" PRIx64 ", ev %p)", h.cookie, (void *)ev);
        rc_ok("container_close", daos_container_close(h, ev), 0);
        leave();
    } else if (c < 75) {
        daos_handle_t h = pick_h(K_CO);
        static struct daos_epoch_info ei;
        static struct daos_container_info ci;
        static daos_epoch_t qe;
        static unsigned shards[8];
        static daos_off_t anchor;
        qe = pick_epoch();
        anchor = chance(80) ? 0 : rnd(0);
        switch (rnd(4)) {
        case 0:
            CALL("daos_epoch_query(%#" PRIx64 ", ev %p)", h.cookie, (void *)ev);
            rc_ok("epoch_query", daos_epoch_query(h, chance(5) ? NULL : &ei, ev), 0);
            break;
        case 1:
            CALL("daos_container_query(%#" PRIx64 ", ev %p)", h.cookie, (void *)ev);
            rc_ok("container_query", daos_container_query(h, &qe, chance(5) ? NULL : &ci, ev), 0);
            break;
        case 2:
            CALL("daos_container_list_shard(%#" PRIx64 ", ev %p)", h.cookie, (void *)ev);
            rc_ok("list_shard", daos_container_list_shard(h, qe, (unsigned)rnd(4), &anchor, (unsigned)rnd(9),
                                                          chance(5) ? NULL : shards, ev), 0);
            break;
        default: {
            static unsigned l[2];
            static unsigned ln;
            l[0] = (unsigned)rnd(2);
            ln = 1;
            static char g[512];
            unsigned gs = (unsigned)rnd(sizeof g);
            CALL("daos_local2global(%#" PRIx64 ", %u)", h.cookie, gs);
            rc_ok("local2global", daos_local2global(h, chance(30) ? NULL : g, chance(5) ? NULL : &gs), 0);
            leave();
            daos_handle_t out = { 0 };
            /* a too-small buffer gets the size it needs, which may be more than g */
            if (gs > sizeof g) gs = sizeof g;
            for (unsigned i = 0; i < gs; i++)
                if (chance(2)) g[i] ^= (char)(1 << rnd(8));
            CALL("daos_global2local(%u bytes, ev %p)", gs, (void *)ev);
            rc = rc_ok("global2local", daos_global2local(chance(5) ? NULL : g, gs, out_h(&out, ev), ev), 0);
            if (rc == 0 && !ev) add_h(out, K_CO);
            (void)l; (void)ln;
        }
        }
        leave();
    } else if (c < 80) { /* epochs */
        daos_handle_t h = pick_h(K_CO);
        daos_epoch_t e = pick_epoch();
        static unsigned failed_sh;
        static daos_epoch_t we;
        switch (rnd(6)) {
        case 0:
            CALL("daos_epoch_commit(%#" PRIx64 ", %" PRIu64 ", ev %p)", h.cookie, e.seq, (void *)ev);
            rc_ok("commit", daos_epoch_commit(h, e, chance(10), chance(30) ? NULL : &failed_sh, ev), 0);
            break;
        case 1:
            CALL("daos_epoch_abort(%#" PRIx64 ", %" PRIu64 ", ev %p)", h.cookie, e.seq, (void *)ev);
            rc_ok("abort", daos_epoch_abort(h, e, chance(30) ? NULL : &failed_sh, ev), 0);
            break;
        case 2:
            CALL("daos_epoch_slip(%#" PRIx64 ", %" PRIu64 ", ev %p)", h.cookie, e.seq, (void *)ev);
            rc_ok("slip", daos_epoch_slip(h, e, ev), 0);
            break;
        case 3:
            CALL("daos_container_flush(%#" PRIx64 ", %" PRIu64 ", ev %p)", h.cookie, e.seq, (void *)ev);
            rc_ok("flush", daos_container_flush(h, e, ev), 0);
            break;
        case 4:
            /* synchronous waits only for what is already there */
            we.seq = ev ? e.seq : 0;
            CALL("daos_epoch_wait(%#" PRIx64 ", %" PRIu64 ", ev %p)", h.cookie, we.seq, (void *)ev);
            rc_ok("wait", daos_epoch_wait(h, chance(5) ? NULL : &we, NULL, ev), 0);
            break;
        default: {
            static struct daos_shard_event sevs[2];
            static unsigned sevn;
            sevn = (unsigned)rnd(3);
            if (!ev) break;
            CALL("daos_container_listen(%#" PRIx64 ", %u, ev %p)", h.cookie, sevn, (void *)ev);
            rc_ok("container_listen", daos_container_listen(h, &sevn, sevs, ev), 0);
        }
        }
        leave();
    } else if (c < 83) { /* shards */
        daos_handle_t h = pick_h(K_CO);
        daos_epoch_t e = pick_epoch();
        static unsigned tg[2];
        static int shs[2];
        static struct daos_shard_info si;
        static daos_obj_id_t oids[4];
        static daos_off_t anchor;
        unsigned n = (unsigned)rnd(3);
        tg[0] = (unsigned)rnd(3);
        tg[1] = (unsigned)rnd(3);
        shs[0] = chance(50) ? -1 : (int)rnd(8);
        shs[1] = -1;
        anchor = 0;
        switch (rnd(5)) {
        case 0:
            if (!chance(20)) return; /* shards pile up otherwise */
            CALL("daos_shard_add(%#" PRIx64 ", %" PRIu64 ", %u, ev %p)", h.cookie, e.seq, n, (void *)ev);
            rc_ok("shard_add", daos_shard_add(h, e, n, chance(5) ? NULL : tg, chance(5) ? NULL : shs, ev), 0);
            break;
        case 1:
            shs[0] = 2 + (int)rnd(6); /* never the two first ones */
            CALL("daos_shard_disable(%#" PRIx64 ", %" PRIu64 ", %u, ev %p)", h.cookie, e.seq, n, (void *)ev);
            rc_ok("shard_disable", daos_shard_disable(h, e, n > 1 ? 1 : n, chance(5) ? NULL : shs, ev), 0);
            break;
        case 2: {
            static daos_epoch_t qe;
            qe = e;
            CALL("daos_shard_query(%#" PRIx64 ", ev %p)", h.cookie, (void *)ev);
            rc_ok("shard_query", daos_shard_query(h, &qe, (unsigned)rnd(4), chance(5) ? NULL : &si, ev), 0);
            break;
        }
        case 3:
            CALL("daos_shard_flush(%#" PRIx64 ", ev %p)", h.cookie, (void *)ev);
            rc_ok("shard_flush", daos_shard_flush(h, e, (unsigned)rnd(4), ev), 0);
            break;
        default:
            CALL("daos_shard_list_obj(%#" PRIx64 ", ev %p)", h.cookie, (void *)ev);
            rc_ok("shard_list_obj", daos_shard_list_obj(h, e, (unsigned)rnd(4), chance(5) ? NULL : &anchor,
                                                        rnd(5), chance(5) ? NULL : oids, ev), 0);
        }
        leave();
    } else if (c < 86) { /* objects */
        daos_handle_t h = pick_h(K_CO), oh;
        unsigned mode = chance(85) ? (chance(50) ? DAOS_OBJ_RW : DAOS_OBJ_RO) | (chance(30) ? DAOS_OBJ_IO_BUFFERED : 0)
                                   : (unsigned)rnd(128);
        CALL("daos_object_open(%#" PRIx64 ", mode %#x, ev %p)", h.cookie, mode, (void *)ev);
        rc = rc_ok("object_open", daos_object_open(h, pick_oid(), mode, out_h(&oh, ev), ev), 0);
        leave();
        if (rc == 0 && !ev) add_h(oh, K_OBJ);
    } else if (c < 87) {
        daos_handle_t h = pick_h(K_OBJ);
        CALL("daos_object_close(%#" PRIx64 ", ev %p)", h.cookie, (void *)ev);
        rc_ok("object_close", daos_object_close(h, ev), 0);
        leave();
    } else if (c < 96) {
        daos_handle_t h = pick_h(K_OBJ);
        daos_epoch_t e = pick_epoch();
        struct desc *d = malloc(sizeof *d); /* descriptors are copied: freed at once */
        struct daos_mmd *mm;
        struct daos_iod *io;
        make_desc(d, &mm, &io);
        bool wr = chance(50);
        CALL("daos_object_%s(%#" PRIx64 ", %" PRIu64 ", mmd %p (%" PRIu64 " frags), iod %p, ev %p)", wr ? "write" : "read",
             h.cookie, e.seq, (void *)mm, mm ? (uint64_t)mm->mmd_nfrag : 0, (void *)io, (void *)ev);
        rc_ok(wr ? "write" : "read", wr ? daos_object_write(h, e, mm, io, ev) : daos_object_read(h, e, mm, io, ev), 0);
        leave();
        free(d);
    } else if (c < 98) {
        daos_handle_t h = pick_h(K_CO);
        daos_epoch_t e = pick_epoch();
        uint64_t b = rnd(1u << 20), en = chance(20) ? (daos_off_t)-1 : chance(10) ? b - 1 : b + rnd(1u << 16);
        CALL("daos_object_punch(%#" PRIx64 ", %" PRIu64 ", [%" PRIu64 ", %" PRIu64 "), ev %p)", h.cookie, e.seq, b, en, (void *)ev);
        rc_ok("punch", daos_object_punch(h, e, pick_oid(), b, en, ev), 0);
        leave();
    } else if (c < 99) {
        daos_handle_t h = pick_h(K_CO);
        static char p[400];
        snprintf(p, sizeof p, "%s/snap-%u", snap_dir, atomic_fetch_add(&snap_serial, 1));
        daos_epoch_t e = pick_epoch();
        CALL("daos_container_snapshot(%#" PRIx64 ", %" PRIu64 ", ev %p)", h.cookie, e.seq, (void *)ev);
        rc_ok("snapshot", daos_container_snapshot(h, e, chance(5) ? NULL : p, ev), 0);
        leave();
    } else {
        int a, b, v;
        CALL("daos_rs_version%s", "");
        rc_ok("version", daos_rs_version(&a, chance(10) ? NULL : &b, &v), 0);
        leave();
    }
}

/* ---------------------------------------------------------------- */
/* one seed (in its own process) */

static int64_t seed_end;

static void *worker(void *arg)
{
    my_slot = (int)(intptr_t)arg;
    rs = mix64(seed ^ (uint64_t)(my_slot + 1) * 0x1234567);
    while (now_us() < seed_end && !atomic_load(&sh->failed)) one_call();
    return NULL;
}

/* puts every event back to idle and destroys every EQ, bounded */
static bool cleanup(void)
{
    my_slot = MAXT;
    int64_t end = now_us() + 15 * 1000000;
    for (int round = 0; now_us() < end; round++) {
        bool busy = false;
        for (int i = 0; i < NALL; i++) {
            struct daos_event *e = all_ev(i);
            /* idle children of a parent get dispatched, so the parent can complete */
            for (struct daos_event *ch = daos_event_next(e, NULL); ch; ch = daos_event_next(e, ch)) {
                enter("cleanup: daos_noop(child %p)", (void *)ch);
                daos_noop(ch, 0);
                leave();
            }
            enter("cleanup: abort/complete %p", (void *)e);
            daos_event_abort(e);
            daos_event_complete(e, -EINTR);
            leave();
        }
        for (int i = 0; i < NH; i++) {
            if (hp[i].kind != K_EQ) continue;
            enter("cleanup: daos_eq_poll(%#" PRIx64 ", NOWAIT)", hp[i].h.cookie);
            while (daos_eq_poll(hp[i].h, 0, 1000, 16, pollout[MAXT]) > 0) { }
            leave();
            enter("cleanup: daos_eq_destroy(%#" PRIx64 ")", hp[i].h.cookie);
            int rc = daos_eq_destroy(hp[i].h);
            leave();
            if (rc == -EBUSY) busy = true;
            else hp[i].kind = 0;
        }
        if (!busy) return true;
        if (round > 20) sleep_us(10000);
    }
    return false;
}

static int run_seed(int shm_fd, int64_t ms)
{
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
    if (sh == MAP_FAILED) return 90;
    rs = mix64(seed);
    my_slot = MAXT;
    /* a store with two containers of two shards */
    enter("setup%s", "");
    if (h_new_store(root, sizeof root, "fuzz", 3) != 0) return 91;
    snprintf(snap_dir, sizeof snap_dir, "%s/snaps", root);
    mkdir(snap_dir, 0755);
    for (int k = 0; k < 2; k++) {
        snprintf(co_path[k], sizeof co_path[k], "%s/co%d", root, k);
        daos_handle_t coh;
        daos_container_status_t st;
        if (daos_container_open(co_path[k], DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL) != 0) return 92;
        unsigned tg[2] = { 0, 1 };
        int s[2] = { 0, 1 };
        if (daos_shard_add(coh, h_ep(1), 2, tg, s, NULL) != 0) return 93;
        add_h(coh, K_CO);
    }
    for (int i = 0; i < NBUF; i++) {
        bufs[i] = malloc(BUFSZ);
        h_fill(bufs[i], BUFSZ, seed + (uint64_t)i);
    }
    for (int i = 0; i < 4; i++) h_fill(garbage[i], sizeof garbage[i], seed * 7 + (uint64_t)i);
    for (int i = 0; i < 3; i++) {
        daos_handle_t h;
        if (daos_eq_create(&h) == 0) add_h(h, K_EQ);
    }
    leave();
    seed_end = now_us() + ms * 1000;
    if (nthreads == 1) {
        worker((void *)(intptr_t)0);
    } else {
        pthread_t t[MAXT];
        for (int i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
        for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
    }
    uint64_t calls = atomic_load(&sh->calls);
    bool clean = cleanup();
    if (!clean) fuzz_fail("cleanup: some EQ still had events in flight after 15 s of aborting and polling");
    /* handles and containers go; the library's own state is freed at exit */
    for (int i = 0; i < NH; i++) {
        if (hp[i].kind == K_OBJ) daos_object_close(hp[i].h, NULL);
        if (hp[i].kind == K_CO) daos_container_close(hp[i].h, NULL);
        if (hp[i].kind == K_SYS) daos_sys_close(hp[i].h, NULL);
    }
    if (clean)
        for (int i = 0; i < NBUF; i++) free(bufs[i]); /* (else I/O may still be in flight into them) */
    printf("seed %" PRIu64 " (%d thread%s): %" PRIu64 " calls (%" PRIu64 " returned 0 or a count)%s\n", seed,
           nthreads, nthreads > 1 ? "s" : "", calls, (uint64_t)atomic_load(&n_ok), atomic_load(&sh->failed) ? ", FAILED" : "");
    if (!atomic_load(&sh->failed)) h_rmrf(root);
    else printf("the store is kept: %s\n", root);
    return atomic_load(&sh->failed) ? 2 : 0;
}

/* ---------------------------------------------------------------- */
/* the watchdog */

static char self_exe[4096];

static void show_inflight(struct shared *s, int n)
{
    for (int i = 0; i <= LIBT; i++) {
        if (i >= n && i < MAXT) continue;
        if (i == LIBT && atomic_load(&s->t[i].done) == 0 && !atomic_load(&s->t[i].busy)) continue;
        char c[sizeof s->t[i].call + 1];
        memcpy(c, s->t[i].call, sizeof s->t[i].call);
        c[sizeof s->t[i].call] = 0;
        fprintf(stderr, "   %s %d: %s %s\n", i == LIBT ? "a library thread" : i == MAXT ? "main thread" : "thread", i,
                atomic_load(&s->t[i].busy) ? "in" : "last", c);
    }
}

/* runs one seed in a child process; returns true if it passed */
static bool watch_seed(uint64_t sd, int nt, int64_t ms)
{
    int fd = memfd_create("fuzz-shm", 0);
    if (fd < 0 || ftruncate(fd, sizeof(struct shared)) != 0) { perror("memfd"); return false; }
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char a_seed[32], a_nt[16], a_fd[16], a_ms[32];
    snprintf(a_seed, sizeof a_seed, "%" PRIu64, sd);
    snprintf(a_nt, sizeof a_nt, "%d", nt);
    snprintf(a_fd, sizeof a_fd, "%d", fd);
    snprintf(a_ms, sizeof a_ms, "%" PRId64, ms);
    char *argv[] = { self_exe, (char *)"--seed", a_seed, a_nt, a_fd, a_ms, NULL };
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        execv(self_exe, argv);
        _exit(98);
    }
    int64_t start = now_us(), last_move = start;
    uint64_t last = 0;
    int ws = 0;
    bool hung = false;
    for (;;) {
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid) break;
        uint64_t now = atomic_load(&s->calls);
        for (int i = 0; i <= LIBT; i++) now += atomic_load(&s->t[i].done);
        if (now != last) { last = now; last_move = now_us(); }
        if (now_us() - last_move > HANG_S * 1000000LL || now_us() - start > ms * 1000 + 60 * 1000000LL) {
            hung = true;
            fprintf(stderr, "FAIL: seed %" PRIu64 " (%d thread%s) hangs: no call returned for %d s. In flight:\n", sd, nt,
                    nt > 1 ? "s" : "", HANG_S);
            show_inflight(s, nt);
            if (access("/usr/bin/gdb", X_OK) == 0) {
                char cmd[256];
                snprintf(cmd, sizeof cmd,
                         "timeout 60 gdb -batch -p %d -ex 'thread apply all bt 25' 2>/dev/null | "
                         "grep -E '^(Thread|#)' | grep -v 'in ?? ()' | head -120 >&2", (int)pid);
                if (system(cmd) != 0) { }
            }
            kill(pid, SIGKILL);
            waitpid(pid, &ws, 0);
            break;
        }
        sleep_us(100000);
    }
    bool ok = !hung && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    if (!hung && !ok) {
        if (WIFSIGNALED(ws))
            fprintf(stderr, "FAIL: seed %" PRIu64 " (%d thread%s) died of signal %d. Calls in flight:\n", sd, nt,
                    nt > 1 ? "s" : "", WTERMSIG(ws));
        else
            fprintf(stderr, "FAIL: seed %" PRIu64 " (%d thread%s) exited with %d (a failed check, or a sanitizer "
                    "report above). Calls in flight:\n", sd, nt, nt > 1 ? "s" : "", WEXITSTATUS(ws));
        show_inflight(s, nt);
    }
    if (!ok)
        fprintf(stderr, "   repeat it: DAOS_RS_IO_ENGINE=%s FUZZ_SEED=%" PRIu64 " FUZZ_THREADS=%d FUZZ_SEED_SECONDS=%.0f %s\n",
                getenv("DAOS_RS_IO_ENGINE") ? getenv("DAOS_RS_IO_ENGINE") : "", sd, nt, (double)ms / 1000,
                self_exe);
    munmap(s, sizeof *s);
    close(fd);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--seed") == 0) {
        seed = strtoull(argv[2], NULL, 10);
        nthreads = atoi(argv[3]);
        if (nthreads < 1 || nthreads > MAXT) nthreads = 1;
        return run_seed(atoi(argv[4]), strtoll(argv[5], NULL, 10));
    }
    ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (sl <= 0) { perror("readlink"); printf("0 passed, 1 failed\n"); return 1; }
    self_exe[sl] = 0;
    double total = getenv("FUZZ_SECONDS") ? atof(getenv("FUZZ_SECONDS")) : 30;
    double per = getenv("FUZZ_SEED_SECONDS") ? atof(getenv("FUZZ_SEED_SECONDS")) : 3;
    if (per <= 0) per = 3;
    printf("ABI fuzzer%s\n", getenv("FUZZ_SEED") ? ": one seed" : "");
    if (getenv("FUZZ_SEED")) {
        int nt = getenv("FUZZ_THREADS") ? atoi(getenv("FUZZ_THREADS")) : 1;
        uint64_t sd = strtoull(getenv("FUZZ_SEED"), NULL, 0);
        if (watch_seed(sd, nt, (int64_t)(per * 1000))) CHECK(1);
        else atomic_fetch_add(&h_fail, 1);
        return harness_summary();
    }
    uint64_t base = (uint64_t)time(NULL) * 1000 + (uint64_t)(getpid() % 1000);
    int64_t end = now_us() + (int64_t)(total * 1e6);
    for (int k = 0; now_us() + (int64_t)(per * 0.5e6) < end; k++) {
        int nt = k % 2 ? 3 : 1;
        uint64_t sd = base + (uint64_t)k;
        if (watch_seed(sd, nt, (int64_t)(per * 1000))) CHECK(1);
        else atomic_fetch_add(&h_fail, 1);
        fflush(stdout);
    }
    return harness_summary();
}
