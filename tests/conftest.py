"""Test-suite plumbing: the ``windows`` marker and the per-tier report.

Tests marked ``@pytest.mark.windows`` need real Winsock: they skip on other
systems.  ``tools/winenv.py`` passes ``--tier-report=PATH`` and reads back which
platform ran, how many tests passed, and whether any Windows-only test skipped
(a Windows run that skips Windows tests proves nothing).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Deterministic property tests: the same examples on every run and machine.
settings.register_profile(
    "winsock_ov",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("winsock_ov")

ON_WINDOWS = sys.platform == "win32"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--tier-report", default=None, help="write a JSON summary of the run here")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_WINDOWS:
        return
    skip = pytest.mark.skip(reason="needs Winsock (Windows, or Windows CPython under Wine)")
    for item in items:
        if "windows" in item.keywords:
            item.add_marker(skip)


class TierReport:
    def __init__(self, path: str) -> None:
        self.path = path
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}
        self.windows_passed = 0
        self.windows_skipped: list[str] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        windows_only = "windows" in report.keywords
        if report.skipped:
            if report.when in ("setup", "call"):
                self.counts["skipped"] += 1
                if windows_only:
                    self.windows_skipped.append(report.nodeid)
        elif report.failed:
            self.counts["failed"] += 1
        elif report.when == "call":
            self.counts["passed"] += 1
            self.windows_passed += windows_only

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        data = {
            "platform": sys.platform,
            "python": platform.python_version(),
            **self.counts,
            "windows_passed": self.windows_passed,
            "windows_skipped": self.windows_skipped,
        }
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(data, f)


def pytest_configure(config: pytest.Config) -> None:
    # Under the installed-wheel tier (tools/winenv.py), the package must come from the wheel.
    installed = os.environ.get("WINSOCK_OV_INSTALLED")
    if installed:
        import winsock_ov

        where = os.path.normcase(os.path.abspath(winsock_ov.__file__))
        if not where.startswith(os.path.normcase(os.path.abspath(installed)) + os.sep):
            raise pytest.UsageError(f"winsock_ov was imported from {where}, "
                                    f"not from the installed wheel in {installed}")
    path = config.getoption("--tier-report")
    if path:
        config.pluginmanager.register(TierReport(path), "winsock_ov-tier-report")


def close_and_settle(*sockets: Any) -> None:
    """Close the sockets, then see every operation on them finish.

    Closing aborts what is in flight; routines of aborted operations run at this
    thread's next alertable wait, which must not be some later test's.
    """
    from support import WAIT

    from winsock_ov._registry import registry

    for sock in sockets:
        sock.close()
    for op in registry.owners():
        if getattr(op, "socket", None) in sockets:
            try:
                op.wait(WAIT)
            except Exception:  # a routine's error belongs to the test that is over
                pass


@pytest.fixture
def tcp() -> Any:
    """A connected (client, server) pair of winsock_ov Sockets, closed afterwards."""
    from support import tcp_pair

    client, server = tcp_pair()
    yield client, server
    close_and_settle(client, server)


@pytest.fixture
def udp() -> Any:
    from support import udp_pair

    first, second = udp_pair()
    yield first, second
    close_and_settle(first, second)
