"""The search's own commands: `search-driver` (the search run as a job of its workflow, written
by `dhflow submit`) and `search-storage` (the URL of its Optuna study, for optuna-dashboard).

Every other command treats a search like a sweep: :mod:`dhflow.cli.runtime_commands`.
"""
from __future__ import annotations

from dhflow.cli.errors import EXIT_OK, EXIT_RUNTIME, err, guarded, note
from dhflow.errors import SearchTimeout, UsageError


def cmd_search_driver(args) -> int:
    """`dhflow search-driver FILE`: the search as a job of its workflow; the allocation's
    launcher runs its evaluations."""
    from dhflow.cli import render_runtime
    from dhflow.cli.plan_loading import RUN_EXIT, load_experiment, show_warnings
    from dhflow.runtime import run

    exp = load_experiment(args)
    if not exp.is_search:
        raise UsageError(f"{args.file} has no `search:`: there is no search to drive")
    ctx = exp.search()
    show_warnings(exp)
    render_runtime.search_run_start(ctx)
    req = run.RunRequest(args.file, args.db, "serial")
    try:
        result = run.run(exp, req, on_search_change=render_runtime.search_progress(ctx), announce=note,
                         launch=False)
    except SearchTimeout:  # (no --timeout here; kept for symmetry with `run`)
        err("timed out; submitting again continues the same search")
        return EXIT_RUNTIME
    return RUN_EXIT[render_runtime.search_run_end(ctx, result, args.file)]


def cmd_search_storage(args) -> int:
    """`dhflow search-storage FILE`: the URL `optuna-dashboard` opens (stdout), the study on stderr."""
    from dhflow.cli.plan_loading import load_experiment, show_warnings
    from dhflow.runtime.search_study import storage_of

    exp = load_experiment(args)
    if not exp.is_search:
        raise UsageError(f"{args.file} has no `search:`: there is no optimizer study to open")
    ctx = exp.search()
    show_warnings(exp)
    path, url, name, stored = storage_of(ctx, args.db, hide_password=args.hide_password)
    note(f"search {ctx.fingerprint} of workflow {ctx.workflow}: Optuna study {name!r} in database {path}"
         + ("" if stored else " (not created yet: the search has not run)"))
    print(url)
    return EXIT_OK


def register(subparsers) -> None:
    """Add `search-driver` (run by the launcher inside an allocation; not for users' shells)
    and `search-storage`."""
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
