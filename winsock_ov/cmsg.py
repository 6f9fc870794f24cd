"""Control messages (ancillary data) of WSASendMsg and WSARecvMsg, as Python lists.

The shape is CPython's Unix ``socket.sendmsg`` / ``socket.recvmsg`` ancdata: a
list of ``(level, type, data)``, ``data`` the message's bytes.  ``pack`` lays
such a list out as the control buffer WSASendMsg reads (each message a
WSACMSGHDR, its data at ``WSA_CMSG_DATA``, padded to ``WSA_CMSG_SPACE``);
``unpack`` reads one back, walking it with ``WSA_CMSG_FIRSTHDR`` and
``WSA_CMSG_NXTHDR`` exactly as C does (``winsock_ov.raw``, whose arithmetic
tests/test_cmsg.py checks against mingw-w64's macros).

The messages that matter to datagram programs have builders and ``decode``:

* ``IP_PKTINFO`` / ``IPV6_PKTINFO`` (:func:`pktinfo`): received, the
  datagram's destination address and arrival interface; sent, the source
  address and interface to use;
* ``IP_TOS`` / ``IPV6_TCLASS`` (:func:`tos`, :func:`traffic_class`), the
  ECN bits alone (:func:`ecn`, ``IP_ECN`` / ``IPV6_ECN``, Windows 10 build
  20348 and later), the hop limit (:func:`hop_limit`, ``IP_TTL`` /
  ``IPV6_HOPLIMIT``): each one INT, as Windows delivers them.

Enable a kind of received message with ``setsockopt`` first (IP_PKTINFO,
IPV6_PKTINFO, IP_RECVTOS, IPV6_RECVTCLASS, IP_ECN, IP_HOPLIMIT, ... set to 1).
Pure Python over ctypes structures: usable and tested on any system.
"""

from __future__ import annotations

import ctypes
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from ._checks import DWORD_MAX, check_c_int, check_dword, check_int
from .raw import (
    AF_INET,
    AF_INET6,
    CHAR,
    IN6_PKTINFO,
    IN_PKTINFO,
    INT,
    IP_ECN,
    IP_HOPLIMIT,
    IP_PKTINFO,
    IP_TOS,
    IP_TTL,
    IPPROTO_IP,
    IPPROTO_IPV6,
    IPV6_ECN,
    IPV6_HOPLIMIT,
    IPV6_PKTINFO,
    IPV6_TCLASS,
    WSA_CMSG_FIRSTHDR,
    WSA_CMSG_LEN,
    WSA_CMSG_NXTHDR,
    WSA_CMSG_SPACE,
    WSACMSGHDR,
    WSAMSG,
)

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = [
    "ControlMessage",
    "PacketInfo",
    "decode",
    "ecn",
    "hop_limit",
    "length",
    "messages",
    "pack",
    "pktinfo",
    "space",
    "tos",
    "traffic_class",
    "unpack",
]

ControlMessage = tuple[int, int, bytes]  # (level, type, data), as socket.recvmsg's ancdata

_DATA_OFFSET = WSA_CMSG_LEN(0)  # where a message's data starts, from its header
# The most data one message can hold: its WSA_CMSG_SPACE must fit Control.len (a ULONG).
_MAX_DATA = (DWORD_MAX - WSA_CMSG_SPACE(0)) & ~(ctypes.alignment(WSACMSGHDR) - 1)
_INT_SIZE = ctypes.sizeof(INT)
# The kinds whose data is one INT, by (level, type).
_INT_KINDS = {
    (IPPROTO_IP, IP_TOS), (IPPROTO_IP, IP_TTL), (IPPROTO_IP, IP_HOPLIMIT), (IPPROTO_IP, IP_ECN),
    (IPPROTO_IPV6, IPV6_TCLASS), (IPPROTO_IPV6, IPV6_HOPLIMIT), (IPPROTO_IPV6, IPV6_ECN),
}


class PacketInfo(NamedTuple):
    """IP_PKTINFO / IPV6_PKTINFO: an address and an interface index."""

    address: str  #: the destination (received) or source (sent) address, numeric
    interface: int  #: the interface index (0 on send: let the system choose)


def space(length: int) -> int:
    """Bytes a control message with ``length`` bytes of data takes in a control
    buffer (``WSA_CMSG_SPACE``; ``socket.CMSG_SPACE`` on Unix): add these up
    for a receive's control buffer size."""
    return WSA_CMSG_SPACE(_data_length(length))


def length(length: int) -> int:
    """``cmsg_len`` of a control message with ``length`` bytes of data
    (``WSA_CMSG_LEN``; ``socket.CMSG_LEN`` on Unix)."""
    return WSA_CMSG_LEN(_data_length(length))


def _data_length(value: Any) -> int:
    return check_int("length", value, 0, _MAX_DATA)


def pack(ancdata: Iterable[tuple[int, int, Buffer]]) -> bytes:
    """The control buffer holding ``ancdata``'s messages, in order.

    Each item is ``(level, type, data)``: two ints (C INTs) and a bytes-like
    object.  TypeError or ValueError for anything else, before anything is built.
    """
    items = _checked_items(ancdata)
    out = bytearray(sum(WSA_CMSG_SPACE(len(data)) for _, _, data in items))
    offset = 0
    for level, kind, data in items:
        header = WSACMSGHDR(WSA_CMSG_LEN(len(data)), level, kind)
        out[offset:offset + ctypes.sizeof(header)] = bytes(header)
        out[offset + _DATA_OFFSET:offset + _DATA_OFFSET + len(data)] = data
        offset += WSA_CMSG_SPACE(len(data))
    return bytes(out)


def _checked_items(ancdata: Any) -> list[tuple[int, int, bytes]]:
    if isinstance(ancdata, (str, bytes, bytearray, memoryview)):
        raise TypeError(f"ancdata must be an iterable of (level, type, data), "
                        f"not {type(ancdata).__name__}")
    try:
        items = list(ancdata)
    except TypeError:
        raise TypeError(f"ancdata must be an iterable of (level, type, data), "
                        f"not {type(ancdata).__name__}") from None
    checked = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 3:
            raise TypeError(f"each ancillary data item must be a (level, type, data) tuple, "
                            f"not {item!r:.60}")
        level, kind, data = item
        checked.append((check_c_int("level", level), check_c_int("type", kind),
                        _bytes_of(data)))
    return checked


def _bytes_of(data: Any) -> bytes:
    if isinstance(data, str):
        raise TypeError("control message data must be bytes-like, not str")
    try:
        return memoryview(data).tobytes()
    except TypeError:
        raise TypeError(f"control message data must be bytes-like, "
                        f"not {type(data).__name__}") from None


def unpack(control: Buffer) -> list[ControlMessage]:
    """The messages of a control buffer (its first ``Control.len`` bytes), in order.

    A message whose data runs past the end of ``control`` (a truncated buffer:
    MSG_CTRUNC) comes with the part that is there.  A header whose ``cmsg_len``
    is smaller than a header raises ValueError.
    """
    data = _bytes_of(control)
    buffer = ctypes.create_string_buffer(data, len(data))
    msg = WSAMSG()
    msg.Control.len = len(data)
    msg.Control.buf = ctypes.cast(buffer, ctypes.POINTER(CHAR))
    return messages(msg)


def messages(msg: WSAMSG) -> list[ControlMessage]:
    """The messages in ``msg.Control`` of a WSAMSG, read where they lie: what
    WSARecvMsg wrote, ``Control.len`` bytes from ``Control.buf``."""
    if not isinstance(msg, WSAMSG):
        raise TypeError(f"expected a WSAMSG, not {type(msg).__name__}")
    found: list[ControlMessage] = []
    cmsg = WSA_CMSG_FIRSTHDR(msg)
    end = (ctypes.cast(msg.Control.buf, ctypes.c_void_p).value or 0) + msg.Control.len
    while cmsg:
        header = cmsg.contents
        if header.cmsg_len < _DATA_OFFSET:  # NXTHDR would not move on: C loops forever
            raise ValueError(f"malformed control data: cmsg_len {header.cmsg_len} is "
                             f"shorter than a header ({_DATA_OFFSET} bytes)")
        start = ctypes.addressof(header) + _DATA_OFFSET
        stop = min(ctypes.addressof(header) + header.cmsg_len, end)
        found.append((header.cmsg_level, header.cmsg_type,
                      ctypes.string_at(start, max(0, stop - start))))
        cmsg = WSA_CMSG_NXTHDR(msg, cmsg)
    return found


# --- the messages that matter ---------------------------------------------------------


def pktinfo(address: str, interface: int = 0) -> ControlMessage:
    """IP_PKTINFO (an IPv4 address) or IPV6_PKTINFO (an IPv6 address).

    To send: the source address and the interface index to send from (0: the
    system picks the interface).
    """
    interface = check_dword("interface", interface)
    family, packed = _packed_address(address)
    if family == AF_INET:
        info: Any = IN_PKTINFO()
        ctypes.memmove(ctypes.byref(info.ipi_addr), packed, len(packed))
        info.ipi_ifindex = interface
        return IPPROTO_IP, IP_PKTINFO, bytes(info)
    info = IN6_PKTINFO()
    ctypes.memmove(ctypes.byref(info.ipi6_addr), packed, len(packed))
    info.ipi6_ifindex = interface
    return IPPROTO_IPV6, IPV6_PKTINFO, bytes(info)


def _packed_address(address: Any) -> tuple[int, bytes]:
    if not isinstance(address, str):
        raise TypeError(f"address must be a str, not {type(address).__name__}")
    family = AF_INET6 if ":" in address else AF_INET
    python_family = socket.AF_INET6 if family == AF_INET6 else socket.AF_INET
    try:
        return family, socket.inet_pton(python_family, address)
    except OSError:
        raise ValueError(f"{address!r} is not a numeric IPv4 or IPv6 address") from None


def tos(value: int) -> ControlMessage:
    """IP_TOS: the IPv4 header's type-of-service byte (DSCP and ECN bits), 0..255."""
    return _int_message(IPPROTO_IP, IP_TOS, check_int("tos", value, 0, 0xFF))


def traffic_class(value: int) -> ControlMessage:
    """IPV6_TCLASS: the IPv6 header's traffic class (DSCP and ECN bits), 0..255."""
    return _int_message(IPPROTO_IPV6, IPV6_TCLASS, check_int("traffic_class", value, 0, 0xFF))


def ecn(value: int, family: int = AF_INET) -> ControlMessage:
    """IP_ECN / IPV6_ECN: the two ECN bits alone, 0..3 (``family``: raw.AF_INET
    or raw.AF_INET6)."""
    value = check_int("ecn", value, 0, 3)
    if _checked_family(family) == AF_INET:
        return _int_message(IPPROTO_IP, IP_ECN, value)
    return _int_message(IPPROTO_IPV6, IPV6_ECN, value)


def hop_limit(value: int, family: int = AF_INET) -> ControlMessage:
    """IP_TTL / IPV6_HOPLIMIT: the hop limit (TTL), 0..255."""
    value = check_int("hop_limit", value, 0, 0xFF)
    if _checked_family(family) == AF_INET:
        return _int_message(IPPROTO_IP, IP_TTL, value)
    return _int_message(IPPROTO_IPV6, IPV6_HOPLIMIT, value)


def _checked_family(family: Any) -> int:
    checked = check_c_int("family", family)
    if checked not in (AF_INET, AF_INET6):
        raise ValueError(f"family must be AF_INET ({AF_INET}) or AF_INET6 ({AF_INET6}), "
                         f"not {checked}")
    return checked


def _int_message(level: int, kind: int, value: int) -> ControlMessage:
    return level, kind, bytes(INT(value))


def decode(message: ControlMessage) -> PacketInfo | int:
    """What a message of a kind above carries: a PacketInfo, or the INT.

    Also reads IP_HOPLIMIT (Windows' received TTL).  The one-byte IP_TOS some
    stacks deliver is read too.  ValueError for another kind, or for data of
    the wrong size.
    """
    if not isinstance(message, tuple) or len(message) != 3:
        raise TypeError(f"expected a (level, type, data) tuple, not {message!r:.60}")
    level, kind, data = message
    data = _bytes_of(data)
    if (level, kind) == (IPPROTO_IP, IP_PKTINFO):
        info = _structure(IN_PKTINFO, data, "IP_PKTINFO")
        return PacketInfo(socket.inet_ntop(socket.AF_INET, bytes(info.ipi_addr)),
                          int(info.ipi_ifindex))
    if (level, kind) == (IPPROTO_IPV6, IPV6_PKTINFO):
        info6 = _structure(IN6_PKTINFO, data, "IPV6_PKTINFO")
        return PacketInfo(socket.inet_ntop(socket.AF_INET6, bytes(info6.ipi6_addr)),
                          int(info6.ipi6_ifindex))
    if (level, kind) in _INT_KINDS:
        if len(data) == _INT_SIZE:
            return int(INT.from_buffer_copy(data).value)
        if len(data) == 1 and (level, kind) == (IPPROTO_IP, IP_TOS):
            return data[0]
        raise ValueError(f"control message ({level}, {kind}) holds {len(data)} bytes, "
                         f"not an INT ({_INT_SIZE})")
    raise ValueError(f"no decoder for control message level {level}, type {kind}")


def _structure(cls: Any, data: bytes, name: str) -> Any:
    if len(data) != ctypes.sizeof(cls):
        raise ValueError(f"{name} holds {len(data)} bytes, not {ctypes.sizeof(cls)}")
    return cls.from_buffer_copy(data)
