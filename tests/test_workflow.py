"""The GitHub Actions workflow (.github/workflows/tests.yml), which cannot run here:
valid against the workflow schema (check-jsonschema's copy of it), clean under
zizmor's audits, and running what the README says it runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import REPO

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="checked by the portable tier")

WORKFLOW = REPO / ".github" / "workflows" / "tests.yml"


def tool(name: str) -> str:
    """A checker of the portable tier's venv (tools/testbed/pins.py LINUX_TEST_TOOLS)."""
    path = shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(f"{name} is missing beside {sys.executable}: the portable tier installs it")
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def workflow() -> Any:
    from ruamel.yaml import YAML  # check-jsonschema's YAML reader

    return YAML(typ="safe").load(WORKFLOW.read_text())


def test_the_workflow_is_valid_against_githubs_workflow_schema() -> None:
    checked = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                  str(WORKFLOW))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_workflow_passes_zizmors_audits() -> None:
    audited = run(tool("zizmor"), "--offline", "--no-progress", str(WORKFLOW))
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:", 1))
    checked = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                  str(broken))
    assert checked.returncode != 0


def test_windows_runs_the_suite_on_every_version_both_images_and_32_bit(workflow: Any) -> None:
    job = workflow["jobs"]["windows"]
    matrix = job["strategy"]["matrix"]
    assert matrix["os"] == ["windows-2022", "windows-2025"]
    assert matrix["python"] == ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]
    assert matrix["arch"] == ["x64"] and matrix["experimental"] == [False]
    extra = matrix["include"]
    assert [e["python"] for e in extra if e["arch"] == "x86" and not e["experimental"]]
    free_threaded = {e["python"]: e["experimental"] for e in extra if e["python"].endswith("t")}
    assert free_threaded == {"3.13t": True, "3.14t": True}  # allowed to fail until proven
    assert job["continue-on-error"] == "${{ matrix.experimental }}"
    commands = " ".join(step.get("run", "") for step in job["steps"])
    assert "python -m pytest" in commands and "windows_skipped" in commands


def test_linux_runs_the_readmes_test_command(workflow: Any) -> None:
    steps = workflow["jobs"]["linux"]["steps"]
    assert [s["run"] for s in steps if "run" in s][-1] == "python3 tools/winenv.py test"
    assert "python3 tools/winenv.py test" in (REPO / "README.md").read_text()


def test_windows_builds_the_c_anchor_as_the_test_bed_does(workflow: Any) -> None:
    from support import load_tool

    flags = " ".join(load_tool("testbed.provision").C_ANCHOR_FLAGS)
    commands = " ".join(step.get("run", "") for step in workflow["jobs"]["windows"]["steps"])
    assert f"gcc {flags} " in commands.replace("\\\n", "").replace("  ", " ")
