"""ntdll.dll: turning the NTSTATUS left in OVERLAPPED.Internal into a Win32 error, and
resetting an event while learning its previous state."""

from __future__ import annotations

from ctypes import POINTER

from ._loader import function_factory
from .types import HANDLE, LONG, NTSTATUS, ULONG

# ULONG RtlNtStatusToDosError(NTSTATUS Status): never fails; unknown values give
# ERROR_MR_MID_NOT_FOUND (317).
RtlNtStatusToDosError = function_factory("ntdll", "RtlNtStatusToDosError", ULONG, [NTSTATUS],
                                         params="Status")

# NTSTATUS NtResetEvent(HANDLE EventHandle, PLONG PreviousState): make the event
# nonsignaled and, if PreviousState is not NULL, write what it was (1 signaled, 0
# not), in one call: the native API's ZwResetEvent (what ResetEvent calls with
# NULL).  No errcheck: the NTSTATUS is returned (0: STATUS_SUCCESS).
NtResetEvent = function_factory("ntdll", "NtResetEvent", NTSTATUS, [HANDLE, POINTER(LONG)],
                                params="EventHandle PreviousState")

# Repeated, on purpose, in winsock_ov.raw's own __all__ (written out there for type
# checkers; tests/test_raw_all.py keeps the two equal).
__all__ = ["NtResetEvent", "RtlNtStatusToDosError"]
