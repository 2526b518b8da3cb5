"""The reads of ``dhflow plan FILE --against-db`` that never hold the whole plan.

* :func:`unchanged_counts`: the file's input digest is that of the workflow's latest
  submission and the workflow still holds exactly that submission's jobs (the job-change
  log and a count, :mod:`dhflow.balsam.jobset`, else the keys' sum): the per-rule task
  counts that submission recorded, no compile needed.
* :func:`reconcile_stream`: the plan's tasks, pulled one at a time from the streaming
  compiler, matched by content key against the workflow's jobs (read once: id, key,
  state), as the streaming submit does (:class:`dhflow.reconcile.decision.StreamTally`):
  the same counts, reasons and listed decisions as the whole-plan reconciliation.
"""
from __future__ import annotations

import json

from dhflow.balsam.dberrors import database_errors


@database_errors()
def unchanged_counts(workflow: str, input_digest: str) -> dict[str, int] | None:
    """rule -> tasks of the latest submission when it was of this very input and the
    workflow's jobs are still exactly its jobs; None otherwise (the caller compiles)."""
    from django.db import connection, transaction

    from dhflow.balsam import aggregates, jobset, submissions as subs

    with transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor
        cols = subs.table_columns(cur)
        if cols is None:
            return None
        changes = jobset.changes(cur)  # before the jobs are counted: see dhflow.balsam.jobset
        row = aggregates.latest_sums(cur, workflow)
        if row is None or row[0] != input_digest or not row[1] or not row[2]:
            return None
        ksum, rule_tasks = row[1], json.loads(row[2])
        n = int(ksum.split(":")[0])
        if sum(rule_tasks.values()) != n:
            return None
        if not jobset.same_jobs(cur, workflow, subs.latest_job_changes(cur, workflow, cols), changes, n) \
                and aggregates.workflow_keys_sum(cur, workflow) != ksum:
            return None
        return rule_tasks


def reconcile_stream(head: dict, tasks, *, database: bool = True):
    """The StreamTally (new tasks' decisions kept) of ``tasks`` (task dicts, parents first)
    against the workflow's jobs; ``database=False``: no database yet, every task is new.
    Raises PlanRejected for a malformed task, CodeChanged when a kept job's code changed
    (the whole-plan reconciliation says which tasks run again)."""
    from dhflow.balsam.rows import TaskChecker, validate_head
    from dhflow.reconcile.decision import PartsMaker, StreamTally

    validate_head(head)

    def tally_all(existing, cur=None):
        from dhflow.balsam import jobs

        tally = StreamTally(head["workflow"], existing, keep_new=True)
        keys_by_name: dict[str, str] = {}
        parts_of = PartsMaker(head, keys_by_name=keys_by_name)
        check = TaskChecker(head)
        for t in tasks:
            check(t)
            job = tally.task(t, parts_of)
            # the keys by name feed the upstream fingerprints of later new tasks: only needed
            # when there are jobs to match them with (a kept task's key: its job's string)
            if existing:
                keys_by_name[t["name"]] = t["key"] if job is None else job.key
        tally.finish(jobs.with_details(cur, tally.orphans()) if cur is not None else [])
        return tally

    if not database:
        return tally_all([])
    return _with_jobs(head["workflow"], tally_all)


@database_errors()
def _with_jobs(workflow: str, use):
    """``use(existing jobs, cursor)`` in one read-only transaction."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor
        return use(_existing_jobs(connection.connection, cur, workflow), cur)


def _existing_jobs(conn, cur, workflow: str) -> list:
    """:func:`dhflow.balsam.jobs.existing_jobs` (id, key, state and code fingerprints of each
    job; foreign jobs refused) read through a server-side cursor, a batch at a time, each
    state string shared: a million jobs are never held twice (as rows, then as records)."""
    from dhflow.balsam.jobs import existing_jobs, json_value
    from dhflow.reconcile.decision import ExistingJob

    states: dict[str, str] = {}
    out = []
    with conn.cursor(name="dhflow_plan_diff_jobs") as named:
        named.itersize = 20000
        named.execute("SELECT job_id::text, data->>'dhflow_key', state, (SELECT jsonb_object_agg(k, v) FROM "
                      "jsonb_each_text(data->'dhflow_parts') AS e(k, v) WHERE k LIKE 'code:%%') "
                      "FROM core_balsamjob WHERE workflow = %s", [workflow])
        make = ExistingJob
        for job_id, key, state, code in named:
            if not key:  # a job dhflow did not write: refused with the usual message
                return existing_jobs(cur, workflow)
            out.append(make(job_id, None, key, states.setdefault(state, state), None, None, None, None,
                            json_value(code) if code is not None else None))
    return out
