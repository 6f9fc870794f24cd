"""Completion routines: when, where and how often they run, and what they raise."""

from __future__ import annotations

import select
import sys
import threading
from typing import Any

import pytest
from support import WAIT, Worker, wait_for, wait_until

import winsock_ov
from winsock_ov import WaitStatus
from winsock_ov.raw import SYNCHRONIZE, CloseHandle, GetCurrentThreadId, OpenThread

pytestmark = pytest.mark.windows


def readable(sock: Any) -> None:
    ready, _, _ = select.select([sock.fileno()], [], [], WAIT)
    assert ready, "no data arrived"


def test_routine_runs_even_when_recv_completes_at_once(tcp: Any) -> None:
    client, server = tcp
    client.send(b"already here").result(WAIT)
    readable(server)
    calls: list[bytes] = []
    op = server.recv(64, routine=lambda op: calls.append(op.result()))
    assert op.completed_immediately
    assert calls == [] and not op.done, "a routine runs only in an alertable wait"

    assert winsock_ov.sleep_ex(WAIT).status is WaitStatus.IO_COMPLETION
    assert calls == [b"already here"]
    assert winsock_ov.sleep_ex(0).status is WaitStatus.TIMEOUT
    assert calls == [b"already here"], "the routine must run exactly once"


def test_routine_issued_on_one_thread_never_runs_on_another(tcp: Any) -> None:
    client, server = tcp
    issued, go_alertable = threading.Event(), threading.Event()
    ran_on: list[int] = []
    holder: list[Any] = []

    def thread_a() -> int:
        holder.append(server.recv(64, routine=lambda op: ran_on.append(GetCurrentThreadId())))
        issued.set()
        wait_for(go_alertable, "the main thread")  # not alertable
        assert winsock_ov.sleep_ex(WAIT).status is WaitStatus.IO_COMPLETION
        return int(GetCurrentThreadId())

    worker = Worker(thread_a, name="issuer")
    worker.start()
    wait_for(issued, "thread A's recv")
    op = holder[0]
    client.send(b"data").result(WAIT)
    wait_until(op._io.finished_by_os, "the recv to complete")  # its routine is now queued to A

    assert winsock_ov.sleep_ex(0).status is WaitStatus.TIMEOUT  # this thread: nothing to run
    with pytest.raises(RuntimeError, match="only on the thread that issued it"):
        op.wait(0)
    assert ran_on == [] and not op.done

    go_alertable.set()
    a_id = worker.result()
    assert ran_on == [a_id]
    assert op.done and op.result() == b"data"


def test_exception_in_routine_surfaces_from_the_wait_and_others_still_run(tcp: Any) -> None:
    client, server = tcp
    seen: list[bytes] = []
    unraisable: list[Any] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        def failing(op: Any) -> None:
            raise ValueError("routine failed")

        first = server.recv(1, routine=failing)
        second = server.recv(1, routine=lambda op: seen.append(op.result()))
        client.send(b"ab").result(WAIT)
        wait_until(lambda: first._io.finished_by_os() and second._io.finished_by_os(),
                   "both receives")
        with pytest.raises(ValueError, match="routine failed"):
            winsock_ov.sleep_ex(WAIT)
        assert seen == [b"b"], "the other routine must still run"
        assert first.done and first.result() == b"a"
    finally:
        sys.unraisablehook = old_hook
    assert unraisable == [], "routine exceptions must not be printed and swallowed"


def test_several_failing_routines_raise_them_all_from_one_wait(tcp: Any) -> None:
    client, server = tcp

    def failing(op: Any) -> None:
        raise KeyError(op.result())

    ops = [server.recv(1, routine=failing) for _ in range(2)]
    client.send(b"xy").result(WAIT)
    wait_until(lambda: all(op._io.finished_by_os() for op in ops), "both receives")
    with pytest.raises(winsock_ov.RoutineErrors) as exc:
        winsock_ov.sleep_ex(WAIT)
    assert [type(e) for e in exc.value.exceptions] == [KeyError, KeyError]
    assert [e.args[0] for e in exc.value.exceptions] == [b"x", b"y"]


def test_routine_posting_the_next_recv_chains_without_recursion(tcp: Any) -> None:
    client, server = tcp
    chunks: list[bytes] = []
    depth = [0]
    max_depth = [0]

    def on_data(op: Any) -> None:
        depth[0] += 1
        max_depth[0] = max(max_depth[0], depth[0])
        data = op.result()
        if data:
            chunks.append(data)
            server.recv(5, routine=on_data)  # the next read, from inside the routine
        depth[0] -= 1

    server.recv(5, routine=on_data)
    payload = b"".join(b"%05d" % i for i in range(50))
    client.send(payload).result(WAIT)
    while sum(map(len, chunks)) < len(payload):
        assert winsock_ov.sleep_ex(WAIT).status is WaitStatus.IO_COMPLETION
    assert b"".join(chunks) == payload
    assert max_depth[0] == 1, "routines must not nest"


def test_routine_of_an_exited_thread_is_reported_and_never_called(tcp: Any) -> None:
    client, server = tcp
    called: list[Any] = []
    holder: list[Any] = []

    def issue_and_exit() -> int:
        holder.append(server.recv(8, routine=called.append))
        return int(OpenThread(SYNCHRONIZE, False, GetCurrentThreadId()))

    worker = Worker(issue_and_exit, name="leaver")
    worker.start()
    thread_handle = worker.result()
    # Python's join returns a little before the OS thread is gone: wait for that.
    assert winsock_ov.wait_for_single_object_ex(thread_handle, WAIT, alertable=False).signaled
    CloseHandle(thread_handle)
    op = holder[0]
    # Windows (and Wine) cancel the I/O a thread issued when it exits, for
    # handles without a completion port; the routine's APC dies with the thread.
    assert op.wait(WAIT)  # from another thread: watches OVERLAPPED.Internal
    error = op.exception()
    assert isinstance(error, winsock_ov.ThreadExitedError)
    assert isinstance(error.io_error, winsock_ov.OperationAbortedError)
    assert error.nbytes == 0
    client.send(b"late").result(WAIT)
    assert winsock_ov.sleep_ex(0).status is WaitStatus.TIMEOUT
    assert called == []
    assert server.recv(8).result(WAIT) == b"late", "the cancelled receive took no data"


def test_waiting_on_a_routine_operation_runs_it_on_the_issuing_thread(tcp: Any) -> None:
    client, server = tcp
    op = server.recv(16, routine=lambda op: None)
    assert not op.wait(0)
    client.send(b"waited").result(WAIT)
    assert op.wait(WAIT)
    assert op.result() == b"waited"


def test_a_routine_raising_keyboardinterrupt_is_not_lost_beside_a_routine_error(tcp: Any) -> None:
    client, server = tcp

    def interrupting(op: Any) -> None:
        raise KeyboardInterrupt

    def failing(op: Any) -> None:
        raise KeyError(op.result())

    ops = [server.recv(1, routine=failing), server.recv(1, routine=interrupting),
           server.recv(1, routine=failing)]
    client.send(b"xyz").result(WAIT)
    wait_until(lambda: all(op._io.finished_by_os() for op in ops), "three receives")
    with pytest.raises(KeyboardInterrupt) as exc:
        winsock_ov.sleep_ex(WAIT)
    context = exc.value.__context__
    assert isinstance(context, winsock_ov.RoutineErrors), "the other routines' errors travel along"
    assert [e.args[0] for e in context.exceptions] == [b"x", b"z"]
    assert all(op.done for op in ops), "every routine ran, once"


def test_waiting_from_another_thread_just_after_the_issuer_was_joined_is_thread_exited(
        tcp: Any) -> None:
    # join() returns when the thread's Python code ends, a moment before its
    # OS thread is gone; a waiter then must see the thread exit, not be refused.
    _, server = tcp
    for _ in range(20):
        worker = Worker(lambda: server.recv(8, routine=print), name="issuer")
        worker.start()
        op = worker.result()
        assert isinstance(op.exception(WAIT), winsock_ov.ThreadExitedError)


def test_a_routine_operation_of_a_thread_python_did_not_start_ends_when_that_thread_exits(
        tcp: Any) -> None:
    # threading sees such a thread as a _DummyThread, alive for ever: only the
    # OS thread's exit can tell that the routine will never run.
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateThread.restype = wintypes.HANDLE
    _, server = tcp
    holder: list[Any] = []

    @ctypes.WINFUNCTYPE(wintypes.DWORD, ctypes.c_void_p)
    def issue(_: Any) -> int:
        holder.append(server.recv(8, routine=print))
        return 0

    thread = kernel32.CreateThread(None, 0, issue, None, 0, None)
    assert thread, ctypes.WinError(ctypes.get_last_error())
    try:
        assert winsock_ov.wait_for_single_object_ex(thread, WAIT, alertable=False).signaled
    finally:
        CloseHandle(thread)
    assert isinstance(holder[0].exception(WAIT), winsock_ov.ThreadExitedError)
