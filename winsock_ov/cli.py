"""``python -m winsock_ov``: the seed's sender and receiver on the object layer.

``send`` and ``recv`` speak the seed's protocol and print its lines, so either
side can talk to the C originals (OverlappedSend_win.c, OverlappedRecv_win.c,
CmplRoutinesRecv_win.c): the message goes out with its terminating NUL, and
the receiver prints what it got up to the first NUL.  Errors print one line to
stderr and exit 1, as the seed's ErrorHandling does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .demo import run_demo
from .programs import (
    DEFAULT_MESSAGE,
    NOTIFY_STYLES,
    ProgramError,
    emit,
    run_echo_server,
    run_receiver,
    run_sender,
)


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, not {value}")
    return value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m winsock_ov",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    send = sub.add_parser("send", help="connect and send one message (OverlappedSend_win.c)")
    send.add_argument("host")
    send.add_argument("port", type=_port)
    send.add_argument("--message", default=DEFAULT_MESSAGE)
    send.add_argument("--notify", choices=NOTIFY_STYLES, default="event")

    recv = sub.add_parser("recv", help="accept one client, receive one message "
                                       "(OverlappedRecv_win.c / CmplRoutinesRecv_win.c)")
    recv.add_argument("port", type=_port)
    recv.add_argument("--host", default="0.0.0.0")
    recv.add_argument("--notify", choices=NOTIFY_STYLES, default="event")

    sub.add_parser("demo", help="sender against receiver on loopback, in every style and case")

    echo = sub.add_parser("echo", help="an echo server on a completion port (Ctrl-C stops it)")
    echo.add_argument("port", type=_port)
    echo.add_argument("--host", default="127.0.0.1")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "send":
            message = args.message.encode(sys.getfilesystemencoding(), "surrogateescape")
            return run_sender(args.host, args.port, message, args.notify)
        if args.command == "recv":
            return run_receiver(args.port, args.host, args.notify)
        if args.command == "echo":
            return run_echo_server(args.host, args.port)
        return run_demo(emit)
    except ProgramError as exc:
        sys.stdout.flush()
        print(exc, file=sys.stderr)
        return 1
