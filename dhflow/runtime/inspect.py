"""The reading use cases: status, results, history, clean, and the plan against the DB.

Each opens the workflow's existing database (started on demand, never created) and returns
plain values for the CLI to render.
"""
from __future__ import annotations

from dataclasses import dataclass

from dhflow.runtime import database


def jobs_by_key(plan: dict):
    """(the workflow's jobs by content key, how many jobs are not in the plan)."""
    from dhflow.balsam import jobs

    found = jobs.fetch_jobs(plan["workflow"])
    by_key = {}
    for job in found:
        if job.key and job.key not in by_key:
            by_key[job.key] = job
    keys = {t["key"] for t in plan["tasks"]}
    stale = sum(1 for j in found if j.key not in keys)
    return by_key, stale


def states_by_name(plan: dict, by_key: dict) -> dict:
    """Task name -> its job's state (None: no job yet)."""
    return {t["name"]: (by_key[t["key"]].state if t["key"] in by_key else None) for t in plan["tasks"]}


def open_existing(db: str | None, plan: dict, file: str | None) -> str:
    """The workflow's database, started on demand and activated (never created)."""
    return database.open_database(db, plan, file, create=False, quiet=True)


@dataclass
class Status:
    """Per-rule state counts of a workflow."""

    workflow: str
    path: str
    counts: dict
    stale: int


def status(db: str | None, plan: dict, file: str | None) -> Status:
    """The per-rule state counts, and how many jobs are orphans of older definitions."""
    from dhflow.results import progress

    from dhflow.balsam import jobs

    path = open_existing(db, plan, file)
    states, extra, total = jobs.key_states(plan["workflow"])  # key and state only, streamed
    keys = {t["key"] for t in plan["tasks"]}
    stale = total - sum(1 + extra.get(k, 0) for k in states if k in keys)
    by_name = {t["name"]: states.get(t["key"]) for t in plan["tasks"]}
    return Status(plan["workflow"], path, progress.rule_counts(plan, by_name), stale)


def results(db: str | None, plan: dict, file: str | None) -> list[dict]:
    """One record per task of every rule with an objective, best first."""
    from dhflow.results import objectives

    open_existing(db, plan, file)
    by_key, _ = jobs_by_key(plan)
    return objectives.collect(plan, by_key)


def history(db: str | None, plan: dict, file: str | None, limit: int | None) -> tuple[str, list[dict]]:
    """(database path, the workflow's submissions newest first)."""
    from dhflow.balsam import submissions

    path = open_existing(db, plan, file)
    return path, submissions.submissions(plan["workflow"], limit=limit)


def count_jobs(db: str | None, plan: dict, file: str | None) -> tuple[str, int]:
    """(database path, how many jobs the workflow has)."""
    from dhflow.balsam import jobs

    path = open_existing(db, plan, file)
    return path, jobs.count_workflow(plan["workflow"])


def delete_jobs(workflow: str) -> tuple[int, str | None]:
    """Delete every job of exactly this workflow and its search trials, in one transaction,
    then its stored search studies (its database already open); (jobs deleted, why a
    study could not be removed or None)."""
    from dhflow.balsam import jobs, searchstore
    from dhflow.runtime.search_study import delete_workflow_studies

    deleted = jobs.delete_workflow(workflow, also=(searchstore.delete_trials,))
    return deleted, delete_workflow_studies(workflow)


def against_db(db: str | None, plan: dict, file: str | None, rerun: str | None):
    """(Reconciliation, path) of the plan with the database; BackendError when unreadable."""
    from dhflow.balsam import rows
    from dhflow.errors import BackendError
    from dhflow.runtime.submit import reconcile_if_reachable

    rows.validate(plan)
    where = database.locate(db, plan, file)
    if not where.exists:  # nothing submitted yet: every task is new
        from dhflow.reconcile.decision import reconcile

        return reconcile(plan, [], rerun), f"{where.path}: not created yet, every task is new"
    rec, path, why = reconcile_if_reachable(db, file, plan, rerun)
    if rec is None:
        raise BackendError(why)
    return rec, path


def report_inputs(db: str | None, plan: dict, file: str | None):
    """(database path, the jobs and submissions ``dhflow report`` draws)."""
    from dhflow.balsam.report_reads import read_report_inputs

    path = open_existing(db, plan, file)
    return path, read_report_inputs(plan["workflow"])
