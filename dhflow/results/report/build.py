"""From the plan and job rows to the report's parts (pure: no database access here)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone

from dhflow.results.report import records as rec_mod
from dhflow.results.report.figures import Figure, result_figures
from dhflow.results.report.timeline import timeline_figures


@dataclass
class Report:
    """Everything the page (or the image files) show."""

    summary: dict
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _jobs_by_key(jobs) -> dict:
    by_key = {}
    for job in jobs:
        key = (job.data or {}).get("dhflow_key")
        if key and key not in by_key:
            by_key[key] = job
    return by_key


def from_records(records: list[dict], *, workflow: str, directions: list[str], description: str = "",
                 submissions: list[dict] | None = None, database: str | None = None,
                 allocation_nodes: int | None = None, generated: str | None = None,
                 search: dict | None = None) -> Report:
    """The report of plain task records (see :func:`dhflow.results.report.records.task_records`);
    ``search``: a search's line (method, evals, trials, done, failed), None for a sweep."""
    summary = {
        "search": search,
        "workflow": workflow, "description": description, "directions": directions,
        "generated": generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "database": database, "submissions": submissions or [], "tasks": len(records),
        "states": rec_mod.states_per_rule(records), "best": rec_mod.best(records, directions),
        "failures": rec_mod.failures(records),
    }
    with warnings.catch_warnings():  # Optuna marks its PED-ANOVA evaluator experimental
        warnings.simplefilter("ignore")
        figures, notes = result_figures(records, directions)
    timeline = timeline_figures(records, allocation_nodes)
    if not timeline:
        notes.append("no task has run yet: no allocation timeline")
    return Report(summary, figures + timeline, notes)


def from_plan(plan: dict, jobs, submissions: list[dict] | None = None, *, database: str | None = None) -> Report:
    """The report of a plan and its jobs (rows like :class:`dhflow.balsam.jobs.JobView`)."""
    records = rec_mod.task_records(plan, _jobs_by_key(jobs))
    return from_records(records, workflow=plan["workflow"], directions=rec_mod.directions(plan),
                        description=plan.get("description") or "", submissions=submissions,
                        database=database, allocation_nodes=(plan.get("launch") or {}).get("nodes"))


def to_html(report: Report) -> str:
    """The self-contained HTML page of a report."""
    from dhflow.results.report.page import render

    return render(report.summary, report.figures, report.notes)
