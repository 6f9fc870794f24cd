"""The AFD poll structures against their documented layout.

No SDK header declares them (so the ABI probe cannot), and the driver reads
them by offset: a wrong field is a poll on the wrong handle.  ctypes lays them
out from the field types, so the 32-bit figures are what a 32-bit Python gets.
"""

from __future__ import annotations

import ctypes

import pytest

from winsock_ov.raw import afd

POINTER_SIZE = ctypes.sizeof(ctypes.c_void_p)

# (size, alignment, {field: (offset, size)}) per pointer size, as documented.
HANDLE_INFO = {
    8: (16, 8, {"Handle": (0, 8), "Events": (8, 4), "Status": (12, 4)}),
    4: (12, 4, {"Handle": (0, 4), "Events": (4, 4), "Status": (8, 4)}),
}
POLL_INFO = {
    8: (32, 8, {"Timeout": (0, 8), "NumberOfHandles": (8, 4), "Exclusive": (12, 4),
                "Handles": (16, 16)}),
    4: (32, 8, {"Timeout": (0, 8), "NumberOfHandles": (8, 4), "Exclusive": (12, 4),
                "Handles": (16, 12)}),
}


def layout(cls: type) -> tuple[int, int, dict[str, tuple[int, int]]]:
    fields = {name: (getattr(cls, name).offset, getattr(cls, name).size)
              for name, *_ in cls._fields_}
    return ctypes.sizeof(cls), ctypes.alignment(cls), fields


@pytest.mark.parametrize(("cls", "documented"), [
    (afd.AFD_POLL_HANDLE_INFO, HANDLE_INFO),
    (afd.AFD_POLL_INFO, POLL_INFO),
])
def test_layout_is_the_documented_one(cls: type, documented: dict[int, object]) -> None:
    assert layout(cls) == documented[POINTER_SIZE]


def test_status_is_signed_as_an_ntstatus() -> None:
    entry = afd.AFD_POLL_HANDLE_INFO(Status=-1073741823)  # STATUS_UNSUCCESSFUL
    assert entry.Status < 0


def test_ioctl_is_afds_poll_request() -> None:
    file_device_network, afd_poll, method_buffered = 0x12, 9, 0
    assert afd.IOCTL_AFD_POLL == (file_device_network << 12) | (afd_poll << 2) | method_buffered


def test_events_are_distinct_bits_and_all_covers_them() -> None:
    events = [value for name, value in vars(afd).items()
              if name.startswith("AFD_POLL_") and name != "AFD_POLL_ALL"
              and isinstance(value, int)]
    assert len(events) == 9
    assert all(value & (value - 1) == 0 for value in events)
    combined = 0
    for value in events:
        assert not combined & value
        combined |= value
    assert combined == afd.AFD_POLL_ALL


def test_names_are_exported_by_raw() -> None:
    import winsock_ov.raw as raw

    assert set(afd.__all__) <= set(raw.__all__)
