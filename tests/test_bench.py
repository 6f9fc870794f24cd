"""tools/bench.py still runs end to end (tiny scale; its figures are not judged here)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.windows
TOOLS = Path(__file__).resolve().parent.parent / "tools"


def test_benchmark_runs_every_workload_and_writes_ratios(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench", TOOLS / "bench.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = bench
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--scale", "0.01", "--repeat", "1", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())["figures"]
    workloads = {row["workload"] for row in figures}
    assert {"ping-pong", "bulk 64 KiB", "echo x64", "echo x256", "post + dequeue",
            "asyncio echo"} <= workloads
    for row in figures:
        assert row["value"] > 0 and row["ratio"] > 0, row
    anchors = [row for row in figures if row["implementation"] == "_overlapped (C)"]
    assert all(row["ratio"] == 1.0 for row in anchors)
