"""Sphinx configuration of winsock_ov's documentation (built by tests/test_docs.py).

``sphinx-build -W -n -b html docs OUT``: warnings are errors, every
cross-reference must resolve.  The Python documentation's inventory is read from
a local ``objects.inv`` (this machine may not reach the Python docs' site):
``$WINSOCK_OV_PYTHON_INVENTORY``, else the one ``tools/winenv.py`` keeps in its
cache (``ensure_python_inventory``; the portable tier fetches it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

import winsock_ov  # noqa: E402 - after the path is set

project = "winsock_ov"
author = "winsock_ov's authors"
copyright = "winsock_ov's authors, MIT License"
release = version = winsock_ov.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build"]
root_doc = "index"
nitpicky = True
default_role = "literal"  # a single-backticked name in a docstring is shown as code

html_theme = "furo"
html_title = f"winsock_ov {release}"
html_static_path: list[str] = []

# --- autodoc: the annotations change more often than the prose, so they are shown
# in the signatures only, and names that no page documents are not links.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False
autodoc_default_options = {"members": True, "show-inheritance": True}
# Annotation names that are the package's private helpers or typing machinery:
# shown as written, never links (a link to a private name would have no target).
nitpick_ignore_regex = [
    ("py:.*", r"(winsock_ov\.)?(\w+\.)*_\w+(\.\w+)*"),  # private modules and names
    ("py:.*", r"(typing_extensions\.)?(Self|Buffer)"),
    # Type aliases of the annotations (an address is a tuple of str and int), alone or
    # inside an annotation that stays a string because they exist for type checkers only.
    ("py:.*", r".*\b(Address|AddressArg|Buffers|Routine|Callback|Completion)\b.*"),
    ("py:.*", r".*\b(RecvMsg|RecvMsgInto)\b.*"),  # Socket.recvmsg's results
    ("py:.*", r"_?T(_co)?"),  # type variables
    ("py:.*", r"ctypes\.(Array|_\w+)"),
    # The raw layer's structures live in winsock_ov.raw.types; the raw page documents
    # them as winsock_ov.raw.NAME (an annotation names the defining module).
    ("py:class", r"winsock_ov\.raw\.types\.[A-Z]\w+"),
    # Internal classes of the submodules that annotations name (ARCHITECTURE.md has them).
    ("py:class", r"winsock_ov\.(notify\.(PortBinding|Port)|core\.\w+"
                 r"|operations\.BufferOperation)"),
    # The raw layer's structures, documented as winsock_ov.raw.NAME (their home module
    # is a submodule of it).
    ("py:class", r"winsock_ov\.raw\.types\.\w+"),
]


def _python_inventory() -> str:
    given = os.environ.get("WINSOCK_OV_PYTHON_INVENTORY")
    if given:
        path = Path(given)
    else:
        cache = Path(os.environ.get("WINSOCK_OV_CACHE", Path.home() / ".cache" / "winsock_ov"))
        path = cache.expanduser() / "python-inventory" / "objects.inv"
    if not path.is_file():
        raise RuntimeError(
            f"the Python documentation's objects.inv is not at {path}: set "
            "WINSOCK_OV_PYTHON_INVENTORY to one, or run `python3 tools/winenv.py test`, "
            "which fetches it into its cache (ensure_python_inventory)")
    return str(path)


intersphinx_mapping = {"python": ("https://docs.python.org/3", _python_inventory())}


# --- winsock_ov.raw's contents, listed from the module itself ----------------------

MSDN_SEARCH = "https://learn.microsoft.com/en-us/search/?terms={}"
RAW_HELPERS = {"WindowsOnlyError", "check_bool_pending", "format_winerror", "unchecked",
               "winerror_exception"}
RAW_PARTS = [
    ("ws2_32", "Winsock functions (ws2_32.dll, with the mswsock extension functions)"),
    ("kernel32", "Win32 functions (kernel32.dll)"),
    ("ntdll", "NT functions (ntdll.dll)"),
    ("afd", "The socket driver's poll request (AFD)"),
    ("types", "Types, structures and callback types"),
    ("constants", "Constants"),
]


class RawContents(SphinxDirective):
    """``.. raw-contents::``: every name of ``winsock_ov.raw.__all__``, by the
    submodule that defines it, each a target (``:py:data:`winsock_ov.raw.WSARecv```)
    with a link to Microsoft's documentation search."""

    def run(self) -> list[nodes.Node]:
        import ctypes
        import inspect

        import winsock_ov.raw as raw

        lines: list[str] = []
        listed: set[str] = set()
        owners = {name: getattr(raw, name) for name in raw.__all__}
        for part, title in RAW_PARTS:
            module = getattr(raw, part)
            names = [n for n in getattr(module, "__all__", []) if n in owners]
            if not names:
                continue
            lines += [title, "-" * len(title), "", f"``winsock_ov.raw.{part}``, "
                      f"{len(names)} names.", ""]
            for name in names:
                listed.add(name)
                lines += self._entry(name, owners[name], part, ctypes, inspect)
        # The loader's helpers are documented by autodoc on the page itself.
        rest = [n for n in raw.__all__ if n not in listed and n not in RAW_HELPERS]
        if rest:
            title = "Helpers of the raw layer"
            lines += [title, "-" * len(title), ""]
            for name in rest:
                lines += self._entry(name, owners[name], None, ctypes, inspect)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="raw-contents"), container)
        return container.children

    @staticmethod
    def _entry(name: str, value: Any, part: str | None, ctypes: Any,
               inspect: Any) -> list[str]:
        link = f"`MSDN <{MSDN_SEARCH.format(name)}>`__"
        own = value.__dict__.get("__doc__") if isinstance(value, type) else (
            value.__doc__ if inspect.isfunction(value) else None)
        first = " ".join((inspect.cleandoc(own) if own else "").split("\n\n")[0].split())
        if inspect.isfunction(value):
            dll = f"{part}.dll" if part in ("ws2_32", "kernel32", "ntdll") else "the DLL"
            text = f"{first} {link}" if first else f"Declared from {dll}; see {link}."
            kind = "function"
        elif isinstance(value, type) and issubclass(value, (ctypes.Structure, ctypes.Union)):
            fields = ", ".join(f"``{field[0]}``" for field in value._fields_)
            kind, text = "class", f"{first} Fields: {fields}. {link}".strip()
        elif isinstance(value, type):
            alias = ""
            if issubclass(value, ctypes._Pointer) and hasattr(value, "_type_"):
                alias = f"A pointer to ``{value._type_.__name__}``."
            elif issubclass(value, ctypes._SimpleCData) and value.__name__ != name:
                alias = f"``ctypes.{value.__name__}`` where this page was built."
            kind, text = "class", " ".join(filter(None, [first, alias, link]))
        elif isinstance(value, int) and not isinstance(value, bool):
            kind, text = "data", f"``{value}`` (``{value:#x}``). {link}"
        else:
            kind, text = "data", f"``{value!r}``. {link}" if len(repr(value)) < 60 else link
        return [f".. py:{kind}:: {name}", "   :module: winsock_ov.raw", "", f"   {text}", ""]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("raw-contents", RawContents)
    return {"parallel_read_safe": True}
