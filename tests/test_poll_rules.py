"""The poll module's rules that need no Windows: which handle AFD is given, and
which arguments are refused (the Windows tier runs them for real in test_poll)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from winsock_ov import poll
from winsock_ov.raw import SIO_BASE_HANDLE, SIO_BSP_HANDLE_POLL, WSAENOTSOCK, WSAEOPNOTSUPP


def refusing(answers: dict[int, Any]) -> Any:
    asked: list[int] = []

    def ioctl(handle: int, code: int) -> int:
        asked.append(code)
        answer = answers[code]
        if isinstance(answer, OSError):
            raise answer
        return int(answer)

    ioctl.asked = asked  # type: ignore[attr-defined]
    return ioctl


def os_error(code: int) -> OSError:
    from winsock_ov.errors import error_from_code

    return error_from_code(code)


def test_the_base_handle_is_sio_base_handles_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    ioctl = refusing({SIO_BASE_HANDLE: 40})
    monkeypatch.setattr(poll, "_ioctl_handle", ioctl)
    assert poll.base_handle(44) == 40
    assert ioctl.asked == [SIO_BASE_HANDLE]


def test_a_layered_provider_refusing_it_is_asked_for_its_poll_handle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ioctl = refusing({SIO_BASE_HANDLE: os_error(WSAEOPNOTSUPP), SIO_BSP_HANDLE_POLL: 40})
    monkeypatch.setattr(poll, "_ioctl_handle", ioctl)
    assert poll.base_handle(44) == 40
    assert ioctl.asked == [SIO_BASE_HANDLE, SIO_BSP_HANDLE_POLL]


def test_no_socket_is_refused_without_a_second_question(monkeypatch: pytest.MonkeyPatch) -> None:
    ioctl = refusing({SIO_BASE_HANDLE: os_error(WSAENOTSOCK)})
    monkeypatch.setattr(poll, "_ioctl_handle", ioctl)
    with pytest.raises(OSError) as raised:
        poll.base_handle(44)
    assert raised.value.winerror == WSAENOTSOCK and ioctl.asked == [SIO_BASE_HANDLE]


def test_when_both_are_refused_the_first_refusal_is_raised(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ioctl = refusing({SIO_BASE_HANDLE: os_error(WSAEOPNOTSUPP),
                      SIO_BSP_HANDLE_POLL: os_error(WSAENOTSOCK)})
    monkeypatch.setattr(poll, "_ioctl_handle", ioctl)
    with pytest.raises(OSError) as raised:
        poll.base_handle(44)
    assert raised.value.winerror == WSAEOPNOTSUPP


class WithFileno:
    def __init__(self, value: Any) -> None:
        self.value = value

    def fileno(self) -> Any:
        return self.value


@pytest.mark.parametrize(("sock", "handle"), [(5, 5), (WithFileno(7), 7)])
def test_sockets_are_taken_by_object_or_handle(sock: Any, handle: int) -> None:
    assert poll.socket_handle(sock) == handle


def test_a_python_socket_gives_its_fileno() -> None:
    with socket.socket() as sock:
        assert poll.socket_handle(sock) == sock.fileno()


@pytest.mark.parametrize(("sock", "error"), [
    ("5", TypeError), (None, TypeError), (5.0, TypeError), (True, TypeError),
    (WithFileno("5"), TypeError), (WithFileno(-1), ValueError), (-1, ValueError),
    (1 << 64, ValueError),
])
def test_what_is_no_socket_is_refused(sock: Any, error: type) -> None:
    with pytest.raises(error):
        poll.socket_handle(sock)


def test_a_closed_python_socket_is_refused() -> None:
    sock = socket.socket()
    sock.close()
    with pytest.raises(ValueError, match="closed"):
        poll.socket_handle(sock)


def test_poll_events_are_the_drivers_bits() -> None:
    from winsock_ov.raw import afd

    for event in poll.PollEvents:
        assert getattr(afd, f"AFD_POLL_{event.name}") == event.value
    assert sum(poll.PollEvents) == afd.AFD_POLL_ALL
