"""A search's space checked at compile time (LANGUAGE.md, v2 adaptive search).

A search compiles with no point of its own (the proposer picks them while it runs), so the
per-point checks of a sweep never see the points it will run. Two checks stand in for them:

- resources: every `foreach` rule's resource expressions are evaluated over the points a
  proposer may propose and `where` keeps, by the very code that evaluates a sweep's
  (:class:`~dhflow.compiler.expand.tasks.RuleExpander`), so the diagnostics (DH404, DH405,
  DH407, DH410, DH406) read the same and name the first offending point. Only the
  parameters the expressions and `where` read are varied: the whole product when it is
  finite and at most :data:`MAX_ENUMERATED` points, else every corner of the bounds (at
  most :data:`MAX_CORNERS`) and :data:`SAMPLED` seeded draws;
- the initial design: a point of `sample:` that the search's `where` rejects is dropped by
  the driver, and said once here (DH607, a warning).
"""
from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Iterable, Iterator

from dhflow.compiler.check.model import Param, Spec
from dhflow.compiler.diagnostics import ERROR, WARNING, Diagnostic, Label
from dhflow.compiler.lang.expressions import CompiledExpr, EvalError, format_value
from dhflow.compiler.expand.rng import Stream
from dhflow.compiler.expand.space import mapper
from dhflow.compiler.expand.tasks import RuleExpander, build_apps

#: A space of at most this many points (over the parameters that matter) is checked whole
#: (about 0.15 s of evaluations at worst, measured: `check` stays fast in an editor).
MAX_ENUMERATED = 20_000
#: Otherwise: the corners of the bounds (at most this many) ...
MAX_CORNERS = 4_096
#: ... and this many seeded draws (uniform, or log-uniform where the parameter is `log`).
SAMPLED = 2_000
#: The seed of those draws (fixed: the same file always gives the same diagnostics).
SEED = 0


class _SpaceExpander(RuleExpander):
    """A rule's expander whose messages name a point of the space, not a task, and that keeps
    evaluating a key after its first bad value (reported once), so that the points where the
    same key asks too many nodes (DH405) are found in the same run."""

    def __init__(self, *args):
        super().__init__(*args)
        self.reported: set[str] = set()

    def _bad(self, key, index, point, msg, span) -> None:
        if key not in self.reported:
            self.reported.add(key)
            super()._bad(key, index, point, msg, span)
        self.bad_keys.discard(key)

    def point_label(self, index, point) -> str:
        vals = ", ".join(f"{k}={format_value(v)}" for k, v in (point or {}).items())
        return f"the search space's point ({vals})" if vals else "every point of the search space"


def search_space_diagnostics(spec: Spec, design: list[dict]) -> list[Diagnostic]:
    """The resource diagnostics of the search's space and the DH607 warning of its design
    (`design`: the points of `sample:`, [] without one); [] for a file with no `search:`."""
    if spec.search is None:
        return []
    keep = _where(spec)
    out = list(_dropped_design(spec, design, keep))
    apps = None
    for rule in spec.rules:
        if not rule.foreach or not rule.resources:
            continue
        if apps is None:
            apps = build_apps(spec)[1]
        app = spec.app(rule.app[0]) if rule.app else None
        diags: list[Diagnostic] = []
        ex = _SpaceExpander(spec, rule, apps[rule.name], app, diags)
        _check_rule(spec, rule, ex, keep)
        out.extend(replace(d, help=f"{d.help}; or leave such points out with a `where` after `search:`"
                           if d.help else "or leave such points out with a `where` after `search:`")
                   if d.severity == ERROR else d for d in diags)
    return out


def _where(spec: Spec):
    """The search's `where` as (names it reads, predicate), or None without one. A point the
    condition cannot be evaluated for is not kept (the driver would not run it either)."""
    if spec.search.where is None:
        return None
    fn = CompiledExpr(spec.search.where)

    def keep(point: dict) -> bool:
        try:
            return bool(fn(point))
        except EvalError:
            return False

    return fn.names, keep


def where_keeps(spec: Spec):
    """The search's `where` as a predicate over points (always True without one), read as the
    driver reads it: a point it cannot be evaluated for is not kept."""
    keep = _where(spec)
    return (lambda point: True) if keep is None else (lambda point: keep[1](dict(point)))


def _dropped_design(spec: Spec, design: list[dict], keep) -> Iterator[Diagnostic]:
    if keep is None or not design:
        return
    dropped = [p for p in design if not keep[1](dict(p))]
    if not dropped:
        return
    vals = ", ".join(f"{k}={format_value(v)}" for k, v in dropped[0].items())
    every = len(dropped) == len(design)
    yield Diagnostic(
        "DH607", f"the search's `where` drops {len(dropped)} of the {len(design)} design point(s) of `sample:` "
                 f"(the first: {vals}); {'no design point is' if every else 'they are not'} evaluated",
        spec.search.where.span, severity=WARNING,
        labels=(Label(spec.sampler.span, "the initial design"),) if spec.sampler is not None else (),
        help="give `sample:` a `where` that keeps only what the search's keeps, or relax the search's `where`")


def _check_rule(spec: Spec, rule, ex: _SpaceExpander, keep) -> None:
    """Evaluate the rule's resources over the space's points that matter (stopping once
    every key that varies is reported)."""
    axes = _rule_axes(spec, rule, ex, keep)
    varying = {k for k, fn, _ in ex.resources if set(fn.names) & {name for name, _ in axes}}
    for point in _kept(axes, keep):
        ex.resources_for(0, point)
        if varying <= ex.bad_keys:  # every key that varies cannot be evaluated: nothing more to find
            return


def resources_over_space(spec: Spec, rule) -> Iterator[tuple[dict, dict[str, int]]]:
    """(point, resource values) of a `foreach` rule of a search, over the very points the
    compile-time check evaluates (those `where` keeps; a point holds only the parameters and
    values dimensions the resources and `where` read): what `plan` bounds a search's budget
    with. Points whose resources are invalid are left out (the compile reported them). A
    rule whose resources read no parameter gives one item, with an empty point."""
    apps = build_apps(spec)[1]
    app = spec.app(rule.app[0]) if rule.app else None
    ex = _SpaceExpander(spec, rule, apps[rule.name], app, [])
    if not ex.read_params:  # the same values at every point: evaluated once
        values = ex.resources_for(0, {})
        if values is not None:
            yield {}, values
        return
    keep = _where(spec)
    for point in _kept(_rule_axes(spec, rule, ex, keep), keep):
        values = ex.resources_for(0, point)
        if values is not None:
            yield point, values


def _rule_axes(spec: Spec, rule, ex: _SpaceExpander, keep) -> list[tuple[str, object]]:
    """The axes that matter to a rule's resources: what they read, and what `where` reads."""
    where_names = keep[0] if keep is not None else ()
    return _axes(spec, rule, set(ex.read_params) | set(where_names))


def _kept(axes: list[tuple[str, object]], keep) -> Iterator[dict]:
    """The points of :func:`_points` that the search's `where` keeps."""
    for point in _points(axes):
        if keep is None or keep[1](point):
            yield point


def _axes(spec: Spec, rule, names: set[str]) -> list[tuple[str, object]]:
    """(name, domain) of the parameters and the rule's values dimensions in `names`, in the
    space's order: a domain is a Param, or the tuple of a values dimension."""
    out: list[tuple[str, object]] = [(p.name, p) for p in spec.params if p.name in names]
    out += [(d, spec.dimension(d).values) for d in rule.value_dims if d in names]
    return out


def _finite(domain) -> tuple | None:
    """Every value of a domain, or None when it is a real range or too long an int range."""
    if isinstance(domain, tuple):
        return domain
    p: Param = domain
    if p.kind in ("const", "choice"):
        return tuple(p.values)
    if p.kind == "int" and p.hi - p.lo + 1 <= MAX_ENUMERATED:
        return tuple(range(p.lo, p.hi + 1))
    return None


def _edges(domain) -> tuple:
    """The bounds of a range; every value of a choice or a values dimension."""
    if isinstance(domain, tuple):
        return domain
    p: Param = domain
    if p.kind in ("const", "choice"):
        return tuple(p.values)
    if p.kind == "int":
        return tuple(dict.fromkeys((p.lo, p.hi)))
    return tuple(dict.fromkeys((float(p.lo), float(p.hi))))


def _points(axes: list[tuple[str, object]]) -> Iterable[dict]:
    """The points to check: the whole product if finite and small, else corners and draws."""
    names = [n for n, _ in axes]
    if not axes:
        yield {}
        return
    finite = [_finite(d) for _, d in axes]
    size = 1
    for f in finite:
        size = size * len(f) if f is not None and size <= MAX_ENUMERATED else MAX_ENUMERATED + 1
    if size <= MAX_ENUMERATED:
        for combo in itertools.product(*finite):
            yield dict(zip(names, combo))
        return
    for combo in itertools.islice(itertools.product(*(_edges(d) for _, d in axes)), MAX_CORNERS):
        yield dict(zip(names, combo))
    stream = Stream(SEED, "search-space-check")
    draws = [_drawer(d) for _, d in axes]
    for _ in range(SAMPLED):
        yield {n: draw(stream.uniform()) for n, draw in zip(names, draws)}


def _drawer(domain):
    """Unit draw -> a value of the domain (the samplers' mapping for parameters)."""
    if isinstance(domain, tuple):
        n = len(domain)
        return lambda u: domain[min(int(u * n), n - 1)]
    return mapper(domain)
