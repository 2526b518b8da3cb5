"""What `check` and `plan` say of a search: its method and arguments, its space, the rules of
one evaluation, and an upper bound of the node-minutes of its whole budget.

A search compiles to a plan of no evaluation (its points are proposed while it runs), so the
plan's task table says nothing of it. This module describes it instead, from the checked
spec and the compiled plan (the initial design's tasks and the single rules'), as plain
values: :class:`SearchSummary`. Pure: no database, no optimizer library. The text is
:mod:`dhflow.compiler.describe.search_table`'s; the JSON is :meth:`SearchSummary.to_dict`.

A `foreach` rule's resources are evaluated over the space by the compile-time check's own
code (:func:`dhflow.compiler.expand.search_space.resources_over_space`): where they depend
on the point, the budget takes each task's largest nodes x wall time, an upper bound.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import networkx as nx

from dhflow.compiler.check.model import Spec
from dhflow.compiler.check.rules.dependencies import rule_graph
from dhflow.compiler.check.rules.search import objective_count
from dhflow.compiler.expand.search_space import resources_over_space, where_keeps
from dhflow.compiler.plan.model import Plan
from dhflow.compiler.source import Span

#: Where `parallel` comes from (the JSON's `parallel_from`).
GIVEN, LAUNCH_NODES, CORES = "search", "launch.nodes", "cores"
#: When a rule runs in a search (the JSON's `role`).
BEFORE, EACH, AFTER = "before", "evaluation", "after"
_SHOWN_RESOURCES = ("nodes", "ranks_per_node", "threads_per_rank", "wall_time")


def default_parallel(spec: Spec) -> int:
    """`parallel` when not given: the launch allocation's nodes, else this machine's cores."""
    return parallel_of(spec)[0]


def parallel_of(spec: Spec) -> tuple[int, str]:
    """(`parallel`, where it comes from: GIVEN, LAUNCH_NODES or CORES) of a search."""
    if spec.search.parallel:
        return spec.search.parallel, GIVEN
    if spec.launch is not None and spec.launch.nodes:
        return spec.launch.nodes, LAUNCH_NODES
    return max(1, os.cpu_count() or 1), CORES


@dataclass(frozen=True)
class ParamSummary:
    """One parameter of the space: kind int, real, choice or const."""

    name: str
    kind: str
    lo: object = None
    hi: object = None
    log: bool = False
    choices: tuple = ()


@dataclass(frozen=True)
class RuleSummary:
    """One rule of a search. `tasks`: per evaluation (role EACH), else in all; each resource
    as (smallest, largest) over the space; `node_minutes`: per evaluation (role EACH, an upper
    bound when `varies`), else in all; `objectives`: (direction, source) of the objective rule."""

    name: str
    role: str
    tasks: int
    nodes: tuple[int, int]
    ranks_per_node: tuple[int, int]
    threads_per_rank: tuple[int, int]
    wall_time: tuple[int, int]
    node_minutes: int
    varies: bool = False
    objectives: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SearchSummary:
    """A search as `check` and `plan` describe it (see the module docstring)."""

    workflow: str
    method: str
    evals: int
    parallel: int
    parallel_from: str
    seed: int
    initial: int | None           # None: the method's own
    max_failures: int
    max_failures_given: bool
    where: str | None             # the expression's text
    sample: str | None            # the `sample:` sampler's text: the initial design
    design: tuple[dict, ...]      # its points, in order
    design_kept: int              # how many of them `where` keeps
    space: tuple[ParamSummary, ...]
    rules: tuple[RuleSummary, ...]
    objective_rule: str
    directions: tuple[str, ...]
    node_minutes_per_evaluation: int
    node_minutes_before: int
    node_minutes_after: int

    @property
    def node_minutes(self) -> int:
        """The whole budget: every evaluation, plus the rules before and after the search."""
        return self.node_minutes_per_evaluation * self.evals + self.node_minutes_before + self.node_minutes_after

    @property
    def upper_bound(self) -> bool:
        """True when some resource depends on the point (the node-minutes are a bound)."""
        return any(r.varies for r in self.rules)

    def to_dict(self) -> dict:
        """The `search` object of `plan --format json`."""
        out = asdict(self)
        out["design"] = list(self.design)
        out["space"] = [{**asdict(p), "choices": list(p.choices)} for p in self.space]
        out["rules"] = [{**asdict(r), **{k: list(getattr(r, k)) for k in _SHOWN_RESOURCES},
                         "objectives": [{"direction": d, "source": s} for d, s in r.objectives]}
                        for r in self.rules]
        out["directions"] = list(self.directions)
        out["node_minutes"] = {"per_evaluation": self.node_minutes_per_evaluation,
                               "before": self.node_minutes_before, "after": self.node_minutes_after,
                               "total": self.node_minutes, "upper_bound": self.upper_bound}
        for k in ("node_minutes_per_evaluation", "node_minutes_before", "node_minutes_after"):
            del out[k]
        return out


def rule_roles(spec: Spec) -> dict[str, str]:
    """Rule name -> BEFORE, EACH or AFTER (LANGUAGE.md: a single rule that a `foreach` rule
    depends on runs before the first proposal; one that depends on one, once the search ends)."""
    g = rule_graph(spec)
    each = {r.name for r in spec.rules if r.foreach}
    downstream = set().union(*(nx.descendants(g, r) for r in each)) if each else set()
    return {r.name: EACH if r.name in each else AFTER if r.name in downstream else BEFORE for r in spec.rules}


def describe_search(spec: Spec, plan: Plan) -> SearchSummary:
    """The summary of a compiled search (`plan`: its compile's plan, the initial design's tasks
    and the single rules')."""
    s = spec.search
    parallel, parallel_from = parallel_of(spec)
    roles = rule_roles(spec)
    objective_rule = next(r.name for r in spec.rules if r.foreach and r.objective is not None)
    directions = _directions(spec)
    rules = tuple(_each_rule(spec, r, directions) if roles[r.name] == EACH else _single_rule(r.name, roles[r.name], plan)
                  for r in spec.rules)
    design = tuple(t.point for t in plan.tasks if t.rule == objective_rule)
    keep = where_keeps(spec)
    return SearchSummary(
        spec.workflow, s.method, s.evals, parallel, parallel_from, s.seed, s.initial,
        s.max_failures or s.evals, s.max_failures is not None, _text(spec, s.where.span) if s.where else None,
        _text(spec, spec.sampler.span) if spec.sampler is not None else None, design,
        sum(1 for p in design if keep(p)),
        tuple(ParamSummary(p.name, p.kind, p.lo, p.hi, p.log, tuple(p.values)) for p in spec.params),
        rules, objective_rule, directions,
        sum(r.node_minutes for r in rules if r.role == EACH),
        sum(r.node_minutes for r in rules if r.role == BEFORE),
        sum(r.node_minutes for r in rules if r.role == AFTER))


def _text(spec: Spec, span: Span) -> str:
    return " ".join(spec.source.text[span.start:span.end].split())


def _directions(spec: Spec) -> tuple[str, ...]:
    if spec.directions:
        return tuple(d for d, _ in spec.directions)
    return (spec.objective,) * objective_count(spec)


def _single_rule(name: str, role: str, plan: Plan) -> RuleSummary:
    """A rule run once (or once per value of its `values` dimensions): its tasks in the plan."""
    tasks = [t for t in plan.tasks if t.rule == name]
    ranges = {k: _bounds(getattr(t, a) for t in tasks) for k, a in
            (("nodes", "num_nodes"), ("ranks_per_node", "ranks_per_node"),
             ("threads_per_rank", "threads_per_rank"), ("wall_time", "wall_time_minutes"))}
    return RuleSummary(name, role, len(tasks), **ranges,
                       node_minutes=sum(t.num_nodes * t.wall_time_minutes for t in tasks))


def _bounds(values) -> tuple[int, int]:
    values = list(values)
    return (min(values), max(values)) if values else (0, 0)


def _each_rule(spec: Spec, rule, directions: tuple[str, ...]) -> RuleSummary:
    """A rule of every evaluation: its resources over the space, its node-minutes per evaluation."""
    lengths = {d: len(spec.dimension(d).values) for d in rule.value_dims}
    per_eval = math.prod(lengths.values())
    seen: dict[str, list[int]] = {k: [] for k in _SHOWN_RESOURCES}
    most: dict[tuple, int] = {}  # per combination of the values dimensions read: the largest task
    grouped: tuple[str, ...] = ()
    for point, values in resources_over_space(spec, rule):
        grouped = tuple(d for d in rule.value_dims if d in point)
        for k in _SHOWN_RESOURCES:
            seen[k].append(values[k])
        combo = tuple(point[d] for d in grouped)
        most[combo] = max(most.get(combo, 0), values["nodes"] * values["wall_time"])
    ranges = {k: _bounds(v) for k, v in seen.items()}
    varies = any(lo != hi for lo, hi in ranges.values())
    if len(most) == math.prod(lengths[d] for d in grouped):
        # each combination's largest task, times the combinations of the dimensions not read
        node_minutes = sum(most.values()) * (per_eval // math.prod(lengths[d] for d in grouped))
    else:  # some combination was not among the points evaluated: the largest task for every one
        node_minutes = per_eval * max(most.values(), default=0)
    objectives = ()
    if rule.objective is not None:
        sources = rule.objectives or (rule.objective,)
        objectives = tuple((d, _text(spec, o.span)) for d, o in zip(directions, sources))
    return RuleSummary(rule.name, EACH, per_eval, **ranges, node_minutes=node_minutes, varies=varies,
                       objectives=objectives)
