"""Helpers shared by the Windows tests: threads that cannot hang a run, free ports."""

from __future__ import annotations

import socket
import sys
import threading
from typing import Any, Callable

WAIT = 10.0  # seconds: the bound on every wait in the tests


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Worker(threading.Thread):
    """Runs ``target`` and keeps its return value or exception for ``result()``."""

    def __init__(self, target: Callable[[], Any], name: str = "worker") -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._value = self._target_fn()
        except BaseException as exc:  # re-raised in the test's thread by result()
            self._error = exc

    def result(self, timeout: float = WAIT) -> Any:
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError(f"{self.name} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._value


def wait_for(event: threading.Event, what: str, timeout: float = WAIT) -> None:
    if not event.wait(timeout):
        raise TimeoutError(f"timed out waiting for {what}")


def running_under_wine() -> bool:
    """True under Wine: its ntdll exports wine_get_version, Windows' does not."""
    import ctypes

    return sys.platform == "win32" and hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")


def tcp_pair() -> tuple[Any, Any]:
    """A connected pair of winsock_ov Sockets on loopback: (client, server side)."""
    import winsock_ov

    with winsock_ov.Socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = winsock_ov.Socket()
        client.connect(listener.getsockname())
        server, _ = listener.accept(timeout=WAIT)
    return client, server


def udp_pair() -> tuple[Any, Any]:
    """Two bound UDP winsock_ov Sockets on loopback."""
    import winsock_ov
    from winsock_ov.raw import AF_INET, SOCK_DGRAM

    first, second = winsock_ov.Socket(AF_INET, SOCK_DGRAM), winsock_ov.Socket(AF_INET, SOCK_DGRAM)
    first.bind(("127.0.0.1", 0))
    second.bind(("127.0.0.1", 0))
    return first, second


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` (1 ms to 50 ms apart) until true; fail after ``timeout``.

    For completions nothing can be waited on, such as OVERLAPPED.Internal
    flipping for an operation whose routine is queued to another thread.
    """
    from winsock_ov.waits import poll_until

    if not poll_until(predicate, timeout):
        raise TimeoutError(f"timed out waiting for {what}")
