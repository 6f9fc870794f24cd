"""Helpers shared by the Windows tests: threads and child processes that cannot hang
a run, free ports."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

REPO = Path(__file__).resolve().parent.parent
WAIT = 10.0  # seconds: the bound on every wait in the tests
# Seconds a child process (a Python interpreter, one of the seed's programs)
# gets to start listening, and to finish.  Measured under Wine on a 2-core
# machine with a CPU-bound process and a whole test run beside it: the worst of
# 60 starts (the Python CLI and the seed's receiver taking turns) listened 4.2 s
# after it was started and had finished its exchange at 4.3 s.  The bound
# leaves a wide margin over that.
CHILD_SECONDS = 60.0


ERROR_INTERNAL_ERROR = 1359
T = TypeVar("T")


def load_tool(name: str) -> Any:
    """``tools/NAME`` (a module or package of tools/), imported with tools/ on sys.path."""
    tools = str(REPO / "tools")
    if tools not in sys.path:
        sys.path.insert(0, tools)
    return importlib.import_module(name)


def started(start: Callable[[], T], what: str) -> T:
    """``start()`` (a call that creates a child process), tried once more if Wine on a
    loaded machine failed CreateProcess with ERROR_INTERNAL_ERROR (1359) before any
    child existed, as it did once."""
    try:
        return start()
    except OSError as exc:
        if getattr(exc, "winerror", None) != ERROR_INTERNAL_ERROR:
            raise
        print(f"starting {what} failed with {exc}; starting it once more")
    return start()


def spawn(args: list[str], creationflags: int = 0) -> subprocess.Popen[str]:
    """Start a child from the repository, its output piped, its input empty."""
    return started(lambda: subprocess.Popen(
        args, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, creationflags=creationflags), args[0])


def run_python(code: str, *, dev: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child interpreter (``-X dev`` unless told) from the repository.

    A child still running after CHILD_SECONDS fails the test with what it printed.
    """
    args = [sys.executable, *(["-X", "dev"] if dev else []), "-c", textwrap.dedent(code)]
    child = spawn(args)
    try:
        out, err = child.communicate(timeout=CHILD_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        raise AssertionError(f"child still running after {CHILD_SECONDS} s, killed; "
                             f"stdout {out!r}; stderr {err!r}") from None
    return subprocess.CompletedProcess(args, child.returncode, out, err)


def said(result: subprocess.CompletedProcess[str]) -> str:
    """What a child did, for a failing assertion's message."""
    return f"child exited {result.returncode}; stdout {result.stdout!r}; stderr {result.stderr!r}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Worker(threading.Thread):
    """Runs ``target`` and keeps its return value or exception for ``result()``."""

    def __init__(self, target: Callable[[], Any], name: str = "worker") -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._value = self._target_fn()
        except BaseException as exc:  # re-raised in the test's thread by result()
            self._error = exc

    def result(self, timeout: float = WAIT) -> Any:
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError(f"{self.name} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value


def wait_for(event: threading.Event, what: str, timeout: float = WAIT) -> None:
    if not event.wait(timeout):
        raise TimeoutError(f"timed out waiting for {what}")


def running_under_wine() -> bool:
    """True under Wine: its ntdll exports wine_get_version, Windows' does not."""
    import ctypes

    return sys.platform == "win32" and hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")


def tcp_listening_ports() -> set[int]:
    """The TCP ports that some socket of this machine listens on (GetTcpTable)."""
    import ctypes

    class MIB_TCPROW(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint32) for name in (
            "dwState", "dwLocalAddr", "dwLocalPort", "dwRemoteAddr", "dwRemotePort")]

    MIB_TCP_STATE_LISTEN, ERROR_INSUFFICIENT_BUFFER = 2, 122
    get_tcp_table = ctypes.WinDLL("iphlpapi").GetTcpTable
    size = ctypes.c_uint32(0)
    while True:  # the table may grow between the size query and the read
        buffer = ctypes.create_string_buffer(max(size.value, 4))
        status = get_tcp_table(buffer, ctypes.byref(size), False)
        if status != ERROR_INSUFFICIENT_BUFFER:
            break
    if status != 0:
        raise ctypes.WinError(status)
    count = ctypes.c_uint32.from_buffer(buffer).value
    rows = (MIB_TCPROW * count).from_buffer(buffer, 4)
    # dwLocalPort: the port in network byte order, in the low 16 bits.
    return {socket.ntohs(row.dwLocalPort & 0xFFFF) for row in rows
            if row.dwState == MIB_TCP_STATE_LISTEN}


def tcp_pair() -> tuple[Any, Any]:
    """A connected pair of winsock_ov Sockets on loopback: (client, server side)."""
    import winsock_ov

    with winsock_ov.Socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = winsock_ov.Socket()
        client.connect(listener.getsockname())
        server, _ = listener.accept(timeout=WAIT)
    return client, server


def udp_pair() -> tuple[Any, Any]:
    """Two bound UDP winsock_ov Sockets on loopback."""
    import winsock_ov
    from winsock_ov.raw import AF_INET, SOCK_DGRAM

    first, second = winsock_ov.Socket(AF_INET, SOCK_DGRAM), winsock_ov.Socket(AF_INET, SOCK_DGRAM)
    first.bind(("127.0.0.1", 0))
    second.bind(("127.0.0.1", 0))
    return first, second


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` (1 ms to 50 ms apart) until true; fail after ``timeout``.

    For completions nothing can be waited on, such as OVERLAPPED.Internal
    flipping for an operation whose routine is queued to another thread.
    """
    from winsock_ov.waits import sleep_until

    if not sleep_until(predicate, timeout):
        raise TimeoutError(f"timed out waiting for {what}")


def released_back_to(baseline: int) -> Callable[[], bool]:
    """A predicate for ``wait_until``: reaping leaves no more than ``baseline``
    operations pending (what the test started was seen finished and released;
    an earlier test's may end too)."""
    import winsock_ov

    def released() -> bool:
        winsock_ov.reap()
        return winsock_ov.pending_operations() <= baseline
    return released


class ReportedOnceMachine(RuleBasedStateMachine):
    """A hypothesis machine over one completion port (``self.port``): whatever it
    dequeues must be reported exactly once.  Subclasses check each item
    (``check_reported``) and count what they started."""

    port: Any

    def __init__(self) -> None:
        super().__init__()
        self.reported: dict[int, int] = {}

    def check_reported(self, item: Any) -> None:
        """Subclasses: fail for an item that should not come back (or not so)."""
        raise NotImplementedError

    def report(self, items: list[Any]) -> None:
        for item in items:
            self.check_reported(item)
            self.reported[id(item)] = self.reported.get(id(item), 0) + 1

    @rule()
    def dequeue(self) -> None:
        self.report(self.port.dequeue_many(timeout=0))

    @invariant()
    def reported_at_most_once(self) -> None:
        assert all(count == 1 for count in self.reported.values())

    def collect(self, count: int, what: str) -> None:
        """Dequeue until ``count`` items came (failing after WAIT seconds without one)."""
        while len(self.reported) < count:
            batch = self.port.dequeue_many(timeout=WAIT)
            assert batch, f"{count - len(self.reported)} {what} never reported"
            self.report(batch)
        assert all(count == 1 for count in self.reported.values())



# --- a suite tool run against a record (tests/test_*suite_records.py) ------------------------

SUITE_SECONDS = 600  # a limit for a suite tool's run of a few children on a loaded machine


def probe_folder(folder: Path, probe: str, broken: tuple[str, str] | None = None) -> Path:
    """A folder holding the test module ``probe.test_probe`` (source ``probe``) and,
    with ``broken=(module, bug)``, a copy of winsock_ov whose ``module`` (a path
    inside the package) ends with ``bug``, the code that breaks it: a suite tool
    that puts ``folder`` first on its children's path runs on the broken copy."""
    (folder / "probe").mkdir(parents=True)
    (folder / "probe" / "__init__.py").write_text("")
    (folder / "probe" / "test_probe.py").write_text(probe)
    if broken is not None:
        import winsock_ov

        module, bug = broken
        copy = folder / "winsock_ov"
        # copyfile: CPython 3.12+'s copy2 calls CopyFile2, which Wine 8 lacks.
        shutil.copytree(Path(winsock_ov.__file__).parent, copy, copy_function=shutil.copyfile,
                        ignore=shutil.ignore_patterns("__pycache__"))
        with open(copy / module, "a", encoding="utf-8") as source:
            source.write(bug)
    return folder


def run_against_record(tmp_path: Path, tool: str, args: list[str], *, suite: str,
                       reference: str, test: str) -> tuple[int, dict[str, Any], str]:
    """``tools/TOOL ARGS`` on ``probe.test_probe`` against a record saying the
    reference passes ``test``: its exit code, its JSON report and what it printed."""
    records = load_tool("outcome_records")
    expected = {"inputs": {"suite": "probe"}, "rerecord": "(this test writes the record)"}
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    records.save(tmp_path / "record.json", suite=suite, reference=reference, expected=expected,
                 outcomes={"probe.test_probe": {test: "pass"}})
    report = tmp_path / "report.json"
    child = subprocess.run(
        [sys.executable, str(REPO / "tools" / tool), *args, "--modules", "probe.test_probe",
         "--json", str(report), "--record-file", str(tmp_path / "record.json"),
         "--expected", str(tmp_path / "expected.json"), "--work", str(tmp_path / "work")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=SUITE_SECONDS, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    data = json.loads(report.read_text()) if report.is_file() else {}
    return child.returncode, data, child.stdout
