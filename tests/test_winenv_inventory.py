"""The test bed's (tools/testbed) Python documentation inventory for the docs build: fetched once
from the pinned Debian package, and a package without one named clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import load_tool

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="tools/winenv.py runs on Linux")

debian = load_tool("testbed.debian")
testenv = load_tool("testbed.env")
pins = load_tool("testbed.pins")


class DebRunner:
    """Plays ``apt-get download`` and ``dpkg-deb -x`` of a doc package."""

    def __init__(self, holds_inventory: bool = True) -> None:
        self.calls: list[list[str]] = []
        self.holds_inventory = holds_inventory

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        args = list(args)
        self.calls.append(args)
        if args[:1] == ["apt-get"] and "download" in args:
            for package in args[args.index("download") + 1:]:
                name, version = package.split("=")
                (Path(kwargs["cwd"]) / f"{name}_{version}_all.deb").write_text("fake")
        elif args[:1] == ["dpkg-deb"] and self.holds_inventory:
            html = Path(args[3]) / "usr" / "share" / "doc" / "python3.11" / "html"
            html.mkdir(parents=True, exist_ok=True)
            (html / "objects.inv").write_bytes(b"# Sphinx inventory version 2\n")
        return subprocess.CompletedProcess(args, 0, stdout="")


@pytest.fixture
def no_apt_update(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debian, "private_apt", lambda env, release: ["-o", f"release={release}"])


@pytest.mark.usefixtures("no_apt_update")
def test_the_inventory_is_fetched_at_the_pinned_version_once(tmp_path: Path) -> None:
    runner = DebRunner()
    env = testenv.Env(cache=tmp_path / "cache", repo=tmp_path, runner=runner,
                     out=lambda line: None)
    path = debian.ensure_python_inventory(env)
    assert path.read_bytes().startswith(b"# Sphinx inventory version 2")
    release, package, pin = pins.PYTHON_DOC_INVENTORY
    downloads = [call for call in runner.calls if "download" in call]
    assert downloads == [["apt-get", "-o", f"release={release}", "download", f"{package}={pin}"]]
    assert sorted(p.name for p in path.parent.iterdir()) == [".winenv-stamp", "objects.inv"]
    runner.calls.clear()
    assert debian.ensure_python_inventory(env) == path
    assert runner.calls == []


@pytest.mark.usefixtures("no_apt_update")
def test_a_package_without_an_inventory_fails_the_step_naming_it(tmp_path: Path) -> None:
    env = testenv.Env(cache=tmp_path / "cache", repo=tmp_path,
                     runner=DebRunner(holds_inventory=False), out=lambda line: None)
    with pytest.raises(testenv.StepError, match=r"holds no html/objects\.inv"):
        debian.ensure_python_inventory(env)
