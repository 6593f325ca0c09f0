/* Lifecycle of named network namespaces: add, attach, delete, batches.
 *
 * This file is both a C header (included by lifecycle.c) and part of the
 * cffi cdef, so it holds declarations only: no preprocessor lines, no
 * definitions.
 *
 * Every function returns 0 or -errno. On failure *step names the syscall
 * that failed (one of the NSF_STEP_* values of steps.h), so the caller can
 * print iproute2's message for it. No function touches the Python API, and
 * every function leaves the calling thread in the network namespace it was
 * in.
 */

/* Make run_dir exist and be a shared mount point (iproute2's add steps 1-3,
 * plus the make-private step of iproute2 >= 7.0). Cached per process: later
 * calls cost one statx while run_dir is still the same mount (the same
 * path string, the root of a mount with the same mount id). Steps
 * PATH_TOO_LONG, MKDIR_RUN_DIR, OPEN_RUN_DIR, MAKE_SHARED, SELF_BIND,
 * MAKE_PRIVATE. */
int nsf_prepare_run_dir(const char *run_dir, int *step);

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
 * attach and add_many bind the same way. Steps: those of
 * nsf_prepare_run_dir, OPEN_THREAD_NET, UNSHARE_NET, CREATE_NAME, BIND,
 * RESTORE_NET, VERIFY_NET (see nsf_restore_net in nsf.h; the new name is
 * removed again then). */
int nsf_add(const char *run_dir, const char *name, int *step);

/* ip netns attach NAME PID: bind /proc/PID/ns/net to run_dir/name.
 * Steps: those of nsf_prepare_run_dir, CREATE_NAME, BIND. */
int nsf_attach(const char *run_dir, const char *name, int pid, int *step);

/* ip netns delete NAME: lazily unmount every mount stacked on
 * run_dir/name, then unlink it. A stale file with no mount is removed. A
 * file that someone else unlinks after our unmount counts as deleted.
 * Steps PATH_TOO_LONG, UNLINK_NAME. */
int nsf_delete(const char *run_dir, const char *name, int *step);

/* add/delete for names[0..n-1] on nthreads C threads (<= 0: one per CPU).
 * results[i] is 0 or -errno and steps[i] the failing step of names[i].
 * Returns the number of failed names, or -errno (at NSF_STEP_OPEN_THREAD_NET:
 * the only thing that stops a batch as a whole) when a batch that runs in
 * the calling thread cannot save the namespace to come back to. */
int nsf_add_many(const char *run_dir, const char *const *names, int n,
                 int nthreads, int *results, int *steps);
int nsf_delete_many(const char *run_dir, const char *const *names, int n,
                    int nthreads, int *results, int *steps);

/* CPUs this thread may run on (the default thread count of the batches). */
int nsf_cpu_count(void);
