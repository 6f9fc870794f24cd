"""Running commands whose output is streamed line by line, and Windows CPython under Wine.

Windows CPython 3.13 under Wine cannot start with a regular file as its stdout,
so output always goes through a pipe.  Every command runs in a process group of
its own: a silence longer than its limit, or an interrupted run (``kill_all``),
ends the whole group.

A limit is on *silence*, not on the whole run: a hung test prints nothing,
while a run on a loaded machine is slow but keeps printing (a Windows tier
that takes 220 s on a quiet 2-core machine took over 1,200 s there at a load
of 12, printing all the way, and an overall limit killed it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

from .env import Env

TIER_TIMEOUT = 1200  # seconds without output: a hung pytest tier fails instead of hanging CI

_running: set[subprocess.Popen[str]] = set()
_running_lock = threading.Lock()


def kill_all() -> None:
    """End every command still running (and its children): the run was interrupted."""
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def stream(env: Env, args: Sequence[str], *, environ: dict[str, str],
           timeout: float, stderr_lines: Callable[[str], None] | None = None,
           cwd: Path | None = None) -> tuple[int, int]:
    """Run a command with its output passed to ``env.out`` line by line.

    Returns its exit code and how many lines it printed.  With ``stderr_lines``,
    standard error goes line by line to that function instead, read to its end
    (the wineserver, which inherits the pipe, writes to it until it exits, a
    few seconds after its last client).  When the command prints nothing (on
    either stream) for ``timeout`` seconds, the whole process group is killed,
    which also ends the read loop.
    """
    printed = 0
    last_output = time.monotonic()
    proc = subprocess.Popen(
        list(args), cwd=cwd or env.repo, env=environ, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE if stderr_lines else subprocess.STDOUT,
        text=True, encoding="utf-8", errors="replace", start_new_session=True,
    )
    with _running_lock:
        _running.add(proc)
    timed_out = threading.Event()
    reader = None
    if stderr_lines is not None:
        sink, errors = stderr_lines, proc.stderr
        assert errors is not None

        def read_errors() -> None:
            nonlocal last_output
            for line in errors:
                last_output = time.monotonic()
                sink(line.rstrip("\n"))

        reader = threading.Thread(target=read_errors, daemon=True)
        reader.start()

    def kill_when_silent() -> None:
        while True:
            try:
                proc.wait(timeout=max(last_output + timeout - time.monotonic(), 0.05))
                return
            except subprocess.TimeoutExpired:
                if time.monotonic() - last_output >= timeout:
                    break
        timed_out.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    watchdog = threading.Thread(target=kill_when_silent, daemon=True)
    watchdog.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            last_output = time.monotonic()
            env.out(line.rstrip("\n"))
            printed += 1
        code = proc.wait()
    finally:
        with _running_lock:
            _running.discard(proc)
    watchdog.join()
    if timed_out.is_set():
        env.out(f"!! {Path(args[0]).name}: killed after {timeout:.0f} s without output")
    if reader is not None:
        reader.join(timeout=60)
    return code, printed


def run_windows_python(env: Env, version: str, args: Sequence[str], *,
                       extra_env: dict[str, str] | None = None,
                       timeout: float = TIER_TIMEOUT,
                       stderr_lines: Callable[[str], None] | None = None,
                       cwd: Path | None = None) -> int:
    """Run ``python.exe ARGS`` of Windows CPython ``version`` under Wine, in ``env``'s
    prefix (in ``cwd``, the repository by default).

    A start that fails before the interpreter prints anything (seen once: Wine
    exiting 1 silently) is retried once, and said so; any other outcome stands.
    ``stderr_lines`` gets standard error (and the wineserver's) line by line.
    """
    environ = env.wine_environ()
    environ.update(extra_env or {})
    command = ["wine", str(env.python_exe(version)), *args]
    for attempt in (1, 2):
        code, printed = stream(env, command, environ=environ, timeout=timeout,
                               stderr_lines=stderr_lines, cwd=cwd)
        # Leave no Wine process of this prefix behind, and wait until its server
        # is gone before anything starts a new one.
        env.runner(["wineserver", "-k"], env=environ)
        env.runner(["wineserver", "-w"], env=environ)
        if code == 0 or printed or attempt == 2:
            return code
        env.out(f"!! python.exe {version} exited {code} without printing anything "
                "(Wine did not start it); starting it once more")
    return code
