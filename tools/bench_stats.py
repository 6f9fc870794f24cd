"""The arithmetic and the printing of ``tools/bench.py``, importable anywhere.

Nothing here touches Winsock: the Windows benchmark feeds it measurements, and
the Linux tests (``tests/test_bench.py``) check it.  Three parts:

* paired rounds: in every round the anchor (CPython's C ``_overlapped``) and
  one implementation of ours run back to back, in the order A B, then B A,
  then A B ...; each round gives one ratio, and a row reports the median ratio
  with its minimum and maximum, never a best-of figure;
* the tables: plain text for the terminal, Markdown for the README, JSON with
  every raw number;
* the Wine server trace: counting the requests a process makes between two
  markers (``WINEDEBUG=+server``), for the calls per message of each row.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

ANCHOR = "_overlapped (C)"


def order(round_number: int) -> tuple[str, str]:
    """Who runs first in a round: A B, B A, A B, ... (A = the anchor).

    Alternating cancels a drift of the machine's speed within a round, which
    would otherwise favour whichever side always ran first.
    """
    return ("anchor", "ours") if round_number % 2 == 0 else ("ours", "anchor")


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class Spread:
    """The median of a row's per-round ratios, with their range."""

    median: float
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        return cls(median(values), min(values), max(values), len(values))


@dataclass(frozen=True)
class Measurement:
    """One timed run: wall seconds, CPU seconds of the thread(s) doing the I/O, messages."""

    seconds: float
    cpu: float
    messages: int

    def value(self, per_message: float, higher_is_better: bool) -> float:
        """The figure in the row's unit: a throughput, or microseconds per message."""
        if higher_is_better:
            return self.messages * per_message / self.seconds
        return self.seconds / self.messages * 1e6

    def as_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "cpu": self.cpu, "messages": self.messages}


def ratio(anchor: float, ours: float, higher_is_better: bool) -> float:
    """Above 1 means ours is better: ours / anchor for a throughput, anchor / ours for a cost."""
    return ours / anchor if higher_is_better else anchor / ours


def cpu_ratio(anchor: Measurement, ours: Measurement) -> float | None:
    """Our CPU per message over the anchor's (below 1 means ours spends less).

    None when the anchor's thread time did not move: its clock ticks in 10 ms
    steps under Wine, so a very short run can read 0.
    """
    if anchor.cpu <= 0 or anchor.messages == 0 or ours.messages == 0:
        return None
    return (ours.cpu / ours.messages) / (anchor.cpu / anchor.messages)


@dataclass
class Row:
    """One implementation of ours against the anchor, on one workload."""

    workload: str
    implementation: str
    unit: str
    higher_is_better: bool = True
    per_message: float = 1.0  # unit amount carried by one message (e.g. MB per write)
    anchor: str = ANCHOR  # what the row is measured against
    pairs: list[tuple[Measurement, Measurement]] = field(default_factory=list)  # (anchor, ours)
    calls_ours: float | None = None  # Wine server requests per message
    calls_anchor: float | None = None
    calls_detail: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, anchor: Measurement, ours: Measurement) -> None:
        self.pairs.append((anchor, ours))

    def values(self, side: int) -> list[float]:
        return [pair[side].value(self.per_message, self.higher_is_better) for pair in self.pairs]

    def ratios(self) -> list[float]:
        return [ratio(a, o, self.higher_is_better) for a, o in zip(self.values(0), self.values(1))]

    def cpu_ratios(self) -> list[float]:
        found = (cpu_ratio(anchor, ours) for anchor, ours in self.pairs)
        return [value for value in found if value is not None]

    def speed(self) -> Spread | None:
        return Spread.of(self.ratios())

    def cpu(self) -> Spread | None:
        return Spread.of(self.cpu_ratios())

    def as_json(self) -> dict[str, Any]:
        speed, cpu = self.speed(), self.cpu()
        return {
            "workload": self.workload, "implementation": self.implementation,
            "anchor": self.anchor,
            "unit": self.unit, "higher_is_better": self.higher_is_better,
            "ratio": None if speed is None else vars(speed),
            "cpu_ratio": None if cpu is None else vars(cpu),
            "anchor_values": self.values(0), "values": self.values(1),
            "ratios": self.ratios(), "cpu_ratios": self.cpu_ratios(),
            "rounds": [{"anchor": a.as_json(), "ours": o.as_json()} for a, o in self.pairs],
            "calls_per_message": {"ours": self.calls_ours, "anchor": self.calls_anchor},
            "calls_by_request": self.calls_detail,
        }


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _cells(row: Row) -> list[str]:
    speed, cpu = row.speed(), row.cpu()
    return [
        row.workload,
        row.implementation,
        "-" if speed is None else f"{speed.median:.2f}x",
        "-" if speed is None else f"{speed.low:.2f}..{speed.high:.2f}",
        "0" if speed is None else str(speed.rounds),
        "-" if cpu is None else f"{cpu.median:.2f}",
        f"{_number(row.calls_ours, 1)} vs {_number(row.calls_anchor, 1)}",
    ]


HEADERS = ["workload", "implementation", "ratio", "min..max", "rounds", "CPU ours/C",
           "calls/msg ours vs C"]


def render_table(rows: Iterable[Row]) -> str:
    """Aligned text: text columns to the left, figures to the right."""
    lines = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADERS))]
    out = []
    for line in lines:
        cells = [cell.ljust(width) if column < 2 else cell.rjust(width)
                 for column, (cell, width) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def render_markdown(rows: Iterable[Row]) -> str:
    """A README-ready table of the same figures."""
    out = ["| workload | winsock_ov | ratio (median) | min..max | rounds | CPU/msg ours/C "
           "| server calls/msg ours vs C |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        cells = _cells(row)
        cells[1] = f"`{cells[1]}`" if cells[1] == "compat.overlapped" else cells[1]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def report(meta: dict[str, Any], rows: Iterable[Row]) -> dict[str, Any]:
    """Everything for ``--json``: the run's settings and every row's raw numbers."""
    return {**meta, "anchor": ANCHOR, "rows": [row.as_json() for row in rows]}


# --- Wine server requests --------------------------------------------------------------------

MARKER_PREFIX = "wsbench:"
_TRACE = re.compile(r"^[0-9a-f]{4}: ")
_LINE = re.compile(r"^([0-9a-f]{4}): ([a-z_0-9]+)\((.*)$")
_MARKER = re.compile(r'name=L"' + MARKER_PREFIX + r'(.*):(begin|end)"')
_PID = re.compile(r"\bpid=([0-9a-f]+)")
_TID = re.compile(r"\btid=([0-9a-f]+)")


class TraceCounter:
    """Counts the server requests a process makes between its markers.

    Fed the wineserver's ``+server`` trace line by line (``0024: name( args )``
    for a request, ``0024: name() = STATUS { ... }`` for its reply, the number
    being the Windows thread id).  A marker is an event created with the name
    ``wsbench:LABEL:begin`` (or ``:end``); the requests of every thread of the
    marking thread's process in between, the marker's own ``close_handle``
    included, are counted under LABEL.  Threads are tied to their process
    through ``init_first_thread``'s reply and ``new_thread`` requests made for
    the current process (``process=ffffffff``).
    """

    def __init__(self) -> None:
        self.process: dict[str, str] = {}  # thread id -> process id
        self.open: dict[str, tuple[str, Counter[str]]] = {}  # process id -> (label, counts)
        self.segments: dict[str, Counter[str]] = {}
        self._new_thread_here: set[str] = set()

    def feed(self, line: str) -> bool:
        """Take one line; False if it is not the server's (a traceback, a Wine message)."""
        if not _TRACE.match(line):
            return False
        match = _LINE.match(line)
        if match is None:
            return True  # "*fd*", "*signal*" and other notes of the server
        tid, name, rest = match.groups()
        reply = rest.startswith(") = ")
        if name == "init_first_thread" and reply:
            found = _PID.search(rest)
            if found:
                self.process[tid] = found.group(1)
        elif name == "new_thread":
            if not reply and rest.startswith(" process=ffffffff"):
                self._new_thread_here.add(tid)
            elif reply and tid in self._new_thread_here:
                self._new_thread_here.discard(tid)
                child = _TID.search(rest)
                if child and tid in self.process:
                    self.process[child.group(1)] = self.process[tid]
        if reply:
            return True
        pid = self.process.get(tid, "?" + tid)
        if name == "create_event":
            marker = _MARKER.search(rest)
            if marker:
                label, edge = marker.groups()
                if edge == "begin":
                    self.open[pid] = (label, Counter())
                elif pid in self.open and self.open[pid][0] == label:
                    self.segments[label] = self.open.pop(pid)[1]
                return True
        if pid in self.open:
            self.open[pid][1][name] += 1
        return True

    def feed_all(self, lines: Iterable[str]) -> TraceCounter:
        for line in lines:
            self.feed(line)
        return self


def per_message(base: Counter[str], loaded: Counter[str], messages: int) -> dict[str, float]:
    """Requests per message by name: (loaded run - empty run) / messages, zeros dropped."""
    names = sorted(set(base) | set(loaded))
    found = {name: (loaded[name] - base[name]) / messages for name in names}
    return {name: round(value, 3) for name, value in found.items() if value}


def calls_from_segments(segments: dict[str, Counter[str]]) -> dict[str, dict[str, Any]]:
    """``KEY/0`` and ``KEY/N`` segments -> {KEY: {"total": per message, "by_request": ...}}."""
    out: dict[str, dict[str, Any]] = {}
    for label, loaded in segments.items():
        key, _, count = label.rpartition("/")
        if not count.isdigit() or int(count) == 0 or f"{key}/0" not in segments:
            continue
        messages = int(count)
        base = segments[f"{key}/0"]
        detail = per_message(base, loaded, messages)
        total = (sum(loaded.values()) - sum(base.values())) / messages
        out[key] = {"total": round(total, 2), "by_request": detail, "messages": messages}
    return out
