"""The human-readable plan: one row per task, then tasks and node-minutes per rule."""
from __future__ import annotations

from dhflow.compiler.lang.expressions import format_value
from dhflow.compiler.plan.model import Plan

_MAX_POINT = 90


def _point_text(point: dict | None) -> str:
    if point is None:
        return "-"
    text = " ".join(f"{k}={format_value(v)}" for k, v in point.items())
    return text if len(text) <= _MAX_POINT else text[: _MAX_POINT - 3] + "..."


def render_table(plan: Plan) -> str:
    """A fixed-width table of tasks and a per-rule summary with total node-minutes."""
    rows = [("TASK", "RULE", "POINT", "NODES x RANKS x THREADS", "WALL", "PARENTS")]
    for t in plan.tasks:
        # a fan-out task shows its dimensions' values before its point
        rows.append((t.name, t.rule, _point_text({**t.values, **(t.point or {})} if t.values else t.point),
                     f"{t.num_nodes} x {t.ranks_per_node} x {t.threads_per_rank}",
                     f"{t.wall_time_minutes}m", str(len(t.parents))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    objective = ", ".join(plan.objective) if isinstance(plan.objective, list) else plan.objective
    lines = [f"workflow {plan.workflow} ({objective})"]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    lines.append("")
    per_rule: dict[str, list[int]] = {}
    for t in plan.tasks:
        acc = per_rule.setdefault(t.rule, [0, 0])
        acc[0] += 1
        acc[1] += t.num_nodes * t.wall_time_minutes
    summary = [("RULE", "TASKS", "NODE-MINUTES")] + [(r, str(c), str(nm)) for r, (c, nm) in per_rule.items()]
    total_tasks = sum(c for c, _ in per_rule.values())
    total_nm = sum(nm for _, nm in per_rule.values())
    summary.append(("total", str(total_tasks), str(total_nm)))
    w = [max(len(r[i]) for r in summary) for i in range(3)]
    for r in summary:
        lines.append(f"{r[0].ljust(w[0])}  {r[1].rjust(w[1])}  {r[2].rjust(w[2])}")
    return "\n".join(lines) + "\n"
