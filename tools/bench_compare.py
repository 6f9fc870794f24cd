"""Two versions of winsock_ov on the same benchmark, each against the C anchor in the same round.

    python3 tools/bench_compare.py BEFORE [--rounds N] [--python 3.11] [--only TEXT ...]

``BEFORE`` is a folder holding another version's ``winsock_ov`` package (a git
worktree of an earlier commit, say).  Both versions are measured by this tree's
``tools/bench.py``: each package is copied, with that script, into a folder of
the cache, so edits made meanwhile change nothing.  A round runs ``bench.py
--rounds 1`` once per version and workload under Windows CPython (Wine),
BEFORE first in even rounds and second in odd ones, so that the two sides of a
comparison are measured within a minute of each other.  Each version's figure in a round is its
ratio against the C module measured in that same run, so a slow spell of the
machine moves both sides of a ratio alike; the comparison of a row is the
median over rounds of (this tree's ratio) / (BEFORE's ratio), with the lowest
and highest: above 1, this tree does better against the same anchor.  "CPU
a/b" is the same for the interpreter thread's CPU per message against C's
(below 1: this tree spends less).  A row only one version can run is listed
as such.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path[:0] = [str(TOOLS)]

import bench  # noqa: E402  (after the path set-up)
import bench_stats as stats  # noqa: E402
from testbed.env import Env, windows_path  # noqa: E402
from testbed.pins import WINDOWS_VERSIONS  # noqa: E402
from testbed.provision import build_c_anchor, wine_session  # noqa: E402
from testbed.wine import run_windows_python  # noqa: E402

SIDES = ("before", "after")
HARNESS = ("bench.py", "bench_stats.py")


@dataclass
class Comparison:
    """One row's ratios against the anchor, round by round, for both versions."""

    workload: str
    implementation: str
    ratios: dict[str, list[float | None]] = field(
        default_factory=lambda: {side: [] for side in SIDES})
    cpu_ratios: dict[str, list[float | None]] = field(
        default_factory=lambda: {side: [] for side in SIDES})

    def paired(self) -> list[float]:
        """after / before for every round both versions ran."""
        return _paired(self.ratios)

    def paired_cpu(self) -> list[float]:
        """CPU per message against C, after / before (below 1: after spends less)."""
        return _paired(self.cpu_ratios)

    def side(self, name: str) -> stats.Spread | None:
        return stats.Spread.of([r for r in self.ratios[name] if r])


def _paired(values: dict[str, list[float | None]]) -> list[float]:
    return [after / before for before, after in zip(values["before"], values["after"])
            if before and after]


def record(table: dict[tuple[str, str], Comparison], side: str, rows: Iterable[dict],
           round_index: int) -> None:
    """Add one version's run (``bench.py --json`` rows) as round ``round_index``."""
    for row in rows:
        key = (row["workload"], row["implementation"])
        comparison = table.setdefault(key, Comparison(*key))
        for values, measured in ((comparison.ratios[side], row["ratios"]),
                                 (comparison.cpu_ratios[side], row.get("cpu_ratios", []))):
            values.extend([None] * (round_index - len(values)))  # rounds this row missed
            values.append(measured[0] if measured else None)


def render(table: dict[tuple[str, str], Comparison]) -> str:
    header = (f"{'workload':<15} {'implementation':<20} {'after/before':>12} {'min..max':>11}"
              f" {'rounds':>6}   {'before vs C':>11} {'after vs C':>10}   {'CPU a/b':>7}")
    lines = [header, "-" * len(header)]
    for comparison in table.values():
        paired = stats.Spread.of(comparison.paired())
        cpu = stats.Spread.of(comparison.paired_cpu())
        before, after = comparison.side("before"), comparison.side("after")
        if paired is None:
            cells = f"{'-':>12} {'-':>11} {0:>6}"
        else:
            cells = (f"{paired.median:>11.2f}x {paired.low:>5.2f}..{paired.high:<5.2f}"
                     f" {paired.rounds:>6}")
        lines.append(f"{comparison.workload:<15} {comparison.implementation:<20} {cells}   "
                     f"{_median(before):>11} {_median(after):>10}   "
                     f"{'-' if cpu is None else f'{cpu.median:.2f}':>7}")
    return "\n".join(lines)


def _median(spread: stats.Spread | None) -> str:
    return "not run" if spread is None else f"{spread.median:.2f}x"


def stage(package_root: Path, folder: Path) -> Path:
    """A copy of ``package_root``'s winsock_ov with this tree's harness; its bench.py."""
    if folder.exists():
        shutil.rmtree(folder)
    # copyfile, not copy2: Windows CPython 3.12+ copies through CopyFile2, which
    # Wine 8 does not implement (the portable tests run this under Wine too).
    shutil.copytree(package_root / "winsock_ov", folder / "winsock_ov",
                    ignore=shutil.ignore_patterns("__pycache__"),
                    copy_function=shutil.copyfile)
    (folder / "tools").mkdir()
    for name in HARNESS:
        shutil.copyfile(TOOLS / name, folder / "tools" / name)
    return folder / "tools" / "bench.py"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="a folder holding the other winsock_ov")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--python", default="3.11", choices=WINDOWS_VERSIONS)
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="only workloads whose name contains TEXT (repeatable)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    if not (args.before / "winsock_ov" / "__init__.py").is_file():
        parser.error(f"{args.before} holds no winsock_ov package")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    env = Env.from_environment()
    with wine_session(env, [args.python]) as wine:
        return compare(wine, args)


def compare(env: Env, args: argparse.Namespace) -> int:
    """Every selected workload, both versions, ``args.rounds`` rounds; the table printed."""
    work = env.cache / "bench-compare"
    scripts = {"before": stage(args.before, work / "before"),
               "after": stage(TOOLS.parent, work / "after")}
    anchor = ["--c-anchor", windows_path(build_c_anchor(env))]
    names = [workload.name for workload in bench.workloads()
             if not args.only or any(text in workload.name for text in args.only)]

    def run_side(round_index: int, name: str, side: str) -> list[dict] | None:
        report = work / f"{side}.json"
        report.unlink(missing_ok=True)
        env.out(f"==> round {round_index + 1}/{args.rounds}, {name}: {side}")
        code = run_windows_python(
            env, args.python, [windows_path(scripts[side]), "--rounds", "1",
                               "--json", windows_path(report), "--only", name, *anchor],
            timeout=3600)
        if code != 0 or not report.is_file():
            env.out(f"!! bench.py ({side}) exited {code} on {name}: see its output above")
            return None
        return list(json.loads(report.read_text())["rows"])

    table, not_run = run_rounds(names, args.rounds, run_side)
    if any(side == "after" for side, _ in not_run):
        return 1
    env.out("")
    env.out(f"{args.before} (before) against this tree (after), {args.rounds} rounds, "
            f"CPython {args.python}; ratios against the anchor measured in the same run "
            "(the C module, or the C program of the rows named '/ C')")
    for _, name in sorted(not_run):
        env.out(f"{name}: the before version could not run it (its rows: 'not run')")
    env.out(render(table))
    return 0


def run_rounds(names: list[str], rounds: int,
               run_side: Callable[[int, str, str], list[dict] | None]
               ) -> tuple[dict[tuple[str, str], Comparison], set[tuple[str, str]]]:
    """The rounds: each workload of ``names`` by both versions, in alternating order;
    ``run_side(round, workload, side)`` gives a run's rows, or None when it failed.

    The workloads a version failed, as ``(side, workload)``, are not run again.  A
    failure of this tree ("after") ends the rounds: this tree must run them all.  The
    other version may be older than a workload (a module it lacks): its rows there are
    left unmeasured, and the other workloads still compared.
    """
    table: dict[tuple[str, str], Comparison] = {}
    not_run: set[tuple[str, str]] = set()
    for round_index in range(rounds):
        for name in names:
            for side in SIDES if round_index % 2 == 0 else SIDES[::-1]:
                if (side, name) in not_run:
                    continue
                rows = run_side(round_index, name, side)
                if rows is None:
                    not_run.add((side, name))
                    if side == "after":
                        return table, not_run
                    continue
                record(table, side, rows, round_index)
    return table, not_run


if __name__ == "__main__":
    sys.exit(main())
