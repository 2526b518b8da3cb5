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
    from dhflow.balsam import rows, store
    from dhflow.runtime.provenance import provenance

    rows.validate(plan)
    job_mode = launching.choose_job_mode(plan, req.job_mode)
    launching.check_local_resources(plan, job_mode)
    programs.require_programs(plan)   # every task would fail here: refused before any write
    path = database.open_database(req.db, plan, req.file, create=True)
    written = store.apply(plan, rerun=req.rerun, prune=req.prune, command="run", validated=True,
                          provenance=provenance(plan))
    return PreparedRun(plan, path, job_mode, written)


def execute(prepared: PreparedRun, *, timeout: float | None, progress=None) -> RunSummary:
    """Run the launcher until the plan's jobs are final (or ``timeout``); read the results."""
    from dhflow.balsam import launcher
    from dhflow.results import objectives, progress as prog
    from dhflow.runtime.inspect import jobs_by_key, states_by_name

    plan = prepared.plan
    outcome = launcher.run_local(plan, prepared.path, prepared.written.ids, prepared.job_mode,
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
