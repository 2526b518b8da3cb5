"""The commands that touch a Balsam database: run, submit, status, results, history, clean, db.

Each handler turns its arguments into plain values, calls a use case of
:mod:`dhflow.runtime` and renders the result; the error policy is
:func:`dhflow.cli.errors.guarded`.  FILE may also be a compiled plan in JSON
(``dhflow plan FILE --format json``).
"""
from __future__ import annotations

import argparse
import gc
import json
import sys

from dhflow.cli import limits_option, plan_loading, render, search_commands
from dhflow.cli.errors import EXIT_TASKS_FAILED, err, guarded, note, show_diagnostics
from dhflow.errors import UsageError, phase
from dhflow.runtime.launching import LaunchOverrides
from dhflow.target import SCHEDULERS


_load = plan_loading.load


def _load_head(args):
    """The plan's head only (workflow, launch, source: parsed and checked, not compiled) when
    that is all a command needs; the whole plan for plan JSON files and files with errors."""
    from dhflow.runtime.quick import load_head

    loaded = load_head(args.file)
    if loaded is None:
        return _load(args)
    show_diagnostics(loaded.warnings, loaded.source)
    return loaded.plan


def plan_against_db(args, plan: dict) -> int:
    """`dhflow plan FILE --against-db`: the reconciliation (table, or JSON with ``--format json``)."""
    def handler(a) -> int:
        from dhflow.runtime.inspect import against_db

        current = search_commands.current_plan(a) if search_commands.is_search(a) else plan
        rec, path = against_db(a.db, current, a.file, getattr(a, "rerun", None))
        _print_against_db(a, rec, path)
        if getattr(a, "format", "table") != "json":
            if search_commands.is_search(a):
                search_commands.against_db_note(a)
        return 0

    return guarded(handler)(args)


def _print_against_db(args, rec, path) -> None:
    if getattr(args, "format", "table") == "json":
        for chunk in render.reconciliation_json_chunks(rec):  # written as the decisions are read
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(rec.render())
        print(f"(database {path})")


def plan_against_db_streaming(args) -> int | None:
    """`dhflow plan FILE --against-db` of a .dhflow file without `--rerun`, never holding the
    plan; None when the whole plan is needed (plan JSON, search file, --rerun, changed code)."""
    if args.file.endswith(".json") or getattr(args, "rerun", None) or search_commands.is_search(args):
        return None

    def handler(a) -> int:
        from dhflow.runtime.against_db import against_db_streaming

        def show(out) -> None:
            show_diagnostics(out.warnings, out.source)
            _print_against_db(a, out.reconciliation, out.path)

        listing = getattr(a, "format", "table") == "json"  # the table needs the counts only
        return -1 if against_db_streaming(a.db, a.file, show, listing=listing) is None else 0

    code = guarded(handler)(args)
    return None if code == -1 else code


def cmd_run(args) -> int:
    if search_commands.is_search(args):
        return search_commands.cmd_run(args)
    from dhflow.results import objectives, progress
    from dhflow.runtime import run
    from dhflow.runtime.submit import workflows_sharing_name

    req = run.RunRequest(args.file, args.db, args.job_mode, args.timeout, args.rerun, args.prune)
    with run.bulk_phase():
        plan = _load(args)
        prepared = run.prepare(req, plan)
    gc.freeze()  # the plan lives until the end: keep it out of every later collection
    render.report_write(prepared.written)
    render.note_substring_workflows(plan["workflow"], workflows_sharing_name(plan["workflow"]))
    live = progress.LiveProgress(plan["workflow"], stream=sys.stderr)
    note(f"running workflow {plan['workflow']} with Balsam's launcher ({prepared.job_mode} mode, DB {prepared.path})")
    try:
        summary = run.execute(prepared, timeout=args.timeout, progress=live)
    except KeyboardInterrupt:
        err("interrupted: the launcher was stopped (running tasks are marked RUN_TIMEOUT; "
            "`dhflow run` again resumes the workflow)")
        return 130
    live.close()
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
        err(f"timed out after {args.timeout:g} s with tasks still pending; the launcher was stopped "
            "(the jobs stay in the database: `dhflow run` again resumes them)")
        return 3
    failed = summary.failed
    note(f"workflow {plan['workflow']} done in {summary.outcome.seconds:.0f} s"
         + (f": {len(failed)} of {len(plan['tasks'])} tasks failed "
            "(`dhflow run FILE --rerun failed` runs them and their dependants again)" if failed else ""))
    for name, reason in summary.unread[:10]:
        note(f"task {name} finished, but its objective could not be read: {reason}")
    if summary.unread:
        err(f"{len(summary.unread)} objectives could not be read (see the notes above)")
    return EXIT_TASKS_FAILED if failed or summary.unread else 0


def _submit_request(args):
    from dhflow.runtime.submit import SubmitRequest

    overrides = LaunchOverrides(args.scheduler, args.project, args.queue, args.nodes, args.wall_time,
                                args.job_mode, args.sched_flags)
    return SubmitRequest(args.file, args.db, overrides, args.rerun, args.prune, args.no_launch)


def cmd_submit(args) -> int:
    from dhflow.runtime import submit
    from dhflow.runtime.run import bulk_phase

    req = _submit_request(args)
    with bulk_phase():
        phase("start")
        if args.dry_run:
            plan = search_commands.submit_plan(args) if search_commands.is_search(args) else _load(args)
            render.dry_run(submit.dry_run(req, plan), plan, prune=args.prune, no_launch=args.no_launch)
            return 0
        if args.rerun or args.file.endswith(".json") or search_commands.is_search(args):
            plan = search_commands.submit_plan(args) if search_commands.is_search(args) else _load(args)
            outcome = submit.submit_plan(req, plan)
        else:
            outcome = submit.submit_streaming(req, note)
            show_diagnostics(outcome.warnings, outcome.source)
        wf = outcome.written.workflow
        render.report_write(outcome.written)
        render.note_substring_workflows(wf, submit.workflows_sharing_name(wf))
        report = submit.launch_after_submit(req, outcome.opts, outcome.mode, outcome.path, wf, note)
        render.launch_report(report, wf)
        return 0


def _plan_and(args, use_case):
    return use_case(args.db, _load(args), args.file)


def cmd_status(args) -> int:
    if search_commands.is_search(args):
        return search_commands.cmd_status(args)
    from dhflow.results import progress
    from dhflow.runtime import inspect

    if getattr(args, "watch", None) is not None:  # refresh until final
        from dhflow.cli.watch import watch_status

        plan = _load(args)
        inspect.open_existing(args.db, plan, args.file)
        return watch_status(plan, lambda: inspect.jobs_by_key(plan)[0], interval=args.watch)
    from dhflow.runtime.quick import quick_status

    quick = quick_status(args.db, args.file)  # an unchanged file: one aggregated query, no compile
    if quick is not None:
        st, loaded = quick
        show_diagnostics(loaded.warnings, loaded.source)
    else:
        st = _plan_and(args, inspect.status)
    if getattr(args, "format", "table") == "json":
        print(json.dumps({"workflow": st.workflow, "database": st.path,
                          "rules": {r: dict(c) for r, c in st.counts.items()}, "stale_jobs": st.stale}, indent=2))
        return 0
    print(f"workflow {st.workflow} (database {st.path})")
    print(progress.table(st.counts))
    if st.stale:
        print(f"{st.stale} jobs of this workflow are not in the current plan (orphans of older definitions; "
              "`dhflow submit FILE --prune` removes them)")
    return 0


def cmd_results(args) -> int:
    if search_commands.is_search(args):
        return search_commands.cmd_results(args)
    from dhflow.results import objectives
    from dhflow.runtime import inspect

    if args.format == "json":  # streamed: bounded memory for a million tasks, the same bytes
        from dhflow.runtime.results_json import write_results_json

        loaded = write_results_json(args.db, args.file, sys.stdout)
        show_diagnostics(loaded.warnings, loaded.source)
        return 0
    records = _plan_and(args, inspect.results)
    if args.format == "csv":
        sys.stdout.write(objectives.format_csv(records))
    else:
        print(objectives.format_table(records))
    return 0


def cmd_history(args) -> int:
    from dhflow.runtime import inspect

    plan = _load_head(args)
    path, rows = inspect.history(args.db, plan, args.file, args.limit)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        render.history_table(plan["workflow"], path, rows)
    return 0


def cmd_clean(args) -> int:
    from dhflow.runtime import inspect

    plan = _load_head(args)
    wf = plan["workflow"]
    path, count = inspect.count_jobs(args.db, plan, args.file)
    if count == 0:
        print(f"workflow {wf} has no jobs in {path}")
        return 0
    if not args.yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise UsageError(f"refusing to delete {count} jobs of workflow {wf} without confirmation: "
                             "stdin is not a terminal (use --yes)")
        answer = input(f"Delete {count} jobs of workflow {wf} from {path}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing deleted")
            return 0
    deleted, study_problem = inspect.delete_jobs(wf)
    print(f"deleted {deleted} jobs of workflow {wf} (working directories under {path}/data/{wf} are kept)")
    if study_problem:
        note(f"the search's stored study was left in the database ({study_problem}); it is rebuilt "
             "from the trials when the search runs again")
    return 0


def cmd_db(args) -> int:
    from dhflow.runtime import dbadmin

    if args.format is not None and args.verb != "list":
        raise UsageError("--format goes with `dhflow db list`")
    if args.verb == "list":
        if args.file or args.db or args.listen is not None or args.advertise is not None:
            raise UsageError("`dhflow db list` takes no FILE, --db, --listen or --advertise: it lists every server")
        return render.db_servers(dbadmin.servers(), args.format or "table")
    plan = _load_head(args) if getattr(args, "file", None) else None
    if (args.listen is not None or args.advertise is not None) and args.verb != "start":
        raise UsageError("--listen and --advertise go with `dhflow db start`")
    if args.verb == "start":
        state = dbadmin.start(args.db, plan, args.file, args.listen, args.advertise)
        from dhflow.balsam.advertise import loopback_warning

        if state.status is not None and (text := loopback_warning(state.status.host, state.listen, args.advertise)):
            note("warning: " + text)
        return render.db_state("start", state)
    verb = {"stop": dbadmin.stop}.get(args.verb, dbadmin.describe)
    return render.db_state(args.verb, verb(args.db, plan, getattr(args, "file", None)))


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
    search_commands.register(subparsers)
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
