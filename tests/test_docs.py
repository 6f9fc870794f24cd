"""The documentation builds clean, and documents every public name.

Sphinx builds ``docs/`` with warnings as errors and every cross-reference
checked (``-W -n``), with the interpreter running the tests.  The portable tier
installs Sphinx (LINUX_TEST_TOOLS in tools/testbed/pins.py) and hands the build the
Python documentation's inventory (``$WINSOCK_OV_PYTHON_INVENTORY``); the Windows
tiers install no Sphinx, so there these tests are skipped.
"""

from __future__ import annotations

import ast
import enum
import importlib.util
import inspect
import subprocess
import sys
import typing
import zlib
from pathlib import Path
from typing import Any

import pytest

import winsock_ov
import winsock_ov.cmsg
import winsock_ov.compat.iocpsupport
import winsock_ov.compat.overlapped
import winsock_ov.raw
import winsock_ov.selectors

pytestmark = pytest.mark.skipif(
    sys.platform == "win32",
    reason="the documentation is built in the portable tier: the Windows tiers install no Sphinx")

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
BUILD_SECONDS = 600


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/ built as HTML; the test fails with Sphinx's output on any warning."""
    if importlib.util.find_spec("sphinx") is None:
        pytest.fail(f"Sphinx is not installed for {sys.executable}: the documentation "
                    "tests need it (the portable tier of `python3 tools/winenv.py test` "
                    "installs LINUX_TEST_TOOLS, tools/testbed/pins.py)")
    out = tmp_path_factory.mktemp("html")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-q", "-b", "html",
         str(DOCS), str(out)],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=BUILD_SECONDS, check=False)
    if proc.returncode != 0 or "WARNING" in proc.stdout or "ERROR" in proc.stdout:
        pytest.fail(f"sphinx-build exited {proc.returncode}:\n{proc.stdout}", pytrace=False)
    return out


def inventory_names(path: Path) -> set[str]:
    """The object names of a Sphinx ``objects.inv`` (version 2: four header lines, zlib)."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    assert data[:header_end].startswith(b"# Sphinx inventory version 2")
    names = set()
    for line in zlib.decompress(data[header_end:]).decode().splitlines():
        name, domain_role = line.split(" ", 2)[:2]
        if domain_role.startswith("py:"):
            names.add(name)
    return names


def public_members(cls: type) -> dict[str, Any]:
    """What a class itself defines for its users: methods, properties, enum members,
    named-tuple fields (not what it inherits from object, tuple, enum or OSError)."""
    found = {}
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(cls, enum.EnumMeta) and isinstance(value, cls):
            found[name] = value
        elif isinstance(value, (classmethod, staticmethod)):
            found[name] = value.__func__
        elif isinstance(value, property) or inspect.isfunction(value):
            found[name] = value
        elif type(value).__name__ == "_tuplegetter":  # a NamedTuple field
            found[name] = value
    return found


def is_type_alias(value: Any) -> bool:
    """``tuple[str, int]``, ``Union[...]``: no docstring of its own (the page describes it)."""
    return typing.get_origin(value) is not None


# The public modules documented name by name, besides raw, compat and aio.
MODULES = (winsock_ov, winsock_ov.selectors, winsock_ov.cmsg)


def public_names() -> list[tuple[str, Any]]:
    return [(f"{module.__name__}.{name}", getattr(module, name)) for module in MODULES
            for name in module.__all__]


def public_classes() -> list[tuple[str, type]]:
    return [(qualified, value) for qualified, value in public_names()
            if inspect.isclass(value) and not is_type_alias(value)]


def aio_public_names() -> dict[str, str | None]:
    """winsock_ov.aio's public names and methods with their docstrings, read from its
    source: the module imports on Windows only."""
    tree = ast.parse((REPO / "winsock_ov" / "aio.py").read_text())
    exported: list[str] = []
    docs: dict[str, str | None] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            exported = list(ast.literal_eval(node.value))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in exported:
            docs[f"winsock_ov.aio.{node.name}"] = ast.get_docstring(node)
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if (isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                            and not item.name.startswith("_")):
                        docs[f"winsock_ov.aio.{node.name}.{item.name}"] = (
                            ast.get_docstring(item))
    assert set(exported) <= {name.split(".")[2] for name in docs}, exported
    return docs


def test_every_public_name_has_a_docstring() -> None:
    missing = [qualified for qualified, value in public_names()
               if not is_type_alias(value) and not inspect.getdoc(value)]
    for qualified, cls in public_classes():
        for name, value in public_members(cls).items():
            if isinstance(value, enum.Enum) or type(value).__name__ == "_tuplegetter":
                continue  # documented by ``#:`` comments, checked in the built inventory
            target = value.fget if isinstance(value, property) else value
            if not (getattr(target, "__doc__", None) or "").strip():
                missing.append(f"{qualified}.{name}")
    missing += [name for name, doc in aio_public_names().items() if not (doc or "").strip()]
    assert not missing, f"public names without a docstring: {missing}"


def test_the_docs_build_with_no_warning_and_every_cross_reference_resolved(built: Path) -> None:
    assert (built / "index.html").is_file()
    for page in ("api/winsock_ov", "api/aio", "api/selectors", "api/cmsg", "api/compat",
                 "api/raw", "guide/styles", "guide/ports", "guide/lifetimes", "guide/interrupt",
                 "guide/dropin", "guide/twisted", "guide/aio", "guide/selector", "guide/testing"):
        assert (built / f"{page}.html").is_file(), page


def test_every_public_name_appears_in_the_built_reference(built: Path) -> None:
    documented = inventory_names(built / "objects.inv")
    expected = {qualified for qualified, _ in public_names()}
    for qualified, cls in public_classes():
        expected |= {f"{qualified}.{name}" for name in public_members(cls)}
    expected |= set(aio_public_names())
    compat = winsock_ov.compat.overlapped
    expected |= {f"winsock_ov.compat.overlapped.{name}" for name in compat.__all__
                 if callable(getattr(compat, name))}
    expected |= {f"winsock_ov.compat.iocpsupport.{name}"
                 for name in winsock_ov.compat.iocpsupport.__all__}
    expected |= {f"winsock_ov.compat.iocpsupport.CompletionPort.{name}"
                 for name in ("addHandle", "getEvent", "postEvent")}
    expected |= {f"winsock_ov.raw.{name}" for name in winsock_ov.raw.__all__}
    expected |= {"winsock_ov", "winsock_ov.aio", "winsock_ov.compat.overlapped",
                 "winsock_ov.compat.iocpsupport", "winsock_ov.raw", "winsock_ov.selectors",
                 "winsock_ov.cmsg"}
    missing = sorted(expected - documented)
    assert not missing, f"public names missing from the built documentation: {missing}"
