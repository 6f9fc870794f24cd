"""The seed's programs, translated onto winsock_ov.raw, talking over loopback.

Each receiver runs against the event-based sender in both cases the seed
describes: *pending* (the receiver's WSARecv is posted before any data arrives)
and *immediate* (the data is already there when WSARecv is called).  The
outputs must be exactly the seed's lines.
"""

from __future__ import annotations

import select
import threading
from typing import Callable

import pytest
from seed_raw import (
    CmplRoutinesRecv_win,
    Console,
    NoSync,
    OverlappedRecv_win,
    OverlappedSend_win,
)
from support import WAIT, Worker, free_port, wait_for

import winsock_ov.raw as raw

pytestmark = pytest.mark.windows
TIMEOUT_MS = int(WAIT * 1000)
MESSAGE = "Received message : Network is Computer "


class PairSync:
    """Orders one sender and one receiver for the pending or immediate case."""

    def __init__(self, pending: bool) -> None:
        self.pending = pending
        self.listening_event = threading.Event()
        self.recv_posted_event = threading.Event()
        self.sender_done = threading.Event()
        self.listen_socket: int | None = None


class ReceiverSync(NoSync):
    def __init__(self, pair: PairSync) -> None:
        self.pair = pair

    def listening(self, listen_socket: int) -> None:
        self.pair.listen_socket = listen_socket
        self.pair.listening_event.set()

    def accepted(self, recv_socket: int) -> None:
        if not self.pair.pending:
            # Immediate case: the whole message is readable before WSARecv.
            wait_for(self.pair.sender_done, "the sender")
            readable, _, _ = select.select([recv_socket], [], [], WAIT)
            assert readable, "the message never arrived"

    def recv_posted(self) -> None:
        self.pair.recv_posted_event.set()


class SenderSync(NoSync):
    def __init__(self, pair: PairSync) -> None:
        self.pair = pair

    def connected(self) -> None:
        if self.pair.pending:
            wait_for(self.pair.recv_posted_event, "the receiver's WSARecv")


Program = Callable[..., int]


def run_pair(receiver: Program, pending: bool) -> tuple[list[str], list[str]]:
    port = str(free_port())
    pair = PairSync(pending)
    receiver_console, sender_console = Console(), Console()
    worker = Worker(lambda: receiver(["recv", port], receiver_console, ReceiverSync(pair),
                                     TIMEOUT_MS), name=receiver.__name__)
    worker.start()
    try:
        wait_for(pair.listening_event, "the receiver to listen")
        try:
            assert OverlappedSend_win(["send", "127.0.0.1", port], sender_console,
                                      SenderSync(pair), TIMEOUT_MS) == 0
        finally:
            pair.sender_done.set()
        assert worker.result() == 0
    finally:
        if worker.is_alive() and pair.listen_socket is not None:
            raw.closesocket(pair.listen_socket)  # unblocks a receiver stuck in accept()
    assert receiver_console.stderr.getvalue() == ""
    assert sender_console.stderr.getvalue() == ""
    return sender_console.lines(), receiver_console.lines()


def test_event_receiver_pending_prints_background_then_message() -> None:
    sent, received = run_pair(OverlappedRecv_win, pending=True)
    assert sent == ["Send data size : 20 "]
    assert received == ["Background data receive", MESSAGE]


def test_event_receiver_immediate_prints_only_the_message() -> None:
    sent, received = run_pair(OverlappedRecv_win, pending=False)
    assert sent == ["Send data size : 20 "]
    assert received == [MESSAGE]


def test_routine_receiver_pending_runs_routine_in_alertable_wait() -> None:
    sent, received = run_pair(CmplRoutinesRecv_win, pending=True)
    assert sent == ["Send data size : 20 "]
    assert received == ["Beackgorund data Receive", MESSAGE, "Overlapped I/O Completed"]


def test_routine_receiver_immediate_still_runs_routine_in_alertable_wait() -> None:
    sent, received = run_pair(CmplRoutinesRecv_win, pending=False)
    assert sent == ["Send data size : 20 "]
    assert received == [MESSAGE, "Overlapped I/O Completed"]
