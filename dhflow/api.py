"""The compiler's one public entry point: source text -> diagnostics and a Plan."""
from __future__ import annotations

from dataclasses import dataclass, field

from .checks import run_checks
from .diagnostics import Diagnostic, DiagnosticError, has_errors
from .expand import expand
from .lower import to_ast
from .plan import Plan
from .samplers import sample
from .source import SourceFile, Span
from .spec import Spec, build_spec
from .syntax import parse_tree


@dataclass
class CompileResult:
    source: SourceFile | None
    spec: Spec | None = None
    plan: Plan | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not has_errors(self.diagnostics)


def compile_source(src: SourceFile) -> CompileResult:
    """Run every stage; stop at the first stage that reports errors."""
    result = CompileResult(src)
    try:
        doc = to_ast(src, parse_tree(src))
        spec, diags = build_spec(src, doc)
        result.spec = spec
        result.diagnostics.extend(diags)
        if spec is None:
            return result
        result.diagnostics.extend(run_checks(spec))
        if has_errors(result.diagnostics):
            return result
        points = sample(spec) if any(r.foreach for r in spec.rules) else []
        plan, diags = expand(spec, points)
        result.diagnostics.extend(diags)
        result.plan = plan if not has_errors(result.diagnostics) else None
    except DiagnosticError as exc:
        result.diagnostics.extend(exc.diagnostics)
    except RecursionError:
        result.diagnostics.append(Diagnostic("DH001", "expression nested too deeply", Span.point(1, 1)))
    return result


def compile_file(path: str) -> CompileResult:
    """Read and compile a .dhflow file; unreadable files give a DH007 diagnostic."""
    try:
        src = SourceFile.read(path)
    except UnicodeDecodeError as exc:
        # Show the text up to the bad byte, so the position points at it.
        good = exc.object[:exc.start].decode("utf-8", errors="replace")
        src = SourceFile.from_text(good + "\ufffd", path)
        r = CompileResult(src)
        r.diagnostics.append(Diagnostic("DH007", f"file is not UTF-8 text (byte {exc.start} is invalid)",
                                        src.span(len(good), len(good) + 1), help="save the file as UTF-8"))
        return r
    except OSError as exc:
        r = CompileResult(SourceFile.from_text("", path))
        r.diagnostics.append(Diagnostic("DH007", f"cannot read file: {exc.strerror or exc}", Span.point(1, 1)))
        return r
    return compile_source(src)
