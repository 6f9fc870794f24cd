"""Python address tuples to and from SOCKADDR structures.

AF_INET takes ``(host, port)``, AF_INET6 ``(host, port[, flowinfo[, scope_id]])``,
as the ``socket`` module does.  Hosts are numeric addresses or names resolved
with getaddrinfo; ports are 0..65535, flowinfo 0..0xFFFFF (the 20-bit flow label)
and scope_id 0..0xFFFFFFFF: an int out of range raises ValueError.
"""

from __future__ import annotations

import ctypes
import socket
from ctypes import sizeof
from typing import Any, Union

from ._checks import DWORD_MAX, check_int
from .raw import AF_INET, AF_INET6, SOCKADDR_IN, SOCKADDR_IN6, SOCKADDR_STORAGE

IPv4Address = tuple[str, int]  # (host, port)
IPv6Address = tuple[str, int, int, int]  # (host, port, flowinfo, scope_id)
Address = Union[IPv4Address, IPv6Address]  # what Windows reports: the full tuple
# What a call accepts: AF_INET6 may leave out flowinfo and scope_id.
AddressArg = Union[IPv4Address, tuple[str, int, int], IPv6Address]


def _packed_host(family: int, host: Any) -> bytes:
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if host == "":  # as the socket module: any address
        host = "0.0.0.0" if family == AF_INET else "::"
    python_family = socket.AF_INET if family == AF_INET else socket.AF_INET6
    try:
        return socket.inet_pton(python_family, host)
    except OSError:
        pass
    infos = socket.getaddrinfo(host, None, python_family)
    return socket.inet_pton(python_family, str(infos[0][4][0]))


def to_sockaddr(family: int, address: AddressArg) -> tuple[Any, int]:
    """The SOCKADDR_IN / SOCKADDR_IN6 for ``address``, and its length."""
    if not isinstance(address, tuple):
        raise TypeError(f"address must be a tuple, not {type(address).__name__}")
    if family == AF_INET:
        if len(address) != 2:
            raise TypeError("AF_INET address must be (host, port)")
        sin = SOCKADDR_IN()
        sin.sin_family = AF_INET
        sin.sin_port = socket.htons(check_int("port", address[1], 0, 0xFFFF))
        ctypes.memmove(ctypes.byref(sin.sin_addr), _packed_host(family, address[0]), 4)
        return sin, sizeof(sin)
    if family == AF_INET6:
        if not 2 <= len(address) <= 4:
            raise TypeError("AF_INET6 address must be (host, port[, flowinfo[, scope_id]])")
        host, port, flowinfo, scope_id = (*address, 0, 0)[:4]
        sin6 = SOCKADDR_IN6()
        sin6.sin6_family = AF_INET6
        sin6.sin6_port = socket.htons(check_int("port", port, 0, 0xFFFF))
        sin6.sin6_flowinfo = socket.htonl(check_int("flowinfo", flowinfo, 0, 0xFFFFF))
        sin6.sin6_scope_id = check_int("scope_id", scope_id, 0, DWORD_MAX)
        ctypes.memmove(ctypes.byref(sin6.sin6_addr), _packed_host(family, host), 16)
        return sin6, sizeof(sin6)
    raise ValueError(f"address family {family} is not supported (AF_INET, AF_INET6)")


def from_sockaddr(storage: Any) -> Address:
    """The Python tuple for a SOCKADDR_IN / SOCKADDR_IN6 held in ``storage``."""
    family = ctypes.cast(ctypes.byref(storage), ctypes.POINTER(ctypes.c_uint16)).contents.value
    if family == AF_INET:
        sin = SOCKADDR_IN.from_buffer_copy(bytes(storage)[:sizeof(SOCKADDR_IN)])
        host = socket.inet_ntop(socket.AF_INET, bytes(sin.sin_addr))
        return host, socket.ntohs(sin.sin_port)
    if family == AF_INET6:
        sin6 = SOCKADDR_IN6.from_buffer_copy(bytes(storage)[:sizeof(SOCKADDR_IN6)])
        host = socket.inet_ntop(socket.AF_INET6, bytes(sin6.sin6_addr))
        return host, socket.ntohs(sin6.sin6_port), socket.ntohl(sin6.sin6_flowinfo), \
            sin6.sin6_scope_id
    raise ValueError(f"address family {family} is not supported (AF_INET, AF_INET6)")


def new_storage() -> tuple[Any, Any]:
    """Room for a peer's address and its length, as WSARecvFrom/accept fill them."""
    storage = SOCKADDR_STORAGE()
    return storage, ctypes.c_int32(sizeof(storage))
