"""A suite run against a *recorded* reference still fails when ours breaks.

CPython's asyncio suites compare winsock_ov's implementations with the C
``_overlapped``'s recorded outcomes (tools/outcome_records.py), running C only
where ours fails a test the record says it passes.  Here the real
tools/asyncio_suite.py runs a small asyncio test module with a record saying C
passes it: once on winsock_ov as it is (green), once on a deliberately broken
copy whose drop-in receives one byte at a time (the run must fail, naming the
test, after C passed it again in that run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, broken_winsock_ov, load_tool

windows = pytest.mark.windows
SUITE_SECONDS = 600  # a limit for a run of a dozen children on a loaded machine

PROBE = '''
import asyncio
import socket
import unittest


class ProbeTests(unittest.TestCase):
    def test_sock_recv_returns_what_was_sent(self):
        loop = asyncio.ProactorEventLoop()
        first, second = socket.socketpair()
        try:
            first.setblocking(False)
            second.setblocking(False)

            async def exchange():
                await loop.sock_sendall(first, b"hello")
                return await loop.sock_recv(second, 100)

            self.assertEqual(loop.run_until_complete(exchange()), b"hello")
        finally:
            first.close()
            second.close()
            loop.close()
'''
BUG = '''

# --- a deliberate bug (tests/test_suite_records.py): every receive asks for 1 byte
_real_wsarecv = Overlapped.WSARecv


def _one_byte(self, handle, size, flags=0):
    return _real_wsarecv(self, handle, 1, flags)


Overlapped.WSARecv = _one_byte
'''
TEST = "probe.test_probe.ProbeTests.test_sock_recv_returns_what_was_sent"


def suite_folder(folder: Path, *, broken: bool) -> Path:
    """A tests folder holding the probe module (and, broken, a winsock_ov copy whose
    drop-in has the bug: the suite tool puts this folder first on its children's path)."""
    (folder / "probe").mkdir(parents=True)
    (folder / "probe" / "__init__.py").write_text("")
    (folder / "probe" / "test_probe.py").write_text(PROBE)
    if broken:
        broken_winsock_ov(folder, "compat/overlapped.py", BUG)
    return folder


def run_suite(tmp_path: Path, tests: Path) -> tuple[int, dict, str]:
    records = load_tool("outcome_records")
    expected = {"inputs": {"suite": "probe"}, "rerecord": "(this test writes the record)"}
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    records.save(tmp_path / "record.json", suite="asyncio", reference="c", expected=expected,
                 outcomes={"probe.test_probe": {TEST: "pass"}})
    report = tmp_path / "report.json"
    child = subprocess.run(
        [sys.executable, str(REPO / "tools" / "asyncio_suite.py"), "--tests-dir", str(tests),
         "--modules", "probe.test_probe", "--ours", "winsock_ov", "--json", str(report),
         "--record-file", str(tmp_path / "record.json"),
         "--expected", str(tmp_path / "expected.json"), "--work", str(tmp_path / "work")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=SUITE_SECONDS, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    data = json.loads(report.read_text()) if report.is_file() else {}
    return child.returncode, data, child.stdout


@windows
def test_the_suite_passes_on_winsock_ov_against_the_record(tmp_path: Path) -> None:
    code, report, said = run_suite(tmp_path, suite_folder(tmp_path / "tests", broken=False))
    assert (code, report.get("differences")) == (0, []), said
    assert report["outcomes"]["winsock_ov"] == {TEST: "pass"}, said
    assert report["reference_runs"] == 0, said  # C never ran: its outcome was the record's


@windows
def test_a_broken_drop_in_fails_the_suite_although_c_only_has_a_record(tmp_path: Path) -> None:
    code, report, said = run_suite(tmp_path, suite_folder(tmp_path / "tests", broken=True))
    assert code == 1, said
    assert report["differences"] == [f"winsock_ov: {TEST}"], said
    assert report["reference_runs"] == 3, said  # C passed it again, in this run
