"""`run`, `status`, `results` and `plan --against-db` of a file with `search:`, and the
`search-driver` command (the search run as a job of the workflow, by `dhflow submit`).

:mod:`dhflow.cli.runtime_commands` hands a search file over here (one line per command);
rendering only, the use cases are in :mod:`dhflow.runtime.search`.
"""
from __future__ import annotations

import json
import sys

from dhflow.cli.errors import EXIT_TASKS_FAILED, err, guarded, note, show_diagnostics


def is_search(args) -> bool:
    """Whether the command's FILE is a search file."""
    from dhflow.runtime.search_plan import is_search_file

    file = getattr(args, "file", None)
    return bool(file) and not file.endswith(".json") and is_search_file(file)


def _context(args):
    from dhflow.runtime.search_plan import load

    ctx = load(args.file)
    show_diagnostics(ctx.warnings, ctx.source)
    return ctx


def _fmt(values) -> str:
    if values is None:
        return "-"
    return ", ".join(f"{v:.6g}" for v in values)


def cmd_run(args) -> int:
    """`dhflow run FILE` of a search: drive it next to the launcher until `evals` are final."""
    return _drive(args, launch=True)


def _drive(args, *, launch: bool) -> int:
    from dhflow.runtime.search import SearchTimeout, run_search
    from dhflow.errors import UsageError

    if getattr(args, "rerun", None) or getattr(args, "prune", False):
        raise UsageError("--rerun and --prune do not apply to a search: running it again continues it "
                         "(`dhflow clean` and a new run start it afresh)")

    ctx = _context(args)
    b = ctx.budget
    note(f"search {ctx.workflow}: {ctx.setup.method}, {b.evals} evaluations, {b.parallel} in parallel "
         f"(search {ctx.fingerprint})")

    def on_change(out, flying):
        done = len(out.finished)
        failed = len(out.failures)
        print(f"dhflow: search {ctx.workflow}: {done}/{b.evals} evaluations final"
              f"{f' ({failed} failed)' if failed else ''}, {len(flying)} in flight", file=sys.stderr)

    try:
        run = run_search(ctx, db=args.db, job_mode=args.job_mode, timeout=args.timeout, on_change=on_change,
                         announce=note, launch=launch)
    except KeyboardInterrupt:
        err("interrupted: the launcher was stopped; `dhflow run` again continues the same search")
        return 130
    except SearchTimeout:
        err(f"timed out after {args.timeout:g} s; `dhflow run` again continues the same search")
        return 3
    out = run.outcome
    for name, state, reason in run.failed_rules[:10]:
        note(f"task {name} {state}: {reason}")
    for ev in out.failures[:10]:
        note(f"trial {ev.trial} failed: {ev.reason}")
    good = [e for e in out.finished if e.values is not None]
    if good and len(ctx.setup.directions) == 1:
        sign = 1 if ctx.setup.directions[0] == "maximize" else -1
        best = max(good, key=lambda e: sign * e.values[0])
        note(f"best: trial {best.trial} {json.dumps(best.point)} -> {_fmt(best.values)}")
    if out.store_error:
        note(f"the optimizer's stored study could not be kept up to date ({out.store_error}); "
             "the next run rebuilds it from the trials")
    if out.stopped:
        err(f"search {ctx.workflow} {out.stopped}")
        return EXIT_TASKS_FAILED
    note(f"search {ctx.workflow} done in {run.seconds:.0f} s: {len(out.finished)} evaluations "
         f"({len(out.failures)} failed, {out.proposed} proposed by this run); `dhflow results {args.file}`")
    return EXIT_TASKS_FAILED if run.failed_rules else 0


def cmd_search_driver(args) -> int:
    """`dhflow search-driver FILE`: the search as a job of its workflow (written by `dhflow submit`)."""
    args.job_mode = getattr(args, "job_mode", None) or "serial"
    args.timeout = None
    return _drive(args, launch=False)


def cmd_status(args) -> int:
    """`dhflow status FILE` of a search: the per-rule states and the search's progress."""
    from dhflow.results import progress
    from dhflow.runtime import inspect
    from dhflow.runtime.search import search_status

    ctx = _context(args)
    path, st = search_status(ctx, args.db)
    counts = inspect.status(args.db, st.plan, args.file).counts
    from dhflow.runtime.search_submit import driver_jobs

    drivers = driver_jobs(ctx, args.db)
    search = {"method": ctx.setup.method, "evals": st.evals, "done": st.done, "running": st.running,
              "waiting": st.waiting, "failed": st.failed, "best": st.best, "search": ctx.fingerprint,
              "driver_job": {"state": drivers[-1][0], "output": drivers[-1][1]} if drivers else None}
    if getattr(args, "format", "table") == "json":
        print(json.dumps({"workflow": ctx.workflow, "database": path,
                          "rules": {r: dict(c) for r, c in counts.items()}, "search": search}, indent=2))
        return 0
    print(f"workflow {ctx.workflow} (database {path})")
    print(progress.table(counts))
    best = "-" if st.best is None else (_fmt(st.best) if st.best and not isinstance(st.best[0], list)
                                        else f"{len(st.best)} on the Pareto front")
    print(f"search ({ctx.setup.method}): {st.done} of {st.evals} evaluations done, {st.running} running, "
          f"{st.waiting} waiting, {st.failed} failed; best so far: {best}")
    if drivers:  # written by `dhflow submit`: its progress and errors are in its output file
        print(f"search driver job: {drivers[-1][0]}; output: {drivers[-1][1]}")
    return 0


def cmd_results(args) -> int:
    """`dhflow results FILE` of a search: one record per trial, best (or the Pareto front) first."""
    from dhflow.results import objectives
    from dhflow.runtime.search import search_results

    ctx = _context(args)
    records = search_results(ctx, args.db)
    if args.format == "json":
        print(objectives.format_json(records))
    elif args.format == "csv":
        sys.stdout.write(objectives.format_csv(records))
    else:
        print(objectives.format_table(records))
    return 0


def current_plan(args) -> dict:
    """The plan of the search's trials recorded so far (what `plan --against-db` compares)."""
    from dhflow.runtime.search import trials_and_plan

    ctx = _context(args)
    return trials_and_plan(ctx, args.db)[2]


def against_db_note(args) -> None:
    """`plan --against-db` of a search file: say whether the database holds this same search."""
    from dhflow.runtime.search import search_history

    ctx = _context(args)
    same, others = search_history(ctx, args.db)
    if same:
        print(f"search {ctx.fingerprint}: the same search as in the database ({same} trials recorded); "
              "running it continues it")
    elif others:
        print(f"search {ctx.fingerprint}: a NEW search (the space, the method or its arguments other than "
              f"`evals`, a foreach rule or the objective changed); the database holds {len(others)} earlier "
              "search(es), whose jobs are kept")
    else:
        print(f"search {ctx.fingerprint}: a new search (none in the database yet)")


def handled(name: str, args):
    """The search handler of command `name` (guarded) when FILE is a search file, else None."""
    if not is_search(args):
        return None
    fn = {"run": cmd_run, "status": cmd_status, "results": cmd_results}[name]
    return guarded(fn)(args)


def submit_plan(args) -> dict:
    """The plan `dhflow submit` writes for a search file (its driver job included)."""
    from dhflow.runtime.launching import LaunchOverrides, launch_options
    from dhflow.runtime.search_submit import submit_plan as plan_for_submit

    ctx = _context(args)
    overrides = LaunchOverrides(args.scheduler, args.project, args.queue, args.nodes, args.wall_time,
                                args.job_mode, args.sched_flags)
    profile = launch_options(ctx.head | {"tasks": ()}, overrides).profile  # the one the write activates
    return plan_for_submit(ctx, args.db, dry_run=args.dry_run, profile=profile)


def register(subparsers) -> None:
    """Add `search-driver` (run by the launcher inside an allocation; not for users' shells)."""
    p = subparsers.add_parser("search-driver", help="drive a search as a job of its workflow (written by submit)")
    p.add_argument("file")
    p.add_argument("--db", default=None)
    p.set_defaults(func=guarded(cmd_search_driver))
    p = subparsers.add_parser("search-storage", help="print the storage URL of a search's Optuna study "
                              "(for optuna-dashboard)")
    p.add_argument("file")
    p.add_argument("--db", default=None)
    p.add_argument("--hide-password", action="store_true", help="print the URL with its password masked")
    p.set_defaults(func=guarded(cmd_search_storage))


def cmd_search_storage(args) -> int:
    """`dhflow search-storage FILE`: the URL `optuna-dashboard` opens (stdout), the study on stderr."""
    from dhflow.compiler.api import unreadable
    from dhflow.compiler.source import SourceFile
    from dhflow.runtime.search_study import storage_of

    try:  # a missing file, a FIFO, /dev/zero: the DH007 of every other command
        SourceFile.read(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        src, diag = unreadable(args.file, exc)
        show_diagnostics([diag], src)
        return 1
    if not is_search(args):
        err(f"{args.file} has no `search:`: there is no optimizer study to open")
        return 2
    ctx = _context(args)
    path, url, name, stored = storage_of(ctx, args.db, hide_password=args.hide_password)
    note(f"search {ctx.fingerprint} of workflow {ctx.workflow}: Optuna study {name!r} in database {path}"
         + ("" if stored else " (not created yet: the search has not run)"))
    print(url)
    return 0
