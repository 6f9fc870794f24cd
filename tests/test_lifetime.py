"""Dropping every reference to a pending operation frees nothing the OS may write.

Each test starts an operation, keeps only a weak reference, forces garbage
collection, and only then makes Windows complete the I/O.  The registry must
have kept the OVERLAPPED, the buffers and the address storage alive; the data
lands in the operation's memory, and the operation is released afterwards.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from support import WAIT

import winsock_ov

pytestmark = pytest.mark.windows


def collect() -> None:
    for _ in range(3):
        gc.collect()


def test_dropped_recv_receives_into_its_own_memory_then_is_released(tcp: Any) -> None:
    client, server = tcp
    before = winsock_ov.pending_operations()
    ref = weakref.ref(server.recv(64))
    collect()
    assert ref() is not None, "the registry must hold a pending operation"
    assert winsock_ov.pending_operations() == before + 1

    client.send(b"written after the caller let go").result(WAIT)
    op = ref()
    assert op is not None and op.wait(WAIT)
    assert op.result() == b"written after the caller let go"
    del op
    collect()
    assert ref() is None, "a finished operation must not stay referenced"
    assert winsock_ov.pending_operations() == before


def test_dropped_recv_is_reaped_without_anyone_touching_it(tcp: Any) -> None:
    client, server = tcp
    before = winsock_ov.pending_operations()
    with winsock_ov.Event() as event:
        ref = weakref.ref(server.recv(64, event=event))
        collect()
        client.send(b"x").result(WAIT)
        assert event.wait(WAIT)  # Windows finished writing
        assert winsock_ov.pending_operations() == before + 1
        winsock_ov.reap()
    assert winsock_ov.pending_operations() == before
    collect()
    assert ref() is None


def test_dropped_recvfrom_keeps_its_address_storage(udp: Any) -> None:
    first, second = udp
    with winsock_ov.Event() as event:
        ref = weakref.ref(second.recvfrom(64, event=event))
        collect()
        first.sendto(b"datagram", second.getsockname()).result(WAIT)
        assert event.wait(WAIT)
    op = ref()
    assert op is not None
    assert op.result(WAIT) == (b"datagram", first.getsockname())


def test_dropped_recv_into_keeps_the_callers_dropped_buffer(tcp: Any) -> None:
    client, server = tcp
    buffer = bytearray(16)
    ref = weakref.ref(server.recv_into(buffer))
    del buffer
    collect()
    client.send(b"0123456789abcdef").result(WAIT)
    op = ref()
    assert op is not None and op.result(WAIT) == 16
    exported = op._pinned  # the export the operation held, now released
    assert exported is not None and [length for _, length in exported.spans] == [16]


def test_send_whose_caller_dropped_its_buffer_sends_every_byte(tcp: Any) -> None:
    client, server = tcp
    size = 32 * 1024 * 1024  # more than loopback buffers hold: the send must pend
    pattern = bytes(range(256)) * (size // 256)
    ref = weakref.ref(client.send(bytearray(pattern)))
    collect()
    op = ref()
    assert op is not None
    pending = not op.done
    del op
    collect()

    received = bytearray()
    while len(received) < size:
        chunk = server.recv(1 << 20).result(WAIT)
        assert chunk, "connection closed early"
        received += chunk
    assert received == pattern
    op = ref()
    assert op is not None and op.result(WAIT) == size
    assert pending, "the send completed at once; the test proved nothing about lifetimes"


def test_routine_whose_callable_was_dropped_still_runs(tcp: Any) -> None:
    client, server = tcp
    calls: list[bytes] = []

    def make_routine() -> Any:
        def routine(op: Any) -> None:
            calls.append(op.result())
        return routine

    routine = make_routine()
    routine_ref = weakref.ref(routine)
    server.recv(64, routine=routine)
    del routine
    collect()
    assert routine_ref() is not None, "the pending operation must hold its routine"
    client.send(b"routine data").result(WAIT)
    result = winsock_ov.sleep_ex(WAIT)
    assert result.status is winsock_ov.WaitStatus.IO_COMPLETION
    assert calls == [b"routine data"]
    collect()
    assert routine_ref() is None, "a routine that ran must be let go"
