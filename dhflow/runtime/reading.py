"""The reading verbs over an Experiment: status, results, history, the jobs to delete.

Each verb takes the experiment loaded once by the command (:mod:`dhflow.runtime.experiment`)
and picks its path here, not in the CLI: a sweep whose file is unchanged since its last
submission is answered by the server without compiling; an edited sweep is compiled once,
streamed and matched by key in the server; a search is read from its trials; a plan JSON
file through the whole plan.  Plain values out, for the CLI to render.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from dhflow.errors import CompileFailed, phase
from dhflow.runtime import database
from dhflow.runtime.experiment import Experiment
from dhflow.runtime.plan_jobs import jobs_by_key, plan_records


@dataclass
class SearchProgress:
    """A search's side of ``status``: method, budget, evaluations, best so far, driver job."""

    method: str
    fingerprint: str
    evals: int
    done: int
    running: int
    waiting: int
    failed: int
    best: list | None
    driver_job: tuple[str, str] | None = None   # (state, output file) of a submitted driver


@dataclass
class StatusView:
    """Per-rule state counts of a workflow, its orphans, and a search's progress."""

    workflow: str
    path: str
    counts: dict
    stale: int
    search: SearchProgress | None = None


def open_existing(exp: Experiment, head: dict | None = None) -> str:
    """The experiment's database, started on demand and activated (never created)."""
    return database.open_database(exp.db, head or exp.head(), exp.file, create=False, quiet=True)


# ------------------------------------------------------------------------ status
def status(exp: Experiment) -> StatusView:
    """The per-rule states (and a search's progress) of the experiment."""
    if exp.is_search:
        return _search_status(exp)
    if exp.spec is None:  # a plan JSON file: the whole plan
        return _plan_status(exp, exp.plan())
    phase("status: start")
    head = exp.head()
    path = open_existing(exp, head)
    from dhflow.balsam import jobstore
    from dhflow.compiler.diagnostics import DiagnosticError

    stream = None

    def tasks():  # an edited file: compiled once, its tasks streamed into the server
        nonlocal stream
        stream = exp.streaming()
        if not stream.ok:
            raise CompileFailed(stream.diagnostics, stream.source)
        return stream.tasks

    try:
        counts, stale, compiled = jobstore.rule_states(head["workflow"], exp.digest(), tasks)
    except DiagnosticError as exc:
        raise CompileFailed(list(stream.diagnostics) + list(exc.diagnostics), stream.source) from None
    if compiled:
        exp.warnings = list(stream.diagnostics)
    phase("status: " + ("compiled and matched by key (streamed)" if compiled
                        else "unchanged file, counted by the server (not compiled)"))
    return StatusView(head["workflow"], path, counts, stale)


def _plan_status(exp: Experiment, plan: dict, path: str | None = None) -> StatusView:
    from dhflow.balsam import jobstore
    from dhflow.results import progress

    path = path or open_existing(exp, plan)
    states, extra, total = jobstore.key_states(plan["workflow"])  # key and state only, streamed
    keys = {t["key"] for t in plan["tasks"]}
    stale = total - sum(1 + extra.get(k, 0) for k in states if k in keys)
    by_name = {t["name"]: states.get(t["key"]) for t in plan["tasks"]}
    return StatusView(plan["workflow"], path, progress.rule_counts(plan, by_name), stale)


def _search_status(exp: Experiment) -> StatusView:
    from dhflow.runtime.search import search_status
    from dhflow.runtime.search_submit import driver_jobs

    ctx = exp.search()
    path, st = search_status(ctx, exp.db)
    view = _plan_status(exp, st.plan, path)
    view.stale = 0  # other searches' and earlier definitions' jobs are not this search's orphans
    drivers = driver_jobs(ctx, exp.db)
    view.search = SearchProgress(ctx.setup.method, ctx.fingerprint, st.evals, st.done, st.running, st.waiting,
                                 st.failed, st.best, drivers[-1] if drivers else None)
    return view


def status_rows(exp: Experiment):
    """(plan, fetch) for ``status --watch``: the plan watched and a function giving the
    workflow's jobs by content key at each refresh (a search's plan grows: refetched)."""
    plan = exp.plan()
    open_existing(exp, plan)
    return plan, lambda: jobs_by_key(plan)[0]


# ----------------------------------------------------------------------- results
def results(exp: Experiment, rule: str | None = None) -> list[dict]:
    """One record per task of every rule with an objective (a search: per trial), best first."""
    from dhflow.results import objectives

    if exp.is_search:
        from dhflow.runtime.search import search_results

        records = search_results(exp.search(), exp.db)
    else:
        records = plan_records(exp.db, exp.plan(), exp.file)
    return objectives.select_rule(records, rule) if rule else records


def write_results_json(exp: Experiment, out: IO[str], rule: str | None = None) -> None:
    """``results --format json``: a sweep's records streamed (bounded memory at a million
    tasks), a search's trials; the same bytes as the in-memory records."""
    from dhflow.results import objectives

    if exp.is_search or rule:
        out.write(objectives.format_json(results(exp, rule)) + "\n")
        return
    from dhflow.balsam import jobstore
    from dhflow.compiler.diagnostics import DiagnosticError
    from dhflow.results.stream import records, write_json

    if exp.spec is None:
        head = exp.plan()
        tasks = head["tasks"]
        source, shown = None, []
    else:
        stream = exp.streaming()
        if not stream.ok:
            raise CompileFailed(stream.diagnostics, stream.source)
        head, tasks, source, shown = stream.head, stream.tasks, stream.source, stream.diagnostics
    open_existing(exp, head)
    by_key = jobstore.jobs_for_results(head["workflow"])
    try:
        write_json(records(tasks, by_key), head.get("objective", "maximize"), out)
    except DiagnosticError as exc:
        raise CompileFailed(list(shown) + list(exc.diagnostics), source) from None
    if exp.spec is not None:
        exp.warnings = list(shown)


# ------------------------------------------------------- history and deleting
def history(exp: Experiment, limit: int | None) -> tuple[str, list[dict]]:
    """(database path, the workflow's submissions newest first)."""
    from dhflow.balsam import jobstore

    path = open_existing(exp)
    return path, jobstore.submissions(exp.workflow, limit=limit)


def count_jobs(exp: Experiment) -> tuple[str, int]:
    """(database path, how many jobs the workflow has)."""
    from dhflow.balsam import jobstore

    path = open_existing(exp)
    return path, jobstore.count_workflow(exp.workflow)


def delete_jobs(exp: Experiment) -> tuple[int, str | None]:
    """Delete every job of exactly this workflow and its search trials, in one transaction,
    then its stored search studies (the database opened by :func:`count_jobs`); (jobs
    deleted, why a study could not be removed or None)."""
    from dhflow.balsam import jobstore
    from dhflow.runtime.search_study import delete_workflow_studies

    deleted = jobstore.delete_workflow(exp.workflow, also=(jobstore.delete_trials,))
    return deleted, delete_workflow_studies(exp.workflow)
