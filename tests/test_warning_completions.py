"""A datagram larger than the buffer: the I/O finishes within the call with a warning.

WSARecvFrom then fails at once with WSAEMSGSIZE, yet NT completes warning
statuses (STATUS_BUFFER_OVERFLOW) like successes: the event is signaled, the
routine is queued and the port gets a packet.  The
operation must stay owned until that delivery, and be reported once, by it.
Skip-on-success drops the packet of a warning as of a success (an I/O that
finished within the call): the operation then finishes at once, and its port
hands it out without a packet.
"""

from __future__ import annotations

import select
from typing import Any

import pytest
from support import WAIT, running_under_wine

import winsock_ov
from winsock_ov._unchecked import get_queued_completion_status
from winsock_ov.core import Submitted, completion_follows, submitted

DATAGRAM = b"a datagram longer than four bytes"


@pytest.mark.parametrize(("code", "how"), [
    (None, Submitted.SUCCEEDED), (0, Submitted.SUCCEEDED), (997, Submitted.PENDING),
    (995 + 2, Submitted.PENDING), (10054, Submitted.REFUSED), (10038, Submitted.REFUSED),
    (10040, Submitted.REFUSED), (234, Submitted.REFUSED)])
def test_a_call_that_wrote_no_status_is_classified_by_its_error(code: Any, how: Any) -> None:
    # WSAEMSGSIZE (10040) and ERROR_MORE_DATA (234) with nothing written: refused
    # before any I/O (an oversized datagram to send, on Windows).
    assert submitted(code) is how


def test_a_warning_written_into_the_overlapped_means_the_io_finished() -> None:
    assert submitted(10040, 0x80000005) is Submitted.WARNED  # STATUS_BUFFER_OVERFLOW
    assert submitted(234, 0x80000005) is Submitted.WARNED
    assert submitted(10054, 0x80000005) is Submitted.WARNED  # whatever the code says
    assert submitted(10040, 0xC000020D) is Submitted.REFUSED  # an error status
    assert submitted(10040, 0x103) is Submitted.REFUSED  # STATUS_PENDING: left unwritten


def test_a_completion_follows_everything_started_and_skip_drops_what_ended_at_once(
        ) -> None:
    assert [completion_follows(how) for how in Submitted] == [True, True, True, False]
    assert [completion_follows(how, skip_on_success=True) for how in Submitted] == [
        True, False, False, False]


def queue_a_long_datagram(udp: Any) -> Any:
    """Send DATAGRAM to the second socket and see it queued there; return that socket."""
    first, second = udp
    first.sendto(DATAGRAM, second.getsockname()).result(WAIT)
    ready, _, _ = select.select([second.fileno()], [], [], WAIT)
    assert ready, "the datagram never arrived"
    return first, second


def assert_truncated(op: Any) -> None:
    with pytest.raises(OSError) as exc:
        op.result(0)
    assert exc.value.winerror == 10040  # WSAEMSGSIZE


def assert_finished_at_once(second: Any) -> Any:
    """A truncating receive on ``second`` is done within the call, and nothing stays
    owned; the receive."""
    before = winsock_ov.pending_operations()
    op = second.recvfrom(4)
    assert op.completed_immediately and op.done
    assert_truncated(op)
    assert winsock_ov.pending_operations() == before
    return op


def then_the_socket_still_works(first: Any, second: Any, port: Any = None) -> None:
    """A later receive gets its own datagram and its own completion, nothing stale."""
    op = second.recvfrom(64)
    first.sendto(b"next", second.getsockname()).result(WAIT)
    if port is not None:
        assert port.dequeue(timeout=WAIT) is op
    assert op.result(WAIT) == (b"next", first.getsockname())


@pytest.mark.windows
def test_event_style_truncated_datagram_finishes_at_once_with_wsaemsgsize(udp: Any) -> None:
    first, second = queue_a_long_datagram(udp)
    assert_finished_at_once(second)
    then_the_socket_still_works(first, second)


@pytest.mark.windows
def test_routine_style_truncated_datagram_still_runs_its_routine_once(udp: Any) -> None:
    first, second = queue_a_long_datagram(udp)
    calls: list[Any] = []
    op = second.recvfrom(4, routine=calls.append)
    assert op.completed_immediately and not op.done, "its routine is queued, not yet run"
    assert winsock_ov.sleep_ex(WAIT).status is winsock_ov.WaitStatus.IO_COMPLETION
    assert calls == [op]
    assert_truncated(op)
    assert winsock_ov.sleep_ex(0).status is winsock_ov.WaitStatus.TIMEOUT
    assert calls == [op], "the routine ran exactly once"
    then_the_socket_still_works(first, second)


@pytest.mark.windows
def test_port_style_truncated_datagram_still_queues_its_packet(udp: Any) -> None:
    with winsock_ov.CompletionPort() as port:
        port.associate(udp[1], skip_on_success=False)
        first, second = queue_a_long_datagram(udp)
        op = second.recvfrom(4)
        assert op.completed_immediately and not op.done, "its packet is still to come"
        assert port.dequeue(timeout=WAIT) is op
        assert_truncated(op)
        assert port.dequeue(timeout=0) is None, "one packet, one report"
        then_the_socket_still_works(first, second, port)
        second.close()


@pytest.mark.windows
def test_with_skip_on_success_a_truncated_datagram_queues_no_packet_and_is_handed_out(
        udp: Any) -> None:
    with winsock_ov.CompletionPort() as port:
        if not port.associate(udp[1], skip_on_success=True):
            pytest.fail("skip-on-success is not honoured here: the probe said so")
        first, second = queue_a_long_datagram(udp)
        op = assert_finished_at_once(second)
        assert get_queued_completion_status(port.handle, 0)[1] == 0, "Windows queued a packet"
        assert port.dequeue(timeout=0) is op, "the port hands it out all the same"
        assert port.dequeue(timeout=0) is None, "once"
        then_the_socket_still_works(first, second, port)
        second.close()


@pytest.mark.windows
def test_an_oversized_datagram_to_send_is_refused_and_wine_delivers_it_as_a_warning(
        udp: Any) -> None:
    """MSDN: WSASendTo fails with WSAEMSGSIZE when the message is larger than the
    transport allows; nothing is started (Internal left unwritten), nothing queued.
    Wine deviates: it writes STATUS_BUFFER_OVERFLOW and queues the packet, as for a
    truncated receive; the status-based rule reports it once either way."""
    first, second = udp
    with winsock_ov.CompletionPort() as port:
        port.associate(first, skip_on_success=False)
        before = winsock_ov.pending_operations()
        if running_under_wine():
            op = first.sendto(b"x" * 70000, second.getsockname())
            assert op.completed_immediately and not op.done, "its packet is still to come"
            assert port.dequeue(timeout=WAIT) is op
            assert_truncated(op)
        else:
            with pytest.raises(OSError) as exc:
                first.sendto(b"x" * 70000, second.getsockname())
            assert exc.value.winerror == 10040
        assert port.dequeue(timeout=0) is None
        assert winsock_ov.pending_operations() == before
        first.close()
