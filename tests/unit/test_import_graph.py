"""The product's import graph, read from the source with `ast` (nothing is imported): no cycles, and
the product does not import the outside world's stand-ins (`standins`: generators, stand-in API,
receivers), except the CLI's commands that run them (demo, generate, source-api, serve), lazily.

Every import counts, wherever it is written (a module's top, a function, a method), except those under
`if TYPE_CHECKING:`, which never run: a function-level import is a cycle all the same, only a later one.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
PRODUCT = "greencert"
STANDINS = "standins"
# the one module that may reach the stand-ins, and only inside functions: the commands that run them
STANDINS_ALLOWED = {"greencert.cli"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PLUGINS).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    root = PLUGINS / package
    return {_module_name(p): p for p in sorted(root.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """(imported name, at top level?) for every import that runs; `from X import a` yields X.a and X."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, bool]] = []
        self.depth = 0

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _scoped(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scoped

    def visit_Call(self, node: ast.Call) -> None:
        """importlib.import_module("x.y") or (f"x.{name}"): the literal part of the name."""
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        args = node.args[:1] if name == "import_module" else []
        while args:
            arg = args.pop()
            if isinstance(arg, ast.IfExp):  # f"x.{name}" if name else "x"
                args += [arg.body, arg.orelse]
                continue
            if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                arg = arg.values[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self.found.append((arg.value.rstrip("."), self.depth == 0))
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.extend((alias.name, self.depth == 0) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        self.found.append((target, self.depth == 0))
        self.found.extend((f"{target}.{alias.name}", self.depth == 0) for alias in node.names)


@functools.cache
def _imports(module: str, path: Path) -> list[tuple[str, bool]]:
    visitor = _Imports(module, path.name == "__init__.py")
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return visitor.found


def graph() -> dict[str, set[str]]:
    """module → the product modules it imports (a name that is not a module is its module's)."""
    modules = _modules(PRODUCT)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for name, _ in _imports(module, path):
            if name in modules and name != module:
                edges[module].add(name)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:  # Tarjan's algorithm (the graph is small: recursion is fine)
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_graph_is_read():
    cli = _imports("greencert.cli", PLUGINS / PRODUCT / "cli.py")
    assert ("standins", False) in cli  # importlib.import_module(f"standins.{module}"), in a function
    edges = graph()
    assert "greencert.cli" in edges and "greencert.orchestration.common" in edges
    assert "greencert.connections" in edges["greencert.orchestration.nightly"]
    # function-level imports count
    assert "greencert.serve.stack" in edges["greencert.cli"]


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "import cycles in plugins/greencert (each line one cycle):\n" + "\n".join(
        " <-> ".join(c) for c in found
    )


def test_the_product_does_not_import_the_standins():
    wrong = []
    for module, path in _modules(PRODUCT).items():
        for name, top_level in _imports(module, path):
            if name.split(".")[0] != STANDINS:
                continue
            if module not in STANDINS_ALLOWED or top_level:
                wrong.append(f"{module} imports {name}" + (" at its top" if top_level else ""))
    assert not wrong, "the product imports the stand-ins:\n" + "\n".join(sorted(set(wrong)))


def test_the_standins_are_not_in_the_product_package():
    assert not (PLUGINS / PRODUCT / "generate").exists(), "the stand-ins live in plugins/standins/"
    assert (PLUGINS / STANDINS / "__init__.py").is_file()


# The product's layers, lowest first: a module imports only from its own layer or the ones below. (The
# README's "Folders" draws them.)
LAYERS = [
    {
        "greencert",
        "settings",
        "feeds",
        "terminal_text",
        "sheet_text",
        "terminal_progress",
        "connections",
        "snapshot_date",
        "environment",
        "subprocesses",
    },
    {"extract"},
    {"load"},
    {"quality", "publish", "report", "warehouse"},
    {"notify"},
    {"orchestration"},
    {"serve"},
    {"cli"},
]


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else module
    return next(i for i, names in enumerate(LAYERS) if top in names)


def test_layers_import_downward_only():
    edges = graph()
    unknown = sorted({m.split(".")[1] for m in edges if "." in m} - set().union(*LAYERS))
    assert not unknown, f"modules or packages of plugins/greencert in no layer of LAYERS: {unknown}"
    upward = sorted(f"{a} -> {b}" for a, bs in edges.items() for b in bs if _layer(b) > _layer(a))
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)
