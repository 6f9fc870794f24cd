"""ntdll.dll: turning the NTSTATUS left in OVERLAPPED.Internal into a Win32 error."""

from __future__ import annotations

from ._loader import function_factory
from .types import NTSTATUS, ULONG

# ULONG RtlNtStatusToDosError(NTSTATUS Status): never fails; unknown values give
# ERROR_MR_MID_NOT_FOUND (317).
RtlNtStatusToDosError = function_factory("ntdll", "RtlNtStatusToDosError", ULONG, [NTSTATUS],
                                         params="Status")

# Repeated, on purpose, in winsock_ov.raw's own __all__ (written out there for type
# checkers; tests/test_raw_all.py keeps the two equal).
__all__ = ["RtlNtStatusToDosError"]
