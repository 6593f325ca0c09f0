/* Drives nsf_scan_pids (csrc/procs.c) under the sanitizers: the real /proc
 * and a fake one (argv[1]) that holds far more entries than its link count
 * announces, on 1, 2 and 4 threads. Usage: procs_driver FAKE_PROC COUNT.
 * Every fake entry N (1..COUNT) must match the caller's netns key.
 * Prints "procs_driver: ok" and exits 0. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "steps.h"
#include "procs.h"


int main(int argc, char **argv)
{
    unsigned long long dev, ino;
    struct stat st;
    int threads[] = {1, 2, 4, 0}, t, i, step, count, rc, found;
    int *pids, counts[1];

    if (argc != 3)
        return 2;
    count = atoi(argv[2]);
    pids = calloc((size_t)count + 4096, sizeof(*pids));
    CHECK(pids != NULL);
    CHECK(stat("/proc/thread-self/ns/net", &st) == 0);
    dev = (unsigned long long)st.st_dev;
    ino = (unsigned long long)st.st_ino;
    for (t = 0; pids && t < 4; t++) {
        /* The real /proc: this process is in its own netns. */
        rc = nsf_scan_pids("/proc", &dev, &ino, 1, threads[t], pids,
                           count + 4096, counts, &step);
        CHECK(rc >= 1 && counts[0] == rc);
        found = 0;
        for (i = 0; i < rc; i++)
            found |= pids[i] == getpid();
        CHECK(found);
        /* The fake one: every entry matches, in ascending order here. */
        rc = nsf_scan_pids(argv[1], &dev, &ino, 1, threads[t], pids,
                           count + 4096, counts, &step);
        CHECK(rc == count);
        for (i = 0; i < rc && i < count; i++)
            CHECK(pids[i] > 0 && pids[i] <= count);
        /* Too small an array: the count, nothing written past it. */
        rc = nsf_scan_pids(argv[1], &dev, &ino, 1, threads[t], pids, 10,
                           counts, &step);
        CHECK(rc == count);
    }
    free(pids);
    if (failures)
        return 1;
    printf("procs_driver: ok\n");
    return 0;
}
