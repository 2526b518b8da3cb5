"""A plan's jobs: the workflow's jobs by content key, their states, the objective records.

Shared by the reading verbs (:mod:`dhflow.runtime.reading`), a run's end and a search's
results; the database is opened by the caller (or by :func:`plan_records`).
"""
from __future__ import annotations

from dhflow.runtime import database


def jobs_by_key(plan: dict):
    """(the workflow's jobs by content key, how many jobs are not in the plan); the database
    already open."""
    from dhflow.balsam import jobstore

    found = jobstore.fetch_jobs(plan["workflow"])
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


def plan_records(db: str | None, plan: dict, file: str | None) -> list[dict]:
    """The objective records of a plan's tasks (a search's trials' plan included), best first."""
    from dhflow.results import objectives

    database.open_database(db, plan, file, create=False, quiet=True)
    return objectives.collect(plan, jobs_by_key(plan)[0])
