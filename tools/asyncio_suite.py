"""CPython's own asyncio tests: on the C ``_overlapped``, on winsock_ov's, and on winsock_ov.aio.

Run under Windows CPython (``python3 tools/winenv.py test`` does it under Wine
for 3.9, 3.11 and 3.13) with ``--tests-dir`` pointing at a folder that holds the
``test`` package (test_asyncio and test.support, from Debian's
libpython3.X-testsuite and libpython3.X-stdlib).  The modules run are every
``test_asyncio`` module and any other test module of the package that imports
``_overlapped`` or ``asyncio.windows_events``.  Each module runs in a child
process per implementation:

* ``c``: asyncio as shipped;
* ``winsock_ov``: winsock_ov.compat.overlapped installed as ``_overlapped`` first;
* ``aio``: asyncio's Proactor loop and default policy pointed at winsock_ov.aio's
  loop (the C ``_overlapped`` stays for whatever imports it), and the generic loop
  tests the Proactor test classes skip for want of add_reader/add_writer put back.

A test that C skips and that runs on ours (the restored reader/writer tests)
must pass there.

Every test gets a watchdog: one that hangs is recorded as "hung", and its
module resumes after it.  Tests known to hang with *both* modules under Wine are
pinned, with their reason, in ``tools/asyncio_hangs.json`` and are not run;
``--prove-hangs`` runs each of them once more with each module and checks that
it still hangs with both, dropping from that file the ones that no longer do
(they are then compared like any other test).  A hang with both modules that is
not pinned fails the run.

A test that passes with the C module but not with one of ours is run again,
three times with each of the two, alternating (see ``judge_retries``); six times
when that reads as a difference although C failed some retries too.  Only a
test that ours keeps failing while C passes again is a difference (a restored
test: that ours never passes), and the run fails on any difference.
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import time
import unittest
from collections.abc import Set
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HANGS_FILE = REPO / "tools" / "asyncio_hangs.json"
IMPLEMENTATIONS = ("c", "winsock_ov", "aio")
OURS = ("winsock_ov", "aio")
LABELS = {"c": "C _overlapped", "winsock_ov": "winsock_ov", "aio": "winsock_ov.aio"}
# The pinned hangs hang with both _overlapped modules; the aio loop runs the
# same proactor code, and a test that hangs on C passes nowhere to compare with.
PROOF_IMPLEMENTATIONS = ("c", "winsock_ov")
# How the Proactor test classes skip the generic loop tests that need add_reader
# or add_writer (test_events: "IocpEventLoop does not have add_reader()").
READINESS_SKIP = "does not have add_"
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
# Seconds a test may run before it counts as hung.  The slowest test that
# finishes (printed at the end of every run) took 15.8 s under Wine on a 2-core
# machine loaded with two other test runs and a CPU-bound process; a hung one
# never finishes.
PER_TEST_SECONDS = 60
# Proving that a pinned test still hangs: twice that slowest finish is enough.
HANG_PROOF_SECONDS = 30
MODULE_SECONDS = 1800  # a safety net for a child the per-test watchdog cannot end
RETRIES = 3
USES_OVERLAPPED = re.compile(r"\b_overlapped\b|\bwindows_events\b")


# --- the child: one module, one implementation ---------------------------------------------


class RecordingResult(unittest.TextTestResult):
    """Writes each test's start and outcome (with its duration) as JSON lines.

    The outcome is decided at stopTest: a test whose only failures are in
    sub-tests gets no addFailure of its own, and no addSuccess either.
    """

    def __init__(self, out: Any, watchdog: float, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.out = out
        self.watchdog = watchdog
        self.outcome: str | None = None
        self.started = 0.0

    def _write(self, test: unittest.TestCase, **fields: Any) -> None:
        self.out.write(json.dumps({"test": test.id(), **fields}) + "\n")
        self.out.flush()

    def startTest(self, test: unittest.TestCase) -> None:
        self._write(test, started=True)
        self.outcome = None
        self.started = time.monotonic()
        faulthandler.dump_traceback_later(self.watchdog, exit=True)
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        # A test that fails because asserts are compiled out (the embeddable
        # build's stdlib has none) can leave its own policy behind; on 3.9 that
        # breaks every later test of the module, with either _overlapped.
        # (Imported here: asyncio loads windows_events, which must come after
        # install().)
        import asyncio

        asyncio.set_event_loop_policy(None)
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


def flatten(suite: unittest.TestSuite) -> list[unittest.TestCase]:
    tests = []
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            tests += flatten(item)
        else:
            tests.append(item)
    return tests


def use_aio_loop() -> None:
    """Point asyncio's Proactor loop and default policy at winsock_ov.aio's, so that
    tests building ``asyncio.ProactorEventLoop()`` or ``asyncio.new_event_loop()``
    get it."""
    import asyncio
    import asyncio.windows_events as windows_events

    from winsock_ov import aio

    for module in (asyncio, windows_events):
        module.ProactorEventLoop = aio.EventLoop  # type: ignore[attr-defined,misc]
        module.DefaultEventLoopPolicy = aio.EventLoopPolicy  # type: ignore[attr-defined,misc]
        module.WindowsProactorEventLoopPolicy = (  # type: ignore[attr-defined,misc]
            aio.EventLoopPolicy)
    asyncio.set_event_loop_policy(None)
    loop = asyncio.new_event_loop()
    loop.close()
    if not isinstance(loop, aio.EventLoop):
        raise SystemExit(f"asyncio.new_event_loop() made a {type(loop).__name__}")


def restore_readiness_tests(module: Any) -> list[str]:
    """Remove, from ``module``'s Proactor test classes, their overrides that skip an
    inherited test for want of add_reader/add_writer, so that the inherited test
    runs; the ids of the tests put back."""
    restored = []
    for class_name, cls in vars(module).items():
        if not (isinstance(cls, type) and issubclass(cls, unittest.TestCase)
                and "Proactor" in class_name):
            continue
        for name, member in list(vars(cls).items()):
            if (name.startswith("test_") and inspect.isfunction(member)
                    and READINESS_SKIP in inspect.getsource(member)
                    and any(name in vars(base) for base in cls.__mro__[1:])):
                delattr(cls, name)
                restored.append(f"{module.__name__}.{class_name}.{name}")
    return restored


def run_child(args: argparse.Namespace) -> int:
    if args.impl == "winsock_ov":
        from winsock_ov.compat import overlapped

        overlapped.install()
    elif args.impl == "aio":
        use_aio_loop()
    import _overlapped

    expected = "winsock_ov.compat.overlapped" if args.impl == "winsock_ov" else "_overlapped"
    if _overlapped.__name__ != expected:
        raise SystemExit(f"_overlapped is {_overlapped.__name__}, not {expected}")
    if args.impl == "aio":
        restored = restore_readiness_tests(importlib.import_module(args.module))
        print(f"restored for the aio loop: {restored}", file=sys.stderr)
    skip = set(Path(args.skip).read_text().split()) if args.skip else set()
    names = args.only or [args.module]
    tests = [test for test in flatten(unittest.defaultTestLoader.loadTestsFromNames(names))
             if test.id() not in skip]
    with open(args.results, "a", encoding="utf-8") as out:
        runner = unittest.TextTestRunner(
            stream=sys.stderr, verbosity=0,
            resultclass=lambda *a, **k: RecordingResult(out, args.watchdog, *a, **k))
        runner.run(unittest.TestSuite(tests))
    return 0


# --- the parent ---------------------------------------------------------------------------------


def discover_modules(tests_dir: Path) -> list[str]:
    """Every test_asyncio module, plus other test modules that use ``_overlapped``."""
    package = tests_dir / "test"
    modules = [f"test.test_asyncio.{p.stem}"
               for p in sorted((package / "test_asyncio").glob("test_*.py"))]
    for path in sorted(package.glob("test_*.py")):
        if USES_OVERLAPPED.search(path.read_text(encoding="utf-8", errors="replace")):
            modules.append(f"test.{path.stem}")
    return modules


def module_of(test_id: str, modules: list[str]) -> str:
    return max((m for m in modules if test_id.startswith(m + ".")), key=len)


def module_passes(outcomes: dict[str, str], module: str) -> int:
    return sum(1 for t, o in outcomes.items() if o == "pass" and t.startswith(module + "."))


def load_hangs(path: Path) -> list[dict[str, str]]:
    return list(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else []


def save_hangs(path: Path, hangs: list[dict[str, str]]) -> None:
    path.write_text(json.dumps(hangs, indent=1) + "\n", encoding="utf-8")


def judge_retries(ours: list[str | None], theirs: list[str | None] | None) -> str:
    """The verdict on a test that passed with C and not with ours, from its retries;
    ``theirs`` is None for a test C skips and ours runs (nothing to compare with).

    "flaky": ours passed on a retry, so ours can pass it.  "difference": ours
    failed every retry and C passed at least one, so C passes it reproducibly
    and ours does not (or C skips it and ours never passes it).  "unstable":
    neither passed a retry, so C's first pass was not reproducible either and
    nothing points at ours (measured: an SSL test on 3.11 that C passed once,
    then failed three times in a row, exactly like ours).
    """
    if "pass" in ours:
        return "flaky"
    return "difference" if theirs is None or "pass" in theirs else "unstable"


def retries_decide(ours: list[str | None], theirs: list[str | None] | None) -> bool:
    """Whether the rounds so far settle the verdict: RETRIES of them do, unless they
    read as a difference although C failed some of them too (thin evidence for a
    test unstable with both); then 2 * RETRIES."""
    if len(ours) >= 2 * RETRIES:
        return True
    if len(ours) < RETRIES:
        return False
    return (theirs is None or judge_retries(ours, theirs) != "difference"
            or theirs.count("pass") >= RETRIES)


def suspects(outcomes: dict[str, dict[str, str]], impl: str) -> list[str]:
    """The tests ``impl`` must pass and did not: those C passed, and those C skipped
    that ran with ``impl`` (the readiness tests restored for the aio loop)."""
    c, ours = outcomes["c"], outcomes[impl]
    return sorted({t for t, o in c.items() if o == "pass" and ours.get(t) != "pass"}
                  | {t for t, o in ours.items()
                     if c.get(t) == "skip" and o not in ("pass", "skip")})


def loop_class_passes(outcomes: dict[str, dict[str, str]]) -> dict[str, int]:
    """Passing tests of the classes named for their loop: the Proactor's with C,
    the Selector's, and the Proactor's classes run on winsock_ov.aio."""
    def passes(impl: str, marker: str) -> int:
        return sum(1 for t, o in outcomes[impl].items()
                   if o == "pass" and marker in t.split(".")[-2])
    return {"Proactor": passes("c", "Proactor"), "Selector": passes("c", "Select"),
            "winsock_ov.aio": passes("aio", "Proactor")}


def child_env(tests_dir: str) -> dict[str, str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join([tests_dir, str(REPO),
                                             environ.get("PYTHONPATH", "")])
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


class Suite:
    """One run of the suite: where it works, and what it learned."""

    def __init__(self, tests_dir: str, work: Path, watchdog: float) -> None:
        self.tests_dir = tests_dir
        self.work = work
        self.watchdog = watchdog
        self.seconds: dict[str, float] = {}

    def run_module(self, impl: str, module: str, *, only: list[str] | None = None,
                   skip: Set[str] = frozenset(), watchdog: float | None = None
                   ) -> dict[str, str]:
        """Every test of ``module`` (or just ``only``) with ``impl``; hung ones resumed past."""
        tag = f"{impl}-{module}" + ("-only" if only else "")
        results, skip_file = self.work / f"{tag}.jsonl", self.work / f"{tag}.skip"
        results.unlink(missing_ok=True)
        skip_file.write_text("\n".join(sorted(skip)))
        while True:
            command = [sys.executable, __file__, "--child", "--impl", impl,
                       "--module", module, "--results", str(results),
                       "--skip", str(skip_file), "--watchdog", str(watchdog or self.watchdog)]
            if only:
                command += ["--only", *only]
            # Windows CPython 3.13 under Wine cannot start with a file as its
            # stdout: the child's output comes through a pipe.  It runs in the
            # scratch folder, where test.support writes its @test_* files.
            try:
                child = subprocess.run(command, env=child_env(self.tests_dir), cwd=self.work,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, timeout=MODULE_SECONDS)
                output = child.stdout
            except subprocess.TimeoutExpired as exc:
                output = (exc.output or b"") + b"\n!! killed after the module's time ran out\n"
            with open(self.work / f"{tag}.log", "ab") as log:
                log.write(output)
            outcomes, seconds, hung = read_results(results)
            self.seconds.update(seconds)
            if hung is None:
                return outcomes
            with open(results, "a", encoding="utf-8") as out:  # resume after the hung test
                out.write(json.dumps({"test": hung, "outcome": "hung"}) + "\n")
            skip_file.write_text("\n".join(sorted(skip | outcomes.keys() | {hung})))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests-dir", help="folder holding the test package")
    parser.add_argument("--json", default="asyncio-suite.json")
    parser.add_argument("--work", default=None, help="scratch folder (default: next to --json)")
    parser.add_argument("--modules", nargs="*", help="default: discovered in --tests-dir")
    parser.add_argument("--hangs", default=str(HANGS_FILE),
                        help="the pinned list of tests that hang with both modules")
    parser.add_argument("--prove-hangs", action="store_true",
                        help="run the pinned hangs too, and check they hang with both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--module", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--skip", help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--watchdog", type=float, default=PER_TEST_SECONDS,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)
    if not args.tests_dir:
        parser.error("--tests-dir is required")
    return run_suite(args)


def run_suite(args: argparse.Namespace) -> int:
    work = Path(args.work or Path(args.json).parent / f"asyncio-work-{VERSION}")
    work.mkdir(parents=True, exist_ok=True)
    modules = args.modules or discover_modules(Path(args.tests_dir))
    hangs_path = Path(args.hangs)
    all_hangs = load_hangs(hangs_path)
    pinned = {h["test"] for h in all_hangs if h["python"] == VERSION}
    suite = Suite(args.tests_dir, work, PER_TEST_SECONDS)
    started = time.monotonic()
    print(f"CPython {sys.version.split()[0]}: {len(modules)} modules, "
          f"{len(pinned)} pinned hangs", flush=True)
    outcomes: dict[str, dict[str, str]] = {impl: {} for impl in IMPLEMENTATIONS}
    for module in modules:
        for impl in IMPLEMENTATIONS:
            outcomes[impl].update(suite.run_module(impl, module, skip=pinned))
        print(f"{module:<44} passed " + "   ".join(
            f"{LABELS[impl]}: {module_passes(outcomes[impl], module):>4}"
            for impl in IMPLEMENTATIONS), flush=True)

    proven: list[str] = []
    if args.prove_hangs:
        proven = prove_hangs(suite, modules, pinned, outcomes, all_hangs, hangs_path)

    unpinned_hangs = sorted(t for t, o in outcomes["c"].items()
                            if o == "hung" and outcomes["winsock_ov"].get(t) == "hung")
    verdicts: dict[str, list[tuple[str, str, str | None, list[str | None],
                                   list[str | None] | None]]] = {
        "flaky": [], "unstable": [], "difference": []}
    for impl in OURS:
        for test in suspects(outcomes, impl):
            module = module_of(test, modules)
            ours: list[str | None] = []
            theirs: list[str | None] | None = [] if outcomes["c"].get(test) == "pass" else None
            while not retries_decide(ours, theirs):
                ours.append(suite.run_module(impl, module, only=[test]).get(test))
                if theirs is not None:
                    theirs.append(suite.run_module("c", module, only=[test]).get(test))
            verdicts[judge_retries(ours, theirs)].append(
                (impl, test, outcomes[impl].get(test), ours, theirs))

    counts = {impl: {kind: sum(1 for o in outcomes[impl].values() if o == kind)
                     for kind in ("pass", "fail", "error", "skip", "hung")}
              for impl in IMPLEMENTATIONS}
    restored = sorted(t for t, o in outcomes["aio"].items()
                      if outcomes["c"].get(t) == "skip" and o != "skip")
    loop_classes = loop_class_passes(outcomes)
    elapsed = time.monotonic() - started
    print(f"\nCPython {VERSION}'s asyncio tests ({len(modules)} modules) in {elapsed:.0f} s")
    for impl in IMPLEMENTATIONS:
        print(f"  {LABELS[impl]:<16} " + ", ".join(f"{n} {k}" for k, n in counts[impl].items()))
    print("  passing in the loop classes: " + ", ".join(
        f"{name} {n}" for name, n in loop_classes.items()))
    print(f"  skipped on the Proactor, run on winsock_ov.aio: {len(restored)}")
    for test in restored:
        print(f"    {test}: {outcomes['aio'][test]}")
    slowest = sorted(suite.seconds.items(), key=lambda item: -item[1])[:3]
    print("  slowest tests that finished: " +
          ", ".join(f"{'.'.join(t.split('.')[-2:])} {s:.1f} s" for t, s in slowest))
    hang_note = (f"{len(proven)} proven to hang with both _overlapped" if args.prove_hangs
                 else "not run (--prove-hangs runs them)")
    print(f"  pinned hangs ({hangs_path.name}): {len(pinned)}, {hang_note}")
    print(f"  hanging with both but not pinned: {len(unpinned_hangs)}")
    for test in unpinned_hangs:
        print(f"    {test}")
    only_ours = {impl: sorted(t for t, o in outcomes[impl].items()
                              if o == "pass" and outcomes["c"].get(t) not in ("pass", "skip"))
                 for impl in OURS}
    for impl in OURS:
        print(f"  passing only with {LABELS[impl]}: {len(only_ours[impl])}")
        for test in only_ours[impl]:
            print(f"    {test} (C: {outcomes['c'].get(test)})")
    headings = {
        "flaky": "passing only with C, flaky here (passed on a retry with ours)",
        "unstable": "passing only with C once, failing every retry with both",
        "difference": "passing only with C, or restored and failing (differences)"}
    for kind, heading in headings.items():
        print(f"  {heading}: {len(verdicts[kind])}")
        for impl, test, first, ours, theirs in verdicts[kind]:
            print(f"    {LABELS[impl]} {test}: first {first}, retries ours {ours}, C {theirs}")
    Path(args.json).write_text(json.dumps({
        "python": VERSION, "modules": len(modules), "seconds": round(elapsed),
        "counts": counts, "loop_classes": loop_classes, "restored": restored,
        **{key: [f"{LABELS[v[0]]}: {v[1]}" for v in verdicts[kind]]
           for key, kind in (("differences", "difference"), ("flaky", "flaky"),
                             ("unstable", "unstable"))},
        "only_ours": only_ours,
        "pinned_hangs": len(pinned), "proven_hangs": proven if args.prove_hangs else None,
        "unpinned_hangs": unpinned_hangs, "outcomes": outcomes,
    }, indent=1))
    return 1 if verdicts["difference"] or unpinned_hangs else 0


def prove_hangs(suite: Suite, modules: list[str], pinned: set[str],
                outcomes: dict[str, dict[str, str]], all_hangs: list[dict[str, str]],
                hangs_path: Path) -> list[str]:
    """Run each pinned hang once more with both _overlapped modules; those that no
    longer hang with both are dropped from the file and compared like any test.
    The pinned hangs that still hang with both are returned."""
    proven: list[str] = []
    released = []
    for test in sorted(pinned):
        module = module_of(test, modules)
        results = {impl: suite.run_module(impl, module, only=[test],
                                          watchdog=HANG_PROOF_SECONDS).get(test, "missing")
                   for impl in PROOF_IMPLEMENTATIONS}
        if all(r == "hung" for r in results.values()):
            proven.append(test)
            continue
        released.append(test)
        print(f"!! {test} no longer hangs with both (" + ", ".join(
            f"{LABELS[impl]}: {r}" for impl, r in results.items())
            + f"): dropped from {hangs_path.name}", flush=True)
        for impl in PROOF_IMPLEMENTATIONS:
            outcomes[impl][test] = results[impl]
    if released:
        save_hangs(hangs_path, [h for h in all_hangs
                                if not (h["python"] == VERSION and h["test"] in released)])
    return proven

if __name__ == "__main__":
    sys.exit(main())
