"""tools/asyncio_suite.py's bookkeeping: module discovery, outcomes, the pinned hangs."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import unittest
from pathlib import Path
from typing import Any

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



@pytest.mark.parametrize(("ours", "decided", "verdict"), [
    (["fail"] * 2, False, None),
    (["fail"] * 3, True, "difference"),  # C skips it: ours must pass it, and never did
    (["error", "pass", "fail"], True, "flaky"),
])
def test_a_test_c_skips_is_judged_on_ours_alone(
        ours: list[str | None], decided: bool, verdict: str | None) -> None:
    assert suite.retries_decide(ours, None) is decided
    if decided:
        assert suite.judge_retries(ours, None) == verdict


def test_suspects_are_c_passes_not_passed_and_c_skips_that_failed_here() -> None:
    outcomes = {
        "c": {"m.T.passes": "pass", "m.T.lost": "pass", "m.T.fails": "fail",
              "m.P.restored_ok": "skip", "m.P.restored_bad": "skip", "m.P.skipped": "skip",
              "m.T.skipped_here": "pass"},
        "aio": {"m.T.passes": "pass", "m.T.fails": "error", "m.P.restored_ok": "pass",
                "m.P.restored_bad": "fail", "m.P.skipped": "skip",
                "m.T.skipped_here": "skip"},
    }
    assert suite.suspects(outcomes, "aio") == [
        "m.P.restored_bad", "m.T.lost", "m.T.skipped_here"]


def test_loop_classes_count_the_proactor_with_c_and_on_aio_and_the_selector() -> None:
    outcomes = {
        "c": {"m.ProactorEventLoopTests.a": "pass", "m.ProactorEventLoopTests.b": "skip",
              "m.SelectEventLoopTests.a": "pass", "m.SelectEventLoopTests.b": "pass",
              "m.OtherTests.a": "pass"},
        "aio": {"m.ProactorEventLoopTests.a": "pass", "m.ProactorEventLoopTests.b": "pass",
                "m.SelectEventLoopTests.a": "fail"},
    }
    assert suite.loop_class_passes(outcomes) == {
        "Proactor": 1, "Selector": 2, "winsock_ov.aio": 2}


class LoopTestsMixin:
    def test_reader(self) -> None:
        pass

    def test_plain(self) -> None:
        pass


def sample_loop_test_module() -> Any:
    """A module like test_events: a mixin, a Proactor class skipping some of its
    tests, a Selector class (classes made afresh: restoring changes them)."""
    class ProactorLoopTests(LoopTestsMixin, unittest.TestCase):
        __test__ = False

        def test_reader(self) -> None:
            raise unittest.SkipTest("IocpEventLoop does not have add_reader()")

        def test_plain(self) -> None:
            raise unittest.SkipTest("another reason, kept")

        def test_own(self) -> None:
            raise unittest.SkipTest("does not have add_writer(), but overrides nothing")

    class SelectorLoopTests(LoopTestsMixin, unittest.TestCase):
        __test__ = False

        def test_reader(self) -> None:
            raise unittest.SkipTest("does not have add_reader(): not a Proactor class")

    module = type(sys)("sample_module")
    module.ProactorLoopTests = ProactorLoopTests
    module.SelectorLoopTests = SelectorLoopTests
    return module


def test_only_the_proactor_classes_readiness_skips_of_inherited_tests_are_removed() -> None:
    module = sample_loop_test_module()
    assert suite.restore_readiness_tests(module) == [
        "sample_module.ProactorLoopTests.test_reader"]
    proactor = module.ProactorLoopTests
    assert "test_reader" not in vars(proactor) and "test_plain" in vars(proactor)
    assert "test_own" in vars(proactor) and "test_reader" in vars(module.SelectorLoopTests)
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(proactor).run(result)
    assert result.testsRun == 3 and len(result.skipped) == 2 and result.wasSuccessful()
