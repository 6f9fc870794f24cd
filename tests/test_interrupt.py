"""Ctrl-C ends the library's blocking waits, for real: CTRL_C_EVENT sent to a child
blocked in one of them (interrupt_child.py says what each case does).

The child runs with a console of its own (CREATE_NO_WINDOW), and a second child
attaches to that console to send the event (GenerateConsoleCtrlEvent reaches
every process of the sender's console, so the test process stays out of it).
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import CHILD_SECONDS, REPO, WAIT, spawn, tcp_pair

from winsock_ov import CompletionPort

pytestmark = pytest.mark.windows

CHILD = Path(__file__).resolve().parent / "interrupt_child.py"
# The child runs from the repository (sys.path[0] is its working directory).
RUN_CHILD = ("import runpy, sys; sys.argv = sys.argv[1:]; "
             "runpy.run_path(sys.argv[0], run_name='__main__')")
# Attach to the child's console, stay out of the event ourselves, send it.
SEND_CTRL_C = """
import ctypes, sys
kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
kernel32.FreeConsole()
if not kernel32.AttachConsole(int(sys.argv[1])):
    sys.exit(f"AttachConsole failed: {ctypes.get_last_error()}")
kernel32.SetConsoleCtrlHandler(None, True)
if not kernel32.GenerateConsoleCtrlEvent(0, 0):  # CTRL_C_EVENT, every process of the console
    sys.exit(f"GenerateConsoleCtrlEvent failed: {ctypes.get_last_error()}")
print("sent")
"""
CREATE_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0)
LIMIT = 1.0  # seconds from Ctrl-C reaching the process to KeyboardInterrupt out of the wait


class Child:
    """A child under test, its output read line by line as it comes."""

    def __init__(self, args: list[str]) -> None:
        self.process = spawn([sys.executable, *args], creationflags=CREATE_NO_WINDOW)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, prefix: str) -> str:
        """The child's next line starting with ``prefix``; fails with what it said."""
        while True:
            try:
                line = self.lines.get(timeout=CHILD_SECONDS)
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"the child never said {prefix!r}; {self.said()}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def send_ctrl_c(self) -> None:
        sender = subprocess.run([sys.executable, "-c", SEND_CTRL_C, str(self.process.pid)],
                                capture_output=True, text=True, timeout=CHILD_SECONDS,
                                cwd=REPO, creationflags=CREATE_NO_WINDOW)
        assert sender.stdout.strip() == "sent", f"the sender failed: {sender!r}"

    def finish(self) -> int:
        try:
            return self.process.wait(timeout=CHILD_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the child still ran after {CHILD_SECONDS} s; "
                                 f"{self.said()}") from None

    def said(self) -> str:
        self.process.kill()
        _, err = self.process.communicate()
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.seen.append(line)
        return f"stdout {self.seen!r}; stderr {err!r}"


def interrupted_child(case: str) -> Child:
    """The child for ``case``, blocked in its wait, then sent Ctrl-C."""
    child = Child(["-c", RUN_CHILD, str(CHILD), case])
    child.wait_for("blocked in")
    child.send_ctrl_c()
    child.wait_for("ctrl-c reached the process")
    return child


def interrupted_within_limit(child: Child) -> str:
    line = child.wait_for("interrupted after")
    seconds = float(re.search(r"after ([\d.]+) s", line).group(1))  # type: ignore[union-attr]
    assert seconds < LIMIT, f"KeyboardInterrupt came {seconds} s after Ctrl-C; {child.said()}"
    return line


@pytest.mark.parametrize("case", ["result-event", "result-routine", "dequeue", "dequeue-many"])
def test_ctrl_c_ends_a_wait_for_an_operation_which_a_later_wait_still_finishes(case: str) -> None:
    child = interrupted_child(case)
    assert interrupted_within_limit(child).endswith("pending operations: 1"), child.said()
    completed = child.wait_for("completed")
    assert completed.endswith("b'late'"), child.said()
    if case.startswith("dequeue"):
        assert completed == "completed [True] b'late'", child.said()
    assert child.finish() == 0, child.said()


@pytest.mark.parametrize("case", ["wait-for-multiple-events", "event-wait"])
def test_ctrl_c_ends_a_wait_on_an_event_which_a_later_wait_sees_set(case: str) -> None:
    child = interrupted_child(case)
    interrupted_within_limit(child)
    completed = child.wait_for("completed")
    assert completed in ("completed WaitResult(status=<WaitStatus.SIGNALED: 'signaled'>, which=0)",
                         "completed True"), child.said()
    assert child.finish() == 0, child.said()


def test_ctrl_c_ends_an_alertable_sleep_and_a_later_one_runs_the_routine() -> None:
    child = interrupted_child("sleep-ex")
    assert interrupted_within_limit(child).endswith("pending operations: 1"), child.said()
    completed = child.wait_for("completed")
    assert completed == ("completed WaitResult(status=<WaitStatus.IO_COMPLETION: "
                         "'io_completion'>, which=None) b'late'"), child.said()
    assert child.finish() == 0, child.said()


def test_a_sigint_handler_that_returns_runs_during_the_wait_which_goes_on() -> None:
    child = interrupted_child("handler-returns")
    child.wait_for("handler ran during the wait")
    assert child.wait_for("completed") == "completed b'after the handler'", child.said()
    assert child.finish() == 0, child.said()


def test_a_wait_of_several_slices_times_out_at_its_time_and_a_later_one_finishes() -> None:

    client, server = tcp_pair()
    with client, server:
        op = server.recv(64)
        started = time.perf_counter()
        assert not op.wait(0.35)  # four slices
        # Less a tick of the system clock (15.6 ms), which the deadline is read from.
        assert time.perf_counter() - started >= 0.35 - 0.016
        client.send(b"in time").result(WAIT)
        assert op.result(WAIT) == b"in time"


def raise_ctrl_c(op: object) -> None:
    signal.raise_signal(signal.SIGINT)  # as if Ctrl-C came while the wait recorded its result


@pytest.mark.parametrize("many", [False, True])
def test_a_packet_dequeued_as_ctrl_c_comes_waits_in_the_port_for_the_next_dequeue(
        many: bool) -> None:
    client, server = tcp_pair()
    with client, server, CompletionPort() as port:
        port.associate(server)
        op = server.recv(64)
        op.add_done_callback(raise_ctrl_c)  # run by the dequeue, between packet and return
        client.send(b"kept").result(WAIT)
        with pytest.raises(KeyboardInterrupt):
            port.dequeue_many(timeout=WAIT) if many else port.dequeue(timeout=WAIT)
        assert op.done
        again = port.dequeue_many(timeout=0) if many else [port.dequeue(timeout=0)]
        assert again == [op]
        assert op.result() == b"kept"


def test_an_operation_finished_as_ctrl_c_comes_keeps_its_outcome() -> None:
    client, server = tcp_pair()
    with client, server:
        op = server.recv(64)
        op.add_done_callback(raise_ctrl_c)  # run by result(), once the event said done
        client.send(b"kept").result(WAIT)
        with pytest.raises(KeyboardInterrupt):
            op.result(WAIT)
        assert op.done
        assert op.result() == b"kept"


STATUS_CONTROL_C_EXIT = 0xC000013A  # how Windows reports a process ended by Ctrl-C


def exit_code_after_ctrl_c(args: list[str], ready: str) -> tuple[int, Child]:
    child = Child(args)
    child.wait_for(ready)
    child.send_ctrl_c()
    return child.finish(), child


def test_the_cli_exits_on_ctrl_c_as_python_does_without_a_traceback() -> None:
    python_code, python_child = exit_code_after_ctrl_c(
        ["-c", "import time; print('sleeping', flush=True); time.sleep(60)"], "sleeping")
    assert python_code == STATUS_CONTROL_C_EXIT, python_child.said()
    code, child = exit_code_after_ctrl_c(["-m", "winsock_ov", "recv", "0"], "Listening on port")
    assert code == python_code, child.said()
    assert child.process.stderr is not None
    assert child.process.stderr.read() == "interrupted (Ctrl-C)\n"
