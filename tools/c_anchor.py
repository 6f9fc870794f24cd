"""Build the benchmark's C anchor (tools/anchor/anchor.c) into a DLL with mingw-w64.

``tools/bench.py --c-anchor DLL`` loads it with ctypes and runs its loops against
winsock_ov's in paired rounds ("ours / C program" rows); ``tools/winenv.py``
builds it for the ``bench`` command and for the Windows test tiers
(``WINSOCK_OV_C_ANCHOR``).  The DLL goes into the cache, rebuilt only when the
source or the command changes (a stamp holds their hash), like the seed's
programs.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Callable

SOURCE = Path(__file__).resolve().parent / "anchor" / "anchor.c"
COMPILER = "x86_64-w64-mingw32-gcc"

Run = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def compile_command(source: Path, target: Path) -> list[str]:
    """A DLL with no runtime of its own to ship (libgcc linked in), warnings as errors."""
    return [COMPILER, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared",
            "-static-libgcc", "-o", str(target), str(source), "-lws2_32"]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          check=False)


def build(cache: Path, source: Path = SOURCE, run: Run = _run) -> Path:
    """``cache``/anchor/anchor.dll, compiled from ``source`` unless already built from it.

    RuntimeError with the compiler's output if it fails.
    """
    folder = cache / "anchor"
    dll = folder / "anchor.dll"
    stamp = folder / "anchor.dll.stamp"
    command = compile_command(source, dll)
    inputs = hashlib.sha256(source.read_bytes() + "\0".join(command).encode()).hexdigest()
    if dll.is_file() and stamp.is_file() and stamp.read_text() == inputs:
        return dll
    folder.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    result = run(command)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n"
                           f"{result.stdout}{result.stderr}")
    stamp.write_text(inputs)
    return dll
