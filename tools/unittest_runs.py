"""Running a unittest suite module by module in child processes, and comparing
implementations: the machinery shared by asyncio_suite.py, tornado_suite.py and
twisted_suite.py.

A child runs one module (or some of its tests) with one implementation and
writes each test's start and outcome as JSON lines; a test that hangs is ended
by a watchdog and recorded as "hung" (one during which the child died
otherwise: "crashed"), and the module resumes after it.  A test
that the reference implementation passes and another does not is run again,
alternating, until ``retries_decide`` says the rounds settle ``judge_retries``'
verdict.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import sys
import time
import unittest
from collections.abc import Set
from pathlib import Path
from typing import Any, Callable

import child_process
import outcome_records as records

REPO = Path(__file__).resolve().parent.parent
MODULE_SECONDS = 1800  # a safety net for a child the per-test watchdog cannot end
RETRIES = 3
Verdict = tuple[str, str, "str | None", "list[str | None]", "list[str | None] | None"]


class RecordingResult(unittest.TextTestResult):
    """Writes each test's start and outcome (with its duration) as JSON lines.

    The outcome is decided at stopTest: a test whose only failures are in
    sub-tests gets no addFailure of its own, and no addSuccess either.  Each
    test gets a watchdog that ends the process (``Suite`` then resumes the
    module after it); ``after_test`` runs after each test.
    """

    def __init__(self, out: Any, watchdog: float, after_test: Callable[[], None],
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.out = out
        self.watchdog = watchdog
        self.after_test = after_test
        self.outcome: str | None = None
        self.started = 0.0

    def _write(self, test: unittest.TestCase, **fields: Any) -> None:
        self.out.write(json.dumps({"test": test.id(), **fields}) + "\n")
        self.out.flush()

    def startTest(self, test: unittest.TestCase) -> None:
        self._write(test, started=True)
        self.outcome = None
        self.started = time.monotonic()
        # To the process's own standard error: a suite may have swapped sys.stderr
        # for an object without a file descriptor (Tornado's runtests does).
        faulthandler.dump_traceback_later(self.watchdog, exit=True, file=sys.__stderr__)
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        self.after_test()
        self._write(test, outcome=self.outcome or "error",
                    seconds=round(time.monotonic() - self.started, 2))

    def _unless_failed(self, outcome: str) -> None:
        self.outcome = self.outcome or outcome

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._unless_failed("pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self.outcome = "fail"

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self.outcome = "error"

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase,
                   err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.outcome = "fail"

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._unless_failed("skip")

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._unless_failed("pass")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self.outcome = "fail"


def flatten(suite: unittest.TestSuite | unittest.TestCase) -> list[unittest.TestCase]:
    if isinstance(suite, unittest.TestCase):
        return [suite]
    tests = []
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            tests += flatten(item)
        else:
            tests.append(item)
    return tests


def add_child_arguments(parser: argparse.ArgumentParser, implementations: tuple[str, ...],
                        watchdog: float) -> None:
    """The options ``Suite`` gives its child (hidden from --help)."""
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=implementations, help=argparse.SUPPRESS)
    parser.add_argument("--module", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--skip", help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--watchdog", type=float, default=watchdog, help=argparse.SUPPRESS)


class RecordingRunner(unittest.TextTestRunner):
    """A runner for the child: the tests it is given, less ``--skip``, each outcome
    recorded into ``--results`` by a ``RecordingResult``."""

    def __init__(self, args: argparse.Namespace, after_test: Callable[[], None],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.args = args
        self.after_test = after_test

    def run(self, test: unittest.TestSuite | unittest.TestCase) -> unittest.TestResult:
        args = self.args
        skip = set(Path(args.skip).read_text().split()) if args.skip else set()
        tests = [case for case in flatten(test) if case.id() not in skip]
        with open(args.results, "a", encoding="utf-8") as out:
            self.resultclass = lambda *a, **k: RecordingResult(  # type: ignore[assignment]
                out, args.watchdog, self.after_test, *a, **k)
            return super().run(unittest.TestSuite(tests))


def run_tests(args: argparse.Namespace, after_test: Callable[[], None]) -> None:
    """The child's run: the module's tests (or ``--only``), less ``--skip``."""
    names = args.only or [args.module]
    RecordingRunner(args, after_test, stream=sys.stderr, verbosity=0).run(
        unittest.defaultTestLoader.loadTestsFromNames(names))


def module_of(test_id: str, modules: list[str]) -> str | None:
    """The longest of ``modules`` that ``test_id`` is in (None: a doctest named for
    its function rather than for the module that collects it)."""
    return max((m for m in modules if test_id.startswith(m + ".")), key=len, default=None)


def count_outcomes(outcomes: dict[str, str]) -> dict[str, int]:
    """How many tests of each outcome."""
    return {kind: sum(1 for outcome in outcomes.values() if outcome == kind)
            for kind in ("pass", "fail", "error", "skip", "hung", "crashed")}


def print_verdicts(headings: dict[str, str],
                   verdicts: list[tuple[str, Verdict]], reference: str) -> None:
    """Each verdict kind's heading and count, then its tests (each labelled with
    the implementation it is about) and their retries."""
    for kind, heading in headings.items():
        chosen = [(label, verdict) for label, verdict in verdicts if verdict[0] == kind]
        print(f"  {heading}: {len(chosen)}")
        for label, (_, test, first, ours, theirs) in chosen:
            print(f"    {label}{test}: first {first}, retries ours {ours}, "
                  f"{reference} {theirs}")


def print_one_against_reference(verdicts: list[Verdict], only_ours: list[str],
                                reference_outcomes: dict[str, str], *, ours: str,
                                reference: str, short: str) -> None:
    """The end of a summary comparing one implementation (``ours``: "on
    winsock_ov.aio") with its reference (``reference``: "on the default loop";
    ``short``: "default loop"): the tests passing only with ours, then the
    suspects' verdicts under their headings."""
    print(f"  passing only {ours}: {len(only_ours)}")
    for test in only_ours:
        print(f"    {test} ({short}: {reference_outcomes.get(test)})")
    headings = {
        "flaky": f"passing only {reference}, flaky here (passed on a retry {ours})",
        "unstable": f"passing {reference} once, failing every retry with both",
        "difference": f"passing only {reference} (differences)"}
    print_verdicts(headings, [("", verdict) for verdict in verdicts], short)


def passes(outcomes: dict[str, str]) -> int:
    return sum(1 for outcome in outcomes.values() if outcome == "pass")


def judge_retries(ours: list[str | None], theirs: list[str | None] | None) -> str:
    """The verdict on a test that passed with the reference and not with ours, from
    its retries; ``theirs`` is None for a test the reference skips and ours runs
    (nothing to compare with).

    "flaky": ours passed on a retry, so ours can pass it.  "difference": ours
    failed every retry and the reference passed at least one, so the reference
    passes it reproducibly and ours does not (or the reference skips it and ours
    never passes it).  "unstable": neither passed a retry, so the reference's
    first pass was not reproducible either and nothing points at ours (measured:
    an SSL test of CPython 3.11 that the C module passed once, then failed three
    times in a row, exactly like ours).
    """
    if "pass" in ours:
        return "flaky"
    return "difference" if theirs is None or "pass" in theirs else "unstable"


def retries_decide(ours: list[str | None], theirs: list[str | None] | None) -> bool:
    """Whether the rounds so far settle the verdict: RETRIES of them do, unless they
    read as a difference although the reference failed some of them too (thin
    evidence for a test unstable with both); then 2 * RETRIES."""
    if len(ours) >= 2 * RETRIES:
        return True
    if len(ours) < RETRIES:
        return False
    return (theirs is None or judge_retries(ours, theirs) != "difference"
            or theirs.count("pass") >= RETRIES)


def suspects(outcomes: dict[str, dict[str, str]], impl: str, reference: str) -> list[str]:
    """The tests ``impl`` must pass and did not: those ``reference`` passed, and those
    it skipped that ran with ``impl``."""
    theirs, ours = outcomes[reference], outcomes[impl]
    return sorted({t for t, o in theirs.items() if o == "pass" and ours.get(t) != "pass"}
                  | {t for t, o in ours.items()
                     if theirs.get(t) == "skip" and o not in ("pass", "skip")})


def judge_suspects(suite: Suite, outcomes: dict[str, dict[str, str]], impl: str,
                   reference: str, modules: list[str]) -> list[Verdict]:
    """Each suspect of ``impl`` run again (with ``reference`` too, when it ran the
    test) until the rounds decide: (verdict, test, first outcome, ours, theirs)."""
    verdicts: list[Verdict] = []
    for test in suspects(outcomes, impl, reference):
        module = module_of(test, modules)
        if module is None:  # cannot be run alone: judged on its one run
            verdicts.append(("difference", test, outcomes[impl].get(test), [], None))
            continue
        ours: list[str | None] = []
        theirs: list[str | None] | None = [] if outcomes[reference].get(test) == "pass" else None
        while not retries_decide(ours, theirs):
            ours.append(suite.run_module(impl, module, only=[test]).get(test))
            if theirs is not None:
                theirs.append(suite.run_module(reference, module, only=[test]).get(test))
        verdicts.append((judge_retries(ours, theirs), test, outcomes[impl].get(test),
                         ours, theirs))
    return verdicts


def child_env(path: list[str]) -> dict[str, str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([*path, str(REPO), environ.get("PYTHONPATH", "")])
    return environ


def read_results(path: Path) -> tuple[dict[str, str], dict[str, float], str | None]:
    """Outcomes and durations by test id, and the test that started without an outcome."""
    outcomes: dict[str, str] = {}
    seconds: dict[str, float] = {}
    started = None
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("started"):
                started = record["test"]
            else:
                outcomes[record["test"]] = record["outcome"]
                seconds[record["test"]] = record.get("seconds", 0.0)
                started = None
    return outcomes, seconds, started


WATCHDOG_MARK = b"Timeout ("  # how faulthandler's dump_traceback_later starts


def ending(output: bytes, timed_out: bool) -> str:
    """The outcome of a test that started and never finished: "hung" if the watchdog
    (or the module's time limit) ended the child, "crashed" if the child died
    otherwise (an exception outside the test, a fault)."""
    return "hung" if timed_out or WATCHDOG_MARK in output else "crashed"


class Suite:
    """One run of a suite: its child script, where it works, and what it learned.

    The child is ``script --child --impl IMPL --module M --results F --skip F
    --watchdog S [--only ID...]`` (``add_child_arguments``) and writes its
    outcomes through a ``RecordingResult``.
    """

    def __init__(self, script: Path, path: list[str], work: Path, watchdog: float) -> None:
        self.script = script
        self.path = path
        self.work = work
        self.watchdog = watchdog
        self.seconds: dict[str, float] = {}
        self.by_module: dict[str, dict[str, dict[str, str]]] = {}

    def run_modules(self, modules: list[str], labels: dict[str, str],
                    skip: Set[str] = frozenset(),
                    known: dict[str, dict[str, dict[str, str]]] | None = None
                    ) -> dict[str, dict[str, str]]:
        """Each module with each implementation (``labels``' keys, in order), a line
        of pass counts printed per module; the outcomes by implementation (and, in
        ``by_module``, by implementation and module).

        The implementations in ``known`` (``{impl: {module: {test: outcome}}}``, a
        record) are not run: their outcomes are taken from there.
        """
        known = known or {}
        outcomes: dict[str, dict[str, str]] = {impl: {} for impl in labels}
        width = max(map(len, modules), default=0) + 1
        for module in modules:
            of_module = {impl: dict(known[impl].get(module, {})) if impl in known
                         else self.run_module(impl, module, skip=skip) for impl in labels}
            print(f"{module:<{width}} passed " + "   ".join(
                f"{label}{' (recorded)' if impl in known else ''}: "
                f"{passes(of_module[impl]):>4}" for impl, label in labels.items()),
                flush=True)
            for impl in labels:
                outcomes[impl].update(of_module[impl])
                self.by_module.setdefault(impl, {})[module] = of_module[impl]
        return outcomes

    def run_module(self, impl: str, module: str, *, only: list[str] | None = None,
                   skip: Set[str] = frozenset(), watchdog: float | None = None
                   ) -> dict[str, str]:
        """Every test of ``module`` (or just ``only``) with ``impl``; hung ones resumed past."""
        tag = f"{impl}-{module}" + ("-only" if only else "")
        results, skip_file = self.work / f"{tag}.jsonl", self.work / f"{tag}.skip"
        results.unlink(missing_ok=True)
        skip_file.write_text("\n".join(sorted(skip)))
        while True:
            command = [sys.executable, str(self.script), "--child", "--impl", impl,
                       "--module", module, "--results", str(results),
                       "--skip", str(skip_file), "--watchdog", str(watchdog or self.watchdog)]
            if only:
                command += ["--only", *only]
            # Windows CPython 3.13 under Wine cannot start with a file as its
            # stdout: the child's output comes through a pipe (child_process
            # ends what a test leaves holding it).  It runs in the scratch
            # folder, where tests write their files.
            output, timed_out = child_process.run(command, env=child_env(self.path),
                                                  cwd=self.work, timeout=MODULE_SECONDS)
            if timed_out:
                output += b"\n!! killed after the module's time ran out\n"
            with open(self.work / f"{tag}.log", "ab") as log:
                log.write(output)
            outcomes, seconds, unfinished = read_results(results)
            self.seconds.update(seconds)
            if unfinished is None:
                return outcomes
            with open(results, "a", encoding="utf-8") as out:  # resume after that test
                out.write(json.dumps({"test": unfinished,
                                      "outcome": ending(output, timed_out)}) + "\n")
            skip_file.write_text("\n".join(sorted(skip | outcomes.keys() | {unfinished})))


# --- the reference's outcomes: recorded, or run now and recorded ---------------------------


def add_record_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say where the reference's record is and what this run's inputs are."""
    parser.add_argument("--record-file", help="the reference implementation's recorded "
                        "outcomes (tools/records/SUITE-VERSION.json)")
    parser.add_argument("--expected", help="JSON file: this run's pinned inputs and the "
                        "command that records again (written by tools/winenv.py)")
    parser.add_argument("--record", action="store_true",
                        help="run the reference too and write its outcomes as the record")


def outcomes_against_record(suite: Suite, name: str, args: argparse.Namespace,
                            modules: list[str], labels: dict[str, str], reference: str,
                            skip: Set[str] = frozenset()) -> dict[str, dict[str, str]]:
    """Every implementation's outcomes on ``modules``.  The reference's come from its
    record; with ``--record`` it is run now with the others and its outcomes are
    written as the record.  Raises ``outcome_records.RecordError`` (saying how to
    record again) for a record that is missing or was made from other inputs."""
    expected = records.read_expected(args.expected)
    path = Path(args.record_file)
    if args.record:
        outcomes = suite.run_modules(modules, labels, skip=skip)
        again = pass_on_retry(suite, reference)
        for tests in suite.by_module[reference].values():
            outcomes[reference].update(tests)
        records.save(path, suite=name, reference=reference, expected=expected,
                     outcomes=suite.by_module[reference])
        print(f"recorded {len(outcomes[reference])} outcomes of {labels[reference]} in "
              f"{path} ({len(again)} of them passes on a retry)", flush=True)
        return outcomes
    recorded = records.load(path, suite=name, reference=reference, expected=expected)
    return suite.run_modules(modules, labels, skip=skip, known={reference: recorded})


def pass_on_retry(suite: Suite, reference: str) -> list[str]:
    """Run each test ``reference`` did not pass (a failure, a hang) up to RETRIES times
    more; one that passes is recorded as a pass (the reference can pass it: ours is then
    asked to, with the usual retries).  A failure due to a loaded machine is thus
    not recorded for good, where it would excuse ours from that test.  (A doctest,
    named for its function, cannot be run alone: its one outcome stands.)"""
    passed = []
    for module, outcomes in suite.by_module[reference].items():
        for test in sorted(t for t, o in outcomes.items() if o not in ("pass", "skip")):
            if module_of(test, [module]) is None:
                continue
            for _ in range(RETRIES):
                if suite.run_module(reference, module, only=[test]).get(test) == "pass":
                    outcomes[test] = "pass"
                    passed.append(test)
                    break
    return passed


def unrecorded(outcomes: dict[str, dict[str, str]], reference: str) -> list[str]:
    """Tests an implementation ran that the reference's outcomes do not know (a
    record that does not cover the suite it claims to)."""
    theirs = outcomes[reference]
    return sorted({t for impl, ours in outcomes.items() if impl != reference
                   for t in ours if t not in theirs})


def reference_reruns(verdicts: list[Verdict]) -> int:
    """How many times the reference ran a suspect again (all its runs in a normal run)."""
    return sum(len(theirs or []) for _, _, _, _, theirs in verdicts)


def run_against_record(args: argparse.Namespace, run_suite: Callable[[argparse.Namespace], int],
                       **report: object) -> int:
    """``run_suite(args)``; for a record it refuses (``outcome_records.RecordError``,
    saying how to record again), the message printed and written as the JSON
    report's ``error`` (beside ``report``'s fields), and 2."""
    try:
        return run_suite(args)
    except records.RecordError as exc:
        print(f"!! {exc}", flush=True)
        Path(args.json).write_text(json.dumps({**report, "error": str(exc)}))
        return 2


def verdict_report(verdicts: list[Verdict], *, recorded_now: bool,
                   unrecorded: list[str]) -> dict[str, Any]:
    """The JSON report's fields on the suspects' verdicts and the record, the same
    for every suite compared with a reference's record."""
    return {
        **{field: [v[1] for v in verdicts if v[0] == kind]
           for field, kind in (("differences", "difference"), ("flaky", "flaky"),
                               ("unstable", "unstable"))},
        "recorded_now": recorded_now, "reference_runs": reference_reruns(verdicts),
        "unrecorded": unrecorded,
    }


def print_record_state(reference: str, recorded_now: bool, record_file: str,
                       reference_runs: int, unrecorded: list[str]) -> None:
    """The summary's lines on the reference's record: where it is, how often the
    reference ran again, and the tests the record lacks."""
    print(f"  {reference}: {'run now and recorded in' if recorded_now else 'recorded in'} "
          f"{Path(record_file).name}; run again on {reference_runs} retries")
    if unrecorded:
        print(f"  ran here but not in the record: {len(unrecorded)} (the record is "
              "incomplete: record it again)")
        for test in unrecorded:
            print(f"    {test}")
