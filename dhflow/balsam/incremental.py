"""Adding a few tasks to a workflow without reconciling its whole plan (a search's proposals).

:func:`dhflow.balsam.store.apply` reads every job of the workflow and reconciles the whole
plan: right for `submit`, but a search driver writing one proposal at a time would pay a
cost that grows with the trials already run.  :func:`append` writes only the tasks it is
given (a new trial's tasks and the single tasks they hang from), with what a full write of
the plan would give them: the same content keys, rows (:func:`dhflow.balsam.rows.copy_lines`),
fingerprints, provenance and one ``dhflow_submission`` row, in one transaction under the
workflow's advisory lock.  Tasks whose key the workflow already holds keep their job (a
repeated point, a parent written earlier); only their ids are read, through dhflow's index
on ``(workflow, data->>'dhflow_key')``.

Not done here, because the caller's full write at the driver's start does it: syncing the
apps, refusing jobs dhflow did not create, and running again a kept job whose ``code:``
changed.
"""
from __future__ import annotations

from dhflow.balsam import submissions as subs
from dhflow.balsam.copy import uuid4s
from dhflow.balsam.rows import validate


def job_ids_by_key(cur, workflow: str, keys) -> dict[str, str]:
    """content key -> job id of the workflow's jobs holding one of `keys` (the first of duplicates)."""
    cur.execute("SELECT data->>'dhflow_key', job_id::text FROM core_balsamjob WHERE workflow = %s "
                "AND data->>'dhflow_key' = ANY(%s) ORDER BY job_id", [workflow, list(keys)])
    out: dict[str, str] = {}
    for key, job_id in cur.fetchall():
        out.setdefault(key, job_id)
    return out


def append(plan: dict, *, provenance: dict, command: str = "search", inside=None):
    """Write the plan's tasks that the workflow does not hold yet (by content key), keep the
    others; one transaction under the workflow's lock.  ``inside(cur)`` runs in the same
    transaction after the jobs are written (the search's trial rows).  Returns a WriteResult
    (created, kept, ids, submission_id)."""
    from dhflow.balsam.store import WriteResult, _workflow_transaction, _write_new
    from dhflow.reconcile.decision import PartsMaker

    validate(plan)
    wf = plan["workflow"]
    result = WriteResult(wf)
    with _workflow_transaction(wf, prepare=False) as cur:  # the driver's first full write prepared them
        tasks = plan["tasks"]
        have = job_ids_by_key(cur, wf, {t["key"] for t in tasks})
        new, claimed = [], set()
        for t in tasks:
            job_id = have.get(t["key"])
            if job_id is not None:
                result.ids[t["name"]] = job_id
                result.kept.append(t["name"])
            elif t["key"] not in claimed:  # one job per key, as a full reconcile writes
                claimed.add(t["key"])
                new.append(t)
        result.ids.update(zip((t["name"] for t in new), uuid4s(len(new))))
        result.created = [t["name"] for t in new]
        # one submission per write, as every write records (kept: the given tasks already there)
        result.submission_id = subs.insert_submission(cur, wf, provenance, command, "", added=len(new),
                                                      kept=len(result.kept))
        if new:
            result.rows_written = _write_new(cur, plan, new, result.ids, provenance, result.submission_id,
                                             PartsMaker(plan), threaded=False)
        if inside is not None:
            inside(cur)
    return result
