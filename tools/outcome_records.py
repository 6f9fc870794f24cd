"""Recorded outcomes of a reference implementation, so a normal run need not run it.

A suite compares winsock_ov's implementations with a reference (CPython's C
``_overlapped``, asyncio's default loop, ...) whose outcomes depend only on
pinned inputs: the Windows CPython build, the suite's version, Wine's version.
Those outcomes are data in the repository (``tools/records/SUITE-VERSION.json``),
written by a run with ``--record`` and read by every other run, which then runs
the reference only on the tests ours fails and the record says it passed (the
retry rules of ``unittest_runs.judge_suspects`` decide, in that run).

A record states the inputs it was made with and the command that makes it
again.  A run whose inputs differ refuses the record (``RecordError``): the
reference's outcomes may have changed with them.

The outcomes are stored under the module that ran them (a doctest's id names
its function, not that module), grouped by the part of each test id before its
last dot (module and class), one string of names per outcome, so that a
record is small and a change reads as a short diff.

Runs under the Windows CPython of a suite (3.9 and later) and under the Linux one.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

FORMAT = 2
OUTCOMES = ("pass", "fail", "error", "skip", "hung", "crashed")


class RecordError(Exception):
    """A record that cannot be used: missing, malformed, or made from other inputs."""


ByModule = dict  # {module: {test id: outcome}}


def pack(outcomes: dict[str, str]) -> dict[str, dict[str, str]]:
    """``{test id: outcome}`` as ``{container: {outcome: "name name ..."}}``."""
    packed: dict[str, dict[str, list[str]]] = {}
    for test in sorted(outcomes):
        container, _, name = test.rpartition(".")
        packed.setdefault(container, {}).setdefault(outcomes[test], []).append(name)
    return {container: {outcome: " ".join(names) for outcome, names in sorted(groups.items())}
            for container, groups in packed.items()}


def unpack(packed: dict[str, dict[str, str]]) -> dict[str, str]:
    """The inverse of ``pack``."""
    outcomes = {}
    for container, groups in packed.items():
        for outcome, names in groups.items():
            if outcome not in OUTCOMES:
                raise RecordError(f"unknown outcome {outcome!r} under {container}")
            for name in names.split():
                outcomes[f"{container}.{name}" if container else name] = outcome
    return outcomes


def count(by_module: dict[str, dict[str, str]]) -> dict[str, int]:
    """How many tests of each outcome, over every module."""
    every = [o for outcomes in by_module.values() for o in outcomes.values()]
    return {kind: every.count(kind) for kind in OUTCOMES}


def this_run(expected: dict[str, Any]) -> dict[str, str]:
    """The inputs of this run: what the caller pinned (``expected["inputs"]``) and
    the interpreter it runs on."""
    return {**expected["inputs"], "cpython": platform.python_version()}


def read_expected(path: str) -> dict[str, Any]:
    """The file the test bed writes for a suite run: ``{"inputs": {...}, "rerecord":
    "the command that records again"}``."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data.get("inputs"), dict) or not isinstance(data.get("rerecord"), str):
        raise RecordError(f"{path}: expected inputs and rerecord")
    return data


def save(path: Path, *, suite: str, reference: str, expected: dict[str, Any],
         outcomes: dict[str, dict[str, str]]) -> None:
    """Write ``outcomes`` of ``reference`` (``{module: {test id: outcome}}``) as the
    record of ``suite``."""
    data = {"format": FORMAT, "suite": suite, "reference": reference,
            "inputs": this_run(expected), "recorded_by": expected["rerecord"],
            "counts": count(outcomes),
            "outcomes": {module: pack(tests) for module, tests in outcomes.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load(path: Path, *, suite: str, reference: str,
         expected: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The recorded outcomes of ``reference``, ``{module: {test id: outcome}}``;
    RecordError, saying how to record again, when there is none or it was made
    from other inputs."""
    again = f"record it with `{expected['rerecord']}`"
    if not path.is_file():
        raise RecordError(f"no record of {reference}'s outcomes at {path}: {again}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        recorded = {module: unpack(packed) for module, packed in data["outcomes"].items()}
    except (RecordError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecordError(f"{path} is not a record ({exc!r}): {again}") from None
    if (data.get("format"), data.get("suite"), data.get("reference")) != (FORMAT, suite,
                                                                          reference):
        raise RecordError(f"{path} is a record of {data.get('reference')!r} in suite "
                          f"{data.get('suite')!r}, not of {reference!r} in {suite!r}: {again}")
    now = this_run(expected)
    if data.get("inputs") != now:
        differ = sorted(set(now) | set(data.get("inputs") or {}))
        changed = "; ".join(f"{key}: recorded {data['inputs'].get(key)!r}, now {now.get(key)!r}"
                            for key in differ if data["inputs"].get(key) != now.get(key))
        raise RecordError(f"{path} was recorded from other inputs ({changed}): "
                          f"its outcomes may not hold any more; {again}")
    return recorded
