"""Two test commands timed against each other, in interleaved pairs.

    python3 tools/bench_testbed.py --rounds N --a LABEL=COMMAND --b LABEL=COMMAND

Each round runs both commands, A first in even rounds and B first in odd ones,
so a slow spell of the machine weighs on both; each runs in a shell from the
folder it names (``LABEL=FOLDER::COMMAND``) or from here.  Printed: each run's
wall time and exit code, then the median over rounds of B's time over A's
in the same round, with the lowest and highest.  It answers "how much faster is
the test command with 2 workers than with 1" or "than an earlier commit's",
the way ``bench.py`` answers it for winsock_ov's operations.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path[:0] = [str(TOOLS)]

import bench_stats as stats  # noqa: E402  (after the path set-up)


def side(text: str) -> tuple[str, Path, str]:
    """``LABEL=COMMAND`` or ``LABEL=FOLDER::COMMAND``: (label, folder, command)."""
    label, sep, rest = text.partition("=")
    if not sep or not label or not rest:
        raise argparse.ArgumentTypeError(f"expected LABEL=COMMAND, not {text!r}")
    folder, sep, command = rest.partition("::")
    if not sep:
        folder, command = ".", rest
    return label, Path(folder), command


def timed(folder: Path, command: str, log: Path) -> tuple[float, int]:
    """Wall seconds and exit code of ``command`` run in ``folder``, its output to ``log``."""
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        code = subprocess.run(command, shell=True, cwd=folder, stdin=subprocess.DEVNULL,
                              stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    return time.monotonic() - started, code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=side, required=True, metavar="LABEL=COMMAND")
    parser.add_argument("--b", type=side, required=True, metavar="LABEL=COMMAND")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--logs", type=Path, default=Path("bench-testbed"),
                        help="folder for each run's output (default ./bench-testbed)")
    args = parser.parse_args(argv)
    args.logs.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[tuple[float, int]]] = {"a": [], "b": []}
    for number in range(args.rounds):
        first, second = ("a", "b") if number % 2 == 0 else ("b", "a")
        for key in (first, second):
            label, folder, command = getattr(args, key)
            seconds, code = timed(folder, command, args.logs / f"round{number + 1}-{label}.log")
            runs[key].append((seconds, code))
            print(f"round {number + 1}: {label}: {seconds:.0f} s, exit {code}", flush=True)
    ratios = [b / a for (a, _), (b, _) in zip(runs["a"], runs["b"])]
    spread = stats.Spread.of(ratios)
    assert spread is not None
    labels = {key: getattr(args, key)[0] for key in ("a", "b")}
    for key, label in labels.items():
        times = [seconds for seconds, _ in runs[key]]
        print(f"{label}: median {stats.median(times):.0f} s over {len(times)} runs "
              f"({', '.join(f'{s:.0f}' for s in times)}); exit codes "
              f"{[code for _, code in runs[key]]}")
    print(f"{labels['b']} / {labels['a']}: {spread.median:.2f} "
          f"({spread.low:.2f}..{spread.high:.2f}, {spread.rounds} pairs)")
    (args.logs / "summary.json").write_text(json.dumps({
        "labels": labels, "runs": runs, "ratio": [spread.median, spread.low, spread.high]},
        indent=1))
    return 0 if all(code == 0 for key in runs for _, code in runs[key]) else 1


if __name__ == "__main__":
    sys.exit(main())
