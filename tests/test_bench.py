"""tools/bench.py's statistics, tables and trace counting (portable), and one tiny run (Windows)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"


def load(name: str) -> ModuleType:
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


stats = load("bench_stats")
M = stats.Measurement


def test_rounds_alternate_a_b_then_b_a() -> None:
    assert [stats.order(n) for n in range(4)] == [
        ("anchor", "ours"), ("ours", "anchor"), ("anchor", "ours"), ("ours", "anchor")]


def test_median_of_odd_and_even_counts() -> None:
    assert stats.median([3.0, 1.0, 2.0]) == 2.0
    assert stats.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError):
        stats.median([])


def test_spread_is_median_min_max_and_count() -> None:
    assert stats.Spread.of([1.2, 0.8, 1.0, 5.0, 0.9]) == stats.Spread(1.0, 0.8, 5.0, 5)
    assert stats.Spread.of([]) is None


def test_throughput_ratio_is_ours_over_anchor_and_cost_ratio_anchor_over_ours() -> None:
    assert stats.ratio(100.0, 150.0, higher_is_better=True) == 1.5  # ours: more per second
    assert stats.ratio(80.0, 40.0, higher_is_better=False) == 2.0  # ours: half the microseconds


def test_measurement_values_in_the_row_unit() -> None:
    run = M(seconds=2.0, cpu=0.5, messages=1000)
    assert run.value(1.0, higher_is_better=True) == 500.0  # messages per second
    assert run.value(0.065536, higher_is_better=True) == pytest.approx(32.768)  # MB/s of 64 KiB
    assert run.value(1.0, higher_is_better=False) == 2000.0  # microseconds per message


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_ratio_above_one_when_ours_takes_less_time_either_way(higher_is_better: bool) -> None:
    row = stats.Row("w", "port", "u", higher_is_better)
    row.add(M(1.0, 0.5, 100), M(0.5, 0.25, 100))  # ours twice as fast
    assert row.ratios() == [pytest.approx(2.0)]


def test_row_reports_the_median_of_paired_ratios_not_the_best() -> None:
    row = stats.Row("ping-pong", "port", "trips/s")
    for anchor_s, ours_s in [(1.0, 1.0), (1.0, 2.0), (2.0, 1.0), (1.0, 1.25), (3.0, 1.0)]:
        row.add(M(anchor_s, 0.1, 100), M(ours_s, 0.1, 100))
    speed = row.speed()
    assert speed is not None
    assert (speed.median, speed.low, speed.high, speed.rounds) == (1.0, 0.5, 3.0, 5)


def test_cpu_ratio_is_ours_per_message_over_anchor_and_skips_a_zero_anchor() -> None:
    assert stats.cpu_ratio(M(1.0, 0.2, 100), M(1.0, 0.2, 50)) == pytest.approx(2.0)
    assert stats.cpu_ratio(M(1.0, 0.0, 100), M(1.0, 0.2, 100)) is None
    row = stats.Row("w", "port", "u")
    row.add(M(1.0, 0.0, 100), M(1.0, 0.1, 100))
    row.add(M(1.0, 0.4, 100), M(1.0, 0.1, 100))
    assert row.cpu_ratios() == [pytest.approx(0.25)]
    cpu = row.cpu()
    assert cpu is not None and cpu.rounds == 1


def sample_rows() -> list[stats.Row]:
    fast = stats.Row("ping-pong", "port +skip", "trips/s")
    fast.add(M(1.0, 0.3, 100), M(0.8, 0.3, 100))
    fast.add(M(1.0, 0.3, 100), M(1.0, 0.6, 100))
    fast.add(M(1.0, 0.3, 100), M(0.9, 0.45, 100))
    fast.calls_ours, fast.calls_anchor = 15.55, 17.0
    post = stats.Row("post + dequeue", "port", "us", higher_is_better=False)
    post.add(M(1.0, 0.5, 1000), M(2.0, 1.0, 1000))
    asyncio_row = stats.Row("asyncio echo", "compat.overlapped", "trips/s")
    return [fast, post, asyncio_row]


def test_text_table_has_one_aligned_line_per_row() -> None:
    lines = stats.render_table(sample_rows()).splitlines()
    assert lines[0].split()[:2] == ["workload", "implementation"]
    assert len(lines) == 4
    assert len({line.index("x  ") for line in lines[1:3]}) == 1  # the ratio column lines up
    ping = lines[1]
    assert "1.11x" in ping and "1.00..1.25" in ping and " 3 " in ping
    assert "1.50" in ping  # CPU per message ours / C, median of 1.0, 2.0, 1.5
    assert "15.6 vs 17.0" in ping
    assert "0.50x" in lines[2] and "- vs -" in lines[2]
    assert lines[3].split()[3:] == ["-", "-", "0", "-", "-", "vs", "-"]  # no rounds yet


def test_markdown_table_is_a_readme_table() -> None:
    text = stats.render_markdown(sample_rows())
    lines = text.splitlines()
    assert lines[0].startswith("| workload |") and lines[1].startswith("| --- |")
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines)
    assert len({line.count("|") for line in lines}) == 1
    assert "| ping-pong | port +skip | 1.11x | 1.00..1.25 | 3 | 1.50 | 15.6 vs 17.0 |" in lines
    assert "`compat.overlapped`" in text


def test_json_report_keeps_every_raw_number() -> None:
    data = json.loads(json.dumps(stats.report({"rounds": 3}, sample_rows())))
    assert data["rounds"] == 3 and data["anchor"] == "_overlapped (C)"
    ping = data["rows"][0]
    assert ping["ratio"] == {"median": pytest.approx(1.111, abs=1e-3), "low": 1.0,
                             "high": 1.25, "rounds": 3}
    assert ping["rounds"][0] == {"anchor": {"seconds": 1.0, "cpu": 0.3, "messages": 100},
                                 "ours": {"seconds": 0.8, "cpu": 0.3, "messages": 100}}
    assert ping["values"] == [125.0, 100.0, pytest.approx(111.11, abs=0.01)]
    assert ping["calls_per_message"] == {"ours": 15.55, "anchor": 17.0}
    post = data["rows"][1]
    assert post["higher_is_better"] is False and post["values"] == [2000.0]
    assert data["rows"][2]["ratio"] is None


TRACE = """\
0024: init_first_thread( unix_pid=1, unix_tid=1, debug_level=1, reply_fd=7, wait_fd=9 )
0024: init_first_thread() = 0 { pid=0020, tid=0024, server_start=0 }
0030: init_first_thread() = 0 { pid=002c, tid=0030, server_start=0 }
0024: create_event( access=001f0003, manual_reset=1, initial_state=0, objattr={rootdir=0058,\
attributes=00000080,sd={},name=L"wsbench:ping-pong|port/0:begin"} )
0024: create_event() = 0 { handle=0060 }
0024: close_handle( handle=0060 )
0024: close_handle() = 0
0024: recv_socket( async={handle=0050} )
0030: select( flags=2 )
0024: create_event( access=001f0003, manual_reset=1, initial_state=0, objattr={rootdir=0058,\
attributes=00000080,sd={},name=L"wsbench:ping-pong|port/0:end"} )
0024: close_handle( handle=0060 )
0024: create_event( access=001f0003, manual_reset=1, initial_state=0, objattr={rootdir=0058,\
attributes=00000080,sd={},name=L"wsbench:ping-pong|port/2:begin"} )
0024: close_handle( handle=0060 )
0024: *fd* 0054 -> 23
0024: new_thread( process=ffffffff, access=001fffff, flags=00000001, request_fd=11, objattr={} )
0024: new_thread() = 0 { tid=0040, handle=00a4 }
0040: init_thread( unix_tid=23715, reply_fd=13, wait_fd=15, teb=67fd0000, entry=368454420 )
0040: init_thread() = 0 { suspend=0 }
0024: recv_socket( async={handle=0050} )
0024: send_socket( async={handle=0050} )
0024: remove_completion( handle=0054 )
0024: remove_completion( handle=0054 )
0024: recv_socket( async={handle=0050} )
0030: select( flags=2 )
0024: create_event( access=001f0003, manual_reset=1, initial_state=0, objattr={rootdir=0058,\
attributes=00000080,sd={},name=L"wsbench:ping-pong|port/2:end"} )
sock_reselect(0x5627): new mask 0
Traceback (most recent call last):
"""


def test_trace_counts_requests_of_the_marking_process_between_markers() -> None:
    counter = stats.TraceCounter()
    fed = [counter.feed(line) for line in TRACE.splitlines()]
    assert fed[-2:] == [False, False]  # not the server's: shown on failure
    assert all(fed[:-2])
    assert counter.segments["ping-pong|port/0"] == Counter(close_handle=1, recv_socket=1)
    # The other process's select is not counted; the new thread's init_thread is.
    assert counter.segments["ping-pong|port/2"] == Counter(
        close_handle=1, new_thread=1, init_thread=1, recv_socket=2, send_socket=1,
        remove_completion=2)
    assert counter.process["0040"] == "0020"


def test_calls_per_message_subtract_the_empty_run() -> None:
    counter = stats.TraceCounter().feed_all(TRACE.splitlines())
    calls = stats.calls_from_segments(counter.segments)
    assert calls["ping-pong|port"] == {
        "total": 3.0, "messages": 2,
        "by_request": {"init_thread": 0.5, "new_thread": 0.5, "recv_socket": 0.5,
                       "remove_completion": 1.0, "send_socket": 0.5},
    }


def test_bench_imports_off_windows_and_lists_every_row() -> None:
    bench = load("bench")
    rows = {w.name: set(w.ours) for w in bench.workloads()}
    assert rows["bulk 64 KiB"] == {"port", "port +skip", "events", "routines", "blocking socket"}
    assert rows["ping-pong"] == rows["bulk 64 KiB"] | {"raw layer"}
    assert {"port", "port batch 64", "port +skip", "port +skip batch 64", "routines"} \
        == rows["echo x64"] == rows["echo x256"]
    assert rows["post + dequeue"] == {"port"}
    assert rows["asyncio echo"] == {"compat.overlapped", "winsock_ov.aio", "SelectorEventLoop"}
    assert rows["asyncio echo x64"] == rows["asyncio echo"]
    assert rows[bench.SELECT_WORKLOAD] == {"AFDSelector 10", "AFDSelector 10,000",
                                          "AFDSelector 10 +10,000 idle elsewhere",
                                          "SelectSelector 500"}
    assert [bench.asyncio_connections(name) for name in ("asyncio echo", "asyncio echo x64")] \
        == [1, 64]
    args = bench.parse_args(["--quick"])
    assert (args.rounds, args.scale) == (3, 0.2)
    assert bench.parse_args(["--rounds", "5"]).rounds == 5
    for workload in bench.workloads():
        if workload.name.startswith("echo x"):
            connections = int(workload.name[6:])
            assert bench.scaled(workload, 0.2) % connections == 0


C_ROWS = {"port / C", "events new / C", "events reused / C", "events new / C reused",
          "routines / C"}


def test_the_c_program_adds_one_row_per_style_to_ping_pong_bulk_and_echo_x64() -> None:
    bench = load("bench")
    program = object()  # only stored: nothing is called before a run
    every = bench.workloads(program)  # type: ignore[arg-type]
    plain = {w.name: set(w.ours) for w in bench.workloads()}
    for workload in every:
        added = set(workload.ours) - plain[workload.name]
        assert added == (C_ROWS if workload.name in ("ping-pong", "bulk 64 KiB", "echo x64")
                         else set()), workload.name
        for row in added:
            style = bench.C_STYLES[row][0]
            assert workload.anchor_of(row)[0] == f"C program: {style}"
        assert workload.anchor_of("port")[0] == bench.ANCHOR
    only_c = bench.select(bench.workloads(program), [], only_c=True)  # type: ignore[arg-type]
    assert [(w.name, set(w.ours)) for w in only_c] == [
        ("ping-pong", C_ROWS), ("bulk 64 KiB", C_ROWS), ("echo x64", C_ROWS)]
    assert set(only_c[0].every_anchor()) == {f"C program: {style}"
                                             for style, _ in bench.C_STYLES.values()}
    assert bench.parse_args(["--only-c", "--c-anchor", "a.dll"]).only_c
    with pytest.raises(SystemExit):
        bench.parse_args(["--only-c"])


def test_each_row_takes_the_calls_of_its_own_anchor() -> None:
    bench = load("bench")
    rows = [stats.Row("ping-pong", "port", "trips/s"),
            stats.Row("ping-pong", "port / C", "trips/s", anchor="C program: port")]
    calls = {"ping-pong|_overlapped (C)": {"total": 17.0, "by_request": {"select": 4.0}},
             "ping-pong|C program: port": {"total": 16.0, "by_request": {"select": 3.0}},
             "ping-pong|port": {"total": 17.0, "by_request": {}},
             "ping-pong|port / C": {"total": 17.0, "by_request": {}}}
    bench.attach_calls(rows, calls)
    assert [row.calls_anchor for row in rows] == [17.0, 16.0]
    assert rows[1].calls_detail["anchor"] == {"select": 3.0}
    assert [title for title, _ in bench.tables_by_anchor(rows)] == [
        "ours / _overlapped (C)",
        "ours / C program (tools/anchor/anchor.c: the same style's calls in C)"]
    assert json.loads(json.dumps(rows[1].as_json()))["anchor"] == "C program: port"


@pytest.mark.windows
def test_benchmark_runs_every_row_and_writes_paired_ratios(tmp_path: Path) -> None:
    # Every workload but the selector rows, whose 10,000 sockets take a minute to
    # register and close at every run: the next test runs their code, smaller.
    bench = load("bench")
    out = tmp_path / "bench.json"
    only = ["ping-pong", "bulk", "echo", "post + dequeue"]
    assert bench.main(["--scale", "0.01", "--rounds", "2", "--json", str(out),
                       *(f"--only={name}" for name in only)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {row["workload"] for row in rows} == {
        "ping-pong", "bulk 64 KiB", "echo x64", "echo x256", "post + dequeue", "asyncio echo",
        "asyncio echo x64"}
    for row in rows:
        assert row["ratio"]["rounds"] == 2 and len(row["rounds"]) == 2, row
        assert all(value > 0 for value in row["ratios"]), row


@pytest.mark.windows
@pytest.mark.skipif(not os.environ.get("WINSOCK_OV_C_ANCHOR"),
                    reason="the C anchor is built by tools/winenv.py (WINSOCK_OV_C_ANCHOR)")
def test_benchmark_runs_the_rows_against_the_c_program(tmp_path: Path) -> None:
    bench = load("bench")
    out = tmp_path / "bench.json"
    assert bench.main(["--scale", "0.01", "--rounds", "2", "--only-c", "--json", str(out),
                       "--c-anchor", os.environ["WINSOCK_OV_C_ANCHOR"]]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(row["workload"], row["implementation"]) for row in rows} == {
        (workload, name) for workload in ("ping-pong", "bulk 64 KiB", "echo x64")
        for name in C_ROWS}
    for row in rows:
        style = bench.C_STYLES[row["implementation"]][0]
        assert row["anchor"] == f"C program: {style}", row
        assert row["ratio"]["rounds"] == 2 and all(value > 0 for value in row["ratios"]), row


def test_winenv_counts_the_c_program_with_the_selected_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load("winenv")  # puts tools/ on sys.path for the package
    from testbed import cli
    from testbed.env import Env

    seen: list[list[str]] = []

    def run(env: object, version: str, args: list[str], **kwargs: object) -> int:
        seen.append(args)
        return 0

    monkeypatch.setattr(cli, "run_windows_python", run)
    env = Env(cache=tmp_path)
    cli.count_bench_calls(env, "3.11", TOOLS / "bench.py",
                             ["--c-anchor", "Z:\\a.dll", "--rounds", "3", "--only", "bulk",
                              "--only-c", "--markdown"])
    assert seen[0][1:] == ["--count-calls", "--c-anchor", "Z:\\a.dll", "--only", "bulk",
                           "--only-c"]


@pytest.mark.windows
@pytest.mark.parametrize(("kind", "registered", "elsewhere"), [
    ("select", 10, 0), ("afd", 10, 0), ("afd", 40, 0), ("afd", 10, 30)])
def test_a_selector_row_times_one_select_per_message(kind: str, registered: int,
                                                     elsewhere: int) -> None:
    bench = load("bench")
    measurement = bench.select_one(kind, registered, elsewhere)(25)
    assert measurement.messages == 25 and measurement.seconds > 0


def test_winenv_bench_passes_bench_options_through_and_can_skip_the_count() -> None:
    load("winenv")
    from testbed import cli

    args = cli.parse_args(["bench", "--python", "3.13", "--", "--quick", "--markdown"])
    assert (args.python, args.no_calls, args.bench_args) == ("3.13", False,
                                                             ["--quick", "--markdown"])
    assert cli.parse_args(["bench", "--no-calls"]).no_calls


def test_a_whole_workload_name_selects_that_workload_alone() -> None:
    bench = load("bench")
    every = bench.workloads()

    def names(only: list[str]) -> list[str]:
        return [w.name for w in bench.select(bench.workloads(), only, only_c=False)]

    assert names(["echo x64"]) == ["echo x64"]  # not "asyncio echo x64"
    assert names(["asyncio echo"]) == ["asyncio echo"]
    assert names(["echo x"]) == [w.name for w in every if "echo x" in w.name]
    assert len(names(["echo x"])) > 2
