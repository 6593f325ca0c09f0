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

lib: _Lib
ffi: Any
