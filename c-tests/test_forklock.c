/* fork() while other threads are in metadata calls (SPEC §1): the child
 * never holds, nor waits for, a file lock it inherited, and the parent's
 * threads keep going.
 *
 * The library takes `flock`s on files (a container's lock in .daos/locks/,
 * journals, registrations, slots, tokens). A child made by fork() shares the
 * parent's open file descriptions, so a copy of a descriptor kept by the
 * child keeps the lock held after the parent lets it go: the child's own
 * open of that container then waits for it forever, and so do the parent's
 * other users of the container while the child lives.
 *
 * BUSY_THREADS threads loop on one container: open, query, commit (HCE + 1),
 * close. Meanwhile the main thread forks FORK_ROUNDS children (default 150)
 * one after the other; each child opens the container, commits, closes, opens
 * it read-only, closes, and exits 0 — bounded by a 30 s watchdog (exit 99:
 * stuck). Every child must exit 0, and every busy thread must still make
 * progress after the last child.
 *
 * c-tests: no-asan — built with UBSan only: this gcc's AddressSanitizer does
 * not lock its allocator across fork(), so its children hang in malloc
 * whatever the library does (glibc's malloc is fork-safe). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

#define BUSY_THREADS 3
#define CHILD_LIMIT_S 30

static char root[128], co[160];
static atomic_long rounds[BUSY_THREADS];
static atomic_int stop;
static atomic_long busy_errors;

/* one metadata round on the container; 0 or the first error */
static int meta_round(unsigned mode)
{
    daos_handle_t coh;
    daos_container_status_t st;
    int rc = daos_container_open(co, mode, 1, &st, &coh, NULL);
    if (rc != 0) return rc;
    struct daos_epoch_info info;
    rc = daos_epoch_query(coh, &info, NULL);
    if (rc == 0 && mode == DAOS_COO_RW) rc = daos_epoch_commit(coh, h_ep(info.epi_hce.seq + 1), false, NULL, NULL);
    int rc2 = daos_container_close(coh, NULL);
    return rc != 0 ? rc : rc2;
}

static void *busy(void *arg)
{
    long i = (long)arg;
    while (!atomic_load(&stop)) {
        int rc = meta_round(i == 0 ? DAOS_COO_RO : DAOS_COO_RW);
        if (rc != 0) {
            if (atomic_fetch_add(&busy_errors, 1) < 5)
                fprintf(stderr, "busy thread %ld: %d (%s)\n", i, rc, strerror(-rc));
        }
        atomic_fetch_add(&rounds[i], 1);
    }
    return NULL;
}

static void child_stuck(int sig)
{
    (void)sig;
    _exit(99);
}

static int child(void)
{
    signal(SIGALRM, child_stuck);
    alarm(CHILD_LIMIT_S);
    if (meta_round(DAOS_COO_RW) != 0) return 1;
    if (meta_round(DAOS_COO_RO) != 0) return 2;
    return 0;
}

/* Waits for `pid` at most `limit_s` seconds (then kills it): its exit
 * status, 98 if it had to be killed, -2 if it did not exit normally. */
static int reap_within(pid_t pid, int limit_s)
{
    int ws = 0;
    int64_t end = now_us() + (int64_t)limit_s * 1000000 + 5000000;
    for (;;) {
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid) break;
        if (r < 0) return -2;
        if (now_us() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &ws, 0);
            return 98;
        }
        sleep_us(1000);
    }
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -2;
}

static void test_fork_during_metadata_calls(void)
{
    if (h_new_store(root, sizeof(root), "forklock", 1) != 0) return;
    snprintf(co, sizeof(co), "%s/c", root);
    daos_handle_t coh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(co, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned t = 0;
    int sid = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &t, &sid, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);

    int nforks = getenv("FORK_ROUNDS") ? atoi(getenv("FORK_ROUNDS")) : 150;
    pthread_t th[BUSY_THREADS];
    for (long i = 0; i < BUSY_THREADS; i++) pthread_create(&th[i], NULL, busy, (void *)i);
    /* let them get going */
    while (atomic_load(&rounds[BUSY_THREADS - 1]) < 2) sleep_us(1000);

    int stuck = 0, failed = 0;
    for (int k = 0; k < nforks; k++) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) _exit(child());
        if (pid < 0) {
            H_FAIL_("fork: %s", strerror(errno));
            break;
        }
        int s = reap_within(pid, CHILD_LIMIT_S);
        if (s == 99 || s == 98) {
            if (stuck++ < 5) fprintf(stderr, "child %d of %d did not finish its open/commit/close within %d s\n", k, nforks, CHILD_LIMIT_S);
        } else if (s != 0) {
            if (failed++ < 5) fprintf(stderr, "child %d of %d exited with %d\n", k, nforks, s);
        }
        sleep_us(200 + (k % 7) * 300);
    }
    CHECK_EQ(stuck, 0);
    CHECK_EQ(failed, 0);

    /* the parent's threads still go */
    long seen[BUSY_THREADS];
    for (int i = 0; i < BUSY_THREADS; i++) seen[i] = atomic_load(&rounds[i]);
    int64_t end = now_us() + 30 * 1000000LL;
    bool all = false;
    while (!all && now_us() < end) {
        all = true;
        for (int i = 0; i < BUSY_THREADS; i++) all &= atomic_load(&rounds[i]) >= seen[i] + 2;
        if (!all) sleep_us(1000);
    }
    CHECK(all);
    atomic_store(&stop, 1);
    for (int i = 0; i < BUSY_THREADS; i++) pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&busy_errors), 0);
    printf("   %d forks; busy threads made %ld, %ld, %ld rounds\n", nforks, atomic_load(&rounds[0]),
           atomic_load(&rounds[1]), atomic_load(&rounds[2]));
    h_rmrf(root);
}

int main(void)
{
    RUN(test_fork_during_metadata_calls);
    return harness_summary();
}
