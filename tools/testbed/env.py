"""Where the test bed keeps things, and how it runs commands and names its steps."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

REPO = Path(__file__).resolve().parent.parent.parent


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
    """Where things live, and how commands are run (replaceable in tests).

    ``wineprefix`` is the Wine prefix this Env's Windows programs run in: one
    this process holds (``claimed_prefixes``), so that the ``wineserver -k``
    ending each of its runs never ends another's programs.
    """

    cache: Path
    repo: Path = REPO
    runner: Runner = run_command
    out: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    prefix_name: str = "wineprefix"

    @classmethod
    def from_environment(cls) -> Env:
        default = Path.home() / ".cache" / "winsock_ov"
        return cls(cache=Path(os.environ.get("WINSOCK_OV_CACHE", default)).expanduser())

    def with_output(self, out: Callable[[str], None]) -> Env:
        """This Env printing through ``out`` (a tier's kept output)."""
        return dataclasses.replace(self, out=out)

    @property
    def wineprefix(self) -> Path:
        return self.cache / self.prefix_name

    @property
    def abi_probe_source(self) -> Path:
        return self.repo / "tools" / "abi_probe.c"

    @property
    def abi_reference(self) -> Path:
        return self.repo / "tests" / "data" / "abi_mingw_x64.json"

    @property
    def c_anchor_source(self) -> Path:
        return self.repo / "tools" / "anchor" / "anchor.c"

    @property
    def seed_sources(self) -> Path:
        return self.repo / "tools" / "seed"

    @property
    def records(self) -> Path:
        """The recorded outcomes of the reference implementations (``tools/records``)."""
        return self.repo / "tools" / "records"

    def report(self, name: str) -> Path:
        """A tier's report file, in a folder that exists, with no earlier report in it."""
        path = self.cache / "reports" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return path

    @property
    def downloads(self) -> Path:
        return self.cache / "downloads"

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


@contextlib.contextmanager
def claimed_prefixes(env: Env, count: int) -> Iterator[list[Env]]:
    """``count`` copies of ``env``, each with a Wine prefix no other winenv process is
    using, held until the block ends (an exclusive lock on ``locks/PREFIX.lock``).

    Each run of a Windows program ends by killing its prefix's Wine server; a
    prefix shared with another run (a ``winenv.py run`` beside a ``test``, two
    workers) would end that run's programs too.  The first free ones are taken:
    ``wineprefix``, ``wineprefix-2``, ...
    """
    import fcntl  # the test bed runs on Linux; the Windows tests import it for its helpers

    folder = env.cache / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    held: list[TextIO] = []
    claimed: list[Env] = []
    try:
        number = 0
        while len(claimed) < count:
            number += 1
            name = "wineprefix" if number == 1 else f"wineprefix-{number}"
            lock = open(folder / f"{name}.lock", "w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            held.append(lock)
            claimed.append(dataclasses.replace(env, prefix_name=name))
        yield claimed
    finally:
        for lock in held:
            lock.close()


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
