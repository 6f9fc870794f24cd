"""A suite run against a *recorded* reference still fails when ours breaks.

CPython's asyncio suites compare winsock_ov's implementations with the C
``_overlapped``'s recorded outcomes (tools/outcome_records.py), running C only
where ours fails a test the record says it passes.  Here the real
tools/asyncio_suite.py runs a small asyncio test module with a record saying C
passes it: once on winsock_ov as it is (green), once on a deliberately broken
copy whose drop-in receives one byte at a time (the run must fail, naming the
test, after C passed it again in that run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import probe_folder, run_against_record

windows = pytest.mark.windows

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


def run_suite(tmp_path: Path, *, broken: bool) -> tuple[int, dict, str]:
    tests = probe_folder(tmp_path / "tests", PROBE,
                         ("compat/overlapped.py", BUG) if broken else None)
    return run_against_record(tmp_path, "asyncio_suite.py",
                              ["--tests-dir", str(tests), "--ours", "winsock_ov"],
                              suite="asyncio", reference="c", test=TEST)


@windows
def test_the_suite_passes_on_winsock_ov_against_the_record(tmp_path: Path) -> None:
    code, report, said = run_suite(tmp_path, broken=False)
    assert (code, report.get("differences")) == (0, []), said
    assert report["outcomes"]["winsock_ov"] == {TEST: "pass"}, said
    assert report["reference_runs"] == 0, said  # C never ran: its outcome was the record's


@windows
def test_a_broken_drop_in_fails_the_suite_although_c_only_has_a_record(tmp_path: Path) -> None:
    code, report, said = run_suite(tmp_path, broken=True)
    assert code == 1, said
    assert report["differences"] == [f"winsock_ov: {TEST}"], said
    assert report["reference_runs"] == 3, said  # C passed it again, in this run
