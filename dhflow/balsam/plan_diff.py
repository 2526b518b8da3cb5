"""The reads of ``dhflow plan FILE --against-db`` that never hold the whole plan.

* :func:`unchanged_counts`: the file's input digest is that of the workflow's latest
  submission and the workflow still holds exactly that submission's jobs (the job-change
  log and a count, :mod:`dhflow.balsam.jobset`, else the keys' sum): the per-rule task
  counts that submission recorded, no compile needed.
* :func:`reconcile_stream`: the plan's tasks, pulled one at a time from the streaming
  compiler, copied into a temporary table and matched by content key with the workflow's
  jobs in the server (:mod:`dhflow.balsam.plan_match`): the same counts, reasons and listed
  decisions as the whole-plan reconciliation, with O(what is printed) held here.
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


def reconcile_stream(head: dict, tasks, show, *, database: bool = True, listing: bool = True):
    """``show(reconciliation)`` of ``tasks`` (task dicts, parents first) against the
    workflow's jobs, matched in the server (:func:`dhflow.balsam.plan_match.match_in_server`);
    ``database=False``: no database yet, every task is new (their decisions are kept: the
    JSON lists them after the counts).  Raises PlanRejected for a malformed task,
    CodeChanged when a kept job's code changed (the whole-plan reconciliation says which
    tasks run again).  ``listing``: whether ``show`` lists the decisions (see
    :func:`~dhflow.balsam.plan_match.match_in_server`)."""
    from dhflow.balsam.rows import TaskChecker, validate_head
    from dhflow.reconcile.decision import PartsMaker, StreamTally

    validate_head(head)
    if database:
        from dhflow.balsam.plan_match import match_in_server

        return match_in_server(head, tasks, show, listing=listing)
    tally = StreamTally(head["workflow"], [], keep_new=True)
    parts_of = PartsMaker(head, keys_by_name={})  # (no jobs: no fingerprint is compared)
    check = TaskChecker(head)
    for t in tasks:
        check(t)
        tally.task(t, parts_of)
    tally.finish([])
    return show(tally)
