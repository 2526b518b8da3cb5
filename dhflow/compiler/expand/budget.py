"""The size of what a spec asks for, computed arithmetically before any of it is built.

A grid's points are a product of per-parameter level counts, a plan's tasks and
dependencies follow from the point count and the rule graph, and its text from the
templates: all are known before sampling or expanding, so an over-large request is refused
(DH409) in microseconds instead of after minutes of work and gigabytes of memory.
"""
from __future__ import annotations

import math

from dhflow.compiler.check.model import Param, Spec
from dhflow.compiler.diagnostics import Diagnostic, DiagnosticError
from dhflow.compiler.lang.templates import TemplateError, parse_template
from dhflow.compiler.limits import Limits, help_raise


def level_count(p: Param, levels: int) -> int:
    """How many values `grid(levels=...)` gives parameter p, at most (duplicates after
    rounding only make it fewer)."""
    if p.kind in ("const", "choice"):
        return len(p.values)
    if levels == 1:
        return 1
    if p.kind == "int":
        return min(p.hi - p.lo + 1, levels)
    return levels


def grid_bound(params: tuple[Param, ...], levels: int, cap: int) -> int:
    """The grid's point count, or the first partial product over `cap` (never a huge int)."""
    size = 1
    for p in params:
        size *= level_count(p, levels)
        if size > cap:
            return size
    return size


def check_sampler(spec: Spec, limits: Limits) -> None:
    """DH409 when the sampler would give more points than the limit (grid or count)."""
    s = spec.sampler
    if s is None:
        return
    cap = limits.max_points
    if s.kind == "grid":
        size = grid_bound(spec.params, s.levels, cap)
        if size > cap:
            raise DiagnosticError([Diagnostic("DH409", f"the grid has over {cap:,} points (the limit)", s.span,
                                              help="lower `levels`, sample with random()/lhs(), or "
                                                   + help_raise())])
    elif s.kind in ("random", "lhs") and s.count > cap:
        raise DiagnosticError([Diagnostic("DH409", f"count={s.count:,} is over the limit of {cap:,} points",
                                          s.span, help=help_raise())])
    points = s.count if s.kind in ("random", "lhs") else size if s.kind == "grid" else 0
    values = points * len(spec.params)
    if values > limits.max_values:  # every point holds a value of every parameter
        raise DiagnosticError([Diagnostic(
            "DH409", f"the sample would hold {values:,} values ({points:,} points x {len(spec.params):,} "
                     f"parameters; at most {limits.max_values:,})", s.span, help=help_raise())])


def _text_bytes(spec: Spec, rule, here: int, point_bytes: int, values: dict[str, int]) -> int:
    """An estimate of one task's rendered arguments and environment: the templates' text
    with each field replaced by the longest value it can take."""
    app = spec.app(rule.app[0]) if rule.app else None
    templates = [rule.shell or rule.args or (app.args if app else None)]
    env = dict(app.env) if app else {}
    env.update(dict(rule.env))
    templates += list(env.values())
    total = 0
    for t in templates:
        if t is None:
            continue
        try:
            parts, _ = parse_template(t.text)
        except TemplateError:
            continue  # reported by the template checks
        for part in parts:
            if isinstance(part, str):
                total += len(part)
            elif part.name == "point":
                total += point_bytes
            elif part.name == "here":
                total += here
            else:
                total += values.get(part.name, 24)
    return total


def check_plan(spec: Spec, points: int, limits: Limits) -> None:
    """DH409 when the plan of `points` points would have more tasks, dependencies or task
    text than the limits allow (computed from counts, before any task is built)."""
    from dhflow.compiler.expand.combinations import dims_of

    def size(dim: str) -> int:
        return points if dim == "space" else len(spec.dimension(dim).values)

    dims = {r.name: dims_of(r) for r in spec.rules}
    count = {r.name: math.prod(size(d) for d in dims[r.name]) for r in spec.rules}
    tasks = sum(count.values())
    fail = lambda msg: DiagnosticError([Diagnostic("DH409", msg, spec.workflow_span, help=help_raise())])  # noqa: E731
    if tasks > limits.max_tasks:
        raise fail(f"the plan would have {tasks:,} tasks (at most {limits.max_tasks:,})")
    edges = 0
    for r in spec.rules:
        for dep, _ in r.after:
            if dep in count:  # each task waits for the parent tasks that agree on the shared dimensions
                shared = math.prod(size(d) for d in set(dims[dep]) & set(dims[r.name]))
                edges += count[r.name] * (count[dep] // shared if shared else 0)
    if edges > limits.max_edges:
        raise fail(f"the plan would have {edges:,} dependencies between tasks (at most {limits.max_edges:,})")
    values = {p.name: max((len(str(v)) for v in p.values), default=24) if p.kind in ("const", "choice") else 24
              for p in spec.params}
    point_bytes = sum(len(name) + 6 + n for name, n in values.items())
    here = len(spec.source.here)
    # every foreach task also carries its point in the plan
    text = sum(count[r.name] * (_text_bytes(spec, r, here, point_bytes, values) + (point_bytes if r.foreach else 0))
               for r in spec.rules)
    if text > limits.max_text_bytes:
        raise fail(f"the plan's task arguments and environments would take about {text:,} bytes "
                   f"(at most {limits.max_text_bytes:,})")
