"""How many handles dropped event operations keep open (issue 22), counted, not timed.

    python3 tools/winenv.py run 3.11 tools/dropped_events.py [--operations 10000]

Over one loopback TCP pair, each iteration starts a 1-byte receive the default way
(``sock.recv(1)``: no ``event=``, no port, so the socket lends the operation an
event of its pool) and sends it the byte it waits for, and drops both operations
without waiting for them.  A receive goes pending and ends shortly after; its
event is held until something observes its end: the socket's pool, when it has
no event left for the next operation (``event.EventPool``), else the registry's
reap, which runs when the registry has doubled since the last one.  After every
iteration (or every ``--sample-every``-th) the process's open handles
(NtQuerySystemInformation) and the operations the registry holds are sampled;
the script prints their peak above the count before the loop, and what is left
at the end (before and after one explicit reap).  A C program closes an
operation's event when it learns of its end, so it holds at most the handles of
the operations in flight: here one or two.  Before the pool (0.2), the events of
the dropped receives piled up between reaps: 124 handles at the peak.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import socket
import sys
from ctypes import wintypes
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class SYSTEM_HANDLE_ENTRY(ctypes.Structure):
    _fields_ = [("OwnerPid", wintypes.ULONG), ("ObjectType", ctypes.c_ubyte),
                ("HandleFlags", ctypes.c_ubyte), ("HandleValue", wintypes.USHORT),
                ("ObjectPointer", ctypes.c_void_p), ("AccessMask", wintypes.ULONG)]


SystemHandleInformation = 16
STATUS_INFO_LENGTH_MISMATCH = 0xC0000004


def open_handles() -> int:
    """The handles this process holds, from NtQuerySystemInformation(SystemHandleInformation).

    Not GetProcessHandleCount: Wine 8 answers it with 0 whatever is open.
    """
    ntdll = ctypes.WinDLL("ntdll")
    ntdll.NtQuerySystemInformation.restype = ctypes.c_uint32
    size = 1 << 20
    while True:
        buffer = ctypes.create_string_buffer(size)
        status = ntdll.NtQuerySystemInformation(SystemHandleInformation, buffer, size, None)
        if status != STATUS_INFO_LENGTH_MISMATCH:
            break
        size *= 2
    if status:
        raise OSError(f"NtQuerySystemInformation: NTSTATUS {status:#x}")
    count = ctypes.c_ulong.from_buffer(buffer).value
    offset = ctypes.sizeof(ctypes.c_void_p)  # ULONG Count, then the entries, aligned
    entries = (SYSTEM_HANDLE_ENTRY * count).from_buffer(buffer, offset)
    pid = os.getpid()
    return sum(1 for entry in entries if entry.OwnerPid == pid)


def measure(operations: int, sample_every: int = 1) -> dict[str, int]:
    """Drop ``operations`` receives and sends; the handles are counted after every
    ``sample_every``-th iteration (a count reads the whole system's handle table)."""
    import winsock_ov

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with winsock_ov.Socket.from_socket(server) as receiver, \
            winsock_ov.Socket.from_socket(client) as sender:  # both detached: theirs now
        winsock_ov.reap()
        base_handles, base_pending = open_handles(), winsock_ov.pending_operations()
        peak_handles = peak_pending = 0
        for iteration in range(operations):
            receiver.recv(1)  # dropped: pending until its byte comes
            sender.send(b"x")  # dropped: usually done within the call
            if iteration % sample_every:
                continue
            peak_handles = max(peak_handles, open_handles() - base_handles)
            peak_pending = max(peak_pending, winsock_ov.pending_operations() - base_pending)
        left_handles = open_handles() - base_handles
        left_pending = winsock_ov.pending_operations() - base_pending
        winsock_ov.reap()
        return {"operations": operations, "peak_open_handles": peak_handles,
                "peak_pending_operations": peak_pending, "open_handles_at_end": left_handles,
                "pending_at_end": left_pending,
                "open_handles_after_reap": open_handles() - base_handles}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=10_000,
                        help="receives (and sends) dropped (default 10000)")
    parser.add_argument("--sample-every", type=int, default=1, metavar="N",
                        help="count the handles after every N-th iteration (default 1)")
    args = parser.parse_args(argv)
    if args.operations < 1 or args.sample_every < 1:
        parser.error("--operations and --sample-every must be 1 or more")
    print(json.dumps(measure(args.operations, args.sample_every), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
