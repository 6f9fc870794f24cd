"""Errors carry winerror and the subclass Winsock's code calls for, on every system."""

from __future__ import annotations

import pytest

from winsock_ov import OperationAbortedError
from winsock_ov.errors import error_from_code
from winsock_ov.raw import constants as c


@pytest.mark.parametrize(("code", "cls", "winerror"), [
    (c.WSAECONNRESET, ConnectionResetError, c.WSAECONNRESET),
    (c.ERROR_NETNAME_DELETED, ConnectionResetError, c.WSAECONNRESET),
    (c.ERROR_PORT_UNREACHABLE, ConnectionResetError, c.WSAECONNRESET),
    (c.WSAECONNABORTED, ConnectionAbortedError, c.WSAECONNABORTED),
    (c.ERROR_CONNECTION_ABORTED, ConnectionAbortedError, c.WSAECONNABORTED),
    (c.WSAECONNREFUSED, ConnectionRefusedError, c.WSAECONNREFUSED),
    (c.ERROR_CONNECTION_REFUSED, ConnectionRefusedError, c.WSAECONNREFUSED),
    (c.WSAETIMEDOUT, TimeoutError, c.WSAETIMEDOUT),
    (c.ERROR_SEM_TIMEOUT, TimeoutError, c.WSAETIMEDOUT),
    (c.WSA_OPERATION_ABORTED, OperationAbortedError, c.WSA_OPERATION_ABORTED),
    (c.WSAEWOULDBLOCK, BlockingIOError, c.WSAEWOULDBLOCK),
    (c.ERROR_MORE_DATA, OSError, c.WSAEMSGSIZE),
])
def test_code_gives_the_right_subclass_and_winerror(code: int, cls: type, winerror: int) -> None:
    error = error_from_code(code)
    assert type(error) is cls
    assert error.winerror == winerror
    assert error.strerror


def test_aborted_is_an_oserror_but_not_a_connection_error() -> None:
    error = error_from_code(c.WSA_OPERATION_ABORTED)
    assert isinstance(error, OSError)
    assert not isinstance(error, ConnectionError)
