/* object_io.c: a store, a container with two shards, asynchronous writes,
 * a commit, and a scatter-gather read back.
 *
 *   object_io [STORE] [--keep]
 *
 * STORE is a directory. If it holds no store yet (no STORE/.daos/), it is
 * made into one with two targets (created first if it does not exist); the
 * targets' performance probe (about 16 MiB of I/O per target) is skipped
 * unless DAOS_EXAMPLE_PROBE=1. Without STORE a temporary store is made and
 * removed at the end. The container is unlinked at the end unless --keep
 * (or DAOS_EXAMPLE_KEEP=1) is given.
 *
 * The steps:
 *   1. open (or make) the store and look at its targets (daos_sys_*)
 *   2. create a container and add two shards to it, one per target
 *   3. write four objects at once: one parent event with a child event per
 *      write, polled once for the whole group
 *   4. commit the epoch: the writes become durable and visible to everyone
 *   5. read each object back with a scatter-gather read (one call fills
 *      several buffers from several extents), each read on its own event
 *   6. verify, close, unlink
 *
 * Build:  gcc -std=c11 -Iinclude examples-c/object_io.c -Ltarget/debug \
 *             -Wl,-rpath,$PWD/target/debug -ldaos_rs -o object_io
 * Every daos_* call returns 0 (or a count) on success, a negative errno on error.
 */
#define _GNU_SOURCE /* mkdtemp, nftw */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daos_rs.h"

/* print the failing call and its error, then leave with status 1 */
#define TRY(call)                                                          \
    do {                                                                   \
        int rc_ = (call);                                                  \
        if (rc_ < 0) {                                                     \
            fprintf(stderr, "%s failed: %d (%s)\n", #call, rc_, strerror(-rc_)); \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

#define NOBJ 4
#define HEAD 256 /* the read puts the first HEAD bytes of an object in their own buffer */
#define TAIL 64  /* ... and reads TAIL bytes past its end, which read as zeros */

/* The content of object i: easy to recompute, different for every object
 * and every position. */
static unsigned char content(int i, size_t off)
{
    return (unsigned char)(off * 31 + off / 251 + (size_t)i * 97 + 1);
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

/* A daos_mmd / daos_iod ends in a flexible array: allocate room for n
 * entries. They are only descriptors: the library copies them during the
 * call, so they may be freed as soon as it returns, even for an
 * asynchronous call. */
static daos_mmd *mmd_alloc(unsigned long n)
{
    daos_mmd *m = calloc(1, sizeof(*m) + n * sizeof(m->mmd_frag[0]));
    if (m == NULL) { perror("calloc"); exit(1); }
    m->mmd_nfrag = n;
    return m;
}

static daos_iod *iod_alloc(unsigned long n)
{
    daos_iod *d = calloc(1, sizeof(*d) + n * sizeof(d->iod_frag[0]));
    if (d == NULL) { perror("calloc"); exit(1); }
    d->iod_nfrag = n;
    return d;
}

static const char *type_name(daos_target_type_t t)
{
    return t == DAOS_TARGET_TYPE_SSD ? "SSD" : "HDD";
}

int main(int argc, char **argv)
{
    const char *store = NULL;
    bool keep = env_set("DAOS_EXAMPLE_KEEP");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keep") == 0) keep = true;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [STORE] [--keep]\n", argv[0]);
            return 2;
        } else store = argv[i];
    }

    /* ---- 1. the store ---------------------------------------------------- */
    char tmp[256];
    bool temporary = store == NULL;
    if (temporary) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof(tmp), "%s/object_io-XXXXXX", dir && *dir ? dir : "/tmp");
        if (mkdtemp(tmp) == NULL) { perror("mkdtemp"); return 1; }
        store = tmp;
        printf("no store given: using a temporary one at %s\n", store);
    } else if (mkdir(store, 0777) == 0) {
        printf("created the directory %s\n", store);
    }

    /* A store is a directory with a .daos/ folder holding its configuration
     * and, by default, its targets. daos_sys_format makes one (an extension:
     * the 2014 design left formatting to the administrator). */
    char dotdaos[4096];
    struct stat sb;
    snprintf(dotdaos, sizeof(dotdaos), "%s/.daos", store);
    if (stat(dotdaos, &sb) != 0) {
        bool probe = env_set("DAOS_EXAMPLE_PROBE");
        int rc = daos_sys_format(store, 2, NULL, probe ? 0 : DAOS_SYS_FORMAT_NO_PROBE);
        if (rc == -EEXIST) {
            /* the directory is inside another store: use that one */
            printf("%s is inside an existing store: using it\n", store);
        } else {
            TRY(rc);
            printf("formatted a new store at %s with 2 targets (%s)\n", store,
                   probe ? "their speed was measured"
                         : "speed probe skipped; DAOS_EXAMPLE_PROBE=1 measures it");
        }
    } else {
        printf("opening the existing store at %s\n", store);
    }

    /* The system container describes the store: a tree of cages, racks,
     * nodes and targets. Any path inside the store opens it. */
    daos_handle_t sysh;
    TRY(daos_sys_open(store, &sysh, NULL));

    /* daos_sys_query walks the tree; called with lks == NULL it only counts */
    struct daos_location all = { DAOS_LOC_UNKNOWN, DAOS_LOC_UNKNOWN, DAOS_LOC_UNKNOWN };
    unsigned int nkeys = 0;
    TRY(daos_sys_query(sysh, &all, 0, &nkeys, NULL, NULL));
    struct daos_loc_key *keys = calloc(nkeys ? nkeys : 1, sizeof(*keys));
    if (keys == NULL) { perror("calloc"); return 1; }
    TRY(daos_sys_query(sysh, &all, 0, &nkeys, keys, NULL));

    unsigned int targets[2], ntargets = 0, seen = 0;
    for (unsigned int k = 0; k < nkeys; k++) {
        if (keys[k].lk_type != DAOS_LOC_TYP_TARGET) continue;
        struct daos_target_info ti;
        TRY(daos_sys_query_target(sysh, keys[k].lk_id, &ti, NULL));
        const struct daos_location *loc = &ti.ti_loc.tl_failovers[ti.ti_loc.tl_current];
        char state[32];
        if (ti.ti_status == DAOS_TARGET_ST_DISABLED) snprintf(state, sizeof(state), "disabled");
        else if (ti.ti_status < 0) snprintf(state, sizeof(state), "unknown");
        else snprintf(state, sizeof(state), "health %d/100", ti.ti_status);
        printf("  target %u: %s, %s, %.1f GiB free of %.1f GiB, %u shard(s), "
               "cage %d rack %d node %d\n",
               keys[k].lk_id, type_name(ti.ti_type), state,
               ti.ti_space.ts_free / 1073741824.0, ti.ti_space.ts_size / 1073741824.0,
               ti.ti_space.ts_nshard, loc->lc_cage, loc->lc_rack, loc->lc_node);
        seen++;
        /* pick the first two usable targets (enabled, health above 0) */
        if (ti.ti_status > 0 && ntargets < 2)
            targets[ntargets++] = keys[k].lk_id;
    }
    free(keys);
    if (ntargets == 0) {
        fprintf(stderr, "the store has no enabled target\n");
        return 1;
    }
    if (ntargets == 1) targets[1] = targets[0]; /* both shards on the one target */
    printf("the store has %u target(s); the shards go to targets %u and %u\n", seen, targets[0],
           targets[1]);

    /* ---- 2. a container with two shards ------------------------------------ */
    /* A container is a file inside the store; its data lives in shards on the
     * targets. DAOS_COO_CREATE makes it (empty, with no shards). */
    char co_path[4200];
    snprintf(co_path, sizeof(co_path), "%s/object_io.%ld.%ld.co", store, (long)time(NULL),
             (long)getpid());
    daos_container_status_t status;
    daos_handle_t coh;
    TRY(daos_container_open(co_path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &status, &coh, NULL));
    printf("created container %s (status %s)\n", co_path,
           status == DAOS_CONTAINER_ST_OK ? "OK" : "not OK");

    /* Every change happens in an epoch above the highest committed one (HCE).
     * A new container has HCE 0, so we work in epoch 1. */
    daos_epoch_info einfo;
    TRY(daos_epoch_query(coh, &einfo, NULL));
    daos_epoch_t epoch = { einfo.epi_hce.seq + 1 };
    printf("highest committed epoch (HCE) is %llu: writing in epoch %llu\n",
           (unsigned long long)einfo.epi_hce.seq, (unsigned long long)epoch.seq);

    /* Adding shards takes effect at once (it is not undone by an abort).
     * -1 asks for the lowest free shard id; the ids made are written back. */
    int shards[2] = { -1, -1 };
    TRY(daos_shard_add(coh, epoch, 2, targets, shards, NULL));
    for (int s = 0; s < 2; s++) printf("made shard %d on target %u\n", shards[s], targets[s]);

    /* ---- 3. four asynchronous writes under one parent event ---------------- */
    daos_handle_t eqh;
    TRY(daos_eq_create(&eqh));

    /* an object id names its shard (o_id_hi) and the object in it (o_id_lo);
     * objects need no creation: the first write makes them */
    const daos_obj_id_t oids[NOBJ] = {
        { (uint64_t)shards[0], 1 }, { (uint64_t)shards[0], 2 },
        { (uint64_t)shards[1], 1 }, { (uint64_t)shards[1], 1000 },
    };
    const size_t sizes[NOBJ] = { 4096, 100000, 1 << 20, 12345 };
    daos_handle_t oh[NOBJ];
    unsigned char *data[NOBJ];
    for (int i = 0; i < NOBJ; i++) {
        TRY(daos_object_open(coh, oids[i], DAOS_OBJ_RW, &oh[i], NULL));
        data[i] = malloc(sizes[i]);
        if (data[i] == NULL) { perror("malloc"); return 1; }
        for (size_t off = 0; off < sizes[i]; off++) data[i][off] = content(i, off);
    }

    /* the parent completes when all of its children have; we poll only it */
    struct daos_event parent, child[NOBJ];
    memset(&parent, 0, sizeof(parent));
    memset(child, 0, sizeof(child));
    TRY(daos_event_init(&parent, eqh, NULL));
    for (int i = 0; i < NOBJ; i++) TRY(daos_event_init(&child[i], eqh, &parent));

    size_t written = 0;
    for (int i = 0; i < NOBJ; i++) {
        /* the whole buffer (one memory fragment) to offset 0 (one extent) */
        daos_mmd *mmd = mmd_alloc(1);
        daos_iod *iod = iod_alloc(1);
        mmd->mmd_frag[0].mf_addr = data[i];
        mmd->mmd_frag[0].mf_nob = sizes[i];
        iod->iod_frag[0].if_offset = 0;
        iod->iod_frag[0].if_nob = sizes[i];
        /* returns at once; data[i] must stay untouched until the event
         * completes (open with DAOS_OBJ_IO_BUFFERED to have it copied instead) */
        TRY(daos_object_write(oh[i], epoch, mmd, iod, &child[i]));
        free(mmd);
        free(iod);
        printf("started writing %zu bytes to object %llu on shard %llu\n", sizes[i],
               (unsigned long long)oids[i].o_id_lo, (unsigned long long)oids[i].o_id_hi);
        written += sizes[i];
    }

    struct daos_event *done[1];
    int n = daos_eq_poll(eqh, 0, DAOS_EQ_WAIT, 1, done);
    if (n != 1 || done[0] != &parent) {
        fprintf(stderr, "expected the parent event back, got %d event(s)\n", n);
        return 1;
    }
    /* the parent's ev_error is the first failure among the children */
    for (struct daos_event *c = daos_event_next(&parent, NULL); c != NULL;
         c = daos_event_next(&parent, c)) {
        if (c->ev_error != 0) {
            fprintf(stderr, "write %d failed: %s\n", (int)(c - child), strerror(-c->ev_error));
            return 1;
        }
    }
    printf("all %d writes completed: %zu bytes written in epoch %llu (not yet visible to "
           "other processes)\n",
           NOBJ, written, (unsigned long long)epoch.seq);
    TRY(daos_event_fini(&parent)); /* finalises the children too */

    /* ---- 4. commit ---------------------------------------------------------- */
    /* Commit makes every write of this handle in epochs <= epoch durable on
     * every shard, then moves HCE to it in one atomic step: after a crash a
     * reader sees all of epoch 1 or none of it. */
    unsigned int failed_shard = 0;
    int rc = daos_epoch_commit(coh, epoch, false, &failed_shard, NULL);
    if (rc != 0) {
        fprintf(stderr, "commit failed on shard %u: %s\n", failed_shard, strerror(-rc));
        return 1;
    }
    TRY(daos_epoch_query(coh, &einfo, NULL));
    printf("committed epoch %llu: HCE is now %llu, the data is durable\n",
           (unsigned long long)epoch.seq, (unsigned long long)einfo.epi_hce.seq);

    /* ---- 5. scatter-gather reads, one event each ---------------------------- */
    /* Each read fills three buffers from three extents in one call: the
     * bytes of the memory fragments, in order, map one to one onto the bytes
     * of the object extents, in order.
     *     head[HEAD]          <- object bytes [0, HEAD)
     *     body[size - HEAD]   <- object bytes [HEAD, size)
     *     tail[TAIL]          <- object bytes [size, size + TAIL): never written, so zeros */
    struct daos_event rev[NOBJ];
    unsigned char *head[NOBJ], *body[NOBJ], *tail[NOBJ];
    memset(rev, 0, sizeof(rev));
    for (int i = 0; i < NOBJ; i++) {
        TRY(daos_event_init(&rev[i], eqh, NULL));
        head[i] = malloc(HEAD);
        body[i] = malloc(sizes[i] - HEAD);
        tail[i] = malloc(TAIL);
        if (!head[i] || !body[i] || !tail[i]) { perror("malloc"); return 1; }
        memset(tail[i], 0xff, TAIL);

        daos_mmd *mmd = mmd_alloc(3);
        mmd->mmd_frag[0] = (daos_mm_frag){ head[i], HEAD };
        mmd->mmd_frag[1] = (daos_mm_frag){ body[i], sizes[i] - HEAD };
        mmd->mmd_frag[2] = (daos_mm_frag){ tail[i], TAIL };
        daos_iod *iod = iod_alloc(3);
        iod->iod_frag[0] = (daos_io_frag){ 0, HEAD };
        iod->iod_frag[1] = (daos_io_frag){ HEAD, sizes[i] - HEAD };
        iod->iod_frag[2] = (daos_io_frag){ sizes[i], TAIL };
        /* read at the committed epoch (DAOS_EPOCH_HIGHEST would read the newest) */
        TRY(daos_object_read(oh[i], epoch, mmd, iod, &rev[i]));
        free(mmd);
        free(iod);
    }
    printf("started %d scatter-gather reads\n", NOBJ);

    /* independent events come back one by one, in completion order */
    int back = 0;
    while (back < NOBJ) {
        struct daos_event *got[NOBJ];
        n = daos_eq_poll(eqh, 0, DAOS_EQ_WAIT, NOBJ, got);
        TRY(n);
        for (int k = 0; k < n; k++) {
            int i = (int)(got[k] - rev);
            if (got[k]->ev_error != 0) {
                fprintf(stderr, "read of object %d failed: %s\n", i, strerror(-got[k]->ev_error));
                return 1;
            }
            printf("read of object %llu on shard %llu completed\n",
                   (unsigned long long)oids[i].o_id_lo, (unsigned long long)oids[i].o_id_hi);
        }
        back += n;
    }

    /* ---- 6. verify and clean up ---------------------------------------------- */
    size_t checked = 0;
    int bad = 0;
    for (int i = 0; i < NOBJ; i++) {
        bool ok = memcmp(head[i], data[i], HEAD) == 0 &&
                  memcmp(body[i], data[i] + HEAD, sizes[i] - HEAD) == 0;
        for (int t = 0; t < TAIL; t++) ok = ok && tail[i][t] == 0;
        if (!ok) {
            fprintf(stderr, "object %d does not read back as written\n", i);
            bad++;
        }
        checked += sizes[i];
        free(head[i]);
        free(body[i]);
        free(tail[i]);
        free(data[i]);
        TRY(daos_event_fini(&rev[i]));
        TRY(daos_object_close(oh[i], NULL));
    }
    if (bad) {
        printf("verification FAILED for %d object(s)\n", bad);
        return 1;
    }
    printf("verified: all %d objects read back exactly as written (%zu bytes), and the %d "
           "bytes past each end read as zeros\n",
           NOBJ, checked, TAIL);

    TRY(daos_container_close(coh, NULL));
    if (keep) {
        printf("kept the container %s\n", co_path);
    } else {
        TRY(daos_container_unlink(co_path, NULL));
        printf("unlinked the container (--keep keeps it)\n");
    }
    TRY(daos_sys_close(sysh, NULL));
    TRY(daos_eq_destroy(eqh));
    if (temporary && !keep) {
        nftw(store, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        printf("removed the temporary store\n");
    }
    printf("done\n");
    return 0;
}
