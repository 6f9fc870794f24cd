"""winsock_ov.compat.iocpsupport's own guarantees: memory the kernel may write stays
the operation's until Windows is done with it, and nothing is left behind.

The compiled twisted_iocpsupport gives none of these (it holds a reference to
the buffers it was given, not an export, and frees the OVERLAPPED of a
truncated datagram whose packet is still coming); tests/test_iocpsupport_differential.py
compares everything both modules do alike.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import select
import signal
import socket
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from support import WAIT, released_back_to, run_python, said, wait_until

import winsock_ov
from winsock_ov._unchecked import POST_QUEUED_COMPLETION_STATUS
from winsock_ov.compat import iocpsupport
from winsock_ov.core import OWN_KEY, OverlappedIO, bool_call
from winsock_ov.notify import PortBinding

pytestmark = pytest.mark.windows

WAIT_MS = int(WAIT * 1000)
QUIET_MS = 200
WAIT_TIMEOUT = 258
ERROR_IO_PENDING = 997
WSAEMSGSIZE = 10040


@pytest.fixture(autouse=True)
def leaves_nothing_pending() -> Iterator[None]:
    """Each test's operations are over once its sockets and ports are gone: reaped
    here, so that no later test sees them end (tests/test_leaks.py counts)."""
    baseline = winsock_ov.pending_operations()
    yield
    gc.collect()
    wait_until(released_back_to(baseline), "the test's operations to be seen finished")


def collect() -> None:
    for _ in range(3):
        gc.collect()


def resizable(buffer: bytearray) -> bool:
    """Whether ``buffer`` is exported no more (a bytearray cannot be resized while it is)."""
    try:
        buffer.append(0)
    except BufferError:
        return False
    del buffer[-1]
    return True


@contextlib.contextmanager
def tcp_pair(port: Any) -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair, ``client`` tied to ``port`` (None: to no port)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with client, server:
        if port is not None:
            port.addHandle(client.fileno())
        yield client, server


class OwnPort:
    """The ``notify.Port`` of winsock_ov's own I/O on a port that Twisted dequeues."""

    closed = False

    def hand_out(self, io: OverlappedIO, owner: object, key: int) -> None:
        raise AssertionError("tied without skip-on-success")


def test_winsock_ovs_own_io_on_the_port_ends_in_get_event_and_never_reaches_the_caller(
        ) -> None:
    """A packet with core.OWN_KEY is winsock_ov's own I/O on that port (its key, not
    Twisted's: the reactor asserts every packet it gets carries one of its keys).
    getEvent ends it (its on_done runs) and returns the caller's packet behind it."""
    port = iocpsupport.CompletionPort()
    handle = port._state.handle  # what winsock_ov's own I/O would be tied to
    ended: list[tuple[int, int]] = []
    own = OverlappedIO("own", lambda code, nbytes, flags: ended.append((code, nbytes)),
                       PortBinding(OwnPort(), handle, handle, OWN_KEY))
    own.submit(handle, lambda port, ov, routine: bool_call(
        POST_QUEUED_COMPLETION_STATUS, port, 7, OWN_KEY, ctypes.byref(ov)))
    event = iocpsupport.Event(None, "twisted's")
    port.postEvent(3, 1, event)
    assert port.getEvent(WAIT_MS) == (0, 3, 1, event)
    assert ended == [(0, 7)]
    assert port.getEvent(0) == (WAIT_TIMEOUT, 0, 0, None)


def test_winsock_ovs_own_key_is_refused_as_a_callers_key() -> None:
    port = iocpsupport.CompletionPort()
    with tcp_pair(None) as (client, _):
        with pytest.raises(ValueError, match="winsock_ov's own"):
            port.addHandle(client.fileno(), OWN_KEY)
        with pytest.raises(ValueError, match="winsock_ov's own"):
            port.postEvent(0, OWN_KEY, iocpsupport.Event(None, None))
        port.addHandle(client.fileno(), OWN_KEY - 1)  # any other key is the caller's
    assert port.getEvent(0) == (WAIT_TIMEOUT, 0, 0, None)  # nothing was posted


def test_twisteds_keys_come_back_as_given_whatever_the_packet() -> None:
    port = iocpsupport.CompletionPort()
    first, second = iocpsupport.Event(None, "a"), iocpsupport.Event(None, "b")
    with tcp_pair(None) as (client, server):
        port.addHandle(client.fileno(), 0x1234)
        port.postEvent(5, 0x5678, first)
        port.postEvent(0, 0, None)
        assert iocpsupport.recv(client.fileno(), [bytearray(4)], second) == (ERROR_IO_PENDING, 0)
        server.sendall(b"ab")
        assert port.getEvent(WAIT_MS) == (0, 5, 0x5678, first)
        assert port.getEvent(WAIT_MS) == (0, 0, 0, None)
        assert port.getEvent(WAIT_MS) == (0, 2, 0x1234, second)


def test_receive_buffers_stay_exported_until_the_packet_is_dequeued() -> None:
    port = iocpsupport.CompletionPort()
    with tcp_pair(port) as (client, server):
        buffer = bytearray(8)
        event = iocpsupport.Event(None, "recv")
        assert iocpsupport.recv(client.fileno(), [buffer], event) == (ERROR_IO_PENDING, 0)
        assert not resizable(buffer)
        server.sendall(b"data")
        wait_until(lambda: buffer[:4] == b"data", "the kernel to write the data")
        assert not resizable(buffer)  # written, but its packet is still queued
        assert port.getEvent(WAIT_MS) == (0, 4, 0, event)
        assert resizable(buffer)


def test_a_bytearray_sent_stays_exported_until_its_packet_even_when_sent_at_once() -> None:
    port = iocpsupport.CompletionPort()
    with tcp_pair(port) as (client, _):
        data = bytearray(b"payload")
        event = iocpsupport.Event(None, "send")
        rc, _ = iocpsupport.send(client.fileno(), data, event)
        assert rc in (0, ERROR_IO_PENDING)
        assert not resizable(data)
        assert port.getEvent(WAIT_MS) == (0, 7, 0, event)
        assert resizable(data)


def test_a_truncated_datagram_waiting_when_recvfrom_starts_is_reported_once() -> None:
    """WSARecvFrom finishes within the call with WSAEMSGSIZE, a warning: Windows still
    queues its packet.  The caller was told by the return code; the packet ends the
    operation without being handed on (the compiled module frees the OVERLAPPED
    first and crashes on the packet)."""
    port = iocpsupport.CompletionPort()
    baseline = winsock_ov.pending_operations()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        port.addHandle(receiver.fileno(), 9)
        sender.sendto(b"a datagram of 24 bytes..", receiver.getsockname())
        ready, _, _ = select.select([receiver], [], [], WAIT)
        assert ready
        data, address, length = bytearray(4), bytearray(16), bytearray(4)
        truncated = iocpsupport.Event(None, "truncated")
        assert iocpsupport.recvfrom(receiver.fileno(), data, address, length,
                                    truncated) == (WSAEMSGSIZE, 0)
        assert data == b"a da"
        assert not resizable(data)  # its packet is still queued: still the kernel's
        assert port.getEvent(QUIET_MS)[0] == WAIT_TIMEOUT  # consumed, not handed on
        assert resizable(data) and winsock_ov.pending_operations() == baseline
        following = iocpsupport.Event(None, "following")
        assert iocpsupport.recvfrom(receiver.fileno(), bytearray(64), address, length,
                                    following) == (ERROR_IO_PENDING, 0)
        sender.sendto(b"next", receiver.getsockname())
        assert port.getEvent(WAIT_MS) == (0, 4, 9, following)


def test_a_dropped_event_is_kept_until_its_packet_then_freed() -> None:
    port = iocpsupport.CompletionPort()
    with tcp_pair(port) as (client, server):
        event = iocpsupport.Event(None, "dropped")
        gone = weakref.ref(event)
        iocpsupport.recv(client.fileno(), [bytearray(4)], event)
        del event
        collect()
        assert gone() is not None
        server.sendall(b"late")
        assert port.getEvent(WAIT_MS)[3] is gone()
        collect()
        assert gone() is None


def test_a_port_dropped_with_a_receive_pending_releases_it_once_windows_is_done() -> None:
    baseline = winsock_ov.pending_operations()
    with tcp_pair(None) as (client, server):
        port = iocpsupport.CompletionPort()
        port.addHandle(client.fileno())
        buffer = bytearray(4)
        event = iocpsupport.Event(None, "orphan")
        gone = weakref.ref(event)
        assert iocpsupport.recv(client.fileno(), [buffer], event) == (ERROR_IO_PENDING, 0)
        del port, event
        collect()
        assert gone() is not None and not resizable(buffer)  # Windows may still write
        server.sendall(b"late")
        wait_until(released_back_to(baseline), "the orphaned receive to be seen finished")
        assert buffer == b"late" and resizable(buffer)
        collect()
        assert gone() is None
        # The socket is tied to no open port now: what starts on it ends when seen ending.
        assert iocpsupport.send(client.fileno(), b"x", None)[0] in (0, ERROR_IO_PENDING)
        wait_until(released_back_to(baseline),
                   "a send on a socket of a closed port to be seen finished")


def test_an_operation_on_a_socket_tied_to_no_port_ends_when_seen_finished() -> None:
    baseline = winsock_ov.pending_operations()
    with tcp_pair(None) as (client, server):
        buffer = bytearray(4)
        assert iocpsupport.recv(client.fileno(), [buffer], None) == (ERROR_IO_PENDING, 0)
        assert not resizable(buffer)
        server.sendall(b"seen")
        wait_until(released_back_to(baseline), "the receive to be seen finished")
        assert buffer == b"seen" and resizable(buffer)


def test_refused_calls_leave_nothing_pending_and_nothing_exported() -> None:
    port = iocpsupport.CompletionPort()
    baseline = winsock_ov.pending_operations()
    with tcp_pair(port) as (client, _):
        s = client.fileno()
        data, address = bytearray(8), bytearray(16)
        refusals = [
            (TypeError, lambda: iocpsupport.recv(s, [data, b"read-only"], None)),
            (OverflowError, lambda: iocpsupport.recv(s, [data], None, -1)),
            (ValueError, lambda: iocpsupport.recvfrom(s, data, address, bytearray(5), None)),
            (TypeError, lambda: iocpsupport.recvfrom(s, data, address, b"four", None)),
            (TypeError, lambda: iocpsupport.send(s, "text", None)),
            (TypeError, lambda: iocpsupport.accept(s, 1.5, data, None)),
            (ValueError, lambda: iocpsupport.connect(s, ("not an address", 1), None)),
            (TypeError, lambda: port.postEvent(0, True, "event")),
            (OverflowError, lambda: port.postEvent(2**32, 0, "event")),
        ]
        for error, call in refusals:
            with pytest.raises(error):
                call()
            assert winsock_ov.pending_operations() == baseline
            assert resizable(data) and resizable(address)
        # The start calls' refusals are return codes: nothing pending either.
        assert iocpsupport.recv(12345, [data], None) == (10038, 0)
        assert winsock_ov.pending_operations() == baseline and resizable(data)
        assert port.getEvent(QUIET_MS)[0] == WAIT_TIMEOUT


def test_errors_of_the_synchronous_calls_carry_winerror() -> None:
    with pytest.raises(OSError) as raised:
        iocpsupport.maxAddrLen(12345)
    assert type(raised.value) is OSError
    assert raised.value.args == ("getsockopt", 10038)
    assert raised.value.winerror == 10038
    with pytest.raises(OSError) as raised:
        iocpsupport.CompletionPort().addHandle(12345)
    assert raised.value.args == ("CreateIoCompletionPort", 6)
    assert raised.value.winerror == 6


def test_get_event_lets_other_threads_run_while_it_waits() -> None:
    """GetQueuedCompletionStatus is called with the GIL released: the main thread
    posts while another waits.  Held, the post would come after the wait's 10 s."""
    port = iocpsupport.CompletionPort()
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(port.getEvent(WAIT_MS)))
    waiter.start()
    event = iocpsupport.Event(None, "posted")
    port.postEvent(3, 4, event)
    waiter.join(WAIT + 5)
    assert got == [(0, 3, 4, event)]


def test_ctrl_c_during_get_event_comes_once_the_packet_finished_its_operation() -> None:
    """As with the compiled module, the wait is not cut short; the KeyboardInterrupt
    comes as getEvent returns, its packet's operation finished, nothing left pending."""
    port = iocpsupport.CompletionPort()
    baseline = winsock_ov.pending_operations()
    with tcp_pair(port) as (client, server):
        buffer = bytearray(4)
        iocpsupport.recv(client.fileno(), [buffer], iocpsupport.Event(None, "recv"))

        def interrupt_then_send() -> None:
            signal.raise_signal(signal.SIGINT)  # Python's handler runs on the main thread
            server.sendall(b"data")

        helper = threading.Timer(0.2, interrupt_then_send)
        helper.start()
        with pytest.raises(KeyboardInterrupt):
            port.getEvent(WAIT_MS)
        helper.join(WAIT)
        assert winsock_ov.pending_operations() == baseline
        assert buffer == b"data" and resizable(buffer)


def test_install_puts_this_module_where_twisted_imports_it() -> None:
    child = run_python("""
        import sys, types
        from winsock_ov.compat import iocpsupport
        import twisted_iocpsupport.iocpsupport as compiled   # pinned in the Windows tiers
        assert iocpsupport.install(prefer_compiled=True) is compiled
        assert iocpsupport.install() is iocpsupport
        from twisted_iocpsupport.iocpsupport import CompletionPort, recv
        assert CompletionPort is iocpsupport.CompletionPort and recv is iocpsupport.recv
        # Twisted's own module already imported with the compiled one: too late.
        shim = types.ModuleType("twisted.internet.iocpreactor.iocpsupport")
        shim.CompletionPort = compiled.CompletionPort
        sys.modules[shim.__name__] = shim
        try:
            iocpsupport.install()
        except RuntimeError as exc:
            print("refused:", exc)
        shim.CompletionPort = iocpsupport.CompletionPort
        assert iocpsupport.install() is iocpsupport  # already ours: nothing to do
        print("ok")
    """)
    assert child.returncode == 0, said(child)
    assert "refused: twisted.internet.iocpreactor.iocpsupport is already imported" in child.stdout
    assert child.stdout.rstrip().endswith("ok"), said(child)


def test_install_stands_in_when_the_compiled_package_is_missing() -> None:
    child = run_python("""
        import sys
        sys.modules["twisted_iocpsupport"] = None   # as if it were not installed
        from winsock_ov.compat import iocpsupport
        assert iocpsupport.install(prefer_compiled=True) is iocpsupport
        import twisted_iocpsupport.iocpsupport as m
        assert m is iocpsupport
        print("ok", type(sys.modules["twisted_iocpsupport"]).__name__)
    """)
    assert child.returncode == 0, said(child)
    assert child.stdout.strip() == "ok module", said(child)


def test_python_m_winsock_ov_twisted_runs_a_script_with_this_module_standing_in(
        tmp_path: Any) -> None:
    script = tmp_path / "program.py"
    script.write_text(
        "import sys\n"
        "import twisted_iocpsupport.iocpsupport as m\n"
        "print(m.__name__, __name__, sys.argv[1:])\n")
    child = run_python(f"""
        import sys
        from winsock_ov.cli import main
        sys.exit(main(["twisted", "--no-reactor", {str(script)!r}, "a", "--b"]))
    """)
    assert child.returncode == 0, said(child)
    assert child.stdout.strip() == "winsock_ov.compat.iocpsupport __main__ ['a', '--b']", \
        said(child)
