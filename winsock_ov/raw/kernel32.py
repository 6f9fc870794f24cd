"""kernel32.dll: alertable waits, completion ports, cancellation, handles and threads.

The wait functions return their outcome (WAIT_OBJECT_0 + i, WAIT_TIMEOUT,
WAIT_IO_COMPLETION, ...) and raise only for WAIT_FAILED.  BOOL functions raise on
FALSE, except that ERROR_IO_PENDING from ReadFile / WriteFile / ConnectNamedPipe
means "started", and GetQueuedCompletionStatus returns FALSE (not raising) when it
dequeued the packet of a failed I/O.

Declared one function at a time, alike in shape on purpose (see ``_loader``).
"""

from __future__ import annotations

from ctypes import POINTER
from typing import Any

from ._loader import (
    check_bool,
    check_bool_pending,
    check_dequeue,
    check_invalid_handle,
    check_nonzero,
    check_null,
    check_wait,
    function_factory,
)
from .types import (
    BOOL,
    DWORD,
    HANDLE,
    LPCVOID,
    LPCWSTR,
    LPDWORD,
    LPHANDLE,
    LPOVERLAPPED,
    LPOVERLAPPED_ENTRY,
    LPSECURITY_ATTRIBUTES,
    LPVOID,
    LPWSTR,
    PAPCFUNC,
    PHANDLE,
    PULONG,
    PULONG_PTR,
    PVOID,
    UCHAR,
    ULONG,
    ULONG_PTR,
    WAITORTIMERCALLBACK,
)


def _k32(name: str, restype: Any, argtypes: list[Any], errcheck: Any = None, *,
         params: str) -> Any:
    return function_factory("kernel32", name, restype, argtypes, errcheck, params=params)


# --- waits ----------------------------------------------------------------------------
SleepEx = _k32("SleepEx", DWORD, [DWORD, BOOL], params="dwMilliseconds bAlertable")
WaitForSingleObjectEx = _k32("WaitForSingleObjectEx", DWORD, [
    HANDLE,
    DWORD,  # dwMilliseconds
    BOOL,  # bAlertable
], check_wait, params="hHandle dwMilliseconds bAlertable")
WaitForMultipleObjectsEx = _k32("WaitForMultipleObjectsEx", DWORD, [
    DWORD,  # nCount
    POINTER(HANDLE),  # lpHandles
    BOOL,  # bWaitAll
    DWORD,  # dwMilliseconds
    BOOL,  # bAlertable
], check_wait, params="nCount lpHandles bWaitAll dwMilliseconds bAlertable")

# --- handles, events, threads -------------------------------------------------------
CloseHandle = _k32("CloseHandle", BOOL, [HANDLE], check_bool, params="hObject")
CreateEventW = _k32("CreateEventW", HANDLE, [
    LPSECURITY_ATTRIBUTES,
    BOOL,  # bManualReset
    BOOL,  # bInitialState
    LPCWSTR,  # lpName
], check_null, params="lpEventAttributes bManualReset bInitialState lpName")
SetEvent = _k32("SetEvent", BOOL, [HANDLE], check_bool, params="hEvent")
ResetEvent = _k32("ResetEvent", BOOL, [HANDLE], check_bool, params="hEvent")
GetCurrentThreadId = _k32("GetCurrentThreadId", DWORD, [], params="")
# GetCurrentThread: a pseudo-handle, no CloseHandle
GetCurrentThread = _k32("GetCurrentThread", HANDLE, [], params="")
GetCurrentProcess = _k32("GetCurrentProcess", HANDLE, [], params="")
OpenThread = _k32("OpenThread", HANDLE, [
    DWORD,  # dwDesiredAccess
    BOOL,  # bInheritHandle
    DWORD,  # dwThreadId
], check_null, params="dwDesiredAccess bInheritHandle dwThreadId")
DuplicateHandle = _k32("DuplicateHandle", BOOL, [
    HANDLE,  # hSourceProcessHandle
    HANDLE,  # hSourceHandle
    HANDLE,  # hTargetProcessHandle
    LPHANDLE,  # lpTargetHandle
    DWORD,  # dwDesiredAccess
    BOOL,  # bInheritHandle
    DWORD,  # dwOptions
], check_bool, params=(
    "hSourceProcessHandle hSourceHandle hTargetProcessHandle lpTargetHandle dwDesiredAccess "
    "bInheritHandle dwOptions"))
QueueUserAPC = _k32("QueueUserAPC", DWORD, [PAPCFUNC, HANDLE, ULONG_PTR], check_nonzero,
                    params="pfnAPC hThread dwData")
GetProcessHandleCount = _k32("GetProcessHandleCount", BOOL, [HANDLE, LPDWORD], check_bool,
                             params="hProcess pdwHandleCount")

# --- cancellation and results -----------------------------------------------------------
CancelIoEx = _k32("CancelIoEx", BOOL, [HANDLE, LPOVERLAPPED], check_bool,
                  params="hFile lpOverlapped")
GetOverlappedResult = _k32("GetOverlappedResult", BOOL, [
    HANDLE,
    LPOVERLAPPED,
    LPDWORD,  # lpNumberOfBytesTransferred
    BOOL,  # bWait
], check_bool, params="hFile lpOverlapped lpNumberOfBytesTransferred bWait")

# --- completion ports ----------------------------------------------------------------------
CreateIoCompletionPort = _k32("CreateIoCompletionPort", HANDLE, [
    HANDLE,  # FileHandle (INVALID_HANDLE_VALUE for a new port)
    HANDLE,  # ExistingCompletionPort
    ULONG_PTR,  # CompletionKey
    DWORD,  # NumberOfConcurrentThreads
], check_null, params="FileHandle ExistingCompletionPort CompletionKey NumberOfConcurrentThreads")
GetQueuedCompletionStatus = _k32("GetQueuedCompletionStatus", BOOL, [
    HANDLE,  # CompletionPort
    LPDWORD,  # lpNumberOfBytesTransferred
    PULONG_PTR,  # lpCompletionKey
    POINTER(LPOVERLAPPED),  # lpOverlapped
    DWORD,  # dwMilliseconds
], check_dequeue, params=(
    "CompletionPort lpNumberOfBytesTransferred lpCompletionKey lpOverlapped dwMilliseconds"))
GetQueuedCompletionStatusEx = _k32("GetQueuedCompletionStatusEx", BOOL, [
    HANDLE,  # CompletionPort
    LPOVERLAPPED_ENTRY,  # lpCompletionPortEntries
    ULONG,  # ulCount
    PULONG,  # ulNumEntriesRemoved
    DWORD,  # dwMilliseconds
    BOOL,  # fAlertable
], check_bool, params=(
    "CompletionPort lpCompletionPortEntries ulCount ulNumEntriesRemoved dwMilliseconds fAlertable"))
PostQueuedCompletionStatus = _k32("PostQueuedCompletionStatus", BOOL, [
    HANDLE,  # CompletionPort
    DWORD,  # dwNumberOfBytesTransferred
    ULONG_PTR,  # dwCompletionKey
    LPOVERLAPPED,
], check_bool, params="CompletionPort dwNumberOfBytesTransferred dwCompletionKey lpOverlapped")
SetFileCompletionNotificationModes = _k32("SetFileCompletionNotificationModes", BOOL,
                                          [HANDLE, UCHAR], check_bool, params="FileHandle Flags")

# --- thread-pool waits ---------------------------------------------------------------------
RegisterWaitForSingleObject = _k32("RegisterWaitForSingleObject", BOOL, [
    PHANDLE,  # phNewWaitObject
    HANDLE,  # hObject
    WAITORTIMERCALLBACK,  # Callback
    PVOID,  # Context
    ULONG,  # dwMilliseconds
    ULONG,  # dwFlags
], check_bool, params="phNewWaitObject hObject Callback Context dwMilliseconds dwFlags")
UnregisterWait = _k32("UnregisterWait", BOOL, [HANDLE], check_bool_pending, params="WaitHandle")
UnregisterWaitEx = _k32("UnregisterWaitEx", BOOL, [HANDLE, HANDLE], check_bool_pending,
                        params="WaitHandle CompletionEvent")

# --- files and named pipes ------------------------------------------------------------------
ReadFile = _k32("ReadFile", BOOL, [
    HANDLE,
    LPVOID,  # lpBuffer
    DWORD,  # nNumberOfBytesToRead
    LPDWORD,  # lpNumberOfBytesRead
    LPOVERLAPPED,
], check_bool_pending, params=(
    "hFile lpBuffer nNumberOfBytesToRead lpNumberOfBytesRead lpOverlapped"))
WriteFile = _k32("WriteFile", BOOL, [
    HANDLE,
    LPVOID,  # lpBuffer
    DWORD,  # nNumberOfBytesToWrite
    LPDWORD,  # lpNumberOfBytesWritten
    LPOVERLAPPED,
], check_bool_pending, params=(
    "hFile lpBuffer nNumberOfBytesToWrite lpNumberOfBytesWritten lpOverlapped"))
ConnectNamedPipe = _k32("ConnectNamedPipe", BOOL, [HANDLE, LPOVERLAPPED], check_bool_pending,
                        params="hNamedPipe lpOverlapped")
CreateFileW = _k32("CreateFileW", HANDLE, [
    LPCWSTR,  # lpFileName
    DWORD,  # dwDesiredAccess
    DWORD,  # dwShareMode
    LPSECURITY_ATTRIBUTES,
    DWORD,  # dwCreationDisposition
    DWORD,  # dwFlagsAndAttributes
    HANDLE,  # hTemplateFile
], check_invalid_handle, params=(
    "lpFileName dwDesiredAccess dwShareMode lpSecurityAttributes dwCreationDisposition "
    "dwFlagsAndAttributes hTemplateFile"))
DeviceIoControl = _k32("DeviceIoControl", BOOL, [
    HANDLE,  # hDevice
    DWORD,  # dwIoControlCode
    LPVOID,  # lpInBuffer
    DWORD,  # nInBufferSize
    LPVOID,  # lpOutBuffer
    DWORD,  # nOutBufferSize
    LPDWORD,  # lpBytesReturned
    LPOVERLAPPED,
], check_bool_pending, params=(
    "hDevice dwIoControlCode lpInBuffer nInBufferSize lpOutBuffer nOutBufferSize lpBytesReturned "
    "lpOverlapped"))

# --- messages ---------------------------------------------------------------------------------
# FormatMessageW returns 0 for an unknown message: no error check, the caller decides.
FormatMessageW = _k32("FormatMessageW", DWORD, [
    DWORD,  # dwFlags
    LPCVOID,  # lpSource
    DWORD,  # dwMessageId
    DWORD,  # dwLanguageId
    LPWSTR,  # lpBuffer (a wide-character buffer unless FORMAT_MESSAGE_ALLOCATE_BUFFER)
    DWORD,  # nSize
    LPVOID,  # Arguments (va_list *)
], params="dwFlags lpSource dwMessageId dwLanguageId lpBuffer nSize Arguments")

# Repeated, on purpose, in winsock_ov.raw's own __all__ (written out there for type
# checkers; tests/test_raw_all.py keeps the two equal).
__all__ = [
    "CancelIoEx",
    "CloseHandle",
    "ConnectNamedPipe",
    "CreateEventW",
    "CreateFileW",
    "CreateIoCompletionPort",
    "DeviceIoControl",
    "DuplicateHandle",
    "FormatMessageW",
    "GetCurrentProcess",
    "GetCurrentThread",
    "GetCurrentThreadId",
    "GetOverlappedResult",
    "GetProcessHandleCount",
    "GetQueuedCompletionStatus",
    "GetQueuedCompletionStatusEx",
    "OpenThread",
    "PostQueuedCompletionStatus",
    "QueueUserAPC",
    "ReadFile",
    "RegisterWaitForSingleObject",
    "ResetEvent",
    "SetEvent",
    "SetFileCompletionNotificationModes",
    "SleepEx",
    "UnregisterWait",
    "UnregisterWaitEx",
    "WaitForMultipleObjectsEx",
    "WaitForSingleObjectEx",
    "WriteFile",
]
