# Typed stub of the cffi extension built from csrc/ (see csrc/*.h).
from typing import Any, Final

class _Lib:
    # -- csrc/steps.h: the one step enum --
    NSF_STEP_NONE: Final[int]
    NSF_STEP_MKDIR_RUN_DIR: Final[int]
    NSF_STEP_OPEN_RUN_DIR: Final[int]
    NSF_STEP_READ_RUN_DIR: Final[int]
    NSF_STEP_MAKE_SHARED: Final[int]
    NSF_STEP_SELF_BIND: Final[int]
    NSF_STEP_MAKE_PRIVATE: Final[int]
    NSF_STEP_PATH_TOO_LONG: Final[int]
    NSF_STEP_CREATE_NAME: Final[int]
    NSF_STEP_BIND: Final[int]
    NSF_STEP_UNLINK_NAME: Final[int]
    NSF_STEP_OPEN_THREAD_NET: Final[int]
    NSF_STEP_UNSHARE_NET: Final[int]
    NSF_STEP_OPEN_NS: Final[int]
    NSF_STEP_NOT_NETNS: Final[int]
    NSF_STEP_STAT_NS: Final[int]
    NSF_STEP_SETNS_NET: Final[int]
    NSF_STEP_RESTORE_NET: Final[int]
    NSF_STEP_VERIFY_NET: Final[int]
    NSF_STEP_SOCKET: Final[int]
    NSF_STEP_LO_UP: Final[int]
    NSF_STEP_SOCKET_NETLINK: Final[int]
    NSF_STEP_SEND_NETLINK: Final[int]
    NSF_STEP_RECV_NETLINK: Final[int]
    NSF_STEP_RTM_GETNSID: Final[int]
    NSF_STEP_OPEN_PROC: Final[int]
    NSF_STEP_READ_PROC: Final[int]
    NSF_STEP_INOTIFY_INIT: Final[int]
    NSF_STEP_INOTIFY_ADD_WATCH: Final[int]
    NSF_STEP_READ_INOTIFY: Final[int]
    NSF_STEP_POLL: Final[int]
    NSF_STEP_EVENTFD: Final[int]
    NSF_STEP_UNSHARE_MNT: Final[int]
    NSF_STEP_MAKE_RSLAVE: Final[int]
    NSF_STEP_MOUNT_SYSFS: Final[int]
    NSF_STEP_SETNS_MNT: Final[int]
    NSF_STEP_PIPE: Final[int]
    NSF_STEP_MMAP_STACK: Final[int]
    NSF_STEP_FORK: Final[int]
    NSF_STEP_WAIT: Final[int]
    NSF_STEP_SETSID: Final[int]
    NSF_STEP_DUP_STDIO: Final[int]
    NSF_STEP_CHDIR: Final[int]
    NSF_STEP_KEEP_FD: Final[int]
    NSF_STEP_EXEC: Final[int]
    NSF_STEP_THREADS: Final[int]
    NSF_STEP_UNSHARE_USER: Final[int]
    NSF_STEP_SETGROUPS: Final[int]
    NSF_STEP_UID_MAP: Final[int]
    NSF_STEP_GID_MAP: Final[int]
    NSF_STEP_MOUNT_TMPFS: Final[int]
    NSF_STEP_OPEN_TREE: Final[int]
    NSF_STEP_MOVE_MOUNT: Final[int]
    NSF_STEP_MALLOC: Final[int]
    NSF_STEP_PTHREAD_CREATE: Final[int]
    NSF_STEP_POOL_CONFIG: Final[int]
    NSF_STEP_POOL_CLOSED: Final[int]
    NSF_STEP_POOL_TIMEOUT: Final[int]
    NSF_STEP_WIRE_REQUEST: Final[int]
    NSF_STEP_RTM_NEWLINK: Final[int]
    NSF_STEP_RTM_DELLINK: Final[int]
    NSF_STEP_RTM_GETLINK: Final[int]
    NSF_STEP_RTM_NEWADDR: Final[int]
    NSF_STEP_RTM_DELADDR: Final[int]
    NSF_STEP_RTM_GETADDR: Final[int]
    NSF_STEP_RTM_NEWROUTE: Final[int]
    NSF_STEP_RTM_DELROUTE: Final[int]
    NSF_STEP_RTM_GETROUTE: Final[int]
    NSF_STEP_OPEN_SYSCTL: Final[int]
    NSF_STEP_READ_SYSCTL: Final[int]
    NSF_STEP_WRITE_SYSCTL: Final[int]
    NSF_STEP_WAIT_LINK: Final[int]
    # -- csrc/lifecycle.h (add, attach, delete, batches) --
    def nsf_prepare_run_dir(self, run_dir: bytes, step: Any, /) -> int: ...
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
    # -- csrc/nsid.h (list, list-id reads) --
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
    NSF_SPAWN_FULL: Final[int]
    NSF_SPAWN_CLOSE_FDS: Final[int]
    NSF_SPAWN_RESTORE_SIGNALS: Final[int]
    NSF_SPAWN_NEW_SESSION: Final[int]
    NSF_SPAWN_FORK: Final[int]
    NSF_SPAWN_NS_FD: Final[int]
    def nsf_spawn(self, req: Any, step: Any, /) -> int: ...
    def nsf_exec(self, req: Any, step: Any, /) -> int: ...
    def nsf_switch(self, run_dir: bytes, name: bytes, step: Any, /) -> int: ...
    def nsf_enter_mnt(self, fd: int, step: Any, /) -> int: ...
    # -- csrc/handle.h (anonymous namespaces, enter/leave, sockets) --
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
    # -- csrc/pool.h (the pool) --
    NSF_POOL_NODE_NAMED: Final[int]
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
    def nsf_pool_item_forget(self, item: Any, /) -> None: ...
    # -- csrc/wire.h (links, addresses, routes, sysctls) --
    NSF_WIRE_NAME_MAX: Final[int]
    NSF_WIRE_MAC_MAX: Final[int]
    NSF_WIRE_MSG_MAX: Final[int]
    NSF_WIRE_PAIR_REQS: Final[int]
    NSF_WIRE_VETH: Final[int]
    NSF_WIRE_DUMMY: Final[int]
    NSF_WIRE_BRIDGE: Final[int]
    NSF_WIRE_LINK_SET: Final[int]
    NSF_WIRE_LINK_RENAME: Final[int]
    NSF_WIRE_LINK_MOVE: Final[int]
    NSF_WIRE_LINK_DEL: Final[int]
    NSF_WIRE_LINK_GET: Final[int]
    NSF_WIRE_ADDR_ADD: Final[int]
    NSF_WIRE_ADDR_DEL: Final[int]
    NSF_WIRE_ROUTE_ADD: Final[int]
    NSF_WIRE_ROUTE_DEL: Final[int]
    NSF_WIRE_SYSCTL: Final[int]
    NSF_WIRE_WAIT_UP: Final[int]
    NSF_WIRE_KEEP: Final[int]
    NSF_WIRE_OWN_THREAD: Final[int]
    def nsf_wire_run(self, plan: Any, step: Any, /) -> int: ...
    def nsf_wire_pair(self, pair: Any, step: Any, /) -> int: ...
    def nsf_wire_pair_reqs(self, pair: Any, reqs: Any, /) -> int: ...
    def nsf_wire_build(self, b: Any, step: Any, /) -> int: ...
    def nsf_wire_run_many(
        self, plans: Any, n: int, nthreads: int, step: Any, /
    ) -> int: ...
    def nsf_wire_links(
        self, ns: Any, out: Any, cap: int, step: Any, /
    ) -> int: ...
    def nsf_wire_addrs(
        self, ns: Any, family: int, out: Any, cap: int, step: Any, /
    ) -> int: ...
    def nsf_wire_routes(
        self, ns: Any, family: int, out: Any, cap: int, step: Any, /
    ) -> int: ...
    def nsf_wire_anon_new(
        self, flags: int, ino: Any, rtnl: Any, step: Any, /
    ) -> int: ...
    # -- csrc/procs.h (pids, identify, monitor) --
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
    # -- csrc/rootless.h (the private world) --
    NSF_ROOTLESS_LO_UP: Final[int]
    def nsf_rootless_unshare(self, flags: int, step: Any, /) -> int: ...
    def nsf_thread_count(self, step: Any, /) -> int: ...
    def nsf_mount_tmpfs(self, path: bytes, step: Any, /) -> int: ...
    def nsf_clone_tree(
        self, dir_fd: int, path: bytes, step: Any, /
    ) -> int: ...
    def nsf_move_tree(
        self, tree_fd: int, dir_fd: int, path: bytes, step: Any, /
    ) -> int: ...
    def nsf_mount_sysfs(self, step: Any, /) -> int: ...

lib: _Lib
ffi: Any
