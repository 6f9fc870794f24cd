"""CPython's own selector tests, its generic cases, run against ``AFDSelector``.

``test.test_selectors.BaseSelectorTestCase`` holds the cases every selector of
the standard library passes (register, unregister, modify, select, timeouts,
closing, ...); each selector class of that module is the base class with a
``SELECTOR``.  Here the base class gets ``AFDSelector``, and the scalable
selectors' mix-in (its test of more descriptors than FD_SETSIZE) too.

The ``test`` package is not part of the embeddable Windows CPython: the folder
holding it comes from ``$WINSOCK_OV_CPYTHON_TESTS`` (tools/winenv.py fetches
Debian's libpython3.X-testsuite into ``CACHE/asyncio-tests/3.X/lib``).  Without
the variable, or off Windows, the module is skipped as a whole (it is not a
Windows-only test of this suite: it needs a file this suite does not ship).

What cannot apply, each skipped with its reason (CPython's own reasons for the
first four):

* ``test_unregister_after_fd_close_and_reuse``: "requires posix" (``os.dup2`` on
  socket descriptors); tests/test_afd_selector.py reuses a handle value instead;
* ``test_select_interrupt_exc``, ``test_select_interrupt_noraise``:
  ``signal.alarm`` does not exist on Windows;
* ``test_above_fd_setsize``: needs the ``resource`` module (POSIX only);
  tests/test_afd_selector.py registers 10,000 sockets instead;
* ``test_modify_unregister``: it patches the private ``_selector_cls`` of the
  poll, epoll and devpoll selectors (it skips every other one, with no reason);
  tests/test_afd_selector.py checks the property itself (a modify() that
  fails unregisters).

``test_empty_select`` is skipped by CPython on Windows because
``select.select()`` refuses three empty sets; AFDSelector does not call it, so
the case runs here.
"""

from __future__ import annotations

import importlib
import os
import sys
import unittest

import pytest

ENVIRONMENT_VARIABLE = "WINSOCK_OV_CPYTHON_TESTS"
FOLDER = os.environ.get(ENVIRONMENT_VARIABLE)

if sys.platform != "win32" or not FOLDER:
    pytest.skip(f"needs Windows and ${ENVIRONMENT_VARIABLE} (a folder holding CPython's "
                "test package)", allow_module_level=True)
if not os.path.isfile(os.path.join(FOLDER, "test", "test_selectors.py")):
    raise pytest.UsageError(f"${ENVIRONMENT_VARIABLE}={FOLDER} holds no test/test_selectors.py")

sys.path.insert(0, FOLDER)
cpython = importlib.import_module("test.test_selectors")
sys.path.remove(FOLDER)

from winsock_ov.selectors import AFDSelector  # noqa: E402 - after the skip


def generic_bases() -> tuple[type, ...]:
    """The generic cases' classes (not bound at module level: pytest would collect
    3.9's BaseSelectorTestCase, a TestCase itself there, a mix-in from 3.10 on)."""
    base = cpython.BaseSelectorTestCase
    bases = (base, cpython.ScalableSelectorMixIn)
    return bases if issubclass(base, unittest.TestCase) else (*bases, unittest.TestCase)


class AFDSelectorTestCase(*generic_bases()):  # type: ignore[misc]
    """CPython's generic selector cases, with ``SELECTOR = AFDSelector``."""

    SELECTOR = AFDSelector

    # CPython skips it on Windows for select.select()'s sake; unwrapped, it runs.
    test_empty_select = cpython.BaseSelectorTestCase.test_empty_select.__wrapped__

    @unittest.skip("it patches the private _selector_cls of the poll/epoll/devpoll selectors; "
                   "tests/test_afd_selector.py checks that a modify() that fails unregisters")
    def test_modify_unregister(self) -> None:
        """Skipped: see the decorator."""


def test_the_cpython_file_has_the_generic_cases_this_module_runs() -> None:
    names = {name for name in dir(AFDSelectorTestCase) if name.startswith("test_")}
    assert {"test_register", "test_unregister", "test_modify", "test_select", "test_timeout",
            "test_close", "test_get_map", "test_selector", "test_empty_select"} <= names
    wrapped = cpython.BaseSelectorTestCase.test_empty_select
    assert getattr(wrapped, "__unittest_skip__", False)  # CPython skips it on Windows
    assert not getattr(AFDSelectorTestCase.test_empty_select, "__unittest_skip__", False)
