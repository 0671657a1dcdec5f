/* Several processes on one container (SPEC §5, §8, §9, §10): collective open
 * (daos_local2global / daos_global2local), damaged, forged and revoked
 * buffers, epoch waits and listens woken by other processes, independent
 * writers (a commit that lost its writes: -ESTALE), epoch holds across
 * processes (distinct epochs, a commit waiting behind a hold, a holder
 * SIGKILLed), a collective master's -ESTALE, a peer killed in the middle of its writes, unlink while another
 * process has the container open, and aggregation held back by a reader in
 * another process.
 *
 * The other processes are c-tests/helpers/mp_peer (built by run.sh beside this
 * program, found through /proc/self/exe), fork()ed and execv()ed, each driven
 * through a pair of pipes: one command per line, one answer line of
 * "key value" pairs per command (see mp_peer.c). Global buffers travel hex
 * coded through the pipes. Every wait for an answer is bounded (poll() with
 * 20 s, or 5 s for what must happen within 2 s); a helper that does not answer
 * is killed and the check fails. Nothing sleeps to synchronise. Every test
 * makes its own store in a mkdtemp directory under /tmp, and removes it after
 * ending every helper it started. Helpers die with this process
 * (PR_SET_PDEATHSIG).
 *
 * With C_TESTS_PEER_MNTNS set (make test-sharedfs, see harness.h) each helper
 * starts in the next of the listed mount namespaces: another client of the
 * shared file system the stores are made on (C_TESTS_TMPDIR). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"
#include "helpers/mp_common.h"

#define CMD_TIMEOUT_MS 20000  /* any answer of a helper */
#define EVENT_TIMEOUT_MS 5000 /* a wake-up that must come within 2 s */
#define QUIET_MS 150          /* "nothing yet" before the other process acts */
#define SEC 1000000LL
#define HIGHEST ((uint64_t)DAOS_EPOCH_HIGHEST)

static char helper_path[PATH_MAX];

/* ------------------------------------------------------------------ */
/* failures reported at the caller's line */

__attribute__((format(printf, 2, 3)))
static void fail_at(int line, const char *fmt, ...)
{
    atomic_fetch_add(&h_fail, 1);
    fprintf(stderr, "%s:%d: FAIL: ", __FILE__, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *errname(long long rc)
{
    static char b[4][64];
    static int k;
    char *o = b[k++ % 4];
    if (rc == LLONG_MIN) snprintf(o, 64, "missing");
    else if (rc < 0 && rc > -4096) snprintf(o, 64, "%lld (%s)", rc, strerror((int)-rc));
    else snprintf(o, 64, "%lld", rc);
    return o;
}

/* ------------------------------------------------------------------ */
/* helper processes */

struct peer {
    char name[24];
    pid_t pid;        /* > 0 while running (not yet reaped) */
    int cmd, rep;     /* our ends: commands out, answers in */
    bool dead;        /* killed or gone: no more commands */
    char *buf;        /* answer bytes read but not yet returned as a line */
    size_t have;
    char *line;       /* the last line returned */
    char last[160];   /* the last command sent (for messages) */
};

static struct peer *g_peers[32];
static int g_npeers;

static void peer_close_fds(struct peer *p)
{
    if (p->cmd >= 0) close(p->cmd);
    if (p->rep >= 0) close(p->rep);
    p->cmd = p->rep = -1;
}

/* Starts a helper. NULL (and a failure) if it cannot be started. */
static struct peer *peer_start_(int line, const char *name)
{
    int c[2], r[2];
    if (g_npeers == (int)(sizeof g_peers / sizeof g_peers[0])) {
        fail_at(line, "too many helpers");
        return NULL;
    }
    if (pipe2(c, O_CLOEXEC) != 0) { fail_at(line, "pipe2: %s", strerror(errno)); return NULL; }
    if (pipe2(r, O_CLOEXEC) != 0) {
        fail_at(line, "pipe2: %s", strerror(errno));
        close(c[0]); close(c[1]);
        return NULL;
    }
    char a_cmd[16], a_rep[16], a_name[24];
    snprintf(a_cmd, sizeof a_cmd, "%d", c[0]);
    snprintf(a_rep, sizeof a_rep, "%d", r[1]);
    snprintf(a_name, sizeof a_name, "%s", name);
    char *argv[] = { helper_path, a_name, a_cmd, a_rep, NULL };
    pid_t parent = getpid();
    int ns = h_peer_ns_pick(); /* another client of a shared file system, if any */
    if (ns >= 0) printf("   %s runs in the mount namespace %s\n", name, h_peer_ns_name(ns));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls until execv: this process has threads */
        fcntl(c[0], F_SETFD, 0);
        fcntl(r[1], F_SETFD, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(97);
        if (h_peer_ns_enter(ns) != 0) _exit(96);
        execv(helper_path, argv);
        _exit(98);
    }
    close(c[0]);
    close(r[1]);
    if (pid < 0) {
        fail_at(line, "fork: %s", strerror(errno));
        close(c[1]); close(r[0]);
        return NULL;
    }
    struct peer *p = calloc(1, sizeof *p);
    p->buf = malloc(MP_LINE_MAX + 1);
    p->line = malloc(MP_LINE_MAX + 1);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->pid = pid;
    p->cmd = c[1];
    p->rep = r[0];
    g_peers[g_npeers++] = p;
    return p;
}
#define peer_start(name) peer_start_(__LINE__, (name))

/* Kills a helper with SIGKILL and reaps it; returns its wait status. */
static int peer_kill(struct peer *p)
{
    int ws = 0;
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &ws, 0) < 0 && errno == EINTR) { }
        p->pid = 0;
    }
    p->dead = true;
    peer_close_fds(p);
    return ws;
}

/* Reads what the helper sent within `ms` into its buffer.
 * 1: a whole line is there; 0: not (yet); -1: it is gone (EOF / error). */
static int peer_fill(struct peer *p, int ms)
{
    int64_t end = now_us() + (int64_t)ms * 1000;
    for (;;) {
        if (p->have && memchr(p->buf, '\n', p->have)) return 1;
        if (p->rep < 0) return -1;
        if (p->have == MP_LINE_MAX) return -1; /* a line longer than any answer */
        int64_t left = (end - now_us()) / 1000;
        if (left < 0) left = 0;
        struct pollfd pf = { p->rep, POLLIN, 0 };
        int n = poll(&pf, 1, (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        ssize_t got = read(p->rep, p->buf + p->have, MP_LINE_MAX - p->have);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        p->have += (size_t)got;
    }
}

/* The next answer line within `ms`, or NULL (timeout, or the helper is gone). */
static char *peer_line(struct peer *p, int ms, bool *gone)
{
    int r = peer_fill(p, ms);
    if (gone) *gone = r < 0;
    if (r != 1) return NULL;
    char *nl = memchr(p->buf, '\n', p->have);
    size_t n = (size_t)(nl - p->buf);
    memcpy(p->line, p->buf, n);
    p->line[n] = 0;
    p->have -= n + 1;
    memmove(p->buf, nl + 1, p->have);
    return p->line;
}

__attribute__((format(printf, 3, 4)))
static int peer_send_(int line, struct peer *p, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) { fail_at(line, "vasprintf"); return -1; }
    snprintf(p->last, sizeof p->last, "%s", s);
    if (strlen(s) > 100) strcpy(p->last + 100, "...");
    if (p->dead || p->cmd < 0) {
        fail_at(line, "%s: not running, cannot send '%s'", p->name, p->last);
        free(s);
        return -1;
    }
    s[n] = '\n'; /* replaces the NUL; n + 1 bytes go out */
    for (int off = 0; off < n + 1;) {
        ssize_t w = write(p->cmd, s + off, (size_t)(n + 1 - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fail_at(line, "%s: cannot send '%s': %s", p->name, p->last, strerror(errno));
            free(s);
            peer_kill(p);
            return -1;
        }
        off += (int)w;
    }
    free(s);
    return 0;
}
#define P_SEND(p, ...) peer_send_(__LINE__, (p), __VA_ARGS__)

/* The answer to the last command within `ms`; on a timeout the helper is
 * killed (its later answers could not be matched to commands any more). */
static char *peer_answer_(int line, struct peer *p, int ms)
{
    if (p->dead) return NULL;
    bool gone = false;
    char *a = peer_line(p, ms, &gone);
    if (a == NULL) {
        if (gone) {
            int ws = peer_kill(p);
            fail_at(line, "%s: gone without answering '%s' (wait status 0x%x)", p->name, p->last, ws);
        } else {
            fail_at(line, "%s: no answer to '%s' within %d ms; killing it", p->name, p->last, ms);
            peer_kill(p);
        }
    }
    return a;
}

/* the value after `key` in an answer ("rc 0 st 1"); LLONG_MIN if missing */
static long long rv(const char *ans, const char *key)
{
    if (ans == NULL) return LLONG_MIN;
    size_t k = strlen(key);
    const char *s = ans;
    while (*s) {
        while (*s == ' ') s++;
        const char *t = s;
        while (*s && *s != ' ') s++;
        size_t tl = (size_t)(s - t);
        while (*s == ' ') s++;
        const char *v = s;
        while (*s && *s != ' ') s++;
        if (tl == k && memcmp(t, key, k) == 0 && s > v) return (long long)strtoull(v, NULL, 0);
    }
    return LLONG_MIN;
}

/* copies the value token after `key` (e.g. the hex of a buffer) into a new string */
static char *rstr(const char *ans, const char *key)
{
    if (ans == NULL) return NULL;
    size_t k = strlen(key);
    const char *s = ans;
    while (*s) {
        while (*s == ' ') s++;
        const char *t = s;
        while (*s && *s != ' ') s++;
        size_t tl = (size_t)(s - t);
        while (*s == ' ') s++;
        const char *v = s;
        while (*s && *s != ' ') s++;
        if (tl == k && memcmp(t, key, k) == 0) return strndup(v, (size_t)(s - v));
    }
    return NULL;
}

/* checks `key` of an answer; returns the answer (or NULL) */
static char *expect_(int line, struct peer *p, char *a, const char *key, long long want)
{
    if (a == NULL) return NULL;
    long long got = rv(a, key);
    if (got == want) {
        atomic_fetch_add(&h_pass, 1);
    } else {
        fail_at(line, "%s: '%s' answered \"%.200s\": %s is %s, expected %s", p->name, p->last, a,
                key, errname(got), errname(want));
    }
    return a;
}

/* Sends a command, waits for its answer, checks `key` == want; returns the
 * answer (valid until the next command to that helper) or NULL. */
#define P_EXPECT(p, key, want, ...)                                            \
    (P_SEND((p), __VA_ARGS__) == 0                                             \
         ? expect_(__LINE__, (p), peer_answer_(__LINE__, (p), CMD_TIMEOUT_MS), \
                   (key), (long long)(want))                                   \
         : NULL)
#define P_RC(p, want, ...) P_EXPECT(p, "rc", want, __VA_ARGS__)
/* milliseconds left until `deadline_us` (at least 1 s): several helpers
 * working at once share one time limit */
static int left_ms(int64_t deadline_us)
{
    int64_t l = (deadline_us - now_us()) / 1000;
    return l < 1000 ? 1000 : (int)l;
}

/* P_RC(p, 0, ...) answered with rc 0 */
#define P_OK(p, ...) (rv(P_RC((p), 0, __VA_ARGS__), "rc") == 0)
/* the answer to a command sent earlier with P_SEND */
#define P_WAIT(p, ms, key, want) \
    expect_(__LINE__, (p), peer_answer_(__LINE__, (p), (ms)), (key), (long long)(want))
/* a value of an answer that must be there and equal */
#define A_EQ(p, a, key, want) ((a) ? (void)expect_(__LINE__, (p), (a), (key), (long long)(want)) : (void)0)

/* a read by a helper that must succeed and match the pattern of `seed` */
#define P_READ(p, shard, lo, ep, off, len, seed)                                           \
    do {                                                                                   \
        char *a_ = P_RC((p), 0, "read %llu %llu %llu %llu %llu %llu",                      \
                        (unsigned long long)(shard), (unsigned long long)(lo),             \
                        (unsigned long long)(ep), (unsigned long long)(off),               \
                        (unsigned long long)(len), (unsigned long long)(seed));            \
        if (a_ && rv(a_, "rc") == 0) A_EQ((p), a_, "bad", 0);                              \
    } while (0)

/* "nothing more from the helper for QUIET_MS" (the answer, if one came, stays queued) */
#define P_QUIET(p)                                                                        \
    do {                                                                                  \
        int q_ = peer_fill((p), QUIET_MS);                                                \
        if (q_ == 0) atomic_fetch_add(&h_pass, 1);                                        \
        else fail_at(__LINE__, "%s: answered (or exited) before the other process acted: " \
                     "\"%.*s\"", (p)->name, (int)((p)->have > 200 ? 200 : (p)->have), (p)->buf); \
    } while (0)

/* Ends a helper: "exit", its "bye", EOF, then reaps it; it must exit 0
 * (no leak, no sanitizer report). Bounded; a helper that hangs is killed. */
static void peer_finish_(int line, struct peer *p)
{
    if (p->pid <= 0) return;
    if (!p->dead) {
        if (P_SEND(p, "exit") == 0) {
            char *a = peer_answer_(line, p, CMD_TIMEOUT_MS);
            if (a && rv(a, "bye") != 1) fail_at(line, "%s: answered \"%.100s\" to exit", p->name, a);
        }
    }
    if (p->pid <= 0) return; /* killed above */
    close(p->cmd);
    p->cmd = -1;
    int64_t end = now_us() + 10 * SEC;
    while (p->rep >= 0) {
        p->have = 0;
        int r = peer_fill(p, (int)((end - now_us()) / 1000));
        if (r < 0) break;            /* EOF: it has exited */
        if (now_us() >= end) {       /* still there: it hangs */
            fail_at(line, "%s: did not exit within 10 s of \"exit\"; killing it", p->name);
            peer_kill(p);
            return;
        }
    }
    int ws = 0;
    while (waitpid(p->pid, &ws, 0) < 0 && errno == EINTR) { }
    p->pid = 0;
    p->dead = true;
    peer_close_fds(p);
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) atomic_fetch_add(&h_pass, 1);
    else if (WIFSIGNALED(ws))
        fail_at(line, "%s: killed by signal %d", p->name, WTERMSIG(ws));
    else
        fail_at(line, "%s: exit status %d (see its [%s] lines and any sanitizer report above)",
                p->name, WEXITSTATUS(ws), p->name);
}
#define peer_finish(p) peer_finish_(__LINE__, (p))

/* ends every helper still running and forgets them all (end of each test) */
static void peers_end(void)
{
    for (int i = 0; i < g_npeers; i++) {
        struct peer *p = g_peers[i];
        if (p->pid > 0) peer_finish_(__LINE__, p);
        free(p->buf);
        free(p->line);
        free(p);
    }
    g_npeers = 0;
}

/* ------------------------------------------------------------------ */
/* this process's side */

static char *hex_of(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 2);
    if (n == 0) strcpy(s, "-");
    else mp_hex(s, b, n);
    return s;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, init ~0, final xor ~0 */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = ~0u;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

/* the buffer's last 4 bytes: the CRC-32C of everything before them */
static void reseal(uint8_t *b, size_t n)
{
    put_le32(b + n - 4, crc32c(b, n - 4));
}

static uint64_t hce_of(daos_handle_t coh)
{
    struct daos_epoch_info ei;
    memset(&ei, 0, sizeof ei);
    CHECK_RC(daos_epoch_query(coh, &ei, NULL), 0);
    return ei.epi_hce.seq;
}

static struct daos_epoch_info equery(daos_handle_t coh)
{
    struct daos_epoch_info ei;
    memset(&ei, 0xee, sizeof ei);
    CHECK_RC(daos_epoch_query(coh, &ei, NULL), 0);
    return ei;
}

static int commit(daos_handle_t coh, uint64_t e)
{
    unsigned failed = 0;
    return daos_epoch_commit(coh, h_ep(e), false, &failed, NULL);
}

#define MCHUNK (1u << 20)

/* writes the pattern of `seed` over [off, off + len) of (shard, lo) at `ep` */
static int m_write(daos_handle_t coh, uint64_t shard, uint64_t lo, uint64_t ep, uint64_t off,
                   uint64_t len, uint64_t seed)
{
    daos_handle_t oh;
    int rc = daos_object_open(coh, h_oid(shard, lo), DAOS_OBJ_RW, &oh, NULL);
    if (rc) return rc;
    uint8_t *b = malloc(MCHUNK);
    for (uint64_t done = 0; done < len && rc == 0;) {
        uint64_t n = len - done < MCHUNK ? len - done : MCHUNK;
        mp_fill(b, seed, shard, lo, off + done, n);
        rc = h_write(oh, ep, off + done, b, n);
        done += n;
    }
    free(b);
    daos_object_close(oh, NULL);
    return rc;
}

/* reads [off, off + len) at `ep`; *bad: bytes not matching the pattern */
static int m_read(daos_handle_t coh, uint64_t shard, uint64_t lo, uint64_t ep, uint64_t off,
                  uint64_t len, uint64_t seed, uint64_t *bad, uint64_t *first)
{
    daos_handle_t oh;
    *bad = 0;
    *first = 0;
    int rc = daos_object_open(coh, h_oid(shard, lo), DAOS_OBJ_RO, &oh, NULL);
    if (rc) return rc;
    uint8_t *b = malloc(MCHUNK);
    for (uint64_t done = 0; done < len && rc == 0;) {
        uint64_t n = len - done < MCHUNK ? len - done : MCHUNK, f = 0;
        memset(b, 0x5a, n);
        rc = h_read(oh, ep, off + done, b, n);
        if (rc == 0) {
            uint64_t k = mp_mismatch(b, seed, shard, lo, off + done, n, &f);
            if (k && *bad == 0) *first = f;
            *bad += k;
        }
        done += n;
    }
    free(b);
    daos_object_close(oh, NULL);
    return rc;
}

#define M_VERIFY(coh, shard, lo, ep, off, len, seed)                                        \
    do {                                                                                    \
        uint64_t bad_ = 0, first_ = 0;                                                      \
        int rc_ = m_read((coh), (shard), (lo), (ep), (off), (len), (seed), &bad_, &first_); \
        if (rc_ == 0 && bad_ == 0) atomic_fetch_add(&h_pass, 1);                            \
        else fail_at(__LINE__, "read of object (%llu, %llu) at epoch %llu: rc %s, %llu "   \
                     "byte(s) not matching seed %llu (first at %llu)",                     \
                     (unsigned long long)(shard), (unsigned long long)(lo),                \
                     (unsigned long long)(ep), errname(rc_), (unsigned long long)bad_,      \
                     (unsigned long long)(seed), (unsigned long long)first_);               \
    } while (0)

/* A new container at `path` with shard i on targets[i], HCE 1; closed again. */
static int make_container(const char *path, unsigned n, const unsigned *targets)
{
    daos_handle_t coh = { 0 };
    daos_container_status_t st;
    int rc;
    CHECK_RC(rc = daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    if (rc) return rc;
    unsigned tg[8];
    int sh[8];
    for (unsigned i = 0; i < n; i++) { tg[i] = targets[i]; sh[i] = (int)i; }
    CHECK_RC(rc = daos_shard_add(coh, h_ep(1), n, tg, sh, NULL), 0);
    if (rc == 0) CHECK_RC(rc = commit(coh, 1), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    return rc;
}

/* A collectively opened handle's global buffer, after checking the
 * local2global contract and the buffer's documented framing. NULL on failure. */
static uint8_t *get_global(daos_handle_t coh, unsigned *size_out)
{
    unsigned size = 0;
    CHECK_RC(daos_local2global(coh, NULL, NULL), -EINVAL);
    int rc;
    CHECK_RC(rc = daos_local2global(coh, NULL, &size), 0);
    if (rc != 0) return NULL;
    CHECK(size >= 28 && size <= 64 * 1024);
    if (size < 28 || size > 64 * 1024) return NULL;
    uint8_t *b = calloc(size + 64, 1);
    unsigned small = size - 1;
    CHECK_RC(daos_local2global(coh, b, &small), -ENOBUFS);
    CHECK_EQ(small, size);
    small = 0;
    CHECK_RC(daos_local2global(coh, b, &small), -ENOBUFS);
    CHECK_EQ(small, size);
    unsigned big = size + 64;
    CHECK_RC(rc = daos_local2global(coh, b, &big), 0);
    CHECK_EQ(big, size);
    if (rc != 0) { free(b); return NULL; }
    /* magic "DAOSRSGH", version u32 LE, total length u32 LE, body, 8-byte MAC,
     * CRC-32C (LE) of everything before it */
    CHECK(memcmp(b, "DAOSRSGH", 8) == 0);
    CHECK(le32(b + 8) >= 1);
    CHECK_EQ(le32(b + 12), size);
    CHECK_EQ(le32(b + size - 4), crc32c(b, size - 4));
    printf("   global buffer: %u bytes, version %u\n", size, le32(b + 8));
    *size_out = size;
    return b;
}

static int new_store(char *root, size_t n, const char *tag, unsigned ntargets)
{
    int rc = h_new_store(root, n, tag, ntargets);
    CHECK_RC(rc, 0);
    return rc;
}

/* ------------------------------------------------------------------ */
/* a. collective open: 4 peers write, flush; the master commits */

#define NPEER 4
#define NSHARD_A 3

struct pobj { uint64_t shard, lo, off, len, seed; };

/* the two objects peer i writes: on different shards, odd sizes and offsets */
static void peer_objs(int i, struct pobj o[2])
{
    o[0] = (struct pobj){ (uint64_t)i % NSHARD_A, 1000 + (uint64_t)i, 0,
                          (1u << 20) + 37 + (uint64_t)i * 4096, 11 + (uint64_t)i };
    o[1] = (struct pobj){ (uint64_t)(i + 1) % NSHARD_A, 2000 + (uint64_t)i, 3 * 4096 + 5,
                          (3u << 19) + 1, 21 + (uint64_t)i };
}

static void test_collective(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-coll", 2) != 0) return;
    snprintf(path, sizeof path, "%s/coll", root);
    unsigned tg[NSHARD_A] = { 0, 1, 0 };
    if (make_container(path, NSHARD_A, tg) != 0) goto out;

    /* an ordinary handle has no global form */
    daos_handle_t plain = { 0 };
    daos_container_status_t st = 99;
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &plain, NULL), 0);
    unsigned sz = 0;
    CHECK_RC(daos_local2global(plain, NULL, &sz), -EINVAL);
    CHECK_RC(daos_container_close(plain, NULL), 0);

    daos_handle_t coh = { 0 };
    st = 99;
    int rc;
    CHECK_RC(rc = daos_container_open(path, DAOS_COO_RW, NPEER + 1, &st, &coh, NULL), 0);
    if (rc) {
        printf("   collective open failed: the rest of this test is skipped\n");
        goto out;
    }
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    uint64_t hce = hce_of(coh), e = hce + 1;
    unsigned gsz = 0;
    uint8_t *gb = get_global(coh, &gsz);
    if (gb == NULL) {
        printf("   no global buffer: the rest of this test is skipped\n");
        CHECK_RC(daos_container_close(coh, NULL), 0);
        goto out;
    }
    char *hex = hex_of(gb, gsz);

    struct peer *P[NPEER];
    struct pobj obj[NPEER][2];
    for (int i = 0; i < NPEER; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "peer%d", i);
        P[i] = peer_start(nm);
        peer_objs(i, obj[i]);
    }
    bool master_open = true;
    for (int i = 0; i < NPEER; i++)
        if (!P[i]) goto out_peers;
    /* all join at once */
    for (int i = 0; i < NPEER; i++) P_SEND(P[i], "g2l %s", hex);
    int64_t deadline = now_us() + CMD_TIMEOUT_MS * 1000LL;
    for (int i = 0; i < NPEER; i++) {
        char *a = P_WAIT(P[i], left_ms(deadline), "rc", 0);
        A_EQ(P[i], a, "zero", 0);
        a = P_RC(P[i], 0, "query");
        A_EQ(P[i], a, "hce", hce);
    }
    /* all peers write at once: several MiB, 2 shards each */
    for (int i = 0; i < NPEER; i++)
        for (int k = 0; k < 2; k++) {
            struct pobj *o = &obj[i][k];
            P_SEND(P[i], "write %llu %llu %llu %llu %llu %llu", (unsigned long long)o->shard,
                   (unsigned long long)o->lo, (unsigned long long)e, (unsigned long long)o->off,
                   (unsigned long long)o->len, (unsigned long long)o->seed);
        }
    deadline = now_us() + 2 * CMD_TIMEOUT_MS * 1000LL;
    for (int i = 0; i < NPEER; i++)
        for (int k = 0; k < 2; k++) P_WAIT(P[i], left_ms(deadline), "rc", 0);
    for (int i = 0; i < NPEER; i++) {
        P_RC(P[i], 0, "flush %llu", (unsigned long long)e);
        /* only the master commits, aborts and waits */
        P_RC(P[i], -EPERM, "commit %llu", (unsigned long long)e);
        P_RC(P[i], -EPERM, "abort %llu", (unsigned long long)e);
        P_RC(P[i], -EPERM, "wait %llu", (unsigned long long)hce); /* reached: never blocks */
        P_RC(P[i], -EPERM, "l2g");
        /* its own data, staged */
        struct pobj *o = &obj[i][0];
        P_READ(P[i], o->shard, o->lo, HIGHEST, o->off, o->len, o->seed);
    }
    /* peers 0 and 1 leave before the commit: what they flushed stays */
    P_RC(P[0], 0, "close");
    P_RC(P[1], 0, "close");

    /* a third process sees nothing of it before the commit */
    struct peer *V = peer_start("verifier");
    if (!V) goto out_peers;
    char *a = P_RC(V, 0, "open %s ro 1", path);
    A_EQ(V, a, "st", DAOS_CONTAINER_ST_OK);
    for (int i = 0; i < NPEER; i++)
        for (int k = 0; k < 2; k++)
            P_READ(V, obj[i][k].shard, obj[i][k].lo, HIGHEST, obj[i][k].off, 4096, 0);

    unsigned failed = 12345;
    CHECK_RC(daos_epoch_commit(coh, h_ep(e), false, &failed, NULL), 0);
    CHECK_EQ(failed, 12345);
    CHECK_EQ(hce_of(coh), e);
    /* the master reads what its peers wrote */
    for (int i = 0; i < NPEER; i++)
        for (int k = 0; k < 2; k++)
            M_VERIFY(coh, obj[i][k].shard, obj[i][k].lo, e, obj[i][k].off, obj[i][k].len,
                     obj[i][k].seed);

    /* the independent reader: at its next query it sees the commit, every byte */
    a = P_RC(V, 0, "query");
    A_EQ(V, a, "hce", e);
    for (int i = 0; i < NPEER; i++)
        for (int k = 0; k < 2; k++) {
            struct pobj *o = &obj[i][k];
            P_READ(V, o->shard, o->lo, e, o->off, o->len, o->seed);
            P_READ(V, o->shard, o->lo, HIGHEST, o->off, o->len, o->seed);
            P_READ(V, o->shard, o->lo, hce, o->off, 4096, 0);   /* not before e */
            P_READ(V, o->shard, o->lo, e, 0, o->off, 0);         /* nothing before off */
            P_READ(V, o->shard, o->lo, e, o->off + o->len, 8192, 0);
        }
    /* the peers still open learn the new HCE too */
    for (int i = 2; i < NPEER; i++) {
        a = P_RC(P[i], 0, "query");
        A_EQ(P[i], a, "hce", e);
        P_RC(P[i], 0, "close");
    }
    CHECK_RC(daos_container_close(coh, NULL), 0);
    master_open = false;
    P_RC(V, 0, "close");

    /* durable: a fresh open */
    daos_handle_t n = { 0 };
    st = 99;
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &n, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_EQ(hce_of(n), e);
    M_VERIFY(n, obj[3][1].shard, obj[3][1].lo, HIGHEST, obj[3][1].off, obj[3][1].len,
             obj[3][1].seed);
    CHECK_RC(daos_container_close(n, NULL), 0);

out_peers:
    peers_end();
    if (master_open) CHECK_RC(daos_container_close(coh, NULL), 0);
    free(hex);
    free(gb);
out:
    peers_end();
    h_rmrf(root);
}

/* ------------------------------------------------------------------ */
/* b. damaged, forged and revoked buffers */

static void try_bad(struct peer *S, const char *what, const uint8_t *b, size_t n)
{
    char *hx = hex_of(b, n);
    char *a = P_RC(S, -EINVAL, "g2l_try %s", hx);
    A_EQ(S, a, "zero", 1); /* the handle is written only on success */
    if (a && rv(a, "rc") != -EINVAL) fprintf(stderr, "   (that was the %s buffer)\n", what);
    free(hx);
}

static void test_bad_buffers(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-bad", 1) != 0) return;
    snprintf(path, sizeof path, "%s/bad", root);
    unsigned tg[1] = { 0 };
    uint8_t *gb = NULL, *x = NULL;
    char *hex = NULL;
    CHECK_EQ(crc32c((const uint8_t *)"123456789", 9), 0xE3069283u); /* the test's own CRC */
    if (make_container(path, 1, tg) != 0) goto out;

    daos_handle_t coh = { 0 };
    daos_container_status_t st = 99;
    int rc;
    CHECK_RC(rc = daos_container_open(path, DAOS_COO_RW, 4, &st, &coh, NULL), 0);
    if (rc) { printf("   collective open failed: the rest of this test is skipped\n"); goto out; }
    unsigned n = 0;
    gb = get_global(coh, &n);
    if (gb == NULL) {
        printf("   no global buffer: the rest of this test is skipped\n");
        CHECK_RC(daos_container_close(coh, NULL), 0);
        goto out;
    }
    hex = hex_of(gb, n);
    x = malloc(n + 1);
    struct peer *S = peer_start("peer");
    if (!S) { CHECK_RC(daos_container_close(coh, NULL), 0); goto out; }
    char *a = P_RC(S, 0, "g2l_try %s", hex); /* the real one is fine */
    A_EQ(S, a, "zero", 0);

    memcpy(x, gb, n); x[n / 2] ^= 0x01;                     try_bad(S, "one bit flipped", x, n);
    memcpy(x, gb, n); x[n - 1] ^= 0x80;                     try_bad(S, "CRC byte flipped", x, n);
    try_bad(S, "truncated by 1", gb, n - 1);
    try_bad(S, "truncated by 12", gb, n - 12);
    try_bad(S, "header only", gb, 16);
    try_bad(S, "magic only", gb, 8);
    try_bad(S, "empty", gb, 0);
    for (unsigned i = 0; i < n; i++) x[i] = (uint8_t)(mp_mix64(i + 77) >> 13);
    try_bad(S, "random", x, n);
    memcpy(x, gb, n); x[0] = 'X'; reseal(x, n);             try_bad(S, "wrong magic", x, n);
    memcpy(x, gb, n); put_le32(x + 8, le32(gb + 8) + 1); reseal(x, n);
    try_bad(S, "next version", x, n);
    memcpy(x, gb, n); put_le32(x + 12, n + 1); reseal(x, n); try_bad(S, "wrong length", x, n);
    /* forged: a body byte changed and the CRC made right again; only the MAC,
     * keyed with a secret not in the buffer, can tell */
    memcpy(x, gb, n); x[24] ^= 0x01; reseal(x, n);          try_bad(S, "forged (offset 24)", x, n);
    memcpy(x, gb, n); x[n / 2] ^= 0x40; reseal(x, n);       try_bad(S, "forged (middle)", x, n);
    memcpy(x, gb, n); x[n - 12] ^= 0x01; reseal(x, n);      try_bad(S, "forged MAC", x, n);

    /* a live peer handle and an open object, then the master closes */
    P_RC(S, 0, "g2l %s", hex);
    a = P_RC(S, 0, "query");
    A_EQ(S, a, "hce", 1);
    P_RC(S, 0, "hold 0 7");
    P_RC(S, 0, "write 0 7 2 0 4096 5");
    P_RC(S, -EPERM, "l2g"); /* a peer cannot hand it on */
    CHECK_RC(daos_container_close(coh, NULL), 0);
    /* revoked: the old buffer no longer opens, in a process new to it too */
    P_RC(S, -EPERM, "g2l_try %s", hex);
    struct peer *Q = peer_start("late");
    if (Q) P_RC(Q, -EPERM, "g2l_try %s", hex);
    /* the existing peer handle: everything -EPERM but close */
    P_RC(S, -EPERM, "cquery");
    P_RC(S, -EPERM, "query");
    P_RC(S, -EPERM, "write 0 7 2 0 4096 5");
    P_RC(S, -EPERM, "read 0 7 18446744073709551615 0 4096 0");
    P_RC(S, -EPERM, "flush 2");
    P_RC(S, 0, "close");
    P_RC(S, -EBADF, "query");

    /* a master killed with SIGKILL revokes its peers too */
    struct peer *M = peer_start("master");
    struct peer *T = peer_start("peer2");
    if (!M || !T) goto out;
    a = P_RC(M, 0, "open %s rw 3", path);
    a = P_RC(M, 0, "l2g");
    char *mhex = rstr(a, "hex");
    if (mhex && strcmp(mhex, "-") != 0) {
        P_RC(T, 0, "g2l %s", mhex);
        P_RC(T, 0, "query");
        int ws = peer_kill(M);
        CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
        P_RC(T, -EPERM, "g2l_try %s", mhex);
        P_RC(T, -EPERM, "query");
        P_RC(T, 0, "close");
        /* and the container is fine */
        daos_handle_t o = { 0 };
        st = 99;
        CHECK_RC(daos_container_open(path, DAOS_COO_RW, 1, &st, &o, NULL), 0);
        CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
        CHECK_EQ(hce_of(o), 1);
        CHECK_RC(daos_container_close(o, NULL), 0);
    } else {
        printf("   the helper master got no global buffer: its part is skipped\n");
    }
    free(mhex);
out:
    peers_end();
    free(x);
    free(hex);
    free(gb);
    h_rmrf(root);
}

/* ------------------------------------------------------------------ */
/* c. epoch waits woken by another process's commit */

static void test_waiters(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-wait", 1) != 0) return;
    snprintf(path, sizeof path, "%s/wait", root);
    unsigned tg[1] = { 0 };
    if (make_container(path, 1, tg) != 0) goto out;
    daos_handle_t w = { 0 };
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW, 1, &st, &w, NULL), 0);
    struct peer *W1 = peer_start("waiter"), *W2 = peer_start("syncwaiter");
    if (!W1 || !W2) goto close;
    P_RC(W1, 0, "open %s ro 1", path);
    P_RC(W2, 0, "open %s ro 1", path);

    /* asynchronous wait for HCE + 1 = 2 on an EQ */
    if (P_OK(W1, "await 2")) { /* answered once dispatched: it is waiting */
        P_QUIET(W1);
        CHECK_RC(m_write(w, 0, 1, 2, 0, 4096, 2), 0);
        int64_t t0 = now_us();
        CHECK_RC(commit(w, 2), 0);
        int64_t t1 = now_us();
        char *a = P_WAIT(W1, EVENT_TIMEOUT_MS, "done", 1);
        A_EQ(W1, a, "ev_error", 0);
        A_EQ(W1, a, "e", 2);
        if (a && rv(a, "done") == 1) {
            long long t = rv(a, "t");
            printf("   async wait completed %lld us after the commit returned (%lld us after it began)\n",
                   t - t1, t - t0);
            CHECK(t - t1 < 2 * SEC);
        }
    }
    /* synchronous wait (no event) in another process */
    if (P_SEND(W2, "wait 3") == 0) {
        P_QUIET(W2);
        int64_t t0 = now_us();
        CHECK_RC(commit(w, 3), 0);
        int64_t t1 = now_us();
        char *a = P_WAIT(W2, EVENT_TIMEOUT_MS, "rc", 0);
        A_EQ(W2, a, "e", 3);
        if (a && rv(a, "rc") == 0) {
            long long t = rv(a, "t");
            printf("   sync wait returned %lld us after the commit returned (%lld us after it began)\n",
                   t - t1, t - t0);
            CHECK(t - t1 < 2 * SEC);
        }
    }
    /* DAOS_EPOCH_HIGHEST: the next commit after the call */
    if (P_OK(W1, "await H")) {
        P_QUIET(W1);
        CHECK_RC(commit(w, 4), 0);
        char *a = P_WAIT(W1, EVENT_TIMEOUT_MS, "done", 1);
        A_EQ(W1, a, "ev_error", 0);
        A_EQ(W1, a, "e", 4);
    }
    /* the waiter reads what was committed */
    P_READ(W1, 0, 1, HIGHEST, 0, 4096, 2);
close:
    CHECK_RC(daos_container_close(w, NULL), 0);
out:
    peers_end();
    h_rmrf(root);
}

/* ------------------------------------------------------------------ */
/* d. listens woken by another process's layout or target change */

static void test_listeners(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-listen", 2) != 0) return;
    snprintf(path, sizeof path, "%s/listen", root);
    unsigned tg[1] = { 0 };
    if (make_container(path, 1, tg) != 0) goto out;
    struct peer *L = peer_start("listener"), *S = peer_start("syslistener"),
                *A = peer_start("changer");
    if (!L || !S || !A) goto out;
    P_RC(L, 0, "open %s ro 1", path);
    P_RC(A, 0, "open %s rw 1", path);

    /* container listen: another process adds shard 1 on target 1 at epoch 2 */
    if (P_OK(L, "listen")) {
        P_QUIET(L);
        char *a = P_RC(A, 0, "shard_add 2 1 1");
        A_EQ(A, a, "shard", 1);
        a = P_WAIT(L, EVENT_TIMEOUT_MS, "done", 1);
        A_EQ(L, a, "ev_error", 0);
        A_EQ(L, a, "n", 1);
        A_EQ(L, a, "shard", 1);
        A_EQ(L, a, "target", 1);
        A_EQ(L, a, "status", DAOS_TARGET_ST_HEALTHY);
        A_EQ(L, a, "epoch", 2);
    }
    /* system listen: another process disables target 1 */
    if (P_OK(S, "syslisten %s", root)) {
        P_QUIET(S);
        P_RC(A, 0, "target_set %s 1 %d", root, DAOS_TARGET_ST_DISABLED);
        char *a = P_WAIT(S, EVENT_TIMEOUT_MS, "done", 1);
        A_EQ(S, a, "ev_error", 0);
        if (a && rv(a, "done") == 1) CHECK(rv(a, "n") >= 1);
        A_EQ(S, a, "target", 1);
        A_EQ(S, a, "status", DAOS_TARGET_ST_DISABLED);
        P_RC(A, 0, "target_set %s 1 %d", root, DAOS_TARGET_ST_HEALTHY);
    }
out:
    peers_end();
    h_rmrf(root);
}

/* ------------------------------------------------------------------ */
/* e. independent writers in two processes */

#define LEN_E (200 * 1024 + 3)

static void test_independent_writers(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-indep", 2) != 0) return;
    snprintf(path, sizeof path, "%s/indep", root);
    unsigned tg[2] = { 0, 1 };
    if (make_container(path, 2, tg) != 0) goto out;
    const unsigned long long e = 2, L = LEN_E, H = HIGHEST;
    struct peer *A = peer_start("writerA"), *B = peer_start("writerB");
    if (!A || !B) goto out;
    P_RC(A, 0, "open %s rw 1", path);
    P_RC(B, 0, "open %s rw 1", path);

    /* A: object (0,10) at e. B: (1,20) at e, (0,21) at e + 1 */
    P_RC(A, 0, "write 0 10 %llu 0 %llu 101", e, L);
    P_RC(B, 0, "write 1 20 %llu 0 %llu 201", e, L);
    P_RC(B, 0, "write 0 21 %llu 0 %llu 202", e + 1, L);
    /* each sees its own staged writes, not the other's */
    P_READ(A, 0, 10, H, 0, L, 101);
    P_READ(A, 1, 20, H, 0, L, 0);
    P_READ(A, 0, 21, H, 0, L, 0);
    P_READ(B, 1, 20, H, 0, L, 201);
    P_READ(B, 0, 21, H, 0, L, 202);
    P_READ(B, 0, 10, H, 0, L, 0);

    P_RC(A, 0, "commit %llu", e);
    /* B's next query sees it; B's own writes at epochs <= HCE are gone */
    char *a = P_RC(B, 0, "query");
    A_EQ(B, a, "hce", e);
    P_READ(B, 0, 10, H, 0, L, 101);
    P_READ(B, 0, 10, e, 0, L, 101);
    P_READ(B, 1, 20, H, 0, L, 0);
    P_READ(B, 0, 21, H, 0, L, 202); /* e + 1 is still staged */
    P_RC(B, -EPERM, "write 1 20 %llu 0 4096 203", e);
    /* committing an epoch <= HCE commits nothing, but never hides that B's
     * write in e was dropped: -ESTALE (once: nothing is left to report) */
    P_RC(B, -ESTALE, "commit %llu", e);
    P_RC(B, 0, "commit %llu", e);
    a = P_RC(B, 0, "query");
    A_EQ(B, a, "hce", e);
    daos_handle_t r = { 0 };
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &r, NULL), 0);
    CHECK_EQ(hce_of(r), e);
    M_VERIFY(r, 1, 20, HIGHEST, 0, L, 0);
    CHECK_RC(daos_container_close(r, NULL), 0);
    /* B commits e + 1: its e + 1 write is published, its dropped e write is not */
    P_RC(B, 0, "commit %llu", e + 1);
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &r, NULL), 0);
    CHECK_EQ(hce_of(r), e + 1);
    M_VERIFY(r, 0, 10, HIGHEST, 0, L, 101);
    M_VERIFY(r, 1, 20, HIGHEST, 0, L, 0);
    M_VERIFY(r, 0, 21, HIGHEST, 0, L, 202);
    M_VERIFY(r, 0, 21, e, 0, L, 0);
    CHECK_RC(daos_container_close(r, NULL), 0);
    a = P_RC(A, 0, "query");
    A_EQ(A, a, "hce", e + 1);
    P_READ(A, 0, 21, H, 0, L, 202);

    /* the same through a slip: A commits e + 2 while B has e + 2 and e + 3 staged */
    P_RC(A, 0, "write 1 30 %llu 0 %llu 102", e + 2, L);
    P_RC(B, 0, "write 0 31 %llu 0 %llu 204", e + 2, L);
    P_RC(B, 0, "write 1 32 %llu 0 %llu 205", e + 3, L);
    P_RC(A, 0, "commit %llu", e + 2);
    P_RC(B, 0, "slip H");
    a = P_RC(B, 0, "query");
    A_EQ(B, a, "hce", e + 2);
    A_EQ(B, a, "slipped", e + 2);
    P_READ(B, 1, 30, H, 0, L, 102);
    P_READ(B, 0, 31, H, 0, L, 0);
    P_READ(B, 1, 32, H, 0, L, 205);
    /* the asynchronous form says it too (its e + 2 write was dropped), and
     * commits e + 3 all the same */
    P_RC(B, -ESTALE, "acommit %llu", e + 3);
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &r, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_EQ(hce_of(r), e + 3);
    M_VERIFY(r, 1, 30, HIGHEST, 0, L, 102);
    M_VERIFY(r, 0, 31, HIGHEST, 0, L, 0);
    M_VERIFY(r, 1, 32, HIGHEST, 0, L, 205);
    M_VERIFY(r, 0, 10, HIGHEST, 0, L, 101);
    CHECK_RC(daos_container_close(r, NULL), 0);
    P_RC(A, 0, "close");
    P_RC(B, 0, "close");
out:
    peers_end();
    h_rmrf(root);
}

/* ------------------------------------------------------------------ */
/* e'. epoch holds (daos_epoch_hold): two writers in two processes get
 * distinct epochs, both commit in either order and both objects show; a
 * commit above a held epoch is durable but not HCE until the holder
 * commits, releases, closes or is SIGKILLed (which also wakes a wait) */

#define LEN_H (64 * 1024 + 5)

/* A and B hold; B writes and commits its (higher) epoch: checks the test's
 * view (HCE below A's hold, B's object not visible). Returns B's epoch, or 0. */
static uint64_t held_pending(struct peer *A, struct peer *B, daos_handle_t r, uint64_t lo, uint64_t *ea)
{
    char *a = P_RC(A, 0, "ehold 0");
    uint64_t e1 = a ? (uint64_t)rv(a, "e") : 0;
    a = P_RC(B, 0, "ehold 0");
    uint64_t e2 = a ? (uint64_t)rv(a, "e") : 0;
    CHECK(e1 > 0 && e2 > e1);
    if (!(e1 > 0 && e2 > e1)) return 0;
    uint64_t before = hce_of(r);
    CHECK(before < e1);
    P_RC(A, 0, "write 0 %llu %llu 0 %llu %llu", (unsigned long long)lo, (unsigned long long)e1,
         (unsigned long long)LEN_H, (unsigned long long)(lo + 1));
    P_RC(B, 0, "write 1 %llu %llu 0 %llu %llu", (unsigned long long)lo + 1, (unsigned long long)e2,
         (unsigned long long)LEN_H, (unsigned long long)(lo + 2));
    P_RC(B, 0, "commit %llu", (unsigned long long)e2);
    struct daos_epoch_info ei = equery(r);
    CHECK_EQ(ei.epi_hce.seq, e1 - 1); /* below A's hold */
    CHECK_EQ(ei.epi_hse.seq, e2);     /* B's commit is durable */
    daos_epoch_t low = { 0 }, own = { 0 };
    CHECK_RC(daos_epoch_hold_query(r, &low, &own, NULL), 0);
    CHECK_EQ(low.seq, e1);
    CHECK_EQ(own.seq, HIGHEST);
    M_VERIFY(r, 1, lo + 1, HIGHEST, 0, LEN_H, 0);
    *ea = e1;
    return e2;
}

static void test_holds(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-hold", 2) != 0) return;
    snprintf(path, sizeof path, "%s/hold", root);
    unsigned tg[2] = { 0, 1 };
    if (make_container(path, 2, tg) != 0) goto out;
    daos_handle_t r = { 0 };
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &r, NULL), 0);
    struct peer *A = peer_start("holderA"), *B = peer_start("holderB");
    if (!A || !B) goto close;
    P_RC(A, 0, "open %s rw 1", path);
    P_RC(B, 0, "open %s rw 1", path);

    /* without holds: both write HCE + 1; the second commit fails, its data never shows */
    uint64_t e = hce_of(r) + 1;
    P_RC(A, 0, "write 0 1 %llu 0 %llu 11", (unsigned long long)e, (unsigned long long)LEN_H);
    P_RC(B, 0, "write 1 2 %llu 0 %llu 12", (unsigned long long)e, (unsigned long long)LEN_H);
    P_RC(A, 0, "commit %llu", (unsigned long long)e);
    P_RC(B, -ESTALE, "commit %llu", (unsigned long long)e);
    CHECK_EQ(hce_of(r), e);
    M_VERIFY(r, 0, 1, HIGHEST, 0, LEN_H, 11);
    M_VERIFY(r, 1, 2, HIGHEST, 0, LEN_H, 0);
    P_READ(B, 1, 2, HIGHEST, 0, LEN_H, 0);

    /* with holds, in both commit orders: distinct epochs, both objects show */
    for (int order = 0; order < 2; order++) {
        uint64_t lo = 10 + 10 * (uint64_t)order;
        char *a = P_RC(A, 0, "ehold 0");
        uint64_t ea = a ? (uint64_t)rv(a, "e") : 0;
        a = P_RC(B, 0, "ehold 0");
        uint64_t eb = a ? (uint64_t)rv(a, "e") : 0;
        CHECK(ea > hce_of(r) && eb > hce_of(r) && ea != eb);
        P_RC(A, 0, "write 0 %llu %llu 0 %llu %llu", (unsigned long long)lo, (unsigned long long)ea,
             (unsigned long long)LEN_H, (unsigned long long)(lo + 1));
        P_RC(B, 0, "write 1 %llu %llu 0 %llu %llu", (unsigned long long)lo + 1, (unsigned long long)eb,
             (unsigned long long)LEN_H, (unsigned long long)(lo + 2));
        struct peer *first = order ? B : A, *second = order ? A : B;
        uint64_t e1 = order ? eb : ea, e2 = order ? ea : eb;
        P_RC(first, 0, "commit %llu", (unsigned long long)e1);
        P_RC(second, 0, "acommit %llu", (unsigned long long)e2);
        CHECK_EQ(hce_of(r), ea > eb ? ea : eb);
        M_VERIFY(r, 0, lo, HIGHEST, 0, LEN_H, lo + 1);
        M_VERIFY(r, 1, lo + 1, HIGHEST, 0, LEN_H, lo + 2);
        a = P_RC(A, 0, "hquery");
        A_EQ(A, a, "lowest", HIGHEST);
        A_EQ(A, a, "own", HIGHEST);
    }

    /* a commit above a held epoch waits until the holder commits ... */
    uint64_t ea = 0, eb = held_pending(A, B, r, 100, &ea);
    if (eb) {
        P_RC(A, 0, "commit %llu", (unsigned long long)ea);
        CHECK_EQ(hce_of(r), eb);
        M_VERIFY(r, 0, 100, HIGHEST, 0, LEN_H, 101);
        M_VERIFY(r, 1, 101, HIGHEST, 0, LEN_H, 102);
    }
    /* ... or releases (its write never shows) ... */
    eb = held_pending(A, B, r, 110, &ea);
    if (eb) {
        char *a = P_RC(A, 0, "ehold H");
        A_EQ(A, a, "e", HIGHEST);
        CHECK_EQ(hce_of(r), eb);
        M_VERIFY(r, 0, 110, HIGHEST, 0, LEN_H, 0);
        M_VERIFY(r, 1, 111, HIGHEST, 0, LEN_H, 112);
        /* the write it made in the epoch it gave up is reported at its next commit */
        P_RC(A, -ESTALE, "commit %llu", (unsigned long long)ea);
    }
    /* ... or closes ... */
    eb = held_pending(A, B, r, 120, &ea);
    if (eb) {
        P_RC(A, 0, "close");
        CHECK_EQ(hce_of(r), eb);
        M_VERIFY(r, 0, 120, HIGHEST, 0, LEN_H, 0);
        M_VERIFY(r, 1, 121, HIGHEST, 0, LEN_H, 122);
        P_RC(A, 0, "open %s rw 1", path);
    }
    /* ... or is SIGKILLed: a wait blocked by its hold (in another process)
     * wakes, and its partial writes never show */
    struct peer *W = peer_start("waiter");
    if (W) P_RC(W, 0, "open %s ro 1", path);
    eb = held_pending(A, B, r, 130, &ea);
    if (eb && W && P_OK(W, "await %llu", (unsigned long long)eb)) {
        P_QUIET(W);
        int ws = peer_kill(A);
        CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
        char *a = P_WAIT(W, EVENT_TIMEOUT_MS, "done", 1);
        A_EQ(W, a, "ev_error", 0);
        A_EQ(W, a, "e", eb);
        CHECK_EQ(hce_of(r), eb);
        M_VERIFY(r, 0, 130, HIGHEST, 0, LEN_H, 0);
        M_VERIFY(r, 1, 131, HIGHEST, 0, LEN_H, 132);
        P_READ(W, 0, 130, HIGHEST, 0, LEN_H, 0);
    }
    /* a killed holder is also freed at the next open: B holds and dies, C commits above */
    if (!B->dead) {
        char *a = P_RC(B, 0, "ehold 0");
        uint64_t held = a ? (uint64_t)rv(a, "e") : 0;
        P_RC(B, 0, "write 0 140 %llu 0 %llu 141", (unsigned long long)held, (unsigned long long)LEN_H);
        peer_kill(B);
        daos_handle_t w = { 0 };
        CHECK_RC(daos_container_open(path, DAOS_COO_RW, 1, &st, &w, NULL), 0);
        daos_epoch_t low = { 0 };
        CHECK_RC(daos_epoch_hold_query(w, &low, NULL, NULL), 0);
        CHECK_EQ(low.seq, HIGHEST);
        daos_epoch_t mine = { 0 };
        CHECK_RC(daos_epoch_hold(w, &mine, NULL), 0);
        CHECK(mine.seq > hce_of(w));
        CHECK_RC(m_write(w, 1, 141, mine.seq, 0, LEN_H, 142), 0);
        CHECK_RC(commit(w, mine.seq), 0);
        CHECK_EQ(hce_of(w), mine.seq);
        CHECK_RC(daos_container_close(w, NULL), 0);
        M_VERIFY(r, 0, 140, HIGHEST, 0, LEN_H, 0);
        M_VERIFY(r, 1, 141, HIGHEST, 0, LEN_H, 142);
    }
close:
    CHECK_RC(daos_container_close(r, NULL), 0);
out:
    peers_end();
    h_rmrf(root);
}

/* e''. a collective master whose peer wrote in an epoch another writer
 * closed: its commit says so */

static void test_master_stale(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-mstale", 1) != 0) return;
    snprintf(path, sizeof path, "%s/mstale", root);
    unsigned tg[1] = { 0 };
    if (make_container(path, 1, tg) != 0) goto out;
    struct peer *M = peer_start("master"), *T = peer_start("peer");
    if (!M || !T) goto out;
    char *a = P_RC(M, 0, "open %s rw 2", path);
    a = P_RC(M, 0, "l2g");
    char *mhex = rstr(a, "hex");
    if (!mhex || strcmp(mhex, "-") == 0) {
        printf("   the helper master got no global buffer: the rest is skipped\n");
        free(mhex);
        goto out;
    }
    P_RC(T, 0, "g2l %s", mhex);
    free(mhex);
    daos_handle_t w = { 0 };
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW, 1, &st, &w, NULL), 0);
    uint64_t e = hce_of(w) + 1;
    P_RC(T, 0, "write 0 50 %llu 0 4096 51", (unsigned long long)e);
    P_RC(T, 0, "flush %llu", (unsigned long long)e);
    CHECK_RC(m_write(w, 0, 52, e, 0, 4096, 53), 0);
    CHECK_RC(commit(w, e), 0);
    P_RC(M, -ESTALE, "commit %llu", (unsigned long long)e);
    M_VERIFY(w, 0, 50, HIGHEST, 0, 4096, 0);
    M_VERIFY(w, 0, 52, HIGHEST, 0, 4096, 53);
    /* a peer cannot hold: only its master commits */
    P_RC(T, -EPERM, "ehold 0");
    a = P_RC(M, 0, "ehold 0");
    uint64_t held = a ? (uint64_t)rv(a, "e") : 0;
    P_RC(T, 0, "write 0 54 %llu 0 4096 55", (unsigned long long)held);
    P_RC(T, 0, "flush %llu", (unsigned long long)held);
    CHECK_RC(m_write(w, 0, 56, held + 1, 0, 4096, 57), 0);
    CHECK_RC(commit(w, held + 1), 0);
    CHECK_EQ(hce_of(w), held - 1);
    P_RC(M, 0, "commit %llu", (unsigned long long)held);
    CHECK_EQ(hce_of(w), held + 1);
    M_VERIFY(w, 0, 54, HIGHEST, 0, 4096, 55);
    M_VERIFY(w, 0, 56, HIGHEST, 0, 4096, 57);
    CHECK_RC(daos_container_close(w, NULL), 0);
    P_RC(T, 0, "close");
    P_RC(M, 0, "close");
out:
    peers_end();
    h_rmrf(root);
}

/* ------------------------------------------------------------------ */
/* f'. a master killed: what its peers flushed but it did not commit never
 * shows, even once another writer commits those epochs */

static void test_master_killed(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-mkill", 2) != 0) return;
    snprintf(path, sizeof path, "%s/mkill", root);
    unsigned tg[2] = { 0, 1 };
    if (make_container(path, 2, tg) != 0) goto out;
    struct peer *M = peer_start("master"), *T = peer_start("peer");
    if (!M || !T) goto out;
    char *a = P_RC(M, 0, "open %s rw 2", path);
    a = P_RC(M, 0, "l2g");
    char *mhex = rstr(a, "hex");
    if (!mhex || strcmp(mhex, "-") == 0) {
        printf("   the helper master got no global buffer: the rest is skipped\n");
        free(mhex);
        goto out;
    }
    P_RC(T, 0, "g2l %s", mhex);
    free(mhex);
    /* epoch 2 committed by the master, with the peer's epoch-3 write flushed
     * ahead of it (so inside the journal range the commit publishes) */
    P_RC(T, 0, "write 0 700 2 0 %u 71", 64u << 10);
    P_RC(T, 0, "write 1 701 3 0 %u 72", 64u << 10);
    P_RC(T, 0, "write 0 702 3 0 %u 73", 64u << 10);
    P_RC(T, 0, "flush 3");
    P_RC(M, 0, "commit 2");
    /* then the peer flushes more of epoch 3, and the master dies */
    P_RC(T, 0, "write 1 703 3 0 %u 74", 64u << 10);
    P_RC(T, 0, "flush 3");
    int ws = peer_kill(M);
    CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    P_RC(T, -EPERM, "query");
    /* another writer commits epoch 3 while the peer still lives */
    daos_handle_t w = { 0 }, oh;
    daos_container_status_t st = 99;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW, 1, &st, &w, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_EQ(hce_of(w), 2);
    daos_obj_id_t oid = { 1, 799 };
    CHECK_RC(daos_object_open(w, oid, DAOS_OBJ_RW, &oh, NULL), 0);
    char buf[100];
    memset(buf, 9, sizeof buf);
    CHECK_RC(h_write(oh, 3, 0, buf, sizeof buf), 0);
    CHECK_RC(daos_object_close(oh, NULL), 0);
    CHECK_RC(commit(w, 3), 0);
    CHECK_EQ(hce_of(w), 3);
    M_VERIFY(w, 0, 700, HIGHEST, 0, 64u << 10, 71);   /* committed by the master */
    M_VERIFY(w, 1, 701, HIGHEST, 0, 64u << 10, 0);    /* flushed, never committed */
    M_VERIFY(w, 0, 702, HIGHEST, 0, 64u << 10, 0);
    M_VERIFY(w, 1, 703, HIGHEST, 0, 64u << 10, 0);
    CHECK_RC(daos_container_close(w, NULL), 0);
    P_RC(T, 0, "close");
    /* the same once the peer is gone too, from a fresh process's view */
    struct peer *R = peer_start("verifier");
    if (R) {
        a = P_RC(R, 0, "open %s ro 1", path);
        A_EQ(R, a, "st", DAOS_CONTAINER_ST_OK);
        P_READ(R, 0, 700, HIGHEST, 0, 64u << 10, 71);
        P_READ(R, 1, 701, HIGHEST, 0, 64u << 10, 0);
        P_READ(R, 0, 702, HIGHEST, 0, 64u << 10, 0);
        P_READ(R, 1, 703, HIGHEST, 0, 64u << 10, 0);
        P_RC(R, 0, "close");
    }
out:
    peers_end();
    h_rmrf(root);
}

/* ------------------------------------------------------------------ */
/* f. a peer killed in the middle of its writes */

#define SPAN_K (2u << 20)

static void test_peer_killed(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-kill", 2) != 0) return;
    snprintf(path, sizeof path, "%s/kill", root);
    unsigned tg[3] = { 0, 1, 0 };
    uint8_t *gb = NULL;
    char *hex = NULL;
    if (make_container(path, 3, tg) != 0) goto out;
    daos_handle_t coh = { 0 };
    daos_container_status_t st = 99;
    int rc;
    CHECK_RC(rc = daos_container_open(path, DAOS_COO_RW, 4, &st, &coh, NULL), 0);
    if (rc) { printf("   collective open failed: the rest of this test is skipped\n"); goto out; }
    const unsigned long long e = hce_of(coh) + 1;
    unsigned n = 0;
    gb = get_global(coh, &n);
    if (!gb) { CHECK_RC(daos_container_close(coh, NULL), 0); goto out; }
    hex = hex_of(gb, n);
    struct peer *P0 = peer_start("peer0"), *P1 = peer_start("peer1"), *K = peer_start("victim");
    if (!P0 || !P1 || !K) { CHECK_RC(daos_container_close(coh, NULL), 0); goto out; }
    P_SEND(P0, "g2l %s", hex);
    P_SEND(P1, "g2l %s", hex);
    P_SEND(K, "g2l %s", hex);
    int64_t deadline = now_us() + CMD_TIMEOUT_MS * 1000LL;
    P_WAIT(P0, left_ms(deadline), "rc", 0);
    P_WAIT(P1, left_ms(deadline), "rc", 0);
    P_WAIT(K, left_ms(deadline), "rc", 0);
    P_RC(P0, 0, "write 0 500 %llu 0 %llu 51", e, (1ull << 20) + 99);
    P_RC(P1, 0, "write 2 501 %llu 4096 %llu 52", e, (1ull << 20) + 1);
    P_RC(P0, 0, "flush %llu", e);
    P_RC(P1, 0, "flush %llu", e);
    /* the victim: J written and flushed, then K written in a loop, never flushed */
    P_RC(K, 0, "write 1 300 %llu 0 %llu 31", e, (768ull << 10) + 11);
    P_RC(K, 0, "flush %llu", e);
    char *a = P_EXPECT(K, "started", 1, "writeloop 0 301 %llu %u 32", e, SPAN_K);
    if (a) {
        A_EQ(K, a, "rc", 0);
        int ws = peer_kill(K);
        CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    }
    unsigned failed = 12345;
    CHECK_RC(daos_epoch_commit(coh, h_ep(e), false, &failed, NULL), 0);
    CHECK_EQ(hce_of(coh), e);

    struct peer *R = peer_start("verifier");
    if (R) {
        a = P_RC(R, 0, "open %s ro 1", path);
        A_EQ(R, a, "st", DAOS_CONTAINER_ST_OK);
        a = P_RC(R, 0, "query");
        A_EQ(R, a, "hce", e);
        P_READ(R, 1, 300, HIGHEST, 0, (768ull << 10) + 11, 31); /* J: all there */
        P_READ(R, 1, 300, e, 0, (768ull << 10) + 11, 31);
        P_READ(R, 0, 301, HIGHEST, 0, SPAN_K, 0);                /* K: never flushed */
        P_READ(R, 0, 500, HIGHEST, 0, (1ull << 20) + 99, 51);
        P_READ(R, 2, 501, HIGHEST, 4096, (1ull << 20) + 1, 52);
        P_RC(R, 0, "close");
    }
    M_VERIFY(coh, 0, 301, HIGHEST, 0, SPAN_K, 0);
    P_RC(P0, 0, "close");
    P_RC(P1, 0, "close");
    CHECK_RC(daos_container_close(coh, NULL), 0);

    /* a fresh open is OK, and a new collective open writes and commits */
    daos_handle_t c2 = { 0 };
    st = 99;
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &c2, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_RC(daos_container_close(c2, NULL), 0);
    st = 99;
    CHECK_RC(rc = daos_container_open(path, DAOS_COO_RW, 2, &st, &c2, NULL), 0);
    if (rc == 0) {
        CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
        unsigned n2 = 0;
        uint8_t *g2 = get_global(c2, &n2);
        struct peer *N = peer_start("peer-new");
        if (g2 && N) {
            char *h2 = hex_of(g2, n2);
            P_RC(N, 0, "g2l %s", h2);
            P_RC(N, 0, "write 2 600 %llu 0 %u 61", e + 1, 256u << 10);
            P_RC(N, 0, "flush %llu", e + 1);
            P_RC(N, 0, "close");
            free(h2);
            CHECK_RC(commit(c2, e + 1), 0);
            CHECK_EQ(hce_of(c2), e + 1);
            M_VERIFY(c2, 2, 600, HIGHEST, 0, 256u << 10, 61);
            M_VERIFY(c2, 1, 300, HIGHEST, 0, (768ull << 10) + 11, 31);
            M_VERIFY(c2, 0, 301, HIGHEST, 0, SPAN_K, 0);
        }
        free(g2);
        CHECK_RC(daos_container_close(c2, NULL), 0);
    }
out:
    peers_end();
    free(hex);
    free(gb);
    h_rmrf(root);
}

/* ------------------------------------------------------------------ */
/* g. unlink while another process has the container open */

/* the c-* entries of every target directory of the store at `root` */
static int list_container_dirs(const char *root, char out[][PATH_MAX], int cap, bool show_other)
{
    char tdir[400];
    snprintf(tdir, sizeof tdir, "%.300s/.daos/targets", root);
    DIR *d = opendir(tdir);
    int n = 0;
    if (!d) return 0;
    struct dirent *t;
    while ((t = readdir(d)) != NULL) {
        if (t->d_name[0] == '.') continue;
        char one[1024];
        snprintf(one, sizeof one, "%s/%.256s", tdir, t->d_name);
        DIR *e = opendir(one);
        if (!e) continue;
        struct dirent *c;
        while ((c = readdir(e)) != NULL) {
            if (strcmp(c->d_name, ".") == 0 || strcmp(c->d_name, "..") == 0) continue;
            if (strncmp(c->d_name, "c-", 2) == 0) {
                if (n < cap) snprintf(out[n], PATH_MAX, "%s/%.200s", one, c->d_name);
                n++;
            } else if (show_other && strcmp(c->d_name, "TARGET") != 0) {
                printf("   (left in target %s: %s)\n", t->d_name, c->d_name);
            }
        }
        closedir(e);
    }
    closedir(d);
    return n;
}

static void test_unlink_while_open(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-unlink", 2) != 0) return;
    snprintf(path, sizeof path, "%s/gone", root);
    unsigned tg[2] = { 0, 1 };
    if (make_container(path, 2, tg) != 0) goto out;
    daos_handle_t w = { 0 };
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW, 1, &st, &w, NULL), 0);
    CHECK_RC(m_write(w, 0, 1, 2, 0, 300 << 10, 71), 0);
    CHECK_RC(m_write(w, 1, 2, 2, 0, 300 << 10, 72), 0);
    CHECK_RC(commit(w, 2), 0);
    CHECK_RC(daos_container_close(w, NULL), 0);
    static char dirs[8][PATH_MAX];
    int nd = list_container_dirs(root, dirs, 8, false);
    CHECK(nd >= 2);
    printf("   the container's data directories: %d\n", nd);

    struct peer *P = peer_start("holder");
    if (!P) goto out;
    P_RC(P, 0, "open %s rw 1", path);
    P_READ(P, 0, 1, HIGHEST, 0, 300 << 10, 71);

    CHECK_RC(daos_container_unlink(path, NULL), 0);
    struct stat sb;
    CHECK(stat(path, &sb) != 0 && errno == ENOENT);
    daos_handle_t x = { 0 };
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &x, NULL), -ENOENT);

    /* the other process keeps reading, writing and committing */
    P_READ(P, 0, 1, HIGHEST, 0, 300 << 10, 71);
    P_READ(P, 1, 2, 2, 0, 300 << 10, 72);
    P_RC(P, 0, "write 0 3 3 0 %u 73", 200u << 10);
    P_RC(P, 0, "commit 3");
    char *a = P_RC(P, 0, "query");
    A_EQ(P, a, "hce", 3);
    P_READ(P, 0, 3, 3, 0, 200 << 10, 73);
    P_RC(P, 0, "write 1 4 4 0 %u 74", 200u << 10);
    P_RC(P, 0, "flush 4");
    P_RC(P, 0, "commit 4");
    P_READ(P, 1, 4, HIGHEST, 0, 200 << 10, 74);
    P_READ(P, 0, 1, 4, 0, 300 << 10, 71);
    int still = 0;
    for (int i = 0; i < nd && i < 8; i++) still += stat(dirs[i], &sb) == 0;
    printf("   while it is open elsewhere, %d of them are still there\n", still);
    P_RC(P, 0, "close");
    peer_finish(P);

    /* the last close reclaimed the space */
    for (int i = 0; i < nd && i < 8; i++) {
        int gone = stat(dirs[i], &sb) != 0 && errno == ENOENT;
        if (gone) atomic_fetch_add(&h_pass, 1);
        else fail_at(__LINE__, "%s is still there after the last close", dirs[i]);
    }
    static char left[8][PATH_MAX];
    CHECK_EQ(list_container_dirs(root, left, 8, true), 0);
    CHECK(stat(path, &sb) != 0 && errno == ENOENT);
out:
    peers_end();
    h_rmrf(root);
}

/* ------------------------------------------------------------------ */
/* h. aggregation held back by a reader in another process */

#define LEN_X ((256u << 10) + 100)

static void test_reader_holds_epoch(void)
{
    char root[128], path[256];
    if (new_store(root, sizeof root, "mp-aggr", 1) != 0) return;
    snprintf(path, sizeof path, "%s/aggr", root);
    unsigned tg[1] = { 0 };
    if (make_container(path, 1, tg) != 0) goto out;
    daos_handle_t w = { 0 };
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW, 1, &st, &w, NULL), 0);
    const uint64_t h = 2;
    CHECK_RC(m_write(w, 0, 5, h, 0, LEN_X, 61), 0);
    CHECK_RC(commit(w, h), 0);

    struct peer *R = peer_start("reader");
    if (!R) { CHECK_RC(daos_container_close(w, NULL), 0); goto out; }
    P_RC(R, 0, "open %s ro 1", path); /* its reference: HCE = h */
    char *a = P_RC(R, 0, "query");
    A_EQ(R, a, "hce", h);
    A_EQ(R, a, "slipped", h);
    P_READ(R, 0, 5, h, 0, LEN_X, 61);

    /* newer versions; the writer slips to each, allowing aggregation */
    for (uint64_t k = h + 1; k <= h + 3; k++) {
        CHECK_RC(m_write(w, 0, 5, k, 0, LEN_X, 60 + k), 0);
        CHECK_RC(commit(w, k), 0);
        CHECK_RC(daos_epoch_slip(w, h_ep(HIGHEST), NULL), 0);
    }
    struct daos_epoch_info ei = equery(w);
    CHECK_EQ(ei.epi_hce_slipped.seq, h + 3);
    CHECK(ei.epi_hce_oldest.seq <= h);
    printf("   with the reader at %llu: oldest readable epoch %llu\n", (unsigned long long)h,
           (unsigned long long)ei.epi_hce_oldest.seq);
    M_VERIFY(w, 0, 5, h, 0, LEN_X, 61);
    /* the reader still reads h, byte for byte */
    P_READ(R, 0, 5, h, 0, LEN_X, 61);
    a = P_RC(R, 0, "query");
    if (a && rv(a, "rc") == 0) CHECK(rv(a, "oldest") <= (long long)h);
    P_READ(R, 0, 5, h, 0, LEN_X, 61);
    P_READ(R, 0, 5, h + 2, 0, LEN_X, 60 + h + 2);
    P_RC(R, 0, "close");
    peer_finish(R);

    /* the reader is gone: the writer's slip lets the oldest epoch move up */
    CHECK_RC(daos_epoch_slip(w, h_ep(HIGHEST), NULL), 0);
    ei = equery(w);
    CHECK(ei.epi_hce_oldest.seq > h);
    printf("   after the reader closed and a slip: oldest readable epoch %llu\n",
           (unsigned long long)ei.epi_hce_oldest.seq);
    if (ei.epi_hce_oldest.seq > h) {
        uint8_t b[16];
        daos_handle_t oh;
        CHECK_RC(daos_object_open(w, h_oid(0, 5), DAOS_OBJ_RO, &oh, NULL), 0);
        CHECK_RC(h_read(oh, h, 0, b, sizeof b), -ESTALE);
        CHECK_RC(daos_object_close(oh, NULL), 0);
    }
    M_VERIFY(w, 0, 5, HIGHEST, 0, LEN_X, 60 + h + 3);
    CHECK_RC(daos_container_close(w, NULL), 0);
out:
    peers_end();
    h_rmrf(root);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* a helper that died: write() gives EPIPE instead */
    char self[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) { perror("readlink /proc/self/exe"); printf("0 passed, 1 failed\n"); return 1; }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(helper_path, sizeof helper_path, "%s/mp_peer", self);
    if (access(helper_path, X_OK) != 0) {
        fprintf(stderr, "FAIL: helper %s: %s (c-tests/run.sh builds c-tests/helpers/*.c)\n",
                helper_path, strerror(errno));
        printf("0 passed, 1 failed\n");
        return 1;
    }
    RUN(test_collective);
    RUN(test_bad_buffers);
    RUN(test_waiters);
    RUN(test_listeners);
    RUN(test_independent_writers);
    RUN(test_holds);
    RUN(test_master_stale);
    RUN(test_peer_killed);
    RUN(test_master_killed);
    RUN(test_unlink_while_open);
    RUN(test_reader_holds_epoch);
    return harness_summary();
}
