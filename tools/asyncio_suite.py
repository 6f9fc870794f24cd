"""CPython's own asyncio tests, on the C ``_overlapped`` and on winsock_ov's.

Run under Windows CPython 3.11 (``python3 tools/winenv.py test`` does it under
Wine) with ``--tests-dir`` pointing at a folder that holds the ``test`` package
(test_asyncio and test.support, from Debian's libpython3.11-testsuite and
libpython3.11-stdlib).  Each test module runs in a child process per
implementation; a child installs winsock_ov.compat.overlapped first when asked.

Every test gets a watchdog: one that hangs is recorded as "hung", and its
module resumes after it.  A test that passes with the C module but not with
ours is run again (three times for each implementation): if ours then passes it
is reported as flaky, otherwise as a difference.  The run fails on any
difference.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import subprocess
import sys
import time
import unittest
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MODULES = [
    "test_windows_events", "test_sock_lowlevel", "test_events", "test_streams", "test_server",
    "test_sendfile", "test_proactor_events", "test_subprocess", "test_windows_utils",
]
IMPLEMENTATIONS = ("c", "winsock_ov")
PER_TEST_SECONDS = 60
RETRIES = 3


# --- the child: one module, one implementation ---------------------------------------------


class RecordingResult(unittest.TextTestResult):
    """Writes each test's start and outcome as a JSON line, as they happen."""

    def __init__(self, out: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.out = out

    def _write(self, test: unittest.TestCase, **fields: Any) -> None:
        self.out.write(json.dumps({"test": test.id(), **fields}) + "\n")
        self.out.flush()

    def startTest(self, test: unittest.TestCase) -> None:
        self._write(test, started=True)
        faulthandler.dump_traceback_later(PER_TEST_SECONDS, exit=True)
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._write(test, outcome="pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._write(test, outcome="fail")

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self._write(test, outcome="error")

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._write(test, outcome="skip")

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._write(test, outcome="pass")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._write(test, outcome="fail")


def flatten(suite: unittest.TestSuite) -> list[unittest.TestCase]:
    tests = []
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            tests += flatten(item)
        else:
            tests.append(item)
    return tests


def run_child(args: argparse.Namespace) -> int:
    if args.impl == "winsock_ov":
        from winsock_ov.compat import overlapped

        overlapped.install()
    import _overlapped

    expected = "winsock_ov.compat.overlapped" if args.impl == "winsock_ov" else "_overlapped"
    assert _overlapped.__name__ == expected, _overlapped.__name__
    skip = set(Path(args.skip).read_text().split()) if args.skip else set()
    names = args.only or [f"test.test_asyncio.{args.module}"]
    tests = [test for test in flatten(unittest.defaultTestLoader.loadTestsFromNames(names))
             if test.id() not in skip]
    with open(args.results, "a", encoding="utf-8") as out:
        runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=0,
                                         resultclass=lambda *a, **k: RecordingResult(out, *a,
                                                                                      **k))
        runner.run(unittest.TestSuite(tests))
    return 0


# --- the parent ---------------------------------------------------------------------------------


def child_env(tests_dir: str) -> dict[str, str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([tests_dir, str(REPO),
                                             environ.get("PYTHONPATH", "")])
    return environ


def read_results(path: Path) -> tuple[dict[str, str], str | None]:
    """Outcomes by test id, and the test that started without an outcome (hung)."""
    outcomes: dict[str, str] = {}
    started = None
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("started"):
                started = record["test"]
            else:
                outcomes[record["test"]] = record["outcome"]
                started = None
    return outcomes, started


def run_module(impl: str, module: str, tests_dir: str, work: Path,
               only: list[str] | None = None) -> dict[str, str]:
    """Every test of ``module`` (or just ``only``) with ``impl``; hung ones resumed past."""
    tag = f"{impl}-{module}" + ("-retry" if only else "")
    results, skip = work / f"{tag}.jsonl", work / f"{tag}.skip"
    results.unlink(missing_ok=True)
    skip.write_text("")
    while True:
        command = [sys.executable, __file__, "--child", "--impl", impl,
                   "--module", module, "--results", str(results), "--skip", str(skip)]
        if only:
            command += ["--only", *only]
        with open(work / f"{tag}.log", "a", encoding="utf-8") as log:
            subprocess.run(command, env=child_env(tests_dir), stdin=subprocess.DEVNULL,
                           stdout=log, stderr=subprocess.STDOUT, timeout=PER_TEST_SECONDS * 40)
        outcomes, hung = read_results(results)
        if hung is None:
            return outcomes
        with open(results, "a", encoding="utf-8") as out:  # resume after the hung test
            out.write(json.dumps({"test": hung, "outcome": "hung"}) + "\n")
        skip.write_text("\n".join(outcomes.keys() | {hung}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests-dir", help="folder holding the test package")
    parser.add_argument("--json", default="asyncio-suite.json")
    parser.add_argument("--work", default=None, help="scratch folder (default: next to --json)")
    parser.add_argument("--modules", nargs="*", default=MODULES)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--module", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--skip", help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)
    if not args.tests_dir:
        parser.error("--tests-dir is required")

    work = Path(args.work or Path(args.json).parent / "asyncio-work")
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcomes: dict[str, dict[str, str]] = {impl: {} for impl in IMPLEMENTATIONS}
    for module in args.modules:
        for impl in IMPLEMENTATIONS:
            outcomes[impl].update(run_module(impl, module, args.tests_dir, work))
        passed = {impl: sum(1 for t, o in outcomes[impl].items() if o == "pass" and
                            f".{module}." in t) for impl in IMPLEMENTATIONS}
        print(f"{module:<24} C: {passed['c']:>4} passed   winsock_ov: {passed['winsock_ov']:>4} "
              "passed", flush=True)

    suspects = sorted(t for t, o in outcomes["c"].items()
                      if o == "pass" and outcomes["winsock_ov"].get(t) != "pass")
    differences, flaky = [], []
    for test in suspects:
        module = test.split(".")[2]
        ours = [run_module("winsock_ov", module, args.tests_dir, work, [test]).get(test)
                for _ in range(RETRIES)]
        theirs = [run_module("c", module, args.tests_dir, work, [test]).get(test)
                  for _ in range(RETRIES)]
        if "pass" in ours:
            flaky.append((test, outcomes["winsock_ov"].get(test), ours, theirs))
        else:
            differences.append((test, outcomes["winsock_ov"].get(test), ours, theirs))

    counts = {impl: {kind: sum(1 for o in outcomes[impl].values() if o == kind)
                     for kind in ("pass", "fail", "error", "skip", "hung")}
              for impl in IMPLEMENTATIONS}
    print(f"\nCPython's asyncio tests ({len(args.modules)} modules) "
          f"in {time.monotonic() - started:.0f} s")
    for impl in IMPLEMENTATIONS:
        label = "C _overlapped" if impl == "c" else "winsock_ov"
        print(f"  {label:<14} " + ", ".join(f"{n} {k}" for k, n in counts[impl].items()))
    only_ours = sorted(t for t, o in outcomes["winsock_ov"].items()
                       if o == "pass" and outcomes["c"].get(t) != "pass")
    print(f"  passing only with winsock_ov: {len(only_ours)}")
    for test in only_ours:
        print(f"    {test} (C: {outcomes['c'].get(test)})")
    print(f"  passing only with C, flaky here (passed on retry with winsock_ov): {len(flaky)}")
    for test, first, ours, theirs in flaky:
        print(f"    {test}: first {first}, retries ours {ours}, C {theirs}")
    print(f"  passing only with C (differences): {len(differences)}")
    for test, first, ours, theirs in differences:
        print(f"    {test}: {first}, retries ours {ours}, C {theirs}")
    Path(args.json).write_text(json.dumps({
        "counts": counts, "differences": [d[0] for d in differences],
        "flaky": [f[0] for f in flaky], "only_winsock_ov": only_ours,
        "outcomes": outcomes,
    }, indent=1))
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
