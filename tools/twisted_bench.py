"""A Twisted TCP echo on its IOCP reactor with winsock_ov.compat.iocpsupport, against
the same on the compiled twisted_iocpsupport, and Twisted's select reactor too.

Run under Windows CPython with the folder ``testbed.twisted`` provisions (the
``--twisted-suite`` tier makes it: ``CACHE/twisted/cp311``)::

    python3 tools/winenv.py run 3.11 tools/twisted_bench.py --twisted DIR [--rounds N]

Each run is a fresh process (a process installs one reactor, and imports one
twisted_iocpsupport): it serves an echo on 127.0.0.1 and runs ``connections``
clients in the same reactor, each sending 64 bytes and waiting for them back,
``trips`` round trips in all, timed from the first send to the last reply
(wall time, and the reactor thread's CPU time).  Rows are paired rounds against
the compiled module's run (``bench_stats``: A B, then B A, ...), each row the
median of its rounds' ratios with their lowest and highest; above 1, the row's
implementation is faster.
"""

from __future__ import annotations

import argparse
import json
import platform
import site
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path[:0] = [str(Path(__file__).resolve().parent)]

import bench_stats as stats  # noqa: E402  (after the path set-up)

ANCHOR = "compiled twisted_iocpsupport"
# Row name -> the child's implementation ("compiled" is the anchor's).
ROWS = {"winsock_ov": "winsock_ov", "select reactor": "select"}
WORKLOADS = {"twisted echo": (1, 1000), "twisted echo x64": (64, 2048)}  # (clients, trips)
MESSAGE = b"m" * 64
CHILD_SECONDS = 600
ERROR_INTERNAL_ERROR = 1359  # what a CreateProcess Wine failed answers; tried once more


def install_reactor(implementation: str) -> None:
    if implementation == "select":
        from twisted.internet import selectreactor

        selectreactor.install()
        return
    if implementation == "winsock_ov":
        from winsock_ov.compat import iocpsupport

        iocpsupport.install()
    from twisted.internet import iocpreactor
    from twisted.internet.iocpreactor import iocpsupport as used

    module = used.CompletionPort.__module__
    if (implementation == "winsock_ov") != module.startswith("winsock_ov"):
        raise SystemExit(f"the IOCP reactor runs on {module}, not {implementation}")
    iocpreactor.install()


def echo(connections: int, trips: int) -> stats.Measurement:
    """``trips`` echo round trips over ``connections`` clients, on the installed reactor."""
    from twisted.internet import protocol, reactor

    each = max(1, trips // connections)
    clients: list[Any] = []
    timing: dict[str, float] = {}

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    class Client(protocol.Protocol):
        def connectionMade(self) -> None:
            self.left, self.pending = each, 0
            clients.append(self)
            if len(clients) == connections:
                timing["wall"], timing["cpu"] = time.perf_counter(), time.thread_time()
                for client in clients:
                    client.send()

        def send(self) -> None:
            self.pending = len(MESSAGE)
            self.transport.write(MESSAGE)

        def dataReceived(self, data: bytes) -> None:
            self.pending -= len(data)
            if self.pending:
                return
            self.left -= 1
            if self.left:
                self.send()
            else:
                finished.append(self)
                if len(finished) == connections:
                    timing["wall"] = time.perf_counter() - timing["wall"]
                    timing["cpu"] = time.thread_time() - timing["cpu"]
                    reactor.stop()  # type: ignore[attr-defined]

    finished: list[Any] = []
    server = reactor.listenTCP(0, protocol.Factory.forProtocol(Echo),  # type: ignore[attr-defined]
                               interface="127.0.0.1")
    factory = protocol.ClientFactory.forProtocol(Client)
    for _ in range(connections):
        reactor.connectTCP("127.0.0.1", server.getHost().port, factory)  # type: ignore[attr-defined]
    reactor.callLater(CHILD_SECONDS - 60, reactor.stop)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    if len(finished) != connections:
        raise SystemExit(f"only {len(finished)} of {connections} clients finished")
    return stats.Measurement(timing["wall"], timing["cpu"], each * connections)


def child(implementation: str, twisted: str, connections: int, trips: int) -> stats.Measurement:
    """``echo`` in a fresh process with ``implementation``'s reactor."""
    command = [sys.executable, __file__, "--twisted", twisted, "--child", implementation,
               "--connections", str(connections), "--trips", str(trips)]
    try:
        result = subprocess.run(command, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=CHILD_SECONDS)
    except OSError as exc:  # Wine on a loaded machine fails CreateProcess now and then
        if getattr(exc, "winerror", None) != ERROR_INTERNAL_ERROR:
            raise
        result = subprocess.run(command, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=CHILD_SECONDS)
    if result.returncode != 0:
        raise RuntimeError(f"echo child ({implementation}) exited {result.returncode}: "
                           f"{result.stdout}{result.stderr}")
    return stats.Measurement(**json.loads(result.stdout.strip().splitlines()[-1]))


def measure(twisted: str, rounds: int, scale: float,
            progress: Callable[[str], None]) -> list[stats.Row]:
    rows = {(workload, name): stats.Row(workload, name, "trips/s")
            for workload in WORKLOADS for name in ROWS}
    for round_number in range(rounds):
        started = time.perf_counter()
        for workload, (connections, trips) in WORKLOADS.items():
            count = max(connections, int(trips * scale))
            for name, implementation in ROWS.items():
                done = {side: child("compiled" if side == "anchor" else implementation,
                                    twisted, connections, count)
                        for side in stats.order(round_number)}
                rows[(workload, name)].add(done["anchor"], done["ours"])
        progress(f"round {round_number + 1}/{rounds}: {time.perf_counter() - started:.1f} s")
    return list(rows.values())


def render(rows: list[stats.Row]) -> str:
    """Each row's median ratio with its range, and its CPU per trip over the anchor's."""
    lines = [f"{'workload':<18} {'reactor':<16} {'ratio':>7} {'min..max':>11} {'rounds':>6} "
             f"{'CPU row/compiled':>16}"]
    for row in rows:
        speed, cpu = row.speed(), row.cpu()
        if speed is None:
            continue
        lines.append(f"{row.workload:<18} {row.implementation:<16} {speed.median:>6.2f}x "
                     f"{speed.low:>5.2f}..{speed.high:<4.2f} {speed.rounds:>6} "
                     f"{'-' if cpu is None else f'{cpu.median:.2f}':>16}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--twisted", required=True,
                        help="the folder testbed.twisted provisions")
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds per row")
    parser.add_argument("--scale", type=float, default=1.0, help="work per timed run")
    parser.add_argument("--json", help="write every raw number here")
    parser.add_argument("--child", choices=("compiled", *ROWS.values()), help=argparse.SUPPRESS)
    parser.add_argument("--connections", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--trips", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.scale <= 0:
        parser.error("--rounds must be 1 or more and --scale above 0")
    site.addsitedir(args.twisted)
    if args.child:
        install_reactor(args.child)
        print(json.dumps(echo(args.connections, args.trips).as_json()))
        return 0
    started = time.perf_counter()
    print(f"Twisted echo: CPython {platform.python_version()}; {args.rounds} paired rounds "
          f"per row, scale {args.scale}; ratios against the IOCP reactor on the {ANCHOR}, "
          "above 1: the row is faster", flush=True)
    rows = measure(args.twisted, args.rounds, args.scale, lambda text: print(text, flush=True))
    elapsed = time.perf_counter() - started
    print()
    print(render(rows))
    print(f"\n{elapsed:.0f} s")
    if args.json:
        meta = {"python": platform.python_version(), "rounds": args.rounds,
                "scale": args.scale, "seconds": round(elapsed, 1)}
        Path(args.json).write_text(json.dumps({**stats.report(meta, rows), "anchor": ANCHOR},
                                              indent=1))
        print(f"raw numbers: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
