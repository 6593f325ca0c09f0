/* Processes and network namespaces: the /proc scanner behind pids and
 * identify, and the inotify watcher behind monitor.
 *
 * This file is both a C header (included by procs.c) and part of the cffi
 * cdef, so it holds declarations only: no preprocessor lines, no
 * definitions.
 *
 * A namespace is named by its key, the (st_dev, st_ino) pair that stat(2)
 * gives for a namespace file, as iproute2 compares them. Every function
 * returns >= 0 or -errno and, on failure, sets *step to the NSF_STEP_*
 * value (steps.h) of the syscall that failed. No function touches the
 * Python API or changes the namespaces of the calling thread.
 */

/* open(path, O_RDONLY) then fstat: the key of a namespace file, as ip's
 * identify and pids take it. Steps OPEN_NS, STAT_NS. */
int nsf_ns_key(const char *path, unsigned long long *dev,
               unsigned long long *ino, int *step);

/* One pass over proc_dir (normally "/proc"): for every entry made only of
 * digits (a process; threads are not listed), the network namespace of
 * PID/ns/net is compared with the keys (devs[k], inos[k]), k < nkeys,
 * which must be distinct. The per-process work is split over nthreads
 * threads (<= 0: chosen from the CPU and process counts).
 *
 * Matching pids are written to pids[] grouped by key, key 0 first, each
 * group in proc_dir order; counts[k] gets the size of group k. Processes
 * that exit during the scan, or that the caller may not inspect, are
 * skipped. Returns the number of matches; when that exceeds cap nothing is
 * written to pids[] and the caller calls again with a larger array.
 * Steps OPEN_PROC, READ_PROC, MALLOC. */
int nsf_scan_pids(const char *proc_dir, const unsigned long long *devs,
                  const unsigned long long *inos, int nkeys, int nthreads,
                  int *pids, int cap, int *counts, int *step);

/* stat(run_dir/NAME), following links, for the n names packed in names
 * (each NUL-terminated, one after the other): devs[i], inos[i] get the key
 * of name i, or 0, 0 when its stat fails (a vanished entry). Returns 0, or
 * -errno when run_dir cannot be opened (step OPEN_RUN_DIR). */
int nsf_stat_names(const char *run_dir, const char *names, int n,
                   unsigned long long *devs, unsigned long long *inos,
                   int *step);

/* ip netns identify: the names in run_dir whose stat (following links)
 * gives the key of the namespace file ns_path (e.g. /proc/PID/ns/net), in
 * directory order, written to buf one after the other, each ending in NUL.
 * Returns the number of bytes they take: when that exceeds cap, buf holds
 * only part of them and the caller calls again with a larger one. A
 * missing run_dir holds no names (0). Steps OPEN_NS (stat of ns_path),
 * OPEN_RUN_DIR, READ_RUN_DIR. */
int nsf_identify(const char *ns_path, const char *run_dir, char *buf,
                 int cap, int *step);

/* inotify_init1(IN_NONBLOCK | IN_CLOEXEC), mkdir(run_dir, 0755) (an
 * existing directory is fine), then a watch for IN_CREATE | IN_DELETE on
 * run_dir: ip netns monitor's setup. Returns the inotify fd.
 * Steps INOTIFY_INIT, MKDIR_RUN_DIR, INOTIFY_ADD_WATCH. */
int nsf_watch_open(const char *run_dir, int *step);

/* An eventfd (EFD_NONBLOCK | EFD_CLOEXEC): writing 8 bytes to it from any
 * thread wakes nsf_watch_read and nsf_wait_fd. Step EVENTFD. */
int nsf_wake_fd(int *step);

/* Wait up to timeout_ms (-1: forever; 0: do not wait) until watch_fd has
 * events or wake_fd (ignored when < 0) is readable, then read the events
 * into buf (cap >= 4096) as records: a kind byte, the name, a NUL. The
 * kinds: 'a' for IN_CREATE and 'd' for IN_DELETE (with the name), 'o' for
 * a queue overflow and 'x' for IN_IGNORED, the watch gone with run_dir
 * (both with an empty name). Other events are dropped. Returns the number
 * of bytes written, 0 on timeout or when only dropped events came,
 * -ECANCELED when woken through wake_fd (which is left readable), -EINTR
 * when a signal arrived, or -errno. Steps POLL, READ_INOTIFY. */
int nsf_watch_read(int watch_fd, int wake_fd, int timeout_ms, char *buf,
                   int cap, int *step);

/* poll(fd, POLLIN) for up to timeout_ms: 1 if readable, 0 on timeout,
 * -EINTR on a signal, -errno. */
int nsf_wait_fd(int fd, int timeout_ms);

/* Whether run_dir/name can be entered as a network namespace now: 1 when
 * it is an nsfs file of type CLONE_NEWNET, 0 when it is not (yet), e.g.
 * the empty file ip creates before its bind mount, -ENOENT when it is gone,
 * other -errno (step OPEN_NS or PATH_TOO_LONG) when it cannot be opened. */
int nsf_netns_ready(const char *run_dir, const char *name, int *step);
