"""tools/bench_testbed.py: two commands timed in interleaved pairs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
from support import load_tool

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="tools/winenv.py runs on Linux")

bench_testbed = load_tool("bench_testbed")


def test_a_side_is_a_label_a_command_and_maybe_a_folder() -> None:
    assert bench_testbed.side("old=/work/old::python3 tools/winenv.py test") == (
        "old", Path("/work/old"), "python3 tools/winenv.py test")
    assert bench_testbed.side("new=python3 x.py --a=b") == ("new", Path("."), "python3 x.py --a=b")
    for bad in ("no label", "=cmd", "label="):
        with pytest.raises(argparse.ArgumentTypeError):
            bench_testbed.side(bad)


def test_rounds_alternate_who_runs_first_and_the_ratio_is_b_over_a(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace"
    python = sys.executable

    def command(label: str, code: int) -> str:
        return (f"{label}={python} -c \"open(r'{trace}', 'a').write('{label} '); "
                f"raise SystemExit({code})\"")

    code = bench_testbed.main(["--rounds", "3", "--a", command("one", 0),
                               "--b", command("two", 0), "--logs", str(tmp_path / "logs")])
    assert code == 0
    assert trace.read_text().split() == ["one", "two", "two", "one", "one", "two"]
    summary = json.loads((tmp_path / "logs" / "summary.json").read_text())
    assert summary["labels"] == {"a": "one", "b": "two"}
    assert "two / one: " in capsys.readouterr().out
    assert bench_testbed.main(["--a", command("one", 0), "--b", command("two", 3),
                               "--logs", str(tmp_path / "logs")]) == 1
