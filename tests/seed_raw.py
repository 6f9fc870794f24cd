"""The seed's three C programs, translated line by line onto winsock_ov.raw.

OverlappedSend_win.c, OverlappedRecv_win.c and CmplRoutinesRecv_win.c, with the
C kept as close as Python allows: same names, same calls, same messages (the
seed's "Beackgorund data Receive" typo included).  Three differences, all for
the tests that drive them:

* output goes to a ``Console`` (puts/printf) instead of the process's stdout;
* ``sync`` hooks let a test order the two sides (pending or immediate case);
* every infinite wait takes ``timeout_ms`` instead, so a bug fails instead of
  hanging.

Raw calls raise OSError instead of returning SOCKET_ERROR, except the
overlapped ones whose SOCKET_ERROR means WSA_IO_PENDING; the ``== SOCKET_ERROR``
tests are kept where the C has them.
"""

from __future__ import annotations

import io
from ctypes import byref, create_string_buffer, memset, sizeof
from typing import Any

from winsock_ov.raw import (
    AF_INET,
    DWORD,
    FALSE,
    INADDR_ANY,
    INVALID_SOCKET,
    LPWSAOVERLAPPED_COMPLETION_ROUTINE,
    MAKEWORD,
    PF_INET,
    SOCK_STREAM,
    SOCKADDR_IN,
    SOCKET_ERROR,
    TRUE,
    WAIT_IO_COMPLETION,
    WSA_FLAG_OVERLAPPED,
    WSA_INFINITE,
    WSA_IO_PENDING,
    WSABUF,
    WSADATA,
    WSAOVERLAPPED,
    WSACleanup,
    WSACloseEvent,
    WSACreateEvent,
    WSAGetLastError,
    WSAGetOverlappedResult,
    WSARecv,
    WSASend,
    WSASocket,
    WSAStartup,
    WSAWaitForMultipleEvents,
    accept,
    bind,
    closesocket,
    connect,
    htonl,
    htons,
    inet_addr,
    listen,
)
from winsock_ov.raw import (
    INT as c_int,
)

BUF_SIZE = 1024


class Console:
    """stdout and stderr of one translated program."""

    def __init__(self) -> None:
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()

    def puts(self, text: str) -> None:
        self.stdout.write(text + "\n")

    def printf(self, fmt: str, *args: Any) -> None:
        self.stdout.write(fmt % args)

    def lines(self) -> list[str]:
        return self.stdout.getvalue().splitlines()


class ProgramExit(Exception):
    """exit(status) inside a translated program."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class NoSync:
    """Hook points: a test overrides them to order sender and receiver."""

    def listening(self, listen_socket: int) -> None: ...
    def connected(self) -> None: ...
    def accepted(self, recv_socket: int) -> None: ...
    def recv_posted(self) -> None: ...


NO_SYNC = NoSync()


def ErrorHandling(con: Console, message: str) -> None:
    con.stderr.write(message + "\n")
    raise ProgramExit(1)


def OverlappedSend_win(argv: list[str], con: Console, sync: NoSync = NO_SYNC,
                       timeout_ms: int = WSA_INFINITE) -> int:
    wsaData = WSADATA()
    sendAdr = SOCKADDR_IN()
    dataBuf = WSABUF()
    msg = create_string_buffer(b"Network is Computer")
    sendBytes = DWORD(0)
    overlapped = WSAOVERLAPPED()

    if len(argv) != 3:
        con.printf("Usage : %s <IP> <PORT> \n", argv[0])
        raise ProgramExit(1)

    if WSAStartup(MAKEWORD(2, 2), byref(wsaData)) != 0:
        ErrorHandling(con, "WSAStartup() error")

    hSocket = WSASocket(PF_INET, SOCK_STREAM, 0, None, 0, WSA_FLAG_OVERLAPPED)

    memset(byref(sendAdr), 0, sizeof(sendAdr))
    sendAdr.sin_family = AF_INET
    sendAdr.sin_addr.S_un.S_addr = inet_addr(argv[1].encode())
    sendAdr.sin_port = htons(int(argv[2]))

    if connect(hSocket, byref(sendAdr), sizeof(sendAdr)) == SOCKET_ERROR:
        ErrorHandling(con, "connect() error!")
    sync.connected()

    evObj = WSACreateEvent()
    memset(byref(overlapped), 0, sizeof(overlapped))
    overlapped.hEvent = evObj
    dataBuf.len = len(msg.value) + 1  # strlen(msg) + 1
    dataBuf.buf = msg  # type: ignore[assignment]

    if WSASend(hSocket, byref(dataBuf), 1, byref(sendBytes), 0, byref(overlapped),
               None) == SOCKET_ERROR:
        if WSAGetLastError() == WSA_IO_PENDING:
            con.puts("Background data send")
            WSAWaitForMultipleEvents(1, byref(evObj), TRUE, timeout_ms, FALSE)
            WSAGetOverlappedResult(hSocket, byref(overlapped), byref(sendBytes), FALSE,
                                   byref(DWORD()))
        else:
            ErrorHandling(con, "WSASend() error!")

    con.printf("Send data size : %d \n", sendBytes.value)
    WSACloseEvent(evObj)
    closesocket(hSocket)
    WSACleanup()
    return 0


def _listen_and_accept(argv: list[str], con: Console, sync: NoSync) -> tuple[int, int]:
    """The receivers' common opening: WSAStartup, WSASocket, bind, listen, accept."""
    wsaData = WSADATA()
    lisnAdr = SOCKADDR_IN()
    recvAdr = SOCKADDR_IN()

    if len(argv) != 2:
        con.printf("Usage : %s <port> \n", argv[0])
        raise ProgramExit(1)

    if WSAStartup(MAKEWORD(2, 2), byref(wsaData)) != 0:
        ErrorHandling(con, "WSAStartup() error!")

    hLisnSock = WSASocket(PF_INET, SOCK_STREAM, 0, None, 0, WSA_FLAG_OVERLAPPED)
    memset(byref(lisnAdr), 0, sizeof(lisnAdr))
    lisnAdr.sin_family = AF_INET
    lisnAdr.sin_addr.S_un.S_addr = htonl(INADDR_ANY)
    lisnAdr.sin_port = htons(int(argv[1]))

    if bind(hLisnSock, byref(lisnAdr), sizeof(lisnAdr)) == SOCKET_ERROR:
        ErrorHandling(con, "bind() error!")
    if listen(hLisnSock, 5) == SOCKET_ERROR:
        ErrorHandling(con, "listen() error!")
    sync.listening(hLisnSock)

    recvAdrSz = c_int(sizeof(recvAdr))
    hRecvSock = accept(hLisnSock, byref(recvAdr), byref(recvAdrSz))
    if hRecvSock == INVALID_SOCKET:
        ErrorHandling(con, "accept error!")
    sync.accepted(hRecvSock)
    return hLisnSock, hRecvSock


def OverlappedRecv_win(argv: list[str], con: Console, sync: NoSync = NO_SYNC,
                       timeout_ms: int = WSA_INFINITE) -> int:
    dataBuf = WSABUF()
    overlapped = WSAOVERLAPPED()
    buf = create_string_buffer(BUF_SIZE)
    recvBytes = DWORD(0)
    flags = DWORD(0)

    hLisnSock, hRecvSock = _listen_and_accept(argv, con, sync)

    evObj = WSACreateEvent()
    memset(byref(overlapped), 0, sizeof(overlapped))
    overlapped.hEvent = evObj
    dataBuf.len = BUF_SIZE
    dataBuf.buf = buf  # type: ignore[assignment]

    if WSARecv(hRecvSock, byref(dataBuf), 1, byref(recvBytes), byref(flags), byref(overlapped),
               None) == SOCKET_ERROR:
        if WSAGetLastError() == WSA_IO_PENDING:
            con.puts("Background data receive")
            sync.recv_posted()
            WSAWaitForMultipleEvents(1, byref(evObj), TRUE, timeout_ms, FALSE)
            WSAGetOverlappedResult(hRecvSock, byref(overlapped), byref(recvBytes), FALSE, None)
        else:
            ErrorHandling(con, "WSARecv() error!")
    else:
        sync.recv_posted()

    con.printf("Received message : %s \n", buf.value.decode())
    WSACloseEvent(evObj)
    closesocket(hRecvSock)
    closesocket(hLisnSock)
    WSACleanup()
    return 0


def CmplRoutinesRecv_win(argv: list[str], con: Console, sync: NoSync = NO_SYNC,
                         timeout_ms: int = WSA_INFINITE) -> int:
    # The C program's globals, shared with its completion routine.
    dataBuf = WSABUF()
    buf = create_string_buffer(BUF_SIZE)
    recvBytes = 0
    routine_failed = []

    @LPWSAOVERLAPPED_COMPLETION_ROUTINE
    def CompRoutine(dwError: int, szRecvBytes: int, lpOverlapped: Any, flags: int) -> None:
        nonlocal recvBytes
        if dwError != 0:
            # exit(1) cannot leave a callback; main ends the program for it.
            routine_failed.append(dwError)
            con.stderr.write("CompRoutine error!\n")
        else:
            recvBytes = szRecvBytes
            con.printf("Received message : %s \n", buf.value.decode())

    overlapped = WSAOVERLAPPED()
    flags = DWORD(0)

    hLisnSock, hRecvSock = _listen_and_accept(argv, con, sync)

    memset(byref(overlapped), 0, sizeof(overlapped))
    dataBuf.len = BUF_SIZE
    dataBuf.buf = buf  # type: ignore[assignment]
    evObj = WSACreateEvent()

    if WSARecv(hRecvSock, byref(dataBuf), 1, byref(DWORD(recvBytes)), byref(flags),
               byref(overlapped), CompRoutine) == SOCKET_ERROR:
        if WSAGetLastError() == WSA_IO_PENDING:
            con.puts("Beackgorund data Receive")
    sync.recv_posted()
    idx = WSAWaitForMultipleEvents(1, byref(evObj), FALSE, timeout_ms, TRUE)
    if idx == WAIT_IO_COMPLETION:
        con.puts("Overlapped I/O Completed")
    else:
        ErrorHandling(con, "WSARecv() error!")
    if routine_failed:
        raise ProgramExit(1)

    WSACloseEvent(evObj)
    closesocket(hRecvSock)
    closesocket(hLisnSock)
    WSACleanup()
    return 0
