"""A search file as plans: which rules run before, per trial and after; the fingerprint
that says whether the file still describes the same search; the plan of the trials so far.

Pure (no database): the Balsam side is :mod:`dhflow.runtime.search`. The tasks of a trial
are built exactly as v1 builds them (:func:`dhflow.compiler.expand.tasks.iter_tasks`, with
the trial numbers as the points' indices), so names, resources, templates, content keys
and provenance are those of a compiled plan.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import networkx as nx

from dhflow.compiler.check.model import Spec
from dhflow.compiler.check.rules.dependencies import rule_graph
from dhflow.compiler.diagnostics import ERROR, Diagnostic
from dhflow.compiler.lang.expressions import CompiledExpr
from dhflow.compiler.expand.tasks import iter_tasks, plan_head
from dhflow.compiler.describe.search_summary import default_parallel  # the one rule, shown by `plan` too
from dhflow.errors import CompileFailed
from dhflow.search.driver import Budget
from dhflow.search.proposer import SearchSetup, setup_from_spec


@dataclass
class SearchContext:
    """A compiled search file: the spec, the proposer's setup, the budget and the rules' roles."""

    file: str
    spec: Spec
    setup: SearchSetup
    budget: Budget
    initial: list[dict]
    head: dict
    objective_rule: str
    after_rules: frozenset[str]      # rules downstream of a foreach rule that are single (gathers)
    foreach_rules: frozenset[str]
    fingerprint: str = ""
    warnings: list = field(default_factory=list)
    source: object = None

    @property
    def workflow(self) -> str:
        return self.spec.workflow

    def keep(self, point: dict) -> bool:
        """The `where` filter of `search:` (True when there is none)."""
        w = self.spec.search.where
        return True if w is None else bool(CompiledExpr(w)(dict(point)))


def context_of(file: str, result, warnings: list | None = None) -> SearchContext:
    """The SearchContext of a compiled search file (a successful CompileResult whose spec has
    `search:`): built from that one compile."""
    spec = result.spec
    s = spec.search
    parallel = s.parallel or default_parallel(spec)
    budget = Budget(s.evals, parallel, s.max_failures or s.evals)
    g = rule_graph(spec)
    foreach = frozenset(r.name for r in spec.rules if r.foreach)
    downstream = set().union(*(nx.descendants(g, r) for r in foreach)) if foreach else set()
    after = frozenset(r for r in downstream if r not in foreach)
    objective_rule = next(r.name for r in spec.rules if r.foreach and r.objective is not None)
    head = plan_head(spec).to_dict()
    initial = [t.point for t in result.plan.tasks if t.rule == objective_rule]
    shown = list(result.diagnostics) if warnings is None else warnings
    ctx = SearchContext(file, spec, setup_from_spec(spec), budget, initial, head, objective_rule, after, foreach,
                        warnings=shown, source=result.source)
    ctx.fingerprint = fingerprint(ctx)
    return ctx


def probe_point(spec: Spec) -> dict:
    """A point of the space (every lower bound, every first choice): stands for all in checks."""
    return {p.name: (p.lo if p.kind in ("int", "real") else p.values[0]) for p in spec.params}


def fingerprint(ctx: SearchContext) -> str:
    """What makes two runs the same search: the space, the method and its arguments but
    `evals`, the `where`, the initial design, the directions and the foreach rules (as the
    content keys of one probe point's tasks: app, args, env, resources, objective)."""
    spec, s = ctx.spec, ctx.spec.search
    where = spec.source.text[s.where.span.start:s.where.span.end] if s.where is not None else None
    diags: list[Diagnostic] = []
    probe = [(t.rule, t.key) for t in iter_tasks(spec, [probe_point(spec)], diags, indices=[0])
             if t.rule in ctx.foreach_rules]
    if any(d.severity == ERROR for d in diags):  # the probe point has bad resources: the rules' text then
        probe = [(r.name, spec.source.text[r.span.start:]) for r in spec.rules if r.foreach]
    params = [[p.name, p.kind, p.lo, p.hi, p.log, list(p.values)] for p in spec.params]
    what = {"params": params, "method": s.method, "parallel": s.parallel, "seed": s.seed, "initial": s.initial,
            "max_failures": s.max_failures, "where": where, "design": ctx.initial,
            "directions": list(ctx.setup.directions), "rules": probe}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def in_space_order(ctx: SearchContext, point: dict) -> dict:
    """The point with its parameters in the space's order. A task's content key covers its
    point as written, and a point read back from the database (jsonb) has its keys in
    PostgreSQL's order: without this, a resumed search would key the same trial otherwise."""
    names = [p.name for p in ctx.spec.params]
    if list(point) == names or set(point) != set(names):
        return point
    return {n: point[n] for n in names}


def check_point(ctx: SearchContext, trial: int, point: dict) -> str | None:
    """Why a proposed point cannot become jobs (its resources are invalid), or None."""
    diags: list[Diagnostic] = []
    for _ in iter_tasks(ctx.spec, [in_space_order(ctx, point)], diags, indices=[trial]):
        pass
    errors = [d for d in diags if d.severity == ERROR]
    return errors[0].message if errors else None


def plan_of(ctx: SearchContext, trials, *, with_after: bool = False) -> dict:
    """The plan of the trials that have jobs: before rules, one task set per distinct job key
    (a repeated point's trial reuses the first one's jobs), and the gathers when `with_after`.
    Each trial task carries `trial` (its index)."""
    seen: set[str] = set()
    points, indices = [], []
    for t in trials:
        if t.job_key is None or t.job_key in seen:
            continue
        seen.add(t.job_key)
        points.append(in_space_order(ctx, t.point))
        indices.append(t.trial)
    diags: list[Diagnostic] = []
    tasks = []
    for task in iter_tasks(ctx.spec, points, diags, indices=indices):
        if task.rule in ctx.after_rules and not with_after:
            continue
        d = task.to_dict()
        if task.rule in ctx.foreach_rules:
            d["trial"] = task.index
        tasks.append(d)
    errors = [d for d in diags if d.severity == ERROR]
    if errors:
        raise CompileFailed(errors, ctx.source)
    plan = dict(ctx.head)
    plan["tasks"] = tasks
    return plan


def trial_key(ctx: SearchContext, trial: int, point: dict) -> str:
    """The content key of the objective rule's task for this point (what identifies an evaluation)."""
    diags: list[Diagnostic] = []
    for task in iter_tasks(ctx.spec, [in_space_order(ctx, point)], diags, indices=[trial]):
        if task.rule == ctx.objective_rule:
            return task.key
    raise CompileFailed([d for d in diags if d.severity == ERROR], ctx.source)
