"""``python -m winsock_ov``: the seed's sender and receiver on the object layer.

``send`` and ``recv`` speak the seed's protocol and print its lines, so either
side can talk to the C originals (OverlappedSend_win.c, OverlappedRecv_win.c,
CmplRoutinesRecv_win.c): the message goes out with its terminating NUL, and
the receiver prints what it got up to the first NUL.  Errors print one line to
stderr and exit 1, as the seed's ErrorHandling does; Ctrl-C exits as Python
does on an uncaught KeyboardInterrupt, without the traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import Callable

from . import __version__

DESCRIPTION = ("The sender and receivers of the Winsock2 overlapped I/O tutorial "
               "(event, completion routine, completion port), and an echo server.")
NOTIFY_HELP = ("how completion is learned: an event object, a completion routine "
               "run during an alertable wait, or a completion port")
TIMEOUT_HELP = "give up after this many seconds (inf: wait for ever)"
# The exit code of a Windows process ended by Ctrl-C, which Python gives too
# when a KeyboardInterrupt reaches the top (STATUS_CONTROL_C_EXIT, as a signed int).
STATUS_CONTROL_C_EXIT = 0xC000013A - (1 << 32)
NOT_WINDOWS = 3  # the exit code off Windows: nothing was tried


def _port(lowest: int) -> Callable[[str], int]:
    """An argparse type: a port number from ``lowest`` to 65535."""
    def port(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            value = -1
        if not lowest <= value <= 65535:
            raise argparse.ArgumentTypeError(
                f"the port must be a number from {lowest} to 65535, not {text!r}")
        return value
    return port


def _seconds(text: str) -> float:
    """An argparse type: a timeout in seconds (> 0, or inf)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"the timeout must be a number of seconds > 0 "
                                         f"(or inf), not {text!r}")
    return value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    from .programs import DEFAULT_MESSAGE, NOTIFY_STYLES

    formatter = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="python -m winsock_ov", description=DESCRIPTION,
                                     formatter_class=formatter)
    parser.add_argument("--version", action="version", version=f"winsock_ov {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    send = sub.add_parser("send", formatter_class=formatter,
                          help="connect and send one message (OverlappedSend_win.c)",
                          description="Connect to HOST and PORT, send one message with its "
                                      "terminating NUL, print its size.")
    send.add_argument("host", metavar="HOST", help="IPv4 or IPv6 address, or host name")
    send.add_argument("port", metavar="PORT", type=_port(1), help="TCP port, 1-65535")
    send.add_argument("--message", default=DEFAULT_MESSAGE, help="the text to send")
    send.add_argument("--notify", choices=NOTIFY_STYLES, default="event", help=NOTIFY_HELP)
    send.add_argument("--timeout", type=_seconds, default=math.inf, metavar="SECONDS",
                      help=TIMEOUT_HELP)

    recv = sub.add_parser("recv", formatter_class=formatter,
                          help="accept one client, receive one message "
                               "(OverlappedRecv_win.c / CmplRoutinesRecv_win.c)",
                          description="Listen on PORT, accept one client, receive one message "
                                      "and print it up to its first NUL.")
    recv.add_argument("port", metavar="PORT", type=_port(0),
                      help="TCP port, 0-65535 (0: one the system chooses, printed)")
    recv.add_argument("--host", default="0.0.0.0",
                      help="the address to listen on (IPv4 or IPv6: '::' for every one)")
    recv.add_argument("--notify", choices=NOTIFY_STYLES, default="event", help=NOTIFY_HELP)
    recv.add_argument("--timeout", type=_seconds, default=math.inf, metavar="SECONDS",
                      help=TIMEOUT_HELP)

    sub.add_parser("demo", formatter_class=formatter,
                   help="sender against receiver on loopback, in every style and case",
                   description="Run the sender against the receiver on loopback, in every "
                               "notification style, with the data sent before and after the "
                               "receive is posted, and check each against the tutorial.")

    echo = sub.add_parser("echo", formatter_class=formatter,
                          help="an echo server on a completion port (Ctrl-C stops it)",
                          description="Serve TCP echo on a completion port until Ctrl-C.")
    echo.add_argument("port", metavar="PORT", type=_port(0),
                      help="TCP port, 0-65535 (0: one the system chooses, printed)")
    echo.add_argument("--host", default="127.0.0.1",
                      help="the address to listen on (IPv4 or IPv6)")

    sub.add_parser("twisted", help="run a Twisted program on its IOCP reactor, with "
                                   "winsock_ov's twisted_iocpsupport",
                   description=TWISTED_USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser.parse_args(argv)


TWISTED_USAGE = """\
usage: python -m winsock_ov twisted [--no-reactor] (-m MODULE | SCRIPT) [ARGS ...]

Run SCRIPT (or MODULE, as python -m does) with winsock_ov.compat.iocpsupport
standing in for the compiled twisted_iocpsupport, and Twisted's IOCP reactor
installed as its reactor.  With --no-reactor the program picks its reactor
(python -m winsock_ov twisted --no-reactor -m twisted.trial --reactor=iocp ...).
Twisted's IOCP reactor module also needs pywin32."""


def run_twisted(argv: Sequence[str]) -> int:
    """``python -m winsock_ov twisted ...``: see TWISTED_USAGE."""
    import runpy

    args = list(argv)
    install_reactor = args[:1] != ["--no-reactor"]
    if not install_reactor:
        del args[0]
    if not args or args[0] in ("-h", "--help") or args == ["-m"]:
        print(TWISTED_USAGE, file=sys.stdout if args[:1] in (["-h"], ["--help"]) else sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    if sys.platform != "win32":
        print(f"python -m winsock_ov twisted: needs Windows (Winsock2), not {sys.platform}",
              file=sys.stderr)
        return NOT_WINDOWS
    from .compat import iocpsupport

    iocpsupport.install()
    if install_reactor:
        from twisted.internet import iocpreactor  # type: ignore[import-not-found,unused-ignore]

        iocpreactor.install()
    if args[0] == "-m":
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(args)
        runpy.run_path(args[0], run_name="__main__")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["twisted"]:  # the program's own options follow: not argparse's
        return run_twisted(argv[1:])
    args = parse_args(argv)
    if sys.platform != "win32":
        print(f"python -m winsock_ov: needs Windows (Winsock2), not {sys.platform}",
              file=sys.stderr)
        return NOT_WINDOWS
    from .demo import run_demo
    from .programs import (
        NO_HOOKS,
        AnnouncePort,
        ProgramError,
        emit,
        run_echo_server,
        run_receiver,
        run_sender,
    )

    try:
        if args.command == "send":
            message = args.message.encode(sys.getfilesystemencoding(), "surrogateescape")
            return run_sender(args.host, args.port, message, args.notify, timeout=args.timeout)
        if args.command == "recv":
            hooks = AnnouncePort(emit) if args.port == 0 else NO_HOOKS
            return run_receiver(args.port, args.host, args.notify, hooks=hooks,
                                timeout=args.timeout)
        if args.command == "echo":
            return run_echo_server(args.host, args.port)
        return run_demo(emit)
    except ProgramError as exc:
        sys.stdout.flush()
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        sys.stdout.flush()
        print("interrupted (Ctrl-C)", file=sys.stderr)
        return STATUS_CONTROL_C_EXIT
