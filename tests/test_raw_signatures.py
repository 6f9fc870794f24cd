"""Every raw function shows MSDN's parameter names and says what it is.

``help(raw.WSARecv)`` and ``inspect.signature(raw.WSARecv)`` read the
``__signature__`` and ``__doc__`` the loader sets at declaration, one name per
argtype, positional-only (ctypes takes no keywords).  The spot checks are
MSDN's prototypes, copied from Microsoft's documentation, not from our
declarations.  Portable: the raw layer imports anywhere; on Windows the same
attributes sit on the ctypes function objects.
"""

from __future__ import annotations

import inspect
import keyword
import re
import socket
from typing import Any

import pytest

import winsock_ov.raw as raw
from winsock_ov.raw import ws2_32

DECLARED = {
    name: getattr(raw, name)
    for name in raw.__all__
    if callable(getattr(raw, name)) and hasattr(getattr(raw, name), "declared_in")
}

# MSDN's C prototypes, parameter names in order.
MSDN = {
    "WSARecv": ("s", "lpBuffers", "dwBufferCount", "lpNumberOfBytesRecvd", "lpFlags",
                "lpOverlapped", "lpCompletionRoutine"),
    "WSASend": ("s", "lpBuffers", "dwBufferCount", "lpNumberOfBytesSent", "dwFlags",
                "lpOverlapped", "lpCompletionRoutine"),
    "WSARecvFrom": ("s", "lpBuffers", "dwBufferCount", "lpNumberOfBytesRecvd", "lpFlags",
                    "lpFrom", "lpFromlen", "lpOverlapped", "lpCompletionRoutine"),
    "GetQueuedCompletionStatusEx": ("CompletionPort", "lpCompletionPortEntries", "ulCount",
                                    "ulNumEntriesRemoved", "dwMilliseconds", "fAlertable"),
    "CreateIoCompletionPort": ("FileHandle", "ExistingCompletionPort", "CompletionKey",
                               "NumberOfConcurrentThreads"),
    "WSAWaitForMultipleEvents": ("cEvents", "lphEvents", "fWaitAll", "dwTimeout", "fAlertable"),
    "bind": ("s", "name", "namelen"),
    "inet_ntop": ("Family", "pAddr", "pStringBuf", "StringBufSize"),
    "RtlNtStatusToDosError": ("Status",),
    "WSACreateEvent": (),
}
ACCEPTEX = ("sListenSocket", "sAcceptSocket", "lpOutputBuffer", "dwReceiveDataLength",
            "dwLocalAddressLength", "dwRemoteAddressLength", "lpdwBytesReceived",
            "lpOverlapped")


def parameter_names(function: Any) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)


def test_every_declared_function_is_found() -> None:
    assert len(DECLARED) > 60
    assert {"WSARecv", "GetQueuedCompletionStatusEx", "RtlNtStatusToDosError"} <= DECLARED.keys()


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_signature_names_one_positional_only_msdn_parameter_per_argtype(name: str) -> None:
    function = DECLARED[name]
    parameters = list(inspect.signature(function).parameters.values())
    assert len(parameters) == len(function.argtypes)
    names = [parameter.name for parameter in parameters]
    assert len(set(names)) == len(names), names
    for parameter in parameters:
        assert parameter.kind is inspect.Parameter.POSITIONAL_ONLY, parameter
        assert parameter.name.isidentifier() and not keyword.iskeyword(parameter.name)
        assert not re.fullmatch(r"(arg|param|p|a|x)_?\d+", parameter.name), parameter.name


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_docstring_names_the_function_its_dll_and_its_error_check(name: str) -> None:
    function = DECLARED[name]
    doc = inspect.getdoc(function)
    assert doc is not None and "\n" not in doc
    # WSASocket is WSASocketW under its C macro name: the export is what it says.
    signature = inspect.signature(function)
    assert doc.startswith(f"{function.__name__}{signature} from {function.declared_in}.dll "
                          "(MSDN), returns "), doc
    assert function.__qualname__ == function.__name__
    assert function.__module__ == f"winsock_ov.raw.{function.declared_in}"
    if getattr(function, "errcheck", None) is None:
        assert "raises nothing" in doc, doc
    else:
        assert "raises OSError" in doc and "checked by" not in doc, doc


def test_docstring_says_pending_is_not_an_error() -> None:
    assert (inspect.getdoc(raw.WSARecv) or "").endswith(
        "raises OSError on SOCKET_ERROR except WSA_IO_PENDING "
        "(then returns SOCKET_ERROR: started).")
    assert "FALSE except ERROR_IO_PENDING" in (inspect.getdoc(raw.ReadFile) or "")
    assert "WAIT_FAILED" in (inspect.getdoc(raw.WSAWaitForMultipleEvents) or "")


@pytest.mark.parametrize("name", sorted(MSDN))
def test_parameter_names_are_msdn_s(name: str) -> None:
    assert parameter_names(getattr(raw, name)) == MSDN[name]


def test_accept_ex_is_not_a_raw_function_but_an_extension_with_msdn_names() -> None:
    assert not hasattr(raw, "AcceptEx")  # fetched per provider: get_extension_function
    assert not hasattr(raw, "NtDeviceIoControlFile")  # AFD polls go through DeviceIoControl
    assert tuple(ws2_32.EXTENSION_PARAMS["AcceptEx"].split()) == ACCEPTEX


@pytest.mark.windows
def test_a_fetched_extension_function_shows_msdn_names() -> None:
    with socket.socket() as sock:
        accept_ex = raw.get_extension_function(sock.fileno(), raw.WSAID_ACCEPTEX,
                                               raw.LPFN_ACCEPTEX, "AcceptEx",
                                               raw.check_bool_pending)
    assert parameter_names(accept_ex) == ACCEPTEX
    assert (accept_ex.__doc__ or "").startswith("AcceptEx(sListenSocket, ")
    assert "FALSE except ERROR_IO_PENDING" in (accept_ex.__doc__ or "")


def test_an_unchecked_twin_keeps_the_names_and_says_it_checks_nothing() -> None:
    twin = raw.unchecked(raw.WSARecv)
    assert parameter_names(twin) == MSDN["WSARecv"]
    assert "raises nothing" in (twin.__doc__ or "")


def test_help_shows_the_msdn_signature() -> None:
    import pydoc

    # On Windows a ctypes function object, whose help() prints only the docstring;
    # elsewhere a Python stub, whose help() prints __signature__ as well.
    text = pydoc.render_doc(raw.GetQueuedCompletionStatusEx, renderer=pydoc.plaintext)
    assert ("GetQueuedCompletionStatusEx(CompletionPort, lpCompletionPortEntries, ulCount, "
            "ulNumEntriesRemoved, dwMilliseconds, fAlertable, /) from kernel32.dll") in text


def test_a_declaration_with_a_wrong_count_of_names_fails_at_import() -> None:
    from winsock_ov.raw._loader import function_factory

    with pytest.raises(TypeError, match="2 parameter names for 3 argtypes"):
        function_factory("ws2_32", "bind", raw.INT, [raw.SOCKET, raw.PVOID, raw.INT],
                         params="s name")
