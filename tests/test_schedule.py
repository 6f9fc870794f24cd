"""The test bed's scheduler (tools/testbed/schedule.py): tiers on parallel workers,
each with its own Wine prefix, their output kept whole, longest first."""

from __future__ import annotations

import io
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from support import WAIT, load_tool

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="tools/winenv.py runs on Linux")

schedule = load_tool("testbed.schedule")
testenv = load_tool("testbed.env")
tiers = load_tool("testbed.tiers")


@pytest.fixture(autouse=True)
def made_prefixes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Wine prefixes the scheduler made sure of (no Wine runs here)."""
    made: list[str] = []
    monkeypatch.setattr(schedule, "ensure_wineprefix", lambda env: made.append(
        env.wineprefix.name))
    return made


def make_env(tmp_path: Path, lines: list[str]) -> Any:
    return testenv.Env(cache=tmp_path, repo=tmp_path, out=lines.append)


def tier(key: str, body: Callable[[Any], Any]) -> Any:
    def run(env: Any) -> Any:
        body(env)
        return tiers.TierResult(key, True, passed=1)
    return schedule.Tier(key, key, run)


def test_two_workers_run_two_tiers_at_once_each_in_its_own_wine_prefix(
        tmp_path: Path, made_prefixes: list[str]) -> None:
    lines: list[str] = []
    first_started, prefixes = threading.Event(), {}

    def first(env: Any) -> None:
        prefixes["first"] = env.wineprefix
        first_started.set()
        env.out("first says hello")

    def second(env: Any) -> None:
        prefixes["second"] = env.wineprefix
        # Ends only while the other tier runs: one worker alone would fail this.
        assert first_started.wait(WAIT), "the other tier never started beside this one"
        env.out("second says hello")

    chosen = [tier("windows-3.11", second), tier("windows-3.12", first)]
    results = schedule.run_tiers(make_env(tmp_path, lines), chosen, jobs=2)
    assert [(r.name, r.ok) for r in results] == [("windows-3.11", True), ("windows-3.12", True)]
    assert {r.worker for r in results} == {1, 2}
    assert prefixes["first"] != prefixes["second"]
    assert {p.name for p in prefixes.values()} == {"wineprefix", "wineprefix-2"}
    assert sorted(made_prefixes) == ["wineprefix", "wineprefix-2"]


def test_a_wine_prefix_another_winenv_process_holds_is_not_used(tmp_path: Path) -> None:
    """A `winenv.py run` beside a `test` (or two test runs in one cache): each run ends
    by killing its prefix's Wine server, so prefixes are never shared."""
    import fcntl

    (tmp_path / "locks").mkdir()
    with open(tmp_path / "locks" / "wineprefix.lock", "w") as other_run:
        fcntl.flock(other_run, fcntl.LOCK_EX | fcntl.LOCK_NB)
        used: set[str] = set()
        both = threading.Barrier(2, timeout=WAIT)  # one tier on each worker

        def body(env: Any) -> None:
            used.add(env.wineprefix.name)
            both.wait()

        results = schedule.run_tiers(make_env(tmp_path, []),
                                     [tier("windows-3.9", body), tier("windows-3.10", body)],
                                     jobs=2)
        assert all(r.ok for r in results)
    assert used == {"wineprefix-2", "wineprefix-3"}
    with testenv.claimed_prefixes(make_env(tmp_path, []), 1) as [claimed]:
        assert claimed.wineprefix.name == "wineprefix"  # free again once released


def test_each_tiers_output_is_printed_whole_in_one_block(tmp_path: Path) -> None:
    lines: list[str] = []
    barrier = threading.Barrier(2, timeout=WAIT)

    def chatty(name: str) -> Callable[[Any], None]:
        def body(env: Any) -> None:
            for number in range(3):
                env.out(f"{name} line {number}")
                barrier.wait()  # the two tiers print turn about
        return body

    schedule.run_tiers(make_env(tmp_path, lines),
                       [tier("windows-3.9", chatty("a")), tier("windows-3.10", chatty("b"))],
                       jobs=2)
    blocks = [line for line in lines if not line.startswith("--> ")]
    for name in ("a", "b"):
        start = blocks.index(f"{name} line 0")
        assert blocks[start:start + 3] == [f"{name} line {n}" for n in range(3)]
        assert blocks[start - 1].startswith("=== [") and blocks[start + 3].startswith(
            "=== end of ")


def test_a_tier_that_raises_fails_with_what_it_raised_and_the_others_run(
        tmp_path: Path) -> None:
    lines: list[str] = []

    def broken(env: Any) -> None:
        raise KeyError("no such report")

    def failed_step(env: Any) -> None:
        raise testenv.StepError("pip download wheels: no network")

    chosen = [tier("windows-3.9", broken), tier("windows-3.10", failed_step),
              tier("abi", lambda env: None)]
    results = schedule.run_tiers(make_env(tmp_path, lines), chosen, jobs=1)
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].note == "KeyError: 'no such report'"
    assert results[1].note == "failed step: pip download wheels: no network"
    assert any("Traceback" in line for line in lines)
    assert "winenv: failed step: pip download wheels: no network" in lines


def test_the_next_run_takes_the_longest_tier_first(tmp_path: Path) -> None:
    order: list[str] = []
    chosen = [tier(key, lambda env, key=key: order.append(key))
              for key in ("abi", "portable", "windows-3.13")]
    timings = schedule.Timings(tmp_path / "timings.json")
    assert [t.key for t in sorted(chosen, key=timings.expected, reverse=True)] == [
        "windows-3.13", "portable", "abi"]  # a first run: the defaults
    timings.save({"abi": tiers.TierResult("abi", True, seconds=900.0)})
    schedule.run_tiers(make_env(tmp_path, []), chosen, jobs=1)
    assert order[0] == "abi"
    saved = schedule.Timings(tmp_path / "timings.json").seconds
    assert set(saved) == {"abi", "portable", "windows-3.13"}


@pytest.mark.parametrize(("lines", "status"), [
    (["============ test session starts", "collected 200 items", "tests/a.py ....  [ 10%]",
      "tests/b.py ....  [ 45%]"], "90/200 tests"),
    (["CPython 3.13.2: 31 modules, 4 pinned hangs",
      "test.test_asyncio.test_base_events   passed C (recorded):  120   winsock_ov:  120",
      "test.test_asyncio.test_buffered_proto passed C (recorded):    4   winsock_ov:    4"],
     "2/31 modules"),
    (["==> CPython 3.13 asyncio tests (Wine): ..."], "starting"),
])
def test_progress_is_read_off_the_tiers_own_output(lines: list[str], status: str) -> None:
    output = schedule.TierOutput(schedule.Tier("asyncio-3.13", "x", lambda env: None), 1)
    for line in lines:
        output.line(line)
    assert output.status().startswith(f"asyncio-3.13 {status} 0m0")
    assert output.lines == lines


def test_a_terminal_gets_a_progress_line_and_a_log_gets_start_lines(tmp_path: Path) -> None:
    terminal, lines = io.StringIO(), []
    board = schedule.Board(make_env(tmp_path, lines), terminal)
    output = schedule.TierOutput(schedule.Tier("windows-3.11", "Windows 3.11", lambda e: None),
                                 2)
    board.started(output)
    output.line("collected 10 items")
    board.tick()
    assert terminal.getvalue() == "windows-3.11 0/10 tests 0m00s"
    board.finished(output, tiers.TierResult("Windows 3.11", True, worker=2), 1, 1)
    assert terminal.getvalue().endswith("\r" + " " * 29 + "\r")  # cleared before the block
    assert lines[0] == "=== [1/1] Windows 3.11: ok in 0m00s (worker 2) ==="
    logged: list[str] = []
    schedule.Board(make_env(tmp_path, logged), None).started(output)
    assert logged == ["--> Windows 3.11: started on worker 2"]


def test_an_interrupted_run_ends_the_running_tiers_processes_and_starts_no_more(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started, ended = threading.Event(), threading.Event()
    ran: list[str] = []

    def blocked(env: Any) -> None:
        ran.append("blocked")
        started.set()
        assert ended.wait(WAIT), "kill_all never ended this tier"

    def interrupt(self: Any) -> None:
        if started.is_set():
            raise KeyboardInterrupt

    monkeypatch.setattr(schedule.Board, "tick", interrupt)
    monkeypatch.setattr(schedule, "kill_all", ended.set)
    chosen = [tier("asyncio-3.13", blocked), tier("abi", lambda env: ran.append("abi"))]
    with pytest.raises(KeyboardInterrupt):
        schedule.run_tiers(make_env(tmp_path, []), chosen, jobs=1)
    assert ran == ["blocked"]
