"""The tests' support layer, one module per subject (``from support import
kernel`` or ``from support.kernel import RUN_DIR``):

- ``kernel``: the run directory, libc, mounts (mountinfo), namespace
  inodes, capabilities, fds, threads;
- ``tools``: the tools the tests run (``ip``, ``netns-fast``, ``nsenter``,
  a Python child), their environment, and ip's words as netns-fast's;
- ``names``: generated names, and namespaces made under them;
- ``processes``: processes started for a test (``Spawner``), forked
  children (as uid 65534, or returning JSON);
- ``oracle``: ip against netns-fast: ``Case`` (a starting state), ``both``
  and the one comparer, ``assert_same``;
- ``faults``: a seccomp filter that makes one syscall fail for real;
- ``private``: the package's private modules that tests reach into,
  imported there only.

Fixtures are not here: they live in the conftest.py files (tests/ and
tests/hardening/) and are never imported by name.
"""
