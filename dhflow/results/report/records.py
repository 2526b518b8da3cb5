"""Plain records for the report: one per task, plus the summary a person reads first.

Pure: works on the plan dict and job rows shaped like
:class:`dhflow.balsam.jobs.JobView` (``state``, ``state_history``, ``data``,
``workdir``, ``name``); objectives are read where the plan says they are, by
:mod:`dhflow.results` (the same reader as ``dhflow results``).
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from dhflow.results import objectives as results, pareto
from dhflow.results.pareto import front_ranks

#: A state line of Balsam's state_history (the format :data:`dhflow.results.STATE_LINE`
#: reads), its time split into fields: strptime is most of the cost for 100,000 jobs.
_RUN_LINE = re.compile(r"^\s*\[(\d+)-(\d+)-(\d{4})\s+(\d+):(\d+):(\d+)\.(\d+)\s+(RUNNING|RUN_DONE|RUN_ERROR|RUN_TIMEOUT)\s*\]",
                       re.M)


def directions(plan: dict) -> list[str]:
    """The objective directions of a plan (one per objective), e.g. ``["maximize"]``."""
    return pareto.directions(plan.get("objective", "maximize"))


def _run_span(state_history: str) -> tuple[float | None, float | None]:
    """(start, end) in seconds since the epoch of the last RUNNING span (None when absent)."""
    start = end = None
    for m in _RUN_LINE.finditer(state_history or ""):
        mo, d, y, hh, mi, ss, frac, state = m.groups()
        try:
            when = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss),
                            int(frac[:6].ljust(6, "0"))).timestamp()
        except ValueError:
            continue
        if state == "RUNNING":
            start, end = when, None
        elif start is not None:
            end = when
    return start, end


def _occupancy(task: dict) -> float:
    """Nodes a task holds while it runs: packed single-node tasks share a node."""
    nodes = task.get("num_nodes") or 1
    packing = task.get("node_packing_count") or 1
    return nodes / packing if nodes == 1 and packing > 1 else float(nodes)


def _parameters(task: dict) -> dict | None:
    """The point of a task and its ``values`` dimensions, as one flat dict."""
    point = task.get("point")
    values = task.get("values")
    if not values:
        return point
    merged = dict(values)
    merged.update(point or {})
    return merged


def task_records(plan: dict, jobs_by_key: dict) -> list[dict]:
    """One record per task of the plan, in plan order.

    Keys: ``name``, ``rule``, ``index``, ``point`` (dict or None), ``state``, ``objective``
    (a float, the first objective, or None), ``objectives`` (list, with several objectives),
    ``error`` (why there is no objective), ``start``/``end`` (epoch seconds of the run, or
    None), ``nodes`` (nodes held while running) and, for a search's evaluation, ``trial``.
    """
    out = []
    for task in plan.get("tasks", []):
        job = jobs_by_key.get(task["key"])
        spec = task.get("objective")
        value = error = None
        values = None
        if isinstance(spec, dict) and spec.get("source") == "several":  # as the plan writes them
            spec = spec["sources"]
        if isinstance(spec, list):  # several objectives: one source each
            read = [results.read_objective(s, job) for s in spec]
            values = [v for v, _ in read]
            error = next((e for _, e in read if e), None)
            value = values[0] if values else None
            if any(v is None for v in values):
                value, values = None, None
        elif spec:
            value, error = results.read_objective(spec, job)
        elif job is not None and job.state in ("FAILED", "USER_KILLED"):
            error = f"{job.state}: {results.failure_reason(job)}"
        start, end = _run_span(job.state_history) if job is not None else (None, None)
        rec = {
            "name": task["name"], "rule": task.get("rule") or task["name"], "index": task.get("index"),
            "point": _parameters(task), "state": job.state if job is not None else "NOT_SUBMITTED",
            "objective": value, "error": error, "start": start, "end": end, "nodes": _occupancy(task),
            "has_objective": bool(spec),
        }
        if values is not None or isinstance(spec, list):
            rec["objectives"] = values
        if task.get("trial") is not None:  # a search's evaluation: its trial number
            rec["trial"] = task["trial"]
        out.append(rec)
    return out


def evaluations(records: list[dict]) -> list[dict]:
    """The records with an objective, in the order they finished (plan order when unknown)."""
    done = [(r["end"] if r["end"] is not None else float("inf"), pos, r)
            for pos, r in enumerate(records) if r["objective"] is not None]
    done.sort(key=lambda t: (t[0], t[1]))
    return [r for _, _, r in done]


def _better(direction: str):
    return (lambda a, b: a > b) if direction == "maximize" else (lambda a, b: a < b)


def pareto_front(evals: list[dict], dirs: list[str]) -> list[dict]:
    """The evaluations no other one dominates (several objectives), best first objective first."""
    signs = [-1.0 if d == "maximize" else 1.0 for d in dirs]
    ranks = front_ranks([r["objectives"] for r in evals], dirs)  # the ranking `results` uses
    front = [r for r, rank in zip(evals, ranks) if rank == 0]
    return sorted(front, key=lambda r: [s * v for s, v in zip(signs, r["objectives"])])


def best(records: list[dict], dirs: list[str], count: int = 5) -> list[dict]:
    """The best evaluations: the ``count`` best by the objective, or the Pareto front."""
    evals = [r for r in records if r["objective"] is not None]
    if len(dirs) > 1 and all(r.get("objectives") for r in evals):
        return pareto_front(evals, dirs)
    sign = -1.0 if dirs[0] == "maximize" else 1.0
    return sorted(evals, key=lambda r: sign * r["objective"])[:count]


def best_so_far(values: list[float], direction: str) -> list[float]:
    """The running best of a sequence of objective values."""
    better = _better(direction)
    out, cur = [], None
    for v in values:
        if cur is None or better(v, cur):
            cur = v
        out.append(cur)
    return out


def states_per_rule(records: list[dict]) -> dict[str, Counter]:
    """rule -> Counter(state), rules in plan order."""
    counts: dict[str, Counter] = {}
    for r in records:
        counts.setdefault(r["rule"], Counter())[r["state"]] += 1
    return counts


def failures(records: list[dict]) -> list[dict]:
    """The tasks that failed or were killed, and a search's trials that never became a job
    (``NOT_RUN``), each with its reason."""
    out = []
    for r in records:
        if r["state"] in ("FAILED", "USER_KILLED", "NOT_RUN"):
            reason = r["error"] or r["state"]
            for prefix in ("FAILED: ", "USER_KILLED: "):
                if reason.startswith(prefix):
                    reason = reason[len(prefix):]
            out.append({"name": r["name"], "rule": r["rule"], "state": r["state"], "reason": reason})
    return out
