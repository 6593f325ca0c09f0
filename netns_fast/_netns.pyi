# Typed stub of the cffi extension built from csrc/ (see csrc/*.h).
from typing import Any, Final

class _Lib:
    NSF_STEP_NONE: Final[int]
    NSF_STEP_MKDIR: Final[int]
    NSF_STEP_OPEN_DIR: Final[int]
    NSF_STEP_MAKE_SHARED: Final[int]
    NSF_STEP_SELF_BIND: Final[int]
    NSF_STEP_MAKE_PRIVATE: Final[int]
    NSF_STEP_CREATE: Final[int]
    NSF_STEP_SAVE_NS: Final[int]
    NSF_STEP_UNSHARE: Final[int]
    NSF_STEP_BIND: Final[int]
    NSF_STEP_RESTORE_NS: Final[int]
    NSF_STEP_UNLINK: Final[int]
    NSF_STEP_PATH: Final[int]
    NSF_STEP_THREAD: Final[int]
    NSF_STEP_STAT: Final[int]
    def nsf_prepare_run_dir(self, run_dir: bytes, step: Any, /) -> int: ...
    def nsf_forget_run_dir(self, /) -> None: ...
    def nsf_flock_error(self, /) -> int: ...
    def nsf_add(self, run_dir: bytes, name: bytes, step: Any, /) -> int: ...
    def nsf_attach(
        self, run_dir: bytes, name: bytes, pid: int, step: Any, /
    ) -> int: ...
    def nsf_delete(self, run_dir: bytes, name: bytes, step: Any, /) -> int: ...
    def nsf_add_many(
        self,
        run_dir: bytes,
        names: Any,
        n: int,
        nthreads: int,
        results: Any,
        steps: Any,
        /,
    ) -> int: ...
    def nsf_delete_many(
        self,
        run_dir: bytes,
        names: Any,
        n: int,
        nthreads: int,
        results: Any,
        steps: Any,
        /,
    ) -> int: ...
    def nsf_cpu_count(self, /) -> int: ...
    # -- nsid (csrc/nsid.h) --
    NSF_STEP_NSID_OPEN_DIR: Final[int]
    NSF_STEP_NSID_READDIR: Final[int]
    NSF_STEP_NSID_SOCKET: Final[int]
    NSF_STEP_NSID_SEND: Final[int]
    NSF_STEP_NSID_RECV: Final[int]
    NSF_STEP_NSID_ALLOC: Final[int]
    NSF_STEP_NSID_OPEN: Final[int]
    NSF_STEP_NSID_QUERY: Final[int]
    NSF_STEP_NSID_PATH: Final[int]
    NSF_NSID_OK: Final[int]
    NSF_NSID_OPEN_FAILED: Final[int]
    NSF_NSID_QUERY_FAILED: Final[int]
    NSF_NSID_FIELDS: Final[int]
    NSF_NSID_MSG_MAX: Final[int]
    def nsf_nsid_list(self, run_dir: bytes, out: Any, step: Any, /) -> int: ...
    def nsf_nsid_list_free(self, lst: Any, /) -> None: ...
    def nsf_nsid_get(
        self,
        run_dir: bytes,
        name: bytes,
        nsid: Any,
        msg: Any,
        msg_size: int,
        step: Any,
        /,
    ) -> int: ...

    # -- csrc/exec.h (exec, -n, spawn) --
    NSF_STEP_OPEN_NS: Final[int]
    NSF_STEP_SETNS: Final[int]
    NSF_STEP_UNSHARE_NS: Final[int]
    NSF_STEP_RSLAVE: Final[int]
    NSF_STEP_SYSFS: Final[int]
    NSF_STEP_EXEC: Final[int]
    NSF_STEP_FORK: Final[int]
    NSF_STEP_PIPE: Final[int]
    NSF_STEP_STACK: Final[int]
    NSF_STEP_STDIO: Final[int]
    NSF_STEP_CHDIR: Final[int]
    NSF_STEP_KEEP_FD: Final[int]
    NSF_STEP_SETSID: Final[int]
    NSF_STEP_WAIT: Final[int]
    NSF_STEP_ENTER_MNT: Final[int]
    NSF_SPAWN_FULL: Final[int]
    NSF_SPAWN_CLOSE_FDS: Final[int]
    NSF_SPAWN_RESTORE_SIGNALS: Final[int]
    NSF_SPAWN_NEW_SESSION: Final[int]
    NSF_SPAWN_FORK: Final[int]
    def nsf_spawn(self, req: Any, step: Any, /) -> int: ...
    def nsf_exec(self, req: Any, step: Any, /) -> int: ...
    def nsf_switch(self, run_dir: bytes, name: bytes, step: Any, /) -> int: ...
    def nsf_enter_mnt(self, fd: int, step: Any, /) -> int: ...
    def nsf_spawn_loop(self, req: Any, n: int, step: Any, /) -> int: ...
    # -- farm (csrc/farm.h) -------------------------------------------------
    NSF_STEP_HANDLE_SAVE: Final[int]
    NSF_STEP_HANDLE_UNSHARE: Final[int]
    NSF_STEP_HANDLE_OPEN: Final[int]
    NSF_STEP_HANDLE_SETNS: Final[int]
    NSF_STEP_HANDLE_RESTORE: Final[int]
    NSF_STEP_HANDLE_VERIFY: Final[int]
    NSF_STEP_HANDLE_SOCKET: Final[int]
    NSF_STEP_HANDLE_LO_UP: Final[int]
    NSF_STEP_HANDLE_STAT: Final[int]
    NSF_STEP_HANDLE_NETLINK: Final[int]
    NSF_STEP_HANDLE_NSID: Final[int]
    NSF_STEP_HANDLE_PROBE: Final[int]
    NSF_STEP_HANDLE_OPEN_NS: Final[int]
    NSF_STEP_HANDLE_NOT_NS: Final[int]
    NSF_STEP_POOL_THREAD: Final[int]
    NSF_STEP_POOL_CLOSED: Final[int]
    NSF_STEP_POOL_TIMEOUT: Final[int]
    NSF_LO_UP: Final[int]
    def nsf_open_ns(self, path: bytes, step: Any, /) -> int: ...
    def nsf_anon_new(self, flags: int, ino: Any, step: Any, /) -> int: ...
    def nsf_enter(self, ns_fd: int, step: Any, /) -> int: ...
    def nsf_leave(self, saved_fd: int, step: Any, /) -> int: ...
    def nsf_socket_in(
        self, ns_fd: int, family: int, type: int, proto: int, step: Any, /
    ) -> int: ...
    def nsf_lo_up(self, ns_fd: int, step: Any, /) -> int: ...
    def nsf_probe_netns(self, step: Any, /) -> int: ...
    def nsf_thread_ns_ino(self, ino: Any, step: Any, /) -> int: ...
    def nsf_pool_open(self, cfg: Any, out: Any, step: Any, /) -> int: ...
    def nsf_pool_acquire(
        self, p: Any, timeout_ms: int, item: Any, step: Any, /
    ) -> int: ...
    def nsf_pool_release(self, p: Any, item: Any, /) -> int: ...
    def nsf_pool_stats(self, p: Any, st: Any, /) -> int: ...
    def nsf_pool_held_fds(self, p: Any, fds: Any, max: int, /) -> int: ...
    def nsf_pool_drain(self, p: Any, timeout_ms: int, /) -> int: ...
    def nsf_pool_close(self, p: Any, step: Any, /) -> int: ...
    def nsf_pool_free(self, p: Any, /) -> None: ...
    # -- procs (csrc/procs.h) --
    NSF_STEP_NS_OPEN: Final[int]
    NSF_STEP_NS_STAT: Final[int]
    NSF_STEP_PROC_OPEN: Final[int]
    NSF_STEP_PROC_READ: Final[int]
    NSF_STEP_SCAN_MEMORY: Final[int]
    NSF_STEP_RUN_DIR_OPEN: Final[int]
    NSF_STEP_INOTIFY_INIT: Final[int]
    NSF_STEP_WATCH_MKDIR: Final[int]
    NSF_STEP_INOTIFY_ADD_WATCH: Final[int]
    NSF_STEP_WATCH_READ: Final[int]
    NSF_STEP_WATCH_POLL: Final[int]
    NSF_STEP_EVENTFD: Final[int]
    NSF_STEP_NS_PATH: Final[int]
    def nsf_ns_key(
        self, path: bytes, dev: Any, ino: Any, step: Any, /
    ) -> int: ...
    def nsf_scan_pids(
        self,
        proc_dir: bytes,
        devs: Any,
        inos: Any,
        nkeys: int,
        nthreads: int,
        pids: Any,
        cap: int,
        counts: Any,
        step: Any,
        /,
    ) -> int: ...
    def nsf_stat_names(
        self,
        run_dir: bytes,
        names: bytes,
        n: int,
        devs: Any,
        inos: Any,
        step: Any,
        /,
    ) -> int: ...
    def nsf_identify(
        self, ns_path: bytes, run_dir: bytes, buf: Any, cap: int, step: Any, /
    ) -> int: ...
    def nsf_watch_open(self, run_dir: bytes, step: Any, /) -> int: ...
    def nsf_wake_fd(self, step: Any, /) -> int: ...
    def nsf_watch_read(
        self,
        watch_fd: int,
        wake_fd: int,
        timeout_ms: int,
        buf: Any,
        cap: int,
        step: Any,
        /,
    ) -> int: ...
    def nsf_wait_fd(self, fd: int, timeout_ms: int, /) -> int: ...
    def nsf_netns_ready(
        self, run_dir: bytes, name: bytes, step: Any, /
    ) -> int: ...

lib: _Lib
ffi: Any
