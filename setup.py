"""Only what pyproject.toml cannot say: the cffi extension, and a one-line
hint when it cannot be compiled."""

from __future__ import annotations

import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError

HINT = (
    "netns_fast needs a C compiler (gcc) and the Python headers (python3-dev)"
)


class BuildExt(build_ext):
    """build_ext that says what is missing when the C core cannot be
    compiled (no gcc, no Python.h), in one line, instead of a trace."""

    def run(self) -> None:
        try:
            super().run()
        except (CCompilerError, ExecError, PlatformError) as exc:
            sys.exit(f"{HINT}: {exc}")


if __name__ == "__main__":
    setup(
        cffi_modules=["csrc/build_ffi.py:ffibuilder"],
        cmdclass={"build_ext": BuildExt},
        options={"bdist_wheel": {"py_limited_api": "cp39"}},
    )
