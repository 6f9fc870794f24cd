"""CPython's own asyncio tests: on winsock_ov's ``_overlapped`` and on winsock_ov.aio,
against the C ``_overlapped``'s recorded outcomes.

Run under Windows CPython (``python3 tools/winenv.py test`` does it under Wine
for 3.9, 3.11 and 3.13) with ``--tests-dir`` pointing at a folder that holds the
``test`` package (test_asyncio and test.support, from Debian's
libpython3.X-testsuite and libpython3.X-stdlib).  The modules run are every
``test_asyncio`` module and any other test module of the package that imports
``_overlapped`` or ``asyncio.windows_events``.  Each module runs in a child
process per implementation:

* ``c``: asyncio as shipped, the reference;
* ``winsock_ov``: winsock_ov.compat.overlapped installed as ``_overlapped`` first;
* ``aio``: asyncio's Proactor loop and default policy pointed at winsock_ov.aio's
  loop (the C ``_overlapped`` stays for whatever imports it), and the generic loop
  tests the Proactor test classes skip for want of add_reader/add_writer put back;
* ``afd`` (with ``--afd-selector``): the selector loop's modules
  (``SELECTOR_MODULES``, less their Proactor classes) with
  ``selectors.DefaultSelector``, which asyncio's SelectorEventLoop builds when
  given none, replaced by ``winsock_ov.selectors.AFDSelector``.  The record's
  selector loop tests ran on the default SelectSelector: no test passing there
  may fail on it.

The C module's outcomes depend only on pinned inputs, so they are recorded
(``tools/records/asyncio-VERSION.json``, ``outcome_records``) and the reference
runs only where ours fails a test it passed; ``--record`` runs it on every test
and writes the record again.  A test that C skips and that runs on ours (the
restored reader/writer tests) must pass there.

Every test gets a watchdog: one that hangs is recorded as "hung", and its
module resumes after it.  Tests known to hang with *both* modules under Wine are
pinned, with their reason, in ``tools/asyncio_hangs.json`` and are not run;
``--prove-hangs`` runs each of them once more with each module and checks that
it still hangs with both, dropping from that file the ones that no longer do
(they are then compared like any other test).  A hang with both modules that is
not pinned fails the run.  Tests whose outcome under Wine is decided by a race
that our speed loses more often than C's (the race, its reason and the measured
pass rates pinned in ``tools/asyncio_races.json``) are run and compared as any
other, and a difference on one of them is reported as a race instead of failing
the run; a flaky or unstable verdict on them is reported as such.

A test that passes with the C module (in the record) but not with one of ours is
run again, three times with each of the two, alternating
(``unittest_runs.judge_retries``); six times when that reads as a difference
although C failed some retries too.  Only a test that ours keeps failing while C
passes again is a difference (a restored test: that ours never passes), and the
run fails on any difference.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
import time
import unittest
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent)]

import unittest_runs as runs  # noqa: E402

REPO = runs.REPO
HANGS_FILE = REPO / "tools" / "asyncio_hangs.json"
RACES_FILE = REPO / "tools" / "asyncio_races.json"
IMPLEMENTATIONS = ("c", "winsock_ov", "aio", "afd")
OURS = ("winsock_ov", "aio", "afd")
LABELS = {"c": "C _overlapped", "winsock_ov": "winsock_ov", "aio": "winsock_ov.aio",
          "afd": "AFDSelector"}
# The modules of asyncio's selector loop, run on AFDSelector by the ``afd`` implementation.
SELECTOR_MODULES = tuple(f"test.test_asyncio.{name}" for name in (
    "test_events", "test_selector_events", "test_sock_lowlevel", "test_streams",
    "test_server"))
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
USES_OVERLAPPED = re.compile(r"\b_overlapped\b|\bwindows_events\b")


# --- the child: one module, one implementation ---------------------------------------------


def reset_policy() -> None:
    """After each test: a test that fails because asserts are compiled out (the
    embeddable build's stdlib has none) can leave its own policy behind; on 3.9
    that breaks every later test of the module, with either _overlapped.
    (Imported here: asyncio loads windows_events, which must come after
    install().)"""
    import asyncio

    asyncio.set_event_loop_policy(None)


def use_aio_loop() -> None:
    """Point asyncio's Proactor loop and default policy at winsock_ov.aio's, so that
    tests building ``asyncio.ProactorEventLoop()`` or ``asyncio.new_event_loop()``
    get it."""
    import asyncio
    import asyncio.windows_events as windows_events

    from winsock_ov import aio

    for module in (asyncio, windows_events):
        module.ProactorEventLoop = aio.EventLoop  # type: ignore[attr-defined,misc]
        if hasattr(module, "EventLoop"):  # 3.13's name for the platform's default loop
            module.EventLoop = aio.EventLoop
        module.DefaultEventLoopPolicy = aio.EventLoopPolicy  # type: ignore[attr-defined,misc]
        module.WindowsProactorEventLoopPolicy = (  # type: ignore[attr-defined,misc]
            aio.EventLoopPolicy)
    asyncio.set_event_loop_policy(None)
    loop = asyncio.new_event_loop()
    loop.close()
    if not isinstance(loop, aio.EventLoop):
        raise SystemExit(f"asyncio.new_event_loop() made a {type(loop).__name__}")


def use_afd_selector() -> None:
    """Make AFDSelector the selector asyncio's SelectorEventLoop builds by default."""
    import asyncio
    import selectors

    from winsock_ov.selectors import AFDSelector

    selectors.DefaultSelector = AFDSelector  # type: ignore[misc,assignment]
    loop = asyncio.SelectorEventLoop()  # type: ignore[attr-defined,unused-ignore]
    try:
        if not isinstance(loop._selector, AFDSelector):  # type: ignore[attr-defined]
            raise SystemExit(f"SelectorEventLoop() selects with {type(loop._selector)}")
    finally:
        loop.close()


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
    elif args.impl == "afd":
        use_afd_selector()
    import _overlapped

    expected = "winsock_ov.compat.overlapped" if args.impl == "winsock_ov" else "_overlapped"
    if _overlapped.__name__ != expected:
        raise SystemExit(f"_overlapped is {_overlapped.__name__}, not {expected}")
    if args.impl == "aio":
        restored = restore_readiness_tests(importlib.import_module(args.module))
        print(f"restored for the aio loop: {restored}", file=sys.stderr)
    runs.run_tests(args, reset_policy)
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


def load_hangs(path: Path) -> list[dict[str, str]]:
    return list(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else []


def pinned_races(path: Path, version: str) -> set[str]:
    """The tests of ``version`` pinned in ``path`` as races under Wine (the module
    docstring says what that excuses)."""
    return {race["test"] for race in load_hangs(path) if race["python"] == version}


def kind_of(verdict: runs.Verdict, races: set[str]) -> str:
    """The heading a suspect's verdict goes under: a difference on a pinned race is
    a race (reported); every other verdict keeps its own."""
    return "race" if verdict[0] == "difference" and verdict[1] in races else verdict[0]


def save_hangs(path: Path, hangs: list[dict[str, str]]) -> None:
    path.write_text(json.dumps(hangs, indent=1) + "\n", encoding="utf-8")


def loop_class_passes(outcomes: dict[str, dict[str, str]]) -> dict[str, int]:
    """Passing tests of the classes named for their loop: the Proactor's with C,
    the Selector's, and the Proactor's classes run on winsock_ov.aio."""
    def passes(impl: str, marker: str) -> int:
        return sum(1 for t, o in outcomes[impl].items()
                   if o == "pass" and marker in t.split(".")[-2])
    return {"Proactor": passes("c", "Proactor"), "Selector": passes("c", "Select"),
            "winsock_ov.aio": passes("aio", "Proactor") if "aio" in outcomes else 0}


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
    parser.add_argument("--ours", action="append", choices=OURS,
                        help="run only this implementation of ours (repeatable; default "
                             "winsock_ov and aio, and afd with --afd-selector)")
    parser.add_argument("--afd-selector", action="store_true",
                        help="also run the selector loop's modules on AFDSelector (afd)")
    runs.add_record_arguments(parser)
    runs.add_child_arguments(parser, IMPLEMENTATIONS, PER_TEST_SECONDS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)
    if not (args.tests_dir and args.record_file and args.expected):
        parser.error("--tests-dir, --record-file and --expected are required")
    if args.record and (args.modules or args.ours):
        parser.error("--record records the whole suite: not with --modules or --ours")
    return runs.run_against_record(args, run_suite, python=VERSION)


def run_suite(args: argparse.Namespace) -> int:
    work = Path(args.work or Path(args.json).parent / f"asyncio-work-{VERSION}")
    work.mkdir(parents=True, exist_ok=True)
    modules = args.modules or discover_modules(Path(args.tests_dir))
    hangs_path = Path(args.hangs)
    all_hangs = load_hangs(hangs_path)
    pinned = {h["test"] for h in all_hangs if h["python"] == VERSION}
    suite = runs.Suite(Path(__file__), [args.tests_dir], work, PER_TEST_SECONDS)
    ours = tuple(impl for impl in OURS if impl in args.ours) if args.ours else \
        ("winsock_ov", "aio", *(("afd",) if args.afd_selector and not args.record else ()))
    labels = {impl: LABELS[impl] for impl in ("c", *ours)}
    started = time.monotonic()
    print(f"CPython {sys.version.split()[0]}: {len(modules)} modules, "
          f"{len(pinned)} pinned hangs", flush=True)
    outcomes = runs.outcomes_against_record(
        suite, "asyncio", args, modules, {k: v for k, v in labels.items() if k != "afd"}, "c",
        skip=pinned)
    selector_seconds = 0.0
    selector_modules = [m for m in modules if m in SELECTOR_MODULES]
    # The reference's outcomes of the tests run on AFDSelector: the selector loop's
    # modules less their Proactor classes (those never build a selector).
    on_selector = {t: o for t, o in outcomes["c"].items()
                   if runs.module_of(t, selector_modules) and "Proactor" not in t.split(".")[-2]}
    if "afd" in ours:
        selector_started = time.monotonic()
        proactor = {t for t in outcomes["c"] if runs.module_of(t, selector_modules)} \
            - on_selector.keys()
        outcomes["afd"] = runs.outcomes_against_record(
            suite, "asyncio", args, selector_modules, {"c": labels["c"], "afd": labels["afd"]},
            "c", skip=pinned | proactor)["afd"]
        selector_seconds = time.monotonic() - selector_started
    unrecorded = runs.unrecorded(outcomes, "c")

    proven: list[str] = []
    if args.prove_hangs:
        proven = prove_hangs(suite, modules, pinned, outcomes, all_hangs, hangs_path)

    unpinned_hangs = sorted(t for t, o in outcomes["c"].items()
                            if o == "hung" and outcomes.get("winsock_ov", {}).get(t) == "hung")
    races = pinned_races(RACES_FILE, VERSION)
    verdicts: dict[str, list[tuple[str, runs.Verdict]]] = {
        "flaky": [], "unstable": [], "race": [], "difference": []}
    reference_runs = 0
    for impl in ours:
        if impl == "afd":  # judged on the tests it ran alone
            judged = runs.judge_suspects(suite, {"c": on_selector, "afd": outcomes["afd"]},
                                         "afd", "c", selector_modules)
        else:
            judged = runs.judge_suspects(suite, outcomes, impl, "c", modules)
        reference_runs += runs.reference_reruns(judged)
        for verdict in judged:
            verdicts[kind_of(verdict, races)].append((impl, verdict))

    counts = {impl: runs.count_outcomes(outcomes[impl]) for impl in labels}
    restored = sorted(t for t, o in outcomes.get("aio", {}).items()
                      if outcomes["c"].get(t) == "skip" and o != "skip")
    loop_classes = loop_class_passes(outcomes)
    elapsed = time.monotonic() - started
    print(f"\nCPython {VERSION}'s asyncio tests ({len(modules)} modules) in {elapsed:.0f} s")
    runs.print_record_state("C _overlapped", args.record, args.record_file, reference_runs,
                            unrecorded)
    for impl in labels:
        print(f"  {LABELS[impl]:<16} " + ", ".join(f"{n} {k}" for k, n in counts[impl].items()))
    if "afd" in ours:
        print("  the same tests with C on SelectSelector (recorded): " + ", ".join(
            f"{n} {k}" for k, n in runs.count_outcomes(on_selector).items()))
        print(f"  on AFDSelector ({len(SELECTOR_MODULES)} modules, {selector_seconds:.0f} s), "
              "by module: " + "; ".join(
                  f"{m.rsplit('.', 1)[-1]} " + ", ".join(
                      f"{n} {k}" for k, n in runs.count_outcomes(
                          {t: o for t, o in outcomes["afd"].items()
                           if runs.module_of(t, [m])}).items())
                  for m in SELECTOR_MODULES))
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
                 for impl in ours}
    for impl in ours:
        print(f"  passing only with {LABELS[impl]}: {len(only_ours[impl])}")
        for test in only_ours[impl]:
            print(f"    {test} (C: {outcomes['c'].get(test)})")
    headings = {
        "flaky": "passing only with C, flaky here (passed on a retry with ours)",
        "unstable": "passing only with C once, failing every retry with both",
        "race": f"passing only with C, a race under Wine pinned in {RACES_FILE.name}",
        "difference": "passing only with C, or restored and failing (differences)"}
    runs.print_verdicts(headings, [(f"{LABELS[impl]} ", verdict)
                                   for kind in headings for impl, verdict in verdicts[kind]], "C")
    Path(args.json).write_text(json.dumps({
        "python": VERSION, "modules": len(modules), "seconds": round(elapsed),
        "counts": counts, "loop_classes": loop_classes, "restored": restored,
        "afd_selector_seconds": round(selector_seconds),
        **{key: [f"{LABELS[impl]}: {v[1]}" for impl, v in verdicts[kind]]
           for key, kind in (("differences", "difference"), ("flaky", "flaky"),
                             ("unstable", "unstable"), ("races", "race"))},
        "only_ours": only_ours,
        "pinned_hangs": len(pinned), "proven_hangs": proven if args.prove_hangs else None,
        "unpinned_hangs": unpinned_hangs, "recorded_now": args.record,
        "reference_runs": reference_runs, "unrecorded": unrecorded, "outcomes": outcomes,
    }, indent=1))
    return 1 if verdicts["difference"] or unpinned_hangs or unrecorded else 0


def prove_hangs(suite: runs.Suite, modules: list[str], pinned: set[str],
                outcomes: dict[str, dict[str, str]], all_hangs: list[dict[str, str]],
                hangs_path: Path) -> list[str]:
    """Run each pinned hang once more with both _overlapped modules; those that no
    longer hang with both are dropped from the file and compared like any test.
    The pinned hangs that still hang with both are returned."""
    proven: list[str] = []
    released = []
    for test in sorted(pinned):
        module = runs.module_of(test, modules)
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
