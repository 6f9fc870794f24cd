"""``python -m winsock_ov demo``: the seed's sender against its receivers, for real.

Every notification style of the receiver (event, completion routine, and the
completion port the seed points on to) against every style of the sender,
each in the two cases the seed describes:

* pending: the receive is posted before any data arrives ("Background data
  receive", then the message when the I/O completes);
* immediate: the message is already there when the receive is posted.

Sender and receiver run in one process over loopback; the lines printed are
the ones the seed's programs print, and each case is checked against them.
"""

from __future__ import annotations

import select
import threading
from typing import Any, Callable

from .programs import (
    DEFAULT_MESSAGE,
    NOTIFY_STYLES,
    Hooks,
    Output,
    ProgramError,
    run_receiver,
    run_sender,
)
from .sockets import Socket

WAIT = 10.0  # seconds: the bound on every wait of the demo
MESSAGE_LINE = b"Received message : " + DEFAULT_MESSAGE.encode() + b" "
SENT_LINE = b"Send data size : %d " % (len(DEFAULT_MESSAGE) + 1)

EXPECTED_RECEIVER = {
    ("event", True): [b"Background data receive", MESSAGE_LINE],
    ("event", False): [MESSAGE_LINE],
    ("port", True): [b"Background data receive", MESSAGE_LINE],
    ("port", False): [MESSAGE_LINE],
    ("routine", True): [b"Background data receive", MESSAGE_LINE, b"Overlapped I/O Completed"],
    ("routine", False): [MESSAGE_LINE, b"Overlapped I/O Completed"],
}


class _CaseHooks(Hooks):
    """Orders the two sides: receive posted first (pending) or data there first."""

    def __init__(self, pending: bool) -> None:
        self.pending = pending
        self.listening_event = threading.Event()
        self.posted = threading.Event()
        self.sent = threading.Event()
        self.port = 0

    def listening(self, listener: Socket) -> None:
        self.port = listener.getsockname()[1]
        self.listening_event.set()

    def connected(self) -> None:
        if self.pending and not self.posted.wait(WAIT):
            raise ProgramError("the receiver never posted its receive")

    def accepted(self, conn: Socket) -> None:
        if not self.pending:
            if not self.sent.wait(WAIT):
                raise ProgramError("the sender never finished")
            readable, _, _ = select.select([conn.fileno()], [], [], WAIT)
            if not readable:
                raise ProgramError("the message never arrived")

    def recv_posted(self) -> None:
        self.posted.set()


def run_case(receiver_notify: str, sender_notify: str, pending: bool
             ) -> tuple[list[bytes], list[bytes], str | None]:
    """One sender/receiver pair; their lines, and an error if either side failed."""
    hooks = _CaseHooks(pending)
    received: list[bytes] = []
    sent: list[bytes] = []
    failures: list[str] = []

    def guarded(side: str, body: Callable[[], Any]) -> None:
        try:
            body()
        except (ProgramError, OSError) as exc:
            failures.append(f"{side}: {exc}")

    receiver = threading.Thread(target=guarded, args=("receiver", lambda: run_receiver(
        0, "127.0.0.1", receiver_notify, received.append, hooks, WAIT)), daemon=True)
    receiver.start()
    if hooks.listening_event.wait(WAIT):
        try:
            guarded("sender", lambda: run_sender("127.0.0.1", hooks.port,
                                                 DEFAULT_MESSAGE.encode(), sender_notify,
                                                 sent.append, hooks, WAIT))
        finally:
            hooks.sent.set()
    else:
        failures.append("receiver: never listened")
    receiver.join(2 * WAIT)
    if receiver.is_alive():
        failures.append("receiver: still running")
    return received, sent, "; ".join(failures) or None


def run_demo(out: Output) -> int:
    rows = []
    for receiver_notify in NOTIFY_STYLES:
        for sender_notify in NOTIFY_STYLES:
            for pending in (True, False):
                case = "pending" if pending else "immediate"
                out(b"")
                out(f"== receiver: {receiver_notify}, sender: {sender_notify}, "
                    f"receive {case} ==".encode())
                received, sent, error = run_case(receiver_notify, sender_notify, pending)
                for line in received:
                    out(b"[recv] " + line)
                for line in sent:
                    out(b"[send] " + line)
                expected = EXPECTED_RECEIVER[(receiver_notify, pending)]
                # A sender's send on loopback may complete at once or pend: both
                # are the seed's behaviour, as long as the size line ends it.
                ok = (error is None and received == expected and sent[-1:] == [SENT_LINE])
                if error:
                    out(f"!! {error}".encode())
                rows.append((receiver_notify, sender_notify, case, ok))
    out(b"")
    out(b"receiver  sender   receive    result")
    for receiver_notify, sender_notify, case, ok in rows:
        verdict = "as the seed" if ok else "DIFFERENT"
        out(f"{receiver_notify:<9} {sender_notify:<8} {case:<10} {verdict}".encode())
    passed = sum(ok for *_, ok in rows)
    out(f"{passed} of {len(rows)} cases behaved as the seed describes".encode())
    return 0 if passed == len(rows) else 1
