/* Files the library locks are its owner's only (SPEC §10): `flock` needs no
 * more than a descriptor open for reading, so another account that could
 * open a lock file, a journal, a registration, a slot or a token could stall
 * every metadata call of a store (or make a dead writer look alive).
 *
 * Under umask 0 (the most permissive), a workload (containers, shards,
 * writes, commits, a collective open) leaves every such file with mode 0600
 * and `.daos/` and the directories the library makes with no access for
 * others. Files of an older store made with mode 0644 become 0600 when the
 * library next locks them. As root, another account (uid 65534) then cannot
 * open any of them (EACCES), so cannot lock them; not as root, that part is
 * skipped with a message. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daos_rs.h"
#include "harness.h"

static char base[128], root[200], tdir[200], co[260];
static char lockable[64][512];
static int nlockable;

static bool ends_with(const char *s, const char *x)
{
    size_t n = strlen(s), m = strlen(x);
    return n >= m && strcmp(s + n - m, x) == 0;
}

/* Whether the library takes flocks on this file. */
static bool is_lockable(const char *p)
{
    return ends_with(p, "/.daos/lock") || strstr(p, "/.daos/locks/") || strstr(p, "/.daos/open/") ||
           strstr(p, "/.daos/slots/") || (strstr(p, "/.daos/tokens/") && !strstr(p, ".peers")) || ends_with(p, ".jnl");
}

static int visit(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_F && is_lockable(p)) {
        if ((sb->st_mode & 0777) != 0600) H_FAIL_("%s has mode %03o, not 0600", p, sb->st_mode & 0777);
        else atomic_fetch_add(&h_pass, 1);
        if (nlockable < 64) snprintf(lockable[nlockable++], sizeof(lockable[0]), "%s", p);
    }
    /* directories the library makes: nobody else may make files in them */
    if (flag == FTW_D && (strstr(p, "/.daos") || strstr(p, "/c-"))) {
        if (sb->st_mode & 0077) H_FAIL_("directory %s has mode %03o: open to others", p, sb->st_mode & 0777);
        else atomic_fetch_add(&h_pass, 1);
    }
    return 0;
}

static int open_dir(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)ftw;
    if (flag == FTW_D && chmod(p, 0755) != 0) H_FAIL_("chmod %s", p);
    return 0;
}

static int close_dir(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)ftw;
    if (flag == FTW_D && (strstr(p, "/.daos") || strstr(p, "/c-") || strstr(p, "/t0")) && chmod(p, 0700) != 0)
        H_FAIL_("chmod %s", p);
    return 0;
}

static void check_tree(void)
{
    nlockable = 0;
    nftw(root, visit, 16, FTW_PHYS);
    nftw(tdir, visit, 16, FTW_PHYS);
}

/* As another account (uid/gid 65534, in a child): opening each lockable file
 * for reading must fail with EACCES (so no flock can be taken). */
static void other_account_cannot_lock(void)
{
    if (geteuid() != 0) {
        printf("   (not root: the check with another account is skipped)\n");
        return;
    }
    int pipefd[2];
    CHECK_RC(pipe(pipefd), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        int bad = 0;
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(90);
        for (int i = 0; i < nlockable; i++) {
            int fd = open(lockable[i], O_RDONLY);
            int err = errno;
            if (fd >= 0) {
                bool locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
                dprintf(pipefd[1], "another account opened %s%s\n", lockable[i], locked ? " and locked it" : "");
                bad++;
            } else if (err != EACCES) {
                dprintf(pipefd[1], "%s: %s (expected EACCES)\n", lockable[i], strerror(err));
                bad++;
            }
        }
        _exit(bad > 100 ? 100 : bad);
    }
    close(pipefd[1]);
    char line[1024];
    FILE *f = fdopen(pipefd[0], "r");
    while (f && fgets(line, sizeof(line), f)) H_FAIL_("%s", strtok(line, "\n"));
    if (f) fclose(f);
    CHECK_EQ(h_reap(pid), 0);
    printf("   another account (uid 65534) could open none of %d lockable files\n", nlockable);
}

static void test_lockable_files_are_private(void)
{
    mode_t old = umask(0);
    if (h_tmpdir(base, sizeof(base), "perms") != 0) return;
    /* the scratch directory itself open to all, as /tmp is */
    CHECK_RC(chmod(base, 0755), 0);
    snprintf(root, sizeof(root), "%s/store", base);
    snprintf(tdir, sizeof(tdir), "%s/disk1", base);
    snprintf(co, sizeof(co), "%s/c", root);
    CHECK_RC(mkdir(root, 0755), 0);
    CHECK_RC(mkdir(tdir, 0755), 0);
    /* target 0 where the default one would be, target 1 on "another disk" */
    char t0[260];
    snprintf(t0, sizeof(t0), "%s/.daos/targets/0", root);
    char d0[260];
    snprintf(d0, sizeof(d0), "%s/t0", tdir);
    const char *dirs[2] = { t0, d0 };
    CHECK_RC(daos_sys_format(root, 2, dirs, DAOS_SYS_FORMAT_NO_PROBE), 0);

    daos_handle_t coh, oh, sysh;
    daos_container_status_t st;
    CHECK_RC(daos_container_open(co, DAOS_COO_RW | DAOS_COO_CREATE, 2, &st, &coh, NULL), 0);
    unsigned t[2] = { 0, 1 };
    int sid[2] = { -1, -1 };
    CHECK_RC(daos_shard_add(coh, h_ep(1), 2, t, sid, NULL), 0);
    static unsigned char buf[8192];
    h_fill(buf, sizeof(buf), 3);
    for (int s = 0; s < 2; s++) {
        CHECK_RC(daos_object_open(coh, h_oid(sid[s], 1), DAOS_OBJ_RW, &oh, NULL), 0);
        CHECK_RC(h_write(oh, 1, 0, buf, sizeof(buf)), 0);
        CHECK_RC(daos_object_close(oh, NULL), 0);
    }
    CHECK_RC(daos_epoch_commit(coh, h_ep(1), false, NULL, NULL), 0);
    CHECK_RC(daos_sys_open(root, &sysh, NULL), 0);
    CHECK_RC(daos_sys_target_set_status(sysh, 1, DAOS_TARGET_ST_HEALTHY), 0);
    /* everything is open: registration, token, journals locked, slot held */
    check_tree();
    CHECK(nlockable >= 7);
    other_account_cannot_lock();
    /* the files' own modes suffice: with every directory open to others
     * (as an older store's were), they still cannot be opened */
    nftw(root, open_dir, 16, FTW_PHYS);
    nftw(tdir, open_dir, 16, FTW_PHYS);
    other_account_cannot_lock();
    nftw(root, close_dir, 16, FTW_PHYS);
    nftw(tdir, close_dir, 16, FTW_PHYS);

    /* an older store's files, made 0644 (or 0666): the next lock fixes them */
    char lock[300];
    snprintf(lock, sizeof(lock), "%s/.daos/lock", root);
    CHECK_RC(chmod(lock, 0644), 0);
    int fixed_before = nlockable;
    for (int i = 0; i < nlockable; i++)
        if (strstr(lockable[i], "/.daos/locks/")) CHECK_RC(chmod(lockable[i], 0666), 0);
    CHECK_RC(daos_sys_target_set_status(sysh, 1, DAOS_TARGET_ST_HEALTHY - 10), 0); /* takes .daos/lock */
    CHECK_RC(daos_epoch_commit(coh, h_ep(2), false, NULL, NULL), 0);              /* takes the container's lock */
    check_tree();
    CHECK_EQ(nlockable, fixed_before);
    CHECK_RC(daos_sys_close(sysh, NULL), 0);
    CHECK_RC(daos_container_close(coh, NULL), 0);
    umask(old);
    h_rmrf(base);
}

int main(void)
{
    RUN(test_lockable_files_are_private);
    return harness_summary();
}
