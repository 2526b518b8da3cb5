"""Reading (and deleting) a workflow's Balsam jobs: plain values out, no ORM objects.

Balsam must be activated first (:mod:`dhflow.balsam.env`).  Every query selects a
workflow's jobs with ``workflow = NAME``, never Balsam's substring filters.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from dhflow.balsam.dberrors import database_errors


@dataclass
class JobView:
    """What the rest of dhflow needs to know about one BalsamJob."""

    job_id: str
    name: str
    workflow: str
    state: str
    state_history: str
    data: dict
    workdir: str
    application: str = ""
    executable: str = ""  # the app's executable (to say which one could not be started)

    @property
    def key(self) -> str | None:
        """The task's content key (None for a job dhflow did not create)."""
        return (self.data or {}).get("dhflow_key")


def _int_or_text(digits: str):
    """``parse_int``: an app may store an integer of any size in its data; Python refuses to
    convert more than a few thousand digits, so those stay text (the reader says why)."""
    try:
        return int(digits)
    except ValueError:
        return digits


def json_value(value):
    """jsonb from psycopg2: Django 3.1+ makes the driver return it as text."""
    if isinstance(value, (str, bytes, bytearray)):
        return json.loads(value, parse_int=_int_or_text)
    return value


def workdir_top() -> str:
    """Balsam's top working directory (settings.BALSAM_WORK_DIRECTORY)."""
    from django.conf import settings

    return settings.BALSAM_WORK_DIRECTORY


def job_dir(top: str, workflow: str, name: str, job_id: str) -> str:
    """Balsam's working directory of a job (BalsamJob.working_directory, no user_workdir)."""
    path = os.path.join(top, workflow) if workflow else top
    return os.path.join(path, name.strip().replace(" ", "_") + "_" + str(job_id)[:8])


@database_errors()
def fetch_jobs(workflow: str) -> list[JobView]:
    """Every job of exactly this workflow (Balsam must be activated); plain rows, no ORM objects."""
    from balsam.core.models import ApplicationDefinition, BalsamJob

    top = workdir_top()
    out = []
    exes = dict(ApplicationDefinition.objects.filter(
        name__in=BalsamJob.objects.filter(workflow=workflow).values("application")).values_list("name", "executable"))
    for job_id, name, wf, state, hist, data, user_workdir, app in BalsamJob.objects.filter(
            workflow=workflow).values_list("job_id", "name", "workflow", "state", "state_history", "data",
                                           "user_workdir", "application").iterator(chunk_size=5000):
        data = json_value(data) if data is not None else {}
        if user_workdir and os.path.isdir(user_workdir):
            workdir = user_workdir
        else:
            workdir = job_dir(top, wf, name, str(job_id))
        out.append(JobView(str(job_id), name, wf, state, hist, data if isinstance(data, dict) else {},
                           workdir, app, exes.get(app, "")))
    return out


@database_errors()
def state_counts(workflow: str, job_ids: list[str] | None = None) -> dict[str, str]:
    """job id -> state for a workflow (one cheap query, used while polling)."""
    from balsam.core.models import BalsamJob

    qs = BalsamJob.objects.filter(workflow=workflow)
    if job_ids is not None:
        qs = qs.filter(job_id__in=job_ids)
    return {str(pk): state for pk, state in qs.values_list("job_id", "state")}


@database_errors()
def count_workflow(workflow: str) -> int:
    """The number of jobs of exactly this workflow."""
    from balsam.core.models import BalsamJob

    return BalsamJob.objects.filter(workflow=workflow).count()


@database_errors()
def delete_workflow(workflow: str) -> int:
    """Delete every job of exactly this workflow, in one transaction; returns the count."""
    from django.db import transaction
    from balsam.core.models import BalsamJob

    with transaction.atomic():
        deleted, _ = BalsamJob.objects.filter(workflow=workflow).delete()
    return deleted


@database_errors()
def workflows_containing(workflow: str) -> list[str]:
    """Other workflow names that contain this one (Balsam's substring filters would mix them)."""
    from balsam.core.models import BalsamJob

    names = (BalsamJob.objects.filter(workflow__contains=workflow).exclude(workflow=workflow)
             .values_list("workflow", flat=True).distinct())
    return sorted(set(names))


# ------------------------------------------------------------------ inside a submission
# What a write transaction (dhflow.balsam.store) reads under its workflow's lock, on its raw
# psycopg2 cursor ``cur``: one narrow query, no ORM objects.
def existing_jobs(cur, wf: str) -> list:
    """The workflow's jobs as ExistingJob (id, key, state only); refuses foreign jobs."""
    from dhflow.errors import BackendError
    from dhflow.reconcile.decision import ExistingJob

    cur.execute("SELECT job_id::text, NULL, data->>'dhflow_key', state, NULL, NULL, NULL "
                "FROM core_balsamjob WHERE workflow = %s", [wf])
    jobs = list(map(ExistingJob._make, cur.fetchall()))
    foreign = [j.job_id for j in jobs if not j.key]
    if foreign:
        cur.execute("SELECT name FROM core_balsamjob WHERE job_id = %s::uuid", [foreign[0]])
        raise BackendError(
            f"workflow {wf} already has {len(foreign)} jobs not created by dhflow "
            f"(e.g. {cur.fetchone()[0]!r}); choose another workflow name or remove them "
            f"(`dhflow clean` removes every job of workflow {wf})")
    return jobs


def with_details(cur, orphans: list) -> list:
    """The orphans again, with their name, rule, point and fingerprints (only orphans are
    matched against new tasks, so only they need them)."""
    if not orphans:
        return []
    cur.execute("SELECT job_id::text, name, data->>'dhflow_rule', data->'dhflow_point', data->'dhflow_parts' "
                "FROM core_balsamjob WHERE job_id = ANY(%s::uuid[])", [[j.job_id for j in orphans]])
    got = {}
    for jid, name, rule, point, parts in cur.fetchall():
        parts = json_value(parts)
        got[jid] = (name, rule, json_value(point), parts if isinstance(parts, dict) else None)
    out = []
    for j in orphans:
        if j.job_id in got:
            name, rule, point, parts = got[j.job_id]
            j = j._replace(name=name, rule=rule, point=point, parts=parts)
        out.append(j)
    return out


def jobs_for_reconcile(cur, plan: dict) -> list:
    """The workflow's jobs as :func:`dhflow.reconcile.decision.reconcile` needs them: id,
    key and state of each, plus name, rule, point and fingerprints of the orphans (jobs whose
    key left the plan, and duplicates)."""
    jobs = existing_jobs(cur, plan["workflow"])
    plan_keys = {t["key"] for t in plan["tasks"]}
    seen: set[str] = set()
    orphans: list[int] = []
    for pos, j in enumerate(jobs):
        if j.key not in plan_keys or j.key in seen:
            orphans.append(pos)
        seen.add(j.key)
    for pos, j in zip(orphans, with_details(cur, [jobs[p] for p in orphans])):
        jobs[pos] = j
    return jobs


def held_by_launcher(cur, job_ids: list[str]) -> dict[str, str]:
    """job id -> lock of those jobs that a Balsam launcher holds right now."""
    if not job_ids:
        return {}
    cur.execute("SELECT job_id::text, lock FROM core_balsamjob WHERE job_id = ANY(%s::uuid[]) AND lock <> ''",
                [job_ids])
    return dict(cur.fetchall())
