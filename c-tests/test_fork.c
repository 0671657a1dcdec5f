/* fork(): handles and events do not survive into a child process (SPEC §1, §2).
 * The child runs its checks with the same harness and sends its pass/fail
 * counts back through a pipe; its exit status says whether it got that far.
 *
 * c-tests: no-asan — built with UBSan only: this gcc's AddressSanitizer does
 * not lock its allocator across fork(), so a child forked while one of the
 * library's threads is starting (inside ASan's thread set-up) hangs in malloc
 * whatever the library does (glibc's malloc is fork-safe). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define MS 1000
#define SEC 1000000

static daos_handle_t eqh;
static struct daos_event ev_idle, ev_done, ev_fly;

/* in the child: every inherited handle is -EBADF, every inherited event -ENOENT */
static void child_checks(int with_new_eqs_first)
{
    daos_handle_t mine[4];
    int nmine = 0;
    if (with_new_eqs_first) {
        /* new EQs made first must not bring the inherited cookie back to life */
        for (nmine = 0; nmine < 4; nmine++) {
            CHECK_RC(daos_eq_create(&mine[nmine]), 0);
            CHECK(mine[nmine].cookie != eqh.cookie);
        }
    }
    struct daos_event *sentinel = (struct daos_event *)(uintptr_t)0x1234;
    struct daos_event *evs[2] = { sentinel, sentinel };
    int fd = -77;
    struct daos_event x;
    memset(&x, 0, sizeof(x));

    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 2, evs), -EBADF);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_WAIT, 2, evs), -EBADF);
    CHECK_PTR_EQ(evs[0], sentinel);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), -EBADF);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 2, evs), -EBADF);
    CHECK_PTR_EQ(evs[0], sentinel);
    CHECK_RC(daos_event_init(&x, eqh, NULL), -EBADF);
    CHECK_RC(daos_eq_get_fd(eqh, &fd), -EBADF);
    CHECK_EQ(fd, -77);

    struct daos_event *inherited[3] = { &ev_idle, &ev_done, &ev_fly };
    for (int i = 0; i < 3; i++) {
        struct daos_event *e = inherited[i];
        bool done = false;
        CHECK_RC(daos_event_fini(e), -ENOENT);
        CHECK_RC(daos_event_abort(e), -ENOENT);
        CHECK_RC(daos_noop(e, 0), -ENOENT);
        CHECK_RC(daos_event_launch(e), -ENOENT);
        CHECK_RC(daos_event_complete(e, 0), -ENOENT);
        CHECK_RC(daos_event_test(e, 0, &done), -ENOENT);
        CHECK_EQ(done, false);
        CHECK_PTR_EQ(daos_event_next(e, NULL), NULL);
    }
    /* an inherited event as a parent is unknown too */
    CHECK_RC(daos_event_init(&x, eqh, &ev_idle), -ENOENT);

    CHECK_RC(daos_eq_destroy(eqh), -EBADF);
    CHECK_RC(daos_eq_destroy_force(eqh), -EBADF);

    /* the child's own EQ works, and the inherited structs can be initialised on it */
    daos_handle_t own = { 0 };
    CHECK_RC(daos_eq_create(&own), 0);
    CHECK(own.cookie != eqh.cookie);
    CHECK_EQ((own.cookie >> 3) & 0x7f, (uint64_t)getpid() & 0x7f);
    for (int i = 0; i < 3; i++)
        CHECK_RC(daos_event_init(inherited[i], own, NULL), 0);
    CHECK_RC(daos_noop(&ev_idle, 1 * MS), 0);
    CHECK_RC(daos_noop(&ev_fly, 0), 0);
    int got = 0;
    int64_t deadline = now_us() + 5 * SEC;
    while (got < 2 && now_us() < deadline) {
        int rc = daos_eq_poll(own, 0, 1 * SEC, 2, evs);
        CHECK(rc >= 0);
        if (rc < 0) break;
        got += rc;
    }
    CHECK_EQ(got, 2);
    CHECK_EQ(ev_idle.ev_error, 0);
    CHECK_EQ(ev_fly.ev_error, 0);
    CHECK_RC(daos_event_launch(&ev_done), 0);
    CHECK_RC(daos_event_complete(&ev_done, -EIO), 0);
    CHECK_RC(daos_eq_poll(own, 0, DAOS_EQ_NOWAIT, 2, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev_done);
    CHECK_EQ(ev_done.ev_error, -EIO);
    for (int i = 0; i < 3; i++)
        CHECK_RC(daos_event_fini(inherited[i]), 0);
    CHECK_RC(daos_eq_destroy(own), 0);
    for (int i = 0; i < nmine; i++)
        CHECK_RC(daos_eq_destroy(mine[i]), 0);
    /* still -EBADF after all that */
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), -EBADF);
}

struct counts { long pass, fail; };

/* run fn in a child; fold its counts into ours. Returns the child's pid. */
static pid_t run_in_child(void (*fn)(int), int arg, int *exit_code)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        alarm(30); /* a call that blocks forever in the child is a failure */
        atomic_store(&h_pass, 0);
        atomic_store(&h_fail, 0);
        fn(arg);
        struct counts c = { atomic_load(&h_pass), atomic_load(&h_fail) };
        ssize_t w = write(p[1], &c, sizeof(c));
        _exit(w == (ssize_t)sizeof(c) ? 0 : 3);
    }
    close(p[1]);
    CHECK(pid > 0);
    struct counts c = { 0, 0 };
    ssize_t r = read(p[0], &c, sizeof(c));
    close(p[0]);
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    CHECK_EQ(*exit_code, 0);
    CHECK_EQ(r, (ssize_t)sizeof(c)); /* the child ran to the end */
    atomic_fetch_add(&h_pass, c.pass);
    atomic_fetch_add(&h_fail, c.fail);
    return pid;
}

static void setup_parent_state(void)
{
    CHECK_RC(daos_eq_create(&eqh), 0);
    memset(&ev_idle, 0, sizeof(ev_idle));
    memset(&ev_done, 0, sizeof(ev_done));
    memset(&ev_fly, 0, sizeof(ev_fly));
    CHECK_RC(daos_event_init(&ev_idle, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&ev_done, eqh, NULL), 0);
    CHECK_RC(daos_event_init(&ev_fly, eqh, NULL), 0);
    CHECK_RC(daos_event_launch(&ev_done), 0);
    CHECK_RC(daos_event_complete(&ev_done, 0), 0);
    CHECK_RC(daos_noop(&ev_fly, 10 * SEC), 0);
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_ALL, 0, NULL), 2); /* submits the noop too */
}

/* the parent's objects are untouched by whatever the child did */
static void check_parent_state_and_clean(void)
{
    struct daos_event *evs[4];
    CHECK_RC(daos_eq_query(eqh, DAOS_EVQ_INFLIGHT, 0, NULL), 1);
    CHECK_RC(daos_eq_poll(eqh, 0, DAOS_EQ_NOWAIT, 4, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev_done);
    CHECK_EQ(ev_done.ev_error, 0);
    CHECK_RC(daos_event_abort(&ev_fly), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 4, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev_fly);
    CHECK_EQ(ev_fly.ev_error, -EINTR);
    CHECK_RC(daos_noop(&ev_idle, 0), 0);
    CHECK_RC(daos_eq_poll(eqh, 0, 5 * SEC, 4, evs), 1);
    CHECK_PTR_EQ(evs[0], &ev_idle);
    CHECK_RC(daos_event_fini(&ev_idle), 0);
    CHECK_RC(daos_event_fini(&ev_done), 0);
    CHECK_RC(daos_event_fini(&ev_fly), 0);
    CHECK_RC(daos_eq_destroy(eqh), 0);
}

static void test_fork_child(void)
{
    setup_parent_state();
    int code;
    run_in_child(child_checks, 0, &code);
    run_in_child(child_checks, 1, &code);
    check_parent_state_and_clean();
}

/* fork until a child's pid has the same low 7 bits as ours: the PID bits of the
 * handle then match, and only the at-fork reset can make it -EBADF */
static void test_fork_same_pid_bits(void)
{
    setup_parent_state();
    const pid_t me = getpid();
    int found = 0, tries;
    for (tries = 0; tries < 2000 && !found; tries++) {
        int p[2];
        if (pipe(p) != 0) {
            CHECK(0);
            break;
        }
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            if ((getpid() & 0x7f) != (me & 0x7f)) _exit(0); /* not this one */
            alarm(30);
            atomic_store(&h_pass, 0);
            atomic_store(&h_fail, 0);
            child_checks(tries & 1);
            struct counts c = { atomic_load(&h_pass), atomic_load(&h_fail) };
            ssize_t w = write(p[1], &c, sizeof(c));
            _exit(w == (ssize_t)sizeof(c) ? 42 : 3);
        }
        close(p[1]);
        if (pid < 0) {
            close(p[0]);
            CHECK(pid > 0);
            break;
        }
        struct counts c = { 0, 0 };
        ssize_t r = read(p[0], &c, sizeof(c)); /* 0 bytes if the child just exited */
        close(p[0]);
        int status = 0;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if ((pid & 0x7f) == (me & 0x7f)) {
            found = 1;
            CHECK_EQ(code, 42);
            CHECK_EQ(r, (ssize_t)sizeof(c));
            atomic_fetch_add(&h_pass, c.pass);
            atomic_fetch_add(&h_fail, c.fail);
            printf("   pid %d shares the low 7 bits of pid %d (after %d forks); child ran %ld checks\n",
                   (int)pid, (int)me, tries + 1, c.pass + c.fail);
        } else if (code != 0) {
            CHECK_EQ(code, 0);
        }
    }
    CHECK_EQ(found, 1);
    check_parent_state_and_clean();
}

static uint64_t oldest_of(daos_handle_t coh)
{
    struct daos_epoch_info info;
    memset(&info, 0, sizeof info);
    CHECK_RC(daos_epoch_query(coh, &info, NULL), 0);
    return info.epi_hce_oldest.seq;
}

/* A process P that has a container open forks a child C (no exec) and dies.
 * C shares P's open files, and so P's locks; the library closes C's copies at
 * fork, so P is seen dead: its reader registration no longer holds back
 * aggregation while C lives. */
static void test_child_does_not_keep_a_dead_parents_locks(void)
{
    char root[128], path[256];
    CHECK_RC(h_new_store(root, sizeof root, "fork-locks", 1), 0);
    snprintf(path, sizeof path, "%s/c", root);
    daos_handle_t coh, oh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned tg = 0;
    int sh = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &tg, &sh, NULL), 0);
    daos_obj_id_t oid = { (uint64_t)sh, 1 };
    char buf[4096];
    memset(buf, 1, sizeof buf);
    CHECK_RC(daos_object_open(coh, oid, DAOS_OBJ_RW, &oh, NULL), 0);
    CHECK_RC(h_write(oh, 1, 0, buf, sizeof buf), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), 0, NULL, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    int hold[2];
    CHECK_RC(pipe(hold), 0);
    pid_t p = fork();
    if (p == 0) {
        /* P: a reader at epoch 1 and a writer (a journal lock), then a child */
        daos_handle_t c, o;
        daos_container_status_t s;
        if (daos_container_open(path, DAOS_COO_RW, 1, &s, &c, NULL) != 0) _exit(2);
        if (daos_object_open(c, oid, DAOS_OBJ_RW, &o, NULL) != 0) _exit(3);
        char b[100] = { 7 };
        if (h_write(o, 2, 0, b, sizeof b) != 0) _exit(4);
        pid_t kid = fork();
        if (kid == 0) {
            /* C: lives on until told, touching nothing of P's */
            close(hold[1]);
            char x;
            if (read(hold[0], &x, 1) < 0) _exit(5);
            _exit(0);
        }
        _exit(kid > 0 ? 0 : 6); /* dies without closing anything */
    }
    close(hold[0]);
    int ws = 0;
    CHECK(p > 0 && waitpid(p, &ws, 0) == p && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);

    /* P is dead, C lives: P's registration must not hold epoch 1 */
    CHECK_RC(daos_container_open(path, DAOS_COO_RW, 1, &st, &coh, NULL), 0);
    CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
    CHECK_RC(daos_object_open(coh, oid, DAOS_OBJ_RW, &oh, NULL), 0);
    CHECK_RC(h_write(oh, 3, 0, buf, 10), 0);
    CHECK_RC(daos_epoch_commit(coh, h_ep(3), 0, NULL, NULL), 0);
    CHECK_RC(daos_epoch_slip(coh, h_ep(3), NULL), 0);
    CHECK_EQ(oldest_of(coh), 3);
    /* and P's uncommitted write never shows */
    char back[100];
    CHECK_RC(h_read(oh, DAOS_EPOCH_HIGHEST, 0, back, sizeof back), 0);
    CHECK(back[0] == 1 && back[99] == 1);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    close(hold[1]); /* C goes (it is P's child: reaped by init) */
    h_rmrf(root);
}

int main(void)
{
    RUN(test_fork_child);
    RUN(test_fork_same_pid_bits);
    RUN(test_child_does_not_keep_a_dead_parents_locks);
    return harness_summary();
}
