"""A child process whose leftovers end with it.

A suite runs each module of tests in a child, reading the child's output
through a pipe.  A test that starts a process and fails before ending it
(Tornado's autoreload test does, when its subprocess is slow to stop on a loaded
machine) leaves that process holding the pipe: reading to its end would then
wait until the process ends by itself, if ever.  So the child runs as the root
of a tree of its own, a job object on Windows (every process it starts joins
the job) and a process group elsewhere, and the whole tree is ended once the
child exited or its time ran out.

Runs under the suites' Windows CPython (3.9 and later) and under the Linux one.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Once the tree is ended the pipe closes at once; this only bounds a pipe some
# process outside the tree still holds (then what was read so far is kept).
READ_GRACE = 30.0


class _Job:
    """A Windows job object holding one process and everything it starts."""

    PROCESS_SET_QUOTA, PROCESS_TERMINATE = 0x0100, 0x0001

    def __init__(self, pid: int) -> None:
        from ctypes import wintypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.CreateJobObjectW.restype = wintypes.HANDLE
        kernel32.CreateJobObjectW.argtypes = [ctypes.c_void_p, wintypes.LPCWSTR]
        kernel32.OpenProcess.restype = wintypes.HANDLE
        kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
        kernel32.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
        kernel32.TerminateJobObject.argtypes = [wintypes.HANDLE, wintypes.UINT]
        kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
        self.kernel32 = kernel32
        self.handle = kernel32.CreateJobObjectW(None, None)
        if not self.handle:
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
        process = kernel32.OpenProcess(self.PROCESS_SET_QUOTA | self.PROCESS_TERMINATE,
                                       False, pid)
        try:
            # The child has only just started: nothing it starts can be outside yet.
            if not process or not kernel32.AssignProcessToJobObject(self.handle, process):
                error = ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
                kernel32.CloseHandle(self.handle)
                raise error
        finally:
            if process:
                kernel32.CloseHandle(process)

    def end(self) -> None:
        self.kernel32.TerminateJobObject(self.handle, 1)
        self.kernel32.CloseHandle(self.handle)


class _Group:
    """A POSIX process group led by the child (``start_new_session``)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def end(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


def run(command: Sequence[str], *, env: dict[str, str], cwd: Path,
        timeout: float) -> tuple[bytes, bool]:
    """Run ``command``, its output (standard error too) read through a pipe;
    ``(output, timed_out)``.  Whatever the child leaves running is ended once it
    exits, and the child too if ``timeout`` seconds pass first."""
    windows = sys.platform == "win32"
    options: dict[str, Any] = {} if windows else {"start_new_session": True}
    proc = subprocess.Popen(list(command), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **options)
    tree = _Job(proc.pid) if windows else _Group(proc.pid)
    chunks: list[bytes] = []
    stream = proc.stdout
    assert stream is not None

    def read() -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        tree.end()
        proc.wait()
    reader.join(READ_GRACE)
    output = b"".join(chunks)
    if reader.is_alive():
        output += b"\n!! the output pipe stayed open after the child's tree ended\n"
    return output, timed_out
