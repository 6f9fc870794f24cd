"""What the sdist and the wheel carry, built as a release would be (tools/winenv.py's
build_distributions: the sdist, then the wheel from the sdist).

The installed-wheel tier of tools/winenv.py runs the whole suite against the
wheel under Windows CPython; here, on Linux, the metadata, the wheel's file
list, and the sdist's own portable tests.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from support import load_tool

REPO = Path(__file__).resolve().parent.parent
SUPPORTED = ("3.9", "3.10", "3.11", "3.12", "3.13")

pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="built on Linux by the portable tier (tools/winenv.py)")


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    for tool in ("build", "setuptools"):
        if importlib.util.find_spec(tool) is None:
            pytest.fail(f"{tool} is missing from {sys.executable}: the portable tier installs it "
                        "(tools/testbed/pins.py LINUX_TEST_TOOLS)")
    testenv, tiers = load_tool("testbed.env"), load_tool("testbed.tiers")
    env = testenv.Env(cache=tmp_path_factory.mktemp("cache"), out=lambda line: None)
    sdist, wheel = tiers.build_distributions(env, sys.executable,
                                              tmp_path_factory.mktemp("build") / "dist")
    return sdist, wheel


def test_the_wheel_holds_the_package_and_the_license_only(
        distributions: tuple[Path, Path]) -> None:
    _, wheel = distributions
    names = zipfile.ZipFile(wheel).namelist()
    package = sorted(name for name in names if not name.startswith("winsock_ov-"))
    expected = sorted(str(path.relative_to(REPO)) for path in (REPO / "winsock_ov").rglob("*")
                      if path.is_file() and "__pycache__" not in path.parts)
    assert package == expected
    assert "winsock_ov/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_the_metadata_names_the_license_by_spdx_and_every_supported_version(
        distributions: tuple[Path, Path]) -> None:
    _, wheel = distributions
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("winsock_ov-0.1.0.dist-info/METADATA").decode()
    headers = metadata.split("\n\n", 1)[0].splitlines()
    assert "License-Expression: MIT" in headers
    assert not any(line.startswith("Classifier: License ::") for line in headers)
    versions = [line.rsplit(" :: ", 1)[1] for line in headers
                if line.startswith("Classifier: Programming Language :: Python :: 3.")]
    assert tuple(versions) == SUPPORTED
    assert f"Requires-Python: >={SUPPORTED[0]}" in headers


def test_the_sdists_own_tests_run(distributions: tuple[Path, Path], tmp_path: Path) -> None:
    """Its tests, their helpers and data, and the tools they check are all there:
    the portable tests pass in the unpacked sdist (this module and the slow
    builds of the docs and types left out)."""
    sdist, _ = distributions
    with tarfile.open(sdist) as archive:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp_path, **safe)  # type: ignore[arg-type]
    unpacked = tmp_path / sdist.name[:-len(".tar.gz")]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
         "--ignore=tests/test_packaging.py", "--ignore=tests/test_docs.py",
         "--ignore=tests/test_typing.py"],
        cwd=unpacked, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]
