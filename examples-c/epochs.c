/* epochs.c: versions, abort and snapshots.
 *
 *   epochs [STORE] [--keep]
 *
 * Every change to a container happens in an epoch. Committing an epoch makes
 * its changes durable and visible all at once; older epochs stay readable as
 * versions; an epoch not yet committed can be thrown away with an abort; a
 * snapshot turns the content at one epoch into a container of its own.
 *
 * STORE is a directory: made into a store with two targets if it holds none
 * yet (the targets' speed probe is skipped unless DAOS_EXAMPLE_PROBE=1).
 * Without STORE a temporary store is made and removed at the end. The two
 * containers are unlinked at the end unless --keep (or DAOS_EXAMPLE_KEEP=1).
 *
 * Build:  gcc -std=c11 -Iinclude examples-c/epochs.c -Ltarget/debug \
 *             -Wl,-rpath,$PWD/target/debug -ldaos_rs -o epochs
 * All calls here are synchronous (no event): see object_io.c for the
 * asynchronous style.
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

#define TRY(call)                                                          \
    do {                                                                   \
        int rc_ = (call);                                                  \
        if (rc_ < 0) {                                                     \
            fprintf(stderr, "%s failed: %d (%s)\n", #call, rc_, strerror(-rc_)); \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

/* each version of the object is one fixed-size record at offset 0 */
#define REC 64

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

/* Writes `text` (zero padded to REC bytes) at offset 0 of `oh` in `epoch`.
 * The descriptors have one entry each; with one fragment a plain struct
 * with room for it will do. */
static void put(daos_handle_t oh, uint64_t epoch, const char *text)
{
    char rec[REC] = { 0 };
    strncpy(rec, text, REC - 1);
    daos_mmd *mmd = malloc(sizeof(*mmd) + sizeof(mmd->mmd_frag[0]));
    daos_iod *iod = malloc(sizeof(*iod) + sizeof(iod->iod_frag[0]));
    if (!mmd || !iod) { perror("malloc"); exit(1); }
    mmd->mmd_nfrag = 1;
    mmd->mmd_frag[0] = (daos_mm_frag){ rec, REC };
    iod->iod_nfrag = 1;
    iod->iod_frag[0] = (daos_io_frag){ 0, REC };
    TRY(daos_object_write(oh, (daos_epoch_t){ epoch }, mmd, iod, NULL));
    free(mmd);
    free(iod);
}

/* Reads the record at `epoch` into `out` (REC + 1 bytes, NUL terminated). */
static void get(daos_handle_t oh, uint64_t epoch, char *out)
{
    memset(out, 0, REC + 1);
    daos_mmd *mmd = malloc(sizeof(*mmd) + sizeof(mmd->mmd_frag[0]));
    daos_iod *iod = malloc(sizeof(*iod) + sizeof(iod->iod_frag[0]));
    if (!mmd || !iod) { perror("malloc"); exit(1); }
    mmd->mmd_nfrag = 1;
    mmd->mmd_frag[0] = (daos_mm_frag){ out, REC };
    iod->iod_nfrag = 1;
    iod->iod_frag[0] = (daos_io_frag){ 0, REC };
    TRY(daos_object_read(oh, (daos_epoch_t){ epoch }, mmd, iod, NULL));
    free(mmd);
    free(iod);
}

static int failures;

/* reads at `epoch`, prints what it found, and checks it against `want` */
static void show(const char *what, daos_handle_t oh, uint64_t epoch, const char *want)
{
    char got[REC + 1];
    get(oh, epoch, got);
    char ep[32];
    if (epoch == (uint64_t)DAOS_EPOCH_HIGHEST) snprintf(ep, sizeof(ep), "HIGHEST");
    else snprintf(ep, sizeof(ep), "%llu", (unsigned long long)epoch);
    bool ok = strcmp(got, want) == 0;
    printf("  %-34s epoch %-7s -> \"%s\"%s\n", what, ep, got, ok ? "" : "   <-- WRONG");
    if (!ok) {
        printf("      expected \"%s\"\n", want);
        failures++;
    }
}

static uint64_t hce_of(daos_handle_t coh)
{
    daos_epoch_info info;
    TRY(daos_epoch_query(coh, &info, NULL));
    return info.epi_hce.seq;
}

static void commit(daos_handle_t coh, uint64_t epoch)
{
    unsigned int failed = 0;
    int rc = daos_epoch_commit(coh, (daos_epoch_t){ epoch }, false, &failed, NULL);
    if (rc != 0) {
        fprintf(stderr, "commit of epoch %llu failed on shard %u: %s\n",
                (unsigned long long)epoch, failed, strerror(-rc));
        exit(1);
    }
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

    /* ---- the store (as in object_io.c) ---- */
    char tmp[256];
    bool temporary = store == NULL;
    if (temporary) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof(tmp), "%s/epochs-XXXXXX", dir && *dir ? dir : "/tmp");
        if (mkdtemp(tmp) == NULL) { perror("mkdtemp"); return 1; }
        store = tmp;
    } else {
        mkdir(store, 0777); /* fine if it exists */
    }
    char dotdaos[4096];
    struct stat sb;
    snprintf(dotdaos, sizeof(dotdaos), "%s/.daos", store);
    if (stat(dotdaos, &sb) != 0) {
        int rc = daos_sys_format(store, 2, NULL,
                                 env_set("DAOS_EXAMPLE_PROBE") ? 0 : DAOS_SYS_FORMAT_NO_PROBE);
        if (rc != -EEXIST) TRY(rc); /* -EEXIST: inside another store, which we then use */
        printf("store: formatted %s%s\n", store, temporary ? " (temporary)" : "");
    } else {
        printf("store: %s\n", store);
    }

    /* ---- a container with one shard, one object ---- */
    char co_path[4200], snap_path[4200];
    snprintf(co_path, sizeof(co_path), "%s/epochs.%ld.%ld.co", store, (long)time(NULL),
             (long)getpid());
    snprintf(snap_path, sizeof(snap_path), "%s/epochs.%ld.%ld.snap", store, (long)time(NULL),
             (long)getpid());
    daos_container_status_t status;
    daos_handle_t coh;
    TRY(daos_container_open(co_path, DAOS_COO_RW | DAOS_COO_CREATE, 1, &status, &coh, NULL));
    uint64_t hce = hce_of(coh);
    unsigned int target = 0;
    int shard = -1;
    TRY(daos_shard_add(coh, (daos_epoch_t){ hce + 1 }, 1, &target, &shard, NULL));
    daos_obj_id_t oid = { (uint64_t)shard, 1 };
    daos_handle_t oh;
    TRY(daos_object_open(coh, oid, DAOS_OBJ_RW, &oh, NULL));
    printf("container: %s, shard %d on target %u, HCE %llu\n\n", co_path, shard, target,
           (unsigned long long)hce);

    /* ---- 1. versions ---- */
    printf("1. Versions. Writes go to an epoch above the highest committed epoch (HCE);\n"
           "   a commit publishes them. Each committed epoch stays readable as a version.\n");
    uint64_t e1 = hce + 1;
    put(oh, e1, "version 1");
    commit(coh, e1);
    printf("   wrote \"version 1\" in epoch %llu and committed it\n", (unsigned long long)e1);
    uint64_t e2 = e1 + 1;
    put(oh, e2, "version 2");
    commit(coh, e2);
    printf("   wrote \"version 2\" in epoch %llu and committed it; HCE is now %llu\n",
           (unsigned long long)e2, (unsigned long long)hce_of(coh));
    show("the old version is still there:", oh, e1, "version 1");
    show("the new one:", oh, e2, "version 2");
    show("an epoch before the first write:", oh, e1 - 1, "");
    printf("   (bytes never written read as zeros; versions stay readable until this\n"
           "    handle slips its read reference past them with daos_epoch_slip)\n\n");

    /* ---- 2. abort ---- */
    uint64_t e3 = e2 + 1;
    printf("2. Abort. Uncommitted writes are visible to this process only, and an\n"
           "   abort throws them away.\n");
    put(oh, e3, "version 3, never committed");
    printf("   wrote \"version 3, never committed\" in epoch %llu\n", (unsigned long long)e3);
    show("newest (includes our staged write):", oh, (uint64_t)DAOS_EPOCH_HIGHEST,
         "version 3, never committed");
    show("at HCE (what others see):", oh, e2, "version 2");
    unsigned int failed = 0;
    TRY(daos_epoch_abort(coh, (daos_epoch_t){ e3 }, &failed, NULL));
    printf("   aborted epoch %llu (and everything above it)\n", (unsigned long long)e3);
    show("newest after the abort:", oh, (uint64_t)DAOS_EPOCH_HIGHEST, "version 2");
    printf("\n");

    /* ---- 3. snapshot ---- */
    printf("3. Snapshot. A snapshot is a new, independent container holding the\n"
           "   content of one committed epoch. It shares the data files with the\n"
           "   source (hard links), so it costs metadata, not a copy.\n");
    TRY(daos_container_snapshot(coh, (daos_epoch_t){ e2 }, snap_path, NULL));
    printf("   snapshot of epoch %llu made at %s\n", (unsigned long long)e2, snap_path);

    /* the aborted epoch's number is free again: writes after an abort are kept */
    uint64_t e4 = hce_of(coh) + 1;
    put(oh, e4, "version 4, after the snapshot");
    commit(coh, e4);
    printf("   changed the source: \"version 4, after the snapshot\" committed in epoch %llu\n",
           (unsigned long long)e4);

    daos_handle_t snap_coh, snap_oh;
    TRY(daos_container_open(snap_path, DAOS_COO_RO, 1, &status, &snap_coh, NULL));
    uint64_t snap_hce = hce_of(snap_coh);
    printf("   opened the snapshot read-only: its HCE is %llu\n", (unsigned long long)snap_hce);
    if (snap_hce != e2) {
        printf("      expected HCE %llu\n", (unsigned long long)e2);
        failures++;
    }
    TRY(daos_object_open(snap_coh, oid, DAOS_OBJ_RO, &snap_oh, NULL));
    show("the snapshot still has:", snap_oh, (uint64_t)DAOS_EPOCH_HIGHEST, "version 2");
    show("the source has moved on:", oh, (uint64_t)DAOS_EPOCH_HIGHEST,
         "version 4, after the snapshot");
    printf("\n");

    /* ---- clean up ---- */
    TRY(daos_object_close(snap_oh, NULL));
    TRY(daos_container_close(snap_coh, NULL));
    TRY(daos_object_close(oh, NULL));
    TRY(daos_container_close(coh, NULL));
    if (keep || failures) {
        printf("kept %s and %s\n", co_path, snap_path);
    } else {
        TRY(daos_container_unlink(snap_path, NULL));
        TRY(daos_container_unlink(co_path, NULL));
        printf("unlinked both containers (--keep keeps them)\n");
        if (temporary) nftw(store, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    if (failures) {
        printf("%d read(s) gave something unexpected\n", failures);
        return 1;
    }
    printf("every read gave what was expected\n");
    return 0;
}
