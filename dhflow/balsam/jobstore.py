"""The backend's surface for a workflow's records: jobs, submissions, search trials.

One of the three modules :mod:`dhflow.runtime` imports from the backend (with
:mod:`dhflow.balsam.servers` and :mod:`dhflow.balsam.launchers`).  Writes are one
transaction each (:mod:`dhflow.balsam.store`); reads are primitives over SQL (jobs by key,
fingerprints, counts).  Where a read has a fast path, the choice is made here, not by the
caller: :func:`rule_states` answers an unchanged experiment from the counts its last
submission recorded, and matches an edited one's tasks by key in the server.  Decisions
(new, unchanged, rerun, orphaned, and why) are :mod:`dhflow.reconcile`'s.
"""
from __future__ import annotations

from typing import Callable, Iterable

from dhflow.balsam.driverjobs import driver_states, supersede
from dhflow.balsam.emit import objective_spec, put as put_job_data
from dhflow.balsam.jobs import (any_pending, count_workflow, delete_workflow, fetch_jobs, jobs_for_results, key_states,
                                workflows_containing)
from dhflow.balsam.optuna_storage import has_studies, has_study, storage_url
from dhflow.balsam.plan_diff import reconcile_stream, unchanged_counts
from dhflow.balsam.report_reads import read_report_inputs
from dhflow.balsam.rows import app_rows, dry_run_rows, validate
from dhflow.balsam.searchstore import (TrialRow, append_batch, delete_trials, driver_busy, driver_lock, load_trials,
                                       searches_of, write_batch)
from dhflow.balsam.store import WriteResult, apply, apply_stream, reconcile_with_db, submit_unchanged
from dhflow.balsam.submissions import submissions

__all__ = [
    "TrialRow", "WriteResult", "any_pending", "app_rows", "append_batch", "apply", "apply_stream", "count_workflow",
    "delete_trials", "delete_workflow", "driver_busy", "driver_lock", "driver_states", "dry_run_rows",
    "fetch_jobs", "has_studies", "has_study", "jobs_for_results", "key_states", "load_trials", "objective_spec",
    "put_job_data", "read_report_inputs", "reconcile_stream", "reconcile_with_db", "rule_states", "searches_of",
    "storage_url", "submissions", "submit_unchanged", "supersede", "unchanged_counts", "validate",
    "workflows_containing", "write_batch",
]


def rule_states(workflow: str, digest: str | None, tasks: Callable[[], Iterable[dict]]) -> tuple[dict, int, bool]:
    """(per-rule state counts, jobs not in the plan, whether ``tasks`` was called) of a sweep.

    When ``digest`` is the input digest of the workflow's latest submission and its jobs
    still carry exactly that submission's keys, the server counts the states without the
    plan (``tasks`` is not called: no compile).  Otherwise ``tasks()`` streams the plan's
    task dicts, copied into the server and matched there by content key."""
    from dhflow.balsam import aggregates, status_match

    if digest is not None:
        counts = aggregates.counts_if_unchanged(workflow, digest)
        if counts is not None:
            return counts, 0, False
    counts, stale = status_match.rule_states(workflow, tasks())
    return counts, stale, True
