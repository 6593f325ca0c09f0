"""A pool that can make no namespace neither hangs nor hides the cause.

The namespace limit is lowered in a user namespace of the test's own (the
sysctl is per user namespace); the full file system is a tiny tmpfs (few
inodes) on the run directory of a mount namespace of the child's own.
Each case runs in a child Python with a deadline, so a hang fails the
test instead of the run. A transient failure never raises, and the error
stays in stats() afterwards.
"""

from __future__ import annotations

import errno
import os

import pytest

from netns_fast import Pool
from netns_fast.exceptions import NamespaceExistsError
from support.tools import run, run_python

pytestmark = pytest.mark.root

DEADLINE = 30.0

# A user namespace with a network namespace of its own: there root may
# set user.max_net_namespaces for this user namespace only.
LIMITED = ["unshare", "--user", "--map-root-user", "--net"]
# A private mount namespace, for a tmpfs on /run/netns of its own.
PRIVATE_MOUNTS = ["unshare", "--mount", "--propagation", "private"]

_COMMON = """
import ctypes, json, os, threading, time
from netns_fast import Pool
out = {}
def limit(n):
    with open("/proc/sys/user/max_net_namespaces", "w") as f:
        f.write(str(n))
def wait_ready(pool, n):
    end = time.monotonic() + 10
    while pool.stats().ready < n and time.monotonic() < end:
        time.sleep(0.01)
    assert pool.stats().ready == n
def describe(exc):
    if exc is None:
        return None
    return [type(exc).__name__, exc.errno, exc.step, exc.filename]
def acquire_forever(pool):
    start = time.monotonic()
    try:
        ns = pool.acquire(timeout=None)
    except OSError as exc:
        out["raised"] = describe(exc)
        out["is_oserror"] = isinstance(exc, OSError)
    else:
        out["raised"] = None
        ns.close()
    out["seconds"] = time.monotonic() - start
def summary(pool):
    st = pool.stats()
    out["last_error"] = describe(st.last_error)
    out["failing"] = st.failing
    out["enospc"] = st.enospc
"""

# block() makes creation impossible and returns what undoes that.
_LIMIT = """
def block():
    limit(1)  # below what exists: no namespace can be made now
    return lambda: limit(1000)
"""

_FULL_FS = """
libc = ctypes.CDLL(None, use_errno=True)
assert libc.mount(b"tmpfs", b"/run/netns", b"tmpfs", 0,
                  b"mode=755,nr_inodes=8") == 0
def block():
    made = []
    while True:
        path = f"/run/netns/filler-{len(made)}"
        try:
            open(path, "w").close()
        except OSError as exc:
            assert exc.errno == 28, exc
            break
        made.append(path)
    def unblock():
        for path in made:
            os.unlink(path)
    return unblock
"""

# Blocked with nothing ready: acquire(None) must raise; then it recovers.
_RAISES = """
with Pool(2{named}, fail_after=0.5) as pool:
    wait_ready(pool, 2)
    unblock = block()
    held = [pool.acquire(timeout=5) for _ in range(2)]  # the ready ones
    acquire_forever(pool)
    summary(pool)
    unblock()
    with pool.acquire(timeout=10):
        out["recovered"] = pool.stats().failing == 0
    for ns in held:
        ns.close()
print(json.dumps(out))
"""

# Blocked for less than fail_after: acquire(None) must wait and succeed.
_TRANSIENT = """
with Pool(1{named}, fail_after=2.0) as pool:
    wait_ready(pool, 1)
    unblock = block()
    first = pool.acquire(timeout=5)
    threading.Timer(0.3, unblock).start()
    acquire_forever(pool)
    summary(pool)
    first.close()
print(json.dumps(out))
"""

NAMED = ', named=True, prefix="p-"'


def _limited(code: str) -> dict[str, object]:
    if run([*LIMITED, "true"], timeout=120).returncode != 0:
        pytest.skip("cannot create a user namespace here")
    out: dict[str, object] = run_python(_COMMON + code, LIMITED, DEADLINE)
    return out


def _full(code: str) -> dict[str, object]:
    out: dict[str, object] = run_python(
        _COMMON + code, PRIVATE_MOUNTS, DEADLINE
    )
    return out


def test_namespace_limit_raises_instead_of_waiting_forever() -> None:
    """At user.max_net_namespaces with nothing ready, acquire(None)
    raises NamespaceLimitError after fail_after; stats() keeps it; the
    pool recovers once the limit is raised."""
    out = _limited(_LIMIT + _RAISES.format(named=""))
    limit = ["NamespaceLimitError", errno.ENOSPC, "unshare_net", None]
    assert out.pop("raised") == limit
    assert out.pop("last_error") == limit
    # fail_after (0.5 s) counts from the first failure, which can come a
    # moment before acquire_forever starts.
    assert 0.4 <= out.pop("seconds") < 10  # type: ignore[operator]
    assert out.pop("failing") >= 5  # type: ignore[operator]
    assert out.pop("enospc") >= 5  # type: ignore[operator]
    assert out == {"is_oserror": True, "recovered": True}


def test_transient_namespace_limit_does_not_raise() -> None:
    """ENOSPC at the limit for less than fail_after: acquire(None) waits
    and returns a namespace; the error stays in stats()."""
    out = _limited(_LIMIT + _TRANSIENT.format(named=""))
    limit = ["NamespaceLimitError", errno.ENOSPC, "unshare_net", None]
    assert out["raised"] is None
    assert out["last_error"] == limit
    assert out["failing"] == 0
    assert out["enospc"] >= 1  # type: ignore[operator]


def test_full_run_dir_raises_enospc_with_the_path() -> None:
    """A named pool whose run directory has no inode left: acquire(None)
    raises OSError(ENOSPC) at step create naming the file (not
    NamespaceLimitError), once the ready ones are handed out."""
    out = _full(_FULL_FS + _RAISES.format(named=NAMED))
    raised = out.pop("raised")
    assert isinstance(raised, list)
    cls, err, step, filename = raised
    assert (cls, err, step) == ("NetnsOSError", errno.ENOSPC, "create_name")
    assert isinstance(filename, str)
    assert filename.startswith("/run/netns/p-")
    assert out.pop("last_error") == raised
    # fail_after (0.5 s) counts from the first failure, which can come a
    # moment before acquire_forever starts.
    assert 0.4 <= out.pop("seconds") < 10  # type: ignore[operator]
    assert out.pop("failing") >= 5  # type: ignore[operator]
    assert out == {"is_oserror": True, "enospc": 0, "recovered": True}


def test_transient_full_run_dir_does_not_raise() -> None:
    """Inodes freed before fail_after: acquire(None) returns a named
    namespace; the ENOSPC stays in stats() with its path."""
    out = _full(_FULL_FS + _TRANSIENT.format(named=NAMED))
    assert out["raised"] is None
    last = out["last_error"]
    assert isinstance(last, list)
    assert last[:3] == ["NetnsOSError", errno.ENOSPC, "create_name"]
    assert out["failing"] == 0


def test_a_few_failures_do_not_raise_and_others_files_stay(
    scratch_run_dir: str,
) -> None:
    """Three names of a named pool taken by someone else's files: acquire
    skips them without raising, and never deletes those files."""
    taken = [os.path.join(scratch_run_dir, f"q-{i}") for i in (1, 2, 3)]
    for path in taken:
        with open(path, "w") as f:
            f.write("not yours")
    with Pool(
        1, named=True, run_dir=scratch_run_dir, prefix="q-", fail_after=5
    ) as pool:
        with pool.acquire(timeout=None) as ns:
            assert ns.name == "q-4"
        st = pool.stats()
    assert isinstance(st.last_error, NamespaceExistsError)
    assert st.last_error.filename == taken[-1]
    assert st.last_error.step == "create_name"
    for path in taken:
        with open(path) as f:
            assert f.read() == "not yours"
        os.unlink(path)


def test_persistent_failures_raise_after_fail_after(
    scratch_run_dir: str,
) -> None:
    """Every name of a named pool taken: acquire(None) raises the
    creation error once 5 attempts over fail_after have failed."""
    taken = [os.path.join(scratch_run_dir, f"r-{i}") for i in range(1, 200)]
    for path in taken:
        open(path, "w").close()
    with Pool(
        1, named=True, run_dir=scratch_run_dir, prefix="r-", fail_after=0.2
    ) as pool:
        with pytest.raises(NamespaceExistsError) as info:
            pool.acquire(timeout=None)
        assert pool.stats().failing >= 5
    assert info.value.step == "create_name"
    assert info.value.filename in taken
    assert all(os.path.exists(p) for p in taken)
    for path in taken:
        os.unlink(path)
