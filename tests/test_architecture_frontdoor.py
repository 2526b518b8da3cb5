"""The front door's rules (docs/architecture.md), read from the code itself.

* :mod:`dhflow.runtime` reaches the backend through three modules only: ``jobstore``
  (records), ``servers`` (databases) and ``launchers`` (running and submitting);
* exit codes are named in one module, :mod:`dhflow.errors`, and ``cli/`` returns no bare
  exit numbers;
* every command handler of ``cli/`` loads its file through one experiment
  (:func:`dhflow.cli.plan_loading.load_experiment`), never by compiling it itself.
"""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "dhflow"
BACKEND_SURFACE = {"dhflow.balsam.jobstore", "dhflow.balsam.servers", "dhflow.balsam.launchers"}


def _trees(folder: str):
    for path in sorted((PKG / folder).rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _balsam_modules(tree) -> set[str]:
    """The dhflow.balsam modules a module imports (``from dhflow.balsam import x`` names x)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "dhflow.balsam":
                found |= {f"dhflow.balsam.{a.name}" for a in node.names}
            elif node.module.startswith("dhflow.balsam."):
                found.add(".".join(node.module.split(".")[:3]))
        elif isinstance(node, ast.Import):
            found |= {".".join(a.name.split(".")[:3]) for a in node.names if a.name.startswith("dhflow.balsam.")}
    return found


def test_runtime_imports_at_most_three_backend_modules():
    used = {}
    for path, tree in _trees("runtime"):
        for mod in _balsam_modules(tree):
            used.setdefault(mod, []).append(path.name)
    assert set(used) <= BACKEND_SURFACE, {m: f for m, f in used.items() if m not in BACKEND_SURFACE}


def test_exit_codes_are_named_in_the_error_module_only():
    named = []
    for path in sorted(PKG.rglob("*.py")):
        if path == PKG / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            for t in targets:
                for name in ([t] if isinstance(t, ast.Name) else getattr(t, "elts", [])):
                    values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                    numbers = all(isinstance(v, ast.Constant) and type(v.value) is int for v in values)
                    if isinstance(name, ast.Name) and (name.id.startswith("EXIT_") or name.id == "exit_code") \
                            and numbers:
                        named.append(f"{path.relative_to(PKG)}:{node.lineno} {name.id}")
    assert named == []


def test_cli_returns_no_bare_exit_numbers():
    bare = []
    for path, tree in _trees("cli"):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Return) or node.value is None:
                continue
            values = [node.value.body, node.value.orelse] if isinstance(node.value, ast.IfExp) else [node.value]
            for v in values:
                if isinstance(v, ast.Constant) and type(v.value) is int:
                    bare.append(f"{path.name}:{node.lineno} return {v.value}")
    assert bare == []


def test_cli_never_compiles_a_file_itself_for_a_database_command():
    """Commands over a database load FILE once through the experiment; the compile-only
    commands (check, plan, graph, fmt) and the language server use the compiler's API."""
    offenders = []
    for name in ("runtime_commands.py", "search_commands.py", "report_command.py", "render_runtime.py", "watch.py"):
        text = (PKG / "cli" / name).read_text(encoding="utf-8")
        for word in ("compile_file", "check_file", "load_plan(", "compile_checked"):
            if word in text:
                offenders.append(f"{name}: {word}")
    assert offenders == []
