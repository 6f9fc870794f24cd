"""Every Python example of the documentation runs, for real, under Windows.

Each ``.. code-block:: python`` of docs/ is run on its own in a fresh child
interpreter from the repository, with a 60 s limit.  An example that only
illustrates (one that shows the forms of several Python versions, say) is
preceded by a ``.. illustrative: REASON`` comment and is not run; there are few.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest
from support import REPO, started

DOCS = REPO / "docs"
EXAMPLE_SECONDS = 60
MOST_ILLUSTRATIVE = 3  # examples that are not run: keep them rare

_DIRECTIVE = re.compile(r"^(\s*)\.\. code-block:: python\s*$")
_ILLUSTRATIVE = re.compile(r"^\s*\.\. illustrative: \S")


class Example(NamedTuple):
    path: Path
    line: int  # of the directive, 1-based
    code: str
    illustrative: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO).as_posix()}:{self.line}"


def examples() -> list[Example]:
    """The Python code blocks of every page, in order."""
    found = []
    for path in sorted(DOCS.rglob("*.rst")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            match = _DIRECTIVE.match(line)
            if not match:
                continue
            before = next((text for text in reversed(lines[:index]) if text.strip()), "")
            indent = len(match.group(1))
            body = index + 1
            while body < len(lines) and (lines[body].strip().startswith(":")
                                         and lines[body].strip() != ""):
                body += 1  # the directive's options
            block = []
            for text in lines[body:]:
                if text.strip() and len(text) - len(text.lstrip()) <= indent:
                    break
                block.append(text)
            code = textwrap.dedent("\n".join(block)).strip("\n") + "\n"
            found.append(Example(path, index + 1, code, bool(_ILLUSTRATIVE.match(before))))
    return found


def test_the_docs_have_examples_and_few_are_only_illustrative() -> None:
    found = examples()
    assert len(found) >= 10, [example.where for example in found]
    illustrative = [example.where for example in found if example.illustrative]
    assert len(illustrative) <= MOST_ILLUSTRATIVE, illustrative
    assert all(example.code.strip() for example in found)


def run_child(args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a child from the repository, its output captured."""
    return started(lambda: subprocess.run(
        args, cwd=REPO, env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=EXAMPLE_SECONDS, check=False), args[0])


@pytest.mark.windows
@pytest.mark.parametrize("example", [e for e in examples() if not e.illustrative],
                         ids=lambda example: example.where)
def test_example_runs(example: Example, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(example.code, encoding="utf-8")
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    try:
        proc = run_child([sys.executable, str(script)], environ)
    except subprocess.TimeoutExpired as exc:
        output = exc.output or ""
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        pytest.fail(f"the example at {example.where} ran over {EXAMPLE_SECONDS} s:\n"
                    f"{example.code}\n--- its output ---\n{output}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"the example at {example.where} exited {proc.returncode}:\n"
                    f"{example.code}\n--- its output ---\n{proc.stdout}", pytrace=False)
