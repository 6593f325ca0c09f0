"""cffi builder for netns_fast's C core (out-of-line API mode).

setup.py names this file in ``cffi_modules``. The cdef is the plain C
headers listed in CDEF_HEADERS: each is included by its own .c file too, so
the declarations exist once.
"""

from __future__ import annotations

import os
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent

# Headers that are the cdef (declarations only, no preprocessor lines).
CDEF_HEADERS = ["core.h", "exec.h", "farm.h", "nsid.h", "procs.h"]
# C sources compiled into the extension.
SOURCES = ["core.c", "exec.c", "farm.c", "nsid.c", "procs.c"]

CFLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror"]
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
    "\n".join(f'#include "{h}"' for h in CDEF_HEADERS),
    sources=[_rel(s) for s in SOURCES],
    include_dirs=[_rel(".")],
    extra_compile_args=CFLAGS,
    extra_link_args=LDFLAGS,
    py_limited_api=True,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
