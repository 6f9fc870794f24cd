"""Tornado's own test suite on winsock_ov.aio's loop, against the same suite on
asyncio's default loop.

Run under Windows CPython with Tornado installed (``python3 tools/winenv.py
test`` installs the pinned wheel and runs this for one version).  Each module of
``tornado.test.runtests.TEST_MODULES`` runs in a child per loop, through
Tornado's own ``runtests.main()`` (its warning filters and options), with the
test runner swapped for one that records each outcome (``unittest_runs``):

* ``default``: asyncio's default loop, the Proactor, for which Tornado runs
  add_reader/add_writer on a "Tornado selector" thread;
* ``aio``: ``winsock_ov.aio.EventLoopPolicy()`` installed first, as a user would.

The default loop's outcomes depend only on pinned inputs (Tornado's version,
the CPython build, Wine's), so they are recorded (``tools/records/
tornado-VERSION.json``, ``outcome_records``); the default loop runs only the
tests aio fails that it passed, and ``--record`` runs it on every test and
writes the record again.

Each child writes a line for every "Tornado selector" thread it starts.  The run
fails when a test that passes on the default loop does not on aio (after the
retries of ``unittest_runs.judge_suspects``), or when aio starts any such
thread; the default loop starting some (counted whenever it runs a whole
module: with ``--record``) shows that the count sees them.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent)]

import unittest_runs as runs  # noqa: E402

IMPLEMENTATIONS = ("default", "aio")
LABELS = {"default": "default loop", "aio": "winsock_ov.aio"}
SELECTOR_THREAD = "Tornado selector"  # the name tornado.platform.asyncio gives it
PER_TEST_SECONDS = 60


def threads_file(results: Path) -> Path:
    """Where the child writing ``results`` records the selector threads it starts."""
    return results.with_suffix(".threads")


def record_selector_threads(path: Path) -> None:
    """From now on, each thread named SELECTOR_THREAD that starts adds a line to ``path``."""
    start = threading.Thread.start

    def recording_start(thread: threading.Thread) -> None:
        if thread.name == SELECTOR_THREAD:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"thread": thread.name}) + "\n")
        start(thread)

    threading.Thread.start = recording_start  # type: ignore[method-assign]


def run_child(args: argparse.Namespace) -> int:
    import asyncio

    if args.impl == "aio":
        from winsock_ov import aio

        asyncio.set_event_loop_policy(aio.EventLoopPolicy())
    policy = asyncio.get_event_loop_policy()
    record_selector_threads(threads_file(Path(args.results)))
    from tornado.test import runtests

    class Runner(runs.RecordingRunner):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(args, lambda: asyncio.set_event_loop_policy(policy), **kwargs)

    runtests.test_runner_factory = lambda stderr: Runner  # type: ignore[assignment]
    sys.argv = ["tornado.test.runtests", *(args.only or [args.module])]
    try:
        runtests.main()
    except SystemExit:  # unittest.main's exit, and runtests' for logged output
        pass
    return 0


def count_selector_threads(work: Path, impl: str) -> int:
    return sum(len(path.read_text().splitlines()) for path in work.glob(f"{impl}-*.threads"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default="tornado-suite.json")
    parser.add_argument("--work", default=None, help="scratch folder (default: next to --json)")
    parser.add_argument("--modules", nargs="*", help="default: tornado.test.runtests' list")
    runs.add_record_arguments(parser)
    runs.add_child_arguments(parser, IMPLEMENTATIONS, PER_TEST_SECONDS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)
    if not (args.record_file and args.expected):
        parser.error("--record-file and --expected are required")
    if args.record and args.modules:
        parser.error("--record records the whole suite: not with --modules")
    return runs.run_against_record(args, run_suite)


def run_suite(args: argparse.Namespace) -> int:
    import tornado
    from tornado.test import runtests

    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    work = Path(args.work or Path(args.json).parent / f"tornado-work-{version}")
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("*.threads"):
        stale.unlink()
    modules = args.modules or list(runtests.TEST_MODULES)
    suite = runs.Suite(Path(__file__), [], work, PER_TEST_SECONDS)
    started = time.monotonic()
    print(f"Tornado {tornado.version} on CPython {sys.version.split()[0]}: "
          f"{len(modules)} modules", flush=True)
    outcomes = runs.outcomes_against_record(suite, "tornado", args, modules, LABELS, "default")
    unrecorded = runs.unrecorded(outcomes, "default")
    verdicts = runs.judge_suspects(suite, outcomes, "aio", "default", modules)
    threads = {impl: count_selector_threads(work, impl) for impl in IMPLEMENTATIONS}
    counts = {impl: runs.count_outcomes(outcomes[impl]) for impl in IMPLEMENTATIONS}
    only_aio = sorted(t for t, o in outcomes["aio"].items()
                      if o == "pass" and outcomes["default"].get(t) != "pass")
    report = runs.verdict_report(verdicts, recorded_now=args.record, unrecorded=unrecorded)
    elapsed = time.monotonic() - started

    print(f"\nTornado's tests ({len(modules)} modules) in {elapsed:.0f} s")
    runs.print_record_state("default loop", args.record, args.record_file, report["reference_runs"],
                            unrecorded)
    for impl in IMPLEMENTATIONS:
        print(f"  {LABELS[impl]:<15} " + ", ".join(f"{n} {k}" for k, n in counts[impl].items())
              + f"; {threads[impl]} '{SELECTOR_THREAD}' threads started")
    runs.print_one_against_reference(verdicts, only_aio, outcomes["default"],
                                     ours="on winsock_ov.aio", reference="on the default loop",
                                     short="default loop")
    Path(args.json).write_text(json.dumps({
        "python": version, "tornado": tornado.version, "modules": len(modules),
        "seconds": round(elapsed), "counts": counts, "selector_threads": threads,
        "only_aio": only_aio,
        "outcomes": outcomes, **report,
    }, indent=1))
    return 1 if report["differences"] or threads["aio"] or unrecorded else 0


if __name__ == "__main__":
    sys.exit(main())
