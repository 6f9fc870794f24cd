"""tools/child_process.py: a suite's child is read to its end even when it leaves a
process behind holding its output pipe (Tornado's autoreload test does, when it
fails), and what it left is ended with it."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

from support import WAIT, Worker, load_tool

child_process = load_tool("child_process")
LINGER = 120  # seconds the left-behind process would hold the pipe
RUN_LIMIT = 40.0  # well under LINGER: run() must not wait for it

LEAVES_A_PROCESS = textwrap.dedent(f"""
    import subprocess, sys
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep({LINGER})"],
                            stdout=sys.stdout)  # inherits the pipe
    print("left", left.pid, flush=True)
""")


def alive(pid: int) -> bool:
    if sys.platform != "win32":  # a killed process is a zombie until reaped: dead too
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        return state != "Z"
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.OpenProcess.restype = ctypes.c_void_p
    synchronize, wait_object_0 = 0x00100000, 0
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        return False
    try:
        return bool(kernel32.WaitForSingleObject(ctypes.c_void_p(handle), 0) != wait_object_0)
    finally:
        kernel32.CloseHandle(ctypes.c_void_p(handle))


def test_a_process_the_child_left_holding_the_pipe_neither_holds_up_the_run_nor_survives(
        tmp_path: Path) -> None:
    run = Worker(lambda: child_process.run([sys.executable, "-c", LEAVES_A_PROCESS],
                                           env=dict(os.environ), cwd=tmp_path, timeout=60))
    run.start()
    output, timed_out = run.result(timeout=RUN_LIMIT)
    assert not timed_out
    words = output.decode().split()
    assert words[:1] == ["left"], output
    left = int(words[1])
    # Ended, not yet gone maybe: a killed process ends once it is scheduled again,
    # and another process's end is nothing this one can wait on.
    deadline = time.monotonic() + WAIT
    while alive(left):
        assert time.monotonic() < deadline, "the process the child left is still running"
        time.sleep(0.02)


def test_a_child_over_its_time_is_ended_and_said_so(tmp_path: Path) -> None:
    code = f"print('started', flush=True); import time; time.sleep({LINGER})"
    run = Worker(lambda: child_process.run([sys.executable, "-c", code], env=dict(os.environ),
                                           cwd=tmp_path, timeout=2))
    run.start()
    output, timed_out = run.result(timeout=RUN_LIMIT)
    assert timed_out and output.startswith(b"started")
