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
def fetch_jobs(workflow: str, keys=None, name: str | None = None) -> list[JobView]:
    """Every job of exactly this workflow (Balsam must be activated); plain rows, no ORM objects.
    ``keys``: only the jobs with one of these content keys (an indexed read); ``name``: only
    the jobs of that name."""
    from balsam.core.models import ApplicationDefinition, BalsamJob

    top = workdir_top()
    out = []
    qs = BalsamJob.objects.filter(workflow=workflow)
    if name is not None:
        qs = qs.filter(name=name)
    if keys is not None:
        qs = qs.extra(where=["data->>'dhflow_key' = ANY(%s)"], params=[list(keys)])
    exes = dict(ApplicationDefinition.objects.filter(
        name__in=qs.values("application")).values_list("name", "executable"))
    for job_id, name, wf, state, hist, data, user_workdir, app in qs.values_list(
            "job_id", "name", "workflow", "state", "state_history", "data", "user_workdir",
            "application").iterator(chunk_size=5000):
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
def any_pending(workflow: str, final_states) -> bool:
    """Whether a job of the workflow is not in one of ``final_states`` (the (workflow, state) index)."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT EXISTS (SELECT 1 FROM core_balsamjob WHERE workflow = %s AND NOT (state = ANY(%s)))",
                  [workflow, list(final_states)])
        return bool(c.fetchone()[0])


@database_errors()
def count_workflow(workflow: str) -> int:
    """The number of jobs of exactly this workflow."""
    from balsam.core.models import BalsamJob

    return BalsamJob.objects.filter(workflow=workflow).count()


@database_errors()
def delete_workflow(workflow: str, also=()) -> int:
    """Delete every job of exactly this workflow, in one transaction; returns the count.

    ``also``: functions of the workflow's name run in the same transaction (a search's
    trials go with their jobs: :func:`dhflow.balsam.searchstore.delete_trials`)."""
    from django.db import transaction
    from balsam.core.models import BalsamJob

    with transaction.atomic():
        deleted, _ = BalsamJob.objects.filter(workflow=workflow).delete()
        for delete in also:
            delete(workflow)
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
    """The workflow's jobs as ExistingJob (id, key, state only), as the server reads them;
    refuses foreign jobs."""
    from dhflow.reconcile.decision import ExistingJob

    # the `code:PATH` fingerprints a job recorded (NULL when none: older jobs, no code named)
    cur.execute("SELECT job_id::text, NULL, data->>'dhflow_key', state, NULL, NULL, NULL, NULL, "
                "(SELECT jsonb_object_agg(k, v) FROM jsonb_each_text(data->'dhflow_parts') AS e(k, v) "
                "WHERE k LIKE 'code:%%') FROM core_balsamjob WHERE workflow = %s", [wf])
    jobs = [ExistingJob._make((*row[:8], json_value(row[8]))) for row in cur.fetchall()]
    foreign = [j.job_id for j in jobs if not j.key]
    if foreign:
        cur.execute("SELECT name FROM core_balsamjob WHERE job_id = %s::uuid", [foreign[0]])
        refuse_foreign(wf, len(foreign), cur.fetchone()[0])
    return jobs


def refuse_foreign(wf: str, count: int, name: str) -> None:
    """Raise the BackendError of a workflow that holds ``count`` jobs dhflow did not write."""
    from dhflow.errors import BackendError

    raise BackendError(f"workflow {wf} already has {count} jobs not created by dhflow (e.g. {name!r}); "
                       f"choose another workflow name or remove them (`dhflow clean` removes every job of "
                       f"workflow {wf})")


def with_details(cur, orphans: list) -> list:
    """The orphans again, with their name, rule, point and fingerprints (only orphans are
    matched against new tasks, so only they need them)."""
    if not orphans:
        return []
    cur.execute("SELECT job_id::text, name, data->>'dhflow_rule', data->'dhflow_point', data->'dhflow_parts', "
                "data->'dhflow_values' FROM core_balsamjob WHERE job_id = ANY(%s::uuid[])",
                [[j.job_id for j in orphans]])
    got = {}
    for jid, name, rule, point, parts, values in cur.fetchall():
        parts = json_value(parts)
        got[jid] = (name, rule, json_value(point), parts if isinstance(parts, dict) else None, json_value(values))
    out = []
    for j in orphans:
        if j.job_id in got:
            name, rule, point, parts, values = got[j.job_id]
            j = j._replace(name=name, rule=rule, point=point, parts=parts, values=values)
        out.append(j)
    return out


def jobs_for_reconcile(cur, plan: dict) -> list:
    """The workflow's jobs as :func:`dhflow.reconcile.decision.reconcile` needs them: id,
    key and state of each, plus name, rule, point and fingerprints of the orphans (jobs whose
    key left the plan, and duplicates)."""
    from dhflow.reconcile.decision import first_by_key

    jobs = existing_jobs(cur, plan["workflow"])
    plan_keys = {t["key"] for t in plan["tasks"]}
    first = first_by_key(jobs)
    orphans = [pos for pos, j in enumerate(jobs) if j.key not in plan_keys or first[j.key] is not j]
    for pos, j in zip(orphans, with_details(cur, [jobs[p] for p in orphans])):
        jobs[pos] = j
    return jobs


def record_parts(cur, plan: dict, job_of: dict[str, str], parts_of) -> None:
    """Store the fingerprints of the tasks `job_of` names (task -> job id) on their jobs: a
    job run again records the code it now runs, so the next submission sees it unchanged."""
    from psycopg2.extras import execute_values

    # only tasks that name code: the other parts of a job kept by its key cannot have changed
    rows = [(jid, parts_of.json(t)) for t in plan["tasks"] if (jid := job_of.get(t["name"])) and parts_of.code(t)]
    if rows:
        execute_values(cur, "UPDATE core_balsamjob AS j SET data = jsonb_set(j.data, '{dhflow_parts}', "
                            "v.parts::jsonb) FROM (VALUES %s) AS v(id, parts) WHERE j.job_id = v.id::uuid",
                       rows, page_size=1000)


def held_by_launcher(cur, job_ids: list[str]) -> dict[str, str]:
    """job id -> lock of those jobs that a Balsam launcher holds right now."""
    if not job_ids:
        return {}
    cur.execute("SELECT job_id::text, lock FROM core_balsamjob WHERE job_id = ANY(%s::uuid[]) AND lock <> ''",
                [job_ids])
    return dict(cur.fetchall())


# ------------------------------------------------------------------ at scale: aggregated reads
#: dhflow's own index on Balsam's job table (Balsam indexes ``state`` and ``lock`` but not
#: ``workflow``): every read of one workflow, and the progress poll's per-state totals (an
#: index-only scan), use it.  Created IF NOT EXISTS by :func:`ensure_indexes`, which a
#: submission calls under dhflow's DDL lock: never on a reading command's or a poll's path.
JOB_INDEXES = (("dhflow_job_workflow_state_idx", "(workflow, state)"),
               # a search's reads of a few jobs by content key (dhflow.balsam.incremental, fetch_jobs)
               ("dhflow_job_workflow_key_idx", "(workflow, (data->>'dhflow_key'))"))


def missing_indexes(cur) -> list[tuple[str, str]]:
    """dhflow's indexes that core_balsamjob does not have yet."""
    cur.execute("SELECT " + ", ".join(["to_regclass(%s)"] * len(JOB_INDEXES)), [n for n, _ in JOB_INDEXES])
    return [ix for ix, found in zip(JOB_INDEXES, cur.fetchone()) if found is None]


def ensure_indexes(cur) -> None:
    """Create dhflow's indexes on core_balsamjob when missing (caller's transaction, under
    dhflow's DDL lock: a one-time cost, a few seconds on a table of a million jobs)."""
    for name, columns in missing_indexes(cur):
        cur.execute(f"CREATE INDEX IF NOT EXISTS {name} ON core_balsamjob {columns}")


@database_errors()
def state_totals(workflow: str) -> dict[str, int]:
    """state -> number of jobs of exactly this workflow: one aggregated query, answered from
    the (workflow, state) index; the progress poll's per-tick query."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT state, count(*) FROM core_balsamjob WHERE workflow = %s GROUP BY state", [workflow])
        return dict(cur.fetchall())


@database_errors()
def rule_state_counts(workflow: str) -> dict[tuple[str, str], int]:
    """(rule, state) -> number of jobs of exactly this workflow, aggregated in the server (a
    job's rule is its data's ``dhflow_rule``, else its task name, as in the plan)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(data->>'dhflow_rule', data->>'dhflow_task', name), state, count(*) "
                    "FROM core_balsamjob WHERE workflow = %s GROUP BY 1, 2", [workflow])
        return {(rule, state): n for rule, state, n in cur.fetchall()}


@dataclass
class LeanJob:
    """A job whose objective cannot be read yet (not finished, not failed): its state and
    run time are all a result record needs (a few bytes, for a million of them)."""

    state: str
    runtime: float | None


@database_errors()
def jobs_for_results(workflow: str) -> dict:
    """content key -> job of exactly this workflow, streamed from a server-side cursor: a
    JobView (with its data) for finished and failed jobs, whose objective or failure reason
    is read; a LeanJob for the others.  The first job of a key wins (as fetch_jobs's callers)."""
    import sys

    from django.db import connection, transaction

    from dhflow.results.objectives import runtime_seconds
    from dhflow.target import FAILED_FINAL_STATES

    top = workdir_top()
    out: dict = {}
    full = ("JOB_FINISHED", *FAILED_FINAL_STATES)
    with transaction.atomic():
        cur = connection.chunked_cursor()  # a named (server-side) cursor on PostgreSQL
        cur.execute("SELECT data->>'dhflow_key', state, state_history, "
                    "CASE WHEN state = ANY(%s) THEN job_id::text END, name, user_workdir, application, "
                    "CASE WHEN state = ANY(%s) THEN data::text END FROM core_balsamjob WHERE workflow = %s",
                    [list(full), list(full), workflow])
        while True:
            rows = cur.fetchmany(20000)
            if not rows:
                break
            for key, state, hist, job_id, name, user_workdir, app, data in rows:
                if not key or key in out:
                    continue
                if job_id is None:
                    out[key] = LeanJob(sys.intern(state), runtime_seconds(hist) if "RUNNING" in hist else None)
                    continue
                data = json_value(data) if data is not None else {}
                workdir = (user_workdir if user_workdir and os.path.isdir(user_workdir)
                           else job_dir(top, workflow, name, job_id))
                out[key] = JobView(job_id, name, workflow, state, hist, data if isinstance(data, dict) else {},
                                   workdir, app)
        cur.close()
    return out


@database_errors()
def key_states(workflow: str) -> tuple[dict[str, str], dict[str, int], int]:
    """(content key -> state of its first job, key -> extra jobs of a duplicated key, number of
    jobs) of exactly this workflow: two narrow columns through a server-side cursor."""
    import sys

    from django.db import connection, transaction

    states: dict[str, str] = {}
    first: dict[str, str] = {}  # key -> job id of the job whose state counts (the lowest id)
    extra: dict[str, int] = {}
    total = 0
    with transaction.atomic():
        cur = connection.chunked_cursor()
        cur.execute("SELECT data->>'dhflow_key', state, job_id::text FROM core_balsamjob WHERE workflow = %s",
                    [workflow])
        while True:
            rows = cur.fetchmany(50000)
            if not rows:
                break
            total += len(rows)
            for key, state, job_id in rows:
                if key is None:
                    continue
                if key in states:
                    extra[key] = extra.get(key, 0) + 1
                    if job_id >= first[key]:
                        continue
                states[key] = sys.intern(state)
                first[key] = job_id
        cur.close()
    return states, extra, total
