"""ws2_32.dll: the Winsock2 functions, declared as winsock2.h / ws2tcpip.h declare them.

Return conventions (see ``_loader``): calls returning SOCKET_ERROR or
INVALID_SOCKET raise OSError with the Winsock code as ``winerror``; the
overlapped calls (WSASend, WSARecv, WSASendTo, WSARecvFrom, WSAIoctl) return
SOCKET_ERROR instead of raising when the code is WSA_IO_PENDING: the operation
started and will complete later.

Each function is declared on its own, alike in shape on purpose (see ``_loader``).
"""

from __future__ import annotations

from ctypes import POINTER, byref, c_void_p, sizeof
from typing import Any

from . import _loader
from ._loader import (
    ANY_CTYPES,
    check_bool,
    check_inet_pton,
    check_invalid_socket,
    check_null,
    check_overlapped_result,
    check_returned_code,
    check_socket_error,
    check_socket_error_pending,
    check_wait,
    function_factory,
    nullable,
    pointer_to,
)
from .constants import SIO_GET_EXTENSION_FUNCTION_POINTER, WSAEOPNOTSUPP
from .types import (
    ADDRINFOA,
    ADDRINFOW,
    BOOL,
    DWORD,
    GROUP,
    GUID,
    INT,
    LONG,
    LPDWORD,
    LPINT,
    LPWSABUF,
    LPWSADATA,
    LPWSAMSG,
    LPWSANETWORKEVENTS,
    LPWSAOVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    LPWSAPROTOCOL_INFOA,
    LPWSAPROTOCOL_INFOW,
    LPWSTR,
    PADDRINFOA,
    PADDRINFOW,
    PCSTR,
    PCWSTR,
    PSTR,
    PVOID,
    SIZE_T,
    SOCKADDR,
    SOCKADDR_IN,
    SOCKADDR_IN6,
    SOCKADDR_STORAGE,
    SOCKET,
    WORD,
    WSAEVENT,
    u_long,
    u_short,
)

# const struct sockaddr *name: the address of any sockaddr structure, as C casts.
LPSOCKADDR_ANY = pointer_to("LPSOCKADDR_ANY", SOCKADDR, SOCKADDR_IN, SOCKADDR_IN6,
                            SOCKADDR_STORAGE)
# const char *optval, LPVOID lpvInBuffer, const void *pAddr: bytes, or the address
# of any ctypes object; out-parameters take only the latter.
LPCVOID_ANY = pointer_to("LPCVOID_ANY", *ANY_CTYPES, accepts_bytes=True)
LPVOID_ANY = pointer_to("LPVOID_ANY", *ANY_CTYPES)
LPADDRINFOA_ANY = pointer_to("LPADDRINFOA_ANY", ADDRINFOA)
LPADDRINFOW_ANY = pointer_to("LPADDRINFOW_ANY", ADDRINFOW)
LPWSAOVERLAPPED_COMPLETION_ROUTINE_OR_NULL = nullable(LPWSAOVERLAPPED_COMPLETION_ROUTINE)


def _ws2(name: str, restype: Any, argtypes: list[Any], errcheck: Any = None, *,
         params: str) -> Any:
    return function_factory("ws2_32", name, restype, argtypes, errcheck, params=params)


# --- start-up and errors ------------------------------------------------------------
WSAStartup = _ws2("WSAStartup", INT, [WORD, LPWSADATA], check_returned_code,
                  params="wVersionRequested lpWSAData")
WSACleanup = _ws2("WSACleanup", INT, [], check_socket_error, params="")
WSAGetLastError = _ws2("WSAGetLastError", INT, [], params="")
WSASetLastError = _ws2("WSASetLastError", None, [INT], params="iError")

# --- sockets ------------------------------------------------------------------------
WSASocketW = _ws2("WSASocketW", SOCKET, [
    INT,  # af
    INT,  # type
    INT,  # protocol
    LPWSAPROTOCOL_INFOW,
    GROUP,  # g
    DWORD,  # dwFlags
], check_invalid_socket, params="af type protocol lpProtocolInfo g dwFlags")
WSASocketA = _ws2("WSASocketA", SOCKET,
                  [INT, INT, INT, LPWSAPROTOCOL_INFOA, GROUP, DWORD], check_invalid_socket,
                  params="af type protocol lpProtocolInfo g dwFlags")
WSASocket = WSASocketW  # winsock2.h: #define WSASocket WSASocketW (UNICODE)
socket = _ws2("socket", SOCKET, [INT, INT, INT], check_invalid_socket, params="af type protocol")
bind = _ws2("bind", INT, [SOCKET, LPSOCKADDR_ANY, INT], check_socket_error, params="s name namelen")
listen = _ws2("listen", INT, [SOCKET, INT], check_socket_error, params="s backlog")
accept = _ws2("accept", SOCKET, [SOCKET, LPSOCKADDR_ANY, LPINT], check_invalid_socket,
              params="s addr addrlen")
connect = _ws2("connect", INT, [SOCKET, LPSOCKADDR_ANY, INT], check_socket_error,
               params="s name namelen")
WSAConnect = _ws2("WSAConnect", INT, [
    SOCKET,
    LPSOCKADDR_ANY,  # name
    INT,  # namelen
    LPWSABUF,  # lpCallerData
    LPWSABUF,  # lpCalleeData
    c_void_p,  # LPQOS lpSQOS
    c_void_p,  # LPQOS lpGQOS
], check_socket_error, params="s name namelen lpCallerData lpCalleeData lpSQOS lpGQOS")
closesocket = _ws2("closesocket", INT, [SOCKET], check_socket_error, params="s")
shutdown = _ws2("shutdown", INT, [SOCKET, INT], check_socket_error, params="s how")
getsockname = _ws2("getsockname", INT, [SOCKET, LPSOCKADDR_ANY, LPINT], check_socket_error,
                   params="s name namelen")
getpeername = _ws2("getpeername", INT, [SOCKET, LPSOCKADDR_ANY, LPINT], check_socket_error,
                   params="s name namelen")
setsockopt = _ws2("setsockopt", INT, [
    SOCKET, INT,  # level
    INT,  # optname
    LPCVOID_ANY,  # const char *optval
    INT,  # optlen
], check_socket_error, params="s level optname optval optlen")
getsockopt = _ws2("getsockopt", INT, [SOCKET, INT, INT, LPVOID_ANY, LPINT], check_socket_error,
                  params="s level optname optval optlen")
ioctlsocket = _ws2("ioctlsocket", INT, [SOCKET, LONG, POINTER(u_long)], check_socket_error,
                   params="s cmd argp")

# --- overlapped I/O -------------------------------------------------------------------
WSASend = _ws2("WSASend", INT, [
    SOCKET,
    LPWSABUF,  # lpBuffers
    DWORD,  # dwBufferCount
    LPDWORD,  # lpNumberOfBytesSent
    DWORD,  # dwFlags
    LPWSAOVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE_OR_NULL,
], check_socket_error_pending, params=(
    "s lpBuffers dwBufferCount lpNumberOfBytesSent dwFlags lpOverlapped lpCompletionRoutine"))
WSARecv = _ws2("WSARecv", INT, [
    SOCKET,
    LPWSABUF,  # lpBuffers
    DWORD,  # dwBufferCount
    LPDWORD,  # lpNumberOfBytesRecvd
    LPDWORD,  # lpFlags (in and out)
    LPWSAOVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE_OR_NULL,
], check_socket_error_pending, params=(
    "s lpBuffers dwBufferCount lpNumberOfBytesRecvd lpFlags lpOverlapped lpCompletionRoutine"))
WSASendTo = _ws2("WSASendTo", INT, [
    SOCKET,
    LPWSABUF,
    DWORD,  # dwBufferCount
    LPDWORD,  # lpNumberOfBytesSent
    DWORD,  # dwFlags
    LPSOCKADDR_ANY,  # lpTo
    INT,  # iTolen
    LPWSAOVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE_OR_NULL,
], check_socket_error_pending, params=(
    "s lpBuffers dwBufferCount lpNumberOfBytesSent dwFlags lpTo iTolen lpOverlapped "
    "lpCompletionRoutine"))
WSARecvFrom = _ws2("WSARecvFrom", INT, [
    SOCKET,
    LPWSABUF,
    DWORD,  # dwBufferCount
    LPDWORD,  # lpNumberOfBytesRecvd
    LPDWORD,  # lpFlags
    LPSOCKADDR_ANY,  # lpFrom: written when the operation completes
    LPINT,  # lpFromlen: likewise; both must outlive the operation
    LPWSAOVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE_OR_NULL,
], check_socket_error_pending, params=(
    "s lpBuffers dwBufferCount lpNumberOfBytesRecvd lpFlags lpFrom lpFromlen lpOverlapped "
    "lpCompletionRoutine"))
# Exported by ws2_32 (Vista and later); WSARecvMsg is not: it is an extension
# function, fetched with get_extension_function(s, WSAID_WSARECVMSG, LPFN_WSARECVMSG, ...).
WSASendMsg = _ws2("WSASendMsg", INT, [
    SOCKET,  # Handle
    LPWSAMSG,  # lpMsg: its buffers, address and control data must outlive the operation
    DWORD,  # dwFlags
    LPDWORD,  # lpNumberOfBytesSent
    LPWSAOVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE_OR_NULL,
], check_socket_error_pending, params=(
    "Handle lpMsg dwFlags lpNumberOfBytesSent lpOverlapped lpCompletionRoutine"))
WSAIoctl = _ws2("WSAIoctl", INT, [
    SOCKET,
    DWORD,  # dwIoControlCode
    LPCVOID_ANY,  # lpvInBuffer
    DWORD,  # cbInBuffer
    LPVOID_ANY,  # lpvOutBuffer
    DWORD,  # cbOutBuffer
    LPDWORD,  # lpcbBytesReturned
    LPWSAOVERLAPPED,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE_OR_NULL,
], check_socket_error_pending, params=(
    "s dwIoControlCode lpvInBuffer cbInBuffer lpvOutBuffer cbOutBuffer lpcbBytesReturned "
    "lpOverlapped lpCompletionRoutine"))
WSAGetOverlappedResult = _ws2("WSAGetOverlappedResult", BOOL, [
    SOCKET,
    LPWSAOVERLAPPED,
    LPDWORD,  # lpcbTransfer
    BOOL,  # fWait
    LPDWORD,  # lpdwFlags
], check_overlapped_result, params="s lpOverlapped lpcbTransfer fWait lpdwFlags")

# --- event objects ----------------------------------------------------------------------
WSACreateEvent = _ws2("WSACreateEvent", WSAEVENT, [], check_null, params="")
WSACloseEvent = _ws2("WSACloseEvent", BOOL, [WSAEVENT], check_bool, params="hEvent")
WSASetEvent = _ws2("WSASetEvent", BOOL, [WSAEVENT], check_bool, params="hEvent")
WSAResetEvent = _ws2("WSAResetEvent", BOOL, [WSAEVENT], check_bool, params="hEvent")
WSAWaitForMultipleEvents = _ws2("WSAWaitForMultipleEvents", DWORD, [
    DWORD,  # cEvents
    POINTER(WSAEVENT),  # lphEvents
    BOOL,  # fWaitAll
    DWORD,  # dwTimeout (milliseconds, or WSA_INFINITE)
    BOOL,  # fAlertable
], check_wait, params="cEvents lphEvents fWaitAll dwTimeout fAlertable")
WSAEventSelect = _ws2("WSAEventSelect", INT, [SOCKET, WSAEVENT, LONG], check_socket_error,
                      params="s hEventObject lNetworkEvents")
WSAEnumNetworkEvents = _ws2("WSAEnumNetworkEvents", INT,
                            [SOCKET, WSAEVENT, LPWSANETWORKEVENTS], check_socket_error,
                            params="s hEventObject lpNetworkEvents")

# --- addresses and byte order --------------------------------------------------------------
inet_addr = _ws2("inet_addr", u_long, [PCSTR], params="cp")  # INADDR_NONE for a malformed string
inet_pton = _ws2("inet_pton", INT, [INT, PCSTR, LPVOID_ANY], check_inet_pton,
                 params="Family pszAddrString pAddrBuf")
# Parses more spellings than inet_pton ("127.1", "0x7f.0.0.1", "host:port");
# CPython's _overlapped parses addresses with it.
WSAStringToAddressW = _ws2("WSAStringToAddressW", INT, [
    PCWSTR,  # AddressString
    INT,  # AddressFamily
    LPWSAPROTOCOL_INFOW,  # lpProtocolInfo (NULL)
    LPSOCKADDR_ANY,  # lpAddress
    LPINT,  # lpAddressLength (in, out)
], check_socket_error, params=(
    "AddressString AddressFamily lpProtocolInfo lpAddress lpAddressLength"))
# The address as text, the port after it ("1.2.3.4:80", "[::1%3]:80"; no port when
# it is 0); twisted_iocpsupport formats received addresses with it.
WSAAddressToStringW = _ws2("WSAAddressToStringW", INT, [
    LPSOCKADDR_ANY,  # lpsaAddress
    DWORD,  # dwAddressLength
    LPWSAPROTOCOL_INFOW,  # lpProtocolInfo (NULL)
    LPWSTR,  # lpszAddressString (out)
    LPDWORD,  # lpdwAddressStringLength (in, out)
], check_socket_error, params=(
    "lpsaAddress dwAddressLength lpProtocolInfo lpszAddressString lpdwAddressStringLength"))
inet_ntop = _ws2("inet_ntop", PSTR, [INT, LPCVOID_ANY, PSTR, SIZE_T], check_null,
                 params="Family pAddr pStringBuf StringBufSize")
htons = _ws2("htons", u_short, [u_short], params="hostshort")
ntohs = _ws2("ntohs", u_short, [u_short], params="netshort")
htonl = _ws2("htonl", u_long, [u_long], params="hostlong")
ntohl = _ws2("ntohl", u_long, [u_long], params="netlong")
getaddrinfo = _ws2("getaddrinfo", INT, [PCSTR, PCSTR, LPADDRINFOA_ANY, POINTER(PADDRINFOA)],
                   check_returned_code, params="pNodeName pServiceName pHints ppResult")
freeaddrinfo = _ws2("freeaddrinfo", None, [PADDRINFOA], params="pAddrInfo")
GetAddrInfoW = _ws2("GetAddrInfoW", INT, [PCWSTR, PCWSTR, LPADDRINFOW_ANY, POINTER(PADDRINFOW)],
                    check_returned_code, params="pNodeName pServiceName pHints ppResult")
FreeAddrInfoW = _ws2("FreeAddrInfoW", None, [PADDRINFOW], params="pAddrInfo")


def get_extension_function(s: int, guid: GUID, prototype: Any, name: str,
                           errcheck: Any = None) -> Any:
    """Fetch a Microsoft extension function (AcceptEx, ConnectEx, ...) for socket ``s``.

    WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) answers the pointer of the
    provider behind ``s``; the result is callable with ``prototype``'s argtypes.
    """
    pointer = PVOID()
    returned = DWORD()
    WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, byref(guid), sizeof(guid),
             byref(pointer), sizeof(pointer), byref(returned), None, None)
    if not pointer.value:  # the provider has no such function
        raise _loader.winerror_exception(WSAEOPNOTSUPP)
    return _loader.declare_prototype(prototype, pointer.value, name, errcheck,
                                     EXTENSION_PARAMS.get(name))


# MSDN's parameter names of the extension functions (mswsock.h), by the name they are
# fetched under; declare_prototype gives them to the function it returns.
EXTENSION_PARAMS = {
    "AcceptEx": "sListenSocket sAcceptSocket lpOutputBuffer dwReceiveDataLength "
                "dwLocalAddressLength dwRemoteAddressLength lpdwBytesReceived lpOverlapped",
    "ConnectEx": "s name namelen lpSendBuffer dwSendDataLength lpdwBytesSent lpOverlapped",
    "DisconnectEx": "s lpOverlapped dwFlags dwReserved",
    "GetAcceptExSockaddrs": "lpOutputBuffer dwReceiveDataLength dwLocalAddressLength "
                            "dwRemoteAddressLength LocalSockaddr LocalSockaddrLength "
                            "RemoteSockaddr RemoteSockaddrLength",
    "TransmitFile": "hSocket hFile nNumberOfBytesToWrite nNumberOfBytesPerSend lpOverlapped "
                    "lpTransmitBuffers dwReserved",
    "WSARecvMsg": "s lpMsg lpdwNumberOfBytesRecvd lpOverlapped lpCompletionRoutine",
    "WSASendMsg": "s lpMsg dwFlags lpNumberOfBytesSent lpOverlapped lpCompletionRoutine",
}


# Repeated, on purpose, in winsock_ov.raw's own __all__ (written out there for type
# checkers; tests/test_raw_all.py keeps the two equal).
__all__ = [
    "LPCVOID_ANY",
    "LPSOCKADDR_ANY",
    "LPVOID_ANY",
    "FreeAddrInfoW",
    "GetAddrInfoW",
    "WSAAddressToStringW",
    "WSACleanup",
    "WSACloseEvent",
    "WSAConnect",
    "WSACreateEvent",
    "WSAEnumNetworkEvents",
    "WSAEventSelect",
    "WSAGetLastError",
    "WSAGetOverlappedResult",
    "WSAIoctl",
    "WSARecv",
    "WSARecvFrom",
    "WSAResetEvent",
    "WSASend",
    "WSASendMsg",
    "WSASendTo",
    "WSASetEvent",
    "WSASetLastError",
    "WSASocket",
    "WSASocketA",
    "WSASocketW",
    "WSAStartup",
    "WSAStringToAddressW",
    "WSAWaitForMultipleEvents",
    "accept",
    "bind",
    "closesocket",
    "connect",
    "freeaddrinfo",
    "get_extension_function",
    "getaddrinfo",
    "getpeername",
    "getsockname",
    "getsockopt",
    "htonl",
    "htons",
    "inet_addr",
    "inet_ntop",
    "inet_pton",
    "ioctlsocket",
    "listen",
    "ntohl",
    "ntohs",
    "setsockopt",
    "shutdown",
    "socket",
]
