"""winsock_ov: Winsock2 overlapped I/O in pure Python, over ctypes.

Two layers:

* ``winsock_ov.raw``: the Winsock2 and Win32 functions, structures and
  constants with MSDN's names, for code that reads like C.
* this package: sockets whose overlapped operations are objects that own
  their memory until Windows is done with it, notified by an Event or by a
  completion routine run during an alertable wait.
"""

from ._addresses import Address, IPv4Address, IPv6Address
from ._registry import pending_operations, reap
from .errors import OperationAbortedError, RoutineErrors, ThreadExitedError
from .event import Event
from .extensions import AcceptOperation, ConnectOperation, DisconnectOperation
from .iocp import CompletionPort, Packet, Posted, skip_on_success_supported
from .messages import RecvMsgOperation, SendMsgOperation
from .operations import (
    Notify,
    Operation,
    RecvFromOperation,
    RecvOperation,
    SendOperation,
    SendToOperation,
)
from .outcome import Outcome
from .poll import PollEvents, PollOperation
from .sockets import Socket
from .waits import (
    WaitResult,
    WaitStatus,
    sleep_ex,
    wait_for_multiple_events,
    wait_for_multiple_objects_ex,
    wait_for_single_object_ex,
)

__version__ = "0.1.0"

__all__ = [
    "AcceptOperation",
    "Address",
    "CompletionPort",
    "ConnectOperation",
    "DisconnectOperation",
    "Event",
    "IPv4Address",
    "IPv6Address",
    "Notify",
    "Operation",
    "OperationAbortedError",
    "Outcome",
    "Packet",
    "PollEvents",
    "PollOperation",
    "Posted",
    "RecvFromOperation",
    "RecvMsgOperation",
    "RecvOperation",
    "RoutineErrors",
    "SendMsgOperation",
    "SendOperation",
    "SendToOperation",
    "Socket",
    "ThreadExitedError",
    "WaitResult",
    "WaitStatus",
    "pending_operations",
    "reap",
    "skip_on_success_supported",
    "sleep_ex",
    "wait_for_multiple_events",
    "wait_for_multiple_objects_ex",
    "wait_for_single_object_ex",
]
