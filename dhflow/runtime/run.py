"""The run use case: write the jobs, run Balsam's launcher here until the workflow is final.

Two steps, so that the caller can report the write before the launcher starts:
:func:`prepare` (compile checks, database, one write transaction) and :func:`execute` (the
launcher on this machine, polled until every job of the plan is final, then the states and
objectives read back).
"""
from __future__ import annotations

import contextlib
import gc
from dataclasses import dataclass, field

from dhflow.runtime import database, launching, programs
from dhflow.target import FAILED_FINAL_STATES


@contextlib.contextmanager
def bulk_phase():
    """No cyclic garbage collection while compiling and writing a plan.

    Compiling a 100k-task plan and reconciling it allocate millions of long-lived, acyclic
    objects; every collection of the oldest generation walks all of them again (about a
    quarter of the compile time, and of the write).  The phase creates no cyclic garbage
    worth collecting; collection resumes afterwards (long `dhflow run` polls collect as usual).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class RunRequest:
    """What ``dhflow run`` was asked to do."""

    file: str
    db: str | None = None
    job_mode: str | None = None
    timeout: float | None = None
    rerun: str | None = None
    prune: bool = False


@dataclass
class PreparedRun:
    """The jobs written, the database and the launcher's job mode."""

    plan: dict
    path: str
    job_mode: str
    written: object  # dhflow.balsam.store.WriteResult


@dataclass
class RunSummary:
    """How the run ended: per-rule counts, objective records, failed tasks with reasons."""

    outcome: object                       # dhflow.balsam.launcher.RunOutcome
    counts: dict
    records: list
    failed: list = field(default_factory=list)   # (name, state, reason)

    @property
    def unread(self) -> list:
        """(name, reason) of the finished tasks whose objective could not be read."""
        return [(r["name"], r["error"]) for r in self.records
                if r["objective"] is None and r["state"] == "JOB_FINISHED"]


def prepare(req: RunRequest, plan: dict) -> PreparedRun:
    """Check that the plan can run here, start (or create) the database and write the jobs."""
    from dhflow.balsam import jobstore
    from dhflow.runtime.provenance import provenance

    jobstore.validate(plan)
    job_mode = launching.choose_job_mode(plan, req.job_mode)
    launching.check_local_resources(plan, job_mode)
    programs.require_programs(plan)   # every task would fail here: refused before any write
    path = database.open_database(req.db, plan, req.file, create=True)
    written = jobstore.apply(plan, rerun=req.rerun, prune=req.prune, command="run", validated=True,
                          provenance=provenance(plan))
    return PreparedRun(plan, path, job_mode, written)


def execute(prepared: PreparedRun, *, timeout: float | None, progress=None) -> RunSummary:
    """Run the launcher until the plan's jobs are final (or ``timeout``); read the results."""
    from dhflow.balsam import launchers
    from dhflow.results import objectives, progress as prog
    from dhflow.runtime.plan_jobs import jobs_by_key, states_by_name

    plan = prepared.plan
    outcome = launchers.run_local(plan, prepared.path, prepared.written.ids, prepared.job_mode,
                                 timeout=timeout, progress=progress)
    by_key, _ = jobs_by_key(plan)
    counts = prog.rule_counts(plan, states_by_name(plan, by_key))
    records = objectives.collect(plan, by_key)
    failed = []
    for t in plan["tasks"]:
        job = by_key.get(t["key"])
        if job is not None and job.state in FAILED_FINAL_STATES:
            failed.append((t["name"], job.state, objectives.failure_reason(job)))
    return RunSummary(outcome, counts, records, failed)


def run(exp, req: RunRequest, *, progress=None, on_written=None, on_search_change=None, announce=None,
        launch: bool = True):
    """``dhflow run`` of an experiment: a sweep's jobs written and run to the end
    (:class:`RunSummary`), or a search driven to its end (its ``SearchRun``, with the
    results table's records); ``on_written(written)`` is told of a sweep's write before its
    launcher starts.  ``launch=False``: the search driver run as a job inside an allocation."""
    if exp.is_search:
        return _run_search(exp, req, on_search_change, announce, launch)
    from dhflow.errors import UsageError

    if not launch:
        raise UsageError(f"{exp.file} has no `search:`: there is no search to drive")
    with bulk_phase():
        prepared = prepare(req, exp.plan())
    gc.freeze()  # the plan lives until the end: keep it out of every later collection
    if on_written is not None:
        on_written(prepared)
    return execute(prepared, timeout=req.timeout, progress=progress)


def _run_search(exp, req: RunRequest, on_change, announce, launch: bool):
    from dhflow.errors import UsageError
    from dhflow.runtime.search import run_search, search_results

    if req.rerun or req.prune:
        raise UsageError("--rerun and --prune do not apply to a search: running it again continues it "
                         "(`dhflow clean` and a new run start it afresh)")
    ctx = exp.search()
    outcome = run_search(ctx, db=req.db, job_mode=req.job_mode, timeout=req.timeout, on_change=on_change,
                         announce=announce, launch=launch)
    outcome.records = search_results(ctx, req.db) if launch else []
    return outcome
