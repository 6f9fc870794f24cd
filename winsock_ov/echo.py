"""An echo server on a completion port: the shape of an IOCP server, in one thread.

The listening socket keeps a few AcceptEx operations posted; each accepted
connection alternates one receive and one send of what was received; every
operation of every socket comes back through one ``dequeue_many`` loop, once,
whether it pended or finished within its call (the port's contract, see
``winsock_ov.iocp``).

    server = EchoServer(("127.0.0.1", 9190))
    server.serve()            # until server.stop() is called from another thread

``python -m winsock_ov echo PORT`` runs it.
"""

from __future__ import annotations

from typing import Any

from ._buffers import MAX_LENGTH
from ._checks import INT_MAX, check_int
from .extensions import AcceptOperation
from .iocp import CompletionPort, Posted
from .operations import Operation, RecvOperation, SendOperation
from .raw import AF_INET
from .sockets import Socket

__all__ = ["EchoServer"]

_STOP = object()


class EchoServer:
    def __init__(self, address: tuple[str, int] = ("127.0.0.1", 0), *, family: int = AF_INET,
                 backlog: int = 128, accepts: int = 4, bufsize: int = 65536) -> None:
        # Checked now: a bad bufsize would otherwise fail at the first connection.
        self.bufsize = check_int("bufsize", bufsize, 1, MAX_LENGTH)
        check_int("accepts", accepts, 1, INT_MAX)
        self.connections: set[Socket] = set()
        self.echoed = 0  # bytes sent back, in all
        self.listener = Socket(family)  # a bad family is refused here, before the port exists
        self.port = CompletionPort()
        try:
            self.listener.bind(address)
            self.listener.listen(backlog)
            self.port.associate(self.listener)
            for _ in range(accepts):
                self.listener.accept_ex()
        except BaseException:
            self.close()
            raise

    @property
    def address(self) -> Any:
        return self.listener.getsockname()

    def stop(self) -> None:
        """Make ``serve()`` return (safe from any thread)."""
        self.port.post(_STOP)

    def serve(self) -> None:
        """Handle completions until ``stop()`` (or Ctrl-C: KeyboardInterrupt); then
        close every socket and the port."""
        try:
            while True:
                for done in self.port.dequeue_many():
                    if isinstance(done, Posted) and done.value is _STOP:
                        return
                    if isinstance(done, Operation):
                        self._handle(done)
        finally:
            self.close()

    def _handle(self, op: Operation) -> None:
        """Act on one finished operation: start what follows it."""
        if isinstance(op, AcceptOperation):
            # One accept ended, in success or failure (a reset before it was
            # accepted, a cancel): post the next, or the server would stop accepting.
            if not self.listener.closed:
                self.listener.accept_ex()
            if op.exception() is None:
                connection, _ = op.result()
                self.port.associate(connection)
                self.connections.add(connection)
                connection.recv(self.bufsize)
        elif op.exception() is not None:  # reset, or aborted by close()
            self._drop(op.socket)
        elif isinstance(op, RecvOperation):
            data = op.result()
            if data:
                op.socket.send(data)
            else:
                self._drop(op.socket)  # the client closed: EOF
        elif isinstance(op, SendOperation):
            self.echoed += op.result()
            op.socket.recv(self.bufsize)

    def _drop(self, connection: Socket) -> None:
        self.connections.discard(connection)
        connection.close()

    def close(self) -> None:
        for connection in list(self.connections):
            self._drop(connection)
        self.listener.close()
        self.port.close()
