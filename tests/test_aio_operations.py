"""winsock_ov's own operations awaited in winsock_ov.aio's loop, and their done callbacks.

Every wait is bounded (``asyncio.wait_for(..., WAIT)``, or a timeout); a race
test makes both outcomes happen and checks each one's promise, never a sleep.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest
from support import WAIT, tcp_pair

import winsock_ov
from winsock_ov import OperationAbortedError

pytestmark = pytest.mark.windows


def run(main: Callable[[Any], Any]) -> Any:
    """Run ``main(loop)`` on a fresh winsock_ov loop, bounded by WAIT, and close it."""
    from winsock_ov import aio

    loop = aio.new_event_loop()
    try:
        return loop.run_until_complete(asyncio.wait_for(main(loop), WAIT))
    finally:
        loop.close()


def associated_pair(loop: Any) -> tuple[Any, Any]:
    client, server = tcp_pair()
    loop.associate(client)
    loop.associate(server)
    return client, server


@pytest.mark.parametrize("tied", [True, False], ids=["loop-port", "event"])
def test_recv_and_send_are_awaited(tied: bool) -> None:
    async def main(loop: Any) -> None:
        client, server = associated_pair(loop) if tied else tcp_pair()
        with client, server:
            reading = server.recv(100)  # pending: nothing sent yet
            assert await client.send(b"hello") == 5
            assert await reading == b"hello"
            assert reading.notify is (winsock_ov.Notify.PORT if tied else winsock_ov.Notify.EVENT)
            into = bytearray(8)
            sending = server.send([b"ab", b"cd"])
            assert await client.recv_into(into) == 4 and into[:4] == b"abcd"
            assert await sending == 4
            assert not client.inflight and not server.inflight  # nothing of theirs pending

    run(main)


def test_accept_ex_and_connect_ex_are_awaited() -> None:
    async def main(loop: Any) -> None:
        with winsock_ov.Socket() as listener, winsock_ov.Socket() as client:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            loop.associate(listener)
            loop.associate(client)
            accepting = listener.accept_ex()
            assert await client.connect_ex(listener.getsockname(), b"hi") == 2
            accepted, peer = await accepting
            with accepted:
                assert peer == client.getsockname()
                assert await accepted.recv(2) == b"hi"

    run(main)


def test_many_operations_at_once_each_get_their_own_outcome() -> None:
    async def main(loop: Any) -> None:
        pairs = [associated_pair(loop) for _ in range(20)]
        try:
            reads = [server.recv(16) for _, server in pairs]
            for index, (client, _) in enumerate(pairs):
                client.send(b"message %d" % index)
            assert await asyncio.gather(*reads) == [b"message %d" % i for i in range(20)]
        finally:
            for client, server in pairs:
                client.close()
                server.close()

    run(main)


@pytest.mark.parametrize("tied", [True, False], ids=["loop-port", "event"])
def test_cancelling_the_task_ends_the_io_before_cancelled_error(tied: bool) -> None:
    async def main(loop: Any) -> None:
        client, server = associated_pair(loop) if tied else tcp_pair()
        with client, server:
            reading = server.recv(100)
            task = asyncio.ensure_future(_await(reading))
            await asyncio.sleep(0)  # one step: the task (scheduled first) is awaiting now
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Windows ended the I/O before CancelledError came: nothing is pending.
            assert reading.done and not reading.pending
            with pytest.raises(OperationAbortedError):
                reading.result()
            assert not server.inflight  # nothing of the socket's is pending
            client.send(b"later")  # the socket still works; nothing was lost
            assert await server.recv(100) == b"later"

    run(main)


async def _await(operation: Any) -> Any:
    return await operation


def test_data_that_won_the_race_with_the_cancel_is_reported() -> None:
    async def main(loop: Any) -> None:
        client, server = tcp_pair()  # event operations: their end can be waited on here
        with client, server:
            reading = server.recv(100)
            task = asyncio.ensure_future(_await(reading))
            await asyncio.sleep(0)
            client.send(b"won")
            event = reading.event
            assert event is not None and event.wait(WAIT)  # Windows finished the recv
            task.cancel()  # before the loop learned of it
            with pytest.raises(asyncio.CancelledError):
                await task
            assert reading.result() == b"won"

    run(main)


def test_cancel_racing_data_loses_no_byte() -> None:
    """Each round either aborts the recv (the bytes then come to the next recv) or
    reports the bytes on the operation: the stream stays whole.  The rounds send
    before the cancel, cancel before sending (the abort is then certain: nothing
    was sent when Windows got the cancel), or do both in the same step."""
    async def main(loop: Any) -> dict[str, int]:
        client, server = associated_pair(loop)
        outcomes = {"aborted": 0, "won": 0}
        with client, server:
            for index in range(300):
                payload = b"round %d;" % index
                reading = server.recv(100)
                task = asyncio.ensure_future(_await(reading))
                await asyncio.sleep(0)  # one step: the task is awaiting
                if index % 3 == 0:
                    client.send(payload)
                task.cancel()
                if index % 3 == 1:
                    await asyncio.sleep(0)  # one step: the task asked for the cancel
                if index % 3 != 0:
                    client.send(payload)
                with pytest.raises(asyncio.CancelledError):
                    await task
                try:
                    got = reading.result()
                    outcomes["won"] += 1
                except OperationAbortedError:
                    got = await server.recv(100)
                    outcomes["aborted"] += 1
                assert got == payload, (index, got)
        return outcomes

    outcomes = run(main)
    assert sum(outcomes.values()) == 300 and outcomes["aborted"] >= 100, outcomes
    print(outcomes)


def test_awaiting_where_the_loop_cannot_end_it_is_refused() -> None:
    async def main(loop: Any) -> None:
        client, server = tcp_pair()
        with client, server, winsock_ov.CompletionPort() as port:
            other_client, other_server = tcp_pair()
            with other_client, other_server:
                port.associate(other_server)
                on_other_port = other_server.recv(10)
                with pytest.raises(RuntimeError, match="another completion port"):
                    await on_other_port
                on_other_port.cancel()
                assert port.dequeue(WAIT) is on_other_port
            with pytest.raises(RuntimeError, match="alertable wait"):
                await server.recv(10, routine=lambda op: None)
            with pytest.raises(TypeError, match="winsock_ov operation"):
                await loop.outcome(b"no operation")
            with pytest.raises(TypeError, match="winsock_ov Socket"):
                loop.associate(server.fileno())
            with pytest.raises(ValueError, match="key"):
                loop.associate(client, key=-1)
            with pytest.raises(TypeError, match="key"):
                loop.associate(client, key="1")  # type: ignore[arg-type]
            assert client.port_binding is None  # nothing tied by the refusals
            loop.associate(client)
            with pytest.raises(ValueError, match="already associated"):
                loop.associate(client)

    run(main)


def test_a_key_for_loop_associate_is_deprecated_and_its_operations_still_end_there() -> None:
    """0.1.0 took a key; the loop's packets carry winsock_ov's own (its dequeue
    tells winsock_ov's operations from the proactor's by it)."""
    async def main(loop: Any) -> None:
        client, server = tcp_pair()
        with client, server:
            with pytest.warns(DeprecationWarning, match="key"):
                loop.associate(server, key=7)
            reading = server.recv(10)
            client.send(b"hello").result(WAIT)
            assert await asyncio.wait_for(reading, WAIT) == b"hello"

    run(main)
    winsock_ov.sleep_ex(0, alertable=True)  # the refused routine operation's end


def test_awaiting_outside_winsock_ov_aio_says_what_is_needed() -> None:
    async def main() -> None:
        client, server = tcp_pair()
        with client, server:
            reading = server.recv(10)
            with pytest.raises(RuntimeError, match=r"winsock_ov\.aio"):
                await reading
            reading.cancel()
            assert reading.wait(WAIT)

    asyncio.run(main())


def test_done_callbacks_run_in_the_dequeue_that_ends_the_operation() -> None:
    client, server = tcp_pair()
    with client, server, winsock_ov.CompletionPort() as port:
        port.associate(server, skip_on_success=False)
        seen: list[Any] = []
        reading = server.recv(10)
        reading.add_done_callback(lambda op: seen.append(("first", op.result())))
        reading.add_done_callback(lambda op: seen.append(("second", op.done)))
        client.send(b"data")
        assert port.dequeue(WAIT) is reading
        assert seen == [("first", b"data"), ("second", True)]
        reading.add_done_callback(seen.append)  # done already: at once
        assert seen[-1] is reading

        failing = server.recv(10)

        def boom(op: Any) -> None:
            raise KeyError("from the callback")

        failing.add_done_callback(boom)
        client.send(b"more")
        with pytest.raises(KeyError, match="from the callback"):
            port.dequeue(WAIT)
        assert failing.done and failing.result() == b"more"
        with pytest.raises(TypeError, match="callable"):
            failing.add_done_callback("not callable")  # type: ignore[arg-type]
        with pytest.raises(KeyError):
            failing.add_done_callback(boom)  # done: run at once, raised here


def test_an_event_operations_callbacks_run_where_it_is_observed() -> None:
    client, server = tcp_pair()
    with client, server:
        seen: list[bytes] = []
        reading = server.recv(10)
        reading.add_done_callback(lambda op: seen.append(op.result()))
        client.send(b"data")
        assert seen == []  # nothing observed it yet
        assert reading.wait(WAIT) and seen == [b"data"]
