"""Python frames entered per operation on winsock_ov's two hot paths: a measure of
indirection, not a timing.

    python3 tools/winenv.py run 3.11 tools/hops.py [--package DIR] [--rounds N] [--show]

Counts the ``"call"`` events ``sys.setprofile`` reports (one per Python frame
entered: a function or method called, a generator or coroutine resumed; calls
into C are ``"c_call"`` and do not count) over ``--rounds`` iterations of a
steady-state loop, after a warm-up, and prints the count per iteration:

* ``port recv_into``: on a winsock_ov Socket associated with a CompletionPort
  (the default ``associate``), ``op = sock.recv_into(buffer)`` while nothing
  has arrived (the receive pends), the peer sends (a plain ``socket.socket``,
  outside the count), then ``port.dequeue(timeout)`` hands the operation back
  and ``op.result()`` reads it;
* ``events recv_into`` and ``routine recv_into``: the seed's two styles on a
  Socket tied to no port: ``op = sock.recv_into(buffer)`` (its event borrowed
  the default way) or ``sock.recv_into(buffer, routine=callback)``, the peer
  sends, then ``op.result()`` waits on the event, or ``sleep_ex`` waits until
  the routine has run (the completion thunk's frame counts);
* ``asyncio sock_recv``: ``await loop.sock_recv(sock, n)`` on asyncio's
  ProactorEventLoop with ``winsock_ov.compat.overlapped`` installed, the peer's
  send scheduled with ``loop.call_soon`` (so the receive pends, as it does in a
  server waiting for its clients); every frame of the loop counts (the
  proactor's I/O, its dequeue, the task's wake-up).

``--package DIR`` measures the winsock_ov found in DIR (a worktree of an
earlier commit, say) instead of this tree's.  ``--show`` prints the frames of
one more round of each.  The counts repeat exactly from run to run; a fraction
means some rounds differ (the event loop's own bookkeeping, now and then).
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any

WAIT = 10.0
WARM_UP = 50


class FrameCounter:
    """Counts the Python frames entered while it is active (``with counter:``)."""

    def __init__(self) -> None:
        self.calls = 0
        self.names: list[str] | None = None  # recording one round's frames (--show)

    def _profile(self, frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is not _EXIT_CODE:  # not the counter's own
            self.calls += 1
            if self.names is not None:
                code = frame.f_code
                self.names.append(f"{Path(code.co_filename).stem}.{code.co_name}")

    def __enter__(self) -> FrameCounter:
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.setprofile(None)

    def start_recording(self) -> None:
        self.names = []

    def report(self, what: str) -> None:
        names, self.names = self.names or [], None
        print(f"{what}: {len(names)} frames:\n  " + "\n  ".join(names))


_EXIT_CODE = FrameCounter.__exit__.__code__


def port_recv_into(rounds: int, show: bool) -> float:
    import winsock_ov

    peer, mine = socket.socketpair()  # TCP over loopback on Windows
    sock = winsock_ov.Socket.from_socket(mine)
    buffer = bytearray(64)
    counter = FrameCounter()
    with winsock_ov.CompletionPort() as port, sock, peer:
        port.associate(sock)

        def one_round() -> None:
            with counter:
                op = sock.recv_into(buffer)
            peer.send(b"x" * 64)
            with counter:
                done = port.dequeue(WAIT)
                assert done is op, done
                assert op.result() == 64

        return counted_rounds(counter, one_round, rounds, show, "port recv_into")


def counted_rounds(counter: FrameCounter, one_round: Any, rounds: int, show: bool,
                   what: str) -> float:
    """Frames per round of ``one_round``, after the warm-up (``--show``: one more, printed)."""
    for _ in range(WARM_UP):  # caches filled, lazy imports done
        one_round()
    counter.calls = 0
    for _ in range(rounds):
        one_round()
    if show:
        counter.start_recording()
        one_round()
        counter.report(what)
    return counter.calls / rounds


def seed_style_recv_into(rounds: int, show: bool, *, routine: bool) -> float:
    import winsock_ov

    peer, mine = socket.socketpair()
    sock = winsock_ov.Socket.from_socket(mine)
    buffer = bytearray(64)
    counter = FrameCounter()
    finished: list[Any] = []
    with sock, peer:

        def one_round() -> None:
            with counter:
                op = (sock.recv_into(buffer, routine=finished.append) if routine
                      else sock.recv_into(buffer))
            peer.send(b"x" * 64)
            with counter:
                if routine:
                    while not finished:
                        winsock_ov.sleep_ex(WAIT)
                    assert finished.pop() is op
                assert op.result() == 64

        what = "routine recv_into" if routine else "events recv_into"
        return counted_rounds(counter, one_round, rounds, show, what)


def asyncio_sock_recv(rounds: int, show: bool) -> float:
    from winsock_ov.compat import overlapped

    overlapped.install()
    import asyncio

    counter = FrameCounter()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        peer, mine = socket.socketpair()  # TCP over loopback on Windows
        mine.setblocking(False)

        async def one_round() -> None:
            with counter:
                loop.call_soon(peer.send, b"x" * 64)
                data = await loop.sock_recv(mine, 64)
            assert len(data) == 64, data

        with peer, mine:
            for _ in range(WARM_UP):
                await one_round()
            counter.calls = 0
            for _ in range(rounds):
                await one_round()
            calls = counter.calls
            if show:
                counter.start_recording()
                await one_round()
                counter.report("asyncio sock_recv")
            counter.calls = calls

    loop = asyncio.ProactorEventLoop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return counter.calls / rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--package", type=Path, default=None,
                        help="the folder holding the winsock_ov package to measure")
    parser.add_argument("--rounds", type=int, default=200, help="iterations counted (200)")
    parser.add_argument("--show", action="store_true", help="print one round's frames")
    args = parser.parse_args(argv)
    if args.package is not None:
        sys.path.insert(0, str(args.package.resolve()))
    import winsock_ov

    print(f"winsock_ov from {Path(winsock_ov.__file__).parent}, Python {sys.version.split()[0]}")
    counts = {
        "port recv_into": port_recv_into(args.rounds, args.show),
        "events recv_into": seed_style_recv_into(args.rounds, args.show, routine=False),
        "routine recv_into": seed_style_recv_into(args.rounds, args.show, routine=True),
        "asyncio sock_recv": asyncio_sock_recv(args.rounds, args.show),
    }
    for what, count in counts.items():
        print(f"{what + ':':<19} {count:.1f} frames per operation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
