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


#: Packages that are handed a .dhflow path (every command's FILE).
FILE_READING_PACKAGES = ("cli", "runtime", "compiler", "lsp", "search")
#: Calls that open or read a file by its path.
_FILE_CALLS = {"open", "read_text", "read_bytes", "read_regular", "fdopen"}
#: Every read of a file in those packages, (module, function, call): why it is not a .dhflow
#: file read past the one bounded reader (compiler/source.py's read_source_bytes).
FILE_READS = {
    ("compiler/source.py", "read_regular", "open"): "the bounded reader itself",
    ("compiler/source.py", "read_source_bytes", "read_regular"): "the bounded reader of a .dhflow file",
    ("compiler/expand/samplers.py", "_read_points", "read_regular"): "a points file, bounded",
    ("compiler/api.py", "input_digest", "read_regular"): "the points file in the digest, bounded",
    ("compiler/plan/code.py", "file_digest", "read_bytes"): "a regular code file the commands name",
    ("compiler/explain/pages.py", "_sections", "read_text"): "dhflow's own documentation pages",
    ("compiler/parse/syntax.py", "grammar_text", "read_text"): "dhflow's own grammar",
    ("cli/init_command.py", "template_files", "read_bytes"): "dhflow's own templates",
    ("cli/compile_commands.py", "_write", "open"): "writes -o FILE",
    ("runtime/plans.py", "load_plan_json", "read_regular"): "a plan JSON file, bounded",
}


def _is_write(call: ast.Call, source: str) -> bool:
    """open(..., "w"), os.fdopen(fd, "w"), os.open(..., O_WRONLY | O_CREAT): not a read."""
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg in ("mode", "flags")), None)
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return any(c in mode.value for c in "wax")
    text = ast.get_source_segment(source, mode) or ""
    return ("O_WRONLY" in text or "O_CREAT" in text) and "O_RDONLY" not in text


def _file_reads(path: Path, source: str) -> set[tuple[str, str, str]]:
    out = set()
    rel = str(path.relative_to(PKG))

    def visit(node, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name
            elif isinstance(child, ast.Call):
                f = child.func
                callee = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if callee in _FILE_CALLS and not _is_write(child, source):
                    out.add((rel, function, callee))
            visit(child, name)

    visit(ast.parse(source, str(path)), "<module>")
    return out


def test_every_dhflow_file_is_read_through_the_one_bounded_reader():
    """A new read of a file by its path in a package that is handed a .dhflow FILE fails here
    until it is the bounded reader's (SourceFile.read / read_source_bytes) or listed with why:
    `status` once probed for `search:` with a plain open() and waited on a FIFO for ever."""
    found = set()
    for path in sorted(PKG.rglob("*.py")):
        if _package(path) in FILE_READING_PACKAGES:
            found |= _file_reads(path, path.read_text(encoding="utf-8"))
    assert sorted(found - FILE_READS.keys()) == [], "read this .dhflow file with SourceFile.read"
    assert sorted(FILE_READS.keys() - found) == [], "a listed read is gone: drop it from FILE_READS"
