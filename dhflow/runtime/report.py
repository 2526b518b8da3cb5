"""`dhflow report` of an experiment: the report built from its database (:func:`build_report`).

A sweep's report draws its compiled tasks.  A search has no compiled list of tasks (they
are proposed while it runs), so its report's records come from the plan of the trials
recorded so far (:func:`dhflow.runtime.search.trials_and_plan`), whose evaluation tasks
carry ``trial``: the figures of a sweep then draw a search too, with the trial number as
the x axis of convergence.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dhflow.target import FINAL_STATES


@dataclass
class SearchReportInputs:
    """A search's report inputs: its database, the trials' plan, one record per task of
    that plan (plus one per trial that shares an earlier trial's job or has none), the
    workflow's submissions and the search's summary (method, evals, trials, done, failed)."""

    path: str
    plan: dict
    records: list[dict]
    submissions: list[dict] = field(default_factory=list)
    search: dict = field(default_factory=dict)


def report_inputs_of_search(ctx, db: str | None) -> SearchReportInputs:
    """The report's inputs of the search ``ctx`` (a :class:`dhflow.runtime.search_plan.SearchContext`)."""
    from dhflow.balsam.jobstore import read_report_inputs
    from dhflow.results.report.records import task_records
    from dhflow.runtime.search import trials_and_plan

    path, rows, plan = trials_and_plan(ctx, db)
    inputs = read_report_inputs(ctx.workflow)
    by_key: dict = {}
    for job in inputs.jobs:
        if job.key:
            by_key.setdefault(job.key, job)
    records = task_records(plan, by_key)
    records += trials_without_own_job(ctx.objective_rule, rows, records)
    return SearchReportInputs(path, plan, records, inputs.submissions, summary(ctx, rows, records))


def trials_without_own_job(rule: str, rows, records: list[dict]) -> list[dict]:
    """A record for each trial the plan has no task of: a repeated point (it took the first
    trial's result: a copy without run times, so the timeline counts that one run once) or a
    proposal that never became a job (invalid resources: no objective, its reason)."""
    by_trial = {r["trial"]: r for r in records if r["rule"] == rule and "trial" in r}
    first_of_key: dict[str, int] = {}
    for row in rows:
        if row.job_key is not None:
            first_of_key.setdefault(row.job_key, row.trial)
    out = []
    for row in rows:
        if row.trial in by_trial:
            continue
        name = f"{rule}.{row.trial}"
        first = by_trial.get(first_of_key.get(row.job_key)) if row.job_key is not None else None
        if first is not None:
            out.append(dict(first, name=name, index=row.trial, trial=row.trial, point=row.point,
                            start=None, end=None))
        else:
            out.append({"name": name, "rule": rule, "index": row.trial, "point": row.point, "state": "NOT_RUN",
                        "objective": None, "error": row.reason or "no job was written for this trial",
                        "start": None, "end": None, "nodes": 1.0, "has_objective": True, "trial": row.trial})
    return out


def summary(ctx, rows, records: list[dict]) -> dict:
    """The search's line of the report: method, budget, trials proposed, evaluations final
    and how many of those failed (no objective)."""
    evaluations = [r for r in records if r["rule"] == ctx.objective_rule and "trial" in r]
    final = [r for r in evaluations if r["state"] in FINAL_STATES or r["state"] == "NOT_RUN"]
    return {"method": ctx.setup.method, "evals": ctx.budget.evals, "trials": len(rows), "done": len(final),
            "failed": sum(1 for r in final if r["objective"] is None)}


def build_report(exp):
    """The report of an experiment (:class:`dhflow.results.report.build.Report`): a sweep's
    tasks, or a search's trials, read from its database."""
    from dhflow.results.report import build

    if exp.is_search:
        from dhflow.results.report.records import directions

        got = report_inputs_of_search(exp.search(), exp.db)
        plan = got.plan
        return build.from_records(got.records, workflow=plan["workflow"], directions=directions(plan),
                                  description=plan.get("description") or "", submissions=got.submissions,
                                  database=got.path, allocation_nodes=(plan.get("launch") or {}).get("nodes"),
                                  search=got.search)
    from dhflow.balsam.jobstore import read_report_inputs
    from dhflow.runtime.reading import open_existing

    plan = exp.plan()
    path = open_existing(exp, plan)
    inputs = read_report_inputs(plan["workflow"])
    return build.from_plan(plan, inputs.jobs, inputs.submissions, database=path)
