/* mp_peer: the other processes of c-tests/test_multiproc.c.
 *
 *   mp_peer NAME CMD_FD REPLY_FD
 *
 * The test fork()s and execv()s this program, then drives it through two
 * pipes: it reads one command per line from CMD_FD and answers each with one
 * line of "key value" pairs on REPLY_FD (e.g. "rc 0 st 0"). Asynchronous
 * commands (await, listen, syslisten, writeloop) answer twice: once when the
 * operation is under way, once when it is over. The helper holds at most one
 * container handle (from open or global2local), object handles kept open by
 * "hold", one EQ and one system container handle. It checks nothing itself:
 * the test compares the answers. It logs on stderr as "[NAME] ...".
 *
 * Epochs are decimal, or H for DAOS_EPOCH_HIGHEST. Data is written and
 * checked with the pattern of mp_common.h (seed 0 = zeros).
 *
 *   open PATH ro|rw NPROC        -> rc st           daos_container_open
 *   l2g                          -> rc size hex     daos_local2global (size, then fill)
 *   g2l HEX                      -> rc zero         daos_global2local into the handle
 *                                                   ({0}, or the open one: refresh)
 *   g2l_try HEX|-                -> rc zero         into a new {0} handle, closed again
 *   close                        -> rc              daos_container_close
 *   hold SHARD LO                -> rc              opens an object RW and keeps it
 *   write SHARD LO EP OFF LEN SEED -> rc            1 MiB per call, 3 memory fragments
 *                                                   onto 2 extents in reverse order
 *   read SHARD LO EP OFF LEN SEED  -> rc bad first  reads and compares
 *   flush EP | commit EP | abort EP | slip EP -> rc
 *   acommit EP                   -> rc (after daos_epoch_commit with an event, polled)
 *   ehold EP                     -> rc e            daos_epoch_hold (H: release)
 *   hquery                       -> rc lowest own   daos_epoch_hold_query
 *   wait EP                      -> rc e t          synchronous daos_epoch_wait
 *   await EP                     -> rc, then done ev_error e t (or done 0 timeout 1)
 *   listen                       -> rc, then done ev_error n shard target status epoch t
 *   syslisten STORE              -> rc, then done ev_error n target status t
 *   shard_add EP TARGET SHARD    -> rc shard
 *   target_set STORE TARGET STATUS -> rc
 *   query                        -> rc hce oldest slipped hse layout
 *   cquery                       -> rc e nshard
 *   writeloop SHARD LO EP SPAN SEED -> started rc (after the first write), then
 *                                   writes 64 KiB pieces round [0, SPAN) until killed
 *                                   (or 60 s: stopped 1 rc)
 *   exit                         -> bye 1, after closing everything
 *
 * t values are CLOCK_MONOTONIC microseconds (comparable across processes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daos_rs.h"
#include "mp_common.h"

#define ASYNC_TIMEOUT_US (20LL * 1000000) /* a pending wait or listen gives up after this */

static const char *name = "peer";
static int reply_fd = -1;
static daos_handle_t coh;
static bool has_coh;
static daos_handle_t eqh;
static bool has_eq;
static daos_handle_t sysh;
static bool has_sys;

struct held { uint64_t shard, lo; daos_handle_t oh; };
static struct held held[16];
static int nheld;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void logmsg(const char *fmt, ...)
{
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%s] %s\n", name, b);
}

/* one answer line */
static void say(const char *fmt, ...)
{
    static char b[MP_LINE_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > (int)sizeof b - 2) n = (int)sizeof b - 2;
    b[n++] = '\n';
    for (int off = 0; off < n;) {
        ssize_t w = write(reply_fd, b + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            logmsg("the test is gone (write: %s); exiting", strerror(errno));
            _exit(3);
        }
        off += (int)w;
    }
}

static uint64_t ep_arg(const char *s)
{
    if (s == NULL) return 0;
    if (strcmp(s, "H") == 0) return (uint64_t)DAOS_EPOCH_HIGHEST;
    return strtoull(s, NULL, 10);
}

static uint64_t u_arg(const char *s) { return s ? strtoull(s, NULL, 10) : 0; }

static int ensure_eq(void)
{
    if (has_eq) return 0;
    int rc = daos_eq_create(&eqh);
    if (rc == 0) has_eq = true;
    return rc;
}

/* an object handle: a held one, or a new one (*tmp set: close it after) */
static int get_obj(uint64_t shard, uint64_t lo, unsigned mode, daos_handle_t *oh, bool *tmp)
{
    for (int i = 0; i < nheld; i++) {
        if (held[i].shard == shard && held[i].lo == lo) {
            *oh = held[i].oh;
            *tmp = false;
            return 0;
        }
    }
    *tmp = true;
    return daos_object_open(coh, (daos_obj_id_t){ shard, lo }, mode, oh, NULL);
}

#define CHUNK (1u << 20)

static int do_write(uint64_t shard, uint64_t lo, uint64_t ep, uint64_t off, uint64_t len,
                    uint64_t seed)
{
    daos_handle_t oh;
    bool tmp;
    int rc = get_obj(shard, lo, DAOS_OBJ_RW, &oh, &tmp);
    if (rc) return rc;
    uint8_t *b = malloc(CHUNK);
    struct { unsigned long n; struct daos_mm_frag f[3]; } mmd;
    struct { unsigned long n; struct daos_io_frag f[2]; } iod;
    for (uint64_t done = 0; b && done < len && rc == 0;) {
        uint64_t n = len - done < CHUNK ? len - done : CHUNK, o = off + done;
        uint64_t h = n / 2, n2 = n - h;
        /* the extents in reverse order: [o + h, o + n) first, then [o, o + h) */
        mp_fill(b, seed, shard, lo, o + h, n2);
        mp_fill(b + n2, seed, shard, lo, o, h);
        if (h == 0) {
            iod.n = 1;
            iod.f[0] = (struct daos_io_frag){ o, n };
        } else {
            iod.n = 2;
            iod.f[0] = (struct daos_io_frag){ o + h, n2 };
            iod.f[1] = (struct daos_io_frag){ o, h };
        }
        if (n < 3) {
            mmd.n = 1;
            mmd.f[0] = (struct daos_mm_frag){ b, n };
        } else {
            uint64_t c1 = n / 3, c2 = 2 * n / 3 + 1;
            mmd.n = 3;
            mmd.f[0] = (struct daos_mm_frag){ b, c1 };
            mmd.f[1] = (struct daos_mm_frag){ b + c1, c2 - c1 };
            mmd.f[2] = (struct daos_mm_frag){ b + c2, n - c2 };
        }
        rc = daos_object_write(oh, (daos_epoch_t){ ep }, (struct daos_mmd *)&mmd,
                               (struct daos_iod *)&iod, NULL);
        done += n;
    }
    if (!b) rc = -ENOMEM;
    free(b);
    if (tmp) daos_object_close(oh, NULL);
    return rc;
}

static int do_read(uint64_t shard, uint64_t lo, uint64_t ep, uint64_t off, uint64_t len,
                   uint64_t seed, uint64_t *bad, uint64_t *first)
{
    daos_handle_t oh;
    bool tmp;
    *bad = 0;
    *first = 0;
    int rc = get_obj(shard, lo, DAOS_OBJ_RO, &oh, &tmp);
    if (rc) return rc;
    uint8_t *b = malloc(CHUNK);
    struct { unsigned long n; struct daos_mm_frag f[2]; } mmd;
    struct { unsigned long n; struct daos_io_frag f[1]; } iod;
    for (uint64_t done = 0; b && done < len && rc == 0;) {
        uint64_t n = len - done < CHUNK ? len - done : CHUNK, o = off + done;
        memset(b, 0xa5, n);
        mmd.n = 2;
        mmd.f[0] = (struct daos_mm_frag){ b, n / 2 };
        mmd.f[1] = (struct daos_mm_frag){ b + n / 2, n - n / 2 };
        iod.n = 1;
        iod.f[0] = (struct daos_io_frag){ o, n };
        rc = daos_object_read(oh, (daos_epoch_t){ ep }, (struct daos_mmd *)&mmd,
                              (struct daos_iod *)&iod, NULL);
        if (rc == 0) {
            uint64_t f = 0, k = mp_mismatch(b, seed, shard, lo, o, n, &f);
            if (k && *bad == 0) *first = f;
            *bad += k;
        }
        done += n;
    }
    if (!b) rc = -ENOMEM;
    free(b);
    if (tmp) daos_object_close(oh, NULL);
    return rc;
}

/* polls the one pending event; returns true if it completed */
static bool poll_event(struct daos_event *ev)
{
    struct daos_event *got = NULL;
    int64_t end = now_us() + ASYNC_TIMEOUT_US;
    for (;;) {
        int64_t left = end - now_us();
        if (left <= 0) break;
        int n = daos_eq_poll(eqh, 0, left, 1, &got);
        if (n == 1 && got == ev) return true;
        if (n < 0) {
            logmsg("daos_eq_poll: %d (%s)", n, strerror(-n));
            break;
        }
    }
    /* gave up: abort and take it back, so the EQ is clean */
    logmsg("the pending operation did not complete within %lld s; aborting it",
           (long long)(ASYNC_TIMEOUT_US / 1000000));
    daos_event_abort(ev);
    daos_eq_poll(eqh, 0, 5 * 1000000, 1, &got);
    return false;
}

static void cmd_writeloop(uint64_t shard, uint64_t lo, uint64_t ep, uint64_t span, uint64_t seed)
{
    const uint64_t piece = 64 * 1024;
    if (span < piece) span = piece;
    int64_t end = now_us() + 60LL * 1000000;
    uint64_t off = 0;
    int rc = do_write(shard, lo, ep, off, piece, seed);
    say("started 1 rc %d", rc);
    if (rc) return;
    while (now_us() < end) {
        off = (off + piece) % (span - span % piece);
        rc = do_write(shard, lo, ep, off, piece, seed);
        if (rc) break;
    }
    say("stopped 1 rc %d", rc);
}

static void close_all(void)
{
    for (int i = 0; i < nheld; i++) daos_object_close(held[i].oh, NULL);
    nheld = 0;
    if (has_coh) daos_container_close(coh, NULL);
    has_coh = false;
    if (has_sys) daos_sys_close(sysh, NULL);
    has_sys = false;
    if (has_eq) daos_eq_destroy(eqh);
    has_eq = false;
}

static bool quit;

static void run(char *line)
{
    char *save = NULL;
    char *a[8] = { 0 };
    int na = 0;
    for (char *t = strtok_r(line, " \t", &save); t && na < 8; t = strtok_r(NULL, " \t", &save))
        a[na++] = t;
    if (na == 0) return;
    const char *c = a[0];

    if (strcmp(c, "open") == 0 && na >= 4) {
        unsigned mode = strcmp(a[2], "rw") == 0 ? DAOS_COO_RW : DAOS_COO_RO;
        daos_container_status_t st = 99;
        daos_handle_t h = { 0 };
        if (has_coh) { say("rc %d st 99", -EBUSY); return; }
        int rc = daos_container_open(a[1], mode, (unsigned)u_arg(a[3]), &st, &h, NULL);
        if (rc == 0) { coh = h; has_coh = true; }
        say("rc %d st %u", rc, rc == 0 ? st : 99);
    } else if (strcmp(c, "l2g") == 0) {
        unsigned size = 0;
        int rc = daos_local2global(coh, NULL, &size);
        if (rc != 0 || size == 0 || size > MP_LINE_MAX / 2 - 64) {
            say("rc %d size %u hex -", rc ? rc : -E2BIG, size);
            return;
        }
        uint8_t *b = malloc(size);
        char *hx = malloc(2 * (size_t)size + 1);
        rc = daos_local2global(coh, b, &size);
        if (rc == 0) mp_hex(hx, b, size);
        say("rc %d size %u hex %s", rc, size, rc == 0 ? hx : "-");
        free(b);
        free(hx);
    } else if ((strcmp(c, "g2l") == 0 || strcmp(c, "g2l_try") == 0) && na >= 2) {
        size_t n = strlen(a[1]);
        uint8_t *b = malloc(n / 2 + 1);
        long size = mp_unhex(b, a[1], n);
        if (size < 0) { say("rc %d zero 1 (bad hex)", -EINVAL); free(b); return; }
        bool tr = strcmp(c, "g2l_try") == 0;
        daos_handle_t h = { 0 };
        if (!tr && has_coh) h = coh; /* refresh */
        daos_handle_t before = h;
        int rc = daos_global2local(b, (unsigned)size, &h, NULL);
        int unchanged = h.cookie == before.cookie;
        if (rc == 0 && tr) daos_container_close(h, NULL);
        if (rc == 0 && !tr) { coh = h; has_coh = true; }
        say("rc %d zero %d", rc, unchanged);
        free(b);
    } else if (strcmp(c, "close") == 0) {
        int rc = daos_container_close(coh, NULL);
        nheld = 0; /* closed with the container */
        if (rc == 0) has_coh = false;
        say("rc %d", rc);
    } else if (strcmp(c, "hold") == 0 && na >= 3) {
        daos_handle_t oh;
        if (nheld == 16) { say("rc %d", -ENOSPC); return; }
        int rc = daos_object_open(coh, (daos_obj_id_t){ u_arg(a[1]), u_arg(a[2]) }, DAOS_OBJ_RW,
                                  &oh, NULL);
        if (rc == 0) held[nheld++] = (struct held){ u_arg(a[1]), u_arg(a[2]), oh };
        say("rc %d", rc);
    } else if (strcmp(c, "write") == 0 && na >= 7) {
        int rc = do_write(u_arg(a[1]), u_arg(a[2]), ep_arg(a[3]), u_arg(a[4]), u_arg(a[5]),
                          u_arg(a[6]));
        say("rc %d", rc);
    } else if (strcmp(c, "read") == 0 && na >= 7) {
        uint64_t bad = 0, first = 0;
        int rc = do_read(u_arg(a[1]), u_arg(a[2]), ep_arg(a[3]), u_arg(a[4]), u_arg(a[5]),
                         u_arg(a[6]), &bad, &first);
        say("rc %d bad %llu first %llu", rc, (unsigned long long)bad, (unsigned long long)first);
    } else if (strcmp(c, "flush") == 0 && na >= 2) {
        say("rc %d", daos_container_flush(coh, (daos_epoch_t){ ep_arg(a[1]) }, NULL));
    } else if (strcmp(c, "commit") == 0 && na >= 2) {
        unsigned failed = 0;
        say("rc %d", daos_epoch_commit(coh, (daos_epoch_t){ ep_arg(a[1]) }, false, &failed, NULL));
    } else if (strcmp(c, "acommit") == 0 && na >= 2) {
        struct daos_event ev;
        unsigned failed = 0;
        int rc = ensure_eq();
        if (rc == 0) rc = daos_event_init(&ev, eqh, NULL);
        if (rc) { say("rc %d", rc); return; }
        rc = daos_epoch_commit(coh, (daos_epoch_t){ ep_arg(a[1]) }, false, &failed, &ev);
        if (rc == 0) rc = poll_event(&ev) ? ev.ev_error : -ETIMEDOUT;
        daos_event_fini(&ev);
        say("rc %d", rc);
    } else if (strcmp(c, "ehold") == 0 && na >= 2) {
        daos_epoch_t e = { ep_arg(a[1]) };
        int rc = daos_epoch_hold(coh, &e, NULL);
        say("rc %d e %llu", rc, (unsigned long long)e.seq);
    } else if (strcmp(c, "hquery") == 0) {
        daos_epoch_t lo = { 0 }, own = { 0 };
        int rc = daos_epoch_hold_query(coh, &lo, &own, NULL);
        say("rc %d lowest %llu own %llu", rc, (unsigned long long)lo.seq, (unsigned long long)own.seq);
    } else if (strcmp(c, "abort") == 0 && na >= 2) {
        unsigned failed = 0;
        say("rc %d", daos_epoch_abort(coh, (daos_epoch_t){ ep_arg(a[1]) }, &failed, NULL));
    } else if (strcmp(c, "slip") == 0 && na >= 2) {
        say("rc %d", daos_epoch_slip(coh, (daos_epoch_t){ ep_arg(a[1]) }, NULL));
    } else if (strcmp(c, "wait") == 0 && na >= 2) {
        daos_epoch_t e = { ep_arg(a[1]) }, lay = { 0 };
        int rc = daos_epoch_wait(coh, &e, &lay, NULL);
        say("rc %d e %llu t %lld", rc, (unsigned long long)e.seq, (long long)now_us());
    } else if (strcmp(c, "await") == 0 && na >= 2) {
        struct daos_event ev;
        daos_epoch_t e = { ep_arg(a[1]) }, lay = { 0 };
        int rc = ensure_eq();
        if (rc == 0) rc = daos_event_init(&ev, eqh, NULL);
        if (rc) { say("rc %d", rc); return; }
        rc = daos_epoch_wait(coh, &e, &lay, &ev);
        say("rc %d", rc);
        if (rc == 0) {
            if (poll_event(&ev))
                say("done 1 ev_error %d e %llu t %lld", ev.ev_error, (unsigned long long)e.seq,
                    (long long)now_us());
            else
                say("done 0 timeout 1");
        }
        daos_event_fini(&ev);
    } else if (strcmp(c, "listen") == 0) {
        struct daos_event ev;
        struct daos_shard_event sevs[8];
        unsigned sevn = 8;
        memset(sevs, 0xff, sizeof sevs);
        int rc = ensure_eq();
        if (rc == 0) rc = daos_event_init(&ev, eqh, NULL);
        if (rc) { say("rc %d", rc); return; }
        rc = daos_container_listen(coh, &sevn, sevs, &ev);
        say("rc %d", rc);
        if (rc == 0) {
            if (poll_event(&ev))
                say("done 1 ev_error %d n %u shard %u target %u status %d epoch %llu t %lld",
                    ev.ev_error, sevn, sevs[0].se_shard, sevs[0].se_target, sevs[0].se_status,
                    (unsigned long long)sevs[0].se_epoch.seq, (long long)now_us());
            else
                say("done 0 timeout 1");
        }
        daos_event_fini(&ev);
    } else if (strcmp(c, "syslisten") == 0 && na >= 2) {
        struct daos_event ev;
        struct daos_target_event tevs[8];
        unsigned tevn = 8;
        memset(tevs, 0xff, sizeof tevs);
        int rc = has_sys ? 0 : daos_sys_open(a[1], &sysh, NULL);
        if (rc == 0) has_sys = true;
        if (rc == 0) rc = ensure_eq();
        if (rc == 0) rc = daos_event_init(&ev, eqh, NULL);
        if (rc) { say("rc %d", rc); return; }
        rc = daos_sys_listen(sysh, &tevn, tevs, &ev);
        say("rc %d", rc);
        if (rc == 0) {
            if (poll_event(&ev))
                say("done 1 ev_error %d n %u target %u status %d t %lld", ev.ev_error, tevn,
                    tevs[0].te_target, tevs[0].te_status, (long long)now_us());
            else
                say("done 0 timeout 1");
        }
        daos_event_fini(&ev);
    } else if (strcmp(c, "shard_add") == 0 && na >= 4) {
        unsigned tg = (unsigned)u_arg(a[2]);
        int sh = atoi(a[3]);
        int rc = daos_shard_add(coh, (daos_epoch_t){ ep_arg(a[1]) }, 1, &tg, &sh, NULL);
        say("rc %d shard %d", rc, sh);
    } else if (strcmp(c, "target_set") == 0 && na >= 4) {
        daos_handle_t s;
        int rc = daos_sys_open(a[1], &s, NULL);
        if (rc == 0) {
            rc = daos_sys_target_set_status(s, (unsigned)u_arg(a[2]), atoi(a[3]));
            daos_sys_close(s, NULL);
        }
        say("rc %d", rc);
    } else if (strcmp(c, "query") == 0) {
        struct daos_epoch_info ei;
        memset(&ei, 0, sizeof ei);
        int rc = daos_epoch_query(coh, &ei, NULL);
        say("rc %d hce %llu oldest %llu slipped %llu hse %llu layout %llu", rc,
            (unsigned long long)ei.epi_hce.seq, (unsigned long long)ei.epi_hce_oldest.seq,
            (unsigned long long)ei.epi_hce_slipped.seq, (unsigned long long)ei.epi_hse.seq,
            (unsigned long long)ei.epi_layout_changed.seq);
    } else if (strcmp(c, "cquery") == 0) {
        struct daos_container_info ci;
        daos_epoch_t e = { (uint64_t)DAOS_EPOCH_HIGHEST };
        memset(&ci, 0, sizeof ci);
        int rc = daos_container_query(coh, &e, &ci, NULL);
        say("rc %d e %llu nshard %u", rc, (unsigned long long)e.seq, ci.ci_nshard);
    } else if (strcmp(c, "writeloop") == 0 && na >= 6) {
        cmd_writeloop(u_arg(a[1]), u_arg(a[2]), ep_arg(a[3]), u_arg(a[4]), u_arg(a[5]));
    } else if (strcmp(c, "exit") == 0) {
        close_all();
        say("bye 1");
        quit = true;
    } else {
        logmsg("unknown command or missing arguments: %s", c);
        say("rc %d unknown 1", -ENOSYS);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mp_peer NAME CMD_FD REPLY_FD (run by test_multiproc)\n");
        return 2;
    }
    name = argv[1];
    int cmd_fd = atoi(argv[2]);
    reply_fd = atoi(argv[3]);
    signal(SIGPIPE, SIG_IGN);
    alarm(280); /* never outlive the test's own time limit */
    FILE *in = fdopen(cmd_fd, "r");
    if (!in) { perror("fdopen"); return 2; }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!quit && (n = getline(&line, &cap, in)) > 0) {
        if (line[n - 1] == '\n') line[n - 1] = 0;
        run(line);
    }
    /* "exit", or the test closed its end: leave quietly */
    close_all();
    free(line);
    fclose(in);
    return 0;
}
