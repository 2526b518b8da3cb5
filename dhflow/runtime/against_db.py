"""``dhflow plan FILE --against-db``: what a submission would do, and why; writes nothing.

One verb, :func:`against_db`, picks the path:

* a sweep without ``--rerun``: when the file's input digest is that of the workflow's
  latest submission and the workflow still holds exactly that submission's jobs, every task
  is unchanged: the per-rule counts the submission recorded, without compiling
  (:func:`dhflow.balsam.plan_diff.unchanged_counts`).  Otherwise the plan is compiled in
  streaming mode, copied into a temporary table and matched by key in the server
  (:mod:`dhflow.balsam.plan_match`), never held;
* ``--rerun`` (dependants need the whole graph), plan JSON files, and a kept job whose
  code changed: the whole plan, reconciled in :mod:`dhflow.reconcile`;
* a search: the plan of the trials recorded so far, and whether the database holds this
  same search (:class:`SearchNote`).
"""
from __future__ import annotations

from dataclasses import dataclass

from dhflow.errors import BackendError, CompileFailed, phase
from dhflow.runtime import database
from dhflow.runtime.experiment import Experiment


@dataclass
class SearchNote:
    """Whether the database holds this search: its trials, and the other searches' counts."""

    fingerprint: str
    same_trials: int
    others: list


@dataclass
class AgainstDb:
    """The reconciliation, the database it was read from, and a search's note."""

    reconciliation: object
    path: str
    compiled: bool = True
    search: SearchNote | None = None


def against_db(exp: Experiment, rerun: str | None, show, *, listing: bool = True) -> AgainstDb:
    """``show(AgainstDb)`` once the decisions can be read (with ``listing`` and the streamed
    path, while the transaction that lists them is open); returns the same AgainstDb."""
    if exp.is_search:
        out = _search(exp, rerun)
    elif exp.spec is None or rerun:
        out = _whole(exp, exp.plan(), rerun)
    else:
        out = _streamed(exp, show, listing)
        if out is not None:
            return out
        out = _whole(exp, exp.plan(), rerun)  # a kept job's code changed: the whole plan reruns it
    show(out)
    return out


def _whole(exp: Experiment, plan: dict, rerun: str | None) -> AgainstDb:
    from dhflow.balsam import jobstore
    from dhflow.runtime.submit import reconcile_if_reachable

    jobstore.validate(plan)
    where = database.locate(exp.db, plan, exp.file)
    if not where.exists:  # nothing submitted yet: every task is new
        from dhflow.reconcile.decision import reconcile

        return AgainstDb(reconcile(plan, [], rerun), f"{where.path}: not created yet, every task is new")
    rec, path, why = reconcile_if_reachable(exp.db, exp.file, plan, rerun)
    if rec is None:
        raise BackendError(why)
    return AgainstDb(rec, path)


def _search(exp: Experiment, rerun: str | None) -> AgainstDb:
    from dhflow.runtime.search import search_history, trials_and_plan

    ctx = exp.search()
    if not database.locate(exp.db, ctx.head, exp.file).exists:  # nothing run yet: every task is new
        from dhflow.runtime.search_plan import plan_of

        out = _whole(exp, plan_of(ctx, []), rerun)
        out.search = SearchNote(ctx.fingerprint, 0, [])
        return out
    plan = trials_and_plan(ctx, exp.db)[2]
    out = _whole(exp, plan, rerun)
    same, others = search_history(ctx, exp.db)
    out.search = SearchNote(ctx.fingerprint, same, others)
    return out


def _streamed(exp: Experiment, show, listing: bool) -> AgainstDb | None:
    """The sweep's tasks matched in the server; None (nothing shown) when a kept job's code
    changed (the whole plan decides the reruns)."""
    from dhflow.balsam import jobstore
    from dhflow.compiler.diagnostics import DiagnosticError
    from dhflow.reconcile.code import CodeChanged

    phase("against-db: start")
    head = exp.head()
    where = database.locate(exp.db, head, exp.file)
    path = f"{where.path}: not created yet, every task is new"
    if where.exists:
        path = database.open_database(exp.db, head, exp.file, create=False, quiet=True)
        rule_tasks = jobstore.unchanged_counts(head["workflow"], exp.digest())
        if rule_tasks is not None:
            from dhflow.reconcile.all_unchanged import AllUnchanged

            phase("against-db: unchanged file and jobs (not compiled)")
            out = AgainstDb(AllUnchanged(head["workflow"], rule_tasks), path, compiled=False)
            show(out)
            return out
    stream = exp.streaming()
    if not stream.ok:
        raise CompileFailed(stream.diagnostics, stream.source)
    out = AgainstDb(None, path)

    def show_rec(rec):
        phase("against-db: compiled and matched by key (streamed)")
        out.reconciliation = rec
        exp.warnings = list(stream.diagnostics)  # (the expansion's too: the stream has been read)
        show(out)

    try:
        jobstore.reconcile_stream(stream.head, stream.tasks, show_rec, database=where.exists, listing=listing)
    except DiagnosticError as exc:
        raise CompileFailed(list(stream.diagnostics) + list(exc.diagnostics), stream.source) from None
    except CodeChanged:
        return None
    phase("against-db: shown")
    return out
