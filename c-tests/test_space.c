/* Space (issue 11, defect 8): what a container costs on disk and in files.
 *
 *   slipping_writer_space    one long-lived writer overwrites 1 MiB of one of
 *                            4 objects per epoch, commits and slips to HCE:
 *                            the space the store holds (files, plus files
 *                            removed but still open in this process) stays
 *                            under 2 x live data + a fixed bound (24 MiB).
 *                            Before: every byte ever written stayed
 *                            (its segment was never sealed, so never
 *                            compacted). SPACE_EPOCHS (default 120).
 *   sessions_stay_few_files  SPACE_SESSIONS (default 500; the count
 *                            is 5000) sessions of open, write 4 KiB, commit,
 *                            close, never slipping: the shard keeps few
 *                            segment files (<= 20; the mean open time is
 *                            printed, not checked: no timing assertion),
 *                            every epoch and a snapshot read right, and no
 *                            removed file is held open. Before: two files
 *                            per session.
 *   kill_during_merge        a victim process (this program, --victim) runs
 *                            such sessions and is SIGKILLed 5-150 ms in, for
 *                            SPACE_KILL_ROUNDS rounds (default 8): every
 *                            epoch reads right after each kill, HCE is the
 *                            last commit reported or the one under way, and
 *                            this process, which keeps the container open
 *                            throughout, holds no file the merges removed;
 *                            the segments were merged meanwhile, and what
 *                            the killed merges left is swept (at most 20
 *                            segment files after a last session). Before:
 *                            two files per session. SPACE_SEED repeats the
 *                            delays.
 * The measured figures are printed. */
#define _GNU_SOURCE
#include <dirent.h>
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

#define MIB (1024 * 1024)
#define SLOTS 16
#define SLOT 4096

static uint64_t env_u(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v && strtoull(v, NULL, 0) > 0 ? strtoull(v, NULL, 0) : dflt;
}

/* ---- measuring ---- */

static uint64_t m_bytes, m_segfiles, m_files;
static int m_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F) return 0;
    m_bytes += (uint64_t)sb->st_blocks * 512;
    m_files++;
    size_t n = strlen(p);
    if (n > 4 && (strcmp(p + n - 4, ".dat") == 0 || strcmp(p + n - 4, ".jnl") == 0)) m_segfiles++;
    return 0;
}

/* Bytes held by files under `root` removed but still open in this process;
 * their count. */
static uint64_t deleted_open(const char *root, unsigned *count)
{
    uint64_t b = 0;
    *count = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char p[300], l[4096];
        snprintf(p, sizeof p, "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(p, l, sizeof l - 1);
        if (n <= 0) continue;
        l[n] = 0;
        if (strncmp(l, root, strlen(root)) != 0 || strstr(l, " (deleted)") == NULL) continue;
        struct stat st;
        if (stat(p, &st) == 0) b += (uint64_t)st.st_blocks * 512;
        if ((*count)++ < 3) fprintf(stderr, "   open but removed: %s\n", l);
    }
    closedir(d);
    return b;
}

/* The shard directories of the first container made in the store at `root`
 * (a snapshot's hard links are not counted with them). */
static char main_dir[700];
static void find_main_dir(const char *root)
{
    char t[400];
    snprintf(t, sizeof t, "%s/.daos/targets/0", root);
    main_dir[0] = 0;
    DIR *d = opendir(t);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "c-", 2) == 0) snprintf(main_dir, sizeof main_dir, "%s/%s", t, de->d_name);
    closedir(d);
}

static void measure(const char *root)
{
    m_bytes = m_segfiles = m_files = 0;
    nftw(root, m_one, 16, FTW_PHYS);
}

static void pattern(uint8_t *b, size_t n, uint64_t e, uint64_t k)
{
    uint64_t x = e * 0x9E3779B97F4A7C15ull ^ (k + 1) * 0xBF58476D1CE4E5B9ull;
    for (size_t i = 0; i < n; i += 8) {
        x ^= x >> 31;
        x *= 0x94D049BB133111EBull;
        memcpy(b + i, &x, n - i < 8 ? n - i : 8);
    }
}

/* ---- a long-lived writer that slips ---- */

static void slipping_writer_space(void)
{
    char root[256], path[320];
    if (h_new_store(root, sizeof root, "space", 1) != 0) { CHECK(0); return; }
    snprintf(path, sizeof path, "%s/c", root);
    daos_handle_t coh, oh[4];
    daos_container_status_t st;
    CHECK_RC(daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL), 0);
    int sh = -1;
    unsigned tg = 0;
    CHECK_RC(daos_shard_add(coh, h_ep(1), 1, &tg, &sh, NULL), 0);
    for (int i = 0; i < 4; i++) CHECK_RC(daos_object_open(coh, h_oid((uint64_t)sh, 1 + i), DAOS_OBJ_RW, &oh[i], NULL), 0);
    uint64_t epochs = env_u("SPACE_EPOCHS", 120);
    uint8_t *buf = malloc(MIB), *got = malloc(MIB);
    const uint64_t live = 4 * MIB, bound = 2 * live + 24 * MIB;
    int64_t t0 = now_us();
    for (uint64_t e = 1; e <= epochs; e++) {
        pattern(buf, MIB, e, 0);
        int rc = h_write(oh[e % 4], e, 0, buf, MIB);
        if (rc == 0) rc = daos_epoch_commit(coh, h_ep(e), false, NULL, NULL);
        if (rc == 0) rc = daos_epoch_slip(coh, H_HIGHEST, NULL);
        if (rc != 0) { CHECK_RC(rc, 0); break; }
    }
    int64_t t1 = now_us();
    /* background compaction: give it up to 5 s to get under the bound */
    uint64_t held = 0;
    unsigned ndel = 0;
    for (int i = 0; i < 250; i++) {
        measure(root);
        held = m_bytes + deleted_open(root, &ndel);
        if (held <= bound) break;
        sleep_us(20000);
    }
    printf("   %" PRIu64 " epochs of 1 MiB overwrites (%.1f s), slip after each: %.1f MiB held on disk "
           "(%u removed files still open), %.0f MiB live, bound %.0f MiB\n",
           epochs, (double)(t1 - t0) / 1e6, (double)held / MIB, ndel, (double)live / MIB, (double)bound / MIB);
    CHECK(held <= bound);
    /* the data is right */
    for (int i = 0; i < 4; i++) {
        uint64_t last = epochs - ((epochs - (uint64_t)i) % 4 + 4) % 4;
        if (last == 0 || last > epochs) continue;
        pattern(buf, MIB, last, 0);
        CHECK_RC(h_read(oh[i], epochs, 0, got, MIB), 0);
        CHECK(memcmp(buf, got, MIB) == 0);
    }
    for (int i = 0; i < 4; i++) CHECK_RC(daos_object_close(oh[i], NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    measure(root);
    printf("   after close: %.1f MiB in %" PRIu64 " segment files\n", (double)m_bytes / MIB, m_segfiles);
    CHECK(m_bytes <= bound);
    free(buf);
    free(got);
    h_rmrf(root);
}

/* ---- sessions without slips ---- */

/* Checks every epoch 1..hce of slot data written by sessions: epoch e wrote
 * slot e % SLOTS with pattern(e); returns the number of epochs wrong. */
static unsigned check_epochs(daos_handle_t coh, int sh, uint64_t hce)
{
    daos_handle_t oh;
    if (daos_object_open(coh, h_oid((uint64_t)sh, 1), DAOS_OBJ_RO, &oh, NULL) != 0) return 1;
    static uint8_t want[SLOTS * SLOT], got[SLOTS * SLOT];
    memset(want, 0, sizeof want);
    unsigned bad = 0;
    for (uint64_t e = 1; e <= hce; e++) {
        pattern(want + (e % SLOTS) * SLOT, SLOT, e, 1);
        int rc = h_read(oh, e, 0, got, sizeof got);
        if (rc != 0 || memcmp(want, got, sizeof got) != 0) {
            if (bad++ < 3) fprintf(stderr, "epoch %" PRIu64 " of %" PRIu64 " reads wrong (rc %d)\n", e, hce, rc);
        }
    }
    daos_object_close(oh, NULL);
    return bad;
}

/* One session: open, write epoch HCE+1 (first: the epoch the shard was
 * added at, 1), commit, close. Returns the epoch committed or -errno. */
static int64_t session(const char *path, int sh)
{
    daos_handle_t coh, oh;
    daos_container_status_t st;
    struct daos_epoch_info info;
    int rc = daos_container_open(path, DAOS_COO_RW, 1, &st, &coh, NULL);
    if (rc) return rc;
    rc = daos_epoch_query(coh, &info, NULL);
    uint64_t e = info.epi_hce.seq + 1;
    if (rc == 0) rc = daos_object_open(coh, h_oid((uint64_t)sh, 1), DAOS_OBJ_RW, &oh, NULL);
    if (rc == 0) {
        uint8_t b[SLOT];
        pattern(b, SLOT, e, 1);
        rc = h_write(oh, e, (e % SLOTS) * SLOT, b, SLOT);
        daos_object_close(oh, NULL);
    }
    if (rc == 0) rc = daos_epoch_commit(coh, h_ep(e), false, NULL, NULL);
    int rc2 = daos_container_close(coh, NULL);
    if (rc == 0) rc = rc2;
    return rc ? rc : (int64_t)e;
}

static int new_container(char *root, size_t n, char *path, size_t pn)
{
    if (h_new_store(root, n, "space", 1) != 0) return -1;
    snprintf(path, pn, "%s/c", root);
    daos_handle_t coh;
    daos_container_status_t st;
    int rc = daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &st, &coh, NULL);
    if (rc) return -1;
    int sh = -1;
    unsigned tg = 0;
    rc = daos_shard_add(coh, h_ep(1), 1, &tg, &sh, NULL);
    daos_container_close(coh, NULL);
    return rc ? -1 : sh;
}

static void sessions_stay_few_files(void)
{
    char root[256], path[320], snap[330];
    int sh = new_container(root, sizeof root, path, sizeof path);
    if (sh < 0) { CHECK(0); return; }
    snprintf(snap, sizeof snap, "%s/snap", root);
    uint64_t n = env_u("SPACE_SESSIONS", 500), snap_at = 0;
    int64_t t0 = now_us();
    for (uint64_t i = 0; i < n; i++) {
        int64_t e = session(path, sh);
        if (e < 0) { CHECK_RC(e, 0); break; }
        if (i == 0) find_main_dir(root);
        if (i == n / 2) {
            daos_handle_t coh;
            daos_container_status_t st;
            CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
            CHECK_RC(daos_container_snapshot(coh, h_ep((uint64_t)e), snap, NULL), 0);
            daos_container_close(coh, NULL);
            snap_at = (uint64_t)e;
        }
    }
    int64_t t1 = now_us();
    measure(root);
    uint64_t all_files = m_files;
    measure(main_dir);
    /* open time: the mean of 20 opens */
    daos_handle_t coh;
    daos_container_status_t st;
    int64_t t2 = now_us();
    for (int i = 0; i < 20; i++) {
        CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
        daos_container_close(coh, NULL);
    }
    double open_ms = (double)(now_us() - t2) / 20 / 1000;
    printf("   %" PRIu64 " sessions (%.1f s): %" PRIu64 " segment files (%" PRIu64 " files in the store), "
           "%.1f MiB, open %.2f ms\n",
           n, (double)(t1 - t0) / 1e6, m_segfiles, all_files, (double)m_bytes / MIB, open_ms);
    CHECK(m_segfiles <= 20);
    struct daos_epoch_info info;
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_RC(daos_epoch_query(coh, &info, NULL), 0);
    CHECK_EQ(info.epi_hce.seq, n);
    CHECK_EQ(check_epochs(coh, sh, info.epi_hce.seq), 0);
    unsigned ndel;
    deleted_open(root, &ndel);
    CHECK_EQ(ndel, 0);
    daos_container_close(coh, NULL);
    CHECK_RC(daos_container_open(snap, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
    CHECK_EQ(check_epochs(coh, sh, snap_at), 0);
    daos_container_close(coh, NULL);
    h_rmrf(root);
}

/* ---- kills during merges ---- */

static int victim(const char *path, int sh, int fd)
{
    uint64_t one = 0;
    if (write(fd, &one, sizeof one) != sizeof one) _exit(3);
    for (;;) {
        int64_t e = session(path, sh);
        uint64_t r = e < 0 ? (uint64_t)(1ull << 63) | (uint64_t)-e : (uint64_t)e;
        if (write(fd, &r, sizeof r) != sizeof r) _exit(3);
        if (e < 0) _exit(4);
    }
}

static char self_exe[4096];

static void kill_during_merge(void)
{
    char root[256], path[320];
    int sh = new_container(root, sizeof root, path, sizeof path);
    if (sh < 0) { CHECK(0); return; }
    unsigned rounds = (unsigned)env_u("SPACE_KILL_ROUNDS", 8);
    uint64_t seed = env_u("SPACE_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20));
    printf("   %u rounds, SPACE_SEED=%" PRIu64 "\n", rounds, seed);
    uint64_t last = 0, rng = seed;
    /* this process keeps the container open throughout: the files the
     * victims' merges replace must be closed here too once it sees them go */
    daos_handle_t keep;
    daos_container_status_t kst;
    CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &kst, &keep, NULL), 0);
    for (unsigned r = 0; r < rounds; r++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned delay_ms = 5 + (unsigned)((rng >> 33) % 146);
        int p[2];
        if (pipe(p) != 0) { CHECK(0); return; }
        char a_sh[16], a_fd[16];
        snprintf(a_sh, sizeof a_sh, "%d", sh);
        snprintf(a_fd, sizeof a_fd, "%d", p[1]);
        char *argv[] = { self_exe, (char *)"--victim", path, a_sh, a_fd, NULL };
        pid_t pid = h_exec_peer(argv, p[0]);
        close(p[1]);
        uint64_t v;
        struct pollfd pf = { p[0], POLLIN, 0 };
        if (poll(&pf, 1, 30000) == 1 && read(p[0], &v, sizeof v) == sizeof v) sleep_us((int64_t)delay_ms * 1000);
        kill(pid, SIGKILL);
        int ws = 0;
        waitpid(pid, &ws, 0);
        CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
        unsigned nc = 0;
        while (read(p[0], &v, sizeof v) == sizeof v) {
            if (v >> 63) { fprintf(stderr, "the victim failed: %s\n", strerror((int)(v & 0xffff))); CHECK(0); continue; }
            CHECK(v == last + 1);
            last = v;
            nc++;
        }
        close(p[0]);
        daos_handle_t coh;
        daos_container_status_t st;
        struct daos_epoch_info info;
        CHECK_RC(daos_container_open(path, DAOS_COO_RO, 1, &st, &coh, NULL), 0);
        CHECK_EQ(st, DAOS_CONTAINER_ST_OK);
        CHECK_RC(daos_epoch_query(coh, &info, NULL), 0);
        uint64_t hce = info.epi_hce.seq;
        CHECK(hce == last || hce == last + 1);
        last = hce;
        unsigned bad = check_epochs(coh, sh, hce);
        CHECK_EQ(bad, 0);
        daos_container_close(coh, NULL);
        unsigned ndel;
        deleted_open(root, &ndel);
        CHECK_EQ(ndel, 0);
        find_main_dir(root);
        measure(main_dir);
        printf("   round %u: killed after %u ms, %u commits, HCE %" PRIu64 ", %" PRIu64 " segment files\n", r, delay_ms, nc,
               hce, m_segfiles);
        if (bad) { printf("   SPACE_SEED=%" PRIu64 ", store kept: %s\n", seed, root); return; }
    }
    CHECK_RC(daos_container_close(keep, NULL), 0);
    /* a last session (no kill) merges what the kills left */
    CHECK(session(path, sh) > 0);
    find_main_dir(root);
    measure(main_dir);
    printf("   after a last session: %" PRIu64 " segment files for %" PRIu64 " sessions\n", m_segfiles, last);
    /* a kill may leave the files of the merge under way (a new segment not
     * published yet, or old ones not removed yet), which are not in the
     * metadata: the last session's open finds the victims' registrations dead
     * and sweeps them (container/litter.rs), so the bound is the one without
     * kills */
    CHECK(m_segfiles <= 20);
    h_rmrf(root);
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--victim") == 0)
        return victim(argv[2], atoi(argv[3]), atoi(argv[4]));
    ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (sl <= 0) { perror("readlink"); printf("0 passed, 1 failed\n"); return 1; }
    self_exe[sl] = 0;
    RUN(slipping_writer_space);
    RUN(sessions_stay_few_files);
    RUN(kill_during_merge);
    return harness_summary();
}
