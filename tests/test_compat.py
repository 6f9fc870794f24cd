"""winsock_ov.compat.overlapped against CPython's C ``_overlapped``, side by side.

The module must offer every public name of the C module, behave the same on the
calls asyncio makes, and keep memory Windows may write alive where the C
module would free it.
"""

from __future__ import annotations

import gc
import socket
import textwrap
import weakref
from typing import Any, Callable

import pytest
from support import WAIT, run_python, said

pytestmark = pytest.mark.windows


@pytest.fixture(scope="module")
def modules() -> tuple[Any, Any]:
    import _overlapped as c_module

    from winsock_ov.compat import overlapped as ours

    return c_module, ours


def public(module: Any) -> set[str]:
    return {name for name in dir(module) if not name.startswith("_")}


def test_every_public_name_of_the_c_module_is_here(modules: tuple[Any, Any]) -> None:
    c_module, ours = modules
    assert public(c_module) - public(ours) == set()
    assert public(c_module.Overlapped) - public(ours.Overlapped) == set()


def test_constants_have_the_c_modules_values(modules: tuple[Any, Any]) -> None:
    c_module, ours = modules
    for name in public(c_module):
        value = getattr(c_module, name)
        if isinstance(value, int):
            assert getattr(ours, name) == value, name


def test_format_message_matches(modules: tuple[Any, Any]) -> None:
    c_module, ours = modules
    for code in (0, 5, 64, 995, 10054, 10061):
        assert ours.FormatMessage(code) == c_module.FormatMessage(code)


def outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("returned", call())
    except Exception as exc:  # compared between the two modules
        return ("raised", type(exc), getattr(exc, "winerror", None))


def test_misuse_raises_the_same_way(modules: tuple[Any, Any]) -> None:
    c_module, ours = modules
    for module in (c_module, ours):
        ov = module.Overlapped(module.NULL)
        with pytest.raises(ValueError, match="operation not yet attempted"):
            ov.getresult()
    bad_socket = 2**32 + 7  # not a handle of this process

    def start_on_bad_socket(module: Any) -> Any:
        ov = module.Overlapped(module.NULL)
        first = outcome(lambda: ov.WSARecv(bad_socket, 10))
        return first, outcome(ov.getresult), outcome(lambda: ov.WSASend(bad_socket, b"x", 0)), \
            ov.pending

    assert start_on_bad_socket(ours) == start_on_bad_socket(c_module)


def test_completion_port_round_trip_matches(modules: tuple[Any, Any]) -> None:
    c_module, ours = modules
    for module in (c_module, ours):
        port = module.CreateIoCompletionPort(module.INVALID_HANDLE_VALUE, module.NULL, 0, 0)
        assert module.GetQueuedCompletionStatus(port, 0) is None
        ov = module.Overlapped(module.NULL)
        module.PostQueuedCompletionStatus(port, 7, 3, ov.address)
        assert module.GetQueuedCompletionStatus(port, int(WAIT * 1000)) == (0, 7, 3, ov.address)


def connected_pair() -> tuple[socket.socket, socket.socket]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server


def port_tied_to(module: Any, sock: socket.socket, key: int,
                 tie: Callable[..., Any] | None = None) -> int:
    """A new port of ``module``'s with ``sock`` tied to it (by ``tie``, else the
    module's CreateIoCompletionPort)."""
    port = module.CreateIoCompletionPort(module.INVALID_HANDLE_VALUE, module.NULL, 0, 0)
    (tie or module.CreateIoCompletionPort)(sock.fileno(), port, key, 0)
    return int(port)


def recv_started(module: Any, sock: socket.socket) -> Any:
    """An Overlapped of ``module``'s receiving up to 100 bytes on ``sock``."""
    receive = module.Overlapped(module.NULL)
    receive.WSARecv(sock.fileno(), 100)
    return receive


def test_recv_send_and_getresult_match_over_a_port(modules: tuple[Any, Any]) -> None:
    c_module, ours = modules
    for module in (c_module, ours):
        client, server = connected_pair()
        with client, server:
            port = port_tied_to(module, server, 0)
            receive = recv_started(module, server)
            assert receive.pending
            client.sendall(b"over the port")
            status = module.GetQueuedCompletionStatus(port, int(WAIT * 1000))
            assert status == (0, 13, 0, receive.address)
            assert not receive.pending
            assert receive.getresult() == b"over the port"
            with pytest.raises(ValueError, match="operation already attempted"):
                receive.WSARecv(server.fileno(), 1)


def test_connect_ex_refused_is_connection_refused_in_both(modules: tuple[Any, Any]) -> None:
    c_module, ours = modules
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()
    results = []
    for module in (c_module, ours):
        with socket.socket() as sock:
            module.BindLocal(sock.fileno(), socket.AF_INET)
            ov = module.Overlapped()
            ov.ConnectEx(sock.fileno(), closed)
            results.append(outcome(lambda ov=ov: ov.getresult(True)))
    assert results[0] == results[1] == ("raised", ConnectionRefusedError, 1225)


def test_udp_recvfrom_and_sendto_match(modules: tuple[Any, Any]) -> None:
    c_module, ours = modules
    for module in (c_module, ours):
        with socket.socket(type=socket.SOCK_DGRAM) as a, socket.socket(type=socket.SOCK_DGRAM) as b:
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            receive = module.Overlapped()
            receive.WSARecvFrom(b.fileno(), 64)
            send = module.Overlapped()
            send.WSASendTo(a.fileno(), b"datagram", 0, b.getsockname())
            assert send.getresult(True) == 8
            assert receive.getresult(True) == (b"datagram", a.getsockname())


def test_dropped_pending_overlapped_stays_alive_until_its_packet_is_dequeued(
        modules: tuple[Any, Any]) -> None:
    _, ours = modules
    from winsock_ov._registry import registry

    client, server = connected_pair()
    with client, server:
        port = ours.CreateIoCompletionPort(ours.INVALID_HANDLE_VALUE, ours.NULL, 0, 0)
        ours.CreateIoCompletionPort(server.fileno(), port, 0, 0)
        receive = ours.Overlapped(ours.NULL)
        receive.WSARecv(server.fileno(), 100)
        ref, address = weakref.ref(receive), receive.address
        del receive  # the C module would free the OVERLAPPED and the buffer here
        for _ in range(3):
            gc.collect()
        assert ref() is not None and address in registry
        client.sendall(b"late data")
        status = ours.GetQueuedCompletionStatus(port, int(WAIT * 1000))
        assert status == (0, 9, 0, address)
        assert address not in registry
        gc.collect()
        assert ref() is None


def test_install_makes_asyncio_run_on_this_module() -> None:
    code = textwrap.dedent("""
        import sys
        from winsock_ov.compat import overlapped
        overlapped.install()
        import asyncio, asyncio.windows_events as events
        assert events._overlapped is overlapped, events._overlapped

        async def main():
            async def echo(reader, writer):
                writer.write(await reader.read(100))
                await writer.drain()
                writer.close()
            server = await asyncio.start_server(echo, "127.0.0.1", 0)
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            writer.write(b"through winsock_ov")
            print((await reader.read(100)).decode())
            writer.close()
            server.close()
            await server.wait_closed()

        asyncio.run(main())
        try:
            overlapped.install()
        except RuntimeError as exc:
            print("second install refused:", "already imported" in str(exc))
    """)
    result = run_python(code, dev=False)
    assert result.returncode == 0, said(result)
    assert result.stdout.splitlines() == ["through winsock_ov", "second install refused: True"], \
        said(result)


def test_the_batched_dequeue_answers_as_the_c_module_does(
        modules: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Same messages in the same order as C's GetQueuedCompletionStatus (posted
    packets, a failed I/O's error), one GetQueuedCompletionStatusEx per 64, and
    the 0 ms call right after a short batch answered without one."""
    c_module, ours = modules
    calls = []
    real = ours.GET_QUEUED_COMPLETION_STATUS_EX

    def counted(*args: Any) -> Any:
        calls.append(args[4])  # the timeout
        return real(*args)

    monkeypatch.setattr(ours, "GET_QUEUED_COMPLETION_STATUS_EX", counted)
    dequeue = ours.BatchedGetQueuedCompletionStatus()
    answers = {}
    for module, get in ((c_module, c_module.GetQueuedCompletionStatus), (ours, dequeue)):
        client, server = connected_pair()
        with client, server:
            port = port_tied_to(module, server, 5)
            posted = [module.Overlapped(module.NULL) for _ in range(70)]
            for index, ov in enumerate(posted):
                module.PostQueuedCompletionStatus(port, index, 3, ov.address)
            receive = recv_started(module, server)
            receive.cancel()
            messages = [get(port, int(WAIT * 1000)) for _ in range(71)]
            addresses = [ov.address for ov in posted]
            answers[module] = [(error, nbytes, key, addresses.index(address)
                                if address != receive.address else "recv")
                               for error, nbytes, key, address in messages]
            assert get(port, 0) is None
    assert answers[ours] == answers[c_module]
    assert answers[ours][-1] == (995, 0, 5, "recv")  # ERROR_OPERATION_ABORTED
    # 70 posted + 1 aborted: a batch of 64, one of 7; the 0 ms call after it asked nothing.
    assert calls == [int(WAIT * 1000)] * 2
    assert dequeue(port, 0) is None and calls == [int(WAIT * 1000)] * 2 + [0]


def test_the_batched_ports_sockets_skip_packets_and_the_batch_makes_them(
        modules: tuple[Any, Any]) -> None:
    """A send that finishes within WSASend queues no packet (skip-on-success) and
    still comes out of the dequeue once, as the proactor expects; a pending recv's
    packet comes from Windows as before."""
    from winsock_ov import skip_on_success_supported

    _, ours = modules
    dequeue = ours.BatchedGetQueuedCompletionStatus()
    client, server = connected_pair()
    with client, server:
        port = port_tied_to(ours, client, 7, tie=dequeue.CreateIoCompletionPort)
        receive = recv_started(ours, client)
        assert receive.pending
        send = ours.Overlapped(ours.NULL)
        send.WSASend(client.fileno(), b"abc", 0)
        assert not send.pending  # three bytes on an idle loopback connection: at once
        assert dequeue(port, int(WAIT * 1000)) == (0, 3, 7, send.address)
        server.sendall(b"reply")
        assert dequeue(port, int(WAIT * 1000)) == (0, 5, 7, receive.address)
        assert receive.getresult() == b"reply" and send.getresult() == 3
        # Nothing else: no second packet for the send, whether Windows skipped it
        # (the batch made it) or not (it is the one that came).
        assert dequeue(port, 0) is None and dequeue(port, 0) is None
        batch = dequeue.batch(port)
        assert batch.made_packets == (1 if skip_on_success_supported() else 0)
        dequeue.forget(port, batch)
        assert dequeue.batch(port) is not batch


def test_a_new_port_at_a_closed_ones_handle_value_gets_a_fresh_batch(
        modules: tuple[Any, Any]) -> None:
    """What a closed port's batch still held (a packet it made) never reaches the
    port created next at the same handle value."""
    from winsock_ov.core import OverlappedIO
    from winsock_ov.notify import OBSERVED
    from winsock_ov.raw import CloseHandle

    _, ours = modules
    dequeue = ours.BatchedGetQueuedCompletionStatus()
    port = dequeue.CreateIoCompletionPort(ours.INVALID_HANDLE_VALUE, ours.NULL, 0, 0)
    stale = dequeue.batch(port)
    io = OverlappedIO(None, None, OBSERVED)  # an I/O that finished within its call...
    stale.hand_out(io, None, 0)  # ...whose packet the batch made, left when its port closed
    CloseHandle(port)
    opened = []
    while len(opened) < 16 and port not in opened:  # Windows hands freed values out again
        opened.append(dequeue.CreateIoCompletionPort(ours.INVALID_HANDLE_VALUE, ours.NULL,
                                                     0, 0))
    try:
        assert port in opened, (port, opened)
        assert dequeue.batch(port) is not stale
        assert dequeue(port, 0) is None  # not the stale packet
    finally:
        for handle in opened:
            CloseHandle(handle)
