"""tools/asyncio_suite.py's own part: module discovery, the pinned hangs, the aio
loop's restored tests and loop-class counts (the shared machinery:
test_unittest_runs.py)."""

from __future__ import annotations

import importlib.util
import sys
import unittest
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
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


def test_hangs_round_trip_through_their_file(tmp_path: Path) -> None:
    hangs = [{"python": "3.13", "test": "test.x.T.test_y", "reason": "why"}]
    suite.save_hangs(tmp_path / "hangs.json", hangs)
    assert suite.load_hangs(tmp_path / "hangs.json") == hangs
    assert suite.load_hangs(tmp_path / "missing.json") == []


@pytest.mark.parametrize("hang", [*suite.load_hangs(suite.HANGS_FILE),
                                  *suite.load_hangs(suite.RACES_FILE)],
                         ids=lambda hang: f"{hang['python']}-{hang['test'].rsplit('.', 1)[-1]}")
def test_every_pinned_hang_or_race_names_a_suite_a_test_and_its_reason(
        hang: dict[str, str]) -> None:
    assert set(hang) == {"python", "test", "reason"}
    assert hang["python"] in ("3.9", "3.11", "3.13")
    assert hang["test"].startswith("test.") and hang["test"].count(".") >= 3
    assert len(hang["reason"]) > 20


def test_only_a_difference_on_a_pinned_race_of_this_version_is_reported_as_a_race(
        tmp_path: Path) -> None:
    path = tmp_path / "races.json"
    suite.save_hangs(path, [{"python": "3.13", "test": "test.x.T.test_race", "reason": "why"},
                            {"python": "3.11", "test": "test.x.T.test_other", "reason": "why"}])
    races = suite.pinned_races(path, "3.13")
    assert races == {"test.x.T.test_race"}
    race, other = "test.x.T.test_race", "test.x.T.test_other"
    assert suite.kind_of(("difference", race, "fail", ["fail"] * 6, ["pass"] * 6), races) == "race"
    assert suite.kind_of(("flaky", race, "fail", ["pass"], ["pass"]), races) == "flaky"
    assert suite.kind_of(("difference", other, "fail", ["fail"] * 3, ["pass"] * 3),
                         races) == "difference"


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


@pytest.mark.windows
def test_the_afd_implementation_makes_selector_event_loop_select_with_afdselector(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import selectors

    from winsock_ov.selectors import AFDSelector

    monkeypatch.setattr(selectors, "DefaultSelector", selectors.DefaultSelector)  # restored
    suite.use_afd_selector()
    loop = asyncio.SelectorEventLoop()  # type: ignore[attr-defined,unused-ignore]
    try:
        assert isinstance(loop._selector, AFDSelector)
    finally:
        loop.close()

