"""``dhflow plan FILE --against-db`` of a .dhflow file without holding the plan.

* The file is parsed and checked (cheap).  When its input digest is that of the workflow's
  latest submission and the workflow still holds exactly that submission's jobs, the plan
  is the one submitted and every task has its job: the answer is the per-rule task counts
  the submission recorded, all unchanged, without compiling
  (:func:`dhflow.balsam.plan_diff.unchanged_counts`; the same proof as a compile-free
  resubmission).
* Otherwise the plan is compiled in streaming mode, its tasks copied into a temporary
  table and matched by content key with the workflow's jobs in the server
  (:mod:`dhflow.balsam.plan_match`): counts and reasons are aggregated as the rows go by,
  and the listed decisions are read again while ``show`` writes them.  The table and the
  JSON are those of the whole-plan reconciliation.

``--rerun`` (which tasks a rerun would reset: dependants need the whole graph), plan JSON
files, search files and a kept job whose ``code:`` changed go through the whole plan
(:func:`dhflow.runtime.inspect.against_db`): :func:`against_db_streaming` returns None.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dhflow.errors import CompileFailed, phase
from dhflow.runtime import database


@dataclass
class AgainstDb:
    """The reconciliation, the database it was read from, and the compile's warnings."""

    reconciliation: object
    path: str
    warnings: list = field(default_factory=list)
    source: object = None
    compiled: bool = True


def against_db_streaming(db: str | None, file: str, show, *, listing: bool = True) -> AgainstDb | None:
    """``show(AgainstDb)``: the plan of FILE against its database, never holding the plan
    (with ``listing``, ``show`` runs while the database transaction that lists the
    decisions is open; without, it gets the counts and reasons after it); None, before
    anything is shown: use the whole-plan path (a kept job's code changed)."""
    from dhflow.compiler.api import check_file, compile_file_streaming, input_digest
    from dhflow.compiler.diagnostics import DiagnosticError
    from dhflow.compiler.expand.tasks import plan_head
    from dhflow.reconcile.code import CodeChanged

    phase("against-db: start")
    pre = check_file(file)
    if not pre.ok:
        raise CompileFailed(pre.diagnostics, pre.source)
    head = plan_head(pre.spec).to_dict()
    where = database.locate(db, head, file)
    from dhflow.balsam import plan_diff

    path = f"{where.path}: not created yet, every task is new"
    if where.exists:
        path = database.open_database(db, head, file, create=False, quiet=True)
        rule_tasks = plan_diff.unchanged_counts(head["workflow"], input_digest(pre.spec))
        if rule_tasks is not None:
            from dhflow.reconcile.counted import AllUnchanged

            phase("against-db: unchanged file and jobs (not compiled)")
            out = AgainstDb(AllUnchanged(head["workflow"], rule_tasks), path, list(pre.diagnostics), pre.source,
                            compiled=False)
            show(out)
            return out
    stream = compile_file_streaming(file)
    if not stream.ok:
        raise CompileFailed(stream.diagnostics, stream.source)
    out = AgainstDb(None, path, list(stream.diagnostics), stream.source)

    def show_rec(rec):
        phase("against-db: compiled and matched by key (streamed)")
        out.reconciliation = rec
        out.warnings = list(stream.diagnostics)  # (the expansion's too: the stream has been read)
        show(out)

    try:
        plan_diff.reconcile_stream(stream.head, stream.tasks, show_rec, database=where.exists, listing=listing)
    except DiagnosticError as exc:
        diags = list(stream.diagnostics)
        diags += [d for d in exc.diagnostics if not any(d is x for x in diags)]
        raise CompileFailed(diags, stream.source) from None
    except CodeChanged:
        return None
    phase("against-db: shown")
    return out
