"""Benchmark: winsock_ov against CPython's C ``_overlapped``, on loopback, in one run.

Run under Windows CPython (``python3 tools/winenv.py bench`` does it under Wine).
Every figure is measured in the same process and printed as a ratio to the
anchor measured alongside it, CPython's ``_overlapped`` driving its own
completion port the same way (for costs, the ratio is the anchor's time over
ours: above 1 means faster than the anchor):

* ping-pong: 1-byte round trips per second between two sockets;
* bulk: MB/s of a stream sent in 64 KiB writes;
* echo: messages per second echoed over 64 and 256 connections (header and body
  sent as two buffers: gathered by winsock_ov, joined for ``_overlapped``);
* post: microseconds for one PostQueuedCompletionStatus + dequeue, no I/O;
* asyncio: round trips per second of a streams echo on asyncio's
  ProactorEventLoop, over winsock_ov.compat.overlapped against over the C
  module (each in a process of its own: the module is chosen before asyncio loads).

Each figure is the best of ``--repeat`` runs.  Raw numbers go to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _overlapped
import _winapi

import winsock_ov
from winsock_ov import CompletionPort, Posted, wait_for_multiple_events

WAIT = 10.0
INVALID_HANDLE_VALUE = (1 << (8 * 8)) - 1 if sys.maxsize > 2**32 else (1 << 32) - 1
CHUNK = 64 * 1024


# --- drivers: one way each of starting I/O and learning it finished ---------------------


class Driver:
    """Start receives and sends; yield (token, result) as they complete."""

    name = ""
    conns: list[Any]

    def wrap(self, sock: socket.socket) -> Any:
        conn = winsock_ov.Socket.from_socket(sock)
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


class WinsockPort(Driver):
    """Dequeues up to ``batch`` packets per call (GetQueuedCompletionStatusEx).

    Under Wine each entry asked for costs a server round trip, plus one to find
    the queue empty, so a workload with one packet ready at a time is best
    served with batch=1; Windows answers any batch in one system call.
    """

    def __init__(self, skip_on_success: bool = False, batch: int = 1) -> None:
        self.port = CompletionPort()
        self.skip = skip_on_success
        self.batch = batch
        self.at_once: list[Any] = []
        self.conns = []
        self.name = (f"winsock_ov port batch {batch}" if batch > 1 else "winsock_ov port") + \
            (" +skip" if skip_on_success else "")

    def wrap(self, sock: socket.socket) -> Any:
        conn = super().wrap(sock)
        self.port.associate(conn, skip_on_success=self.skip)
        return conn

    def recv(self, conn: Any, nbytes: int) -> Any:
        return self._track(conn.recv(nbytes))

    def send(self, conn: Any, parts: list[bytes]) -> Any:
        return self._track(conn.send(parts if len(parts) > 1 else parts[0]))

    def _track(self, op: Any) -> Any:
        if op.done:  # skip-on-success: finished within the call, no packet
            self.at_once.append(op)
        return op

    def completions(self) -> Iterator[tuple[Any, Any]]:
        if self.at_once:
            done, self.at_once = self.at_once, []
        else:
            done = self.port.dequeue_many(self.batch, timeout=WAIT)
            if not done:
                raise TimeoutError("no completion")
        for op in done:
            yield op, op.result()

    def close(self) -> None:
        super().close()
        self.port.close()


class WinsockEvents(Driver):
    name = "winsock_ov events"

    def __init__(self) -> None:
        self.inflight: list[Any] = []
        self.conns = []

    def recv(self, conn: Any, nbytes: int) -> Any:
        op = conn.recv(nbytes)
        self.inflight.append(op)
        return op

    def send(self, conn: Any, parts: list[bytes]) -> Any:
        op = conn.send(parts if len(parts) > 1 else parts[0])
        self.inflight.append(op)
        return op

    def completions(self) -> Iterator[tuple[Any, Any]]:
        done = [op for op in self.inflight if op.done]
        if not done:
            events = [op.event for op in self.inflight[:64]]
            if not wait_for_multiple_events(events, timeout=WAIT).signaled:
                raise TimeoutError("no completion")
            done = [op for op in self.inflight if op.done]
        for op in done:
            self.inflight.remove(op)
            yield op, op.result()


class WinsockRoutines(Driver):
    name = "winsock_ov routines"

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
        while not self.finished:
            if winsock_ov.sleep_ex(WAIT).status is not winsock_ov.WaitStatus.IO_COMPLETION:
                raise TimeoutError("no completion")
        done, self.finished = self.finished, []
        for op in done:
            yield op, op.result()


class COverlapped(Driver):
    """CPython's _overlapped, used the way asyncio's IocpProactor uses it."""

    name = "_overlapped (C)"

    def __init__(self) -> None:
        self.port = _overlapped.CreateIoCompletionPort(INVALID_HANDLE_VALUE, 0, 0, 0)
        self.cache: dict[int, Any] = {}
        self.sockets: list[socket.socket] = []

    def wrap(self, sock: socket.socket) -> Any:
        _overlapped.CreateIoCompletionPort(sock.fileno(), self.port, 0, 0)
        self.sockets.append(sock)
        return sock.fileno()

    def recv(self, conn: Any, nbytes: int) -> Any:
        ov = _overlapped.Overlapped(0)
        ov.WSARecv(conn, nbytes, 0)
        self.cache[ov.address] = ov
        return ov

    def send(self, conn: Any, parts: list[bytes]) -> Any:
        ov = _overlapped.Overlapped(0)
        ov.WSASend(conn, parts[0] if len(parts) == 1 else b"".join(parts), 0)
        self.cache[ov.address] = ov
        return ov

    def completions(self) -> Iterator[tuple[Any, Any]]:
        status = _overlapped.GetQueuedCompletionStatus(self.port, int(WAIT * 1000))
        if status is None:
            raise TimeoutError("no completion")
        while status is not None:
            ov = self.cache.pop(status[3])
            yield ov, ov.getresult()
            status = _overlapped.GetQueuedCompletionStatus(self.port, 0)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        _winapi.CloseHandle(self.port)


# --- workloads -----------------------------------------------------------------------------


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


def ping_pong(driver: Driver, rounds: int) -> float:
    (client, server), = socket_pairs(1)
    a, b = driver.wrap(client), driver.wrap(server)
    start = time.perf_counter()
    for _ in range(rounds):
        got = driver.recv(b, 1)
        driver.send(a, [b"x"])
        wait_for(driver, got)
        got = driver.recv(a, 1)
        driver.send(b, [b"y"])
        wait_for(driver, got)
    return rounds / (time.perf_counter() - start)


def bulk(driver: Driver, total: int) -> float:
    (client, server), = socket_pairs(1)
    a, b = driver.wrap(client), driver.wrap(server)
    chunk = bytes(CHUNK)
    sent = received = 0
    sends: set[int] = set()
    start = time.perf_counter()
    receive = driver.recv(b, CHUNK)
    while received < total:
        while len(sends) < 2 and sent < total:
            sends.add(id(driver.send(a, [chunk])))
            sent += CHUNK
        for done, result in driver.completions():
            if done is receive:
                received += len(result)
                if received < total:
                    receive = driver.recv(b, CHUNK)
            else:
                sends.discard(id(done))
    return total / (time.perf_counter() - start) / 1e6


def echo(driver: Driver, connections: int, rounds: int) -> float:
    pairs = [(driver.wrap(c), driver.wrap(s)) for c, s in socket_pairs(connections)]
    header, body = b"LEN=0056", b"b" * 56
    size = len(header) + len(body)
    start = time.perf_counter()
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
    return connections * rounds / (time.perf_counter() - start)


def post_cost_winsock(count: int) -> float:
    with CompletionPort() as port:
        start = time.perf_counter()
        for _ in range(count):
            port.post()
            item = port.dequeue(timeout=WAIT)
            assert isinstance(item, Posted)
        return (time.perf_counter() - start) / count * 1e6


def post_cost_c(count: int) -> float:
    port = _overlapped.CreateIoCompletionPort(INVALID_HANDLE_VALUE, 0, 0, 0)
    start = time.perf_counter()
    for _ in range(count):
        ov = _overlapped.Overlapped(0)  # as winsock_ov's post: a packet with an OVERLAPPED
        _overlapped.PostQueuedCompletionStatus(port, 0, 0, ov.address)
        assert _overlapped.GetQueuedCompletionStatus(port, int(WAIT * 1000))[3] == ov.address
    elapsed = time.perf_counter() - start
    _winapi.CloseHandle(port)
    return elapsed / count * 1e6


def asyncio_echo(rounds: int) -> float:
    """Streams echo round trips per second on the event loop of this process."""
    import asyncio

    async def run() -> float:
        async def echo(reader: Any, writer: Any) -> None:
            while data := await reader.read(64):
                writer.write(data)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname())
        message = b"m" * 64
        start = time.perf_counter()
        for _ in range(rounds):
            writer.write(message)
            await writer.drain()
            await reader.readexactly(len(message))
        elapsed = time.perf_counter() - start
        writer.close()
        server.close()
        await server.wait_closed()
        return rounds / elapsed

    return asyncio.run(run())


def asyncio_echo_in_child(implementation: str, rounds: int) -> float:
    """``asyncio_echo`` in a fresh process, on the C module or on winsock_ov's."""
    result = subprocess.run([sys.executable, __file__, "--asyncio-child", implementation,
                             "--scale", str(rounds / 2000)], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"asyncio child ({implementation}) failed: {result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def blocking_ping_pong(rounds: int) -> float:
    (a, b), = socket_pairs(1)
    with a, b:
        a.settimeout(WAIT)
        b.settimeout(WAIT)
        start = time.perf_counter()
        for _ in range(rounds):
            a.sendall(b"x")
            b.recv(1)
            b.sendall(b"y")
            a.recv(1)
        return rounds / (time.perf_counter() - start)


def blocking_bulk(total: int) -> float:
    (a, b), = socket_pairs(1)
    chunk = bytes(CHUNK)
    with a, b:
        b.settimeout(WAIT)

        def sender() -> None:
            for _ in range(total // CHUNK):
                a.sendall(chunk)

        thread = threading.Thread(target=sender)
        start = time.perf_counter()
        thread.start()
        target, received = bytearray(CHUNK), 0
        while received < total:
            received += b.recv_into(target)
        thread.join()
        return total / (time.perf_counter() - start) / 1e6


# --- the run -----------------------------------------------------------------------------


def best(repeat: int, measure: Callable[[], float], lower_is_better: bool = False) -> float:
    results = [measure() for _ in range(repeat)]
    return min(results) if lower_is_better else max(results)


def interleaved(repeat: int, makers: list[Callable[[], Driver]],
                work: Callable[[Driver], float]) -> list[tuple[str, float]]:
    """Each driver's name and best figure, the drivers taking turns in rotating order.

    Wine's speed drifts during a run; taking turns keeps that drift from
    favouring whichever implementation happens to be measured first.
    """
    names = [""] * len(makers)
    results: list[list[float]] = [[] for _ in makers]
    for round_number in range(repeat):
        for offset in range(len(makers)):
            index = (offset + round_number) % len(makers)
            driver = makers[index]()
            try:
                results[index].append(work(driver))
            finally:
                driver.close()
            names[index] = driver.name
    return [(name, max(values)) for name, values in zip(names, results)]


class Table:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        print(f"{'workload':<16} {'implementation':<34} {'value':>10} {'unit':<8} {'ratio':>7}")

    def add(self, workload: str, unit: str, name: str, value: float, anchor: float,
            lower_is_better: bool = False) -> None:
        """One figure; its ratio to the anchor (for costs, anchor / value)."""
        ratio = anchor / value if lower_is_better else value / anchor
        self.rows.append({"workload": workload, "unit": unit, "implementation": name,
                          "value": round(value, 2), "ratio": round(ratio, 3)})
        shown = "anchor" if name == COverlapped.name else f"{ratio:.2f}x"
        print(f"{workload:<16} {name:<34} {value:>10.1f} {unit:<8} {shown:>7}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default="bench.json", help="where to write the raw numbers")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="work per figure (1 = default)")
    parser.add_argument("--asyncio-child", choices=("c", "winsock_ov"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scale, repeat = args.scale, args.repeat
    if args.asyncio_child:
        if args.asyncio_child == "winsock_ov":
            from winsock_ov.compat import overlapped

            overlapped.install()
        print(asyncio_echo(max(1, int(2000 * scale))))
        return 0
    rounds = int(2000 * scale)
    total = max(1, int(1024 * scale)) * CHUNK  # 64 MiB at scale 1

    print(f"winsock_ov benchmark: CPython {platform.python_version()} on {sys.platform}, "
          f"best of {repeat}; ratios to _overlapped (above 1: better)")
    table = Table()
    stream_drivers: list[Callable[[], Driver]] = [
        COverlapped, WinsockPort, lambda: WinsockPort(skip_on_success=True),
        WinsockEvents, WinsockRoutines,
    ]
    for workload, unit, work, blocking in (
        ("ping-pong", "trips/s", lambda d: ping_pong(d, rounds),
         lambda: blocking_ping_pong(rounds)),
        ("bulk 64 KiB", "MB/s", lambda d: bulk(d, total), lambda: blocking_bulk(total)),
    ):
        figures = interleaved(repeat, stream_drivers, work)
        anchor = figures[0][1]
        for name, value in figures:
            table.add(workload, unit, name, value, anchor)
        table.add(workload, unit, "blocking socket", best(repeat, blocking), anchor)

    echo_drivers: list[Callable[[], Driver]] = [
        COverlapped, WinsockPort, lambda: WinsockPort(batch=64),
        lambda: WinsockPort(skip_on_success=True, batch=64),
    ]
    for connections in (64, 256):
        echo_rounds = max(1, int(40 * scale * 64 / connections))
        figures = interleaved(repeat, echo_drivers,
                              lambda d, n=connections, r=echo_rounds: echo(d, n, r))
        for name, value in figures:
            table.add(f"echo x{connections}", "msgs/s", name, value, figures[0][1])

    count = int(20000 * scale)
    anchor = best(repeat, lambda: post_cost_c(count), lower_is_better=True)
    table.add("post + dequeue", "us", COverlapped.name, anchor, anchor, lower_is_better=True)
    table.add("post + dequeue", "us", "winsock_ov port",
              best(repeat, lambda: post_cost_winsock(count), lower_is_better=True), anchor,
              lower_is_better=True)

    echo_trips = max(1, int(2000 * scale))
    figures_by_impl: dict[str, list[float]] = {"c": [], "winsock_ov": []}
    for round_number in range(repeat):  # taking turns, as above
        order = ("c", "winsock_ov") if round_number % 2 == 0 else ("winsock_ov", "c")
        for implementation in order:
            figures_by_impl[implementation].append(
                asyncio_echo_in_child(implementation, echo_trips))
    anchor = max(figures_by_impl["c"])
    table.add("asyncio echo", "trips/s", COverlapped.name, anchor, anchor)
    table.add("asyncio echo", "trips/s", "winsock_ov compat", max(figures_by_impl["winsock_ov"]),
              anchor)

    Path(args.json).write_text(json.dumps({
        "python": platform.python_version(), "platform": sys.platform,
        "repeat": repeat, "scale": scale, "figures": table.rows,
    }, indent=1))
    print(f"raw numbers: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
