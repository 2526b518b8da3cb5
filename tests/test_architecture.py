"""The layout's rules (docs/architecture.md), read from the code's own imports."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PKG = Path(__file__).resolve().parents[1] / "dhflow"
BACKEND_MODULES = {"balsam", "django", "psycopg2"}
#: package -> the dhflow packages it may import (besides itself)
ALLOWED = {
    "cli": {"runtime", "compiler", "reconcile", "balsam", "results", "search", "lsp", "scaffold", "target", "errors"},
    "lsp": {"compiler", "target"},
    "scaffold": set(),
    "runtime": {"compiler", "reconcile", "balsam", "results", "search", "target", "errors"},
    "search": {"compiler", "results", "target", "errors"},
    "balsam": {"reconcile", "results", "target", "errors", "compiler"},
    "reconcile": {"compiler", "target"},
    "results": {"target", "compiler", "errors"},
    "compiler": {"target"},
    "target": set(),
    "errors": set(),
}


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imports(tree) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
            out += [f"{node.module}.{a.name}" for a in node.names]
    return out


def _package(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py") if rel.parts else ""


def test_backend_libraries_only_under_balsam():
    offenders = [(str(p.relative_to(PKG)), m) for p, tree in _modules() for m in _imports(tree)
                 if m.split(".")[0] in BACKEND_MODULES and _package(p) != "balsam"]
    assert offenders == []


def test_package_dependencies_follow_the_layout_and_have_no_cycle():
    graph = nx.DiGraph()
    wrong = []
    for path, tree in _modules():
        src = _package(path)
        if src in ("__init__", "__main__"):
            continue
        for m in _imports(tree):
            parts = m.split(".")
            if parts[0] != "dhflow" or len(parts) < 2 or parts[1] in ("__version__",):
                continue
            dst = parts[1]
            if dst == src or dst not in ALLOWED:
                continue
            graph.add_edge(src, dst)
            if dst not in ALLOWED.get(src, set()):
                wrong.append((str(path.relative_to(PKG)), m))
    assert wrong == []
    assert list(nx.simple_cycles(graph)) == []


def test_nothing_imports_the_cli():
    offenders = [str(p.relative_to(PKG)) for p, tree in _modules()
                 if _package(p) not in ("cli", "__main__")
                 and any(m == "dhflow.cli" or m.startswith("dhflow.cli.") for m in _imports(tree))]
    assert offenders == []


def test_no_module_over_450_lines():
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450}
    assert long == {}


def test_no_module_import_cycle_even_through_imports_inside_functions():
    mods = {}
    for path in PKG.rglob("*.py"):
        name = ".".join(("dhflow", *path.relative_to(PKG).with_suffix("").parts))
        mods[name.removesuffix(".__init__")] = path
    graph = nx.DiGraph()
    for name, path in mods.items():
        for target in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            # a module importing its own package's front door is not a cycle of modules
            if target in mods and target != name and not name.startswith(target + "."):
                graph.add_edge(name, target)
    assert [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1] == []
