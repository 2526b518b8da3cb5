"""The optimizer's study of a search, kept in the workflow's PostgreSQL (schema
``dhflow_optuna``): where a driver finds it, how `dhflow clean` removes it, and the URL
`dhflow search-storage` prints for ``optuna-dashboard``.

The study is derived: dhflow's trial rows and jobs are the truth, and every start of the
driver reconciles the study with them (:mod:`dhflow.search.optuna_study`).
"""
from __future__ import annotations

from dhflow.runtime import database
from dhflow.runtime.search_plan import SearchContext, plan_of
from dhflow.search.optuna_study import delete_studies, study_name
from dhflow.search.proposer import StudyStore


def study_store(ctx: SearchContext) -> StudyStore | None:
    """Where this search's proposer keeps its study (the database must be open); None for a
    method whose library keeps no storage (DeepHyper's `cbo`: rebuilt from the trials)."""
    from dhflow.balsam import jobstore

    if ctx.setup.method == "cbo":
        return None
    return StudyStore(jobstore.storage_url(), study_name(ctx.workflow, ctx.fingerprint))


def delete_workflow_studies(workflow: str) -> str | None:
    """Remove every study of the workflow (`dhflow clean`, after its jobs and trials are
    deleted: Optuna's storage has connections of its own, outside their transaction);
    nothing when none was ever stored.  Returns why a study could not be removed, or None.
    A study left behind is harmless (derived: a later search with no trials rebuilds it)."""
    from dhflow.balsam import jobstore

    try:
        if not jobstore.has_studies():
            return None
        delete_studies(jobstore.storage_url(create=False), workflow)
    except Exception as exc:  # noqa: BLE001 - reported as a note; the jobs are already deleted
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    return None


def storage_of(ctx: SearchContext, db: str | None, *, hide_password: bool = False) -> tuple[str, str, str, bool]:
    """(database path, storage URL, study name, whether the database holds that study yet) of
    a search, for `optuna-dashboard`; a read: nothing is created."""
    from dhflow.balsam import jobstore

    path = database.open_database(db, plan_of(ctx, []), ctx.file, create=False, quiet=True)
    url = jobstore.storage_url(create=False, hide_password=hide_password)
    name = study_name(ctx.workflow, ctx.fingerprint)
    return path, url, name, jobstore.has_study(name)
