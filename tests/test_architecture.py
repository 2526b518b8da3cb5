"""The layout's rules (docs/architecture.md), read from the code's own imports."""
from __future__ import annotations

import ast
import re
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
    ("compiler/code_files.py", "file_digest", "read_bytes"): "a regular code file the commands name",
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


def _dotted(path: Path) -> str:
    return ".".join(("dhflow", *path.relative_to(PKG).with_suffix("").parts)).removesuffix(".__init__")


def test_no_private_name_is_imported_from_another_package():
    """`from dhflow.a.b import _x` outside package `a`: a private helper that another package
    needs is a public function of `a` (plan_match once redid reconcile's decisions with two)."""
    offenders = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("dhflow."):
                owner = node.module.split(".")[1]
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if private and owner != _package(path):
                    offenders.append((str(path.relative_to(PKG)), node.module, private))
    assert offenders == []


#: The compiler's layers, lowest first: a module may import its own layer and the ones
#: before it, never a later one (check/ never reaches into expand/). Not the pipeline's
#: order in one place: plan/ holds the records expand/ builds (Plan, Task, content keys),
#: so it sits under expand/; api, fmt and explain are front doors over every stage.
COMPILER_LAYERS = (
    {"source", "diagnostics", "limits", "jsonfast", "code_files"},   # the input, its limits, stable JSON
    {"parse"},                                                       # text -> AST
    {"lang"},                                                        # expressions and templates over the AST
    {"check"},                                                       # AST -> checked Spec
    {"plan"},                                                        # the plan's records and views
    {"expand"},                                                      # Spec + points -> Plan
    {"api", "fmt", "explain", "describe"},                           # front doors
)


def _compiler_layer(dotted: str) -> int | None:
    parts = dotted.split(".")
    if parts[:2] != ["dhflow", "compiler"] or len(parts) < 3:
        return None
    return next(i for i, names in enumerate(COMPILER_LAYERS) if parts[2] in names)


def test_every_compiler_module_is_in_a_layer():
    unplaced = [str(p.relative_to(PKG)) for p in (PKG / "compiler").glob("*")
                if p.name != "__pycache__" and (p.is_dir() or p.suffix == ".py") and p.name != "__init__.py"
                and not any(p.name.removesuffix(".py") in names for names in COMPILER_LAYERS)]
    assert unplaced == [], "add it to COMPILER_LAYERS"


def test_no_compiler_stage_imports_a_later_one():
    offenders = []
    for path, tree in _modules():
        mine = _compiler_layer(_dotted(path))
        if mine is None:
            continue
        for m in _imports(tree):
            theirs = _compiler_layer(m)
            if theirs is not None and theirs > mine:
                offenders.append((str(path.relative_to(PKG)), m))
    assert offenders == []


#: `^` (or a newline) then, past blanks and an opening group, a top-level word of the
#: language: a pattern that reads a .dhflow file's structure line by line.
_LANGUAGE_LINE = re.compile(r"(?:\^|\\n)(?:\\s[*+]|\[ ?\\t ?\][*+]| [*+]|\(\?:|\()*"
                            r"(?:search|rule|workflow|space|sample|app|launch|values|foreach)\b")


def _language_regexes(source: str, rel: str) -> list[tuple[str, int, str]]:
    """`re.X("...")` calls whose pattern matches a keyword of the language at a line start."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                and _LANGUAGE_LINE.search(node.args[0].value)):
            out.append((rel, node.lineno, node.args[0].value))
    return out


def test_the_language_regex_rule_catches_a_probe_of_the_file():
    probe = 'import re\nis_search = bool(re.search(r"^search[ \\t]*:", text, re.M))\n'
    assert _language_regexes(probe, "probe.py") == [("probe.py", 2, "^search[ \\t]*:")]
    for fine in ('re.search(r"\\bwhere\\b", after)', 're.compile(r"^sample_\\d+$")', 're.sub(r"^rules?", "", s)'):
        assert _language_regexes(fine, "fine.py") == [], fine


def test_only_the_compiler_reads_the_language():
    """A .dhflow file is read by the compiler (its parser, or `compiler.api`): a regex over its
    lines elsewhere (`status` once told a search by `^search:`) disagrees with it on
    comments, strings and indentation."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        if _package(path) != "compiler":
            found += _language_regexes(path.read_text(encoding="utf-8"), str(path.relative_to(PKG)))
    assert found == []
