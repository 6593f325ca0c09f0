/* The /proc scanner and the inotify watcher (see procs.h for the contract).
 *
 * The scan reads /proc once with getdents64, keeping its directory fd, and
 * then looks at PID/ns/net relative to that fd for every process. That
 * per-process step is nearly all of the cost, so it is shared by several
 * threads, each claiming chunks of the entry list; results are stored per
 * entry, so the output keeps /proc order whatever thread did the work.
 *
 * Per process, readlinkat gives "net:[INODE]" without following the link
 * into nsfs (cheaper than stat, and the same permission check: both need
 * ptrace read access). Every network namespace file lives on the one nsfs
 * device, so (nsfs dev, INODE) is the key stat would give. When the link
 * text is not in that form (not procfs), the entry falls back to fstatat.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nsf.h"
#include "lifecycle.h"
#include "procs.h"

/* Entries one thread claims at a time. */
#define SCAN_CHUNK 64
/* Processes per thread below which another thread does not pay off. */
#define SCAN_PER_THREAD 500
#define SCAN_MAX_THREADS 64
#define DENTS_BUF (64 * 1024)
/* Raw inotify read size, as ip uses. */
#define WATCH_RAW 4096

#define NO_KEY (-1)

/* A key with the index the caller gave it, sorted for binary search. */
struct key {
    unsigned long long ino;
    unsigned long long dev;
    int index;
};

/* One process of the scan: its pid, then the key index it matched. */
struct proc_ent {
    int pid;
    int key;
};

/* A scan. While the calling thread still reads /proc, workers already
 * look at the entries it has published: ents never moves while they run
 * (it is sized from /proc's link count up front); if /proc grew past that,
 * the rest is read after the workers are done and scanned in a second
 * round. */
struct scan {
    int pfd;
    struct proc_ent *ents;
    int n;                 /* entries read so far (the reader's count) */
    int cap;               /* room in ents */
    int est;               /* processes /proc's link count announced */
    int *over;             /* pids read once ents was full (reader only) */
    int nover, capover;
    atomic_int published;  /* entries workers may look at */
    atomic_int reading;    /* 1 while the reader may publish more */
    struct key *keys;
    int nkeys;
    unsigned long long nsfs_dev;
    int have_nsfs;
    atomic_int next;
};

int nsf_ns_key(const char *path, unsigned long long *dev,
               unsigned long long *ino, int *step)
{
    struct stat st;
    int fd, rc = 0;

    *step = NSF_STEP_NONE;
    /* O_NONBLOCK: a FIFO in the run directory must not hang the caller. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return nsf_fail(step, NSF_STEP_OPEN_NS);
    if (fstat(fd, &st) < 0) {
        rc = nsf_fail(step, NSF_STEP_STAT_NS);
    } else {
        *dev = (unsigned long long)st.st_dev;
        *ino = (unsigned long long)st.st_ino;
    }
    close(fd);
    return rc;
}

static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;

    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return 0;
}

static int find_key(const struct scan *s, unsigned long long dev,
                    unsigned long long ino)
{
    struct key probe = {ino, dev, 0};
    const struct key *hit;

    hit = bsearch(&probe, s->keys, (size_t)s->nkeys, sizeof(*s->keys),
                  key_cmp);
    return hit ? hit->index : NO_KEY;
}

/* "PID/ns/net" into buf (>= 24 bytes). */
static void ns_net_path(char *buf, int pid)
{
    char digits[12];
    int n = 0;

    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0);
    while (n > 0)
        *buf++ = digits[--n];
    memcpy(buf, "/ns/net", sizeof("/ns/net"));
}

/* "net:[123]" -> 123; 0 when the text is not in that form. */
static unsigned long long parse_ns_link(const char *text, ssize_t len)
{
    unsigned long long ino = 0;
    ssize_t i;

    if (len < 7 || memcmp(text, "net:[", 5) != 0 || text[len - 1] != ']')
        return 0;
    for (i = 5; i < len - 1; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        ino = ino * 10 + (unsigned long long)(text[i] - '0');
    }
    return ino;
}

/* The key index the network namespace of process pid matches, or NO_KEY
 * (no match, the process is gone, or it may not be inspected). */
static int entry_key(const struct scan *s, int pid)
{
    char path[32], link[64];
    unsigned long long ino;
    struct stat st;
    ssize_t len;

    ns_net_path(path, pid);
    if (s->have_nsfs) {
        len = readlinkat(s->pfd, path, link, sizeof(link));
        if (len < 0 && errno != EINVAL)
            return NO_KEY;
        ino = len > 0 ? parse_ns_link(link, len) : 0;
        if (ino != 0)
            return find_key(s, s->nsfs_dev, ino);
    }
    if (fstatat(s->pfd, path, &st, 0) < 0)
        return NO_KEY;
    return find_key(s, (unsigned long long)st.st_dev,
                    (unsigned long long)st.st_ino);
}

/* Claim chunks of entries and look each one up. A chunk past what the
 * reader has published is waited for while the reader is still going. */
static void *scan_worker(void *arg)
{
    struct scan *s = arg;
    int i, end, avail;

    for (;;) {
        i = atomic_fetch_add(&s->next, SCAN_CHUNK);
        for (;;) {
            int still = atomic_load(&s->reading);

            avail = atomic_load(&s->published);
            if (avail >= i + SCAN_CHUNK || !still)
                break;
            sched_yield();
        }
        if (i >= avail)
            return NULL;
        end = i + SCAN_CHUNK < avail ? i + SCAN_CHUNK : avail;
        for (; i < end; i++)
            s->ents[i].key = entry_key(s, s->ents[i].pid);
    }
}

/* A dirent name made only of digits, as a pid; -1 for anything else. */
static int pid_of(const char *name)
{
    long long v = 0;
    int len = 0;

    for (; name[len]; len++) {
        if (name[len] < '0' || name[len] > '9' || len >= 10)
            return -1;
        v = v * 10 + (name[len] - '0');
    }
    return (len == 0 || v > INT_MAX) ? -1 : (int)v;
}

/* One more pid: into ents while there is room (workers may be reading
 * it, so it never moves then), else into the reader's own overflow list. */
static int add_pid_entry(struct scan *s, const char *name)
{
    int pid = pid_of(name);

    if (pid < 0)
        return 0;
    if (s->n < s->cap) {
        s->ents[s->n].pid = pid;
        s->ents[s->n].key = NO_KEY;
        s->n++;
        return 0;
    }
    if (s->nover == s->capover) {
        int ncap = s->capover ? s->capover * 2 : 1024;
        int *more = realloc(s->over, sizeof(*more) * (size_t)ncap);

        if (!more)
            return -ENOMEM;
        s->over = more;
        s->capover = ncap;
    }
    s->over[s->nover++] = pid;
    return 0;
}

/* Move the overflow list to the end of ents (no worker runs now). */
static int take_overflow(struct scan *s)
{
    struct proc_ent *more;
    int i;

    more = realloc(s->ents, sizeof(*more) * (size_t)(s->n + s->nover));
    if (!more)
        return -ENOMEM;
    s->ents = more;
    for (i = 0; i < s->nover; i++) {
        s->ents[s->n + i].pid = s->over[i];
        s->ents[s->n + i].key = NO_KEY;
    }
    s->n += s->nover;
    s->cap = s->n;
    s->nover = 0;
    return 0;
}

/* Read the all-digit entries of s->pfd, in order, publishing those in
 * ents at the end of every getdents64 batch. 0 or -errno. */
static int read_pids(struct scan *s, char *buf, size_t size)
{
    struct nsf_dir d;
    const char *name;
    int err = 0, rc = 0;

    nsf_dir_init(&d, s->pfd, buf, size);
    while (rc == 0 && (name = nsf_dir_next(&d, &err))) {
        rc = add_pid_entry(s, name);
        if (nsf_dir_batch_done(&d))
            atomic_store(&s->published, s->n);
    }
    atomic_store(&s->published, s->n);
    return rc < 0 ? rc : err;
}

static int auto_threads(int n)
{
    int want = 1 + n / SCAN_PER_THREAD, cpus = nsf_cpu_count();

    return want < cpus ? want : cpus;
}

/* Read /proc and scan it on nthreads threads (0: chosen from /proc's
 * size), the calling one included: the other threads start at once and
 * scan what the calling thread has read while it reads on. */
static int read_and_scan(struct scan *s, int nthreads, int *step)
{
    pthread_t tids[SCAN_MAX_THREADS];
    char *buf = malloc(DENTS_BUF);
    int i, rc, started = 0;

    if (!buf)
        return nsf_set_step(step, NSF_STEP_MALLOC, -ENOMEM);
    if (nthreads <= 0)
        nthreads = auto_threads(s->est);
    if (nthreads > SCAN_MAX_THREADS)
        nthreads = SCAN_MAX_THREADS;
    atomic_store(&s->reading, 1);
    for (i = 1; i < nthreads; i++)
        if (pthread_create(&tids[started], NULL, scan_worker, s) == 0)
            started++;
    /* Small batches first, so that the workers get going early. */
    rc = read_pids(s, buf, started ? DENTS_BUF / 8 : DENTS_BUF);
    atomic_store(&s->reading, 0);
    scan_worker(s);
    for (i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    /* /proc outgrew ents: scan the rest now that no worker runs. */
    if (rc == 0 && s->nover > 0) {
        int from = s->n;

        rc = take_overflow(s);
        if (rc == 0) {
            atomic_store(&s->published, s->n);
            atomic_store(&s->next, from);
            scan_worker(s);
        }
    }
    free(buf);
    if (rc == -ENOMEM)
        return nsf_set_step(step, NSF_STEP_MALLOC, rc);
    return rc < 0 ? nsf_set_step(step, NSF_STEP_READ_PROC, rc) : 0;
}

static int setup_keys(struct scan *s, const unsigned long long *devs,
                      const unsigned long long *inos, int nkeys)
{
    struct stat st;
    int k;

    s->keys = malloc(sizeof(*s->keys) * (size_t)nkeys);
    if (!s->keys)
        return -ENOMEM;
    for (k = 0; k < nkeys; k++) {
        s->keys[k].dev = devs[k];
        s->keys[k].ino = inos[k];
        s->keys[k].index = k;
    }
    qsort(s->keys, (size_t)nkeys, sizeof(*s->keys), key_cmp);
    s->nkeys = nkeys;
    /* The nsfs device, for keys read from the link text. */
    if (stat(NSF_THREAD_NS_NET, &st) == 0) {
        s->nsfs_dev = (unsigned long long)st.st_dev;
        s->have_nsfs = 1;
    }
    return 0;
}

/* Group the matches by key (counting sort, stable in /proc order). */
static int collect(const struct scan *s, int *pids, int cap, int *counts)
{
    int *offsets, i, total = 0;

    for (i = 0; i < s->nkeys; i++)
        counts[i] = 0;
    for (i = 0; i < s->n; i++)
        if (s->ents[i].key != NO_KEY)
            counts[s->ents[i].key]++;
    for (i = 0; i < s->nkeys; i++)
        total += counts[i];
    if (total > cap)
        return total;
    offsets = malloc(sizeof(*offsets) * (size_t)s->nkeys);
    if (!offsets)
        return -ENOMEM;
    for (i = 0, total = 0; i < s->nkeys; i++) {
        offsets[i] = total;
        total += counts[i];
    }
    for (i = 0; i < s->n; i++)
        if (s->ents[i].key != NO_KEY)
            pids[offsets[s->ents[i].key]++] = s->ents[i].pid;
    free(offsets);
    return total;
}

int nsf_scan_pids(const char *proc_dir, const unsigned long long *devs,
                  const unsigned long long *inos, int nkeys, int nthreads,
                  int *pids, int cap, int *counts, int *step)
{
    struct scan s;
    int rc;

    *step = NSF_STEP_NONE;
    memset(&s, 0, sizeof(s));
    if (nkeys <= 0)
        return 0;
    s.pfd = open(proc_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s.pfd < 0)
        return nsf_fail(step, NSF_STEP_OPEN_PROC);
    rc = setup_keys(&s, devs, inos, nkeys);
    if (rc == 0) {
        struct stat st;

        /* procfs counts one link per process: room for all, and some. */
        if (fstat(s.pfd, &st) == 0 && st.st_nlink < 1000000)
            s.est = (int)st.st_nlink;
        s.cap = 1024 + s.est + s.est / 8;
        s.ents = malloc(sizeof(*s.ents) * (size_t)s.cap);
        if (!s.ents)
            rc = -ENOMEM;
    }
    if (rc < 0)
        rc = nsf_set_step(step, NSF_STEP_MALLOC, rc);
    else
        rc = read_and_scan(&s, nthreads, step);
    if (rc == 0) {
        rc = collect(&s, pids, cap, counts);
        if (rc < 0)
            rc = nsf_set_step(step, NSF_STEP_MALLOC, rc);
    }
    close(s.pfd);
    free(s.ents);
    free(s.over);
    free(s.keys);
    return rc;
}

int nsf_stat_names(const char *run_dir, const char *names, int n,
                   unsigned long long *devs, unsigned long long *inos,
                   int *step)
{
    struct stat st;
    int dfd, i;

    *step = NSF_STEP_NONE;
    dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return nsf_fail(step, NSF_STEP_OPEN_RUN_DIR);
    for (i = 0; i < n; i++) {
        if (fstatat(dfd, names, &st, 0) == 0) {
            devs[i] = (unsigned long long)st.st_dev;
            inos[i] = (unsigned long long)st.st_ino;
        } else {
            devs[i] = inos[i] = 0;
        }
        names += strlen(names) + 1;
    }
    close(dfd);
    return 0;
}

struct name_matcher {
    int dfd;
    struct stat want;
    char *buf;
    int cap;
    int used;
};

/* Note name when it is bound to the namespace m is looking for. */
static void match_name(struct name_matcher *m, const char *name)
{
    struct stat st;
    int len;

    if (fstatat(m->dfd, name, &st, 0) < 0 || st.st_dev != m->want.st_dev ||
        st.st_ino != m->want.st_ino)
        return;
    len = (int)strlen(name) + 1;
    if (m->used + len <= m->cap)
        memcpy(m->buf + m->used, name, (size_t)len);
    m->used += len;
}

int nsf_identify(const char *ns_path, const char *run_dir, char *buf,
                 int cap, int *step)
{
    struct name_matcher m = {-1, {0}, buf, cap, 0};
    union {
        char bytes[8192];
        uint64_t align;
    } dents;
    struct nsf_dir d;
    const char *name;
    int err;

    *step = NSF_STEP_NONE;
    /* stat, where ip opens and fstats: the same check and errors, and
     * fewer syscalls. */
    if (stat(ns_path, &m.want) < 0)
        return nsf_fail(step, NSF_STEP_OPEN_NS);
    m.dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m.dfd < 0)
        return errno == ENOENT ? 0 : nsf_fail(step, NSF_STEP_OPEN_RUN_DIR);
    nsf_dir_init(&d, m.dfd, dents.bytes, sizeof(dents));
    while ((name = nsf_dir_next(&d, &err)))
        match_name(&m, name);
    close(m.dfd);
    return err < 0 ? nsf_set_step(step, NSF_STEP_READ_RUN_DIR, err) : m.used;
}

int nsf_watch_open(const char *run_dir, int *step)
{
    int fd, rc;

    *step = NSF_STEP_NONE;
    fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return nsf_fail(step, NSF_STEP_INOTIFY_INIT);
    if (mkdir(run_dir, 0755) < 0 && errno != EEXIST) {
        rc = nsf_fail(step, NSF_STEP_MKDIR_RUN_DIR);
        close(fd);
        return rc;
    }
    if (inotify_add_watch(fd, run_dir, IN_CREATE | IN_DELETE) < 0) {
        rc = nsf_fail(step, NSF_STEP_INOTIFY_ADD_WATCH);
        close(fd);
        return rc;
    }
    return fd;
}

int nsf_wake_fd(int *step)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    *step = NSF_STEP_NONE;
    return fd < 0 ? nsf_fail(step, NSF_STEP_EVENTFD) : fd;
}

/* One inotify event as a record at out: kind, name, NUL; bytes written. */
static int put_record(char *out, const struct inotify_event *ev)
{
    char kind;
    size_t len;

    if (ev->mask & IN_Q_OVERFLOW)
        kind = 'o';
    else if (ev->mask & IN_IGNORED)
        kind = 'x';
    else if (ev->mask & IN_CREATE)
        kind = 'a';
    else if (ev->mask & IN_DELETE)
        kind = 'd';
    else
        return 0;
    len = (kind == 'a' || kind == 'd') ? strnlen(ev->name, ev->len) : 0;
    out[0] = kind;
    memcpy(out + 1, ev->name, len);
    out[1 + len] = '\0';
    return (int)len + 2;
}

int nsf_watch_read(int watch_fd, int wake_fd, int timeout_ms, char *buf,
                   int cap, int *step)
{
    char raw[WATCH_RAW]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    struct pollfd fds[2] = {{watch_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    ssize_t len, off;
    int rc, out = 0;

    *step = NSF_STEP_NONE;
    if (cap < WATCH_RAW)
        return nsf_set_step(step, NSF_STEP_READ_INOTIFY, -EINVAL);
    rc = poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
    if (rc < 0)
        return nsf_fail(step, NSF_STEP_POLL);
    if (rc == 0)
        return 0;
    if (wake_fd >= 0 && fds[1].revents)
        return -ECANCELED;
    if (fds[0].revents & POLLNVAL)
        return nsf_set_step(step, NSF_STEP_POLL, -EBADF);
    len = read(watch_fd, raw, sizeof(raw));
    if (len < 0)
        return errno == EAGAIN ? 0 : nsf_fail(step, NSF_STEP_READ_INOTIFY);
    /* A record is never longer than the event it comes from. */
    for (off = 0; off < len;) {
        const struct inotify_event *ev =
            (const struct inotify_event *)(raw + off);
        out += put_record(buf + out, ev);
        off += (ssize_t)sizeof(*ev) + ev->len;
    }
    return out;
}

int nsf_wait_fd(int fd, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);

    if (rc < 0)
        return -errno;
    return rc > 0 ? 1 : 0;
}

int nsf_netns_ready(const char *run_dir, const char *name, int *step)
{
    char path[PATH_MAX];
    int fd;

    *step = NSF_STEP_NONE;
    if (nsf_join(path, run_dir, name) < 0)
        return nsf_set_step(step, NSF_STEP_PATH_TOO_LONG, -ENAMETOOLONG);
    fd = nsf_open_ns_file(path, NSF_STEP_NOT_NETNS, step);
    if (fd == -EINVAL && *step == NSF_STEP_NOT_NETNS) {
        *step = NSF_STEP_NONE; /* not (yet) a network namespace */
        return 0;
    }
    if (fd < 0)
        return fd;
    close(fd);
    return 1;
}
