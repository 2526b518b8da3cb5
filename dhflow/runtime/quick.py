"""Reading commands that do not compile: the plan's head, and the status of an unchanged file.

``history``, ``clean`` and ``db`` need only the workflow's name and where its database is:
the file is parsed and checked (milliseconds), never sampled or expanded.  ``status`` of a
file whose input digest is that of the workflow's latest submission, with jobs still
carrying exactly that submission's keys, is one aggregated query
(:func:`dhflow.balsam.aggregates.counts_if_unchanged`); anything else compiles as before.
"""
from __future__ import annotations

from dhflow.errors import phase
from dhflow.runtime import database
from dhflow.runtime.plans import LoadedPlan


def load_head(path: str) -> LoadedPlan | None:
    """The plan without its tasks (``tasks`` empty) of a .dhflow file that checks; None for a
    plan JSON file or a file with errors (the caller compiles it and reports them)."""
    if path.endswith(".json"):
        return None
    from dhflow.compiler.api import check_file
    from dhflow.compiler.expand.tasks import plan_head

    pre = check_file(path)
    if not pre.ok:
        return None
    return LoadedPlan(plan_head(pre.spec).to_dict(), list(pre.diagnostics), pre.source)


def quick_status(db: str | None, path: str):
    """(inspect.Status, LoadedPlan head) answered without compiling, or None (compile instead)."""
    if path.endswith(".json"):
        return None
    from dhflow.compiler.api import check_file, input_digest
    from dhflow.compiler.expand.tasks import plan_head
    from dhflow.runtime.inspect import Status, open_existing

    phase("status: start")
    pre = check_file(path)
    if not pre.ok:
        return None
    head = plan_head(pre.spec).to_dict()
    if not database.locate(db, head, path).exists:
        return None
    where = open_existing(db, head, path)
    from dhflow.balsam import aggregates

    counts = aggregates.counts_if_unchanged(head["workflow"], input_digest(pre.spec))
    if counts is None:
        return None
    phase("status: unchanged file, counted by the server (not compiled)")
    return Status(head["workflow"], where, counts, 0), LoadedPlan(head, list(pre.diagnostics), pre.source)
