"""Control messages: the WSA_CMSG_* arithmetic against mingw-w64's macros, and
``winsock_ov.cmsg``'s buffers against the same numbers.

The independent side is the ABI probe (tools/abi_probe.c, section "cmsg" of
tests/data/abi_mingw_x64.json): what the headers' macros give for every data
length 0..69, where a header's data starts, and which headers FIRSTHDR and
NXTHDR visit in a buffer of seven messages for every ``Control.len``.  The
portable tests need only ctypes; the Windows ones send real datagrams through
WSASendMsg and WSARecvMsg (the extension function) on loopback.
"""

from __future__ import annotations

import ctypes
import inspect
import json
import select
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import running_under_wine

from winsock_ov import cmsg, raw

ABI = json.loads((Path(__file__).parent / "data" / "abi_mingw_x64.json").read_text())["cmsg"]
SPACE, LEN = ABI["WSA_CMSG_SPACE"], ABI["WSA_CMSG_LEN"]
DATA_OFFSET = ABI["WSA_CMSG_DATA offset"]
LENGTHS = range(len(SPACE))  # the data lengths the probe covers

pytestmark_64 = pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8,
                                   reason="the probe data describes 64-bit Windows")

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


# --- the macros -------------------------------------------------------------------------


@pytestmark_64
@pytest.mark.parametrize("macro", ["WSA_CMSGHDR_ALIGN", "WSA_CMSGDATA_ALIGN", "WSA_CMSG_SPACE",
                                   "WSA_CMSG_LEN"])
def test_length_macro_gives_what_the_headers_macro_gives(macro: str) -> None:
    ours = [getattr(raw, macro)(n) for n in LENGTHS]
    assert ours == ABI[macro]


def laid_out(lengths: list[int], space: list[int] = SPACE, len_: list[int] = LEN) -> bytes:
    """Messages with data of ``lengths`` bytes, framed from the probe's numbers alone:
    each header at the sum of the SPACEs before it, its cmsg_len the probe's LEN;
    level i, type 100 + i, data bytes i+1 repeated (as the probe's own walk buffer)."""
    out = bytearray(sum(space[n] for n in lengths))
    offset = 0
    for index, n in enumerate(lengths):
        out[offset:offset + 16] = (len_[n].to_bytes(8, "little") + index.to_bytes(4, "little")
                                   + (100 + index).to_bytes(4, "little"))
        out[offset + DATA_OFFSET:offset + DATA_OFFSET + n] = bytes([index + 1]) * n
        offset += space[n]
    return bytes(out)


def walk(buffer: Any, length: int, form: str = "object") -> list[int]:
    """Offsets of the headers raw.WSA_CMSG_FIRSTHDR / NXTHDR visit, as C walks them."""
    msg = raw.WSAMSG()
    msg.Control.buf = ctypes.cast(buffer, ctypes.POINTER(raw.CHAR))
    msg.Control.len = length
    start = ctypes.cast(buffer, ctypes.c_void_p).value
    argument = {"object": msg, "pointer": ctypes.pointer(msg), "byref": ctypes.byref(msg)}[form]
    offsets = []
    cmsg_ = raw.WSA_CMSG_FIRSTHDR(argument)
    while cmsg_:
        offsets.append(ctypes.addressof(cmsg_.contents) - start)
        assert len(offsets) <= 16, "the walk does not end"
        cmsg_ = raw.WSA_CMSG_NXTHDR(argument, cmsg_)
    return offsets


@pytestmark_64
@pytest.mark.parametrize("form", ["object", "pointer", "byref"])
def test_firsthdr_and_nxthdr_visit_the_headers_the_macros_visit_for_every_control_len(
        form: str) -> None:
    data = laid_out(ABI["walk data lengths"])
    buffer = ctypes.create_string_buffer(data, len(data))
    expected = ABI["walk offsets by Control.len"]
    assert len(expected) == len(data) + 1
    for length, offsets in enumerate(expected):
        assert walk(buffer, length, form) == offsets, f"Control.len {length}"


@pytestmark_64
def test_the_walk_is_relative_to_the_buffer_wherever_it_starts() -> None:
    # The macros add lengths to the buffer's address: no alignment of their own.
    data = laid_out(ABI["walk data lengths"])
    expected = ABI["walk offsets by Control.len"][-1]
    for shift in range(8):
        room = ctypes.create_string_buffer(len(data) + 8)
        ctypes.memmove(ctypes.addressof(room) + shift, data, len(data))
        assert walk(ctypes.addressof(room) + shift, len(data)) == expected


@pytestmark_64
def test_nxthdr_of_null_is_the_first_header_and_data_follows_the_header() -> None:
    data = laid_out([4, 20])
    buffer = ctypes.create_string_buffer(data, len(data))
    msg = raw.WSAMSG()
    msg.Control.buf = ctypes.cast(buffer, ctypes.POINTER(raw.CHAR))
    msg.Control.len = len(data)
    first = raw.WSA_CMSG_NXTHDR(msg, None)
    assert ctypes.addressof(first.contents) == ctypes.addressof(buffer)
    assert raw.WSA_CMSG_NXTHDR(msg, raw.LPWSACMSGHDR()).contents.cmsg_type == 100
    pointer = raw.WSA_CMSG_DATA(first)
    assert ctypes.cast(pointer, ctypes.c_void_p).value - ctypes.addressof(buffer) == DATA_OFFSET
    assert bytes(pointer[:4]) == b"\x01" * 4


# --- winsock_ov.cmsg against the same numbers ------------------------------------------------

messages_ = st.lists(st.tuples(st.integers(INT_MIN, INT_MAX), st.integers(INT_MIN, INT_MAX),
                               st.sampled_from(LENGTHS).flatmap(lambda n: st.binary(
                                   min_size=n, max_size=n))), max_size=8)


@pytestmark_64
@given(items=messages_)
def test_pack_lays_messages_out_as_the_macros_frame_them(items: list[Any]) -> None:
    packed = cmsg.pack(items)
    assert len(packed) == sum(SPACE[len(data)] for _, _, data in items)
    offset = 0
    for level, kind, data in items:
        header = raw.WSACMSGHDR.from_buffer_copy(packed, offset)
        assert (header.cmsg_len, header.cmsg_level, header.cmsg_type) == (LEN[len(data)], level,
                                                                           kind)
        assert packed[offset + DATA_OFFSET:offset + DATA_OFFSET + len(data)] == data
        padding = packed[offset + DATA_OFFSET + len(data):offset + SPACE[len(data)]]
        assert padding == bytes(len(padding))
        offset += SPACE[len(data)]


@pytestmark_64
@given(items=messages_, shift=st.integers(0, 15))
def test_unpack_gives_back_what_pack_was_given_from_any_alignment(items: list[Any],
                                                                   shift: int) -> None:
    packed = cmsg.pack(items)
    room = bytearray(shift) + packed + bytearray(5)
    view = memoryview(room)[shift:shift + len(packed)]
    assert cmsg.unpack(view) == items
    assert cmsg.unpack(bytearray(packed)) == items


def visited(lengths: list[int], control_len: int) -> list[int]:
    """The offsets C's FIRSTHDR/NXTHDR visit in laid_out(lengths) cut to control_len:
    the macros' rule, on the probe's SPACE numbers."""
    offsets, offset = [], 0
    for n in lengths:
        if offset + DATA_OFFSET > control_len:  # the header would end past Control.len
            break
        offsets.append(offset)
        offset += SPACE[n]
    return offsets


@pytestmark_64
@given(lengths=st.lists(st.sampled_from(LENGTHS), max_size=8), data=st.data())
def test_unpack_of_a_cut_buffer_reads_the_headers_the_macros_visit_with_the_data_there(
        lengths: list[int], data: st.DataObject) -> None:
    full = laid_out(lengths)
    control_len = data.draw(st.integers(0, len(full)), label="control_len")
    got = cmsg.unpack(full[:control_len])
    offsets = visited(lengths, control_len)
    assert [(level, kind) for level, kind, _ in got] == [(i, 100 + i)
                                                         for i in range(len(offsets))]
    for index, (offset, (_, _, payload)) in enumerate(zip(offsets, got)):
        there = max(0, min(lengths[index], control_len - offset - DATA_OFFSET))
        assert payload == bytes([index + 1]) * there


@pytestmark_64
def test_unpack_of_the_probe_buffer_matches_the_probe_walk_for_every_control_len() -> None:
    data = laid_out(ABI["walk data lengths"])
    for length, offsets in enumerate(ABI["walk offsets by Control.len"]):
        assert len(cmsg.unpack(data[:length])) == len(offsets), f"Control.len {length}"


@pytestmark_64
def test_space_and_length_are_cmsg_space_and_cmsg_len() -> None:
    assert [cmsg.space(n) for n in LENGTHS] == SPACE
    assert [cmsg.length(n) for n in LENGTHS] == LEN


def test_a_header_shorter_than_a_header_is_malformed_not_an_endless_walk() -> None:
    header = raw.WSACMSGHDR(0, 0, 0)
    with pytest.raises(ValueError, match="malformed control data: cmsg_len 0"):
        cmsg.unpack(bytes(header) + bytes(16))


def test_nothing_in_an_empty_or_short_control_buffer() -> None:
    assert cmsg.unpack(b"") == []
    assert cmsg.unpack(bytes(ctypes.sizeof(raw.WSACMSGHDR) - 1)) == []
    assert cmsg.pack([]) == b""


# --- the messages that matter ------------------------------------------------------------


@given(address=st.ip_addresses(v=4), interface=st.integers(0, 2**32 - 1))
def test_ipv4_pktinfo_round_trips_as_an_in_pktinfo(address: Any, interface: int) -> None:
    level, kind, data = message = cmsg.pktinfo(str(address), interface)
    assert (level, kind, len(data)) == (raw.IPPROTO_IP, raw.IP_PKTINFO,
                                        ctypes.sizeof(raw.IN_PKTINFO))
    info = raw.IN_PKTINFO.from_buffer_copy(data)
    assert bytes(info.ipi_addr) == address.packed and info.ipi_ifindex == interface
    assert cmsg.decode(message) == (socket.inet_ntop(socket.AF_INET, address.packed), interface)
    assert cmsg.unpack(cmsg.pack([message])) == [message]


@given(address=st.ip_addresses(v=6), interface=st.integers(0, 2**32 - 1))
def test_ipv6_pktinfo_round_trips_as_an_in6_pktinfo(address: Any, interface: int) -> None:
    text = socket.inet_ntop(socket.AF_INET6, address.packed)
    level, kind, data = message = cmsg.pktinfo(text, interface)
    assert (level, kind, len(data)) == (raw.IPPROTO_IPV6, raw.IPV6_PKTINFO,
                                        ctypes.sizeof(raw.IN6_PKTINFO))
    info = raw.IN6_PKTINFO.from_buffer_copy(data)
    assert bytes(info.ipi6_addr) == address.packed and info.ipi6_ifindex == interface
    found = cmsg.decode(message)
    assert isinstance(found, cmsg.PacketInfo) and found == (text, interface)


@pytest.mark.parametrize(("build", "level", "kind", "top"), [
    (cmsg.tos, raw.IPPROTO_IP, raw.IP_TOS, 255),
    (cmsg.traffic_class, raw.IPPROTO_IPV6, raw.IPV6_TCLASS, 255),
    (lambda v: cmsg.ecn(v), raw.IPPROTO_IP, raw.IP_ECN, 3),
    (lambda v: cmsg.ecn(v, raw.AF_INET6), raw.IPPROTO_IPV6, raw.IPV6_ECN, 3),
    (lambda v: cmsg.hop_limit(v), raw.IPPROTO_IP, raw.IP_TTL, 255),
    (lambda v: cmsg.hop_limit(v, raw.AF_INET6), raw.IPPROTO_IPV6, raw.IPV6_HOPLIMIT, 255),
])
def test_one_int_messages_carry_an_int_and_refuse_values_out_of_range(
        build: Any, level: int, kind: int, top: int) -> None:
    for value in (0, 1, top):
        message = build(value)
        assert message == (level, kind, value.to_bytes(4, "little"))
        assert cmsg.decode(message) == value
    with pytest.raises(ValueError, match=f"must be in 0..{top}, not {top + 1}"):
        build(top + 1)
    with pytest.raises(ValueError):
        build(-1)
    with pytest.raises(TypeError, match="must be an int, not bool"):
        build(True)


def test_decode_reads_the_one_byte_tos_and_windows_received_ttl() -> None:
    assert cmsg.decode((raw.IPPROTO_IP, raw.IP_TOS, b"\x2e")) == 0x2E
    assert cmsg.decode((raw.IPPROTO_IP, raw.IP_HOPLIMIT, (64).to_bytes(4, "little"))) == 64


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: cmsg.pack([(0, 0, "text")]), TypeError, "bytes-like, not str"),
    (lambda: cmsg.pack([(0, 0, 5)]), TypeError, "bytes-like, not int"),
    (lambda: cmsg.pack([(0, 0)]), TypeError, r"\(level, type, data\) tuple"),
    (lambda: cmsg.pack([[0, 0, b""]]), TypeError, r"\(level, type, data\) tuple"),
    (lambda: cmsg.pack(b"\x00"), TypeError, "iterable of"),
    (lambda: cmsg.pack(5), TypeError, "iterable of"),
    (lambda: cmsg.pack([(2**31, 0, b"")]), ValueError, "level must be in"),
    (lambda: cmsg.pack([(0, "19", b"")]), TypeError, "type must be an int, not str"),
    (lambda: cmsg.pack([(False, 0, b"")]), TypeError, "level must be an int, not bool"),
    (lambda: cmsg.unpack("text"), TypeError, "bytes-like, not str"),
    (lambda: cmsg.messages(b""), TypeError, "expected a WSAMSG"),
    (lambda: cmsg.pktinfo("localhost"), ValueError, "not a numeric IPv4 or IPv6 address"),
    (lambda: cmsg.pktinfo("::g"), ValueError, "not a numeric IPv4 or IPv6 address"),
    (lambda: cmsg.pktinfo(b"127.0.0.1"), TypeError, "address must be a str, not bytes"),
    (lambda: cmsg.pktinfo("127.0.0.1", -1), ValueError, "interface must be in"),
    (lambda: cmsg.pktinfo("127.0.0.1", 2**32), ValueError, "interface must be in"),
    (lambda: cmsg.ecn(1, 10), ValueError, "family must be AF_INET"),
    (lambda: cmsg.hop_limit(1, "AF_INET"), TypeError, "family must be an int"),
    (lambda: cmsg.decode((0, 0, b"")), ValueError, "no decoder for control message level 0"),
    (lambda: cmsg.decode((raw.IPPROTO_IP, raw.IP_PKTINFO, b"\x00" * 7)), ValueError,
     "IP_PKTINFO holds 7 bytes, not 8"),
    (lambda: cmsg.decode((raw.IPPROTO_IPV6, raw.IPV6_TCLASS, b"\x00" * 2)), ValueError,
     "holds 2 bytes, not an INT"),
    (lambda: cmsg.decode((0, 0)), TypeError, r"\(level, type, data\) tuple"),
    (lambda: cmsg.space(-1), ValueError, "length must be in 0.."),
    (lambda: cmsg.space(2**32), ValueError, "length must be in 0.."),
    (lambda: cmsg.length(1.0), TypeError, "length must be an int, not float"),
])
def test_bad_input_is_a_type_or_value_error(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


@pytestmark_64
def test_the_largest_message_space_takes_still_fits_a_control_len() -> None:
    largest = 2**32 - 24  # WSA_CMSG_SPACE of it: 2**32 - 8; of one more: 2**32 + 0
    assert cmsg.space(largest) == 2**32 - 8
    with pytest.raises(ValueError, match=f"length must be in 0..{largest}, not {largest + 1}"):
        cmsg.space(largest + 1)


# --- on Windows: real datagrams through WSASendMsg and WSARecvMsg ---------------------------


def test_wsasendmsg_and_the_fetched_wsarecvmsg_have_msdn_parameter_names() -> None:
    # MSDN's prototypes: WSASendMsg(Handle, lpMsg, dwFlags, lpNumberOfBytesSent,
    # lpOverlapped, lpCompletionRoutine); LPFN_WSARECVMSG(s, lpMsg, lpdwNumberOfBytesRecvd,
    # lpOverlapped, lpCompletionRoutine).
    assert tuple(inspect.signature(raw.WSASendMsg).parameters) == (
        "Handle", "lpMsg", "dwFlags", "lpNumberOfBytesSent", "lpOverlapped",
        "lpCompletionRoutine")
    assert raw.ws2_32.EXTENSION_PARAMS["WSARecvMsg"].split() == [
        "s", "lpMsg", "lpdwNumberOfBytesRecvd", "lpOverlapped", "lpCompletionRoutine"]
    assert not hasattr(raw, "WSARecvMsg")  # not exported by ws2_32: an extension function


class Datagram:
    """A WSAMSG with its buffers, kept alive together (as C keeps its locals)."""

    def __init__(self, size: int, control: bytes | int, address: Any = None) -> None:
        self.data = ctypes.create_string_buffer(size)
        self.wsabuf = raw.WSABUF(size, ctypes.cast(self.data, ctypes.POINTER(raw.CHAR)))
        room = control if isinstance(control, int) else len(control)
        self.control = ctypes.create_string_buffer(
            control if isinstance(control, bytes) else b"", max(room, 1))
        self.storage = raw.SOCKADDR_STORAGE()
        self.msg = raw.WSAMSG()
        self.msg.lpBuffers = ctypes.pointer(self.wsabuf)
        self.msg.dwBufferCount = 1
        self.msg.Control.buf = ctypes.cast(self.control, ctypes.POINTER(raw.CHAR))
        self.msg.Control.len = room
        if address is None:
            self.msg.name = ctypes.cast(ctypes.byref(self.storage), raw.LPSOCKADDR)
            self.msg.namelen = ctypes.sizeof(self.storage)
        else:
            self.address = address
            self.msg.name = ctypes.cast(ctypes.byref(address), raw.LPSOCKADDR)
            self.msg.namelen = ctypes.sizeof(address)


def sockaddr(family: int, host: str, port: int) -> Any:
    from winsock_ov._addresses import to_sockaddr

    return to_sockaddr(family, (host, port))[0]


@pytest.mark.windows
@pytest.mark.parametrize(("family", "host", "level", "option"), [
    (raw.AF_INET, "127.0.0.1", raw.IPPROTO_IP, raw.IP_PKTINFO),
    (raw.AF_INET6, "::1", raw.IPPROTO_IPV6, raw.IPV6_PKTINFO),
])
def test_wsarecvmsg_reports_the_destination_address_and_interface_of_a_datagram(
        family: int, host: str, level: int, option: int) -> None:
    python_family = socket.AF_INET if family == raw.AF_INET else socket.AF_INET6
    with socket.socket(python_family, socket.SOCK_DGRAM) as receiver, \
            socket.socket(python_family, socket.SOCK_DGRAM) as sender:
        receiver.bind((host, 0))
        port = receiver.getsockname()[1]
        raw.setsockopt(receiver.fileno(), level, option, ctypes.byref(raw.DWORD(1)), 4)
        wsa_recv_msg = raw.get_extension_function(receiver.fileno(), raw.WSAID_WSARECVMSG,
                                                  raw.LPFN_WSARECVMSG, "WSARecvMsg")
        assert tuple(inspect.signature(wsa_recv_msg).parameters)[:2] == ("s", "lpMsg")
        # The sender names its source address in the same kind of message (Wine 8's
        # WSASendMsg ignores the control data; the datagram goes out all the same).
        out = Datagram(5, cmsg.pack([cmsg.pktinfo(host)]), sockaddr(family, host, port))
        ctypes.memmove(out.data, b"hello", 5)
        sent = raw.DWORD()
        raw.WSASendMsg(sender.fileno(), ctypes.byref(out.msg), 0, ctypes.byref(sent), None,
                       None)
        assert sent.value == 5
        assert select.select([receiver], [], [], 10)[0], "the datagram never arrived"
        received = raw.DWORD()
        into = Datagram(64, cmsg.space(ctypes.sizeof(raw.IN6_PKTINFO)) * 2)
        assert wsa_recv_msg(receiver.fileno(), ctypes.byref(into.msg), ctypes.byref(received),
                            None, None) == 0
        assert into.data.raw[:received.value] == b"hello"
        assert into.msg.dwFlags & (raw.MSG_TRUNC | raw.MSG_CTRUNC) == 0
        messages = cmsg.messages(into.msg)
        assert [(lvl, kind) for lvl, kind, _ in messages] == [(level, option)], messages
        info = cmsg.decode(messages[0])
        assert isinstance(info, cmsg.PacketInfo)
        assert info.address == host and info.interface > 0, info


@pytest.mark.windows
def test_wsarecvmsg_cuts_a_long_datagram_with_wsaemsgsize_and_msg_trunc() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        sender.sendto(b"0123456789", receiver.getsockname())
        assert select.select([receiver], [], [], 10)[0], "the datagram never arrived"
        wsa_recv_msg = raw.get_extension_function(receiver.fileno(), raw.WSAID_WSARECVMSG,
                                                  raw.LPFN_WSARECVMSG, "WSARecvMsg",
                                                  raw.ws2_32.check_socket_error)
        into = Datagram(4, 0)
        with pytest.raises(OSError) as caught:
            wsa_recv_msg(receiver.fileno(), ctypes.byref(into.msg), ctypes.byref(raw.DWORD()),
                         None, None)
        assert caught.value.winerror == raw.WSAEMSGSIZE
        assert into.data.raw == b"0123"
        # MSDN: WSARecvMsg sets MSG_TRUNC in dwFlags when the datagram was cut.
        # Wine deviation: Wine 8 reports the cut as WSAEMSGSIZE alone and leaves
        # dwFlags 0 (its recvmsg path returns only MSG_CTRUNC among the flags).
        expected = 0 if running_under_wine() else raw.MSG_TRUNC
        assert into.msg.dwFlags & raw.MSG_TRUNC == expected
