"""A child for test_interrupt.py: block in one of the library's waits, take Ctrl-C.

``python interrupt_child.py CASE``.  The child starts an operation that nothing
will finish, says ``blocked`` once its main thread is inside the library's wait
(seen from a watcher thread), and waits.  The test then sends CTRL_C_EVENT to
its console.  The child reports:

* ``ctrl-c reached the process`` when its console handler ran (before Python's);
* ``interrupted after S s`` when KeyboardInterrupt came out of the wait, S
  counted from that moment, with the operations still pending;
* ``completed ...`` once a later wait finished the same operation (the peer
  sent, or the event was set, after the interrupt).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the tests' helpers
from support import WAIT, tcp_pair

import winsock_ov
from winsock_ov import CompletionPort, Event, sleep_ex, wait_for_multiple_events

PACKAGE = os.path.dirname(os.path.abspath(winsock_ov.__file__))

_arrived: list[float] = []
_HANDLER_ROUTINE = ctypes.WINFUNCTYPE(ctypes.c_int, ctypes.c_uint)


@_HANDLER_ROUTINE
def _note_ctrl_c(kind: int) -> int:
    _arrived.append(time.monotonic())
    print("ctrl-c reached the process", flush=True)
    return 0  # not handled: the next handler (the C runtime's, then Python's) runs


def say(*words: object) -> None:
    print(*words, flush=True)


def watch_main_thread() -> None:
    """Say ``blocked`` once the main thread's innermost frame is the library's."""
    main = threading.main_thread().ident
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(main)
        if frame is not None and frame.f_code.co_filename.startswith(PACKAGE):
            say("blocked in", frame.f_code.co_name)
            return
        time.sleep(0.005)
    say("the main thread never reached the library's wait")


def blocked(wait: Callable[[], Any]) -> Any:
    """Run ``wait``, expecting Ctrl-C to end it."""
    threading.Thread(target=watch_main_thread, daemon=True).start()
    started = time.monotonic()
    try:
        outcome = wait()
    except KeyboardInterrupt:
        after = time.monotonic() - (_arrived[0] if _arrived else started)
        say(f"interrupted after {after:.3f} s, pending operations: "
            f"{winsock_ov.pending_operations()}")
        return
    say("the wait ended without Ctrl-C:", repr(outcome))
    sys.exit(3)


def case_result_event() -> None:
    client, server = tcp_pair()
    op = server.recv(64)
    blocked(op.result)
    client.send(b"late").result(WAIT)
    say("completed", op.result(WAIT))


def case_result_routine() -> None:
    client, server = tcp_pair()
    op = server.recv(64, routine=lambda op: None)
    blocked(op.result)
    client.send(b"late").result(WAIT)
    say("completed", op.result(WAIT))


def case_dequeue(many: bool) -> None:
    client, server = tcp_pair()
    port = CompletionPort()
    port.associate(server)
    op = server.recv(64)
    blocked(port.dequeue_many if many else port.dequeue)
    client.send(b"late").result(WAIT)
    done = port.dequeue_many(timeout=WAIT) if many else [port.dequeue(timeout=WAIT)]
    say("completed", [d is op for d in done], op.result())


def case_wait_for_multiple_events() -> None:
    event = Event()
    blocked(lambda: wait_for_multiple_events([event]))
    event.set()
    say("completed", wait_for_multiple_events([event], timeout=WAIT))


def case_event_wait() -> None:
    event = Event()
    blocked(event.wait)
    event.set()
    say("completed", event.wait(WAIT))


def case_sleep_ex() -> None:
    client, server = tcp_pair()
    op = server.recv(64, routine=lambda op: None)
    blocked(lambda: sleep_ex(None))
    client.send(b"late").result(WAIT)
    say("completed", sleep_ex(WAIT), op.result(0))


def case_handler_returns() -> None:
    """A handler that only takes note: the wait goes on (PEP 475), and ends
    when the peer sends, which the watcher below makes it do."""
    client, server = tcp_pair()
    noted = threading.Event()
    signal.signal(signal.SIGINT, lambda signum, frame: noted.set())
    op = server.recv(64)

    def send_once_noted() -> None:
        if noted.wait(WAIT):
            say("handler ran during the wait")
            client.send(b"after the handler").result(WAIT)

    threading.Thread(target=send_once_noted, daemon=True).start()
    threading.Thread(target=watch_main_thread, daemon=True).start()
    say("completed", op.result())


CASES: dict[str, Callable[[], None]] = {
    "result-event": case_result_event,
    "result-routine": case_result_routine,
    "dequeue": lambda: case_dequeue(many=False),
    "dequeue-many": lambda: case_dequeue(many=True),
    "wait-for-multiple-events": case_wait_for_multiple_events,
    "event-wait": case_event_wait,
    "sleep-ex": case_sleep_ex,
    "handler-returns": case_handler_returns,
}

if __name__ == "__main__":
    ctypes.WinDLL("kernel32").SetConsoleCtrlHandler(_note_ctrl_c, True)
    CASES[sys.argv[1]]()
