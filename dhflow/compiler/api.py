"""The compiler's one public entry point: source text -> diagnostics and a Plan."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from dhflow.compiler.check.rules import run_checks
from dhflow.compiler.diagnostics import Diagnostic, DiagnosticError, has_errors, limit_per_code
from dhflow import __version__
from dhflow.compiler.expand.tasks import expand, iter_tasks, plan_head
from dhflow.compiler.expand.search_space import search_space_diagnostics
from dhflow.compiler.parse.lower import to_ast
from dhflow.compiler.plan.model import Plan
from dhflow.compiler.expand.samplers import sample
from dhflow.compiler.expand.budget import check_plan
from dhflow.compiler.limits import MAX_POINTS_FILE_BYTES
from dhflow.compiler.limits import current as current_limits
from dhflow.compiler.source import SourceFile, Span, read_regular
from dhflow.compiler.check.builder import build_spec
from dhflow.compiler.check.model import Spec
from dhflow.compiler.parse.syntax import parse_tree


@dataclass
class CompileResult:
    source: SourceFile | None
    spec: Spec | None = None
    plan: Plan | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not has_errors(self.diagnostics)


#: How many times this process parsed a file and sampled/expanded one (``dhflow`` prints
#: both on exit with ``DHFLOW_COUNT_COMPILES=1``): a command parses its file once and
#: compiles it at most once (tests/test_compile_once.py).
COUNTS = {"parses": 0, "compiles": 0}


def _parse(src: SourceFile):
    COUNTS["parses"] += 1
    return parse_tree(src)


def _front(src: SourceFile, out) -> list[dict] | None:
    """parse -> AST -> spec -> checks -> points, recording the spec and diagnostics on `out`
    (a CompileResult or StreamingCompile); the points, or None when a stage reported errors.
    DiagnosticError and RecursionError propagate to the caller."""
    doc = to_ast(src, _parse(src))
    spec, diags = build_spec(src, doc)
    out.spec = spec
    out.diagnostics.extend(diags)
    if spec is None:
        return None
    out.diagnostics.extend(run_checks(spec))
    if has_errors(out.diagnostics):
        return None
    return _points(spec)


def _points(spec: Spec) -> list[dict]:
    """The sampled points of a checked spec (the bounds on tasks checked before expanding)."""
    if spec.search is not None and spec.sampler is None:
        return []  # a search's points are proposed while it runs (a `sample:` is its initial design)
    limits = current_limits()
    points = sample(spec, limits) if any(r.foreach for r in spec.rules) else []
    check_plan(spec, len(points), limits)  # tasks, dependencies, text: before expanding
    return points


def compile_source(src: SourceFile) -> CompileResult:
    """Run every stage; stop at the first stage that reports errors. At most
    MAX_DIAGNOSTICS_PER_CODE diagnostics of a code are kept, the rest counted in a summary."""
    result = _compile_source(src)
    result.diagnostics = limit_per_code(result.diagnostics)
    return result


def _compile_source(src: SourceFile) -> CompileResult:
    result = CompileResult(src)
    return _expand_into(result, lambda: _front(src, result))


def compile_checked(checked: "CheckResult") -> CompileResult:
    """Continue a successful :func:`check_file` to the whole plan, without parsing again."""
    result = CompileResult(checked.source, checked.spec, diagnostics=list(checked.diagnostics))
    result = _expand_into(result, lambda: _points(checked.spec))
    result.diagnostics = limit_per_code(result.diagnostics)
    return result


def _expand_into(result: CompileResult, front) -> CompileResult:
    """Sample (``front()``: the points, or None after errors) and expand into ``result``."""
    COUNTS["compiles"] += 1
    try:
        points = front()
        if points is None:
            return result
        plan, diags = expand(result.spec, points)
        result.diagnostics.extend(diags)
        if result.spec.search is not None and not has_errors(diags):
            # a search's points are proposed while it runs: its space is checked now
            result.diagnostics.extend(search_space_diagnostics(result.spec, points))
        result.plan = plan if not has_errors(result.diagnostics) else None
    except DiagnosticError as exc:
        result.diagnostics.extend(exc.diagnostics)
    except RecursionError:
        result.diagnostics.append(Diagnostic("DH001", "expression nested too deeply", Span.point(1, 1)))
    return result


def unreadable(path: str, exc: OSError | UnicodeDecodeError) -> tuple[SourceFile, Diagnostic]:
    """The DH007 diagnostic of a file SourceFile.read refused (and the source it points into):
    the same words for every command, `/dev/zero`, a FIFO, a huge or a missing file alike."""
    if isinstance(exc, UnicodeDecodeError):
        # Show the text up to the bad byte, so the position points at it.
        good = exc.object[:exc.start].decode("utf-8", errors="replace")
        src = SourceFile.from_text(good + "\ufffd", path)
        return src, Diagnostic("DH007", f"file is not UTF-8 text (byte {exc.start} is invalid)",
                               src.span(len(good), len(good) + 1), help="save the file as UTF-8")
    return SourceFile.from_text("", path), Diagnostic("DH007", f"cannot read file: {exc.strerror or exc}",
                                                      Span.point(1, 1))


def compile_file(path: str) -> CompileResult:
    """Read and compile a .dhflow file; unreadable files give a DH007 diagnostic."""
    try:
        src = SourceFile.read(path)
    except (OSError, UnicodeDecodeError) as exc:
        src, diag = unreadable(path, exc)
        r = CompileResult(src)
        r.diagnostics.append(diag)
        return r
    return compile_source(src)


@dataclass
class StreamingCompile:
    """A compile whose tasks are produced one at a time (for writing huge plans while they
    are being compiled). `head` is the plan dict without tasks; `tasks` yields task dicts in
    topological order and raises DiagnosticError at the first expansion error; warnings
    found while expanding are appended to `diagnostics`."""

    source: SourceFile | None
    spec: Spec | None = None
    head: dict | None = None
    tasks: Iterator[dict] | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.tasks is not None and not has_errors(self.diagnostics)


def compile_file_streaming(path: str, *, as_dicts: bool = True) -> StreamingCompile:
    """Parse, check and sample now; expand lazily, as the caller iterates `tasks` (task
    dicts, or with ``as_dicts=False`` the Task records themselves)."""
    try:
        src = SourceFile.read(path)
    except (OSError, UnicodeDecodeError):
        r = compile_file(path)  # the same DH007 diagnostic as a normal compile
        return StreamingCompile(r.source, diagnostics=r.diagnostics)
    out = StreamingCompile(src)
    return _stream_into(out, lambda: _front(src, out), as_dicts)


def stream_checked(checked: "CheckResult", *, as_dicts: bool = True) -> StreamingCompile:
    """:func:`compile_file_streaming` of a successful :func:`check_file`, without parsing again."""
    out = StreamingCompile(checked.source, checked.spec, diagnostics=list(checked.diagnostics))
    return _stream_into(out, lambda: _points(checked.spec), as_dicts)


def _stream_into(out: StreamingCompile, front, as_dicts: bool) -> StreamingCompile:
    COUNTS["compiles"] += 1
    try:
        points = front()
        if points is None:
            return out
        spec = out.spec
    except DiagnosticError as exc:
        out.diagnostics.extend(exc.diagnostics)
        return out
    except RecursionError:
        out.diagnostics.append(Diagnostic("DH001", "expression nested too deeply", Span.point(1, 1)))
        return out
    head = plan_head(spec).to_dict()
    head.pop("tasks", None)
    out.head = head
    # The limits are bound now: the tasks may be pulled in another thread (the COPY producer).
    out.tasks = iter_tasks(spec, points, out.diagnostics, stop_on_error=True, limits=current_limits(),
                           as_dicts=as_dicts)
    return out


def input_digest(spec: Spec) -> str:
    """A digest of everything a compile reads: dhflow's version, the file's text, its
    directory (`{here}`) and the explicit points file. Compiling is deterministic, so equal
    digests mean equal plans: a resubmission of an unchanged experiment can skip compiling."""
    h = hashlib.sha256()
    for part in (__version__, spec.source.here, spec.source.text):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    if spec.sampler is not None and spec.sampler.kind == "points":
        try:
            h.update(read_regular(Path(spec.source.here) / spec.sampler.path, MAX_POINTS_FILE_BYTES))
        except OSError:
            h.update(b"<unreadable>")
    # code the commands name (`{here}/train.py`): editing it must not skip the compile-free
    # check that finds the tasks to run again
    from dhflow.compiler.code_files import file_digest, template_code
    for owner in (*spec.apps, *spec.rules):
        for what in ("executable", "args", "preprocess", "postprocess", "shell"):
            t = getattr(owner, what, None)
            for rel in template_code(t.text) if t is not None else ():
                h.update(f"{rel}\0{file_digest(spec.source.here, rel)}\0".encode("utf-8"))
    return h.hexdigest()


@dataclass
class CheckResult:
    """A file parsed, lowered, built and checked: not sampled, not expanded (cheap)."""

    source: SourceFile | None
    spec: Spec | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.spec is not None and not has_errors(self.diagnostics)


def check_file(path: str) -> CheckResult:
    """Parse and check a file without sampling or expanding it (errors give an unsuccessful
    result; an unreadable file, its DH007 diagnostic, as compile_file)."""
    try:
        src = SourceFile.read(path)
    except (OSError, UnicodeDecodeError) as exc:
        src, diag = unreadable(path, exc)
        return CheckResult(src, diagnostics=[diag])
    out = CheckResult(src)
    try:
        spec, diags = build_spec(src, to_ast(src, _parse(src)))
        out.diagnostics.extend(limit_per_code(diags))
        if spec is None or has_errors(diags):
            return out
        out.diagnostics.extend(run_checks(spec))
        out.spec = spec
    except DiagnosticError as exc:
        out.diagnostics.extend(exc.diagnostics)
    except RecursionError:
        out.diagnostics.append(Diagnostic("DH001", "expression nested too deeply", Span.point(1, 1)))
    out.diagnostics = limit_per_code(out.diagnostics)
    return out
