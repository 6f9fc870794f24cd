"""The package's shape: no import cycles, no module reaching into another's private names.

Read from the source (portable): every import counts, at the top or inside a
function, except those under ``if TYPE_CHECKING:`` (never executed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import winsock_ov

# Where the package is imported from: the source tree, or the installed wheel
# (whose tier copies the tests and docs away from the source).
PACKAGE = Path(winsock_ov.__file__).resolve().parent
REPO = Path(__file__).resolve().parent.parent
# ctypes' own underscore names, which its users are meant to read.
CTYPES_NAMES = {"_obj", "_type_", "_restype_", "_fields_", "_pack_", "_anonymous_"}
# winsock_ov.aio is a subclass of asyncio's proactor loop and drives CPython's
# own proactor: these are asyncio's names, the ones that loop builds on (its
# proactor, the proactor's port and dequeue, a Handle's run).
ASYNCIO_NAMES = {"winsock_ov.aio": {"_proactor", "_iocp", "_poll", "_run"}}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:``."""
    nodes: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) \
                and node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        nodes.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            # "from . import _addresses" imports the submodule, not the package's body.
            targets = submodules if all(m in known for m in submodules) else [base, *submodules]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        found.update(target for target in targets if target in known and target != name)
    return found


def test_the_package_is_read_from_its_files() -> None:
    assert {"winsock_ov", "winsock_ov.core", "winsock_ov.raw"} <= set(modules())


def test_no_module_of_the_package_imports_one_that_imports_it_back() -> None:
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                # A package's __init__ importing its submodules is not a cycle of theirs.
                stack.extend(t for t in graph[current] if not goal.startswith(t + "."))
        return False

    cycles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a]
                     if not a.startswith(b + ".") and reaches(b, a)})
    assert cycles == []


def names_defined(tree: ast.AST) -> set[str]:
    """The functions, classes, attributes and variables ``tree`` defines."""
    defined = {node.name for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    defined |= {node.attr for node in ast.walk(tree)
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)}
    defined |= {node.id for node in ast.walk(tree)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    return defined


def inherited_names(name: str, trees: dict[str, ast.Module]) -> set[str]:
    """What the package's classes that module ``name``'s classes subclass define
    (their own protected names, a subclass's to use), through every level."""
    def classes(module: str) -> dict[str, ast.ClassDef]:
        return {node.name: node for node in trees[module].body if isinstance(node, ast.ClassDef)}

    def imported(module: str) -> dict[str, str]:
        """Names ``from .x import Name`` brought into ``module``: Name -> x's module."""
        package = module if modules()[module].name == "__init__.py" else module.rpartition(".")[0]
        found = {}
        for node in trees[module].body:
            if isinstance(node, ast.ImportFrom) and node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(parts + ([node.module] if node.module else []))
                found.update({alias.asname or alias.name: source for alias in node.names})
        return found

    names: set[str] = set()
    todo = [(name, node) for node in classes(name).values()]
    seen: set[tuple[str, str]] = set()
    while todo:
        module, node = todo.pop()
        for base in node.bases:
            base_name = base.value if isinstance(base, ast.Subscript) else base
            if not isinstance(base_name, ast.Name):
                continue
            home = module if base_name.id in classes(module) else imported(module).get(
                base_name.id)
            if home in trees and (home, base_name.id) not in seen \
                    and base_name.id in classes(home):
                seen.add((home, base_name.id))
                base_class = classes(home)[base_name.id]
                names |= names_defined(base_class)
                todo.append((home, base_class))
    return names


def test_no_module_reads_another_modules_private_names() -> None:
    """``x._name`` only for a ``_name`` defined in the same module, by a class of the
    package that one of its classes subclasses (a protected name), or ctypes' own."""
    offences = []
    trees = {name: ast.parse(path.read_text(encoding="utf-8"))
             for name, path in modules().items()}
    for name, tree in trees.items():
        defined = names_defined(tree) | inherited_names(name, trees)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                continue
            ctypes_own = node.attr in CTYPES_NAMES or (
                isinstance(node.value, ast.Name) and node.value.id == "ctypes")
            if node.attr in defined or ctypes_own or node.attr in ASYNCIO_NAMES.get(name, ()):
                continue
            offences.append(f"{name}:{node.lineno} .{node.attr}")
    assert offences == []


# --- docs/ARCHITECTURE.md draws the graph the code has ------------------------------------

ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"
GRAPH_MARK = "<!-- the import graph: tests/test_layers.py checks it against the code -->"


def short(name: str) -> str:
    """A module as ARCHITECTURE.md names it: raw's submodules are ``raw``."""
    name = name.removeprefix("winsock_ov.") if name != "winsock_ov" else name
    return "raw" if name.startswith("raw.") else name


def code_graph() -> dict[str, set[str]]:
    """Every module of the package (raw as one) and the modules it imports at run time."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        node = short(name)
        imported = {short(target) for target in imports_of(name, path, known)}
        graph.setdefault(node, set()).update(imported - {node})
    return graph


def drawn_graph() -> list[tuple[str, str, set[str]]]:
    """ARCHITECTURE.md's block after GRAPH_MARK: ``(layer, module, imports)``, in order;
    a ``# layer`` line starts each layer."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    assert GRAPH_MARK in text, f"{ARCHITECTURE.name} lost its import graph"
    block = text.split(GRAPH_MARK, 1)[1].split("```", 2)[1]
    layer, drawn = "", []
    for line in block.splitlines()[1:]:  # after the fence's info string
        if line.startswith("# "):
            layer = line[2:].split(":")[0]
        elif line.strip():
            module, _, imports = line.partition(":")
            drawn.append((layer, module.strip(), set(imports.split())))
    return drawn


def render(graph: dict[str, set[str]]) -> str:
    return "\n".join(f"{module}: {' '.join(sorted(graph[module]))}".rstrip()
                     for module in sorted(graph))


def test_architecture_md_draws_every_module_with_the_imports_it_has() -> None:
    """The block lists each module once with exactly what it imports (raw's
    submodules as ``raw``); the message is the code's graph, to redraw from."""
    drawn = drawn_graph()
    modules_drawn = [module for _, module, _ in drawn]
    assert len(modules_drawn) == len(set(modules_drawn)), "a module drawn twice"
    assert {module: imports for _, module, imports in drawn} == code_graph(), \
        "docs/ARCHITECTURE.md's import graph is not the code's, which is:\n" + render(code_graph())


def test_architecture_md_layers_only_import_downwards() -> None:
    """Each module imports modules of its own layer or of the layers drawn above it."""
    drawn = drawn_graph()
    order = {layer: index for index, layer in enumerate(dict.fromkeys(l for l, _, _ in drawn))}
    layer_of = {module: order[layer] for layer, module, _ in drawn}
    upward = [f"{module} ({layer}) imports {target}" for layer, module, imports in drawn
              for target in imports if layer_of.get(target, -1) > order[layer]]
    assert upward == []
