"""Reading commands that do not compile: the plan's head, and the status of an unchanged file.

``history``, ``clean`` and ``db`` need only the workflow's name and where its database is:
the file is parsed and checked (milliseconds), never sampled or expanded.  ``status`` of a
file whose input digest is that of the workflow's latest submission, with jobs still
carrying exactly that submission's keys, is one aggregated query
(:func:`dhflow.balsam.aggregates.counts_if_unchanged`); of an edited file, the tasks are
streamed from the compiler into the server and counted there
(:mod:`dhflow.balsam.status_match`), neither the plan nor the jobs held.
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
        return _streamed_status(path, head, where)
    phase("status: unchanged file, counted by the server (not compiled)")
    return Status(head["workflow"], where, counts, 0), LoadedPlan(head, list(pre.diagnostics), pre.source)


def _streamed_status(path: str, head: dict, where: str):
    """The status of an edited file: compiled in streaming mode, its tasks matched by key
    with the jobs in the server (:func:`dhflow.balsam.status_match.rule_states`); None when
    the compile fails (the caller compiles again and reports the diagnostics)."""
    from dhflow.compiler.api import compile_file_streaming
    from dhflow.compiler.diagnostics import DiagnosticError
    from dhflow.runtime.inspect import Status

    stream = compile_file_streaming(path)
    if not stream.ok:
        return None
    from dhflow.balsam import status_match

    try:
        counts, stale = status_match.rule_states(head["workflow"], stream.tasks)
    except DiagnosticError:
        return None
    phase("status: compiled and matched by key (streamed)")
    return Status(head["workflow"], where, counts, stale), LoadedPlan(head, list(stream.diagnostics), stream.source)
