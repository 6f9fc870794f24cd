"""Twisted's suite run against the compiled module's *record* still fails when ours breaks.

The Twisted tier compares winsock_ov.compat.iocpsupport with the compiled
twisted_iocpsupport's recorded outcomes (tools/records/twisted-*.json), running
the compiled module only where ours fails a test the record says it passes.
Here the real tools/twisted_suite.py runs a small trial module on the IOCP
reactor with a record saying the compiled module passes it: once on winsock_ov
as it is (green), once on a deliberately broken copy whose ``send`` puts the
bytes on the wire in reverse order (the run must fail, naming the test, after
the compiled module passed it again in that run).

These tests need Twisted's folder (``WINSOCK_OV_TWISTED``, provisioned by
tools/testbed/twisted.py): tools/winenv.py runs them in one Windows tier
(``tiers.ONE_TIER_MARKERS``) and deselects them in the others.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import probe_folder, run_against_record

pytestmark = [pytest.mark.windows, pytest.mark.twisted]

PROBE = '''
from twisted.internet import defer, protocol, reactor
from twisted.trial import unittest

MESSAGE = b"bytes in the order they were sent"


class Collect(protocol.Protocol):
    def dataReceived(self, data):
        self.factory.received += data
        if len(self.factory.received) >= len(MESSAGE):
            self.transport.loseConnection()

    def connectionLost(self, reason):
        self.factory.lost.callback(self.factory.received)


class Send(protocol.Protocol):
    def connectionMade(self):
        self.transport.write(MESSAGE)

    def connectionLost(self, reason):
        self.factory.lost.callback(None)


class ProbeTests(unittest.TestCase):
    timeout = 60

    @defer.inlineCallbacks
    def test_the_server_receives_what_the_client_sent(self):
        server = protocol.ServerFactory.forProtocol(Collect)
        server.received, server.lost = b"", defer.Deferred()
        port = reactor.listenTCP(0, server, interface="127.0.0.1")
        client = protocol.ClientFactory.forProtocol(Send)
        client.lost = defer.Deferred()
        reactor.connectTCP("127.0.0.1", port.getHost().port, client)
        received = yield server.lost
        yield client.lost
        yield port.stopListening()
        self.assertEqual(received, MESSAGE)
'''
BUG = '''

# --- a deliberate bug (tests/test_twisted_suite_records.py): sends go out reversed
_real_send = send


def send(s, buff, obj, flags=0):
    return _real_send(s, bytes(buff)[::-1], obj, flags)
'''
TEST = "probe.test_probe.ProbeTests.test_the_server_receives_what_the_client_sent"


def run_suite(tmp_path: Path, *, broken: bool) -> tuple[int, dict, str]:
    twisted = os.environ.get("WINSOCK_OV_TWISTED")
    if not twisted:
        # A Wine tier counts this skip as a failure (a Windows-only test skipped).
        pytest.skip("needs Twisted's folder in WINSOCK_OV_TWISTED, which tools/winenv.py "
                    "sets in the one tier that runs these tests")
    tests = probe_folder(tmp_path / "tests", PROBE,
                         ("compat/iocpsupport.py", BUG) if broken else None)
    return run_against_record(tmp_path, "twisted_suite.py",
                              ["--twisted", twisted, "--path", str(tests)],
                              suite="twisted", reference="compiled", test=TEST)


def test_the_twisted_suite_passes_on_winsock_ov_against_the_record(tmp_path: Path) -> None:
    code, report, said = run_suite(tmp_path, broken=False)
    assert (code, report.get("differences")) == (0, []), said
    assert report["outcomes"]["winsock_ov"] == {TEST: "pass"}, said
    assert report["reference_runs"] == 0, said  # the compiled module never ran


def test_a_broken_iocpsupport_fails_the_twisted_suite_against_a_record(tmp_path: Path) -> None:
    code, report, said = run_suite(tmp_path, broken=True)
    assert code == 1, said
    assert report["differences"] == [TEST], said
    assert report["reference_runs"] == 3, said  # the compiled module passed it again, now
