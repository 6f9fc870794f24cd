"""One loader for the DLLs, one factory for prototypes, one way to build errors.

Every raw function is declared once with argtypes, restype, an error check
chosen by its return convention and MSDN's parameter names (its signature and
docstring, set at declaration).  The declarations are written out one by one
as the headers declare them, alike in shape on purpose: each is a prototype to
read beside MSDN, never generated from a table.  ``use_last_error=True`` makes ctypes save the
thread's last error right after each call; the checks read it from there
(``ctypes.get_last_error()``), never later.  The same saved value is restored
before the next call through these DLLs, so seed-style code that calls
``WSAGetLastError()`` after a ``SOCKET_ERROR`` return reads the same code.
"""

from __future__ import annotations

import ctypes
import inspect
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from .constants import (
    ERROR_IO_PENDING,
    INVALID_HANDLE_VALUE,
    INVALID_SOCKET,
    SOCKET_ERROR,
    WAIT_FAILED,
    WSA_IO_INCOMPLETE,
)

ON_WINDOWS = sys.platform == "win32"


class WindowsOnlyError(NotImplementedError):
    """A Windows function was called on another operating system."""


def format_winerror(code: int) -> str:
    """The system's message for a Win32 or Winsock error code."""
    if ON_WINDOWS:
        message = ctypes.FormatError(code).strip()
        if message and not message.startswith("<no description"):
            return message
    return f"Windows error {code}"


def winerror_exception(code: int, message: str | None = None,
                       classes: Mapping[int, type[OSError]] | None = None) -> OSError:
    """The one builder of every OSError winsock_ov raises, ``winerror`` set.

    The class is ``classes[code]`` when the table has it; otherwise CPython
    picks the subclass from ``winerror`` (on Windows), as for
    ``OSError(0, strerror, None, winerror)``, the way ``ctypes.WinError``
    builds them: WSAECONNRESET gives ConnectionResetError, and so on.
    """
    if message is None:
        message = format_winerror(code)
    cls = classes.get(code) if classes else None
    error = OSError(0, message, None, code) if cls is None else cls(code, message, None, code)
    error.winerror = code  # set explicitly: OSError ignores it off Windows
    return error


class _DLLs:
    """Each DLL loaded once, on first use, with the last error saved per call."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if not ON_WINDOWS:
            raise WindowsOnlyError(f"{name}.dll exists only on Windows")
        dll = self._loaded.get(name)
        if dll is None:
            dll = self._loaded[name] = ctypes.WinDLL(name, use_last_error=True)
        return dll


dlls = _DLLs()

ErrCheck = Callable[[Any, Any, tuple[Any, ...]], Any]


def function_factory(dll: str, name: str, restype: Any, argtypes: Sequence[Any],
                     errcheck: ErrCheck | None = None, *, params: str | Sequence[str]) -> Any:
    """Declare ``dll!name``; elsewhere than Windows, a stub that raises WindowsOnlyError.

    ``params`` holds MSDN's parameter names, one per argtype ("s lpBuffers ...");
    they become the function's ``__signature__`` (positional-only) and docstring.
    """
    if not ON_WINDOWS:
        def unavailable(*args: object, **kwargs: object) -> Any:
            raise WindowsOnlyError(f"{name} ({dll}.dll) can only be called on Windows, "
                                   f"not on {sys.platform}")

        unavailable.argtypes = list(argtypes)  # type: ignore[attr-defined]
        unavailable.restype = restype  # type: ignore[attr-defined]
        unavailable.errcheck = errcheck  # type: ignore[attr-defined]
        unavailable.declared_in = dll  # type: ignore[attr-defined]
        return _described(unavailable, name, params, errcheck)
    function = getattr(dlls, dll)[name]  # a fresh function object of our own
    function.restype = restype
    function.argtypes = list(argtypes)
    if errcheck is not None:
        function.errcheck = errcheck
    function.declared_in = dll
    return _described(function, name, params, errcheck)


def _described(function: Any, name: str, params: str | Sequence[str],
               errcheck: ErrCheck | None, source: str | None = None) -> Any:
    """Give a declared function its MSDN signature, name and a one-line docstring.

    Set once, at declaration: ``inspect.signature()`` and ``help()`` read these
    attributes; a call never does.
    """
    names = params.split() if isinstance(params, str) else list(params)
    if len(names) != len(function.argtypes):
        raise TypeError(f"{name}: {len(names)} parameter names for "
                        f"{len(function.argtypes)} argtypes")
    signature = inspect.Signature(
        [inspect.Parameter(param, inspect.Parameter.POSITIONAL_ONLY) for param in names])
    function.__signature__ = signature
    function.__name__ = function.__qualname__ = name
    if source is None:
        source = f"{function.declared_in}.dll"
        function.__module__ = f"{__package__}.{function.declared_in}"  # raw.ws2_32, ...
    # The names in the docstring too: help() on a ctypes function object (Windows)
    # prints only its docstring, never __signature__.
    function.__doc__ = (f"{name}{signature} from {source} (MSDN), returns "
                        f"{_return_words(function.restype)}; {_check_words(errcheck)}.")
    return function


def _return_words(restype: Any) -> str:
    """What the caller gets back, by the restype's size and kind (aliases share a type)."""
    if restype is None:
        return "nothing (void)"
    code = getattr(restype, "_type_", None)
    if isinstance(code, str) and code in _INTEGER_CODES:
        sign = "a signed" if code.islower() else "an unsigned"
        return f"{sign} {8 * ctypes.sizeof(restype)}-bit int"
    if restype is ctypes.c_void_p:
        return "a handle or pointer (an int, or None for NULL)"
    if restype is ctypes.c_char_p:
        return "a char * (bytes, or None for NULL)"
    return str(restype.__name__)


def _check_words(errcheck: ErrCheck | None) -> str:
    """The error check of a declaration, in words (``_CHECK_WORDS`` below)."""
    if errcheck is None:
        return "no error check: raises nothing, the caller reads the result"
    return _CHECK_WORDS.get(errcheck) or f"checked by {getattr(errcheck, '__name__', errcheck)}"


_INTEGER_CODES = frozenset("bBhHiIlLqQ")


def _plain(argtype: Any) -> Any:
    """An integer argtype as it is; anything else (a pointer, a callback) as c_void_p."""
    code = getattr(argtype, "_type_", None)
    if isinstance(code, str) and code in _INTEGER_CODES \
            and issubclass(argtype, ctypes._SimpleCData):
        return argtype
    return ctypes.c_void_p


def unchecked(function: Any) -> Any:
    """A twin of a declared function for code that checks the result itself.

    The same export and restype, with every pointer or callback parameter
    taken as ``c_void_p`` (``byref()``, an array, an address or None, without
    a conversion written in Python) and no errcheck: nothing is raised, the
    caller reads the result and ``ctypes.get_last_error()``.  For the calls
    made once per operation, where the checked form's Python-level argument
    conversions and error check are a measurable part of the cost; the caller
    passes exactly what the C function expects.
    """
    argtypes = [_plain(argtype) for argtype in function.argtypes]
    return function_factory(function.declared_in, function.__name__, function.restype,
                            argtypes, params=list(function.__signature__.parameters))


def declare_prototype(prototype: Any, address: int, name: str, errcheck: ErrCheck | None,
                      params: str | None = None) -> Any:
    """A callable for a function pointer (an extension function from WSAIoctl)."""
    function = prototype(address)
    function.__name__ = name
    if errcheck is not None:
        function.errcheck = errcheck
    if params is not None:
        _described(function, name, params, errcheck,
                   source="the socket's provider (a Winsock extension function)")
    return function


# --- error checks, by return convention -------------------------------------------
# ctypes calls errcheck(result, function, arguments) right after the call; what it
# returns is what the caller gets.  One small function per convention, alike in
# shape on purpose: each is named in the declarations, and its test is the
# convention itself (the docstrings list them in _CHECK_WORDS).


def _raise_last_error() -> Any:
    raise winerror_exception(ctypes.get_last_error())


def check_socket_error(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """int-returning Winsock calls: SOCKET_ERROR means failure."""
    if result == SOCKET_ERROR:
        _raise_last_error()
    return result


def check_socket_error_pending(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """Overlapped Winsock calls: SOCKET_ERROR with WSA_IO_PENDING means started.

    Then SOCKET_ERROR is returned (not raised) and WSAGetLastError() answers
    WSA_IO_PENDING, as the seed expects.
    """
    if result == SOCKET_ERROR and ctypes.get_last_error() != ERROR_IO_PENDING:
        _raise_last_error()
    return result


def check_invalid_socket(result: int, func: Any, args: tuple[Any, ...]) -> int:
    if result == INVALID_SOCKET:
        _raise_last_error()
    return result


def check_bool(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """BOOL-returning calls: FALSE means failure."""
    if not result:
        _raise_last_error()
    return result


def check_bool_pending(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """Overlapped BOOL calls (AcceptEx, ConnectEx, ...): FALSE + ERROR_IO_PENDING is "started"."""
    if not result and ctypes.get_last_error() != ERROR_IO_PENDING:
        _raise_last_error()
    return result


def check_overlapped_result(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """WSAGetOverlappedResult: FALSE with WSA_IO_INCOMPLETE means "not finished yet".

    Any other FALSE is the failed operation's own error, raised.
    """
    if not result and ctypes.get_last_error() != WSA_IO_INCOMPLETE:
        _raise_last_error()
    return result


def check_null(result: Any, func: Any, args: tuple[Any, ...]) -> Any:
    """Handle- or pointer-returning calls: NULL means failure."""
    if not result or (isinstance(result, ctypes.c_void_p) and not result.value):
        _raise_last_error()
    return result


def check_invalid_handle(result: Any, func: Any, args: tuple[Any, ...]) -> Any:
    """CreateFileW: INVALID_HANDLE_VALUE means failure."""
    if result is not None and result == INVALID_HANDLE_VALUE:
        _raise_last_error()
    return result


def check_nonzero(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """DWORD-returning calls where 0 means failure (QueueUserAPC)."""
    if result == 0:
        _raise_last_error()
    return result


def check_wait(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """Wait functions: WAIT_FAILED means failure; every other value is an outcome."""
    if result == WAIT_FAILED:
        _raise_last_error()
    return result


def check_returned_code(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """Calls that return the error code itself (WSAStartup, getaddrinfo)."""
    if result != 0:
        raise winerror_exception(result)
    return result


def check_inet_pton(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """inet_pton: 1 parsed, 0 not an address of that family (no error code), -1 failure."""
    if result == -1:
        _raise_last_error()
    return result


def _dereferenced(argument: Any) -> Any:
    """What a by-reference ctypes argument points at (byref() or pointer())."""
    if hasattr(argument, "_obj"):  # byref(x)
        return argument._obj
    if isinstance(argument, ctypes._Pointer):
        return argument.contents
    return argument


def check_dequeue(result: int, func: Any, args: tuple[Any, ...]) -> int:
    """GetQueuedCompletionStatus: FALSE is a failure only if nothing was dequeued.

    When ``*lpOverlapped`` is set, a packet of a failed I/O was dequeued: the
    call returns FALSE and the I/O's error stays readable with
    ``ctypes.get_last_error()`` / ``WSAGetLastError()``.
    """
    if not result and not _dereferenced(args[3]):
        _raise_last_error()
    return result


# What each check does, for the docstrings (``_described``): the check's own code, in words.
_CHECK_WORDS: dict[Any, str] = {
    check_socket_error: "raises OSError on SOCKET_ERROR",
    check_socket_error_pending: "raises OSError on SOCKET_ERROR except WSA_IO_PENDING "
                                "(then returns SOCKET_ERROR: started)",
    check_invalid_socket: "raises OSError on INVALID_SOCKET",
    check_bool: "raises OSError on FALSE",
    check_bool_pending: "raises OSError on FALSE except ERROR_IO_PENDING "
                        "(then returns FALSE: started)",
    check_overlapped_result: "raises OSError on FALSE except WSA_IO_INCOMPLETE "
                             "(then returns FALSE: not finished)",
    check_null: "raises OSError on NULL",
    check_invalid_handle: "raises OSError on INVALID_HANDLE_VALUE",
    check_nonzero: "raises OSError on 0",
    check_wait: "raises OSError on WAIT_FAILED",
    check_returned_code: "raises OSError carrying the returned code when it is not 0",
    check_inet_pton: "raises OSError on -1 (0, not an address of that family, is returned)",
    check_dequeue: "raises OSError on FALSE unless a packet was dequeued "
                   "(lpOverlapped set: then returns FALSE, the I/O's error in the last error)",
}


# --- argument types that accept what C code passes -----------------------------


class PointerTo:
    """An argtype accepting ``byref(x)`` / ``pointer(x)`` for x of some ctypes types.

    C casts freely (``(SOCKADDR*)&addr``); these parameters take the address of
    any of the listed structures instead, and reject everything else.
    """

    accepted: tuple[type, ...] = ()
    accepts_bytes = False

    @classmethod
    def from_param(cls, value: Any) -> Any:
        if value is None:
            return None
        target = _dereferenced(value) if (hasattr(value, "_obj") or
                                         isinstance(value, ctypes._Pointer)) else None
        if target is not None and isinstance(target, cls.accepted):
            return value
        if isinstance(value, ctypes.Array) and issubclass(value._type_, cls.accepted):
            return value
        if cls.accepts_bytes and isinstance(value, bytes):
            return value
        raise TypeError(f"expected byref() or pointer() to one of "
                        f"{', '.join(t.__name__ for t in cls.accepted)}, "
                        f"not {type(value).__name__}")


def pointer_to(name: str, *accepted: type, accepts_bytes: bool = False) -> type[PointerTo]:
    return type(name, (PointerTo,), {"accepted": accepted, "accepts_bytes": accepts_bytes})


ANY_CTYPES = (ctypes._SimpleCData, ctypes.Structure, ctypes.Union, ctypes.Array, ctypes._Pointer)


def nullable(prototype: Any) -> type:
    """An argtype for a callback parameter that also accepts None (NULL)."""

    def from_param(cls: type, value: Any) -> Any:
        return None if value is None else prototype.from_param(value)

    return type(prototype.__name__ + "_OR_NULL", (), {"from_param": classmethod(from_param)})
