"""tools/testbed/twisted.py, tools/twisted_suite.py and tools/twisted_bench.py: the parts
that need no Windows (provisioning with a fake runner, the choice of tests, the table)."""

from __future__ import annotations

import subprocess
import sys
import unittest
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support import load_tool

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the tools run on Linux")

testenv = load_tool("testbed.env")
pins = load_tool("testbed.pins")
provision = load_tool("testbed.provision")
twisted_env = load_tool("testbed.twisted")
twisted_suite = load_tool("twisted_suite")
twisted_bench = load_tool("twisted_bench")
bench_stats = load_tool("bench_stats")


class FakePip:
    """Plays pip download (one wheel per pin) and the compiler; records every command."""

    def __init__(self, wheels: int | None = None) -> None:
        self.calls: list[list[str]] = []
        self.wheels = wheels

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        args = list(args)
        self.calls.append(args)
        if "download" in args:
            folder = Path(args[args.index("-d") + 1])
            pins = [a for a in args if "==" in a]
            for pin in pins[:self.wheels]:
                name, version = pin.split("==")
                package = name.replace("-", "_")
                if package == "cryptography":  # where testbed.twisted puts the DLL
                    package = "cryptography/hazmat/bindings"
                with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
                    wheel.writestr(f"{package}/__init__.py", "")
        elif args[0] == "x86_64-w64-mingw32-gcc":
            Path(args[args.index("-o") + 1]).write_bytes(b"MZ fake")
        return subprocess.CompletedProcess(args, 0, stdout="")


def make_env(tmp_path: Path, runner: FakePip, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(provision.shutil, "which", lambda cmd: f"/usr/bin/{cmd}")
    return testenv.Env(cache=tmp_path / "cache", repo=tmp_path, runner=runner,
                      out=lambda line: None)


def test_twisted_is_fetched_once_pinned_without_dependencies_with_the_prng_dll(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = FakePip()
    env = make_env(tmp_path, runner, monkeypatch)
    folder = twisted_env.ensure_twisted(env, "3.11")
    download = next(call for call in runner.calls if "download" in call)
    assert "--no-deps" in download and "win_amd64" in download
    assert download[download.index("--python-version") + 1] == "3.11"
    assert set(pins.TWISTED_WHEELS) <= set(download)
    assert "twisted-iocpsupport==25.10.1" in download and "pywin32==312" in download
    assert (folder / "twisted" / "__init__.py").is_file()
    dll = folder / "cryptography" / "hazmat" / "bindings" / "bcryptprimitives.dll"
    assert dll.read_bytes() == b"MZ fake"
    assert not list(dll.parent.glob("process_prng.*"))  # the sources are not left behind
    calls = len(runner.calls)
    assert twisted_env.ensure_twisted(env, "3.11") == folder
    assert len(runner.calls) == calls  # stamped: nothing again


def test_a_download_missing_a_wheel_fails_its_step(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(tmp_path, FakePip(wheels=3), monkeypatch)
    with pytest.raises(testenv.StepError, match="left 3 wheels"):
        twisted_env.ensure_twisted(env, "3.13")


def test_twisted_is_provisioned_only_for_the_versions_it_supports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(tmp_path, FakePip(), monkeypatch)
    with pytest.raises(testenv.StepError, match=r"not 3\.9"):
        twisted_env.ensure_twisted(env, "3.9")


def test_the_compiled_module_pin_is_the_windows_tiers_one() -> None:
    assert pins.COMPILED_IOCPSUPPORT in pins.TWISTED_WHEELS
    assert all(pins.COMPILED_IOCPSUPPORT in wheels for wheels in pins.WINDOWS_WHEELS.values())


def test_the_suite_runs_a_modules_own_tests_on_the_iocp_reactor_only() -> None:
    def case(name: str, module: str) -> unittest.TestCase:
        cls = type(name, (unittest.TestCase,), {"test_it": lambda self: None,
                                                 "__module__": module})
        return cls("test_it")  # type: ignore[no-any-return]

    tests = [case("TCPTestsBuilder_IOCPReactorTests", "m"),
             case("TCPTestsBuilder_SelectReactorTests", "m"),
             case("TCPTestsBuilder_Win32ReactorTests", "m"),
             case("PlainTests", "m"),
             case("TestCase", "twisted.trial._asynctest")]  # imported into m
    others = ("_SelectReactorTests", "_Win32ReactorTests")
    kept = twisted_suite.on_iocp(tests, "m", others)
    assert [type(test).__name__ for test in kept] == ["TCPTestsBuilder_IOCPReactorTests",
                                                       "PlainTests"]


def test_the_bench_table_shows_each_rows_median_and_range() -> None:
    row = bench_stats.Row("twisted echo", "winsock_ov", "trips/s")
    for anchor, ours in ((1.0, 0.5), (1.0, 1.0), (1.0, 2.0)):
        row.add(bench_stats.Measurement(anchor, 1.0, 100), bench_stats.Measurement(ours, 1.0, 100))
    lines = twisted_bench.render([row]).splitlines()
    assert lines[1].split() == ["twisted", "echo", "winsock_ov", "1.00x", "0.50..2.00", "3",
                                "1.00"]
