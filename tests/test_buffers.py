"""Buffer handling: WSABUF arrays point at the caller's bytes, and scatter/gather
round-trips any mix of buffer-protocol objects byte for byte.

The WSABUF checks need only ctypes (they run with the Linux CPython too); the
round trip runs over loopback under Windows.
"""

from __future__ import annotations

import array
import ctypes
import mmap
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import WAIT

from winsock_ov._buffers import PinnedBuffers, wsabuf_in_place
from winsock_ov.raw import WSABUF

KINDS = ["bytes", "bytearray", "memoryview", "slice", "array", "mmap"]


def make_buffer(kind: str, data: bytes) -> Any:
    if kind == "bytes":
        return data
    if kind == "bytearray":
        return bytearray(data)
    if kind == "memoryview":
        return memoryview(bytearray(data))
    if kind == "slice":
        return memoryview(b"<<" + data + b">>")[2:-2]
    if kind == "array":
        return array.array("B", data)
    if not data:  # an mmap cannot be empty
        return b""
    mapped = mmap.mmap(-1, len(data))
    mapped[:] = data
    return mapped


buffers = st.lists(st.tuples(st.sampled_from(KINDS), st.binary(max_size=300)),
                   min_size=1, max_size=8)


def wsabuf_spans(pinned: PinnedBuffers) -> list[tuple[int, int]]:
    """What Winsock reads: ``count`` WSABUFs starting at ``wsabufs``."""
    first = ctypes.addressof(pinned.wsabufs)
    entries = (WSABUF * pinned.count).from_address(first)
    return [(ctypes.cast(entry.buf, ctypes.c_void_p).value or 0, entry.len) for entry in entries]


@given(buffers)
def test_wsabufs_point_at_the_callers_bytes_with_their_lengths(
        spec: list[tuple[str, bytes]]) -> None:
    objects = [make_buffer(kind, data) for kind, data in spec]
    pinned = PinnedBuffers(objects, writable=False)
    try:
        spans = wsabuf_spans(pinned)
        assert len(spans) == len(spec) == pinned.count
        for (address, length), (_, data) in zip(spans, spec):
            assert length == len(data)
            assert ctypes.string_at(address, length) == data
        assert pinned.total == sum(len(data) for _, data in spec)
    finally:
        pinned.release()


@given(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=6))
def test_writable_wsabufs_are_the_objects_themselves_not_copies(chunks: list[bytes]) -> None:
    targets = [bytearray(len(chunk)) for chunk in chunks]
    pinned = PinnedBuffers(targets, writable=True)
    try:
        for (address, length), chunk in zip(wsabuf_spans(pinned), chunks):
            ctypes.memmove(address, chunk, length)  # what the kernel does on receive
    finally:
        pinned.release()
    assert [bytes(t) for t in targets] == chunks


@given(st.lists(st.integers(0, 50), min_size=1, max_size=6), st.data())
def test_a_byte_limit_cuts_the_wsabufs_in_order(sizes: list[int], data: st.DataObject) -> None:
    limit = data.draw(st.integers(0, sum(sizes)))
    pinned = PinnedBuffers([bytearray(n) for n in sizes], writable=True, limit=limit)
    try:
        lengths = [length for _, length in wsabuf_spans(pinned)]
    finally:
        pinned.release()
    assert sum(lengths) == limit == pinned.total
    remaining = limit
    for size, length in zip(sizes, lengths):
        assert length == min(size, remaining)
        remaining -= length


@given(st.one_of(st.text(min_size=1), st.integers(), st.none(), st.floats(),
                 st.lists(st.text(min_size=1), min_size=1)))
def test_objects_without_the_buffer_protocol_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        PinnedBuffers(value, writable=False)


def test_refusals_release_what_was_already_pinned() -> None:
    first = bytearray(b"pinned first")
    strided = memoryview(bytearray(8))[::2]
    for bad, error in ([first, b"read-only"], TypeError), ([first, strided], ValueError):
        with pytest.raises(error):
            PinnedBuffers(bad, writable=True)
        first.extend(b"!")  # BufferError here would mean an export leaked


def test_a_pinned_bytearray_cannot_be_resized_until_released() -> None:
    target = bytearray(8)
    pinned = PinnedBuffers(target, writable=True)
    with pytest.raises(BufferError):
        target.extend(b"more")
    pinned.release()
    target.extend(b"more")
    assert len(target) == 12


# --- over a real connection -------------------------------------------------------------


@pytest.fixture(scope="module")
def connection() -> Any:
    from conftest import close_and_settle
    from support import tcp_pair

    client, server = tcp_pair()
    yield client, server
    close_and_settle(client, server)


def receive_scattered(server: Any, sizes: list[int]) -> bytes:
    """Fill bytearrays of ``sizes`` with scatter receives; their bytes, joined."""
    targets = [bytearray(n) for n in sizes]
    views = [memoryview(t) for t in targets]
    total, filled = sum(sizes), 0
    while filled < total:
        remaining, skip = [], filled
        for view in views:
            if skip >= len(view):
                skip -= len(view)
                continue
            remaining.append(view[skip:])
            skip = 0
        got = server.recv_into(remaining).result(WAIT)
        assert got > 0, "connection closed early"
        filled += got
    return b"".join(targets)


@pytest.mark.windows
@settings(max_examples=60)
@given(buffers, st.data())
def test_gathered_send_then_scattered_recv_arrives_byte_identical(
        connection: Any, spec: list[tuple[str, bytes]], data: st.DataObject) -> None:
    client, server = connection
    payload = b"".join(chunk for _, chunk in spec)
    if not payload:
        return
    cuts = sorted(data.draw(st.lists(st.integers(1, len(payload) - 1), max_size=6))) \
        if len(payload) > 1 else []
    bounds = [0, *cuts, len(payload)]
    sizes = [b - a for a, b in zip(bounds, bounds[1:]) if b > a]

    objects = [make_buffer(kind, chunk) for kind, chunk in spec]
    send = client.send(objects)
    assert receive_scattered(server, sizes) == payload
    assert send.result(WAIT) == len(payload)


@pytest.mark.windows
def test_a_bytearray_being_received_into_cannot_be_resized_while_pending(tcp: Any) -> None:
    client, server = tcp
    target = bytearray(8)
    op = server.recv_into(target)
    with pytest.raises(BufferError):
        target.extend(b"grow")
    with pytest.raises(BufferError):
        del target[:4]
    client.send(b"12345678").result(WAIT)
    assert op.result(WAIT) == 8
    target.extend(b"grow")
    assert target == b"12345678grow"


def test_only_a_bytes_object_is_described_in_place() -> None:
    data = b"sent where it lies"
    wsabuf = wsabuf_in_place(data)
    assert wsabuf.len == len(data)
    assert ctypes.string_at(ctypes.cast(wsabuf.buf, ctypes.c_void_p).value, len(data)) == data

    class Bytes(bytes):
        pass

    for other in (bytearray(data), memoryview(data), Bytes(data), [data], "text", None):
        assert wsabuf_in_place(other) is None, type(other).__name__
