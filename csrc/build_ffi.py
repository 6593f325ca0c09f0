"""cffi builder for netns_fast's C core (out-of-line API mode).

setup.py names this file in ``cffi_modules``. MODULES names the verb
families; each has a header that is part of the cdef (declarations only,
no preprocessor lines) and a C file of the same name. The cdef is
steps.h, the one step enum, then the families' headers: each is included
by its own .c file too, so the declarations exist once. INTERNAL_SOURCES
are compiled in but declare nothing to Python.

Warnings are errors only where the project's own checks ask for it
(NETNS_FAST_WERROR=1: CI, the release checks), never in a user's install
from the sdist, where a newer compiler may warn about what an older one
did not.
"""

from __future__ import annotations

import os
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent

# The verb families: csrc/NAME.h (cdef) and csrc/NAME.c.
MODULES = [
    "lifecycle",
    "nsid",
    "procs",
    "exec",
    "handle",
    "pool",
    "wire",
    "rootless",
]
# The cdef: the step enum first, then each family's header.
CDEF_HEADERS = ["steps.h", *(f"{m}.h" for m in MODULES)]
# Everything compiled into the extension: the families and the codec.
INTERNAL_SOURCES = ["rtnl.c"]
SOURCES = [*(f"{m}.c" for m in MODULES), *INTERNAL_SOURCES]

CFLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra"]
if os.environ.get("NETNS_FAST_WERROR") == "1":
    CFLAGS.append("-Werror")
# NETNS_FAST_SANITIZE=address,undefined builds the core instrumented.
_SANITIZE = os.environ.get("NETNS_FAST_SANITIZE", "")
LDFLAGS: list[str] = ["-pthread"]
if _SANITIZE:
    CFLAGS += [f"-fsanitize={_SANITIZE}", "-fno-omit-frame-pointer", "-g"]
    LDFLAGS += [f"-fsanitize={_SANITIZE}"]


def _rel(name: str) -> str:
    # setuptools wants paths relative to the project root.
    return os.path.relpath(HERE / name, Path.cwd())


ffibuilder = FFI()
ffibuilder.cdef("\n".join((HERE / h).read_text() for h in CDEF_HEADERS))
ffibuilder.set_source(
    "netns_fast._netns",
    "\n".join(
        ["#include <stddef.h>", *(f'#include "{h}"' for h in CDEF_HEADERS)]
    ),
    sources=[_rel(s) for s in SOURCES],
    include_dirs=[_rel(".")],
    extra_compile_args=CFLAGS,
    extra_link_args=LDFLAGS,
    py_limited_api=True,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
