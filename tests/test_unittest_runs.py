"""tools/unittest_runs.py: outcomes recorded per test, hung tests found, the
retry verdicts and the suspects they are asked about."""

from __future__ import annotations

import io
import json
import sys
import unittest
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import unittest_runs as runs  # noqa: E402  (after the path set-up)


def test_a_test_belongs_to_the_longest_module_name_it_starts_with() -> None:
    modules = ["test.test_asyncio.test_events", "test.test_asyncio.test_events2"]
    assert runs.module_of("test.test_asyncio.test_events2.T.test_x", modules) == modules[1]
    assert runs.module_of("test.test_asyncio.test_events.T.test_x", modules) == modules[0]


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
    stopped: list[str] = []

    def after() -> None:  # the hook sees the test stopped, before its outcome is written
        stopped.append(out.getvalue().splitlines()[-1])

    runner = unittest.TextTestRunner(
        stream=io.StringIO(),
        resultclass=lambda *a, **k: runs.RecordingResult(out, 60, after, *a, **k))
    runner.run(unittest.defaultTestLoader.loadTestsFromTestCase(Sample))
    assert len(stopped) == 6 and all('"started": true' in line for line in stopped)
    path = tmp_path / "results.jsonl"
    path.write_text(out.getvalue())
    outcomes, seconds, hung = runs.read_results(path)
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
    assert runs.read_results(path) == ({"a": "pass"}, {"a": 0.5}, "b")


@pytest.mark.parametrize("ours, theirs, verdict", [
    (["fail", "pass", "fail"], ["pass", "pass", "pass"], "flaky"),
    (["fail", "fail", "fail"], ["fail", "pass", "fail"], "difference"),
    (["fail", "error", None], ["pass", "pass", "pass"], "difference"),
    (["fail", "fail", "fail"], ["fail", "fail", "fail"], "unstable"),
    (["hung", "fail", "fail"], ["error", "fail", None], "unstable"),
])
def test_only_a_test_that_c_passes_again_and_ours_never_is_a_difference(
        ours: list[str | None], theirs: list[str | None], verdict: str) -> None:
    assert runs.judge_retries(ours, theirs) == verdict


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
    assert runs.retries_decide(ours, theirs) is decided



@pytest.mark.parametrize(("ours", "decided", "verdict"), [
    (["fail"] * 2, False, None),
    (["fail"] * 3, True, "difference"),  # C skips it: ours must pass it, and never did
    (["error", "pass", "fail"], True, "flaky"),
])
def test_a_test_c_skips_is_judged_on_ours_alone(
        ours: list[str | None], decided: bool, verdict: str | None) -> None:
    assert runs.retries_decide(ours, None) is decided
    if decided:
        assert runs.judge_retries(ours, None) == verdict


def test_suspects_are_c_passes_not_passed_and_c_skips_that_failed_here() -> None:
    outcomes = {
        "c": {"m.T.passes": "pass", "m.T.lost": "pass", "m.T.fails": "fail",
              "m.P.restored_ok": "skip", "m.P.restored_bad": "skip", "m.P.skipped": "skip",
              "m.T.skipped_here": "pass"},
        "aio": {"m.T.passes": "pass", "m.T.fails": "error", "m.P.restored_ok": "pass",
                "m.P.restored_bad": "fail", "m.P.skipped": "skip",
                "m.T.skipped_here": "skip"},
    }
    assert runs.suspects(outcomes, "aio", "c") == [
        "m.P.restored_bad", "m.T.lost", "m.T.skipped_here"]


def test_outcomes_are_counted_by_kind() -> None:
    assert runs.count_outcomes({"a": "pass", "b": "pass", "c": "hung", "d": "skip"}) == {
        "pass": 2, "fail": 0, "error": 0, "skip": 1, "hung": 1, "crashed": 0}


def test_verdicts_print_under_their_heading_with_their_retries(
        capsys: pytest.CaptureFixture[str]) -> None:
    runs.print_verdicts({"flaky": "flaky here", "difference": "differences"}, [
        ("aio ", ("difference", "m.T.t", "fail", ["fail"] * 3, ["pass"] * 3)),
        ("", ("flaky", "m.T.u", "error", ["pass"], ["pass"]))], "C")
    assert capsys.readouterr().out.splitlines() == [
        "  flaky here: 1",
        "    m.T.u: first error, retries ours ['pass'], C ['pass']",
        "  differences: 1",
        "    aio m.T.t: first fail, retries ours ['fail', 'fail', 'fail'], "
        "C ['pass', 'pass', 'pass']"]


CHILD = '''
import json, sys
args = sys.argv
results = args[args.index("--results") + 1]
skip = open(args[args.index("--skip") + 1]).read().split()
with open(results, "a") as out:
    for test in ("m.T.first", "m.T.second", "m.T.third"):
        if test in skip:
            continue
        out.write(json.dumps({"test": test, "started": True}) + "\\n")
        out.flush()
        if test == "m.T.second":
            if "{how}" == "hang":
                print("Timeout (0:01:00)!\\nThread 0x1 (most recent call first):")
                sys.exit(1)
            raise RuntimeError("the harness broke")
        out.write(json.dumps({"test": test, "outcome": "pass", "seconds": 0.1}) + "\\n")
'''


@pytest.mark.parametrize(("how", "outcome"), [("hang", "hung"), ("crash", "crashed")])
def test_a_test_the_child_never_finished_is_hung_or_crashed_and_the_module_resumes(
        tmp_path: Path, how: str, outcome: str) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD.replace("{how}", how))
    suite = runs.Suite(script, [], tmp_path, 60)
    assert suite.run_module("impl", "m") == {
        "m.T.first": "pass", "m.T.second": outcome, "m.T.third": "pass"}
    log = (tmp_path / "impl-m.log").read_text()
    assert ("Timeout (" in log) == (how == "hang") and ("the harness broke" in log) == (
        how == "crash")


def test_each_module_runs_with_each_implementation_and_prints_its_pass_counts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD.replace("{how}", "hang"))
    suite = runs.Suite(script, [], tmp_path, 60)
    outcomes = suite.run_modules(["m"], {"one": "first impl", "two": "second impl"})
    expected = {"m.T.first": "pass", "m.T.second": "hung", "m.T.third": "pass"}
    assert outcomes == {"one": expected, "two": expected}
    assert capsys.readouterr().out.splitlines() == [
        "m  passed first impl:    2   second impl:    2"]
