"""A search as `dhflow check` and `dhflow plan` show it: the human-readable description (its
arguments, its space, the rules of one evaluation, the budget's node-minutes) and the plan
JSON with its `search` object."""
from __future__ import annotations

from typing import Iterator

from dhflow.compiler.lang.expressions import format_value
from dhflow.compiler.jsonfast import plan_line
from dhflow.compiler.plan.model import Plan
from dhflow.compiler.describe.search_summary import (AFTER, BEFORE, CORES, EACH, GIVEN, LAUNCH_NODES, RuleSummary,
                                                 SearchSummary)

#: Design points listed one per line; beyond, how many more.
MAX_DESIGN_SHOWN = 5
_PARALLEL_FROM = {GIVEN: "given", LAUNCH_NODES: "not given: the launch's nodes",
                  CORES: "not given, and no launch nodes: this machine's cores"}
_WHEN = {BEFORE: "before the search", EACH: "each evaluation", AFTER: "after the search"}


def _point(point: dict) -> str:
    return " ".join(f"{k}={format_value(v)}" for k, v in point.items())


def _range(lo_hi: tuple[int, int], unit: str = "") -> str:
    lo, hi = lo_hi
    return f"{lo}{unit}" if lo == hi else f"{lo}..{hi}{unit}"


def _columns(rows: list[tuple[str, ...]], right: set[int] = frozenset()) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def _arguments(s: SearchSummary) -> list[str]:
    initial = "the method's own" if s.initial is None else str(s.initial)
    failures = str(s.max_failures) + ("" if s.max_failures_given else " (not given: evals)")
    rows = [("method", s.method), ("evals", str(s.evals)),
            ("parallel", f"{s.parallel} ({_PARALLEL_FROM[s.parallel_from]})"), ("seed", str(s.seed)),
            ("initial", f"{initial} (random points before the model takes over)"),
            ("max_failures", failures), ("where", s.where or "-")]
    if s.sample is None:
        rows.append(("design", "none (no `sample:`)"))
    else:
        dropped = len(s.design) - s.design_kept
        rows.append(("design", f"{len(s.design)} point(s) of `sample: {s.sample}`, evaluated first"
                     + (f" ({dropped} dropped by `where`)" if dropped else "")))
    lines = ["  " + line for line in _columns(rows)]
    lines += [f"    {_point(p)}" for p in s.design[:MAX_DESIGN_SHOWN]]
    if len(s.design) > MAX_DESIGN_SHOWN:
        lines.append(f"    ... and {len(s.design) - MAX_DESIGN_SHOWN} more")
    return lines


def _space(s: SearchSummary) -> list[str]:
    rows = [("PARAMETER", "KIND", "VALUES")]
    for p in s.space:
        if p.kind in ("int", "real"):
            values = f"{format_value(p.lo)} .. {format_value(p.hi)}" + (", log" if p.log else "")
        else:
            values = ", ".join(format_value(v) for v in p.choices)
        rows.append((p.name, p.kind, values))
    return _columns(rows)


def _rule_row(r: RuleSummary) -> tuple[str, ...]:
    resources = f"{_range(r.nodes)} x {_range(r.ranks_per_node)} x {_range(r.threads_per_rank)}"
    objective = ", ".join(f"{d} {src}" for d, src in r.objectives)
    minutes = str(r.node_minutes) + (" (at most)" if r.varies else "")
    return (r.name, _WHEN[r.role], str(r.tasks), resources, _range(r.wall_time, "m"), minutes, objective)


def render_search(s: SearchSummary) -> str:
    """The description of a search, as `plan` prints it (and `check` after its `ok`)."""
    lines = [f"workflow {s.workflow} ({', '.join(s.directions)}): a search"]
    lines += _arguments(s)
    lines.append("")
    lines += _space(s)
    lines.append("")
    rows = [("RULE", "RUNS", "TASKS", "NODES x RANKS x THREADS", "WALL", "NODE-MINUTES", "OBJECTIVE")]
    lines += _columns(rows + [_rule_row(r) for r in s.rules], right={2})
    lines.append("")
    bound = "at most " if s.upper_bound else ""
    single = s.node_minutes_before + s.node_minutes_after
    lines.append(f"budget: {bound}{s.node_minutes_per_evaluation} node-minutes per evaluation x {s.evals} evaluations"
                 + (f" + {single} before and after the search" if single else "")
                 + f" = {bound}{s.node_minutes} node-minutes")
    return "\n".join(lines) + "\n"


def search_plan_json(plan: Plan, summary: SearchSummary) -> Iterator[str]:
    """`plan --format json` of a search: the plan's own JSON (its initial design and single
    rules), with the summary as `search` just before `tasks` (a sweep's plan has no `search`)."""
    for piece in plan.iter_json():
        if piece == '  "tasks": [\n':
            yield f'  "search": {plan_line(summary.to_dict())},\n'
        yield piece
