"""``winsock_ov.raw.__all__`` is written out for type checkers: it must not drift.

A list built by unpacking the submodules' lists (``[*types.__all__, ...]``) is
opaque to mypy, which then sees nothing in ``from winsock_ov.raw import *``.
The literal list must name exactly what the submodules export, plus the
loader's names the package re-exports.  Portable: the raw layer imports anywhere.
"""

from __future__ import annotations

import winsock_ov.raw as raw
from winsock_ov.raw import afd, constants, kernel32, ntdll, types, ws2_32

LOADER_NAMES = {"WindowsOnlyError", "check_bool_pending", "format_winerror", "unchecked",
                "winerror_exception"}


def test_raw_all_is_the_union_of_the_submodules_lists() -> None:
    expected = LOADER_NAMES.union(*(module.__all__ for module in
                                    (afd, constants, kernel32, ntdll, types, ws2_32)))
    assert set(raw.__all__) == expected


def test_raw_all_names_each_once_and_every_name_exists() -> None:
    assert len(raw.__all__) == len(set(raw.__all__))
    missing = [name for name in raw.__all__ if not hasattr(raw, name)]
    assert missing == []


def test_star_import_of_raw_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from winsock_ov.raw import *", namespace)
    assert set(raw.__all__) <= namespace.keys()
