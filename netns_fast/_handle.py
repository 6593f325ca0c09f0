"""Namespace handles, per-thread enter, run_in and socket.

A :class:`Netns` holds a network namespace by an open fd: a named one
(RUN_DIR/NAME) or an anonymous one, which has no name and no mount and is
about half the cost to make (no bind mount). Handles made by netns_fast
(:meth:`Netns.new`, :meth:`Netns.create`, :class:`~netns_fast.Pool`) own
their namespace: closing them removes the name, if any. Handles opened on an
existing namespace only close their fd.

:func:`enter` moves the *calling thread* (not the process) into a namespace
and back, checking by inode that the move back worked; a failure raises
:class:`~netns_fast.NamespaceRestoreError`, and the thread refuses to enter
anything until an outer level has put it back where it belongs.
"""

from __future__ import annotations

import os
import socket as _socket
import threading
from typing import TYPE_CHECKING, Any, Optional, TypeVar, Union, cast

from . import _sys, _wire
from ._names import (
    check_pid,
    encode_name,
    is_path,
    own_pid,
    run_dir_bytes,
)
from ._owner import proc_pid
from ._procs import kill_all
from ._resource import Resource
from .exceptions import NamespaceRestoreError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType

    from ._names import Name
    from ._wire import Address, AddressLike, Link, NetworkLike, Route

T = TypeVar("T")

NsLike = Union[
    "Netns", str, bytes, "os.PathLike[str]", "os.PathLike[bytes]", int
]
"""A namespace argument: a handle, a name in the run directory, the path
of a namespace file (a str or bytes with a "/", or a path object), or an
fd."""

PeerLike = Union["Netns", str, bytes, int, None]
"""The other namespace of a veth or a move: a handle, a name in the run
directory, an fd, or None for the calling thread's own namespace."""


class Netns(Resource):
    """A network namespace held by an fd.

    Use the constructors :meth:`new`, :meth:`create`, :meth:`open`,
    :meth:`from_path`, :meth:`from_pid` and :meth:`current`, or a
    :class:`~netns_fast.Pool`. A handle is a context manager that closes it.

    Keep a reference to an owned handle while its name is needed: one that
    nothing refers to any more (``Netns.create("web")`` as a bare
    statement, a variable bound to another handle) is closed by the
    garbage collector, with a ResourceWarning, and its name is deleted.
    """

    __slots__ = (
        "__weakref__",
        "_closed",
        "_dev",
        "_fd",
        "_ino",
        "_lock",
        "_name",
        "_owned",
        "_pid",
        "_release",
        "_run_dir",
        "_wire",
    )

    def __init__(
        self,
        fd: int,
        *,
        name: Optional[bytes] = None,
        run_dir: Optional[bytes] = None,
        owned: bool = False,
        ino: Optional[int] = None,
        release: Optional[Callable[[Netns], None]] = None,
    ) -> None:
        """Wrap an open namespace fd (taken over: close() closes it).

        Prefer the named constructors; this one is for fds you already
        have. ``owned`` handles delete RUN_DIR/NAME when closed. With
        ``ino`` given the fd is not stat'ed (its device is read when first
        asked for). ``release``, if given, is called with the handle by
        :meth:`close` in place of deleting the name and closing the fd,
        and takes both over: a pool gives its namespaces back this way.
        """
        if ino is None:
            st = os.fstat(fd)
            dev, ino = st.st_dev, st.st_ino
        else:
            dev = 0
        self._fd = fd
        self._dev = dev
        self._ino = ino
        self._name = name
        self._run_dir = run_dir
        self._owned = owned
        self._release = release
        self._pid = own_pid()
        self._closed = False
        self._lock = threading.Lock()
        self._wire: Optional[_wire.Socket] = None

    # -- constructors --------------------------------------------------------

    @classmethod
    def new(cls, *, lo_up: bool = True) -> Netns:
        """A new anonymous namespace (loopback up unless ``lo_up=False``).

        The handle holds two fds: the namespace's, and the rtnetlink
        socket its wiring methods use, made while the thread was inside
        (so wiring it needs no helper thread).
        """
        return cls._held(*_sys.wire_anon_new(lo_up))

    @classmethod
    def _held(cls, fd: int, ino: int, rtnl: int) -> Netns:
        """The handle of an anonymous namespace made here: its fd, inode
        and rtnetlink socket made inside (both taken over)."""
        try:
            handle = cls(fd, owned=True, ino=ino)
        except BaseException:
            os.close(rtnl)
            os.close(fd)
            raise
        handle._wire = _wire.Socket(rtnl)
        return handle

    @classmethod
    def create(
        cls, name: Name, *, run_dir: Optional[Name] = None, lo_up: bool = True
    ) -> Netns:
        """A new namespace bound at RUN_DIR/NAME (as ``ip netns add``).

        Closing the handle deletes the name (``ip netns delete``).
        """
        rd = run_dir_bytes(run_dir)
        raw = encode_name(name)
        _sys.add(rd, raw)
        try:
            handle = cls._open_path(rd + b"/" + raw, raw, rd, owned=True)
        except BaseException:
            _sys.delete(rd, raw)
            raise
        if lo_up:
            try:
                _sys.lo_up(handle._fd)
            except BaseException:
                handle.close()
                raise
        return handle

    @classmethod
    def open(cls, name: Name, *, run_dir: Optional[Name] = None) -> Netns:
        """A handle on the existing namespace RUN_DIR/NAME (not owned).

        Raises NamespaceNotFoundError for no such name, and
        NotANamespaceError for an entry that is no namespace (a stale
        file, a FIFO: the open never blocks).
        """
        rd = run_dir_bytes(run_dir)
        raw = encode_name(name)
        return cls._open_path(rd + b"/" + raw, raw, rd, owned=False)

    @classmethod
    def from_path(cls, path: Name) -> Netns:
        """A handle on the namespace file at ``path`` (not owned); errors
        as for :meth:`open`."""
        return cls._open_path(os.fsencode(path), None, None, owned=False)

    @classmethod
    def from_pid(cls, pid: int) -> Netns:
        """A handle on the network namespace of process ``pid`` (the pid
        as /proc shows it: /proc/PID/ns/net)."""
        return cls.from_path(f"/proc/{check_pid(pid)}/ns/net")

    @classmethod
    def current(cls) -> Netns:
        """A handle on the calling thread's network namespace."""
        return cls.from_path(_sys.THREAD_NS_NET)

    @classmethod
    def _open_path(
        cls,
        path: bytes,
        name: Optional[bytes],
        run_dir: Optional[bytes],
        *,
        owned: bool,
    ) -> Netns:
        fd = _sys.open_ns(path)
        try:
            return cls(fd, name=name, run_dir=run_dir, owned=owned)
        except BaseException:
            os.close(fd)
            raise

    # -- properties ----------------------------------------------------------

    @property
    def name(self) -> Optional[str]:
        """The name in the run directory, or None for an anonymous one."""
        return None if self._name is None else os.fsdecode(self._name)

    @property
    def run_dir(self) -> Optional[str]:
        """The run directory of a named namespace, else None."""
        rd = self._run_dir
        return None if rd is None else os.fsdecode(rd)

    @property
    def path(self) -> str:
        """A path that opens this namespace.

        RUN_DIR/NAME for a named one; ``/proc/PID/fd/FD`` of this process
        for an anonymous one (valid while the handle is open; usable with
        ``nsenter --net=PATH``). PID is this process's pid as /proc shows
        it, which differs from os.getpid() in a pid namespace that uses
        its parent's /proc.
        """
        if self._name is not None and self._run_dir is not None:
            return os.fsdecode(self._run_dir + b"/" + self._name)
        return f"/proc/{proc_pid()}/fd/{self.fileno()}"

    @property
    def inode(self) -> int:
        """The namespace's inode (as in ``readlink /proc/PID/ns/net``)."""
        return self._ino

    @property
    def dev(self) -> int:
        """The device of the namespace file system (nsfs)."""
        if not self._dev:
            self._dev = os.fstat(self.fileno()).st_dev
        return self._dev

    @property
    def nsid(self) -> Optional[int]:
        """The nsid the caller's current namespace gave this one, or None.

        Asked of the kernel on every access (RTM_GETNSID): ids can be
        assigned at any time (``ip netns set``), and each namespace has its
        own view.
        """
        # The fd's magic link reopens the namespace file, so this works for
        # anonymous handles too.
        nsid = _sys.nsid_get(b"/proc/self/fd", b"%d" % self.fileno())
        return None if nsid < 0 else nsid

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._closed

    @property
    def owned(self) -> bool:
        """True when closing this handle deletes the namespace's name."""
        return self._owned

    @property
    def anonymous(self) -> bool:
        """True when the namespace has no name (held by the fd only)."""
        return self._name is None

    def fileno(self) -> int:
        """The namespace fd (ValueError once closed)."""
        if self._closed:
            raise ValueError("operation on a closed Netns handle")
        return self._fd

    # -- wiring (netns_fast._wire) --------------------------------------------

    def _endpoint(self) -> _wire.Endpoint:
        """This namespace for a wiring plan, with the rtnetlink socket the
        handle keeps (made inside on first use, closed with the handle)."""
        fd = self.fileno()
        sock = self._wire
        if sock is None:
            with self._lock:
                if self._closed:
                    raise ValueError("operation on a closed Netns handle")
                if self._wire is None:
                    self._wire = _wire.Socket()
                sock = self._wire
        # The path is made only when an error names it.
        return _wire.Endpoint(fd, sock, self._path_of)

    def _path_of(self) -> str:
        return self.path

    def veth(
        self,
        peer: PeerLike,
        name: str,
        peer_name: str,
        *,
        addrs: Optional[tuple[AddressLike, AddressLike]] = None,
        mtu: Optional[int] = None,
        mac: Optional[str] = None,
        peer_mac: Optional[str] = None,
        up: bool = True,
    ) -> tuple[Link, Link]:
        """A veth pair: ``name`` here, ``peer_name`` in ``peer``.

        Made by one RTM_NEWLINK with both ends placed directly (nothing
        appears in the caller's namespace), both up unless ``up=False``,
        ``mtu`` on both ends, ``addrs`` (this end's, the peer's) added
        (IPv6 without DAD). Returns the two ends' records. A failure
        leaves nothing made behind.
        """
        with _Peer(peer) as other:
            return _wire.veth(
                self._endpoint(),
                other.ep,
                name,
                peer_name,
                addrs=addrs,
                mtu=mtu,
                mac=mac,
                peer_mac=peer_mac,
                up=up,
            )

    def bridge(
        self,
        name: str,
        *,
        ports: Iterable[str] = (),
        addrs: Iterable[AddressLike] = (),
        mtu: Optional[int] = None,
        mac: Optional[str] = None,
        up: bool = True,
    ) -> Link:
        """A bridge, with the links ``ports`` attached and ``addrs``
        added; its record."""
        return _wire.device(
            self._endpoint(),
            "bridge",
            name,
            ports=ports,
            addrs=addrs,
            mtu=mtu,
            mac=mac,
            up=up,
        )

    def dummy(
        self,
        name: str,
        *,
        addrs: Iterable[AddressLike] = (),
        mtu: Optional[int] = None,
        mac: Optional[str] = None,
        up: bool = True,
    ) -> Link:
        """A dummy device with ``addrs``; its record. Needs the kernel's
        dummy driver (else ``Unknown device type``, EOPNOTSUPP)."""
        return _wire.device(
            self._endpoint(),
            "dummy",
            name,
            addrs=addrs,
            mtu=mtu,
            mac=mac,
            up=up,
        )

    def bridge_attach(self, port: str, bridge: str) -> None:
        """Make link ``port`` a port of ``bridge`` (ip link set PORT
        master BRIDGE)."""
        ep = self._endpoint()
        _wire.one(lambda p: p.link_set(ep, port, master=bridge))

    def bridge_detach(self, port: str) -> None:
        """Take link ``port`` out of its bridge (ip link set PORT
        nomaster)."""
        ep = self._endpoint()
        _wire.one(lambda p: p.link_set(ep, port, master=""))

    def link(self, name: str) -> Link:
        """The record of link ``name``."""
        return _wire.read_link(self._endpoint(), name)

    def links(self) -> list[Link]:
        """Every link of the namespace (ip link show), by index."""
        return _wire.links(self._endpoint())

    def link_up(self, name: str) -> None:
        """Set link ``name`` up (ip link set NAME up)."""
        ep = self._endpoint()
        _wire.one(lambda p: p.link_set(ep, name, up=True))

    def link_down(self, name: str) -> None:
        """Set link ``name`` down."""
        ep = self._endpoint()
        _wire.one(lambda p: p.link_set(ep, name, up=False))

    def link_set_mtu(self, name: str, mtu: int) -> None:
        """Set the MTU of link ``name`` (the kernel checks the kind's
        range: EINVAL, e.g. ``mtu greater than device maximum``)."""
        ep = self._endpoint()
        _wire.one(lambda p: p.link_set(ep, name, mtu=mtu))

    def link_set_mac(self, name: str, mac: str) -> None:
        """Set the MAC address of link ``name``."""
        ep = self._endpoint()
        _wire.one(lambda p: p.link_set(ep, name, mac=mac))

    def link_rename(self, name: str, new_name: str) -> None:
        """Rename link ``name``."""
        ep = self._endpoint()
        _wire.one(lambda p: p.link_rename(ep, name, new_name))

    def link_move(
        self, name: str, target: PeerLike, new_name: Optional[str] = None
    ) -> None:
        """Move link ``name`` into ``target`` (as ``new_name`` if given;
        ip link set NAME netns TARGET). It arrives down."""
        ep = self._endpoint()
        with _Peer(target) as other:
            _wire.one(lambda p: p.link_move(ep, name, other.ep, new_name))

    def link_delete(self, name: str) -> None:
        """Delete link ``name`` (a veth: both ends)."""
        ep = self._endpoint()
        _wire.one(lambda p: p.link_delete(ep, name))

    def addr_add(
        self, link: str, cidr: AddressLike, *, nodad: bool = True
    ) -> None:
        """Add address ``cidr`` ("10.0.0.1/24", "fd00::1/64") to
        ``link``; IPv6 without duplicate address detection unless
        ``nodad=False``."""
        ep = self._endpoint()
        _wire.one(lambda p: p.addr_add(ep, link, cidr, nodad=nodad))

    def addr_del(self, link: str, cidr: AddressLike) -> None:
        """Remove address ``cidr`` from ``link``."""
        ep = self._endpoint()
        _wire.one(lambda p: p.addr_del(ep, link, cidr))

    def addrs(
        self, link: Optional[str] = None, *, family: Optional[int] = None
    ) -> list[Address]:
        """The addresses of the namespace, or of ``link`` (ip addr
        show); ``family`` socket.AF_INET or AF_INET6 for one."""
        return _wire.addrs(self._endpoint(), link, family)

    def route_add(
        self,
        dst: NetworkLike,
        *,
        via: Optional[str] = None,
        dev: Optional[str] = None,
        metric: Optional[int] = None,
        src: Optional[str] = None,
        table: Optional[int] = None,
    ) -> None:
        """Add a route to ``dst`` ("default", "10.1.0.0/24",
        "fd01::/64") via a gateway and/or out of a device, as ip route
        add does (main table unless ``table``)."""
        ep = self._endpoint()
        _wire.one(
            lambda p: p.route(
                ep, dst, via=via, dev=dev, metric=metric, src=src, table=table
            )
        )

    def route_del(
        self,
        dst: NetworkLike,
        *,
        via: Optional[str] = None,
        dev: Optional[str] = None,
        table: Optional[int] = None,
        metric: Optional[int] = None,
    ) -> None:
        """Remove the route to ``dst`` (the fields given must match)."""
        ep = self._endpoint()
        _wire.one(
            lambda p: p.route(
                ep,
                dst,
                delete=True,
                via=via,
                dev=dev,
                metric=metric,
                table=table,
            )
        )

    def routes(
        self,
        *,
        family: Optional[int] = None,
        table: Optional[int] = _wire.TABLE_MAIN,
    ) -> list[Route]:
        """The routes of the main table (ip route show), of ``table``,
        or of every table (``table=None``)."""
        return _wire.routes(self._endpoint(), family, table)

    def sysctl(
        self, key: str, value: Optional[Union[str, int, bool]] = None
    ) -> str:
        """A network sysctl of this namespace ("net.ipv4.ip_forward", or
        a path "net/ipv4/conf/eth0.1/forwarding"): written first when
        ``value`` is given, then read (returned without its newline).
        The file is opened inside the namespace by a helper thread: the
        caller never moves."""
        return _wire.sysctl(self._endpoint(), key, value)

    def wait_link(self, name: str, timeout: float = 5.0) -> Link:
        """Wait until link ``name`` is up (IFF_UP, carrier, and an
        operstate of up, or unknown for devices without one), from the
        kernel's link events; its record. NetnsTimeoutError (a
        TimeoutError) after ``timeout`` seconds."""
        return _wire.wait_link(self._endpoint(), name, timeout)

    # -- closing -------------------------------------------------------------

    def close(self) -> None:
        """Close the handle; idempotent and thread-safe.

        An owned named namespace loses its name; a handle made with a
        ``release`` (a pool's) is handed to it, and a pool deletes it. In
        a forked child only the child's copy of the fd is closed: the
        namespace belongs to the parent. The kernel frees the namespace
        when nothing else holds it (a process inside, another fd, a thread
        that entered it).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._wire is not None:
            self._wire.close()
        if own_pid() != self._pid:
            # A copy inherited through fork: the namespace is the parent's.
            os.close(self._fd)
            return
        if self._release is not None:
            self._release(self)
            return
        try:
            if self._owned and self._name is not None and self._run_dir:
                _sys.delete(self._run_dir, self._name)
        finally:
            os.close(self._fd)

    def _is_open(self) -> bool:
        return not self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd}"
        what = f"name={self.name!r}" if self._name else "anonymous"
        return f"<Netns {what} inode={self._ino} {state}>"


class _Peer:
    """The endpoint of a peer argument for one call: a handle's own, or
    that of a handle opened for the call (a name), or one with a socket
    of its own for the call (an fd, or None: the calling thread's
    namespace), closed afterwards."""

    __slots__ = ("ep", "temporary", "tmp")

    def __init__(self, peer: PeerLike) -> None:
        self.tmp: Optional[Netns] = None
        self.temporary = False
        if peer is None:
            self.ep = _wire.own_endpoint()
            self.temporary = True
        elif isinstance(peer, Netns):
            self.ep = peer._endpoint()
        else:
            fd, self.tmp = _resolve(peer)
            if self.tmp is not None:
                self.ep = self.tmp._endpoint()
            else:
                path = f"/proc/{proc_pid()}/fd/{fd}"
                self.ep = _wire.Endpoint(fd, _wire.Socket(), path)
                self.temporary = True

    def __enter__(self) -> _Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            self.tmp.close()
        elif self.temporary:
            _wire.close_endpoint(self.ep)


# -- entering ---------------------------------------------------------------


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.stack: list[int] = []
        # Set when a restore failed and no outer level fixed it yet.
        self.stranded: Optional[NamespaceRestoreError] = None


_state = _ThreadState()


def _resolve(ns: NsLike) -> tuple[int, Optional[Netns]]:
    """(fd, temporary handle to close after use) for a namespace argument."""
    if isinstance(ns, Netns):
        return ns.fileno(), None
    if is_path(ns):
        tmp = Netns.from_path(cast("Name", os.fsencode(cast(Any, ns))))
        return tmp.fileno(), tmp
    if isinstance(ns, (str, bytes)):
        tmp = Netns.open(ns)
        return tmp.fileno(), tmp
    if isinstance(ns, int) and not isinstance(ns, bool):
        return ns, None
    raise TypeError(f"expected a Netns, a name, a path or an fd, not {ns!r}")


class _Enter:
    """The context manager returned by :func:`enter`."""

    __slots__ = ("_depth", "_ns", "_saved", "_thread")

    def __init__(self, ns: NsLike) -> None:
        self._ns = ns
        self._saved = -1
        self._depth = -1
        self._thread = 0

    def __enter__(self) -> None:
        if self._saved >= 0:
            raise RuntimeError("this enter() is already active")
        st = _state
        if st.stranded is not None:
            raise NamespaceRestoreError(
                st.stranded.errno or 0,
                "this thread is in a foreign network namespace after a "
                "failed restore",
                _sys.THREAD_NS_NET,
                st.stranded.step,
            ) from st.stranded
        fd, tmp = _resolve(self._ns)
        try:
            saved = _sys.enter(fd)
        finally:
            if tmp is not None:
                tmp.close()
        st.stack.append(saved)
        self._saved = saved
        self._depth = len(st.stack)
        self._thread = threading.get_ident()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        st = _state
        if threading.get_ident() != self._thread:
            raise RuntimeError("enter() left on another thread")
        if len(st.stack) != self._depth or st.stack[-1] != self._saved:
            raise RuntimeError("enter() contexts left out of order")
        st.stack.pop()
        saved, self._saved = self._saved, -1
        try:
            _sys.leave(saved)
        except NamespaceRestoreError as err:
            st.stranded = err
            raise
        # Back where this level started: an inner failure is repaired.
        st.stranded = None


def enter(ns: NsLike) -> _Enter:
    """Move the calling thread into ``ns`` for a ``with`` block.

    Per thread (other threads are not affected) and nestable. On exit the
    thread returns to the namespace it was in, checked by inode; a failed
    return raises NamespaceRestoreError, and until an outer ``enter``
    block has returned the thread to its own namespace every new enter()
    on this thread raises NamespaceRestoreError too. ``ns`` is a
    :class:`Netns`, a name in the default run directory, the path of a
    namespace file (a str or bytes with a "/", or a path object), or an
    fd.

    Traps: /proc/net and /proc/self/net show the main thread's namespace,
    so on any other thread they do not follow the move (read
    /proc/thread-self/net, or use netlink); /sys/class/net shows the
    namespace of the sysfs mount, never the entered one. ``with
    enter(ns): await ...`` moves the event loop's thread: every other task
    runs inside ``ns`` until the block ends (make sockets with
    :func:`socket` instead, or run the work in a process, e.g. with the
    async spawn ``create_subprocess_exec``, or on a thread).
    """
    return _Enter(ns)


def depth() -> int:
    """How many enter() blocks are active on the calling thread."""
    return len(_state.stack)


def thread_inode() -> int:
    """Inode of the calling thread's network namespace."""
    return _sys.thread_ns_ino()


def run_in(ns: NsLike, fn: Callable[..., T], /, *args: Any, **kw: Any) -> T:
    """Call ``fn(*args, **kw)`` inside ``ns`` on a dedicated thread.

    Returns its result or raises its exception. The thread is new and ends
    with the call, so it never needs to come back: no thread of the
    caller's is ever moved. Threads that fn starts inherit the namespace.
    Inside ``fn``, /proc/net and /proc/self/net show the main thread's
    namespace, not ``ns``: read /proc/thread-self/net, or use netlink.
    """
    fd, tmp = _resolve(ns)
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            os.close(_sys.enter(fd))
            result.append(fn(*args, **kw))
        except BaseException as exc:
            error.append(exc)

    try:
        thread = threading.Thread(target=target, name="netns-run_in")
        thread.start()
        thread.join()
    finally:
        if tmp is not None:
            tmp.close()
    if error:
        raise error[0]
    return result[0]


def socket(
    ns: NsLike,
    family: int = _socket.AF_INET,
    type: int = _socket.SOCK_STREAM,
    proto: int = 0,
) -> _socket.socket:
    """A socket made inside ``ns``; the calling thread does not move.

    The socket stays in that namespace for its whole life (bind, connect,
    netlink requests all act there).
    """
    fd, tmp = _resolve(ns)
    try:
        sfd = _sys.socket_in(fd, family, type, proto)
    finally:
        if tmp is not None:
            tmp.close()
    return _socket.socket(family, type, proto, fileno=sfd)


def lo_up(ns: NsLike) -> None:
    """Bring the loopback of ``ns`` up (ioctl on a socket made inside)."""
    fd, tmp = _resolve(ns)
    try:
        _sys.lo_up(fd)
    finally:
        if tmp is not None:
            tmp.close()


# -- processes ----------------------------------------------------------------


def pids_in(ns: Netns) -> list[int]:
    """Processes whose network namespace is ``ns`` (thread-group leaders).

    One C scan of /proc; the calling process is included if it is in.
    """
    return _sys.scan_pids([(ns.dev, ns.inode)], 0)[0]


def kill_all_in(ns: Netns, timeout: float = 5.0) -> list[int]:
    """SIGKILL every process in ``ns`` (never this one) and wait for them.

    Returns the pids killed (see :func:`netns_fast._procs.kill_all`).
    """
    return kill_all((ns.dev, ns.inode), timeout)
