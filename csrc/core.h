/* Lifecycle of named network namespaces: add, attach, delete, batches.
 *
 * This file is both a C header (included by core.c) and the cffi cdef, so
 * it holds declarations only: no preprocessor lines, no definitions.
 *
 * Every function returns 0 or -errno. On failure *step names the syscall
 * that failed (one of the NSF_STEP_* values), so the caller can print
 * iproute2's message for it. No function touches the Python API, and every
 * function leaves the calling thread in the network namespace it was in.
 */

enum nsf_core_step {
    NSF_STEP_NONE = 0,
    NSF_STEP_MKDIR = 1,        /* mkdir(run_dir, 0755) */
    NSF_STEP_OPEN_DIR = 2,     /* open(run_dir, O_DIRECTORY) for the flock */
    NSF_STEP_MAKE_SHARED = 3,  /* mount(run_dir, MS_SHARED|MS_REC) */
    NSF_STEP_SELF_BIND = 4,    /* mount(run_dir, run_dir, MS_BIND|MS_REC) */
    NSF_STEP_MAKE_PRIVATE = 5, /* mount(run_dir, MS_PRIVATE|MS_REC) */
    NSF_STEP_CREATE = 6,       /* open(run_dir/name, O_CREAT|O_EXCL, 0) */
    NSF_STEP_SAVE_NS = 7,      /* open(/proc/thread-self/ns/net) */
    NSF_STEP_UNSHARE = 8,      /* unshare(CLONE_NEWNET) */
    NSF_STEP_BIND = 9,         /* mount(ns file, run_dir/name, MS_BIND) */
    NSF_STEP_RESTORE_NS = 10,  /* setns(saved, CLONE_NEWNET) */
    NSF_STEP_UNLINK = 11,      /* unlink(run_dir/name) */
    NSF_STEP_PATH = 12,        /* run_dir/name does not fit in PATH_MAX */
    NSF_STEP_THREAD = 13,      /* pthread_create or malloc for a batch */
    NSF_STEP_STAT = 14         /* statx of run_dir */
};

/* Make run_dir exist and be a shared mount point (iproute2's add steps 1-3,
 * plus the make-private step of iproute2 >= 7.0). Cached per process: later
 * calls cost one statx while run_dir is still the same mount. */
int nsf_prepare_run_dir(const char *run_dir, int *step);

/* Forget the cached state of nsf_prepare_run_dir (for tests). */
void nsf_forget_run_dir(void);

/* The errno of the flock of run_dir that the calling thread's last
 * nsf_prepare_run_dir, nsf_add, nsf_attach or nsf_add_many could not take
 * (iproute2 warns and goes on, and so do these), or 0. Read it right after
 * the call, on the same thread, like errno; it is kept whether the call
 * succeeded or failed. */
int nsf_flock_error(void);

/* ip netns add NAME: a new network namespace bound to run_dir/name.
 * The bind goes onto the file that add created (through its fd), so a
 * racer that swaps it for a symlink makes the add fail (ENOENT at
 * NSF_STEP_BIND), never mount elsewhere; the racer's entry is left alone.
 * attach and add_many bind the same way. */
int nsf_add(const char *run_dir, const char *name, int *step);

/* ip netns attach NAME PID: bind /proc/PID/ns/net to run_dir/name. */
int nsf_attach(const char *run_dir, const char *name, int pid, int *step);

/* ip netns delete NAME: lazily unmount every mount stacked on
 * run_dir/name, then unlink it. A stale file with no mount is removed. A
 * file that someone else unlinks after our unmount counts as deleted. */
int nsf_delete(const char *run_dir, const char *name, int *step);

/* add/delete for names[0..n-1] on nthreads C threads (<= 0: one per CPU).
 * results[i] is 0 or -errno and steps[i] the failing step of names[i].
 * Returns the number of failed names, or -errno if nothing could start. */
int nsf_add_many(const char *run_dir, const char *const *names, int n,
                 int nthreads, int *results, int *steps);
int nsf_delete_many(const char *run_dir, const char *const *names, int n,
                    int nthreads, int *results, int *steps);

/* CPUs this thread may run on (the default thread count of the batches). */
int nsf_cpu_count(void);
