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
