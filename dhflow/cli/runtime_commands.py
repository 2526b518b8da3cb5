"""The commands that touch a Balsam database: run, submit, status, results, history, clean, db.

Each handler loads the experiment once (:func:`dhflow.runtime.experiment.load`), calls one
runtime verb and renders its result; which path a verb takes (sweep or search, unchanged,
streamed or whole plan) is decided in :mod:`dhflow.runtime`, never here.  The error policy
is :func:`dhflow.cli.errors.guarded`.  FILE may also be a compiled plan in JSON
(``dhflow plan FILE --format json``).
"""
from __future__ import annotations

import argparse
import sys

from dhflow.cli import limits_option, plan_loading, render
from dhflow.cli.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUNTIME, err, guarded, note
from dhflow.errors import SearchTimeout, UsageError, phase
from dhflow.runtime.launching import LaunchOverrides
from dhflow.target import SCHEDULERS

load_experiment = plan_loading.load_experiment
_RUN_EXIT = plan_loading.RUN_EXIT


show_warnings = plan_loading.show_warnings


def _shown(exp, code: int) -> int:
    """Show the experiment's warnings not shown yet (its compile's too); ``code``."""
    show_warnings(exp)
    return code


def cmd_plan_against_db(args) -> int:
    """`dhflow plan FILE --against-db`: the reconciliation (table, or JSON with ``--format json``)."""
    from dhflow.cli import render_runtime

    from dhflow.runtime.against_db import against_db

    exp = load_experiment(args)
    fmt = getattr(args, "format", "table")
    listing = fmt == "json"  # the table needs the counts only
    against_db(exp, getattr(args, "rerun", None), lambda out: render_runtime.against_db(out, fmt), listing=listing)
    return _shown(exp, EXIT_OK)


def _run_request(args):
    from dhflow.runtime.run import RunRequest

    return RunRequest(args.file, args.db, args.job_mode, args.timeout, args.rerun, args.prune)


def cmd_run(args) -> int:
    """`dhflow run FILE`: a sweep run to its end, or a search driven to its end, here."""
    from dhflow.cli import render_runtime

    from dhflow.results import progress
    from dhflow.runtime import run
    from dhflow.runtime.submit import workflows_sharing_name

    exp = load_experiment(args)
    show_warnings(exp)
    live = progress.LiveProgress(exp.workflow, stream=sys.stderr)

    tasks = []

    def written(prepared) -> None:
        tasks.append(len(prepared.plan["tasks"]))
        show_warnings(exp)  # the compile's warnings too (the plan is compiled by now)
        render.report_write(prepared.written)
        render.note_substring_workflows(exp.workflow, workflows_sharing_name(exp.workflow))
        note(f"running workflow {exp.workflow} with Balsam's launcher ({prepared.job_mode} mode, "
             f"DB {prepared.path})")

    ctx = exp.search() if exp.is_search else None
    if ctx is not None:
        show_warnings(exp)  # the search's compile's warnings too
        render_runtime.search_run_start(ctx)
    try:
        result = run.run(exp, _run_request(args), progress=live, on_written=written,
                         on_search_change=render_runtime.search_progress(ctx) if ctx else None, announce=note)
    except KeyboardInterrupt:
        err("interrupted: the launcher was stopped; `dhflow run` again continues the same search" if ctx else
            "interrupted: the launcher was stopped (running tasks are marked RUN_TIMEOUT; "
            "`dhflow run` again resumes the workflow)")
        return EXIT_INTERRUPTED
    except SearchTimeout:
        err(f"timed out after {args.timeout:g} s; `dhflow run` again continues the same search")
        return EXIT_RUNTIME
    live.close()
    if ctx is not None:
        return _RUN_EXIT[render_runtime.search_run_end(ctx, result, args.file)]
    ended = render_runtime.sweep_run_end(result, exp.workflow, tasks[0], args.timeout)
    return _RUN_EXIT[ended]


def _submit_request(args):
    from dhflow.runtime.submit import SubmitRequest

    overrides = LaunchOverrides(args.scheduler, args.project, args.queue, args.nodes, args.wall_time,
                                args.job_mode, args.sched_flags)
    return SubmitRequest(args.file, args.db, overrides, args.rerun, args.prune, args.no_launch)


def cmd_submit(args) -> int:
    """`dhflow submit FILE`: write the jobs (or show what would be written), then launch."""
    from dhflow.runtime import submit
    from dhflow.runtime.run import bulk_phase

    req = _submit_request(args)
    with bulk_phase():
        phase("start")
        exp = load_experiment(args)
        if args.dry_run:
            dry, plan = submit.dry_run(exp, req)
            render.dry_run(dry, plan, prune=args.prune, no_launch=args.no_launch)
            return _shown(exp, EXIT_OK)

        def written(outcome, sharing) -> None:  # reported before the launcher starts
            show_warnings(exp)
            render.report_write(outcome.written)
            render.note_substring_workflows(outcome.written.workflow, sharing)

        outcome, report = submit.submit(exp, req, note, written)
        render.launch_report(report, outcome.written.workflow)
        return EXIT_OK


def cmd_status(args) -> int:
    """`dhflow status FILE [--watch S]`: states per rule (and a search's progress)."""
    from dhflow.cli import render_runtime
    from dhflow.runtime import reading

    exp = load_experiment(args)
    if getattr(args, "watch", None) is not None:  # refresh until final
        from dhflow.cli.watch import watch_search, watch_status

        if exp.is_search:  # until the search is final, not its tasks so far
            from dhflow.runtime.search_watch import search_frame

            exp.search()  # compiled once, before the frames: its warnings show first
            show_warnings(exp)
            return watch_search(lambda: search_frame(exp), file=args.file, interval=args.watch)
        plan, fetch = reading.status_rows(exp)
        show_warnings(exp)
        return watch_status(plan, fetch, interval=args.watch)
    view = reading.status(exp)
    render_runtime.status(view, getattr(args, "format", "table"))
    return _shown(exp, EXIT_OK)


def cmd_results(args) -> int:
    """`dhflow results FILE`: the objectives, best first (a search: one record per trial)."""
    from dhflow.results import objectives
    from dhflow.runtime import reading

    exp = load_experiment(args)
    rule = getattr(args, "rule", None)
    if args.format == "json":  # a sweep's streamed: bounded memory for a million tasks, the same bytes
        reading.write_results_json(exp, sys.stdout, rule)
        return _shown(exp, EXIT_OK)
    records = reading.results(exp, rule)
    if args.format == "csv":
        sys.stdout.write(objectives.format_csv(records))
    else:
        print(objectives.format_table(records))
    return _shown(exp, EXIT_OK)


def cmd_history(args) -> int:
    """`dhflow history FILE`: the workflow's submissions, newest first."""
    import json

    from dhflow.runtime import reading

    exp = load_experiment(args)
    path, rows = reading.history(exp, args.limit)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        render.history_table(exp.workflow, path, rows)
    return _shown(exp, EXIT_OK)


def cmd_clean(args) -> int:
    """`dhflow clean FILE`: delete this workflow's jobs (asked for confirmation)."""
    from dhflow.runtime import reading

    exp = load_experiment(args)
    show_warnings(exp)
    wf = exp.workflow
    path, count = reading.count_jobs(exp)
    if count == 0:
        print(f"workflow {wf} has no jobs in {path}")
        return EXIT_OK
    if not args.yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise UsageError(f"refusing to delete {count} jobs of workflow {wf} without confirmation: "
                             "stdin is not a terminal (use --yes)")
        answer = input(f"Delete {count} jobs of workflow {wf} from {path}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing deleted")
            return EXIT_OK
    deleted, study_problem = reading.delete_jobs(exp)
    print(f"deleted {deleted} jobs of workflow {wf} (working directories under {path}/data/{wf} are kept)")
    if study_problem:
        note(f"the search's stored study was left in the database ({study_problem}); it is rebuilt "
             "from the trials when the search runs again")
    return EXIT_OK


def cmd_db(args) -> int:
    """`dhflow db start|stop|status|show|list [FILE]`: the project-local database."""
    from dhflow.runtime import dbadmin

    if args.format is not None and args.verb != "list":
        raise UsageError("--format goes with `dhflow db list`")
    if args.verb == "list":
        if args.file or args.db or args.listen is not None or args.advertise is not None:
            raise UsageError("`dhflow db list` takes no FILE, --db, --listen or --advertise: it lists every server")
        return render.db_servers(dbadmin.servers(), args.format or "table")
    head = None
    if getattr(args, "file", None):
        exp = load_experiment(args)
        show_warnings(exp)
        head = exp.head()
    if (args.listen is not None or args.advertise is not None) and args.verb != "start":
        raise UsageError("--listen and --advertise go with `dhflow db start`")
    if args.verb == "start":
        state = dbadmin.start(args.db, head, args.file, args.listen, args.advertise)
        if state.warning:
            note("warning: " + state.warning)
        return render.db_state("start", state)
    verb = {"stop": dbadmin.stop}.get(args.verb, dbadmin.describe)
    return render.db_state(args.verb, verb(args.db, head, getattr(args, "file", None)))


# ----------------------------------------------------------------- wiring
def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


DB_HELP = plan_loading.DB_HELP
_add_db_option = plan_loading.add_db_option


def _add_reconcile_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rerun", choices=("failed", "all"), default=None,
                   help="reset these jobs (failed: FAILED/killed/errored ones) and their dependants so that "
                        "Balsam runs them again")
    p.add_argument("--prune", action="store_true",
                   help="delete the jobs of this workflow whose tasks are no longer in the file (orphans)")


def add_against_db_options(parser: argparse.ArgumentParser) -> None:
    """Options of `dhflow plan` for comparing the plan with the database (`--against-db`)."""
    group = parser.add_argument_group("against a database")
    group.add_argument("--against-db", action="store_true",
                       help="compare with the jobs in the Balsam DB: per rule, how many tasks are new, "
                            "unchanged, to rerun and orphaned, and why (writes nothing)")
    group.add_argument("--db", metavar="DIR", help=DB_HELP)
    group.add_argument("--rerun", choices=("failed", "all"), default=None,
                       help="with --against-db: show what `submit --rerun` would reset")


def register(subparsers) -> None:
    """Add run, submit, status, results, history, clean and db to an argparse subparsers object."""
    p = subparsers.add_parser("run", help="write the jobs and run them on this machine with Balsam's launcher")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--job-mode", choices=("serial", "mpi"), default=None,
                   help="Balsam launcher job mode (default: serial when every task is single-rank)")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="S",
                   help="stop the launcher after S seconds (exit 3)")
    _add_reconcile_options(p)
    _add_db_option(p)
    limits_option.add_option(p)
    p.set_defaults(func=guarded(cmd_run))

    p = subparsers.add_parser("submit", help="write the jobs and submit a Balsam launcher job")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--scheduler", choices=SCHEDULERS, default=None)
    p.add_argument("-A", "--project", default=None)
    p.add_argument("-q", "--queue", default=None)
    p.add_argument("-n", "--nodes", type=int, default=None)
    p.add_argument("-t", "--wall-time", type=int, default=None, metavar="MINUTES")
    p.add_argument("--job-mode", choices=("serial", "mpi"), default=None)
    p.add_argument("--sched-flags", default=None)
    p.add_argument("--dry-run", action="store_true",
                   help="show what would change in the DB (per rule: new, unchanged, rerun, orphaned, and why) "
                        "and the batch script; write nothing, submit nothing")
    p.add_argument("--no-launch", action="store_true", help="write the jobs only")
    _add_reconcile_options(p)
    _add_db_option(p)
    limits_option.add_option(p)
    p.set_defaults(func=guarded(cmd_submit))

    p = subparsers.add_parser("status", help="job states per rule")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--watch", type=_positive_float, nargs="?", const=2.0, default=None, metavar="S",
                   help="refresh every S seconds (default 2) until every task is final")
    _add_db_option(p)
    p.set_defaults(func=guarded(cmd_status))

    p = subparsers.add_parser("results", help="objectives of the tasks, best first")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--rule", metavar="R", help="only the records of rule R (when several rules carry objectives)")
    _add_db_option(p)
    p.set_defaults(func=guarded(cmd_results))

    p = subparsers.add_parser("history", help="the submissions of this workflow, newest first")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="the N newest only")
    _add_db_option(p)
    p.set_defaults(func=guarded(cmd_history))

    p = subparsers.add_parser("clean", help="delete this workflow's jobs (and no other workflow's)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _add_db_option(p)
    p.set_defaults(func=guarded(cmd_clean))

    p = subparsers.add_parser("db", help="the project-local Balsam database (list: every one running here)")
    p.add_argument("verb", choices=("start", "stop", "status", "show", "list"))
    p.add_argument("file", metavar="FILE", nargs="?", help="a .dhflow file (its directory holds .dhflow/db)")
    p.add_argument("--listen", metavar="ADDRESS", default=None,
                   help="start: serve the DB to compute nodes on this address of this machine (* for every "
                        "interface), from now on; every connection needs the password kept in server-info")
    p.add_argument("--advertise", metavar="HOST", default=None,
                   help="start, with --listen: the host name or address compute nodes connect to, written to "
                        "server-info (default: the address given to --listen; for *, a non-loopback address "
                        "of this machine's interfaces)")
    p.add_argument("--format", choices=("table", "json"), default=None, help="list: table (default) or json")
    _add_db_option(p)
    p.set_defaults(func=guarded(cmd_db))
