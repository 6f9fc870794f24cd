"""tools/asyncio_suite.py's bookkeeping: module discovery, outcomes, the pinned hangs."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import unittest
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
_spec = importlib.util.spec_from_file_location("asyncio_suite", TOOLS / "asyncio_suite.py")
assert _spec is not None and _spec.loader is not None
suite = importlib.util.module_from_spec(_spec)
sys.modules["asyncio_suite"] = suite
_spec.loader.exec_module(suite)


def test_modules_are_every_test_asyncio_module_and_others_using_overlapped(
        tmp_path: Path) -> None:
    package = tmp_path / "test"
    (package / "test_asyncio").mkdir(parents=True)
    for name in ("test_events.py", "test_tasks.py", "utils.py", "__init__.py"):
        (package / "test_asyncio" / name).write_text("")
    (package / "test_winapi.py").write_text("import _overlapped\n")
    (package / "test_proactor.py").write_text("from asyncio import windows_events\n")
    (package / "test_socket.py").write_text("import socket  # _overlappedness is no import\n")
    assert suite.discover_modules(tmp_path) == [
        "test.test_asyncio.test_events", "test.test_asyncio.test_tasks",
        "test.test_proactor", "test.test_winapi"]


def test_a_test_belongs_to_the_longest_module_name_it_starts_with() -> None:
    modules = ["test.test_asyncio.test_events", "test.test_asyncio.test_events2"]
    assert suite.module_of("test.test_asyncio.test_events2.T.test_x", modules) == modules[1]
    assert suite.module_of("test.test_asyncio.test_events.T.test_x", modules) == modules[0]


class Sample(unittest.TestCase):
    __test__ = False  # run by the test below through RecordingResult, not by pytest

    def test_passes(self) -> None:
        pass

    def test_fails_only_in_a_subtest(self) -> None:
        for i in range(2):
            with self.subTest(i=i):
                self.assertEqual(i, 0)

    def test_passes_every_subtest(self) -> None:
        for i in range(2):
            with self.subTest(i=i):
                pass

    def test_errors(self) -> None:
        raise RuntimeError("boom")

    @unittest.skip("not here")
    def test_skips(self) -> None:
        pass

    @unittest.expectedFailure
    def test_fails_as_expected(self) -> None:
        self.fail("expected")


def test_each_outcome_is_written_once_when_the_test_stops(tmp_path: Path) -> None:
    out = io.StringIO()
    runner = unittest.TextTestRunner(
        stream=io.StringIO(), resultclass=lambda *a, **k: suite.RecordingResult(out, 60, *a, **k))
    runner.run(unittest.defaultTestLoader.loadTestsFromTestCase(Sample))
    path = tmp_path / "results.jsonl"
    path.write_text(out.getvalue())
    outcomes, seconds, hung = suite.read_results(path)
    name = f"{__name__}.Sample."
    assert outcomes == {
        name + "test_passes": "pass", name + "test_fails_only_in_a_subtest": "fail",
        name + "test_passes_every_subtest": "pass", name + "test_errors": "error",
        name + "test_skips": "skip", name + "test_fails_as_expected": "pass"}
    assert set(seconds) == set(outcomes) and hung is None


def test_a_test_that_started_without_an_outcome_is_the_hung_one(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"test": "a", "started": True}, {"test": "a", "outcome": "pass", "seconds": 0.5},
        {"test": "b", "started": True}]))
    assert suite.read_results(path) == ({"a": "pass"}, {"a": 0.5}, "b")


@pytest.mark.parametrize("ours, theirs, verdict", [
    (["fail", "pass", "fail"], ["pass", "pass", "pass"], "flaky"),
    (["fail", "fail", "fail"], ["fail", "pass", "fail"], "difference"),
    (["fail", "error", None], ["pass", "pass", "pass"], "difference"),
    (["fail", "fail", "fail"], ["fail", "fail", "fail"], "unstable"),
    (["hung", "fail", "fail"], ["error", "fail", None], "unstable"),
])
def test_only_a_test_that_c_passes_again_and_ours_never_is_a_difference(
        ours: list[str | None], theirs: list[str | None], verdict: str) -> None:
    assert suite.judge_retries(ours, theirs) == verdict


def test_hangs_round_trip_through_their_file(tmp_path: Path) -> None:
    hangs = [{"python": "3.13", "test": "test.x.T.test_y", "reason": "why"}]
    suite.save_hangs(tmp_path / "hangs.json", hangs)
    assert suite.load_hangs(tmp_path / "hangs.json") == hangs
    assert suite.load_hangs(tmp_path / "missing.json") == []


@pytest.mark.parametrize("hang", suite.load_hangs(suite.HANGS_FILE),
                         ids=lambda hang: f"{hang['python']}-{hang['test'].rsplit('.', 1)[-1]}")
def test_every_pinned_hang_names_a_suite_a_test_and_its_reason(hang: dict[str, str]) -> None:
    assert set(hang) == {"python", "test", "reason"}
    assert hang["python"] in ("3.9", "3.11", "3.13")
    assert hang["test"].startswith("test.") and hang["test"].count(".") >= 3
    assert len(hang["reason"]) > 20


@pytest.mark.parametrize(("ours", "theirs", "decided"), [
    ([], [], False),
    (["fail"] * 2, ["pass"] * 2, False),
    (["fail"] * 3, ["pass"] * 3, True),  # a clear difference: C passes every retry
    (["pass", "fail", "fail"], ["fail"] * 3, True),  # flaky
    (["fail"] * 3, ["fail"] * 3, True),  # unstable with both
    (["fail"] * 3, ["fail", "pass", "fail"], False),  # C failed too: thin evidence
    (["fail"] * 6, ["fail", "pass", "fail", "fail", "fail", "fail"], True),
])
def test_retries_go_on_only_while_a_difference_rests_on_thin_evidence(
        ours: list[str | None], theirs: list[str | None], decided: bool) -> None:
    assert suite.retries_decide(ours, theirs) is decided

