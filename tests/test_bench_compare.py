"""tools/bench_compare.py's bookkeeping: rounds of two versions, paired per round (portable)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
_spec = importlib.util.spec_from_file_location("bench_compare", TOOLS / "bench_compare.py")
assert _spec is not None and _spec.loader is not None
compare = importlib.util.module_from_spec(_spec)
sys.modules["bench_compare"] = compare
_spec.loader.exec_module(compare)


def row(workload: str, implementation: str, ratio: float | None,
        cpu: float | None = None) -> dict[str, Any]:
    return {"workload": workload, "implementation": implementation,
            "ratios": [] if ratio is None else [ratio], "cpu_ratios": [] if cpu is None else [cpu]}


def test_each_round_pairs_the_two_versions_measured_in_it() -> None:
    table: dict[tuple[str, str], Any] = {}
    for index, (before, after) in enumerate([(0.80, 0.88), (0.50, 0.60), (0.90, 0.90)]):
        compare.record(table, "before", [row("ping-pong", "port", before, 1.5)], index)
        compare.record(table, "after", [row("ping-pong", "port", after, 1.2)], index)
    comparison = table["ping-pong", "port"]
    assert comparison.paired() == pytest.approx([1.1, 1.2, 1.0])
    assert comparison.paired_cpu() == pytest.approx([0.8, 0.8, 0.8])
    assert comparison.side("before").median == pytest.approx(0.80)
    text = compare.render(table)
    assert "1.10x" in text and "1.00..1.20" in text and "0.80x" in text and "0.88x" in text
    assert text.splitlines()[2].endswith(" 0.80")


def test_a_row_one_version_cannot_run_is_shown_as_not_run() -> None:
    table: dict[tuple[str, str], Any] = {}
    compare.record(table, "after", [row("echo x64", "port batch 64", 1.0)], 0)
    compare.record(table, "before", [row("echo x64", "port", 0.9)], 0)
    assert table["echo x64", "port batch 64"].paired() == []
    text = compare.render(table)
    assert "not run" in text


def test_a_workload_the_older_version_cannot_run_leaves_the_others_compared() -> None:
    runs: list[tuple[int, str, str]] = []

    def run_side(round_index: int, name: str, side: str) -> list[dict[str, Any]] | None:
        runs.append((round_index, name, side))
        if name == "select" and side == "before":  # a module the older version lacks
            return None
        return [row(name, "ours", 1.0 if side == "before" else 1.1)]

    table, not_run = compare.run_rounds(["ping-pong", "select"], 2, run_side)
    assert not_run == {("before", "select")}
    assert runs.count((0, "select", "before")) == 1
    assert (1, "select", "before") not in runs  # not tried again
    assert (1, "select", "after") in runs
    assert table["ping-pong", "ours"].paired() == pytest.approx([1.1, 1.1])
    assert table["select", "ours"].paired() == []
    assert "not run" in compare.render(table)


def test_a_workload_this_tree_cannot_run_ends_the_rounds() -> None:
    runs: list[tuple[int, str, str]] = []

    def run_side(round_index: int, name: str, side: str) -> list[dict[str, Any]] | None:
        runs.append((round_index, name, side))
        return None if side == "after" else [row(name, "ours", 1.0)]

    _, not_run = compare.run_rounds(["ping-pong", "bulk"], 3, run_side)
    assert not_run == {("after", "ping-pong")}
    assert runs == [(0, "ping-pong", "before"), (0, "ping-pong", "after")]


def test_a_row_missing_from_a_round_keeps_the_later_rounds_aligned() -> None:
    table: dict[tuple[str, str], Any] = {}
    compare.record(table, "before", [row("bulk", "port", 1.0)], 0)
    compare.record(table, "after", [row("bulk", "port", 2.0)], 0)
    compare.record(table, "after", [row("bulk", "port", 3.0)], 1)
    compare.record(table, "before", [row("bulk", "port", None)], 1)
    compare.record(table, "before", [row("bulk", "port", 1.5)], 2)
    compare.record(table, "after", [row("bulk", "port", 3.0)], 2)
    assert table["bulk", "port"].ratios["before"] == [1.0, None, 1.5]
    assert table["bulk", "port"].paired() == pytest.approx([2.0, 2.0])


def test_both_versions_are_staged_with_this_trees_harness(tmp_path: Path) -> None:
    before = tmp_path / "old"
    (before / "winsock_ov" / "__pycache__").mkdir(parents=True)
    (before / "winsock_ov" / "__init__.py").write_text("VERSION = 'old'\n")
    (before / "winsock_ov" / "__pycache__" / "x.pyc").write_bytes(b"")
    (before / "tools").mkdir()
    (before / "tools" / "bench.py").write_text("# an older harness\n")
    script = compare.stage(before, tmp_path / "staged")
    assert script == tmp_path / "staged" / "tools" / "bench.py"
    assert script.read_text() == (TOOLS / "bench.py").read_text()
    assert (tmp_path / "staged" / "tools" / "bench_stats.py").is_file()
    assert (tmp_path / "staged" / "winsock_ov" / "__init__.py").read_text() == "VERSION = 'old'\n"
    assert not (tmp_path / "staged" / "winsock_ov" / "__pycache__").exists()


def test_a_folder_without_the_package_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        compare.parse_args([str(tmp_path)])
