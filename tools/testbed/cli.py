"""The command line: ``test``, ``demo``, ``run``, ``abi`` and ``bench``."""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .env import Env, StepError, step, windows_path
from .pins import ASYNCIO_SUITES, QUICK_VERSION, TWISTED_PYTHONS, WINDOWS_VERSIONS
from .provision import build_c_anchor, wine_session
from .schedule import Selection, Timings, print_table, provision, run_tiers, terminal_stream
from .tiers import run_abi_probe
from .wine import run_windows_python

DESCRIPTION = "Provision and drive winsock_ov's Windows test environment on Linux."
KEPT_LOGS = 20
# Two workers keep both cores of the project's machines busy; more help only
# where there are more cores (and memory: each Wine tier takes about 400 MB).
DEFAULT_JOBS = max(1, min(2, os.cpu_count() or 1))


@contextlib.contextmanager
def kept_log(env: Env, command: str) -> Iterator[Path]:
    """Everything ``env.out`` prints, also written to a log in the cache.

    A failing run's whole output stays there (the last KEPT_LOGS runs), so a
    failure seen once can still be read after the terminal is gone.
    """
    folder = env.cache / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted(folder.glob(f"{command}-*.log"))[:-KEPT_LOGS + 1]:
        old.unlink()
    path = folder / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    printer = env.out
    with open(path, "w", encoding="utf-8") as log:
        def tee(line: str) -> None:
            printer(line)
            log.write(line + "\n")
            log.flush()

        env.out = tee
        try:
            yield path
        finally:
            env.out = printer


def cmd_test(env: Env, args: argparse.Namespace) -> int:
    if args.list:
        return list_tiers(env, args)
    with kept_log(env, "test") as log:
        try:
            code = run_tests(env, args)
        except KeyboardInterrupt:
            code = 130
        env.out(f"this run's output is kept in {log}")
    return code


def list_tiers(env: Env, args: argparse.Namespace) -> int:
    """What the selection would run, in the order workers would take it."""
    timings = Timings(env.cache / "timings.json")
    chosen = Selection.from_args(args).tiers(args.pytest_args)
    for tier in sorted(chosen, key=timings.expected, reverse=True):
        env.out(f"{tier.key:<14} {tier.name:<40} about {timings.expected(tier):.0f} s")
    return 0


def run_tests(env: Env, args: argparse.Namespace) -> int:
    selection = Selection.from_args(args)
    provision(env, selection)
    verdicts: list[tuple[bool, float]] = []
    for number in range(1, args.repeat + 1):
        if args.repeat > 1:
            env.out(f"==> run {number} of {args.repeat}")
        started = time.monotonic()
        results = run_tiers(env, selection.tiers(args.pytest_args), args.jobs,
                            terminal_stream())
        wall = time.monotonic() - started
        verdicts.append((all(r.ok for r in results), wall))
        print_table(env, results, wall)
        env.out(f"{'green' if verdicts[-1][0] else 'FAILED'}: wall time {wall:.0f} s "
                f"({args.jobs} workers)")
    if args.repeat > 1:
        green = sum(ok for ok, _ in verdicts)
        env.out(f"{green} of {args.repeat} runs green; wall times: "
                + ", ".join(f"{s:.0f} s{'' if ok else ' (FAILED)'}" for ok, s in verdicts))
    return 0 if all(ok for ok, _ in verdicts) else 1


def cmd_demo(env: Env, args: argparse.Namespace) -> int:
    with wine_session(env, [args.python]) as wine:
        return run_windows_python(wine, args.python,
                                  ["-m", "winsock_ov", "demo", *args.demo_args])


def cmd_run(env: Env, args: argparse.Namespace) -> int:
    with wine_session(env, [args.version]) as wine:
        return run_windows_python(wine, args.version, args.args)


def cmd_abi(env: Env, args: argparse.Namespace) -> int:
    with wine_session(env, []) as wine:
        data = run_abi_probe(wine)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if args.update:
        env.abi_reference.parent.mkdir(parents=True, exist_ok=True)
        env.abi_reference.write_text(text)
        env.out(f"wrote {env.abi_reference.relative_to(env.repo)}")
    else:
        env.out(text.rstrip("\n"))
    return 0


def cmd_bench(env: Env, args: argparse.Namespace) -> int:
    bench = env.repo / "tools" / "bench.py"
    if not bench.is_file():
        raise StepError("bench: tools/bench.py does not exist yet")
    with wine_session(env, [args.python]) as wine:
        results = env.cache / "bench" / f"bench-{args.python}.json"
        results.parent.mkdir(parents=True, exist_ok=True)
        bench_args = ["--c-anchor", windows_path(build_c_anchor(env)), *args.bench_args]
        calls_args: list[str] = []
        if not args.no_calls:
            calls = env.cache / "bench" / f"calls-{args.python}.json"
            with step(env, "count Wine server requests per message (WINEDEBUG=+server)"):
                calls.write_text(json.dumps(count_bench_calls(wine, args.python, bench,
                                                              bench_args), indent=1))
            calls_args = ["--calls", windows_path(calls)]
        return run_windows_python(wine, args.python, [windows_path(bench), "--json",
                                                      windows_path(results), *calls_args,
                                                      *bench_args],
                                  timeout=3600)


def count_bench_calls(env: Env, version: str, bench: Path,
                      bench_args: Sequence[str]) -> dict[str, Any]:
    """Run ``bench.py --count-calls`` in a Wine session whose server traces every request.

    The trace slows the whole server, hence a session of its own, before the
    timed one.  Its lines are counted as they come (tools/bench_stats.py).  The
    traced server also prints notes of its own on standard error, so the other
    lines are shown only if the run fails (the last 60 of them).
    """
    if str(bench.parent) not in sys.path:
        sys.path.insert(0, str(bench.parent))
    import bench_stats

    counter = bench_stats.TraceCounter()
    others: collections.deque[str] = collections.deque(maxlen=60)

    def line(text: str) -> None:
        if not counter.feed(text):
            others.append(text)

    # The timed run's options that select rows (and the anchor they need) apply;
    # the others are its own.
    selection = [arg for index, arg in enumerate(bench_args)
                 if arg.startswith(("--only", "--c-anchor"))
                 or (index and bench_args[index - 1] in ("--only", "--c-anchor"))]
    code = run_windows_python(env, version, [windows_path(bench), "--count-calls", *selection],
                              extra_env={"WINEDEBUG": "-all,+server"}, timeout=1800,
                              stderr_lines=line)
    if code != 0:
        for text in others:
            env.out(text)
        raise StepError(f"bench.py --count-calls exited {code}")
    return bench_stats.calls_from_segments(counter.segments)  # type: ignore[no-any-return]


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def add_test_parser(sub: Any) -> None:
    test = sub.add_parser("test", help="every test tier (a selection with the options)",
                          description="Run the test tiers on parallel workers and print a "
                                      "summary table; with no selection, every tier.")
    test.add_argument("--python", action="append", choices=WINDOWS_VERSIONS,
                      help="run the suite under this Windows CPython (repeatable); with "
                           "--python, --asyncio-suite, --tornado-suite, --twisted-suite or "
                           "--wheel, only what they name runs (besides the portable and ABI "
                           "tiers); with none, everything")
    test.add_argument("--asyncio-suite", action="append", choices=tuple(ASYNCIO_SUITES),
                      help="run CPython's asyncio tests of this version on winsock_ov's "
                           "_overlapped and on winsock_ov.aio's loop, against the C "
                           "_overlapped's recorded outcomes (repeatable)")
    test.add_argument("--afd-selector-suite", action="append", choices=tuple(ASYNCIO_SUITES),
                      help="run that version's asyncio tier, with the selector loop's "
                           "modules on winsock_ov.selectors.AFDSelector too (repeatable; "
                           "the 3.13 tier always does)")
    test.add_argument("--tornado-suite", action="append", choices=WINDOWS_VERSIONS,
                      help="run Tornado's own tests on winsock_ov.aio's loop, against the "
                           "default loop's recorded outcomes (repeatable)")
    test.add_argument("--twisted-suite", action="append", choices=TWISTED_PYTHONS,
                      help="run Twisted's own tests on its IOCP reactor with "
                           "winsock_ov.compat.iocpsupport, against the compiled module's "
                           "recorded outcomes (repeatable)")
    test.add_argument("--wheel", action="append", choices=WINDOWS_VERSIONS,
                      help="build the sdist and the wheel, and run the suite against the "
                           "installed wheel under this Windows CPython (repeatable)")
    test.add_argument("--quick", action="store_true",
                      help=f"only the portable and ABI tiers and Windows CPython "
                           f"{QUICK_VERSION}")
    test.add_argument("--record", action="store_true",
                      help="run the reference implementations of the selected suites too "
                           "and write their outcomes to tools/records/ (after a change of "
                           "a pinned input: the CPython build, a suite's version, Wine)")
    test.add_argument("--prove-hangs", action="store_true",
                      help="run the pinned asyncio hangs (tools/asyncio_hangs.json) with both "
                           "_overlapped modules and check they still hang")
    test.add_argument("--jobs", "-j", type=positive_int, default=DEFAULT_JOBS, metavar="N",
                      help="tiers run at once, each worker with its own Wine prefix "
                           f"(default {DEFAULT_JOBS})")
    test.add_argument("--list", action="store_true",
                      help="print the selected tiers, longest expected first, and exit")
    test.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                      help="run the selection N times in a row and count the green runs")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER,
                      help="extra pytest arguments, after --")
    test.set_defaults(func=cmd_test)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="winenv.py", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    add_test_parser(sub)

    demo = sub.add_parser("demo", help="python -m winsock_ov demo under Windows CPython")
    demo.add_argument("--python", default="3.11", choices=WINDOWS_VERSIONS)
    demo.add_argument("demo_args", nargs=argparse.REMAINDER)
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="any Windows python command, the project on its path")
    run.add_argument("version", choices=WINDOWS_VERSIONS)
    run.add_argument("args", nargs=argparse.REMAINDER)
    run.set_defaults(func=cmd_run)

    abi = sub.add_parser("abi", help="print the ABI probe's output")
    abi.add_argument("--update", action="store_true",
                     help="write it to tests/data/abi_mingw_x64.json")
    abi.set_defaults(func=cmd_abi)

    bench = sub.add_parser("bench", help="tools/bench.py under Windows CPython")
    bench.add_argument("--python", default="3.11", choices=WINDOWS_VERSIONS)
    bench.add_argument("--no-calls", action="store_true",
                       help="skip counting Wine server requests per message (a traced run)")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)

    args = parser.parse_args(argv)
    for name in ("pytest_args", "demo_args", "args", "bench_args"):
        rest = getattr(args, name, None)
        if rest and rest[0] == "--":
            setattr(args, name, rest[1:])
    return args


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = env or Env.from_environment()
    try:
        return int(args.func(env, args))
    except StepError as exc:
        print(f"winenv: failed step: {exc}", file=sys.stderr)
        return 2
