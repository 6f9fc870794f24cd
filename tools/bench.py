"""Benchmark: winsock_ov against CPython's C ``_overlapped``, on loopback, in paired rounds.

Run under Windows CPython (``python3 tools/winenv.py bench`` does it under Wine).
The anchor is CPython's ``_overlapped`` driving its own completion port the way
asyncio's IocpProactor does.  Workloads (a "message" is what a row counts):

* ping-pong: 1-byte round trips between two sockets (message: one round trip);
* bulk: a stream sent in 64 KiB writes, two in flight (message: one write);
* echo: messages echoed over 64 and 256 connections at once, header and body
  sent as two buffers (gathered by winsock_ov, joined for ``_overlapped``);
* post + dequeue: one PostQueuedCompletionStatus and its dequeue, no I/O;
* ping-pong also has a "raw layer" row: ``winsock_ov.raw`` called the way a C
  program calls Winsock, without the object layer (the floor of Python over
  ctypes), and a "blocking socket" row (CPython's own socket module);
* ours / C program (with ``--c-anchor DLL``, which ``winenv.py bench`` builds
  from tools/anchor/anchor.c): each of the seed's styles on ping-pong, bulk and
  echo x64, against a C loop making that style's calls on the same workload,
  step for step: "port / C" (GetQueuedCompletionStatus per packet), "events
  new / C" (winsock_ov's default, no ``event=``, against WSACreateEvent and
  WSACloseEvent per operation), "events reused / C" (one event per socket, reset
  before each operation, on both sides), "events new / C reused" (winsock_ov's
  default against that C loop) and "routines / C" (a routine per operation,
  SleepEx alertable).  The C loops run in this process, on this thread, on sockets made
  the same way, so the clock, the CPU time and the trace count them as ours;
  ``--only-c`` runs these rows alone;
* asyncio echo: round trips of a streams echo on asyncio's ProactorEventLoop
  over the C module (the anchor), against the same loop over
  ``winsock_ov.compat.overlapped``, winsock_ov's own loop (``winsock_ov.aio``)
  and asyncio's SelectorEventLoop, each in a process of its own (the module
  is chosen before asyncio loads); "asyncio echo x64" is the same with 64
  clients at once.
* select vs SelectSelector 10: the time of one ``select()`` call that finds one socket readable
  among the registered ones (message: one select()), for
  ``winsock_ov.selectors.AFDSelector`` with 10 and with 10,000 sockets
  registered, against ``selectors.SelectSelector`` (the stdlib's default on
  Windows, the selector AFDSelector replaces) with 10: with its fewest sockets,
  where select.select() costs least.  The selector loops around it (a byte sent
  to one of the 10 active sockets, then received) are not timed.  A
  "SelectSelector 500" row shows the stdlib's cost with 500 idle sockets (it
  takes 512 at most); "AFDSelector 10 +10,000 idle elsewhere" has another
  AFDSelector poll 10,000 sockets meanwhile: under Wine, the wineserver walks
  one list of every pending poll of the prefix on each socket event, a cost
  that comes with the polls wherever they are, not with the selector.  The
  sockets are opened once per process, the selectors made and closed around
  each run (untimed).

How a figure is made
--------------------
Each row is one implementation of ours against its anchor (CPython's module, or
for the "/ C" rows the C program's loop in the same style).  A round runs the
two back to back on the same work, A B in even rounds and B A in odd ones, and
yields one ratio: the anchor's time over ours (for a throughput row, our
throughput over the anchor's; above 1, ours is faster).  The rounds of all rows
are interleaved (round 1 of every row, then round 2, ...) so that a slow spell
of a shared machine hits every row alike.  A row prints the median ratio, the
smallest and largest (the spread), and how many rounds made it.

CPU: ``time.thread_time()`` of the thread that drives the I/O (both threads for
the blocking bulk row, which sends from a second thread), per message, printed
as ours over the anchor's (below 1, ours spends less), median of the same
paired rounds.  GetProcessTimes answers 0 under Wine; GetThreadTimes works but
ticks in 10 ms steps, so a timed run lasts long enough for 10 to 50 ticks
(fewer with ``--quick``, whose CPU column is coarse).

Calls per message: Wine server requests, the same measure for both sides.
Under Wine every Winsock or kernel32 call that needs the kernel (a WSARecv, a
dequeue, a wait, SetEvent, CloseHandle...) makes one or more requests to the
wineserver (a WSARecv that completes at once: recv_socket, then
set_async_direct_result), while what Wine answers in-process (an OVERLAPPED's
status) makes none; the JSON breaks each count down by request name.
``winenv.py bench`` first runs this script with ``--count-calls`` under
``WINEDEBUG=-all,+server`` (the wineserver then prints every request, with
the thread making it) in a Wine session of its own, since the trace slows the
whole server; there each row runs once unrecorded, then
with 0 messages and with N between two marker events the trace shows
(``bench_stats.TraceCounter``), and calls per message are (requests with N -
requests with 0) / N, setup and teardown cancelling out.  Those counts come
back to the timed run through ``--calls`` (``winenv.py bench --no-calls``
skips them; run directly on Windows, the column stays empty).  Which path an
operation takes (done at once, or pending and completed later) depends on
timing, so counts are averages, and the traced server is slower than the timed
one.

Output: a text table, ``--markdown`` for the README, ``--json`` with every raw
number (each round's seconds, CPU seconds and messages for both sides).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import functools
import gc
import json
import operator
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

TOOLS = Path(__file__).resolve().parent
sys.path[:0] = [str(TOOLS.parent), str(TOOLS)]

import bench_stats as stats  # noqa: E402  (after the path set-up)

WAIT = 10.0
INVALID_HANDLE_VALUE = (1 << (8 * 8)) - 1 if sys.maxsize > 2**32 else (1 << 32) - 1
CHUNK = 64 * 1024
ANCHOR = stats.ANCHOR


# --- drivers: one way each of starting I/O and learning it finished ---------------------
# The platform modules are imported when a driver is made, so that this file
# imports anywhere (the statistics are tested on Linux).


class Driver:
    """Start receives and sends; yield (token, result) as they complete."""

    name = ""
    conns: list[Any]

    def wrap(self, sock: socket.socket) -> Any:
        conn = self.wo.Socket.from_socket(sock)
        self.conns.append(conn)
        return conn

    def recv(self, conn: Any, nbytes: int) -> Any:
        raise NotImplementedError

    def send(self, conn: Any, parts: list[bytes]) -> Any:
        raise NotImplementedError

    def completions(self) -> Iterable[tuple[Any, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        for conn in self.conns:
            conn.close()

    @property
    def wo(self) -> Any:
        import winsock_ov

        return winsock_ov


class WinsockPort(Driver):
    """Dequeues up to ``batch`` packets per call (GetQueuedCompletionStatusEx when above 1).

    Under Wine each entry asked for costs a server round trip, plus one to find
    the queue empty, so a workload with one packet ready at a time is best
    served with batch=1; Windows answers any batch in one system call.
    """

    def __init__(self, skip_on_success: bool = False, batch: int = 1) -> None:
        self.port = self.wo.CompletionPort()
        self.skip = skip_on_success
        self.batch = batch
        # A port that hands out what finished within its call (hand_out, since 0.2)
        # returns every operation; 0.1.0's did not return those, so they are
        # collected here when measuring that version (tools/bench_compare.py).
        self.at_once: list[Any] | None = None if hasattr(self.port, "hand_out") else []
        self.conns = []
        self.name = port_name(skip_on_success, batch)

    def wrap(self, sock: socket.socket) -> Any:
        conn = super().wrap(sock)
        self.port.associate(conn, skip_on_success=self.skip)
        return conn

    def recv(self, conn: Any, nbytes: int) -> Any:
        return self._track(conn.recv(nbytes))

    def send(self, conn: Any, parts: list[bytes]) -> Any:
        return self._track(conn.send(parts if len(parts) > 1 else parts[0]))

    def _track(self, op: Any) -> Any:
        if self.at_once is not None and op.done:  # 0.1.0, skip-on-success: no packet
            self.at_once.append(op)
        return op

    def completions(self) -> Iterator[tuple[Any, Any]]:
        if self.at_once:
            done, self.at_once = self.at_once, []
        elif self.batch > 1:
            done = self.port.dequeue_many(self.batch, timeout=WAIT)
            if not done:
                raise TimeoutError("no completion")
        else:
            item = self.port.dequeue(timeout=WAIT)
            if item is None:
                raise TimeoutError("no completion")
            done = [item]
        for op in done:
            yield op, op.result()

    def close(self) -> None:
        super().close()
        self.port.close()


def port_name(skip_on_success: bool, batch: int) -> str:
    return "port" + (" +skip" if skip_on_success else "") + (f" batch {batch}" if batch > 1 else "")


class WinsockEvents(Driver):
    """Event operations, waited on with WSAWaitForMultipleEvents (the events of the
    oldest 64 in flight when none is done), each event got one of three ways:

    * "own": an Event made for each operation as the seed's first program does
      (``event=``), closed once the operation is done;
    * "new": none given (``sock.recv(n)``, the default): the library makes one per
      operation;
    * "reused": one Event per socket, reset before each operation (``event=``).
    """

    MODES = ("own", "new", "reused")

    def __init__(self, mode: str = "own") -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, not {mode!r}")
        self.mode = mode
        self.name = "events" if mode == "own" else f"events {mode}"
        self.inflight: dict[Any, Any] = {}  # operation -> its event
        self.socket_events: dict[Any, Any] = {}  # "reused": connection -> its event
        self.conns = []
        # Whether an operation ended, seeing an event operation's end: observe()
        # since 0.2, the done property in 0.1.0 (tools/bench_compare.py runs both).
        self.ended = operator.methodcaller("observe") if hasattr(self.wo.Operation, "observe") \
            else operator.attrgetter("done")

    def wrap(self, sock: socket.socket) -> Any:
        conn = super().wrap(sock)
        if self.mode == "reused":
            self.socket_events[conn] = self.wo.Event()
        return conn

    def _start(self, conn: Any, start: Callable[..., Any], *args: Any) -> Any:
        if self.mode == "new":
            op = start(*args)
            self.inflight[op] = op.event
            return op
        if self.mode == "reused":
            event = self.socket_events[conn]
            event.reset()  # Windows never resets it; Internal says which operation ended
        else:
            event = self.wo.Event()
        op = start(*args, event=event)
        self.inflight[op] = event
        return op

    def recv(self, conn: Any, nbytes: int) -> Any:
        return self._start(conn, conn.recv, nbytes)

    def send(self, conn: Any, parts: list[bytes]) -> Any:
        return self._start(conn, conn.send, parts if len(parts) > 1 else parts[0])

    def completions(self) -> Iterator[tuple[Any, Any]]:
        done = [op for op in self.inflight if self.ended(op)]
        if not done:
            events = list(dict.fromkeys(self.inflight.values()))[:64]  # a socket's event once
            if not self.wo.wait_for_multiple_events(events, timeout=WAIT).signaled:
                raise TimeoutError("no completion")
            done = [op for op in self.inflight if self.ended(op)]
        for op in done:
            event = self.inflight.pop(op)
            if self.mode == "own":
                event.close()
            yield op, op.result()

    def close(self) -> None:
        super().close()
        for event in self.socket_events.values():
            event.close()


class WinsockRoutines(Driver):
    """Completion routines, run during an alertable SleepEx."""

    name = "routines"

    def __init__(self) -> None:
        self.finished: list[Any] = []
        self.conns = []

    def _finished(self, op: Any) -> None:
        self.finished.append(op)  # the list of now: completions() swaps it

    def recv(self, conn: Any, nbytes: int) -> Any:
        return conn.recv(nbytes, routine=self._finished)

    def send(self, conn: Any, parts: list[bytes]) -> Any:
        return conn.send(parts if len(parts) > 1 else parts[0], routine=self._finished)

    def completions(self) -> Iterator[tuple[Any, Any]]:
        wo = self.wo
        while not self.finished:
            if wo.sleep_ex(WAIT).status is not wo.WaitStatus.IO_COMPLETION:
                raise TimeoutError("no completion")
        done, self.finished = self.finished, []
        for op in done:
            yield op, op.result()


class RawPort(Driver):
    """``winsock_ov.raw`` alone, called as a C program would call it: what Python over
    ctypes costs before any of the object layer (no registry, no checks, no objects
    but the OVERLAPPED, buffer and WSABUF of each operation)."""

    name = "raw layer"

    def __init__(self) -> None:
        from winsock_ov import raw

        self.raw = raw
        self.port = raw.CreateIoCompletionPort(INVALID_HANDLE_VALUE, None, 0, 0)
        self.inflight: dict[int, tuple[Any, Any, Any, Any, bool]] = {}
        self.sockets: list[socket.socket] = []
        self.packet = (raw.DWORD(), raw.ULONG_PTR(), raw.LPOVERLAPPED())

    def wrap(self, sock: socket.socket) -> Any:
        self.raw.CreateIoCompletionPort(sock.fileno(), self.port, 0, 0)
        self.sockets.append(sock)
        return sock.fileno()

    def _start(self, call: Any, conn: int, data: bytes | int, receiving: bool) -> Any:
        raw = self.raw
        buffer = ctypes.create_string_buffer(data) if isinstance(data, int) else \
            ctypes.create_string_buffer(data, len(data))
        wsabuf = raw.WSABUF(len(buffer), ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char)))
        overlapped, flags = raw.OVERLAPPED(), raw.DWORD()
        # SOCKET_ERROR means WSA_IO_PENDING here: the raw layer raises any other error.
        call(conn, ctypes.byref(wsabuf), 1, None, ctypes.byref(flags) if receiving else 0,
             ctypes.byref(overlapped), None)
        self.inflight[ctypes.addressof(overlapped)] = (overlapped, buffer, wsabuf, flags,
                                                       receiving)
        return overlapped

    def recv(self, conn: Any, nbytes: int) -> Any:
        return self._start(self.raw.WSARecv, conn, nbytes, True)

    def send(self, conn: Any, parts: list[bytes]) -> Any:
        return self._start(self.raw.WSASend, conn, b"".join(parts), False)

    def completions(self) -> Iterator[tuple[Any, Any]]:
        nbytes, key, overlapped = self.packet
        self.raw.GetQueuedCompletionStatus(self.port, ctypes.byref(nbytes), ctypes.byref(key),
                                           ctypes.byref(overlapped), int(WAIT * 1000))
        address = ctypes.cast(overlapped, ctypes.c_void_p).value or 0
        token, buffer, _, _, receiving = self.inflight.pop(address)
        yield token, buffer.raw[:nbytes.value] if receiving else nbytes.value

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.raw.CloseHandle(self.port)


class COverlapped(Driver):
    """CPython's _overlapped, used the way asyncio's IocpProactor uses it."""

    name = ANCHOR

    def __init__(self) -> None:
        import _overlapped  # type: ignore[import-not-found, unused-ignore]

        self.ov = _overlapped
        self.port = _overlapped.CreateIoCompletionPort(INVALID_HANDLE_VALUE, 0, 0, 0)
        self.cache: dict[int, Any] = {}
        self.sockets: list[socket.socket] = []

    def wrap(self, sock: socket.socket) -> Any:
        self.ov.CreateIoCompletionPort(sock.fileno(), self.port, 0, 0)
        self.sockets.append(sock)
        return sock.fileno()

    def recv(self, conn: Any, nbytes: int) -> Any:
        ov = self.ov.Overlapped(0)
        ov.WSARecv(conn, nbytes, 0)
        self.cache[ov.address] = ov
        return ov

    def send(self, conn: Any, parts: list[bytes]) -> Any:
        ov = self.ov.Overlapped(0)
        ov.WSASend(conn, parts[0] if len(parts) == 1 else b"".join(parts), 0)
        self.cache[ov.address] = ov
        return ov

    def completions(self) -> Iterator[tuple[Any, Any]]:
        status = self.ov.GetQueuedCompletionStatus(self.port, int(WAIT * 1000))
        if status is None:
            raise TimeoutError("no completion")
        while status is not None:
            ov = self.cache.pop(status[3])
            yield ov, ov.getresult()
            status = self.ov.GetQueuedCompletionStatus(self.port, 0)

    def close(self) -> None:
        import _winapi

        for sock in self.sockets:
            sock.close()
        _winapi.CloseHandle(self.port)


# --- the C program: the seed's styles written in C (tools/anchor/anchor.c) -----------------


class AnchorStats(ctypes.Structure):
    """What one of the C program's loops moved (``anchor_stats`` in anchor.c)."""

    _fields_ = [("operations", ctypes.c_longlong), ("bytes_sent", ctypes.c_longlong),
                ("bytes_received", ctypes.c_longlong)]


class CProgram:
    """The C anchor's DLL (testbed.provision.build_c_anchor), loaded into this process.

    Its loops are bench.py's workloads step for step, in one of the seed's styles
    ("events new", "events reused", "routines", "port"; the source says how each
    is written), on sockets this process connected: they run on this thread,
    between the same trace markers, timed by the same clock as ours.
    """

    def __init__(self, path: str) -> None:
        dll = ctypes.CDLL(path)
        dll.anchor_style.argtypes = [ctypes.c_char_p]
        dll.anchor_style.restype = ctypes.c_int
        stats_p = ctypes.POINTER(AnchorStats)
        socket_t, sockets_p = ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)  # SOCKET
        for name, argtypes in (
                ("anchor_ping_pong", [ctypes.c_int, socket_t, socket_t, ctypes.c_int, stats_p]),
                ("anchor_bulk", [ctypes.c_int, socket_t, socket_t, ctypes.c_int, stats_p]),
                ("anchor_echo", [ctypes.c_int, sockets_p, sockets_p, ctypes.c_int, ctypes.c_int,
                                 stats_p])):
            function = getattr(dll, name)
            function.argtypes = argtypes
            function.restype = ctypes.c_uint32  # 0, or a Windows error code
        self.dll = dll

    def style(self, name: str) -> int:
        number = int(self.dll.anchor_style(name.encode()))
        if number < 0:
            raise ValueError(f"the C program has no style {name!r}")
        return number

    def _run(self, function: str, style: str, *args: Any) -> AnchorStats:
        moved = AnchorStats()
        code = int(getattr(self.dll, function)(self.style(style), *args, ctypes.byref(moved)))
        if code:
            raise OSError(0, f"{function} ({style}) failed with Windows error {code}", None, code)
        return moved

    def ping_pong(self, style: str, a: int, b: int, trips: int) -> AnchorStats:
        return self._run("anchor_ping_pong", style, a, b, trips)

    def bulk(self, style: str, a: int, b: int, chunks: int) -> AnchorStats:
        return self._run("anchor_bulk", style, a, b, chunks)

    def echo(self, style: str, pairs: list[tuple[int, int]], rounds: int) -> AnchorStats:
        array = ctypes.c_size_t * len(pairs)
        clients, servers = array(*(c for c, _ in pairs)), array(*(s for _, s in pairs))
        return self._run("anchor_echo", style, clients, servers, len(pairs), rounds)


def c_pair(loop: str) -> Callable[[CProgram, str, int], stats.Measurement]:
    """The C program's ``loop`` ("ping_pong" or "bulk") on one connected pair."""
    def run(program: CProgram, style: str, messages: int) -> stats.Measurement:
        (client, server), = socket_pairs(1)
        with client, server:
            clock = Clock()
            clock.start()
            getattr(program, loop)(style, client.fileno(), server.fileno(), messages)
            return clock.stop(messages)
    return run


def c_echo(connections: int) -> Callable[[CProgram, str, int], stats.Measurement]:
    """The C echo over ``connections`` pairs, ``messages`` rounded to whole rounds as ours."""
    def run(program: CProgram, style: str, messages: int) -> stats.Measurement:
        pairs = socket_pairs(connections)
        rounds = -(-messages // connections)
        try:
            clock = Clock()
            clock.start()
            program.echo(style, [(c.fileno(), s.fileno()) for c, s in pairs], rounds)
            return clock.stop(connections * rounds)
        finally:
            for client, server in pairs:
                client.close()
                server.close()
    return run


# --- workloads: each runs ``messages`` messages and times only the I/O ---------------------


class Clock:
    """Wall time and the calling thread's CPU time, from start() to stop()."""

    def start(self) -> None:
        gc.collect()
        self.wall, self.cpu = time.perf_counter(), time.thread_time()

    def stop(self, messages: int, extra_cpu: float = 0.0) -> stats.Measurement:
        cpu = time.thread_time() - self.cpu + extra_cpu
        return stats.Measurement(time.perf_counter() - self.wall, cpu, messages)


def socket_pairs(count: int) -> list[tuple[socket.socket, socket.socket]]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(count)
        pairs = []
        for _ in range(count):
            client = socket.create_connection(listener.getsockname())
            server, _ = listener.accept()
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pairs.append((client, server))
    return pairs


def wait_for(driver: Driver, token: Any) -> Any:
    """Handle completions until ``token``'s; its result."""
    while True:
        for done, result in driver.completions():
            if done is token:
                return result


def ping_pong(driver: Driver, trips: int) -> stats.Measurement:
    (client, server), = socket_pairs(1)
    a, b = driver.wrap(client), driver.wrap(server)
    clock = Clock()
    clock.start()
    for _ in range(trips):
        got = driver.recv(b, 1)
        driver.send(a, [b"x"])
        wait_for(driver, got)
        got = driver.recv(a, 1)
        driver.send(b, [b"y"])
        wait_for(driver, got)
    return clock.stop(trips)


def bulk(driver: Driver, chunks: int) -> stats.Measurement:
    (client, server), = socket_pairs(1)
    a, b = driver.wrap(client), driver.wrap(server)
    chunk = bytes(CHUNK)
    total = chunks * CHUNK
    sent = received = 0
    sends: set[int] = set()
    receive = None
    clock = Clock()
    clock.start()
    while received < total:
        if receive is None:
            receive = driver.recv(b, CHUNK)
        while len(sends) < 2 and sent < total:
            sends.add(id(driver.send(a, [chunk])))
            sent += CHUNK
        for done, result in driver.completions():
            if done is receive:
                received += len(result)
                receive = None
            else:
                sends.discard(id(done))
    return clock.stop(chunks)


def echo(driver: Driver, connections: int, rounds: int) -> stats.Measurement:
    pairs = [(driver.wrap(c), driver.wrap(s)) for c, s in socket_pairs(connections)]
    header, body = b"LEN=0056", b"b" * 56
    size = len(header) + len(body)
    clock = Clock()
    clock.start()
    for _ in range(rounds):
        kinds: dict[int, tuple[str, Any]] = {}
        for client, server in pairs:
            kinds[id(driver.recv(server, size))] = ("server", (server, client))
            driver.send(client, [header, body])
        echoed = 0
        while echoed < connections:
            for done, result in driver.completions():
                kind = kinds.pop(id(done), None)
                if kind is None:
                    continue
                if kind[0] == "server":
                    server, client = kind[1]
                    assert len(result) == size, "short read: the benchmark assumes whole messages"
                    kinds[id(driver.recv(client, size))] = ("client", None)
                    driver.send(server, [result])
                else:
                    echoed += 1
    return clock.stop(connections * rounds)


def post_winsock(count: int) -> stats.Measurement:
    import winsock_ov

    with winsock_ov.CompletionPort() as port:
        clock = Clock()
        clock.start()
        for _ in range(count):
            port.post()
            item = port.dequeue(timeout=WAIT)
            assert isinstance(item, winsock_ov.Posted)
        return clock.stop(count)


def post_c(count: int) -> stats.Measurement:
    import _overlapped  # type: ignore[import-not-found, unused-ignore]
    import _winapi

    port = _overlapped.CreateIoCompletionPort(INVALID_HANDLE_VALUE, 0, 0, 0)
    clock = Clock()
    clock.start()
    for _ in range(count):
        ov = _overlapped.Overlapped(0)  # as winsock_ov's post: a packet with an OVERLAPPED
        _overlapped.PostQueuedCompletionStatus(port, 0, 0, ov.address)
        assert _overlapped.GetQueuedCompletionStatus(port, int(WAIT * 1000))[3] == ov.address
    measurement = clock.stop(count)
    _winapi.CloseHandle(port)
    return measurement


def blocking_ping_pong(trips: int) -> stats.Measurement:
    (a, b), = socket_pairs(1)
    with a, b:
        a.settimeout(WAIT)
        b.settimeout(WAIT)
        clock = Clock()
        clock.start()
        for _ in range(trips):
            a.sendall(b"x")
            b.recv(1)
            b.sendall(b"y")
            a.recv(1)
        return clock.stop(trips)


def blocking_bulk(chunks: int) -> stats.Measurement:
    (a, b), = socket_pairs(1)
    chunk = bytes(CHUNK)
    sender_cpu: list[float] = []
    with a, b:
        b.settimeout(WAIT)

        def sender() -> None:
            start = time.thread_time()
            for _ in range(chunks):
                a.sendall(chunk)
            sender_cpu.append(time.thread_time() - start)

        thread = threading.Thread(target=sender)
        clock = Clock()
        clock.start()
        thread.start()
        target, received, total = bytearray(CHUNK), 0, chunks * CHUNK
        while received < total:
            received += b.recv_into(target)
        thread.join()
        return clock.stop(chunks, extra_cpu=sum(sender_cpu))


def asyncio_echo(trips: int, loop_factory: Callable[[], Any] | None = None,
                 connections: int = 1) -> stats.Measurement:
    """Streams echo round trips on an event loop of this process (its main thread's CPU):
    ``loop_factory``'s, or asyncio's default one; ``connections`` clients at once,
    ``trips`` round trips in all."""
    import asyncio

    async def run() -> stats.Measurement:
        async def serve(reader: Any, writer: Any) -> None:
            while data := await reader.read(64):
                writer.write(data)
                await writer.drain()
            writer.close()

        async def client(reader: Any, writer: Any, count: int) -> None:
            for _ in range(count):
                writer.write(message)
                await writer.drain()
                await reader.readexactly(len(message))

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        address = server.sockets[0].getsockname()
        pairs = [await asyncio.open_connection(*address) for _ in range(connections)]
        message = b"m" * 64
        each = max(1, trips // connections)
        clock = Clock()
        clock.start()
        await asyncio.gather(*(client(reader, writer, each) for reader, writer in pairs))
        measurement = clock.stop(each * connections)
        for _, writer in pairs:
            writer.close()
        server.close()
        await server.wait_closed()
        return measurement

    if loop_factory is None:
        return asyncio.run(run())
    loop = loop_factory()
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


# The asyncio echo's children: the default loop on the C module (the anchor), and
# by row name the same loop on winsock_ov's module, winsock_ov's own loop, and
# asyncio's selector loop for comparison.
ASYNCIO_CHILDREN = {"compat.overlapped": "winsock_ov", "winsock_ov.aio": "aio",
                    "SelectorEventLoop": "selector"}
ASYNCIO_MANY = 64  # connections of the many-connection asyncio echo


def asyncio_connections(workload: str) -> int:
    """Clients of an asyncio echo workload: "asyncio echo x64" has 64."""
    _, _, suffix = workload.partition("asyncio echo x")
    return int(suffix) if suffix else 1


def asyncio_child(implementation: str, trips: int, count_key: str | None,
                  connections: int = 1) -> stats.Measurement:
    """``asyncio_echo`` in a fresh process: ``implementation`` is "c" (the default loop,
    C module), or a value of ASYNCIO_CHILDREN.

    With ``count_key`` the child marks its runs for the call count instead.
    """
    command = [sys.executable, __file__, "--asyncio-child", implementation, "--messages",
               str(trips), "--connections", str(connections)]
    if count_key:
        command += ["--count-key", count_key]
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"asyncio child ({implementation}) failed: {result.stderr}")
    return stats.Measurement(**json.loads(result.stdout.strip().splitlines()[-1]))


# The selector rows: a selector with ``registered`` sockets (both ends of
# registered / 2 loopback pairs) registered for reading; the sockets of the first
# SELECT_ACTIVE / 2 pairs take turns being made readable.  The sockets are opened
# once per process; the selector lives for one run only: under Wine every pending
# AFD poll of the prefix is walked by the wineserver on each socket event
# (server/sock.c keeps one list of them), so 10,000 idle polls left behind would
# slow every other row, the anchor included.
SELECT_ACTIVE = 10
SELECT_WORKLOAD = "select vs SelectSelector 10"  # its anchor is not the C module: named here
_select_pairs: dict[int, list[tuple[socket.socket, socket.socket]]] = {}


def select_one(kind: str, registered: int,
               idle_elsewhere: int = 0) -> Callable[[int], stats.Measurement]:
    """Time ``messages`` select() calls, each finding the one socket made readable,
    on a selector of ``kind`` ("afd": AFDSelector, "select": SelectSelector).

    ``idle_elsewhere``: that many more sockets polled meanwhile by another
    AFDSelector (under Wine, what the wineserver's walk of its poll list costs
    a selector that is not the one holding them).
    """
    def run(messages: int) -> stats.Measurement:
        import selectors

        from winsock_ov.selectors import AFDSelector

        with contextlib.ExitStack() as stack:
            selector = stack.enter_context(
                AFDSelector() if kind == "afd" else selectors.SelectSelector())
            registering = [(selector, select_pairs(registered))]
            if idle_elsewhere:
                registering.append((stack.enter_context(AFDSelector()),
                                    select_pairs(idle_elsewhere)))
            for chosen, pairs in registering:
                for pair in pairs:
                    for sock in pair:
                        chosen.register(sock, selectors.EVENT_READ)
            pairs = registering[0][1]
            active = [sock for pair in pairs[:SELECT_ACTIVE // 2] for sock in pair]
            wall = cpu = 0.0
            for index in range(messages):
                receiver = active[index % len(active)]
                pair = pairs[index % len(active) // 2]
                sender = pair[1] if receiver is pair[0] else pair[0]
                sender.send(b"x")
                started, started_cpu = time.perf_counter(), time.thread_time()
                found = selector.select(WAIT)
                wall += time.perf_counter() - started
                cpu += time.thread_time() - started_cpu
                assert [key.fileobj for key, _ in found] == [receiver], found
                receiver.recv(1)
        return stats.Measurement(wall, cpu, messages)
    return run


def select_pairs(registered: int) -> list[tuple[socket.socket, socket.socket]]:
    """``registered`` / 2 loopback pairs, opened once per process for each count."""
    pairs = _select_pairs.get(registered)
    if pairs is None:
        pairs = _select_pairs[registered] = socket_pairs(registered // 2)
    return pairs


# --- the rows ----------------------------------------------------------------------------


@dataclass
class Workload:
    """A workload, its anchor run and our implementations of it.

    ``messages``: per timed run at ``--scale 1``; ``counted``: per traced run.
    """

    name: str
    unit: str
    messages: int
    counted: int
    anchor: Callable[[int], stats.Measurement]
    ours: dict[str, Callable[[int], stats.Measurement]] = field(default_factory=dict)
    higher_is_better: bool = True
    per_message: float = 1.0
    warm_up: bool = True  # False: every run is a fresh process anyway
    # Rows measured against an anchor of their own (the C program's style): row -> (the
    # anchor's name, its run).  The other rows' anchor is ``anchor`` (ANCHOR).
    anchors: dict[str, tuple[str, Callable[[int], stats.Measurement]]] = \
        field(default_factory=dict)

    def anchor_of(self, implementation: str) -> tuple[str, Callable[[int], stats.Measurement]]:
        return self.anchors.get(implementation, (ANCHOR, self.anchor))

    def every_anchor(self) -> dict[str, Callable[[int], stats.Measurement]]:
        """The anchors of the rows in ``ours``, by name."""
        return dict(self.anchor_of(name) for name in self.ours)


def with_driver(make: Callable[[], Driver], work: Callable[[Driver, int], stats.Measurement],
                ) -> Callable[[int], stats.Measurement]:
    """A run that makes its driver, does ``work`` with it and closes it."""
    def run(messages: int) -> stats.Measurement:
        driver = make()
        try:
            return work(driver, messages)
        finally:
            driver.close()
    return run


def echo_rounds(connections: int) -> Callable[[Driver, int], stats.Measurement]:
    """Echo with ``messages`` rounded to whole rounds over every connection."""
    def work(driver: Driver, messages: int) -> stats.Measurement:
        return echo(driver, connections, -(-messages // connections))
    return work


# The seed's styles, each against the C program making the same calls (tools/anchor/anchor.c):
# row -> (the C program's style, our driver).  "events new" is winsock_ov's default
# (no event=: the library makes one per operation).
C_STYLES: dict[str, tuple[str, Callable[[], Driver]]] = {
    "port / C": ("port", WinsockPort),
    "events new / C": ("events new", lambda: WinsockEvents("new")),
    "events reused / C": ("events reused", lambda: WinsockEvents("reused")),
    # winsock_ov's default against the C loop that reuses one event per socket:
    # what the default path costs beside the cheapest events C can use.
    "events new / C reused": ("events reused", lambda: WinsockEvents("new")),
    "routines / C": ("routines", WinsockRoutines),
}
C_ANCHOR = "C program"  # the anchors' names: "C program: port", ...


def add_c_rows(workload: Workload, program: CProgram,
               c_work: Callable[[CProgram, str, int], stats.Measurement],
               work: Callable[[Driver, int], stats.Measurement]) -> None:
    """``workload``'s "ours / C program" rows: each style against its C loop."""
    for row, (style, make) in C_STYLES.items():
        workload.ours[row] = with_driver(make, work)
        workload.anchors[row] = (f"{C_ANCHOR}: {style}", functools.partial(c_work, program, style))


def workloads(program: CProgram | None = None) -> list[Workload]:
    """Every row of the benchmark, in the order printed; the rows against the C program
    only with ``program`` (``--c-anchor``)."""
    streams: dict[str, Callable[[], Driver]] = {
        "port": WinsockPort,
        "port +skip": lambda: WinsockPort(skip_on_success=True),
        "events": WinsockEvents,
        "routines": WinsockRoutines,
    }
    # Echo keeps 2 x connections operations in flight: more than the 64 handles
    # WaitForMultipleObjects takes, so no events row here (the rows against the C
    # program have them: both sides wait on the oldest 64).
    echoes: dict[str, Callable[[], Driver]] = {
        "port": WinsockPort,
        "port batch 64": lambda: WinsockPort(batch=64),
        "port +skip": lambda: WinsockPort(skip_on_success=True),
        "port +skip batch 64": lambda: WinsockPort(skip_on_success=True, batch=64),
        "routines": WinsockRoutines,
    }
    rows = [
        Workload("ping-pong", "trips/s", 1500, 200, with_driver(COverlapped, ping_pong),
                 {name: with_driver(make, ping_pong) for name, make in streams.items()}
                 | {"blocking socket": blocking_ping_pong,
                    "raw layer": with_driver(RawPort, ping_pong)}),
        Workload("bulk 64 KiB", "MB/s", 1536, 64, with_driver(COverlapped, bulk),
                 {name: with_driver(make, bulk) for name, make in streams.items()}
                 | {"blocking socket": blocking_bulk}, per_message=CHUNK / 1e6),
    ]
    for connections, messages in ((64, 1920), (256, 2048)):
        work = echo_rounds(connections)
        rows.append(Workload(f"echo x{connections}", "msgs/s", messages, connections * 2,
                             with_driver(COverlapped, work),
                             {name: with_driver(make, work) for name, make in echoes.items()}))
    if program is not None:
        add_c_rows(rows[0], program, c_pair("ping_pong"), ping_pong)
        add_c_rows(rows[1], program, c_pair("bulk"), bulk)
        add_c_rows(rows[2], program, c_echo(64), echo_rounds(64))
    rows.append(Workload("post + dequeue", "us", 15000, 500, post_c, {"port": post_winsock},
                         higher_is_better=False))
    for connections, messages, counted in ((1, 1500, 200), (ASYNCIO_MANY, 3072, 256)):
        name = "asyncio echo" + (f" x{connections}" if connections > 1 else "")
        rows.append(Workload(
            name, "trips/s", messages, counted,
            lambda n, c=connections: asyncio_child("c", n, None, c),
            {label: (lambda n, child=child, c=connections: asyncio_child(child, n, None, c))
             for label, child in ASYNCIO_CHILDREN.items()},
            warm_up=False))
    rows.append(Workload(
        SELECT_WORKLOAD, "us", 500, 100, select_one("select", SELECT_ACTIVE),
        {"AFDSelector 10": select_one("afd", SELECT_ACTIVE),
         "AFDSelector 10,000": select_one("afd", 10000),
         "AFDSelector 10 +10,000 idle elsewhere": select_one("afd", SELECT_ACTIVE, 10000),
         "SelectSelector 500": select_one("select", 500)},
        higher_is_better=False, warm_up=False))  # untimed set-up: nothing to warm
    return rows


def scaled(workload: Workload, scale: float) -> int:
    """Messages per timed run; echo keeps whole rounds over all its connections."""
    messages = max(1, int(workload.messages * scale))
    if workload.name.startswith("echo x"):
        connections = int(workload.name[len("echo x"):])
        messages = max(1, messages // connections) * connections
    return messages


def key(workload: str, implementation: str) -> str:
    return f"{workload}|{implementation}"


# --- calls per message: marked runs for the traced session --------------------------------


def mark(label: str) -> None:
    """An event whose name shows in the Wine server trace, closed at once."""
    import _overlapped  # type: ignore[import-not-found, unused-ignore]
    import _winapi

    _winapi.CloseHandle(_overlapped.CreateEvent(None, True, False, stats.MARKER_PREFIX + label))


def counted_runs(label: str, run: Callable[[int], Any], messages: int) -> None:
    """Warm up, then the run with 0 and with ``messages`` messages, each between markers."""
    run(messages)
    for count in (0, messages):
        mark(f"{label}/{count}:begin")
        run(count)
        mark(f"{label}/{count}:end")


def count_calls(selected: list[Workload]) -> int:
    print(f"counting server requests ({stats.MARKER_PREFIX} markers), "
          f"CPython {platform.python_version()}", flush=True)
    for workload in selected:
        messages = workload.counted
        for name, run in [*workload.every_anchor().items(), *workload.ours.items()]:
            label = key(workload.name, name)
            if workload.name.startswith("asyncio echo"):  # the child marks its own runs
                asyncio_child(ASYNCIO_CHILDREN.get(name, "c"), messages, label,
                              asyncio_connections(workload.name))
            else:
                counted_runs(label, run, messages)
            print(f"  {label}: {messages} messages", flush=True)
    return 0


# --- the run -----------------------------------------------------------------------------


def measure(selected: list[Workload], rounds: int, scale: float,
            progress: Callable[[str], None]) -> list[stats.Row]:
    rows: dict[str, stats.Row] = {}
    for workload in selected:
        for name in workload.ours:
            rows[key(workload.name, name)] = stats.Row(
                workload.name, name, workload.unit, workload.higher_is_better,
                workload.per_message, anchor=workload.anchor_of(name)[0])
    # Warm-up: imports, ctypes prototypes, first connections; not recorded.
    for workload in (w for w in selected if w.warm_up):
        for run in (*workload.every_anchor().values(), *workload.ours.values()):
            run(max(1, scaled(workload, scale) // 10))
    for round_number in range(rounds):
        started = time.perf_counter()
        for workload in selected:
            messages = scaled(workload, scale)
            for name, ours in workload.ours.items():
                anchor = workload.anchor_of(name)[1]
                done: dict[str, stats.Measurement] = {}
                for side in stats.order(round_number):
                    done[side] = (anchor if side == "anchor" else ours)(messages)
                rows[key(workload.name, name)].add(done["anchor"], done["ours"])
        progress(f"round {round_number + 1}/{rounds}: {time.perf_counter() - started:.1f} s")
    return list(rows.values())


def attach_calls(rows: list[stats.Row], calls: dict[str, Any]) -> None:
    for row in rows:
        ours, anchor = calls.get(key(row.workload, row.implementation)), \
            calls.get(key(row.workload, row.anchor))
        if ours:
            row.calls_ours = ours["total"]
            row.calls_detail["ours"] = ours["by_request"]
        if anchor:
            row.calls_anchor = anchor["total"]
            row.calls_detail["anchor"] = anchor["by_request"]


def select(every: list[Workload], only: list[str], only_c: bool) -> list[Workload]:
    """The workloads whose name contains one of ``only`` (all if empty; a workload's
    whole name selects that one alone: "echo x64" is not "asyncio echo x64"); with
    ``only_c``, only their rows against the C program."""
    names = {w.name for w in every}
    selected = [w for w in every if not only or any(
        w.name == text if text in names else text in w.name for text in only)]
    if not only_c:
        return selected
    for workload in selected:
        workload.ours = {name: run for name, run in workload.ours.items()
                         if name in workload.anchors}
    return [w for w in selected if w.ours]


def tables_by_anchor(rows: list[stats.Row]) -> list[tuple[str, list[stats.Row]]]:
    """The rows against CPython's module, then those against the C program (if any)."""
    tables = [(f"ours / {ANCHOR}", [row for row in rows if row.anchor == ANCHOR]),
              (f"ours / {C_ANCHOR} (tools/anchor/anchor.c: the same style's calls in C)",
               [row for row in rows if row.anchor != ANCHOR])]
    return [(title, group) for title, group in tables if group]


def child_main(implementation: str, messages: int, count_key: str | None,
               connections: int) -> int:
    loop_factory: Callable[[], Any] | None = None
    if implementation == "winsock_ov":
        from winsock_ov.compat import overlapped

        overlapped.install()
    elif implementation == "aio":
        from winsock_ov import aio

        loop_factory = aio.new_event_loop
    elif implementation == "selector":
        import asyncio

        loop_factory = asyncio.SelectorEventLoop
    echo = functools.partial(asyncio_echo, loop_factory=loop_factory, connections=connections)
    if count_key:
        counted_runs(count_key, echo, messages)
        measurement = stats.Measurement(1.0, 0.0, messages)
    else:
        measurement = echo(messages)
    print(json.dumps(measurement.as_json()))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write every raw number here")
    parser.add_argument("--markdown", action="store_true",
                        help="also print a README-ready Markdown table")
    parser.add_argument("--rounds", type=int, help="paired rounds per row (default 7, quick 3)")
    parser.add_argument("--scale", type=float,
                        help="work per timed run (default 1, quick 0.2)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="only workloads whose name contains TEXT, or the one "
                        "whose whole name it is (repeatable)")
    parser.add_argument("--c-anchor", metavar="DLL",
                        help="tools/anchor/anchor.c built (by winenv.py bench): adds the rows "
                             "against the C program")
    parser.add_argument("--only-c", action="store_true",
                        help="only the rows against the C program (needs --c-anchor)")
    parser.add_argument("--calls", help="calls per message counted by a --count-calls run "
                                        "(JSON, written by winenv.py bench)")
    parser.add_argument("--count-calls", action="store_true",
                        help="run each row with 0 and N messages between trace markers "
                             "(for a WINEDEBUG=+server session), time nothing")
    parser.add_argument("--asyncio-child", choices=("c", *ASYNCIO_CHILDREN.values()),
                        help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--connections", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--count-key", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 7
    if args.scale is None:
        args.scale = 0.2 if args.quick else 1.0
    if args.rounds < 1 or args.scale <= 0:
        parser.error("--rounds must be 1 or more and --scale above 0")
    if args.only_c and not args.c_anchor:
        parser.error("--only-c needs --c-anchor")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.asyncio_child:
        return child_main(args.asyncio_child, args.messages, args.count_key, args.connections)
    selected = select(workloads(CProgram(args.c_anchor) if args.c_anchor else None),
                      args.only, args.only_c)
    if args.count_calls:
        return count_calls(selected)

    started = time.perf_counter()
    print(f"winsock_ov benchmark: CPython {platform.python_version()} on {sys.platform}; "
          f"{args.rounds} paired rounds per row, scale {args.scale}; ratios against "
          f"{ANCHOR} (or the C program), above 1: ours better; CPU ours/C below 1: ours "
          "spends less", flush=True)
    rows = measure(selected, args.rounds, args.scale, lambda text: print(text, flush=True))
    calls: dict[str, Any] = {}
    if args.calls and Path(args.calls).is_file():
        calls = json.loads(Path(args.calls).read_text())
        attach_calls(rows, calls)
    elapsed = time.perf_counter() - started
    tables = tables_by_anchor(rows)
    for title, group in tables:
        print(f"\n{title}\n{stats.render_table(group)}")
    print(f"\n{elapsed:.0f} s; calls/msg: Wine server requests per message"
          + ("" if calls else " (not counted: run through winenv.py bench)"))
    if args.markdown:
        for title, group in tables:
            print(f"\n{title}\n\n{stats.render_markdown(group)}")
    if args.json:
        meta = {"python": platform.python_version(), "platform": sys.platform,
                "rounds": args.rounds, "scale": args.scale, "quick": args.quick,
                "seconds": round(elapsed, 1),
                "messages": {w.name: scaled(w, args.scale) for w in selected},
                "calls_counted": bool(calls)}
        Path(args.json).write_text(json.dumps(stats.report(meta, rows), indent=1))
        print(f"raw numbers: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
