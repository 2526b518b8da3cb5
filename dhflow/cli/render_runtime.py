"""Rendering of the runtime verbs' results: status, the end of a run, `plan --against-db`.

Text only: the values come from :mod:`dhflow.runtime`; nothing here reads a file or a database.
"""
from __future__ import annotations

import json
import sys

from dhflow.cli.errors import err, note


def fmt_values(values) -> str:
    """A search's objective values, shortened (`-` for none)."""
    if values is None:
        return "-"
    return ", ".join(f"{v:.6g}" for v in values)


def _best_text(best) -> str:
    if best is None:
        return "-"
    if best and isinstance(best[0], list):
        return f"{len(best)} on the Pareto front"
    return fmt_values(best)


def status(view, fmt: str) -> None:
    """``dhflow status``: per-rule states, orphans, and a search's progress."""
    from dhflow.results import progress

    s = view.search
    if fmt == "json":
        data = {"workflow": view.workflow, "database": view.path,
                "rules": {r: dict(c) for r, c in view.counts.items()}}
        if s is None:
            data["stale_jobs"] = view.stale
        else:
            data["search"] = {"method": s.method, "evals": s.evals, "done": s.done, "running": s.running,
                              "waiting": s.waiting, "failed": s.failed, "best": s.best, "search": s.fingerprint,
                              "driver_job": ({"state": s.driver_job[0], "output": s.driver_job[1]}
                                             if s.driver_job else None)}
        print(json.dumps(data, indent=2))
        return
    print(f"workflow {view.workflow} (database {view.path})")
    print(progress.table(view.counts))
    if s is not None:
        print(f"search ({s.method}): {s.done} of {s.evals} evaluations done, {s.running} running, "
              f"{s.waiting} waiting, {s.failed} failed; best so far: {_best_text(s.best)}")
        if s.driver_job:  # written by `dhflow submit`: its progress and errors are in its output file
            print(f"search driver job: {s.driver_job[0]}; output: {s.driver_job[1]}")
    elif view.stale:
        print(f"{view.stale} jobs of this workflow are not in the current plan (orphans of older definitions; "
              "`dhflow submit FILE --prune` removes them)")


def against_db(out, fmt: str) -> None:
    """``plan --against-db``: the reconciliation as a table (or JSON), and a search's note."""
    from dhflow.cli import render

    if fmt == "json":
        for chunk in render.reconciliation_json_chunks(out.reconciliation):  # written as the decisions are read
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
        return
    sys.stdout.write(out.reconciliation.render())
    print(f"(database {out.path})")
    if out.search is not None:
        s = out.search
        if s.same_trials:
            print(f"search {s.fingerprint}: the same search as in the database ({s.same_trials} trials recorded); "
                  "running it continues it")
        elif s.others:
            print(f"search {s.fingerprint}: a NEW search (the space, the method or its arguments other than "
                  f"`evals`, a foreach rule or the objective changed); the database holds {len(s.others)} earlier "
                  "search(es), whose jobs are kept")
        else:
            print(f"search {s.fingerprint}: a new search (none in the database yet)")


def sweep_run_end(summary, workflow: str, tasks: int, timeout) -> str | None:
    """The end of ``dhflow run`` of a sweep: counts, results, failures; the error kind
    (``"timeout"``, ``"failed"``) or None."""
    from dhflow.results import objectives, progress

    print(progress.table(summary.counts))
    if summary.records:
        print()
        print(objectives.format_table(summary.records))
    for name, state, reason in summary.failed[:10]:
        note(f"task {name} {state}: {reason}")
    if len(summary.failed) > 10:
        note(f"... and {len(summary.failed) - 10} more failed tasks (`dhflow status`)")
    if summary.outcome.mpirun_standin:
        note("no MPI found: tasks ran under dhflow's mpirun stand-in (a task of R ranks ran as R separate "
             "processes with PMI_RANK/PMI_SIZE set, without MPI communication); install MPICH for real MPI")
    if summary.outcome.timed_out:
        err(f"timed out after {timeout:g} s with tasks still pending; the launcher was stopped "
            "(the jobs stay in the database: `dhflow run` again resumes them)")
        return "timeout"
    failed = summary.failed
    note(f"workflow {workflow} done in {summary.outcome.seconds:.0f} s"
         + (f": {len(failed)} of {tasks} tasks failed "
            "(`dhflow run FILE --rerun failed` runs them and their dependants again)" if failed else ""))
    for name, reason in summary.unread[:10]:
        note(f"task {name} finished, but its objective could not be read: {reason}")
    if summary.unread:
        err(f"{len(summary.unread)} objectives could not be read (see the notes above)")
    return "failed" if failed or summary.unread else None


def search_run_start(ctx) -> None:
    b = ctx.budget
    note(f"search {ctx.workflow}: {ctx.setup.method}, {b.evals} evaluations, {b.parallel} in parallel "
         f"(search {ctx.fingerprint})")


def search_progress(ctx):
    """The driver's ``on_change``: one progress line per change."""
    def on_change(out, flying):
        done, failed = len(out.finished), len(out.failures)
        print(f"dhflow: search {ctx.workflow}: {done}/{ctx.budget.evals} evaluations final"
              f"{f' ({failed} failed)' if failed else ''}, {len(flying)} in flight", file=sys.stderr)
    return on_change


def search_run_end(ctx, run, file: str) -> str | None:
    """The end of ``dhflow run`` of a search: failures, the best, the results table; the
    error kind (``"failed"``) or None."""
    from dhflow.results import objectives

    out = run.outcome
    for name, state, reason in run.failed_rules[:10]:
        note(f"task {name} {state}: {reason}")
    for ev in out.failures[:10]:
        note(f"trial {ev.trial} failed: {ev.reason}")
    good = [e for e in out.finished if e.values is not None]
    if good and len(ctx.setup.directions) == 1:
        sign = 1 if ctx.setup.directions[0] == "maximize" else -1
        best = max(good, key=lambda e: sign * e.values[0])
        note(f"best: trial {best.trial} {json.dumps(best.point)} -> {fmt_values(best.values)}")
    if out.store_error:
        note(f"the optimizer's stored study could not be kept up to date ({out.store_error}); "
             "the next run rebuilds it from the trials")
    if run.records:
        print(objectives.format_table(run.records))
    if out.stopped:
        err(f"search {ctx.workflow} {out.stopped}")
        return "failed"
    note(f"search {ctx.workflow} done in {run.seconds:.0f} s: {len(out.finished)} evaluations "
         f"({len(out.failures)} failed, {out.proposed} proposed by this run); `dhflow results {file}`")
    return "failed" if run.failed_rules else None
