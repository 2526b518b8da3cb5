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

from dhflow.balsam.lazy_names import loader

from typing import Callable, Iterable

#: name -> (module of dhflow.balsam, its name there): imported when first used, so that a
#: command enters only the backend modules it needs (a sweep's submit no search module).
_NAMES = {
    "driver_states": ("driverjobs", "driver_states"), "supersede": ("driverjobs", "supersede"),
    "objective_spec": ("emit", "objective_spec"), "put_job_data": ("emit", "put"),
    "any_pending": ("jobs", "any_pending"), "count_workflow": ("jobs", "count_workflow"),
    "delete_workflow": ("jobs", "delete_workflow"), "fetch_jobs": ("jobs", "fetch_jobs"),
    "jobs_for_results": ("jobs", "jobs_for_results"), "key_states": ("jobs", "key_states"),
    "workflows_containing": ("jobs", "workflows_containing"),
    "has_studies": ("optuna_storage", "has_studies"), "has_study": ("optuna_storage", "has_study"),
    "storage_url": ("optuna_storage", "storage_url"),
    "reconcile_stream": ("plan_diff", "reconcile_stream"), "unchanged_counts": ("plan_diff", "unchanged_counts"),
    "read_report_inputs": ("report_reads", "read_report_inputs"),
    "app_rows": ("rows", "app_rows"), "dry_run_rows": ("rows", "dry_run_rows"), "validate": ("rows", "validate"),
    "TrialRow": ("searchstore", "TrialRow"), "append_batch": ("searchstore", "append_batch"),
    "delete_trials": ("searchstore", "delete_trials"), "driver_busy": ("searchstore", "driver_busy"),
    "driver_lock": ("searchstore", "driver_lock"), "load_trials": ("searchstore", "load_trials"),
    "searches_of": ("searchstore", "searches_of"), "write_batch": ("searchstore", "write_batch"),
    "WriteResult": ("store", "WriteResult"), "apply": ("store", "apply"), "apply_stream": ("store", "apply_stream"),
    "reconcile_with_db": ("store", "reconcile_with_db"), "submit_unchanged": ("store", "submit_unchanged"),
    "submissions": ("submissions", "submissions"),
}


__getattr__ = loader(globals(), _NAMES)

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
