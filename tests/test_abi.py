"""winsock_ov.raw against the mingw-w64 headers, name by name.

tests/data/abi_mingw_x64.json is the output of tools/abi_probe.c, compiled with
x86_64-w64-mingw32-gcc and run under Wine (``python3 tools/winenv.py abi
--update`` writes it; ``winenv.py test`` fails when it is stale).  Every size,
alignment, field offset, constant and GUID it holds must equal winsock_ov.raw's,
and everything winsock_ov.raw declares must be in it.  These checks need only
ctypes, so they run with the Linux CPython too.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import winsock_ov.raw as raw

ABI = json.loads((Path(__file__).parent / "data" / "abi_mingw_x64.json").read_text())

pytestmark = pytest.mark.skipif(
    ctypes.sizeof(ctypes.c_void_p) != 8, reason="the probe data describes 64-bit Windows"
)

# The AFD driver's declarations are in no SDK header, so not in the probe:
# tests/test_afd_layout.py asserts their documented layout instead.
EXPORTED = {name: getattr(raw, name) for name in raw.__all__ if name not in raw.afd.__all__}
NON_INTEGER_CODES = set("cuzZP")  # char, wchar, char*, wchar*, void*


def is_value_type(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, (ctypes._SimpleCData, ctypes._CFuncPtr))


def is_structure(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, (ctypes.Structure, ctypes.Union))


def python_fields(cls: type, prefix: str = "", base: int = 0) -> Iterator[tuple[str, int, int]]:
    """(dotted name, offset, size) of every field, anonymous members flattened.

    Nested private types (``_S_UN``) are entered, as C's ``offsetof(IN_ADDR,
    S_un.S_addr)`` does; public nested structures are checked on their own.
    """
    anonymous = getattr(cls, "_anonymous_", ())
    for name, field_type, *_ in cls._fields_:
        descriptor = getattr(cls, name)
        offset = base + descriptor.offset
        if name in anonymous:
            yield from python_fields(field_type, prefix, offset)
            continue
        yield prefix + name, offset, descriptor.size
        if is_structure(field_type) and field_type.__name__.startswith("_"):
            yield from python_fields(field_type, f"{prefix}{name}.", offset)


def probe_fields_of(struct: str) -> dict[str, list[int]]:
    return {k[len(struct) + 1:]: v for k, v in ABI["fields"].items()
            if k.split(".", 1)[0] == struct}


@pytest.mark.parametrize("name", sorted(ABI["types"]))
def test_type_size_and_signedness_match_the_headers(name: str) -> None:
    size, is_signed = ABI["types"][name]
    assert name in EXPORTED, f"{name} is in the headers' probe but not in winsock_ov.raw"
    ctype = EXPORTED[name]
    assert ctypes.sizeof(ctype) == size
    if issubclass(ctype, ctypes._SimpleCData) and ctype._type_ not in NON_INTEGER_CODES:
        assert (ctype(-1).value < 0) == is_signed


def test_every_declared_type_is_in_the_probe() -> None:
    declared = {name for name, obj in EXPORTED.items() if is_value_type(obj)}
    assert declared - set(ABI["types"]) == set()


@pytest.mark.parametrize("name", sorted(ABI["structures"]))
def test_structure_size_alignment_and_fields_match_the_headers(name: str) -> None:
    assert name in EXPORTED, f"{name} is in the headers' probe but not in winsock_ov.raw"
    cls = EXPORTED[name]
    size, alignment = ABI["structures"][name]
    assert (ctypes.sizeof(cls), ctypes.alignment(cls)) == (size, alignment)
    ours = {field: [offset, fsize] for field, offset, fsize in python_fields(cls)}
    assert ours == probe_fields_of(name)


def test_every_declared_structure_is_in_the_probe() -> None:
    declared = {name for name, obj in EXPORTED.items() if is_structure(obj)}
    assert declared - set(ABI["structures"]) == set()


@pytest.mark.parametrize("name", sorted(ABI["constants"]))
def test_constant_matches_the_headers(name: str) -> None:
    if "(" in name:  # a macro call such as MAKEWORD(2, 2)
        value = eval(name, {}, dict(EXPORTED))
    else:
        assert name in EXPORTED, f"{name} is in the headers' probe but not in winsock_ov.raw"
        value = EXPORTED[name]
    assert value == ABI["constants"][name]


def test_every_declared_constant_is_in_the_probe() -> None:
    declared = {name for name, obj in EXPORTED.items() if type(obj) is int}
    assert declared - set(ABI["constants"]) == set()


@pytest.mark.parametrize("name", sorted(ABI["guids"]))
def test_guid_matches_the_headers(name: str) -> None:
    assert repr(EXPORTED[name]) == f"GUID('{ABI['guids'][name]}')"


def test_every_declared_guid_is_in_the_probe() -> None:
    declared = {name for name, obj in EXPORTED.items() if isinstance(obj, raw.GUID)}
    assert declared == set(ABI["guids"])


def test_the_seed_reaches_the_ipv4_address_as_it_writes_it() -> None:
    # sendAdr.sin_addr.S_un.S_addr = inet_addr(argv[1]);
    address = raw.SOCKADDR_IN()
    address.sin_addr.S_un.S_addr = 0x0100007F
    assert bytes(address)[4:8] == b"\x7f\x00\x00\x01"
    assert address.sin_addr.s_addr == 0x0100007F
