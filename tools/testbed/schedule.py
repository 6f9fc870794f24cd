"""Which tiers a run has, and running them on parallel workers.

Each worker is a thread that takes the next tier off one queue, longest
expected first (the last run's times, kept in the cache), and runs it; the
tiers' work happens in child processes (pytest, Windows CPython under Wine), so
two workers keep two cores busy.  Each worker has a Wine prefix of its own:
a tier ends by stopping its prefix's Wine server (``wine.run_windows_python``),
which must never end another tier's programs.

A tier's output is kept whole and printed as one block when the tier finishes,
never interleaved with another's; on a terminal a progress line shows each
running tier (done / total, elapsed).  The summary table comes last, in the
selection's order.
"""

from __future__ import annotations

import argparse
import functools
import json
import queue
import re
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from . import tiers
from .debian import ensure_asyncio_tests, ensure_python_inventory
from .env import Env, StepError, claimed_prefixes
from .pins import (
    ASYNCIO_SUITES,
    QUICK_VERSION,
    TORNADO_SUITE_VERSIONS,
    TWISTED_SUITE_VERSIONS,
    WHEEL_TIER_VERSIONS,
    WINDOWS_VERSIONS,
)
from .provision import (
    build_abi_probe,
    build_c_anchor,
    build_seed_programs,
    ensure_debian_packages,
    ensure_linux_test_python,
    ensure_windows_python,
    ensure_wineprefix,
)
from .tiers import TierResult
from .twisted import ensure_twisted
from .wine import kill_all

# Seconds each kind of tier took on a 2-core machine, for ordering a first run;
# later runs use the times the last run measured (``Timings``).
DEFAULT_SECONDS = {"portable": 150, "abi": 10, "windows": 220, "wheel": 260,
                   "asyncio": 500, "tornado": 200, "twisted": 300}


@dataclass
class Tier:
    """One unit of a run: a key (``windows-3.11``), a name and the call that runs it."""

    key: str
    name: str
    run: Callable[[Env], TierResult]


@dataclass
class Selection:
    """What one ``test`` run covers."""

    versions: list[str]
    suites: list[str]
    tornado: list[str] = field(default_factory=list)
    wheels: list[str] = field(default_factory=list)
    twisted: list[str] = field(default_factory=list)
    record: bool = False
    prove_hangs: bool = False
    afd_suites: list[str] = field(default_factory=list)  # besides tiers.AFD_SELECTOR_SUITE

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Selection:
        wheels: list[str] = []
        twisted: list[str] = []
        afd = getattr(args, "afd_selector_suite", None) or []
        if (args.python or args.asyncio_suite or args.tornado_suite or args.wheel
                or args.twisted_suite or afd):
            versions, suites = args.python or [], [*(args.asyncio_suite or []), *afd]
            tornado, wheels = args.tornado_suite or [], args.wheel or []
            twisted = args.twisted_suite or []
        elif args.quick:
            versions, suites, tornado = [QUICK_VERSION], [], []
        else:
            versions, suites = list(WINDOWS_VERSIONS), list(ASYNCIO_SUITES)
            tornado, wheels = list(TORNADO_SUITE_VERSIONS), list(WHEEL_TIER_VERSIONS)
            twisted = list(TWISTED_SUITE_VERSIONS)

        def ordered(chosen: list[str]) -> list[str]:
            return sorted(set(chosen), key=WINDOWS_VERSIONS.index)

        return cls(ordered(versions), ordered(suites), ordered(tornado), ordered(wheels),
                   ordered(twisted), args.record, args.prove_hangs, ordered(afd))

    @property
    def interpreters(self) -> list[str]:
        """The Windows interpreters the selection runs."""
        return sorted({*self.versions, *self.suites, *self.tornado, *self.wheels,
                       *self.twisted},
                      key=WINDOWS_VERSIONS.index)

    def tiers(self, pytest_extra: Sequence[str]) -> list[Tier]:
        """The selection's tiers, in the order the summary lists them."""
        extra = list(pytest_extra)

        def tier(key: str, name: str, run: Callable[..., TierResult], **kwargs: object) -> Tier:
            return Tier(key, name, functools.partial(run, name=name, **kwargs))

        return [
            tier("portable", "portable (Linux CPython)", tiers.tier_portable,
                 pytest_extra=extra),
            tier("abi", "ABI probe (mingw-w64 headers)", tiers.tier_abi),
            *(tier(f"windows-{v}", f"Windows CPython {v} (Wine)", tiers.tier_windows,
                   version=v, pytest_extra=extra) for v in self.versions),
            *(tier(f"wheel-{v}", f"installed wheel, CPython {v} (Wine)",
                   tiers.tier_installed_wheel, version=v, pytest_extra=extra)
              for v in self.wheels),
            *(tier(f"asyncio-{v}", f"CPython {v} asyncio tests (Wine)", tiers.tier_asyncio,
                   version=v, record=self.record, prove_hangs=self.prove_hangs,
                   afd_selector=v in self.afd_suites or v == tiers.AFD_SELECTOR_SUITE)
              for v in self.suites),
            *(tier(f"tornado-{v}", f"Tornado's tests, CPython {v} (Wine)", tiers.tier_tornado,
                   version=v, record=self.record) for v in self.tornado),
            *(tier(f"twisted-{v}", f"Twisted's tests, CPython {v} (Wine)", tiers.tier_twisted,
                   version=v, record=self.record) for v in self.twisted),
        ]


def provision(env: Env, selection: Selection) -> None:
    """Everything the selection's tiers need, made before any of them starts: tiers
    running at once must never build the same thing."""
    ensure_debian_packages(env)
    for version in selection.interpreters:
        ensure_windows_python(env, version)
    ensure_linux_test_python(env)
    ensure_python_inventory(env)
    build_abi_probe(env)
    if selection.versions or selection.wheels:
        build_seed_programs(env)
        build_c_anchor(env)
    for version in sorted({tiers.SELECTOR_TESTS[v] for v in [*selection.versions,
                                                            *selection.wheels]}):
        ensure_asyncio_tests(env, version)  # CPython's selector tests
    for version in selection.suites:
        ensure_asyncio_tests(env, version)
    for version in {*selection.twisted} | ({tiers.ONE_TIER_MARKERS["twisted"]}
                                           & {*selection.versions}):
        ensure_twisted(env, version)


class Timings:
    """How long each tier took in the last run that ran it (the cache's
    ``timings.json``): the order of the next run, longest first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.seconds: dict[str, float] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.seconds = {}

    def expected(self, tier: Tier) -> float:
        return self.seconds.get(tier.key, DEFAULT_SECONDS[tier.key.split("-")[0]])

    def save(self, results: dict[str, TierResult]) -> None:
        self.seconds.update({key: round(r.seconds, 1) for key, r in results.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.seconds, indent=1, sort_keys=True))


# --- progress -------------------------------------------------------------------------------

_TOTAL = re.compile(r"collected (\d+) items?|: (\d+) modules")
_PERCENT = re.compile(r"\[\s*(\d+)%\]\s*$")
_MODULE_DONE = re.compile(r"^\S+\s+passed ")


class TierOutput:
    """A running tier's output, kept whole, and how far it got.

    Progress is read off the lines: pytest's "collected N items" and its
    "[ NN%]" marks; a suite tool's "N modules" and its line per module.
    """

    def __init__(self, tier: Tier, worker: int) -> None:
        self.tier, self.worker = tier, worker
        self.lines: list[str] = []
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.unit = "tests"

    def line(self, text: str) -> None:
        self.lines.append(text)
        total = _TOTAL.search(text)
        if total and not self.total:
            self.total = int(total.group(1) or total.group(2))
            self.unit = "tests" if total.group(1) else "modules"
        elif self.unit == "tests" and self.total and (percent := _PERCENT.search(text)):
            self.done = self.total * int(percent.group(1)) // 100
        elif self.unit == "modules" and _MODULE_DONE.match(text):
            self.done += 1

    def status(self) -> str:
        count = f"{self.done}/{self.total} {self.unit}" if self.total else "starting"
        return f"{self.tier.key} {count} {elapsed(time.monotonic() - self.started)}"


def elapsed(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


# --- running --------------------------------------------------------------------------------


def run_one(worker_env: Env, tier: Tier, output: TierOutput) -> TierResult:
    """Run ``tier`` in ``worker_env`` (its worker's Wine prefix) with its output going
    to ``output``; a tier that raises fails with what it raised in its output."""
    worker_env = worker_env.with_output(output.line)
    try:
        result = tier.run(worker_env)
    except StepError as exc:
        output.line(f"winenv: failed step: {exc}")
        result = TierResult(tier.name, False, note=f"failed step: {str(exc).splitlines()[0]}")
    except Exception as exc:  # a bug of the test bed: fail the tier, show where
        output.lines += traceback.format_exc().splitlines()
        result = TierResult(tier.name, False, note=f"{type(exc).__name__}: {exc}")
    result.seconds = time.monotonic() - output.started
    result.worker = output.worker
    return result


class Board:
    """What the person running the tests sees: finished tiers' blocks, printed whole,
    and (on a terminal) one progress line for the tiers still running, redrawn in
    place; elsewhere (CI's log), a line when a tier starts and, every few minutes,
    which tiers are still running."""

    HEARTBEAT = 300.0

    def __init__(self, env: Env, terminal: TextIO | None) -> None:
        self.env = env
        self.terminal = terminal
        self.running: dict[str, TierOutput] = {}
        self.shown = 0
        self.last_heartbeat = time.monotonic()

    def started(self, output: TierOutput) -> None:
        self.running[output.tier.key] = output
        if self.terminal is None:
            self.env.out(f"--> {output.tier.name}: started on worker {output.worker}")

    def finished(self, output: TierOutput, result: TierResult, number: int, total: int) -> None:
        self.running.pop(output.tier.key, None)
        self.clear()
        verdict = "ok" if result.ok else "FAILED"
        rule = "=" * 3
        self.env.out(f"{rule} [{number}/{total}] {result.name}: {verdict} in "
                     f"{elapsed(result.seconds)} (worker {result.worker}) {rule}")
        for text in output.lines:
            self.env.out(text)
        self.env.out(f"{rule} end of {result.name}: {verdict}"
                     + (f" ({result.note})" if result.note and not result.ok else "") + f" {rule}")

    def tick(self) -> None:
        if self.terminal is not None:
            self.clear()
            status = " | ".join(o.status() for o in self.running.values())
            width = 200
            self.terminal.write(status[:width])
            self.terminal.flush()
            self.shown = min(len(status), width)
        elif time.monotonic() - self.last_heartbeat >= self.HEARTBEAT and self.running:
            self.last_heartbeat = time.monotonic()
            self.env.out("... still running: " + ", ".join(
                o.status() for o in self.running.values()))

    def clear(self) -> None:
        if self.terminal is not None and self.shown:
            self.terminal.write("\r" + " " * self.shown + "\r")
            self.terminal.flush()
            self.shown = 0


def run_tiers(env: Env, chosen: list[Tier], jobs: int,
              terminal: TextIO | None = None) -> list[TierResult]:
    """Run ``chosen`` on ``jobs`` workers, longest expected first; the results in
    ``chosen``'s order.  KeyboardInterrupt ends every running tier's processes
    and is raised once the workers stopped."""
    timings = Timings(env.cache / "timings.json")
    todo: queue.Queue[Tier] = queue.Queue()
    for tier in sorted(chosen, key=timings.expected, reverse=True):
        todo.put(tier)
    events: queue.Queue[tuple[str, TierOutput, TierResult | None]] = queue.Queue()
    stop = threading.Event()

    def work(number: int, worker_env: Env) -> None:
        while not stop.is_set():
            try:
                tier = todo.get_nowait()
            except queue.Empty:
                return
            output = TierOutput(tier, number)
            events.put(("started", output, None))
            events.put(("finished", output, run_one(worker_env, tier, output)))

    with claimed_prefixes(env, min(jobs, len(chosen))) as prefixes:
        for prefix in prefixes:
            ensure_wineprefix(prefix)
        workers = [threading.Thread(target=work, args=(n, prefix), name=f"worker {n}",
                                    daemon=True) for n, prefix in enumerate(prefixes, 1)]
        results = follow(env, workers, events, stop, len(chosen), terminal)
    timings.save(results)
    return [results[tier.key] for tier in chosen]


def follow(env: Env, workers: list[threading.Thread],
           events: queue.Queue[tuple[str, TierOutput, TierResult | None]],
           stop: threading.Event, total: int, terminal: TextIO | None) -> dict[str, TierResult]:
    """Start the workers and show what they do until ``total`` tiers finished; their
    results by tier key."""
    board = Board(env, terminal)
    results: dict[str, TierResult] = {}
    for worker in workers:
        worker.start()
    try:
        while len(results) < total:
            try:
                kind, output, result = events.get(timeout=1.0)
            except queue.Empty:
                board.tick()
                continue
            if kind == "started":
                board.started(output)
            else:
                assert result is not None
                results[output.tier.key] = result
                board.finished(output, result, len(results), total)
            board.tick()
    except KeyboardInterrupt:
        stop.set()
        kill_all()
        board.clear()
        env.out("!! interrupted: the running tiers' processes were ended")
        for worker in workers:
            worker.join(timeout=60)
        raise
    finally:
        board.clear()
    return results


def print_table(env: Env, results: Sequence[TierResult], wall: float) -> None:
    """The summary: each tier's counts, worker and time, then the run's wall time."""
    header = (f"{'tier':<40} {'platform':<8} {'python':<10} {'pass':>5} {'fail':>5} "
              f"{'skip':>5} {'wkr':>3} {'time':>6}  result")
    env.out("")
    env.out(header)
    env.out("-" * len(header))
    for r in results:
        verdict = "ok" if r.ok else "FAILED"
        env.out(f"{r.name:<40} {r.platform:<8} {r.python:<10} {r.passed:>5} {r.failed:>5} "
                f"{r.skipped:>5} {r.worker:>3} {r.seconds:>5.0f}s  {verdict}"
                f"{'  (' + r.note + ')' if r.note else ''}")
    busy = sum(r.seconds for r in results)
    env.out(f"wall time {wall:.0f} s; the tiers' own times add up to {busy:.0f} s")


def terminal_stream() -> TextIO | None:
    """Where the progress line goes: standard output when it is a terminal."""
    return sys.stdout if sys.stdout.isatty() else None
