"""The seed's sender and receiver on the object layer, as functions.

They speak the seed's protocol and print its lines, so either side can talk to
the C originals (OverlappedSend_win.c, OverlappedRecv_win.c,
CmplRoutinesRecv_win.c): the message goes out with its terminating NUL, and
the receiver prints what it got up to the first NUL.  ``winsock_ov.cli`` runs
them from the command line, ``winsock_ov.demo`` against each other.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from typing import Any, Callable

from .echo import EchoServer
from .event import Event
from .iocp import CompletionPort
from .operations import Operation
from .sockets import Socket
from .waits import WaitStatus, wait_for_multiple_events

DEFAULT_MESSAGE = "Network is Computer"
BUF_SIZE = 1024
NOTIFY_STYLES = ("event", "routine", "port")

Output = Callable[[bytes], None]


class ProgramError(Exception):
    """A failure the seed reports with ErrorHandling: one line, exit status 1."""


def emit(line: bytes) -> None:
    """Print a line as C's printf does: the bytes as they are, then the newline."""
    sys.stdout.flush()
    sys.stdout.buffer.write(line + os.linesep.encode())
    sys.stdout.buffer.flush()


class Hooks:
    """Points where the demo (or a test) orders sender and receiver; no-ops here."""

    def listening(self, listener: Socket) -> None: ...
    def connected(self) -> None: ...
    def accepted(self, conn: Socket) -> None: ...
    def recv_posted(self) -> None: ...


NO_HOOKS = Hooks()


class AnnouncePort(Hooks):
    """Print the port listened on: for port 0, the one the system chose."""

    def __init__(self, out: Output) -> None:
        self.out = out

    def listening(self, listener: Socket) -> None:
        self.out(b"Listening on port %d" % listener.getsockname()[1])


def _text(buffer: bytearray, nbytes: int) -> bytes:
    """What C's printf("%s", buf) shows: the received bytes up to the first NUL."""
    return bytes(buffer[:nbytes]).split(b"\0", 1)[0]


def resolve(host: str, port: int, *, passive: bool = False) -> tuple[int, tuple[str, int]]:
    """``host`` (an IPv4 or IPv6 address, or a name) and ``port`` as a TCP
    socket's family and address (getaddrinfo's first answer)."""
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE if passive else 0)[0]
    except (OSError, UnicodeError) as exc:
        raise ProgramError(f"getaddrinfo() error! {host}: {exc}") from exc
    return int(family), (str(sockaddr[0]), int(sockaddr[1]))


def _outcome(op: Operation, port: CompletionPort | None, timeout: float | None) -> Any:
    """Wait for ``op`` the way its style requires, then return its result."""
    if port is not None:
        # The port's only socket: what it hands back next is this operation.
        if port.dequeue(timeout) is not op:
            raise ProgramError("GetQueuedCompletionStatus() error! no completion came")
        return op.result()
    # An event operation waits on its event; a routine one waits alertably on
    # this thread, where its routine then runs.
    return op.result(timeout)


def run_sender(host: str, port: int, message: bytes, notify: str, out: Output = emit,
               hooks: Hooks = NO_HOOKS, timeout: float | None = None) -> int:
    """OverlappedSend_win.c: connect, send the message and its NUL, report the size."""
    family, address = resolve(host, port)
    with Socket(family) as sock, contextlib.ExitStack() as resources:
        try:
            sock.connect(address)
        except OSError as exc:
            raise ProgramError(f"connect() error! {exc}") from exc
        hooks.connected()
        completion_port = None
        event = None
        if notify == "port":
            completion_port = resources.enter_context(CompletionPort())
            completion_port.associate(sock)
        elif notify == "event":
            event = resources.enter_context(Event())
        routine = (lambda op: None) if notify == "routine" else None
        try:
            op: Operation = sock.send(message + b"\0", event=event, routine=routine)
            if not op.completed_immediately:
                out(b"Background data send")
            sent = _outcome(op, completion_port, timeout)
        except OSError as exc:
            raise ProgramError(f"WSASend() error! {exc}") from exc
    out(b"Send data size : %d " % sent)
    return 0


def run_receiver(port: int, host: str, notify: str, out: Output = emit,
                 hooks: Hooks = NO_HOOKS, timeout: float | None = None) -> int:
    """OverlappedRecv_win.c (event) or CmplRoutinesRecv_win.c (routine)."""
    family, address = resolve(host, port, passive=True)
    with Socket(family) as listener:
        try:
            listener.bind(address)
        except OSError as exc:
            raise ProgramError(f"bind() error! {exc}") from exc
        listener.listen(5)
        hooks.listening(listener)
        try:
            conn, _ = listener.accept(timeout)
        except OSError as exc:
            raise ProgramError(f"accept error! {exc}") from exc
        with conn:
            hooks.accepted(conn)
            buffer = bytearray(BUF_SIZE)
            if notify == "routine":
                _receive_with_routine(conn, buffer, out, hooks, timeout)
            else:
                _receive(conn, buffer, notify, out, hooks, timeout)
    return 0


def _receive(conn: Socket, buffer: bytearray, notify: str, out: Output, hooks: Hooks,
             timeout: float | None) -> None:
    """OverlappedRecv_win.c, told by an event, or by a completion port."""
    with contextlib.ExitStack() as resources:
        completion_port = None
        event = None
        if notify == "port":
            completion_port = resources.enter_context(CompletionPort())
            completion_port.associate(conn)
        else:
            event = resources.enter_context(Event())
        try:
            op = conn.recv_into(buffer, event=event)
            if not op.completed_immediately:
                out(b"Background data receive")
            hooks.recv_posted()
            received = _outcome(op, completion_port, timeout)
        except OSError as exc:
            raise ProgramError(f"WSARecv() error! {exc}") from exc
    out(b"Received message : " + _text(buffer, received) + b" ")


def _receive_with_routine(conn: Socket, buffer: bytearray, out: Output, hooks: Hooks,
                          timeout: float | None) -> None:
    def completion_routine(op: Operation) -> None:
        try:
            received = op.result()
        except OSError as exc:
            raise ProgramError(f"CompRoutine error! {exc}") from exc
        out(b"Received message : " + _text(buffer, received) + b" ")

    try:
        op = conn.recv_into(buffer, routine=completion_routine)
    except OSError as exc:
        raise ProgramError(f"WSARecv() error! {exc}") from exc
    if not op.completed_immediately:
        out(b"Background data receive")
    hooks.recv_posted()
    # As the seed: an alertable wait on an event nobody sets ends with
    # WAIT_IO_COMPLETION once the routine ran.
    with Event() as never_set:
        outcome = wait_for_multiple_events([never_set], timeout=timeout, alertable=True)
    if outcome.status is WaitStatus.IO_COMPLETION and op.done:
        out(b"Overlapped I/O Completed")
    else:
        raise ProgramError(f"WSARecv() error! the wait ended with {outcome.status.value}")


def run_echo_server(host: str, port: int) -> int:
    """Serve until Ctrl-C (KeyboardInterrupt, raised)."""
    family, address = resolve(host, port, passive=True)
    try:
        server = EchoServer(address, family=family)
    except OSError as exc:
        raise ProgramError(f"bind() error! {exc}") from exc
    emit(b"echo server on %s port %d (Ctrl-C stops it)" % (host.encode(), server.address[1]))
    server.serve()
    return 0


