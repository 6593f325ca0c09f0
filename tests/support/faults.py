"""Make a syscall fail for real: a seccomp filter (imported as
``support.faults``, or run as a wrapper).

A filter returns a chosen errno for one syscall, optionally only when an
integer argument has given bits set (e.g. mount(2) with MS_PRIVATE in its
flags). It is inherited across fork and exec, so the same fault hits ip and
netns-fast alike, and nothing is compiled into the shipped library.

As a wrapper: ``python tests/support/faults.py SPEC... -- COMMAND ARGS...``
with SPEC ``SYSCALL:ERRNO`` or ``SYSCALL:ERRNO:ARG:MASK``, e.g.
``flock:ENOLCK`` or ``mount:EPERM:3:0x40000``.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass

HERE = os.path.abspath(__file__)

# (AUDIT_ARCH_*, syscall numbers) of the architectures CI builds for.
_ARCHES = {
    "x86_64": (
        0xC000003E,
        {
            "flock": 73,
            "mount": 165,
            "unshare": 272,
            "open_tree": 428,
            "move_mount": 429,
        },
    ),
    "aarch64": (
        0xC00000B7,
        {
            "flock": 32,
            "mount": 40,
            "unshare": 97,
            "open_tree": 428,
            "move_mount": 429,
        },
    ),
}

_LD_ABS_W = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


class _Insn(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _Prog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Insn)))


@dataclass(frozen=True)
class Fault:
    """syscall fails with err; with mask, only if argument arg has a bit of
    mask set (the low 32 bits of the argument)."""

    syscall: str
    err: int
    arg: int = 0
    mask: int = 0

    def spec(self) -> str:
        """The wrapper's SPEC text for this fault."""
        name = errno.errorcode[self.err]
        if not self.mask:
            return f"{self.syscall}:{name}"
        return f"{self.syscall}:{name}:{self.arg}:{self.mask:#x}"


def supported() -> bool:
    """Whether this machine's architecture is known here and the kernel
    has seccomp filters."""
    with open("/proc/self/status") as f:
        has_seccomp = any(line.startswith("Seccomp:") for line in f)
    return has_seccomp and platform.machine() in _ARCHES


def _program(fault: Fault) -> list[tuple[int, int, int, int]]:
    arch, numbers = _ARCHES[platform.machine()]
    nr = numbers[fault.syscall]
    insns = [(_LD_ABS_W, 0, 0, 4), (_JEQ_K, 0, 0, arch), (_LD_ABS_W, 0, 0, 0)]
    insns.append((_JEQ_K, 0, 0, nr))
    if fault.mask:
        # seccomp_data.args[i] at 16 + 8 * i; the low half comes first.
        insns.append((_LD_ABS_W, 0, 0, 16 + 8 * fault.arg))
        insns.append((_JSET_K, 0, 0, fault.mask))
    insns.append((_RET_K, 0, 0, _RET_ERRNO | fault.err))
    insns.append((_RET_K, 0, 0, _RET_ALLOW))
    allow = len(insns) - 1
    # Every test jumps to "allow" when it does not match.
    return [
        (code, jt, allow - i - 1 if code in (_JEQ_K, _JSET_K) else jf, k)
        for i, (code, jt, jf, k) in enumerate(insns)
    ]


def install(faults: Sequence[Fault]) -> None:
    """Add one filter per fault to the calling thread (and what it execs)."""
    # Its own libc handle: as a wrapper this file runs as a plain script,
    # without the support package on the path.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    for fault in faults:
        insns = _program(fault)
        array = (_Insn * len(insns))(*(_Insn(*i) for i in insns))
        prog = _Prog(len(insns), array)
        if (
            libc.prctl(
                _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0
            )
            != 0
        ):
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def parse(spec: str) -> Fault:
    """SYSCALL:ERRNO[:ARG:MASK] -> Fault."""
    parts = spec.split(":")
    err = getattr(errno, parts[1])
    if len(parts) == 2:
        return Fault(parts[0], err)
    return Fault(parts[0], err, int(parts[2]), int(parts[3], 0))


def wrapper(*faults: Fault) -> list[str]:
    """argv prefix that runs a command with these faults."""
    return [sys.executable, HERE, *(f.spec() for f in faults), "--"]


def main(argv: list[str]) -> None:
    """The wrapper: install the faults, then exec the command."""
    split = argv.index("--")
    install([parse(spec) for spec in argv[:split]])
    command = argv[split + 1 :]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
