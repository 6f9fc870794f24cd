"""Thousands of operations started and dropped: memory and handles stay flat."""

from __future__ import annotations

import gc
import tracemalloc
from ctypes import byref
from typing import Any

import pytest
from support import running_under_wine, wait_until

import winsock_ov
from winsock_ov.raw import DWORD, GetCurrentProcess, GetProcessHandleCount

pytestmark = pytest.mark.windows


def handle_gauge() -> int:
    """The process's handle count, or (under Wine) the next handle value.

    Wine deviation: GetProcessHandleCount answers 0 under Wine 8.  There a leak
    shows instead as ever-growing handle values, since freed handle slots are
    reused: the value of a fresh event's handle serves as the gauge.
    """
    if not running_under_wine():
        count = DWORD()
        GetProcessHandleCount(GetCurrentProcess(), byref(count))
        return int(count.value)
    with winsock_ov.Event() as probe:
        return probe.handle // 4


def churn(client: Any, server: Any, rounds: int) -> None:
    # Relative: an earlier test may have left an operation registered on purpose
    # (one whose packet can never be dequeued stays owned for good).
    baseline = winsock_ov.pending_operations()
    for i in range(rounds):
        server.recv(16)  # dropped at once
        if i % 3 == 0:
            server.recv_into([bytearray(4), bytearray(4)]).cancel()  # dropped, cancelled
        client.send(b"%016d" % i)  # dropped too
        if i % 50 == 49:
            gc.collect()
    # Enough bytes for every dropped receive to complete; then all are reaped.
    client.send(bytes(16 * rounds))
    wait_until(lambda: (winsock_ov.reap(), winsock_ov.pending_operations() == baseline)[1],
               "every dropped operation to finish")
    gc.collect()


def test_started_and_dropped_operations_leave_memory_and_handles_flat(tcp: Any) -> None:
    client, server = tcp
    baseline = winsock_ov.pending_operations()
    churn(client, server, 300)  # warm caches and free lists
    tracemalloc.start()
    try:
        handles_before = handle_gauge()
        memory_before, _ = tracemalloc.get_traced_memory()
        churn(client, server, 3000)
        memory_after, peak = tracemalloc.get_traced_memory()
        handles_after = handle_gauge()
    finally:
        tracemalloc.stop()
    assert winsock_ov.pending_operations() == baseline
    assert memory_after - memory_before < 64 * 1024, (memory_before, memory_after)
    assert peak - memory_before < 8 * 1024 * 1024, "reaping must bound what dropped ops hold"
    assert handles_after - handles_before <= 2, (handles_before, handles_after)
