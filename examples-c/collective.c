/* collective.c: one container written by several processes, committed once.
 *
 *   collective [STORE] [NPEERS]
 *
 * A collective open shares one container handle among a group of processes,
 * as the ranks of an MPI job would:
 *
 *   master                                   each peer
 *   ------                                   ---------
 *   daos_container_open(nprocess = N + 1)
 *   daos_local2global -> buffer   ------->   daos_global2local(buffer) -> handle
 *   (here a pipe; MPI_Bcast in MPI)          write its objects in epoch e
 *                                            daos_container_flush(e)
 *                                 <-------   "flushed" (here a pipe; MPI_Barrier)
 *   daos_epoch_commit(e)                     daos_container_close
 *
 * Only the master commits (a peer's daos_epoch_commit gives -EPERM): its one
 * commit publishes everything the peers flushed, all at once. Epoch e is
 * HCE + 1, which every process computes from its own handle (the buffer
 * carries the HCE, so a peer knows it without reading the container).
 *
 * The peers here are fork()ed children, started before this process makes
 * any daos_* call; they could as well be other programs, or processes on
 * other nodes sharing the store (see the README: a store on a shared file
 * system). STORE is a directory, made into a store with two targets if it
 * holds none; without it a temporary store is made and removed at the end.
 * NPEERS defaults to 4. Exit status 0 when every peer's data was read back
 * intact after the commit.
 *
 * Build:  gcc -std=c11 -Iinclude examples-c/collective.c -Ltarget/debug \
 *             -Wl,-rpath,$PWD/target/debug -ldaos_rs -o collective
 */
#define _GNU_SOURCE /* mkdtemp, nftw */
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"

#define TRY(call)                                                          \
    do {                                                                   \
        int rc_ = (call);                                                  \
        if (rc_ < 0) {                                                     \
            fprintf(stderr, "%s failed: %d (%s)\n", #call, rc_, strerror(-rc_)); \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

#define MAX_PEERS 16
#define NSHARDS 2
#define OBJ_SIZE (1u << 20) /* each peer writes one 1 MiB object */

/* Peer `rank` writes object (shard rank % NSHARDS, rank + 100). */
static daos_obj_id_t peer_oid(int rank)
{
    return (daos_obj_id_t){ .o_id_hi = (uint64_t)(rank % NSHARDS), .o_id_lo = (uint64_t)rank + 100 };
}

/* The byte at `off` of peer `rank`'s object: easy to recompute. */
static unsigned char content(int rank, size_t off)
{
    return (unsigned char)(off * 7 + off / 509 + (size_t)rank * 41 + 3);
}

/* One-fragment descriptors for [0, OBJ_SIZE) <-> buf. */
struct one_mmd { unsigned long n; daos_mm_frag f[1]; };
struct one_iod { unsigned long n; daos_io_frag f[1]; };

/* A full read() or write() on a pipe (they may be short). */
static bool xfer(int fd, void *buf, size_t n, bool out)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = out ? write(fd, (char *)buf + done, n - done) : read(fd, (char *)buf + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        done += (size_t)r;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* A peer: gets the global handle, writes, flushes, closes, reports. */

static int peer(int rank, int from_master, int to_master)
{
    /* 1. the master's buffer: its size, then the bytes (MPI: MPI_Bcast) */
    uint32_t size;
    if (!xfer(from_master, &size, sizeof size, false)) return 1; /* the master gave up */
    unsigned char *global = malloc(size);
    if (global == NULL || !xfer(from_master, global, size, false)) return 1;

    /* 2. a handle of our own; the buffer holds everything needed (path,
     *    layout, HCE, a token), so no container metadata is read */
    daos_handle_t coh = { 0 };
    TRY(daos_global2local(global, size, &coh, NULL));
    free(global);
    daos_epoch_info info;
    TRY(daos_epoch_query(coh, &info, NULL));
    daos_epoch_t e = { info.epi_hce.seq + 1 };

    /* 3. write our object in epoch e; others do not see it yet */
    unsigned char *buf = malloc(OBJ_SIZE);
    if (buf == NULL) return 1;
    for (size_t i = 0; i < OBJ_SIZE; i++) buf[i] = content(rank, i);
    daos_handle_t oh;
    TRY(daos_object_open(coh, peer_oid(rank), DAOS_OBJ_RW, &oh, NULL));
    struct one_mmd mmd = { 1, { { buf, OBJ_SIZE } } };
    struct one_iod iod = { 1, { { 0, OBJ_SIZE } } };
    TRY(daos_object_write(oh, e, (daos_mmd *)&mmd, (daos_iod *)&iod, NULL));
    TRY(daos_object_close(oh, NULL));

    /* 4. make it durable: the master's commit publishes what peers flushed */
    TRY(daos_container_flush(coh, e, NULL));
    printf("peer %d (pid %d): wrote 1 MiB to object (%llu, %llu) in epoch %llu, flushed\n", rank,
           (int)getpid(), (unsigned long long)peer_oid(rank).o_id_hi,
           (unsigned long long)peer_oid(rank).o_id_lo, (unsigned long long)e.seq);
    fflush(stdout);

    /* a peer may not commit: that is the master's job */
    unsigned failed;
    int rc = daos_epoch_commit(coh, e, false, &failed, NULL);
    if (rc != -EPERM) fprintf(stderr, "peer %d: commit gave %d, expected -EPERM\n", rank, rc);

    /* 5. leave, then tell the master (MPI: MPI_Barrier) */
    TRY(daos_container_close(coh, NULL));
    free(buf);
    char done = 'F';
    return xfer(to_master, &done, 1, true) && rc == -EPERM ? 0 : 1;
}

/* ------------------------------------------------------------------ */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

int main(int argc, char **argv)
{
    const char *store = argc > 1 ? argv[1] : NULL;
    int npeers = argc > 2 ? atoi(argv[2]) : 4;
    if (npeers < 1 || npeers > MAX_PEERS || argc > 3) {
        fprintf(stderr, "usage: %s [STORE] [NPEERS (1..%d)]\n", argv[0], MAX_PEERS);
        return 2;
    }

    /* ---- start the peers first: each waits for the global handle ---- */
    int to_peer[MAX_PEERS], from_peer[MAX_PEERS];
    pid_t pids[MAX_PEERS];
    fflush(stdout);
    for (int r = 0; r < npeers; r++) {
        int down[2], up[2];
        if (pipe(down) != 0 || pipe(up) != 0) { perror("pipe"); return 1; }
        pids[r] = fork();
        if (pids[r] < 0) { perror("fork"); return 1; }
        if (pids[r] == 0) {
            close(down[1]);
            close(up[0]);
            for (int k = 0; k < r; k++) { close(to_peer[k]); close(from_peer[k]); }
            exit(peer(r, down[0], up[1]));
        }
        close(down[0]);
        close(up[1]);
        to_peer[r] = down[1];
        from_peer[r] = up[0];
    }

    /* ---- the store and a container with two shards ---- */
    char tmp[256], path[4200];
    bool temporary = store == NULL;
    if (temporary) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/collective-XXXXXX", dir && *dir ? dir : "/tmp");
        if (mkdtemp(tmp) == NULL) { perror("mkdtemp"); return 1; }
        store = tmp;
    } else {
        mkdir(store, 0777); /* fine if it exists */
    }
    char dotdaos[4096];
    struct stat sb;
    snprintf(dotdaos, sizeof dotdaos, "%s/.daos", store);
    if (stat(dotdaos, &sb) != 0) {
        int rc = daos_sys_format(store, 2, NULL, DAOS_SYS_FORMAT_NO_PROBE);
        if (rc != -EEXIST) TRY(rc);
    }
    snprintf(path, sizeof path, "%s/collective.%ld.co", store, (long)getpid());
    daos_container_status_t status;
    daos_handle_t coh;
    TRY(daos_container_open(path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &status, &coh, NULL));
    unsigned targets[NSHARDS] = { 0, 1 };
    int shards[NSHARDS] = { 0, 1 };
    TRY(daos_shard_add(coh, (daos_epoch_t){ 1 }, NSHARDS, targets, shards, NULL));
    TRY(daos_epoch_commit(coh, (daos_epoch_t){ 1 }, false, NULL, NULL));
    TRY(daos_container_close(coh, NULL));

    /* ---- 1. the collective open: this process and npeers others ---- */
    TRY(daos_container_open(path, DAOS_COO_RW, (unsigned)npeers + 1, &status, &coh, NULL));
    daos_epoch_info info;
    TRY(daos_epoch_query(coh, &info, NULL));
    daos_epoch_t e = { info.epi_hce.seq + 1 };
    printf("master: opened %s for %d processes; HCE %llu, the peers write epoch %llu\n", path,
           npeers + 1, (unsigned long long)info.epi_hce.seq, (unsigned long long)e.seq);

    /* ---- 2. the global handle: ask its size, then fill it ---- */
    unsigned size = 0;
    TRY(daos_local2global(coh, NULL, &size));
    unsigned char *global = malloc(size);
    if (global == NULL) { perror("malloc"); return 1; }
    TRY(daos_local2global(coh, global, &size));
    uint32_t size32 = size;
    for (int r = 0; r < npeers; r++) /* MPI: MPI_Bcast(global, size, MPI_BYTE, 0, comm) */
        if (!xfer(to_peer[r], &size32, sizeof size32, true) || !xfer(to_peer[r], global, size, true)) {
            fprintf(stderr, "master: peer %d is gone\n", r);
            return 1;
        }
    printf("master: handed a %u-byte global handle to %d peers\n", size, npeers);
    fflush(stdout);
    free(global);

    /* ---- 3. wait for every peer's "flushed" (bounded: a peer may die) ---- */
    for (int r = 0; r < npeers; r++) {
        struct pollfd pf = { from_peer[r], POLLIN, 0 };
        char done = 0;
        if (poll(&pf, 1, 60 * 1000) != 1 || !xfer(from_peer[r], &done, 1, false) || done != 'F') {
            fprintf(stderr, "master: peer %d did not report its flush\n", r);
            return 1;
        }
    }

    /* ---- 4. one commit for everyone ---- */
    unsigned failed = 0;
    TRY(daos_epoch_commit(coh, e, false, &failed, NULL));
    printf("master: every peer flushed; committed epoch %llu\n", (unsigned long long)e.seq);

    /* ---- 5. verify: every peer's object, every byte ---- */
    int bad = 0;
    unsigned char *buf = malloc(OBJ_SIZE);
    if (buf == NULL) { perror("malloc"); return 1; }
    for (int r = 0; r < npeers; r++) {
        daos_handle_t oh;
        TRY(daos_object_open(coh, peer_oid(r), DAOS_OBJ_RO, &oh, NULL));
        struct one_mmd mmd = { 1, { { buf, OBJ_SIZE } } };
        struct one_iod iod = { 1, { { 0, OBJ_SIZE } } };
        memset(buf, 0, OBJ_SIZE);
        TRY(daos_object_read(oh, e, (daos_mmd *)&mmd, (daos_iod *)&iod, NULL));
        TRY(daos_object_close(oh, NULL));
        size_t wrong = 0;
        for (size_t i = 0; i < OBJ_SIZE; i++) wrong += buf[i] != content(r, i);
        printf("master: peer %d's object: %s\n", r, wrong ? "WRONG" : "intact");
        bad += wrong != 0;
    }
    free(buf);
    TRY(daos_container_close(coh, NULL)); /* also revokes the global handle */

    /* ---- the peers' exit status, then clean up ---- */
    for (int r = 0; r < npeers; r++) {
        int ws = 0;
        waitpid(pids[r], &ws, 0);
        if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            fprintf(stderr, "master: peer %d failed\n", r);
            bad++;
        }
        close(to_peer[r]);
        close(from_peer[r]);
    }
    TRY(daos_container_unlink(path, NULL));
    if (temporary) nftw(store, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (bad) {
        printf("collective write FAILED\n");
        return 1;
    }
    printf("the writes of %d peers were committed at once and read back intact\n", npeers);
    return 0;
}
