"""The public types as a user's type checker sees them (portable tier).

``tests/typecheck/usage.py`` uses the public API the way a user would, with
``reveal_type(...)`` lines and the type each must show.  mypy (--strict) and
pyright (strict) each check it once per session; every revealed type must
match, every line marked ``# expect-error`` must be an error (``send("text")``,
``connect("127.0.0.1:80")``, ...), and nothing else may be reported.

The checkers are run as ``sys.executable -m mypy`` / ``-m pyright``: the Linux
test tools install them.  Missing there, the test fails; the Windows tiers run
without them and skip it.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "typecheck" / "usage.py"
ADDRESS = "tuple[str, int] | tuple[str, int, int, int]"  # ``Address`` in the expectations
CHECKERS = ("mypy", "pyright")

pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="the type checkers run in the Linux tier only")


# --- what the script expects -----------------------------------------------------------

def expectations() -> tuple[dict[int, str], set[int]]:
    """Line number -> expected revealed type, and the lines that must be errors."""
    revealed: dict[int, str] = {}
    errors: set[int] = set()
    lines = SCRIPT.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if re.search(r"\)\s+# expect-error", line):  # a call, not the docstring's mention
            errors.add(number)
        if not re.match(r"\s*reveal_type\(", line):
            continue
        here = re.search(r"# revealed: (.+)$", line)
        before = re.match(r"\s*# revealed: (.+)$", lines[number - 2])
        found = here or before
        assert found, f"usage.py:{number}: reveal_type without '# revealed:'"
        revealed[number] = found.group(1).strip()
    return revealed, errors


# --- comparing types written differently -----------------------------------------------

def _split_top(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside brackets."""
    parts, depth, start = [], 0, 0
    index = 0
    while index < len(text):
        char = text[index]
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0 and text.startswith(separator, index):
            parts.append(text[start:index])
            start = index + len(separator)
            index = start
            continue
        index += 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def canonical(text: str) -> str:
    """One spelling for a type: no module names, a NamedTuple by its name, unions sorted."""
    text = re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", text)  # builtins.int -> int
    members = sorted(_canonical_member(member) for member in _split_top(text, "|"))
    return " | ".join(members)


def _canonical_member(text: str) -> str:
    if not text.endswith("]") or "[" not in text:
        return text
    head, args = text[:-1].split("[", 1)
    parts = _split_top(args, ",")
    if head == "tuple" and parts[-1].startswith("fallback="):  # mypy's NamedTuple
        return parts[-1][len("fallback="):]
    return f"{head}[{', '.join(canonical(part) for part in parts)}]"


def expected_type(text: str) -> str:
    return canonical(re.sub(r"\bAddress\b", ADDRESS, text))


# --- running the checkers (once per session) --------------------------------------------

class Report:
    def __init__(self) -> None:
        self.revealed: dict[int, str] = {}
        self.errors: dict[int, list[str]] = {}
        self.elsewhere: list[str] = []  # anything reported outside usage.py


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"{module} is not installed in {sys.executable}: the typing test needs "
                    "mypy and pyright[nodejs] (see LINUX_TEST_TOOLS in tools/testbed/pins.py)",
                    pytrace=False)


def run_mypy(cache: Path) -> Report:
    _require("mypy")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--hide-error-context",
         "--no-pretty", "--cache-dir", str(cache), str(SCRIPT)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    report = Report()
    for line in done.stdout.splitlines():
        match = re.match(r"(.+?):(\d+): (error|note): (.*)$", line)
        if match is None:
            continue
        path, number, kind, message = match.groups()
        if Path(path).resolve() != SCRIPT:
            if kind == "error":
                report.elsewhere.append(line)
            continue
        if kind == "note":
            revealed = re.match(r'Revealed type is "(.*)"$', message)
            if revealed:
                report.revealed[int(number)] = revealed.group(1)
        else:
            report.errors.setdefault(int(number), []).append(message)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return report


def run_pyright() -> Report:
    _require("pyright")
    # Strict by the script's own "# pyright: strict"; Windows and the oldest Python.
    done = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonplatform", "Windows",
         "--pythonversion", "3.9", str(SCRIPT)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    start = done.stdout.find("{")
    assert start >= 0, done.stdout + done.stderr
    output = json.loads(done.stdout[start:])
    report = Report()
    for diagnostic in output["generalDiagnostics"]:
        number = diagnostic["range"]["start"]["line"] + 1
        message = diagnostic["message"]
        if Path(diagnostic["file"]).resolve() != SCRIPT:
            report.elsewhere.append(f"{diagnostic['file']}:{number}: {message}")
        elif diagnostic["severity"] == "information":
            revealed = re.match(r'Type of ".*" is "(.*)"$', message, re.DOTALL)
            if revealed:
                report.revealed[number] = revealed.group(1)
        else:  # error or warning
            report.errors.setdefault(number, []).append(message)
    return report


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    return {"mypy": run_mypy(tmp_path_factory.mktemp("mypy-cache")), "pyright": run_pyright()}


# --- the tests ------------------------------------------------------------------------

def test_the_script_checks_strictly_and_marks_its_expectations() -> None:
    assert SCRIPT.read_text(encoding="utf-8").startswith("# pyright: strict\n")
    revealed, errors = expectations()
    assert len(revealed) >= 30 and len(errors) >= 4


def test_type_canonical_form_ignores_modules_order_and_namedtuple_spelling() -> None:
    assert canonical("builtins.int | None") == canonical("None | int")
    assert canonical("tuple[winsock_ov.waits.WaitStatus, int | None, "
                     "fallback=winsock_ov.waits.WaitResult]") == "WaitResult"
    assert expected_type("tuple[bytes, Address | None]") == canonical(
        "tuple[builtins.bytes, tuple[builtins.str, builtins.int] | "
        "tuple[builtins.str, builtins.int, builtins.int, builtins.int] | None]")


@pytest.mark.parametrize("checker", CHECKERS)
def test_revealed_types_are_the_documented_ones(reports: dict[str, Report],
                                                checker: str) -> None:
    report = reports[checker]
    revealed, _ = expectations()
    wrong = {number: (expected, report.revealed.get(number)) for number, expected
             in revealed.items()
             if report.revealed.get(number) is None
             or canonical(report.revealed[number]) != expected_type(expected)}
    assert wrong == {}, f"{checker}: usage.py line: (expected, revealed)"


@pytest.mark.parametrize("checker", CHECKERS)
def test_misuses_are_errors_and_nothing_else_is(reports: dict[str, Report],
                                                checker: str) -> None:
    report = reports[checker]
    _, errors = expectations()
    missed = sorted(errors - report.errors.keys())
    unexpected = {number: messages for number, messages in report.errors.items()
                  if number not in errors}
    assert missed == [], f"{checker} accepted these misuses (usage.py lines)"
    assert unexpected == {}, f"{checker} reported errors in usage.py"
    assert report.elsewhere == [], f"{checker} reported errors outside usage.py"


@pytest.mark.parametrize("version", ["3.9", "3.10", "3.11", "3.12", "3.13"])
def test_the_package_is_strict_clean_with_each_supported_version_as_target(
        version: str, tmp_path: Path) -> None:
    _require("mypy")
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--python-version", version,
         "--platform", "win32", "--cache-dir", str(tmp_path), "-p", "winsock_ov"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
