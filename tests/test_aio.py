"""winsock_ov.aio: asyncio's proactor loop on winsock_ov, with readers and writers.

Every wait is bounded by ``asyncio.wait_for(..., WAIT)``; readiness tests wait
for the callback itself (a future it completes), never for time to pass.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from typing import Any, Callable

import pytest
from support import WAIT

import winsock_ov
from winsock_ov.raw import ERROR_INVALID_HANDLE, WSAENOTSOCK

pytestmark = pytest.mark.windows


def run(main: Callable[[], Any]) -> Any:
    """Run ``main()`` on a fresh winsock_ov loop, bounded by WAIT, and close it."""
    from winsock_ov import aio

    loop = aio.new_event_loop()
    try:
        return loop.run_until_complete(asyncio.wait_for(main(), WAIT))
    finally:
        loop.close()


def test_the_loop_is_not_asyncios_proactor_class_but_does_its_work() -> None:
    from winsock_ov import aio

    loop = aio.new_event_loop()
    try:
        # Not asyncio.ProactorEventLoop: libraries that wrap that class with a
        # selector thread (Tornado) use add_reader directly here.
        assert not isinstance(loop, asyncio.ProactorEventLoop)
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()


def test_streams_echo() -> None:
    async def main() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readexactly(5))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        async with server:
            reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
            writer.write(b"hello")
            echoed = await reader.readexactly(5)
            writer.close()
            await writer.wait_closed()
        return echoed

    assert run(main) == b"hello"


def test_datagram_endpoints() -> None:
    async def main() -> tuple[bytes, Any]:
        loop = asyncio.get_running_loop()
        got: asyncio.Future[tuple[bytes, Any]] = loop.create_future()

        class Receiver(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                got.set_result((data, addr))

        receiver, _ = await loop.create_datagram_endpoint(Receiver,
                                                          local_addr=("127.0.0.1", 0))
        sender, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=receiver.get_extra_info("sockname"))
        sender.sendto(b"datagram")
        try:
            return await got
        finally:
            sender.close()
            receiver.close()

    data, addr = run(main)
    assert data == b"datagram" and addr[0] == "127.0.0.1"


def test_sock_methods() -> None:
    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        with socket.socket() as listener, socket.socket() as client:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listener.setblocking(False)
            client.setblocking(False)
            accepting = asyncio.ensure_future(loop.sock_accept(listener))
            await loop.sock_connect(client, listener.getsockname())
            server, _ = await accepting
            with server:
                await loop.sock_sendall(client, b"ping")
                return await loop.sock_recv(server, 4)

    assert run(main) == b"ping"


def test_a_reader_is_called_when_data_arrives_and_again_while_it_is_unread() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        calls: list[int] = []
        twice = loop.create_future()

        def readable() -> None:
            calls.append(len(calls))
            if len(calls) == 2:
                twice.set_result(None)
                loop.remove_reader(b)

        with a, b:
            b.setblocking(False)
            loop.add_reader(b, readable)
            await asyncio.sleep(0)  # one turn: nothing to read yet
            assert calls == []
            a.send(b"x")
            await twice  # level-triggered: unread data calls it again
            assert b.recv(1) == b"x"
        return calls

    assert run(main) == [0, 1]


def test_a_reader_that_reads_is_called_once_per_message() -> None:
    async def main() -> list[bytes]:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        received: list[bytes] = []
        done = loop.create_future()

        def readable() -> None:
            received.append(b.recv(100))
            if len(received) == 1:
                a.send(b"second")
            else:
                done.set_result(None)

        with a, b:
            b.setblocking(False)
            loop.add_reader(b.fileno(), readable)
            a.send(b"first")
            await done
            assert loop.remove_reader(b) is True
            assert loop.remove_reader(b) is False
        return received

    assert run(main) == [b"first", b"second"]


def test_a_writer_is_called_when_there_is_room() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        writable = loop.create_future()
        with a, b:
            loop.add_writer(a, writable.set_result, "room")
            assert await writable == "room"
            assert loop.remove_writer(a) is True

    run(main)


def test_a_listening_socket_is_readable_with_a_connection_waiting() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            pending = loop.create_future()
            loop.add_reader(listener, pending.set_result, True)
            with socket.create_connection(listener.getsockname(), timeout=WAIT):
                assert await pending
                loop.remove_reader(listener)
                listener.accept()[0].close()

    run(main)


def test_readiness_uses_no_thread() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        before = threading.active_count()
        a, b = socket.socketpair()
        with a, b:
            readable = loop.create_future()
            loop.add_reader(b, readable.set_result, None)
            loop.add_writer(a, lambda: None)
            a.send(b"x")
            await readable
            assert threading.active_count() == before
            loop.remove_reader(b)
            loop.remove_writer(a)

    run(main)


def test_a_closed_socket_object_can_still_be_removed() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        calls: list[str] = []
        with a:
            loop.add_reader(b, calls.append, "called")
            b.close()  # its poll ends (LOCAL_CLOSE); the reader is still registered
            assert loop.remove_reader(b) is True  # found by the object, as selectors do
            assert loop.remove_reader(b) is False
            done = loop.create_future()
            loop.call_soon(done.set_result, None)
            await done
            await asyncio.sleep(0)
        return calls

    assert run(main) == []


def test_a_new_callback_replaces_the_old_one_for_the_same_socket() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        called = loop.create_future()
        with a, b:
            loop.add_reader(b, called.set_result, "old")
            loop.add_reader(b, called.set_result, "new")
            a.send(b"x")
            result = await called
            loop.remove_reader(b)
        return str(result)

    assert run(main) == "new"


def test_closing_the_loop_with_readers_leaves_nothing_pending() -> None:
    from winsock_ov import aio

    baseline = winsock_ov.pending_operations()
    a, b = socket.socketpair()
    with a, b:
        loop = aio.new_event_loop()
        loop.add_reader(b, lambda: None)
        loop.add_writer(b, lambda: None)
        loop.add_reader(a, lambda: None)
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        assert winsock_ov.pending_operations() == baseline
        assert loop.remove_reader(b) is False
        with pytest.raises(RuntimeError):
            loop.add_reader(b, lambda: None)


def test_what_is_no_socket_is_refused_and_nothing_is_kept() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        baseline = winsock_ov.pending_operations()
        event = winsock_ov.Event()
        try:
            with pytest.raises(OSError) as raised:
                loop.add_reader(event.handle, lambda: None)
            # Wine deviation, as in test_poll: ERROR_INVALID_HANDLE for WSAENOTSOCK.
            assert raised.value.winerror in (WSAENOTSOCK, ERROR_INVALID_HANDLE)
            assert loop.remove_reader(event.handle) is False
            with pytest.raises(TypeError):
                loop.add_writer("socket", lambda: None)
        finally:
            event.close()
        assert winsock_ov.pending_operations() == baseline

    run(main)


def test_named_pipes_serve_and_connect() -> None:
    import asyncio.windows_events
    import uuid

    async def main() -> bytes:
        loop = asyncio.get_running_loop()
        address = rf"\\.\pipe\winsock_ov-aio-{uuid.uuid4()}"
        received = loop.create_future()

        class Server(asyncio.Protocol):
            def data_received(self, data: bytes) -> None:
                received.set_result(data)

        [server] = await loop.start_serving_pipe(Server, address)
        # asyncio's own PipeServer class, not a twin: callers may check it.
        assert isinstance(server, asyncio.windows_events.PipeServer)
        transport, _ = await loop.create_pipe_connection(asyncio.Protocol, address)
        try:
            transport.write(b"through the pipe")
            return bytes(await received)
        finally:
            transport.close()
            server.close()

    assert run(main) == b"through the pipe"


def test_call_soon_threadsafe_wakes_the_loop() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        woken = loop.create_future()
        threading.Thread(target=loop.call_soon_threadsafe,
                         args=(woken.set_result, "woken")).start()
        return str(await woken)

    assert run(main) == "woken"


def test_subprocess_pipes() -> None:
    async def main() -> bytes:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        out, _ = await process.communicate(b"shout")
        assert process.returncode == 0
        return out

    assert run(main) == b"SHOUT"


# --- libraries that need add_reader on Windows -------------------------------------------


def python_threads() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


def test_pyzmq_push_pull_and_req_rep_run_with_no_thread_of_python() -> None:
    """zmq.asyncio waits on ZMQ_FD with add_reader; on the Proactor it warns and
    starts a selector thread (tornado's), here it starts nothing."""
    import warnings

    import zmq
    import zmq.asyncio

    async def main() -> int:
        context = zmq.asyncio.Context()
        pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
        rep, req = context.socket(zmq.REP), context.socket(zmq.REQ)
        try:
            push.connect(f"tcp://127.0.0.1:{pull.bind_to_random_port('tcp://127.0.0.1')}")
            req.connect(f"tcp://127.0.0.1:{rep.bind_to_random_port('tcp://127.0.0.1')}")
            before = python_threads()
            for number in range(50):
                await push.send(b"message %d" % number)
                assert await pull.recv() == b"message %d" % number
                await req.send(b"ping %d" % number)
                assert await rep.recv() == b"ping %d" % number
                await rep.send(b"pong")
                assert await req.recv() == b"pong"
            assert python_threads() == before
            return number + 1
        finally:
            for sock in (pull, push, rep, req):
                sock.close(linger=0)
            context.term()

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # pyzmq's "Proactor ... add_reader"
        assert run(main) == 50


def test_tornado_serves_and_fetches_without_its_selector_thread() -> None:
    """Tornado wraps a ProactorEventLoop with a selector thread (AddThreadSelectorEventLoop)
    for its add_reader; on this loop it uses the loop's own."""
    import tornado.httpclient
    import tornado.httpserver
    import tornado.ioloop
    import tornado.netutil
    import tornado.web

    class Hello(tornado.web.RequestHandler):
        def get(self) -> None:
            self.write("hello")

    async def main() -> list[bytes]:
        loop = asyncio.get_running_loop()
        assert tornado.ioloop.IOLoop.current().selector_loop is loop  # type: ignore[attr-defined]
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        port = sockets[0].getsockname()[1]
        server = tornado.httpserver.HTTPServer(tornado.web.Application([("/", Hello)]))
        server.add_sockets(sockets)
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            return [(await client.fetch(f"http://127.0.0.1:{port}/")).body for _ in range(10)]
        finally:
            client.close()
            server.stop()

    assert run(main) == [b"hello"] * 10


def test_asyncio_runs_main_on_the_loop() -> None:
    """asyncio.Runner(loop_factory=...) from 3.11; the policy before it."""
    from winsock_ov import aio

    async def main() -> type:
        return type(asyncio.get_running_loop())

    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=aio.new_event_loop) as runner:
            assert runner.run(main()) is aio.EventLoop
    else:
        asyncio.set_event_loop_policy(aio.EventLoopPolicy())
        try:
            assert asyncio.run(main()) is aio.EventLoop
        finally:
            asyncio.set_event_loop_policy(None)


def test_the_policy_makes_winsock_ov_loops() -> None:
    from winsock_ov import aio

    loop = aio.EventLoopPolicy().new_event_loop()
    try:
        assert isinstance(loop, aio.EventLoop)
    finally:
        loop.close()


def cyclic_garbage(loop_factory: Callable[[], Any]) -> list[str]:
    """The types of the cyclic garbage a loop leaves after a little of everything
    (its port, sock_* I/O, a reader, a buffer of each size the drop-in makes)."""
    import gc

    async def main() -> None:
        loop = asyncio.get_running_loop()
        first, second = socket.socketpair()
        with first, second:
            first.setblocking(False)
            second.setblocking(False)
            for size in (100, 4096, 65536):
                await loop.sock_sendall(first, b"x" * size)
                got = b""
                while len(got) < size:
                    got += await loop.sock_recv(second, size)

    gc.collect()
    gc.disable()
    try:
        loop = loop_factory()
        try:
            loop.run_until_complete(asyncio.wait_for(main(), WAIT))
        finally:
            loop.close()
        del loop
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return sorted({type(obj).__name__ for obj in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_a_closed_loop_leaves_no_more_cyclic_garbage_than_asyncios() -> None:
    """Tornado's circlerefs test caught two: the loop, its port object and the
    proactor referring to each other, and ctypes array classes made per buffer."""
    from winsock_ov import aio

    assert cyclic_garbage(aio.new_event_loop) == cyclic_garbage(asyncio.ProactorEventLoop)
