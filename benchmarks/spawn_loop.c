/* The C floor of benchmarks/exec.py: `true` spawned in a namespace and
 * waited for, in a loop, with no Python per op. Built by the benchmark
 * (benchmarks/_bench.py's compile_c) together with csrc/exec.c, so it
 * measures the same nsf_spawn the library ships; the library itself has
 * no such loop.
 *
 * usage: spawn_loop RUN_DIR NAME FLAGS PATH
 *   FLAGS: the NSF_SPAWN_* bits (csrc/exec.h); PATH: the search path.
 * Reads one count N per line on stdin, spawns and waits N times, and
 * answers one line: how many children did not exit 0, or "error ERRNO
 * STEP" when a spawn or a wait failed. Ends at the end of stdin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "steps.h"
#include "exec.h"

/* Spawn and wait n times; the number that did not exit 0, or -errno. */
static int loop(const struct nsf_spawn_req *req, long n, int *step)
{
    int status, bad = 0;
    long i;

    for (i = 0; i < n; i++) {
        int pid = nsf_spawn(req, step);

        if (pid < 0)
            return pid;
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                *step = NSF_STEP_WAIT;
                return -errno;
            }
        }
        bad += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    return bad;
}

int main(int argc, char **argv)
{
    char *args[] = {"true", NULL};
    struct nsf_spawn_req req;
    char line[64];

    if (argc != 5) {
        fprintf(stderr, "usage: spawn_loop RUN_DIR NAME FLAGS PATH\n");
        return 2;
    }
    memset(&req, 0, sizeof(req));
    req.run_dir = argv[1];
    req.name = argv[2];
    req.flags = atoi(argv[3]);
    req.path = argv[4];
    req.file = "true";
    req.argv = args;
    req.fd_in = req.fd_out = req.fd_err = -1;
    while (fgets(line, sizeof(line), stdin)) {
        int step = NSF_STEP_NONE, rc = loop(&req, atol(line), &step);

        if (rc < 0)
            printf("error %d %d\n", -rc, step);
        else
            printf("%d\n", rc);
        fflush(stdout);
    }
    return 0;
}
