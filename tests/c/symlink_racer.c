/* The racer of tests/hardening/test_add_safety.py: swaps each file that an
 * add creates in RUN_DIR for a symlink to VICTIM, as fast as it can.
 *
 * usage: symlink_racer RUN_DIR VICTIM exchange|over PREFIX COUNT
 *
 * The names PREFIX-0 ... PREFIX-(COUNT-1) are raced in order. "exchange" renameat2(RENAME_EXCHANGE)s a
 * symlink with the new file (which lives on under the racer's name);
 * "over" renames a symlink over it (which unlinks it). A name is done once
 * it was swapped (printed on stdout, one per line, flushed), once it is a
 * mount point (EBUSY), or once the next name exists; names already made
 * when the racer gets to them are skipped, so it catches up at once. Runs until the last
 * name is done or it is killed. Started as root, it races as uid 65534:
 * another user, who may write RUN_DIR and nothing else.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NOBODY 65534

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int exchange(const char *a, const char *b)
{
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b,
                        RENAME_EXCHANGE);
}

/* One attempt on path: 0 if swapped, else the errno. */
static int swap(const char *tmp, const char *path, int by_exchange,
                dev_t run_dev)
{
    struct stat st;

    if (by_exchange)
        return exchange(tmp, path) == 0 ? 0 : errno;
    if (lstat(path, &st) < 0)
        return errno;
    if (!S_ISREG(st.st_mode) || st.st_dev != run_dev)
        return EBUSY; /* a name already: too late */
    return rename(tmp, path) == 0 ? 0 : errno;
}

int main(int argc, char **argv)
{
    char path[PATH_MAX], next[PATH_MAX], tmp[PATH_MAX];
    struct stat st, cur;
    int i, n, by_exchange, err;
    unsigned long tries = 0;

    if (argc != 6 || stat(argv[1], &st) < 0)
        return 2;
    if (getuid() == 0 &&
        (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
         setresuid(NOBODY, NOBODY, NOBODY) < 0))
        return 4;
    by_exchange = strcmp(argv[3], "exchange") == 0;
    n = atoi(argv[5]);
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s-%d", argv[1], argv[4], i);
        snprintf(next, sizeof(next), "%s/%s-%d", argv[1], argv[4], i + 1);
        snprintf(tmp, sizeof(tmp), "%s/.racer-%d", argv[1], i);
        /* Catch up: a name that is a mount point (or anything but a new,
         * empty file) already is too late for this one. */
        if (lstat(path, &cur) == 0 &&
            !(S_ISREG(cur.st_mode) && cur.st_dev == st.st_dev))
            continue;
        if (symlink(argv[2], tmp) < 0 && errno != EEXIST)
            return 3;
        for (;;) {
            err = swap(tmp, path, by_exchange, st.st_dev);
            if (err == 0) {
                printf("%s-%d\n", argv[4], i);
                fflush(stdout);
            }
            if (err == 0 || err == EBUSY)
                break;
            /* Not made yet, or never will be: its add failed early. */
            if (++tries % 64 == 0 && i + 1 < n &&
                faccessat(AT_FDCWD, next, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                break;
        }
    }
    return 0;
}
