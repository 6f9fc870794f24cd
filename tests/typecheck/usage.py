# pyright: strict
"""A user's script, never run: type-checked by tests/test_typing.py.

``mypy --strict`` and ``pyright --strict`` must both report each
``reveal_type(...)`` as the type written after ``# revealed:`` on its line or
alone on the line before (module names left out, unions written ``A | B`` in
any order, ``Address`` for ``tuple[str, int] | tuple[str, int, int, int]``),
report an error on each line marked ``# expect-error``, and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import winsock_ov
from winsock_ov import (
    AcceptOperation,
    CompletionPort,
    ConnectOperation,
    Event,
    Operation,
    OperationAbortedError,
    PollEvents,
    RecvFromOperation,
    RecvOperation,
    RoutineErrors,
    SendOperation,
    Socket,
    ThreadExitedError,
    sleep_ex,
    wait_for_multiple_events,
    wait_for_single_object_ex,
)
from winsock_ov.raw import *  # noqa: F403 - the style the README teaches

if TYPE_CHECKING:
    from typing_extensions import reveal_type


def sockets_and_addresses() -> None:
    listener = Socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    reveal_type(listener.getsockname())  # revealed: Address
    client = Socket(AF_INET6)  # noqa: F405
    client.connect(("::1", 80, 0))
    peer, address = listener.accept(timeout=1.0)
    reveal_type(peer)  # revealed: Socket
    reveal_type(address)  # revealed: Address
    reveal_type(peer.getpeername())  # revealed: Address
    reveal_type(Socket.from_handle(peer.fileno()))  # revealed: Socket
    ipv4: winsock_ov.IPv4Address = ("127.0.0.1", 80)
    client.sendto(b"datagram", ipv4)
    client.send("text")  # expect-error: str is no buffer
    client.connect("127.0.0.1:80")  # expect-error: an address is a tuple
    client.sendto("text", ipv4)  # expect-error: str is no buffer
    client.connect_ex("127.0.0.1:80")  # expect-error: an address is a tuple
    Socket(_handle=5)  # expect-error: no private parameter


def operations(sock: Socket, event: Event) -> None:
    sent = sock.send(b"data", event=event)
    reveal_type(sent)  # revealed: SendOperation
    reveal_type(sent.result())  # revealed: int
    gathered = sock.send([b"gather", bytearray(b"ed"), memoryview(b"!")])
    reveal_type(gathered.result())  # revealed: int
    reveal_type(sock.sendto(b"d", ("127.0.0.1", 9)).result())  # revealed: int
    received = sock.recv(1024)
    reveal_type(received)  # revealed: RecvOperation[bytes]
    reveal_type(received.result(timeout=1.0))  # revealed: bytes
    reveal_type(sock.recv_into(bytearray(10)).result())  # revealed: int
    reveal_type(sock.recvfrom(1024).result())  # revealed: tuple[bytes, Address | None]
    scattered = sock.recvfrom_into([bytearray(4), bytearray(4)])
    reveal_type(scattered.result())  # revealed: tuple[int, Address | None]
    reveal_type(sock.sendmsg([b"d"], [(0, 19, b"")], 0, ("127.0.0.1", 9)).result())  # revealed: int
    # revealed: tuple[bytes, list[tuple[int, int, bytes]], int, Address | None]
    reveal_type(sock.recvmsg(1024, 64).result())
    # revealed: tuple[int, list[tuple[int, int, bytes]], int, Address | None]
    reveal_type(sock.recvmsg_into([bytearray(4)]).result())
    accepted = sock.accept_ex()
    reveal_type(accepted.result())  # revealed: tuple[Socket, Address]
    reveal_type(accepted.local_address)  # revealed: Address | None
    reveal_type(accepted.data)  # revealed: bytes
    reveal_type(sock.connect_ex(("127.0.0.1", 80), b"hello").result())  # revealed: int
    reveal_type(sock.disconnect_ex().result())  # revealed: None
    reveal_type(received.exception())  # revealed: BaseException | None
    reveal_type(received.nbytes)  # revealed: int
    reveal_type(received.wait(0.5))  # revealed: bool
    reveal_type(received.observe())  # revealed: bool
    ended: winsock_ov.Outcome[bytes] = received  # every operation is an Outcome
    reveal_type(ended.result())  # revealed: bytes


def callbacks(sock: Socket) -> None:
    def on_recv(op: RecvOperation[bytes]) -> None:
        reveal_type(op.result())  # revealed: bytes

    def on_any(op: Operation[object]) -> None:
        reveal_type(op.result())  # revealed: object

    sock.recv(10, routine=on_recv)
    sock.recv(10, routine=on_any)
    sock.recv(10).add_done_callback(on_recv)
    sock.send(b"x").add_done_callback(on_any)
    sock.send(b"x", routine=on_recv)  # expect-error: a routine for another operation
    ops: list[Operation[object]] = [sock.recv(1), sock.send(b"x"), sock.accept_ex()]
    reveal_type(ops[0].result())  # revealed: object
    typed: list[RecvFromOperation[tuple[bytes, winsock_ov.Address | None]]] = [sock.recvfrom(9)]
    # revealed: list[RecvFromOperation[tuple[bytes, Address | None]]]
    reveal_type(typed)


def unions(one: AcceptOperation | ConnectOperation | SendOperation) -> None:
    reveal_type(one.result())  # revealed: tuple[Socket, Address] | int


async def awaiting(sock: Socket) -> None:
    reveal_type(await sock.recv(10))  # revealed: bytes
    reveal_type(await sock.recv_into(bytearray(10)))  # revealed: int
    reveal_type(await sock.accept_ex())  # revealed: tuple[Socket, Address]


def ports(sock: Socket) -> None:
    with CompletionPort() as port:
        reveal_type(port.associate(sock, key=1))  # revealed: bool
        polled = port.poll(sock, PollEvents.RECEIVE | PollEvents.SEND)
        reveal_type(polled.result())  # revealed: PollEvents
        reveal_type(polled.exception(0))  # revealed: BaseException | None
        polled.add_done_callback(lambda wait: reveal_type(wait))  # revealed: PollOperation
        port.post("value", key=2)
        # revealed: Operation[Any] | PollOperation | Posted | Packet | None
        reveal_type(port.dequeue(timeout=1.0))
        for completion in port.dequeue_many(16, timeout=0):
            if isinstance(completion, RecvOperation):
                reveal_type(completion.result())  # revealed: Any


def events_and_waits(event: Event) -> None:
    event.set()
    reveal_type(event.wait(1.0))  # revealed: bool
    reveal_type(wait_for_single_object_ex(event, 1.0))  # revealed: WaitResult
    reveal_type(wait_for_multiple_events([event], timeout=0.5).which)  # revealed: int | None
    reveal_type(sleep_ex(0, alertable=True).status)  # revealed: WaitStatus


def errors(op: RecvOperation[bytes]) -> None:
    try:
        op.result()
    except OperationAbortedError as exc:
        reveal_type(exc.winerror)  # revealed: int
    except ThreadExitedError as exc:
        reveal_type(exc.io_error)  # revealed: OSError | None
    except RoutineErrors as group:
        reveal_type(group.exceptions)  # revealed: tuple[Exception, ...]


def raw_layer() -> None:
    overlapped = WSAOVERLAPPED()  # noqa: F405
    reveal_type(overlapped)  # revealed: OVERLAPPED
    if WSAGetLastError() == WSA_IO_PENDING:  # noqa: F405
        overlapped.hEvent = WSACreateEvent()  # noqa: F405
    reveal_type(int(WSA_IO_PENDING))  # noqa: F405  # revealed: int
    reveal_type(WindowsOnlyError("only there"))  # noqa: F405  # revealed: WindowsOnlyError
    reveal_type(LPWSAOVERLAPPED)  # noqa: F405  # revealed: type[_Pointer[OVERLAPPED]]
