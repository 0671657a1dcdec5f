/* A child made by fork() (without exec) of a process that has the container
 * open commits an epoch just after the parent slipped its read reference to
 * HCE (which starts aggregation and compaction on a thread of the parent):
 * the parent must see that commit (found by c-tests/test_model.c with
 * MODEL_CHILD_COMMIT=1). It used not to, in about 1 round of 50: HCE moved
 * to the child's epoch but its data never showed in the parent, not even
 * through a new handle (the data was on disk: a fresh process read it). A
 * thread of the parent that made a newer version of the container file its
 * current metadata (a metadata update, which reads the file under the lock
 * and so takes in the child's commit; or a refresh) made the shards' committed
 * epochs follow only after letting go of the metadata, or not at all: a
 * refresh on another thread in between found that version no newer than its
 * own, replayed the child's records into the index, and left them hidden by
 * the shard's old committed epoch; two threads following two versions could
 * also set it from the older one last. Now whoever makes a version current
 * makes the shards follow it before letting go (CState::follow).
 *
 * Each round: this process writes 4 KiB of value A at HCE + 1, commits it,
 * slips to DAOS_EPOCH_HIGHEST; the child opens the container, writes 1000
 * bytes of value B at offset 1000 in the next epoch, commits it, reports, and
 * is killed. This process queries (HCE must be the child's epoch) and reads:
 * bytes [1000, 2000) must be B. ROUNDS=n (default 100); CLEAN_EXIT=1: the
 * child closes and exits instead of being killed; EXEC=1: the child exec()s
 * this program first (a fresh process).
 *
 * c-tests: no-asan — built with UBSan only: this gcc's AddressSanitizer does
 * not lock its allocator across fork(), and the parent starts its
 * aggregation thread at each slip, so a child forked meanwhile could hang in
 * malloc (it was then killed by its alarm, about 1 round in 100). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "daos_rs.h"
#include "harness.h"

static char root[256], path[320];

static int child(int out, int shard, uint64_t e, int value)
{
    daos_handle_t c, o;
    daos_container_status_t st;
    static uint8_t b[1000];
    memset(b, value, sizeof b);
    char x = 'E';
    if (daos_container_open(path, DAOS_COO_RW, 1, &st, &c, NULL) == 0 &&
        daos_object_open(c, h_oid((uint64_t)shard, 5), DAOS_OBJ_RW, &o, NULL) == 0 &&
        h_write(o, e, 1000, b, sizeof b) == 0 &&
        daos_epoch_commit(c, h_ep(e), false, NULL, NULL) == 0)
        x = 'D';
    if (getenv("CLEAN_EXIT")) daos_container_close(c, NULL);
    if (write(out, &x, 1) != 1) return 1;
    if (getenv("CLEAN_EXIT")) return 0;
    for (;;) pause();
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--child") == 0) {
        snprintf(path, sizeof path, "%s", argv[2]);
        return child(atoi(argv[3]), atoi(argv[4]), strtoull(argv[5], NULL, 10) >> 8,
                     (int)(strtoull(argv[5], NULL, 10) & 255));
    }
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) return 2;
    self[sl] = 0;
    int rounds = getenv("ROUNDS") ? atoi(getenv("ROUNDS")) : 100, lost = 0;
    if (h_new_store(root, sizeof root, "afterslip", 1) != 0) return 2;
    snprintf(path, sizeof path, "%s/c", root);
    daos_handle_t coh, oh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    unsigned tg = 0;
    int sh = -1;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &tg, &sh, NULL), 0);
    CHECK_RC(daos_object_open(coh, h_oid((uint64_t)sh, 5), DAOS_OBJ_RW, &oh, NULL), 0);
    uint64_t hce = 0;
    for (int r = 0; r < rounds; r++) {
        static uint8_t a[4096], rb[4096];
        int va = 0x10 + r % 64, vb = 0xc0 + r % 32;
        memset(a, va, sizeof a);
        CHECK_RC(h_write(oh, hce + 1, 0, a, sizeof a), 0);
        CHECK_RC(daos_epoch_commit(coh, h_ep(hce + 1), false, NULL, NULL), 0);
        hce++;
        CHECK_RC(daos_epoch_slip(coh, H_HIGHEST, NULL), 0);
        int p[2];
        if (pipe(p) != 0) return 2;
        char a_out[16], a_sh[16], a_ev[32];
        snprintf(a_out, sizeof a_out, "%d", p[1]);
        snprintf(a_sh, sizeof a_sh, "%d", sh);
        snprintf(a_ev, sizeof a_ev, "%llu", (unsigned long long)(((hce + 1) << 8) | (uint64_t)vb));
        char *args[] = { self, (char *)"--child", path, a_out, a_sh, a_ev, NULL };
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            if (getenv("EXEC")) {
                execv(self, args);
                _exit(98);
            }
            alarm(30); /* a forked child of a threaded process: never left hanging */
            _exit(child(p[1], sh, hce + 1, vb));
        }
        close(p[1]);
        char x = 0;
        if (read(p[0], &x, 1) != 1) x = '?';
        close(p[0]);
        if (!getenv("CLEAN_EXIT")) kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        CHECK_EQ(x, 'D');
        hce++;
        struct daos_epoch_info ei;
        CHECK_RC(daos_epoch_query(coh, &ei, NULL), 0);
        CHECK_EQ(ei.epi_hce.seq, hce);
        CHECK_RC(h_read(oh, (uint64_t)DAOS_EPOCH_HIGHEST, 0, rb, sizeof rb), 0);
        if (rb[1000] == vb && rb[1999] == vb && rb[999] == va && rb[2000] == va) {
            CHECK(1);
            continue;
        }
        lost++;
        daos_handle_t c3, o3;
        uint8_t fresh = 0;
        if (daos_container_open(path, DAOS_COO_RO, 1, &st, &c3, NULL) == 0) {
            if (daos_object_open(c3, h_oid((uint64_t)sh, 5), DAOS_OBJ_RO, &o3, NULL) == 0 &&
                h_read(o3, (uint64_t)DAOS_EPOCH_HIGHEST, 0, rb, sizeof rb) == 0)
                fresh = rb[1000];
            daos_container_close(c3, NULL);
        }
        H_FAIL_("round %d: HCE %llu, the other process's commit of epoch %llu returned 0, but "
                "byte 1000 reads %#x (its write was %#x; this process's of epoch %llu was %#x); "
                "a new handle reads %#x", r, (unsigned long long)ei.epi_hce.seq,
                (unsigned long long)hce, rb[1000], vb, (unsigned long long)hce - 1, va, fresh);
    }
    daos_object_close(oh, NULL);
    daos_container_close(coh, NULL);
    h_rmrf(root);
    printf("%d of %d rounds lost the other process's commit\n", lost, rounds);
    return harness_summary();
}
