"""Win32 and Winsock2 types and structures, spelled as MSDN spells them.

Fixed-width integers everywhere: DWORD, ULONG and LONG are 4 bytes on Windows
(LLP64) but ``c_ulong``/``c_long`` are 8 bytes on 64-bit Linux, so they are never
used here.  HANDLE, SOCKET and ULONG_PTR are pointer sized, which keeps every
layout right on 32-bit Windows by construction.  Layouts are checked against
the mingw-w64 headers by ``tests/test_abi.py``.

Every structure is written out field by field as the header declares it:
alike in shape on purpose, each one checked against the mingw-w64 headers
(tests/test_abi.py), never generated from a table.
"""

from __future__ import annotations

import ctypes
import sys
from ctypes import (
    POINTER,
    Structure,
    Union,
    c_char,
    c_char_p,
    c_int8,
    c_int16,
    c_int32,
    c_int64,
    c_size_t,
    c_ssize_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
    c_wchar,
    c_wchar_p,
)
from typing import Any

if sys.platform == "win32":
    _FUNCTYPE = ctypes.WINFUNCTYPE  # stdcall on 32-bit; the only convention on x64
else:  # prototypes stay declarable (never callable) elsewhere
    _FUNCTYPE = ctypes.CFUNCTYPE

# --- integer and handle types -----------------------------------------------

BYTE = UCHAR = u_char = c_uint8
CHAR = c_char
CCHAR = c_int8
WORD = USHORT = u_short = c_uint16
SHORT = c_int16
DWORD = ULONG = UINT = u_long = u_int = c_uint32
LONG = INT = c_int32
BOOL = c_int32
LONGLONG = INT64 = c_int64
ULONGLONG = DWORD64 = UINT64 = c_uint64
# wchar_t is 2 bytes on Windows but 4 on Linux: keep layouts Windows-sized everywhere.
WCHAR = c_wchar if ctypes.sizeof(c_wchar) == 2 else c_uint16
ULONG_PTR = UINT_PTR = DWORD_PTR = SIZE_T = c_size_t
LONG_PTR = INT_PTR = SSIZE_T = c_ssize_t
ADDRESS_FAMILY = c_uint16
NTSTATUS = c_int32
GROUP = c_uint32
socklen_t = c_int32

PVOID = LPVOID = c_void_p
LPCVOID = c_void_p
HANDLE = c_void_p
HMODULE = c_void_p
LPSTR = PSTR = c_char_p
LPCSTR = PCSTR = c_char_p
LPWSTR = PWSTR = c_wchar_p
LPCWSTR = PCWSTR = c_wchar_p
SOCKET = UINT_PTR


class WSAEVENT(c_void_p):
    """An event handle for Winsock.

    A subclass of c_void_p (unlike HANDLE) so that ``WSACreateEvent()`` returns an
    object and ``byref(evObj)`` works as ``&evObj`` does in C.
    """


PAPCFUNC = _FUNCTYPE(None, ULONG_PTR)

LPBOOL = POINTER(BOOL)
LPBYTE = POINTER(BYTE)
LPWORD = POINTER(WORD)
LPDWORD = PDWORD = POINTER(DWORD)
LPINT = PINT = POINTER(INT)
PULONG = POINTER(ULONG)
PULONG_PTR = POINTER(ULONG_PTR)
LPHANDLE = PHANDLE = POINTER(HANDLE)
LPWSAEVENT = POINTER(WSAEVENT)

# --- structures ---------------------------------------------------------------


class GUID(Structure):
    _fields_ = [
        ("Data1", ULONG),
        ("Data2", USHORT),
        ("Data3", USHORT),
        ("Data4", UCHAR * 8),
    ]

    def __repr__(self) -> str:
        tail = bytes(self.Data4).hex()
        return (f"GUID('{self.Data1:08x}-{self.Data2:04x}-{self.Data3:04x}-"
                f"{tail[:4]}-{tail[4:]}')")


LPGUID = POINTER(GUID)

WSADESCRIPTION_LEN = 256
WSASYS_STATUS_LEN = 128


class WSADATA(Structure):
    # The SDK orders the fields differently on 64-bit (winsock2.h, _WIN64).
    if ctypes.sizeof(c_void_p) == 8:
        _fields_ = [
            ("wVersion", WORD),
            ("wHighVersion", WORD),
            ("iMaxSockets", USHORT),
            ("iMaxUdpDg", USHORT),
            ("lpVendorInfo", c_char_p),
            ("szDescription", CHAR * (WSADESCRIPTION_LEN + 1)),
            ("szSystemStatus", CHAR * (WSASYS_STATUS_LEN + 1)),
        ]
    else:
        _fields_ = [
            ("wVersion", WORD),
            ("wHighVersion", WORD),
            ("szDescription", CHAR * (WSADESCRIPTION_LEN + 1)),
            ("szSystemStatus", CHAR * (WSASYS_STATUS_LEN + 1)),
            ("iMaxSockets", USHORT),
            ("iMaxUdpDg", USHORT),
            ("lpVendorInfo", c_char_p),
        ]


LPWSADATA = POINTER(WSADATA)


class WSABUF(Structure):
    _fields_ = [
        ("len", ULONG),
        ("buf", POINTER(CHAR)),  # CHAR FAR *buf: ``dataBuf.buf = msg`` works as in C
    ]


LPWSABUF = POINTER(WSABUF)


class _OVERLAPPED_OFFSETS(Structure):
    _fields_ = [("Offset", DWORD), ("OffsetHigh", DWORD)]


class _OVERLAPPED_UNION(Union):
    _anonymous_ = ("DUMMYSTRUCTNAME",)
    _fields_ = [("DUMMYSTRUCTNAME", _OVERLAPPED_OFFSETS), ("Pointer", PVOID)]


class OVERLAPPED(Structure):
    """The I/O request block the kernel writes to until the operation completes.

    ``Internal`` holds the NTSTATUS (STATUS_PENDING while in flight) and
    ``InternalHigh`` the bytes transferred.  Valid until the operation completes;
    unique to one operation at a time.
    """

    _anonymous_ = ("DUMMYUNIONNAME",)
    _fields_ = [
        ("Internal", ULONG_PTR),
        ("InternalHigh", ULONG_PTR),
        ("DUMMYUNIONNAME", _OVERLAPPED_UNION),
        ("hEvent", HANDLE),
    ]


# winsock2.h: #define WSAOVERLAPPED OVERLAPPED
WSAOVERLAPPED = OVERLAPPED
LPOVERLAPPED = LPWSAOVERLAPPED = POINTER(OVERLAPPED)


class OVERLAPPED_ENTRY(Structure):
    _fields_ = [
        ("lpCompletionKey", ULONG_PTR),
        ("lpOverlapped", LPOVERLAPPED),
        ("Internal", ULONG_PTR),
        ("dwNumberOfBytesTransferred", DWORD),
    ]


LPOVERLAPPED_ENTRY = POINTER(OVERLAPPED_ENTRY)


class SOCKADDR(Structure):
    _fields_ = [("sa_family", ADDRESS_FAMILY), ("sa_data", CHAR * 14)]


PSOCKADDR = LPSOCKADDR = POINTER(SOCKADDR)


class _S_UN_B(Structure):
    _fields_ = [("s_b1", UCHAR), ("s_b2", UCHAR), ("s_b3", UCHAR), ("s_b4", UCHAR)]


class _S_UN_W(Structure):
    _fields_ = [("s_w1", USHORT), ("s_w2", USHORT)]


class _S_UN(Union):
    _fields_ = [("S_un_b", _S_UN_B), ("S_un_w", _S_UN_W), ("S_addr", ULONG)]


class IN_ADDR(Structure):
    """IPv4 address; ``addr.S_un.S_addr`` is the 32-bit value in network order."""

    _fields_ = [("S_un", _S_UN)]

    @property
    def s_addr(self) -> int:  # inaddr.h: #define s_addr S_un.S_addr
        return int(self.S_un.S_addr)

    @s_addr.setter
    def s_addr(self, value: int) -> None:
        self.S_un.S_addr = value


class SOCKADDR_IN(Structure):
    _fields_ = [
        ("sin_family", ADDRESS_FAMILY),
        ("sin_port", USHORT),
        ("sin_addr", IN_ADDR),
        ("sin_zero", CHAR * 8),
    ]


PSOCKADDR_IN = LPSOCKADDR_IN = POINTER(SOCKADDR_IN)


class _IN6_ADDR_U(Union):
    _fields_ = [("Byte", UCHAR * 16), ("Word", USHORT * 8)]


class IN6_ADDR(Structure):
    _fields_ = [("u", _IN6_ADDR_U)]


class SOCKADDR_IN6(Structure):
    _fields_ = [
        ("sin6_family", ADDRESS_FAMILY),
        ("sin6_port", USHORT),
        ("sin6_flowinfo", ULONG),
        ("sin6_addr", IN6_ADDR),
        ("sin6_scope_id", ULONG),
    ]


PSOCKADDR_IN6 = LPSOCKADDR_IN6 = POINTER(SOCKADDR_IN6)


class SOCKADDR_STORAGE(Structure):
    """Room for any socket address (128 bytes, 8-byte aligned)."""

    _fields_ = [
        ("ss_family", ADDRESS_FAMILY),
        ("__ss_pad1", CHAR * 6),
        ("__ss_align", LONGLONG),
        ("__ss_pad2", CHAR * 112),
    ]


PSOCKADDR_STORAGE = LPSOCKADDR_STORAGE = POINTER(SOCKADDR_STORAGE)


class ADDRINFOA(Structure):
    pass


ADDRINFOA._fields_ = [
    ("ai_flags", INT),
    ("ai_family", INT),
    ("ai_socktype", INT),
    ("ai_protocol", INT),
    ("ai_addrlen", SIZE_T),
    ("ai_canonname", c_char_p),
    ("ai_addr", POINTER(SOCKADDR)),
    ("ai_next", POINTER(ADDRINFOA)),
]
PADDRINFOA = POINTER(ADDRINFOA)


class ADDRINFOW(Structure):
    pass


ADDRINFOW._fields_ = [
    ("ai_flags", INT),
    ("ai_family", INT),
    ("ai_socktype", INT),
    ("ai_protocol", INT),
    ("ai_addrlen", SIZE_T),
    ("ai_canonname", c_wchar_p),
    ("ai_addr", POINTER(SOCKADDR)),
    ("ai_next", POINTER(ADDRINFOW)),
]
PADDRINFOW = POINTER(ADDRINFOW)

FD_MAX_EVENTS = 10


class WSANETWORKEVENTS(Structure):
    _fields_ = [("lNetworkEvents", LONG), ("iErrorCode", INT * FD_MAX_EVENTS)]


LPWSANETWORKEVENTS = POINTER(WSANETWORKEVENTS)


class LINGER(Structure):
    _fields_ = [("l_onoff", USHORT), ("l_linger", USHORT)]


MAX_PROTOCOL_CHAIN = 7
WSAPROTOCOL_LEN = 255


class WSAPROTOCOLCHAIN(Structure):
    _fields_ = [("ChainLen", INT), ("ChainEntries", DWORD * MAX_PROTOCOL_CHAIN)]


def _protocol_info_fields(text: Any) -> list[Any]:
    return [
        ("dwServiceFlags1", DWORD),
        ("dwServiceFlags2", DWORD),
        ("dwServiceFlags3", DWORD),
        ("dwServiceFlags4", DWORD),
        ("dwProviderFlags", DWORD),
        ("ProviderId", GUID),
        ("dwCatalogEntryId", DWORD),
        ("ProtocolChain", WSAPROTOCOLCHAIN),
        ("iVersion", INT),
        ("iAddressFamily", INT),
        ("iMaxSockAddr", INT),
        ("iMinSockAddr", INT),
        ("iSocketType", INT),
        ("iProtocol", INT),
        ("iProtocolMaxOffset", INT),
        ("iNetworkByteOrder", INT),
        ("iSecurityScheme", INT),
        ("dwMessageSize", DWORD),
        ("dwProviderReserved", DWORD),
        ("szProtocol", text * (WSAPROTOCOL_LEN + 1)),
    ]


class WSAPROTOCOL_INFOA(Structure):
    _fields_ = _protocol_info_fields(CHAR)


class WSAPROTOCOL_INFOW(Structure):
    _fields_ = _protocol_info_fields(WCHAR)


LPWSAPROTOCOL_INFOA = POINTER(WSAPROTOCOL_INFOA)
LPWSAPROTOCOL_INFOW = POINTER(WSAPROTOCOL_INFOW)


class TRANSMIT_FILE_BUFFERS(Structure):
    _fields_ = [
        ("Head", LPVOID),
        ("HeadLength", DWORD),
        ("Tail", LPVOID),
        ("TailLength", DWORD),
    ]


LPTRANSMIT_FILE_BUFFERS = POINTER(TRANSMIT_FILE_BUFFERS)


class SECURITY_ATTRIBUTES(Structure):
    _fields_ = [
        ("nLength", DWORD),
        ("lpSecurityDescriptor", LPVOID),
        ("bInheritHandle", BOOL),
    ]


LPSECURITY_ATTRIBUTES = POINTER(SECURITY_ATTRIBUTES)

# --- messages with control data (WSASendMsg, WSARecvMsg) ----------------------


class WSAMSG(Structure):
    """The message of WSASendMsg and WSARecvMsg: address, data buffers, control data.

    ``Control`` points at the WSACMSGHDR-framed control messages; WSARecvMsg
    sets ``Control.len`` to what it wrote and ``dwFlags`` to MSG_TRUNC,
    MSG_CTRUNC, MSG_BCAST, MSG_MCAST.  Every pointer in it must stay valid
    until the operation completes.
    """

    _fields_ = [
        ("name", LPSOCKADDR),
        ("namelen", INT),
        ("lpBuffers", LPWSABUF),
        ("dwBufferCount", DWORD),
        ("Control", WSABUF),
        ("dwFlags", DWORD),
    ]


PWSAMSG = LPWSAMSG = POINTER(WSAMSG)


class WSACMSGHDR(Structure):
    """The header of one control message; its data follows at WSA_CMSG_DATA."""

    _fields_ = [
        ("cmsg_len", SIZE_T),  # header and data, without the trailing padding
        ("cmsg_level", INT),
        ("cmsg_type", INT),
    ]


PWSACMSGHDR = LPWSACMSGHDR = POINTER(WSACMSGHDR)


class IN_PKTINFO(Structure):
    """IP_PKTINFO's data: a datagram's destination address and arrival interface."""

    _fields_ = [("ipi_addr", IN_ADDR), ("ipi_ifindex", UINT)]


class IN6_PKTINFO(Structure):
    """IPV6_PKTINFO's data: a datagram's destination address and arrival interface."""

    _fields_ = [("ipi6_addr", IN6_ADDR), ("ipi6_ifindex", UINT)]


# --- control-message arithmetic (mswsock.h's WSA_CMSG_* macros) -----------------
# The macros as functions, by their names.  The alignments are the SDK's:
# TYPE_ALIGNMENT(WSACMSGHDR) for headers, MAX_NATURAL_ALIGNMENT (8 bytes on
# 64-bit Windows, 4 on 32-bit) for data.  tools/abi_probe.c prints what the
# headers' macros give for many inputs; tests/test_cmsg.py compares.

_CMSGHDR_ALIGNMENT = ctypes.alignment(WSACMSGHDR)
_MAX_NATURAL_ALIGNMENT = 8 if ctypes.sizeof(c_void_p) == 8 else 4


def WSA_CMSGHDR_ALIGN(length: int) -> int:
    """``length`` rounded up to a header's alignment."""
    return (length + _CMSGHDR_ALIGNMENT - 1) & ~(_CMSGHDR_ALIGNMENT - 1)


def WSA_CMSGDATA_ALIGN(length: int) -> int:
    """``length`` rounded up to the data's alignment (MAX_NATURAL_ALIGNMENT)."""
    return (length + _MAX_NATURAL_ALIGNMENT - 1) & ~(_MAX_NATURAL_ALIGNMENT - 1)


def WSA_CMSG_SPACE(length: int) -> int:
    """Bytes one control message with ``length`` bytes of data takes, padding included."""
    return WSA_CMSGDATA_ALIGN(ctypes.sizeof(WSACMSGHDR) + WSA_CMSGHDR_ALIGN(length))


def WSA_CMSG_LEN(length: int) -> int:
    """``cmsg_len`` of a control message with ``length`` bytes of data."""
    return WSA_CMSGDATA_ALIGN(ctypes.sizeof(WSACMSGHDR)) + length


def _message_of(msg: Any) -> Any:
    """A WSAMSG from a WSAMSG, a pointer to one or ``byref(msg)``."""
    if isinstance(msg, WSAMSG):
        return msg
    if isinstance(msg, LPWSAMSG):
        return msg.contents
    return getattr(msg, "_obj", msg)  # byref(msg): the object it refers to


def WSA_CMSG_FIRSTHDR(msg: Any) -> Any:
    """The first header of ``msg.Control`` (an LPWSACMSGHDR), or None if it has no room."""
    message = _message_of(msg)
    if message.Control.len < ctypes.sizeof(WSACMSGHDR):
        return None
    return ctypes.cast(message.Control.buf, LPWSACMSGHDR)


def WSA_CMSG_NXTHDR(msg: Any, cmsg: Any) -> Any:
    """The header after ``cmsg`` (the first when ``cmsg`` is None or NULL), or None
    when the next header would end past ``msg.Control``."""
    if not cmsg:
        return WSA_CMSG_FIRSTHDR(msg)
    message = _message_of(msg)
    here = ctypes.addressof(cmsg.contents)
    end = ctypes.cast(message.Control.buf, c_void_p).value + message.Control.len
    following = here + WSA_CMSGHDR_ALIGN(cmsg.contents.cmsg_len)
    if following + ctypes.sizeof(WSACMSGHDR) > end:
        return None
    return ctypes.cast(following, LPWSACMSGHDR)


def WSA_CMSG_DATA(cmsg: Any) -> Any:
    """A pointer (``POINTER(u_char)``) to the data of the control message ``cmsg``."""
    here = ctypes.addressof(cmsg.contents)
    return ctypes.cast(here + WSA_CMSGDATA_ALIGN(ctypes.sizeof(WSACMSGHDR)), POINTER(u_char))

# --- callback and extension-function types ----------------------------------

# void CALLBACK CompletionROUTINE(DWORD dwError, DWORD cbTransferred,
#                                 LPWSAOVERLAPPED lpOverlapped, DWORD dwFlags)
LPWSAOVERLAPPED_COMPLETION_ROUTINE = _FUNCTYPE(None, DWORD, DWORD, LPWSAOVERLAPPED, DWORD)

# WAITORTIMERCALLBACK(PVOID lpParameter, BOOLEAN TimerOrWaitFired)
WAITORTIMERCALLBACK = _FUNCTYPE(None, PVOID, c_uint8)

LPFN_ACCEPTEX = _FUNCTYPE(
    BOOL,
    SOCKET,  # sListenSocket
    SOCKET,  # sAcceptSocket
    PVOID,  # lpOutputBuffer
    DWORD,  # dwReceiveDataLength
    DWORD,  # dwLocalAddressLength
    DWORD,  # dwRemoteAddressLength
    LPDWORD,  # lpdwBytesReceived
    LPOVERLAPPED,
    use_last_error=True,
)
LPFN_CONNECTEX = _FUNCTYPE(
    BOOL,
    SOCKET,  # s
    c_void_p,  # const struct sockaddr *name
    INT,  # namelen
    PVOID,  # lpSendBuffer
    DWORD,  # dwSendDataLength
    LPDWORD,  # lpdwBytesSent
    LPOVERLAPPED,
    use_last_error=True,
)
LPFN_GETACCEPTEXSOCKADDRS = _FUNCTYPE(
    None,
    PVOID,  # lpOutputBuffer
    DWORD,  # dwReceiveDataLength
    DWORD,  # dwLocalAddressLength
    DWORD,  # dwRemoteAddressLength
    POINTER(LPSOCKADDR),  # LocalSockaddr
    LPINT,  # LocalSockaddrLength
    POINTER(LPSOCKADDR),  # RemoteSockaddr
    LPINT,  # RemoteSockaddrLength
)
LPFN_DISCONNECTEX = _FUNCTYPE(
    BOOL,
    SOCKET,  # s
    LPOVERLAPPED,
    DWORD,  # dwFlags
    DWORD,  # dwReserved
    use_last_error=True,
)
# INT WSARecvMsg(SOCKET s, LPWSAMSG lpMsg, LPDWORD lpdwNumberOfBytesRecvd,
#                LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE ...)
LPFN_WSARECVMSG = _FUNCTYPE(
    INT,
    SOCKET,  # s
    LPWSAMSG,  # lpMsg
    LPDWORD,  # lpdwNumberOfBytesRecvd
    LPWSAOVERLAPPED,
    c_void_p,  # lpCompletionRoutine: an LPWSAOVERLAPPED_COMPLETION_ROUTINE, or None (NULL)
    use_last_error=True,
)
LPFN_WSASENDMSG = _FUNCTYPE(
    INT,
    SOCKET,  # s
    LPWSAMSG,  # lpMsg
    DWORD,  # dwFlags
    LPDWORD,  # lpNumberOfBytesSent
    LPWSAOVERLAPPED,
    c_void_p,  # lpCompletionRoutine: an LPWSAOVERLAPPED_COMPLETION_ROUTINE, or None (NULL)
    use_last_error=True,
)
LPFN_TRANSMITFILE = _FUNCTYPE(
    BOOL,
    SOCKET,  # hSocket
    HANDLE,  # hFile
    DWORD,  # nNumberOfBytesToWrite
    DWORD,  # nNumberOfBytesPerSend
    LPOVERLAPPED,
    LPTRANSMIT_FILE_BUFFERS,
    DWORD,  # dwReserved (dwFlags)
    use_last_error=True,
)

# Repeated, on purpose, in winsock_ov.raw's own __all__ (written out there for type
# checkers; tests/test_raw_all.py keeps the two equal).
__all__ = [
    "ADDRESS_FAMILY", "ADDRINFOA", "ADDRINFOW", "BOOL", "BYTE", "CCHAR", "CHAR", "DWORD",
    "DWORD64", "DWORD_PTR", "FD_MAX_EVENTS", "GROUP", "GUID", "HANDLE", "HMODULE", "IN6_ADDR",
    "IN6_PKTINFO", "INT", "INT64", "INT_PTR", "IN_ADDR", "IN_PKTINFO", "LINGER", "LONG",
    "LONGLONG", "LONG_PTR", "LPBOOL", "LPBYTE", "LPCSTR", "LPCVOID", "LPCWSTR", "LPDWORD",
    "LPFN_ACCEPTEX", "LPFN_CONNECTEX", "LPFN_DISCONNECTEX", "LPFN_GETACCEPTEXSOCKADDRS",
    "LPFN_TRANSMITFILE", "LPFN_WSARECVMSG", "LPFN_WSASENDMSG", "LPGUID", "LPHANDLE", "LPINT",
    "LPOVERLAPPED", "LPOVERLAPPED_ENTRY", "LPSECURITY_ATTRIBUTES", "LPSOCKADDR", "LPSOCKADDR_IN",
    "LPSOCKADDR_IN6", "LPSOCKADDR_STORAGE", "LPSTR", "LPTRANSMIT_FILE_BUFFERS", "LPVOID", "LPWORD",
    "LPWSABUF", "LPWSACMSGHDR", "LPWSADATA", "LPWSAEVENT", "LPWSAMSG", "LPWSANETWORKEVENTS",
    "LPWSAOVERLAPPED", "LPWSAOVERLAPPED_COMPLETION_ROUTINE", "LPWSAPROTOCOL_INFOA",
    "LPWSAPROTOCOL_INFOW", "LPWSTR", "MAX_PROTOCOL_CHAIN", "NTSTATUS", "OVERLAPPED",
    "OVERLAPPED_ENTRY", "PADDRINFOA", "PADDRINFOW", "PAPCFUNC", "PCSTR", "PCWSTR", "PDWORD",
    "PHANDLE", "PINT", "PSOCKADDR", "PSOCKADDR_IN", "PSOCKADDR_IN6", "PSOCKADDR_STORAGE", "PSTR",
    "PULONG", "PULONG_PTR", "PVOID", "PWSACMSGHDR", "PWSAMSG", "PWSTR", "SECURITY_ATTRIBUTES",
    "SHORT", "SIZE_T", "SOCKADDR", "SOCKADDR_IN", "SOCKADDR_IN6", "SOCKADDR_STORAGE", "SOCKET",
    "SSIZE_T", "TRANSMIT_FILE_BUFFERS", "UCHAR", "UINT", "UINT64", "UINT_PTR", "ULONG",
    "ULONGLONG", "ULONG_PTR", "USHORT", "WAITORTIMERCALLBACK", "WCHAR", "WORD", "WSABUF",
    "WSACMSGHDR", "WSADATA", "WSADESCRIPTION_LEN", "WSAEVENT", "WSAMSG", "WSANETWORKEVENTS",
    "WSAOVERLAPPED", "WSAPROTOCOLCHAIN", "WSAPROTOCOL_INFOA", "WSAPROTOCOL_INFOW",
    "WSAPROTOCOL_LEN", "WSASYS_STATUS_LEN", "WSA_CMSGDATA_ALIGN", "WSA_CMSGHDR_ALIGN",
    "WSA_CMSG_DATA", "WSA_CMSG_FIRSTHDR", "WSA_CMSG_LEN", "WSA_CMSG_NXTHDR", "WSA_CMSG_SPACE",
    "socklen_t", "u_char", "u_int", "u_long", "u_short",
]
