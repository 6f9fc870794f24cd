"""tools/unittest_runs.py: outcomes recorded per test, hung tests found, the
retry verdicts and the suspects they are asked about."""

from __future__ import annotations

import argparse
import io
import json
import sys
import unittest
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import outcome_records as records  # noqa: E402  (after the path set-up)
import unittest_runs as runs  # noqa: E402


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


class TableSuite(runs.Suite):
    """A Suite whose runs are looked up in a table: ``outcomes[impl][test]`` (a list is
    the outcome of each successive run), every run counted."""

    def __init__(self, tmp_path: Path, outcomes: dict[str, dict[str, Any]]) -> None:
        super().__init__(tmp_path / "child.py", [], tmp_path, 60)
        self.table = outcomes
        self.runs: list[tuple[str, str, tuple[str, ...]]] = []

    def run_module(self, impl: str, module: str, *, only: list[str] | None = None,
                   skip: Any = frozenset(), watchdog: float | None = None) -> dict[str, str]:
        self.runs.append((impl, module, tuple(only or ())))
        chosen = {}
        for test, outcome in self.table[impl].items():
            if runs.module_of(test, [module]) and (only is None or test in only):
                chosen[test] = outcome.pop(0) if isinstance(outcome, list) else outcome
        return chosen


def record_args(tmp_path: Path, record: bool) -> argparse.Namespace:
    expected = tmp_path / "expected.json"
    expected.write_text(json.dumps({"inputs": {"wine": "wine-8.0"},
                                    "rerecord": "winenv.py test --x-suite 3.11 --record"}))
    return argparse.Namespace(record=record, record_file=str(tmp_path / "x-3.11.json"),
                              expected=str(expected))


LABELS = {"ref": "reference", "ours": "ours"}


def test_recording_runs_the_reference_and_gives_its_failures_retries(tmp_path: Path) -> None:
    suite = TableSuite(tmp_path, {
        "ref": {"m.T.a": "pass", "m.T.flaky": ["fail", "fail", "pass"], "m.T.broken": "fail",
                "m.T.skips": "skip"},
        "ours": {"m.T.a": "pass", "m.T.flaky": "pass", "m.T.broken": "fail",
                 "m.T.skips": "skip"}})
    outcomes = runs.outcomes_against_record(suite, "x", record_args(tmp_path, True), ["m"],
                                            LABELS, "ref")
    # the flaky failure passed its second retry; the broken one failed all three
    assert outcomes["ref"] == {"m.T.a": "pass", "m.T.flaky": "pass", "m.T.broken": "fail",
                               "m.T.skips": "skip"}
    assert [r for r in suite.runs if r[2]] == [("ref", "m", ("m.T.broken",))] * 3 + [
        ("ref", "m", ("m.T.flaky",))] * 2
    data = json.loads((tmp_path / "x-3.11.json").read_text())
    assert data["recorded_by"] == "winenv.py test --x-suite 3.11 --record"
    assert records.unpack(data["outcomes"]["m"]) == outcomes["ref"]


def test_a_normal_run_takes_the_reference_from_its_record_and_runs_only_ours(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recorded = {"m": {"m.T.a": "pass", "m.T.b": "pass"}, "n": {"n.T.c": "fail",
                                                               "n_function": "pass"}}
    records.save(tmp_path / "x-3.11.json", suite="x", reference="ref",
                 expected=records.read_expected(record_args(tmp_path, False).expected),
                 outcomes=recorded)
    suite = TableSuite(tmp_path, {"ref": {}, "ours": {"m.T.a": "pass", "m.T.b": "pass",
                                                      "n.T.c": "pass"}})
    outcomes = runs.outcomes_against_record(suite, "x", record_args(tmp_path, False),
                                            ["m", "n"], LABELS, "ref")
    # n_function: a doctest named for its function, kept under the module that ran it
    assert outcomes["ref"] == {**recorded["m"], **recorded["n"]}
    assert [impl for impl, _, _ in suite.runs] == ["ours", "ours"]
    assert "m  passed reference (recorded):    2   ours:    2" in capsys.readouterr().out


def test_ours_failing_what_the_record_passes_is_a_difference_once_the_reference_passes_again(
        tmp_path: Path) -> None:
    """A broken implementation still fails a run that has the reference only as a record."""
    recorded = {"m.T.a": "pass", "m.T.b": "pass"}
    records.save(tmp_path / "x-3.11.json", suite="x", reference="ref",
                 expected=records.read_expected(record_args(tmp_path, False).expected),
                 outcomes={"m": recorded})
    suite = TableSuite(tmp_path, {"ref": dict(recorded), "ours": {"m.T.a": "pass",
                                                                  "m.T.b": "fail"}})
    outcomes = runs.outcomes_against_record(suite, "x", record_args(tmp_path, False), ["m"],
                                            LABELS, "ref")
    verdicts = runs.judge_suspects(suite, outcomes, "ours", "ref", ["m"])
    assert verdicts == [("difference", "m.T.b", "fail", ["fail"] * 3, ["pass"] * 3)]
    assert runs.reference_reruns(verdicts) == 3  # the reference ran in this run, on the suspect


def test_a_missing_record_stops_the_run_before_anything_runs(tmp_path: Path) -> None:
    suite = TableSuite(tmp_path, {"ref": {}, "ours": {"m.T.a": "pass"}})
    with pytest.raises(records.RecordError, match=r"--x-suite 3\.11 --record"):
        runs.outcomes_against_record(suite, "x", record_args(tmp_path, False), ["m"], LABELS,
                                     "ref")
    assert suite.runs == []


def test_tests_ours_ran_that_the_record_lacks_are_named() -> None:
    outcomes = {"ref": {"m.T.a": "pass"}, "ours": {"m.T.a": "pass", "m.T.new": "pass"},
                "aio": {"m.T.other": "fail"}}
    assert runs.unrecorded(outcomes, "ref") == ["m.T.new", "m.T.other"]


def test_a_suites_report_sorts_its_verdicts_and_counts_the_references_reruns() -> None:
    verdicts: list[Any] = [("difference", "a", "fail", ["fail"] * 3, ["pass"] * 3),
                           ("flaky", "b", "fail", ["fail", "pass"], ["pass"]),
                           ("unstable", "c", "fail", ["fail"] * 3, ["fail"] * 3),
                           ("difference", "d", "hung", [], None)]
    assert runs.verdict_report(verdicts, recorded_now=False, unrecorded=["e"]) == {
        "differences": ["a", "d"], "flaky": ["b"], "unstable": ["c"],
        "recorded_now": False, "reference_runs": 7, "unrecorded": ["e"]}


def test_a_refused_record_is_the_reports_error_and_exit_code_2(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    args = argparse.Namespace(json=str(report))

    def refused(args: argparse.Namespace) -> int:
        raise records.RecordError("made with other inputs: record again with X")

    assert runs.run_against_record(args, refused, python="3.11") == 2
    assert json.loads(report.read_text()) == {
        "python": "3.11", "error": "made with other inputs: record again with X"}
    assert runs.run_against_record(args, lambda args: 1) == 1
