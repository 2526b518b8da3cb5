"""The commands that touch a Balsam database: run, submit, status, results, history, clean, db.

``dhflow.cli`` calls :func:`register` with its argparse subparsers and a
``compile_plan(path) -> dict | None`` function, and :func:`add_against_db_options` /
:func:`plan_against_db` for ``dhflow plan FILE --against-db``.  Every handler returns an
exit code: 0 ok, 1 compile diagnostics (or a plan the backend cannot represent), 2 usage,
3 database/launcher/scheduler failure (one line on stderr, never a traceback;
``DHFLOW_DEBUG=1`` shows the traceback of an unexpected error), 5 (``dhflow run`` only)
the workflow finished but some of its tasks FAILED (or were killed): the results of the
others are printed as usual, and ``dhflow run FILE --rerun failed`` runs the failed ones
and their dependants again.

Submitting is reconciling: ``submit`` and ``run`` bring the database in line with the file
(:func:`dhflow.backends.balsam.apply`): tasks whose content key is already there keep
their jobs and results (nothing is written for them), new keys become new jobs, jobs whose
keys left the file are reported as orphans and deleted only with ``--prune``;
``--rerun failed|all`` resets those jobs and their dependants so that Balsam runs them
again.  ``submit --dry-run`` and ``plan --against-db`` show that reconciliation (per rule:
new, unchanged, rerun, orphaned, and why) without writing anything.  Every submission is
recorded (``dhflow history FILE``), and every job carries its provenance in its data.

``submit`` (without ``--rerun``/``--dry-run``) does not compile an experiment whose input
(file, directory, points file, dhflow version) and jobs are unchanged since its latest
submission, and otherwise compiles while it writes (the COPY pulls the tasks from the
streaming compiler): :func:`_submit_streaming`.  ``run``, ``--rerun`` and ``--dry-run``
compile the whole plan first.

Where the database is (every command, first match wins):
``--db DIR``; ``$BALSAM_DB_PATH``; else the project-local DB ``.dhflow/db`` next to the
.dhflow file (created by ``run`` and ``submit``; started on demand when it exists).

FILE may also be a compiled plan in JSON (``dhflow plan FILE --format json``).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Callable

from dhflow.backends import BackendError, PlanRejected, UsageError, phase

CompileFn = Callable[[str], "dict | None"]

#: `dhflow run`: the workflow finished, but some of its tasks failed.
EXIT_TASKS_FAILED = 5


def _err(message: str) -> None:
    print(f"dhflow: error: {message}", file=sys.stderr)


def _note(message: str) -> None:
    print(f"dhflow: {message}", file=sys.stderr)


# --------------------------------------------------------------------- plans
def load_plan(path: str, compile_plan: CompileFn | None) -> dict | None:
    """A plan dict from a .dhflow file (through the compiler) or a plan JSON file."""
    if path.endswith(".json"):
        try:
            with open(path, encoding="utf-8") as fp:
                plan = json.load(fp)
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: not a JSON plan ({exc})") from None
        if not isinstance(plan, dict) or "workflow" not in plan or "tasks" not in plan:
            raise UsageError(f"{path}: not a dhflow plan (needs 'workflow' and 'tasks')")
        plan.setdefault("apps", [])
        plan.setdefault("objective", "maximize")
        plan.setdefault("launch", None)
        if not plan.get("source"):
            here = str(Path(path).resolve().parent)
            plan["source"] = {"path": str(Path(path).resolve()), "sha256": "", "here": here}
        return plan
    if compile_plan is None:
        raise UsageError("no compiler available: give a plan JSON file")
    plan = compile_plan(path)
    if plan is None:
        return None
    if hasattr(plan, "to_dict"):
        plan = plan.to_dict()
    return plan


def _spec_dir(plan: dict | None, file_arg: str | None) -> str:
    if plan and (plan.get("source") or {}).get("here"):
        return plan["source"]["here"]
    if file_arg:
        return str(Path(file_arg).resolve().parent)
    return os.getcwd()


def resolve_db(args, plan: dict | None, *, create: bool, quiet: bool = False) -> str:
    """The Balsam DB directory for this command, started when dhflow manages it."""
    from dhflow.backends.localdb import LocalDB, default_location

    explicit = getattr(args, "db", None)
    env_path = os.environ.get("BALSAM_DB_PATH")
    if explicit:
        path = os.path.abspath(os.path.expanduser(explicit))
        managed = LocalDB.is_managed(path) or not os.path.exists(os.path.join(path, "server-info"))
    elif env_path:
        path = os.path.abspath(os.path.expanduser(env_path))
        managed = LocalDB.is_managed(path)
    else:
        path = str(default_location(_spec_dir(plan, getattr(args, "file", None))))
        managed = True
    if managed:
        db = LocalDB(path)
        if not db.exists() and not create:
            raise BackendError(f"no Balsam database at {path}: nothing has been submitted yet "
                               "(`dhflow run FILE` creates it)")
        db.ensure_started(create=create, quiet=quiet)
    return path


def _activate(path: str, profile: str = "local"):
    from dhflow.backends import env

    return env.activate(path, profile)


def _jobs_by_key(plan: dict):
    from dhflow.backends import balsam as backend

    jobs = backend.fetch_jobs(plan["workflow"])
    by_key = {}
    for job in jobs:
        if job.key and job.key not in by_key:
            by_key[job.key] = job
    keys = {t["key"] for t in plan["tasks"]}
    stale = sum(1 for j in jobs if j.key not in keys)
    return by_key, stale


def _note_substring_workflows(workflow: str) -> None:
    from dhflow.backends import balsam as backend

    others = backend.workflows_containing(workflow)
    if others:
        shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        _note(f"note: Balsam's own `--wf {workflow}` filters also match {shown} (substring match); "
              "dhflow's commands and launcher select workflow names exactly")


def _states_by_name(plan: dict, by_key: dict) -> dict:
    return {t["name"]: (by_key[t["key"]].state if t["key"] in by_key else None) for t in plan["tasks"]}


def _report_write(written) -> None:
    """One summary line; the per-rule reconciliation table too when anything but 'new' or
    'unchanged' happened or when existing jobs were edited away (the reasons matter then)."""
    rec = written.reconciliation
    if rec is not None and (written.rerun or written.orphaned or written.pruned
                            or (written.created and written.kept)):
        for line in rec.render().rstrip("\n").splitlines():
            _note(line)
    _note(written.summary())


def _db_path_for(args, plan: dict | None) -> str:
    """The DB directory a command would use (no side effects)."""
    from dhflow.backends.localdb import default_location

    if getattr(args, "db", None):
        return os.path.abspath(os.path.expanduser(args.db))
    if os.environ.get("BALSAM_DB_PATH"):
        return os.path.abspath(os.path.expanduser(os.environ["BALSAM_DB_PATH"]))
    return str(default_location(_spec_dir(plan, getattr(args, "file", None))))


def _reconcile_if_reachable(args, plan: dict, rerun: str | None):
    """(Reconciliation, path, None) when the DB can be read, else (None, path, why not).

    Never creates a database; a project-local one that exists is started on demand (like
    `dhflow status`).
    """
    from dhflow.backends import balsam as backend

    path = _db_path_for(args, plan)
    if not os.path.exists(os.path.join(path, "server-info")):
        return None, path, f"no Balsam database at {path} yet"
    try:
        path = resolve_db(args, plan, create=False, quiet=True)
        _activate(path, "local")
        return backend.reconcile_with_db(plan, rerun, validated=True), path, None
    except BackendError as exc:
        return None, path, str(exc)


def _reconciliation_json(rec) -> str:
    return json.dumps({"workflow": rec.workflow, "rules": rec.counts(), "reasons": rec.reason_counts(),
                       "tasks": [{"name": d.name, "rule": d.rule, "status": d.status, "reasons": list(d.reasons),
                                  "job_id": d.job_id} for d in rec.decisions if d.status != "unchanged"]},
                      indent=2)


def add_against_db_options(parser: argparse.ArgumentParser) -> None:
    """Options of `dhflow plan` for comparing the plan with the database (`--against-db`)."""
    group = parser.add_argument_group("against a database")
    group.add_argument("--against-db", action="store_true",
                       help="compare with the jobs in the Balsam DB: per rule, how many tasks are new, "
                            "unchanged, to rerun and orphaned, and why (writes nothing)")
    group.add_argument("--db", metavar="DIR",
                       help="Balsam DB directory (default: $BALSAM_DB_PATH, else .dhflow/db next to FILE)")
    group.add_argument("--rerun", choices=("failed", "all"), default=None,
                       help="with --against-db: show what `submit --rerun` would reset")


def plan_against_db(args, plan_dict: dict) -> int:
    """`dhflow plan FILE --against-db`: print the reconciliation (table, or JSON with
    ``--format json``); 0 when the DB could be read, 3 when not (one line on stderr)."""

    def handler(a, _compile) -> int:
        from dhflow.backends import balsam as backend

        backend.validate(plan_dict)
        rec, path, why = _reconcile_if_reachable(a, plan_dict, getattr(a, "rerun", None))
        if rec is None:
            raise BackendError(why)
        if getattr(a, "format", "table") == "json":
            print(_reconciliation_json(rec))
        else:
            sys.stdout.write(rec.render())
            print(f"(database {path})")
        return 0

    return _guard(handler, None)(args)


# ------------------------------------------------------------------ handlers
@contextlib.contextmanager
def _bulk_phase():
    """No cyclic garbage collection while compiling and writing a plan.

    Compiling a 100k-task plan and reconciling it allocate millions of long-lived, acyclic
    objects; every collection of the oldest generation walks all of them again (about a
    quarter of the compile time, and of the write).  The phase creates no cyclic garbage
    worth collecting; collection resumes afterwards (long `dhflow run` polls collect as usual).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def cmd_run(args, compile_plan: CompileFn) -> int:
    from dhflow import launch, progress, results

    with _bulk_phase():
        plan = load_plan(args.file, compile_plan)
        if plan is None:
            return 1
        from dhflow.backends import balsam as backend

        backend.validate(plan)
        job_mode = launch.choose_job_mode(plan, args.job_mode)
        launch.check_local_resources(plan, job_mode)
        path = resolve_db(args, plan, create=True)
        _activate(path, "local")
        written = backend.apply(plan, rerun=args.rerun, prune=args.prune, command="run", validated=True)
    gc.freeze()  # the plan lives until the end: keep it out of every later collection
    _report_write(written)
    _note_substring_workflows(plan["workflow"])
    live = progress.LiveProgress(plan["workflow"], stream=sys.stderr)
    _note(f"running workflow {plan['workflow']} with Balsam's launcher ({job_mode} mode, DB {path})")
    try:
        outcome = launch.run_local(plan, path, written.ids, job_mode, timeout=args.timeout, progress=live)
    except KeyboardInterrupt:
        _err("interrupted: the launcher was stopped (running tasks are marked RUN_TIMEOUT; "
             "`dhflow run` again resumes the workflow)")
        return 130
    live.close()
    by_key, _ = _jobs_by_key(plan)
    counts = progress.rule_counts(plan, _states_by_name(plan, by_key))
    print(progress.table(counts))
    records = results.collect(plan, by_key)
    if records:
        print()
        print(results.format_table(records))
    failed = [t["name"] for t in plan["tasks"]
              if t["key"] in by_key and by_key[t["key"]].state in ("FAILED", "USER_KILLED")]
    for name in failed[:10]:
        job = next(by_key[t["key"]] for t in plan["tasks"] if t["name"] == name)
        _note(f"task {name} {job.state}: {results.failure_reason(job)}")
    if len(failed) > 10:
        _note(f"... and {len(failed) - 10} more failed tasks (`dhflow status`)")
    if outcome.mpirun_standin:
        _note("no MPI found: tasks ran under dhflow's mpirun stand-in (a task of R ranks ran as R separate "
              "processes with PMI_RANK/PMI_SIZE set, without MPI communication); install MPICH for real MPI")
    if outcome.timed_out:
        _err(f"timed out after {args.timeout:g} s with tasks still pending; the launcher was stopped "
             "(the jobs stay in the database: `dhflow run` again resumes them)")
        return 3
    _note(f"workflow {plan['workflow']} done in {outcome.seconds:.0f} s"
          + (f": {len(failed)} of {len(plan['tasks'])} tasks failed "
             "(`dhflow run FILE --rerun failed` runs them and their dependants again)" if failed else ""))
    return EXIT_TASKS_FAILED if failed else 0


def cmd_submit(args, compile_plan: CompileFn) -> int:
    with _bulk_phase():
        return _submit(args, compile_plan)


def _submit(args, compile_plan: CompileFn) -> int:
    phase("start")
    if not args.dry_run and not args.rerun and not args.file.endswith(".json"):
        try:
            from dhflow import api  # noqa: F401  (the compiler: absent in a runtime-only install)
        except ImportError:
            pass
        else:
            return _submit_streaming(args)
    return _submit_full(args, compile_plan)


def _spec_only(path: str):
    """(source, spec, diagnostics) of a .dhflow file parsed, lowered, built and checked (not
    sampled, not expanded: cheap), or None when it does not get that far without errors
    (the full compile that follows then reports them)."""
    from dhflow.checks import run_checks
    from dhflow.diagnostics import DiagnosticError, has_errors
    from dhflow.lower import to_ast
    from dhflow.source import SourceFile
    from dhflow.spec import build_spec
    from dhflow.syntax import parse_tree

    try:
        src = SourceFile.read(path)
    except (OSError, UnicodeDecodeError):
        return None
    try:
        spec, diags = build_spec(src, to_ast(src, parse_tree(src)))
        if spec is None or has_errors(diags):
            return None
        diags = list(diags) + list(run_checks(spec))
    except (DiagnosticError, RecursionError):
        return None
    if has_errors(diags):
        return None
    return src, spec, diags


def _explicit_job_mode(args, head: dict) -> str | None:
    """The job mode given on the command line or in the file (None: chosen from the tasks)."""
    launch_conf = head.get("launch") or {}
    return getattr(args, "job_mode", None) or launch_conf.get("job_mode") or None


def _launch_fits(opts, explicit_mode: str | None, max_nodes, all_serial) -> bool:
    """Would the launch checks pass for a plan with these figures (recorded at an earlier
    submission)?  False when unknown: the submission then compiles and checks each task."""
    if max_nodes is None or all_serial is None:
        return False
    if explicit_mode == "serial" and not all_serial:
        return False
    limit = 1 if opts.scheduler == "local" else int(opts.nodes)
    return max_nodes <= limit


def _launch_after_submit(args, opts, job_mode: str, path: str, wf: str) -> int:
    from dhflow import launch
    from dhflow.backends.localdb import LocalDB

    if args.no_launch:
        _note("--no-launch: no launcher submitted")
        return 0
    opts.job_mode = job_mode
    if opts.scheduler == "local":
        pid, log = launch.start_background({"workflow": wf}, path, job_mode, time_limit_minutes=opts.wall_time)
        print(f"launcher started in the background (pid {pid}, {job_mode} mode); log: {log}")
        return 0
    if LocalDB.is_managed(path):
        _note(f"warning: the project-local DB {path} listens on 127.0.0.1 only; compute nodes cannot reach it "
              "(set BALSAM_DB_PATH to a Balsam DB reachable from the compute nodes)")
    sched_id, script = launch.submit_scheduler(opts, wf)
    print(f"submitted {opts.scheduler} job {sched_id} for workflow {wf} "
          f"({opts.nodes} nodes, {opts.wall_time} min, {job_mode} mode); script: {script}")
    return 0


def _submit_streaming(args) -> int:
    """`submit` without --rerun or --dry-run: compile while writing.

    1. Parse and check the file (cheap); when the workflow's latest submission had the same
       input digest and its jobs still have exactly that plan's keys, nothing can change:
       record the submission and launch, without compiling (:func:`backend.submit_unchanged`).
    2. Else compile in streaming mode: parse, check and sample now, expand as the COPY pulls
       the tasks (:func:`backend.apply_stream`): the compile overlaps the server's work.  An
       expansion error half-way aborts the transaction (nothing written), exit 1.
    """
    from dhflow import launch
    from dhflow.api import compile_file_streaming, input_digest
    from dhflow.backends import balsam as backend
    from dhflow.diagnostics import DiagnosticError, render_all

    def launch_opts(head: dict):
        opts = launch.launch_options({"launch": head.get("launch"), "tasks": ()}, args)
        missing = opts.missing()
        if missing:
            raise UsageError(f"submitting to {opts.scheduler} needs " + ", ".join(missing))
        return opts

    path = None
    digest0 = None
    pre = _spec_only(args.file)
    if pre is not None:
        from dhflow.expand import plan_head

        src, spec, diags = pre
        digest0 = input_digest(spec)
        head = plan_head(spec).to_dict()
        head.pop("tasks", None)
        opts = launch_opts(head)
        explicit = _explicit_job_mode(args, head)
        if os.path.exists(os.path.join(_db_path_for(args, head), "server-info")):
            # a database that has never been created has no earlier submission
            path = resolve_db(args, head, create=True)
            _activate(path, "local" if opts.scheduler == "local" else opts.scheduler)
            phase("parse and check; database up, Balsam activated")
            if not args.prune:  # (nothing to prune when the keys are the plan's exactly, but say so the usual way)
                written = backend.submit_unchanged(
                    head, digest0, command="submit",
                    accept=lambda mx, ser: _launch_fits(opts, explicit, mx, ser))
                if written is not None:
                    if diags:
                        print(render_all(diags, src), file=sys.stderr)
                    _report_write(written)
                    _note_substring_workflows(head["workflow"])
                    mode = explicit or ("serial" if written.all_serial else "mpi")
                    return _launch_after_submit(args, opts, mode, path, head["workflow"])
                phase("input or jobs changed since the last submission: compiling")
    stream = compile_file_streaming(args.file)
    if not stream.ok:
        if stream.diagnostics:
            print(render_all(stream.diagnostics, stream.source), file=sys.stderr)
        return 1
    head = stream.head
    digest = input_digest(stream.spec)
    phase("parse, check and sample")
    opts = launch_opts(head)
    explicit = _explicit_job_mode(args, head)
    mode_for_checks = explicit or "mpi"  # chosen from the tasks: only the node counts can fail
    one = {"tasks": ()}
    if opts.scheduler == "local":
        def check_task(task):
            one["tasks"] = (task,)
            launch.check_local_resources(one, mode_for_checks)
    else:
        nodes = int(opts.nodes)

        def check_task(task):
            one["tasks"] = (task,)
            launch.check_scheduler_resources(one, nodes, mode_for_checks)
    if path is None:
        path = resolve_db(args, head, create=True)
        _activate(path, "local" if opts.scheduler == "local" else opts.scheduler)
        phase("database up, Balsam activated")
    try:
        written = backend.apply_stream(
            head, stream.tasks, prune=args.prune, command="submit", check_task=check_task,
            # recorded only when the file (and points file) did not change while it was read twice
            input_digest=digest if digest == digest0 else None)
    except DiagnosticError as exc:
        diags = list(stream.diagnostics)
        diags += [d for d in exc.diagnostics if not any(d is x for x in diags)]
        print(render_all(diags, stream.source), file=sys.stderr)
        return 1
    if stream.diagnostics:
        print(render_all(stream.diagnostics, stream.source), file=sys.stderr)
    _report_write(written)
    _note_substring_workflows(head["workflow"])
    mode = explicit or ("serial" if written.all_serial else "mpi")
    return _launch_after_submit(args, opts, mode, path, head["workflow"])


def _submit_full(args, compile_plan: CompileFn) -> int:
    """`submit --rerun`, `submit --dry-run` and plan JSON files: compile first, then write."""
    from dhflow import launch
    from dhflow.backends import balsam as backend
    from dhflow.backends.localdb import LocalDB

    plan = load_plan(args.file, compile_plan)
    if plan is None:
        return 1
    phase("compile (and Plan.to_dict)")
    backend.validate(plan)
    opts = launch.launch_options(plan, args)
    missing = opts.missing()
    if missing:
        raise UsageError(f"submitting to {opts.scheduler} needs " + ", ".join(missing))
    if opts.scheduler == "local":
        launch.check_local_resources(plan, opts.job_mode)
    else:
        launch.check_scheduler_resources(plan, int(opts.nodes), opts.job_mode)
    wf = plan["workflow"]
    if args.dry_run:
        return _submit_dry_run(args, plan, opts)
    path = resolve_db(args, plan, create=True)
    profile = "local" if opts.scheduler == "local" else opts.scheduler
    phase("validate and check resources")
    _activate(path, profile)
    phase("database up, Balsam activated")
    written = backend.apply(plan, rerun=args.rerun, prune=args.prune, command="submit", validated=True)
    _report_write(written)
    _note_substring_workflows(wf)
    if args.no_launch:
        _note("--no-launch: no launcher submitted")
        return 0
    if opts.scheduler == "local":
        pid, log = launch.start_background(plan, path, opts.job_mode, time_limit_minutes=opts.wall_time)
        print(f"launcher started in the background (pid {pid}, {opts.job_mode} mode); log: {log}")
        return 0
    if LocalDB.is_managed(path):
        _note(f"warning: the project-local DB {path} listens on 127.0.0.1 only; compute nodes cannot reach it "
              "(set BALSAM_DB_PATH to a Balsam DB reachable from the compute nodes)")
    sched_id, script = launch.submit_scheduler(opts, wf)
    print(f"submitted {opts.scheduler} job {sched_id} for workflow {wf} "
          f"({opts.nodes} nodes, {opts.wall_time} min, {opts.job_mode} mode); script: {script}")
    return 0


def _submit_dry_run(args, plan: dict, opts) -> int:
    from dhflow import launch
    from dhflow.backends import balsam as backend

    rec, path, why = _reconcile_if_reachable(args, plan, args.rerun)
    apps = backend.app_rows(plan)
    print("# dry run: nothing written, nothing submitted")
    print(f"# database: {path}")
    print(f"# {len(apps)} applications (created or updated to match):")
    for app in apps:
        print(f"#   {app['name']}: {app['executable']}")
    if rec is None:
        print(f"# database not reachable ({why}): showing every task as new")
        new = {t["name"] for t in plan["tasks"]}
    else:
        print("# " + rec.render().rstrip("\n").replace("\n", "\n# "))
        new = {d.name for d in rec.of("new")}
        if args.prune and rec.of("orphaned"):
            print(f"# --prune: the {len(rec.of('orphaned'))} orphaned jobs would be deleted")
        elif rec.of("orphaned"):
            print(f"# the {len(rec.of('orphaned'))} orphaned jobs would stay (--prune deletes them)")
    rows, _, _ = backend.plan_job_rows(plan, {t["key"]: "(in the DB)" for t in plan["tasks"]
                                              if t["name"] not in new})
    print(f"# {len(rows)} new jobs of workflow {plan['workflow']} would be written:")
    for row in rows:
        parents = json.loads(row["parents"])
        print(f"#   {row['name']}: app={row['application']} nodes={row['num_nodes']} "
              f"ranks_per_node={row['ranks_per_node']} threads_per_rank={row['threads_per_rank']} "
              f"wall_time={row['wall_time_minutes']} parents={len(parents)}"
              + (f" env={row['environ_vars']}" if row["environ_vars"] else ""))
    if args.no_launch:
        print("# --no-launch: no launcher would be submitted")
        return 0
    if opts.scheduler == "local":
        cmd = launch.launcher_command(plan["workflow"], opts.job_mode, opts.wall_time)
        print("# launcher that would start in the background on this machine:")
        print(" ".join(cmd))
        return 0
    print(f"# batch script for {opts.scheduler}:")
    sys.stdout.write(launch.render_script(opts, plan["workflow"], path))
    return 0


def _open_existing(args, compile_plan: CompileFn) -> tuple[dict, str] | None:
    """For the commands that read a workflow's jobs: its plan and its (existing) DB,
    activated; None after compile diagnostics were printed."""
    plan = load_plan(args.file, compile_plan)
    if plan is None:
        return None
    path = resolve_db(args, plan, create=False, quiet=True)
    _activate(path, "local")
    return plan, path


def cmd_status(args, compile_plan: CompileFn) -> int:
    from dhflow import progress

    opened = _open_existing(args, compile_plan)
    if opened is None:
        return 1
    plan, path = opened
    by_key, stale = _jobs_by_key(plan)
    counts = progress.rule_counts(plan, _states_by_name(plan, by_key))
    if getattr(args, "format", "table") == "json":
        print(json.dumps({"workflow": plan["workflow"], "database": path,
                          "rules": {r: dict(c) for r, c in counts.items()}, "stale_jobs": stale}, indent=2))
        return 0
    print(f"workflow {plan['workflow']} (database {path})")
    print(progress.table(counts))
    if stale:
        print(f"{stale} jobs of this workflow are not in the current plan (orphans of older definitions; "
              "`dhflow submit FILE --prune` removes them)")
    return 0


def cmd_results(args, compile_plan: CompileFn) -> int:
    from dhflow import results

    opened = _open_existing(args, compile_plan)
    if opened is None:
        return 1
    plan, path = opened
    by_key, _ = _jobs_by_key(plan)
    records = results.collect(plan, by_key)
    fmt = args.format
    if fmt == "json":
        print(results.format_json(records))
    elif fmt == "csv":
        sys.stdout.write(results.format_csv(records))
    else:
        print(results.format_table(records))
    return 0


def cmd_history(args, compile_plan: CompileFn) -> int:
    from dhflow.backends import balsam as backend

    opened = _open_existing(args, compile_plan)
    if opened is None:
        return 1
    plan, path = opened
    rows = backend.submissions(plan["workflow"], limit=args.limit)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"workflow {plan['workflow']} has no recorded submissions in {path}")
        return 0
    header = ["#", "submitted (UTC)", "command", "commit", "dirty", "added", "kept", "rerun", "pruned",
              "orphaned", "spec sha256"]
    table = [header]
    for r in rows:
        table.append([str(r["id"]), (r["submitted_at"] or "")[:19].replace("T", " "),
                      (r["command"] + (" " + r["options"] if r["options"] else "")),
                      (r["git_commit"] or "-")[:10], "-" if r["git_dirty"] is None else ("yes" if r["git_dirty"] else "no"),
                      str(r["added"]), str(r["kept"]), str(r["rerun"]), str(r["pruned"]), str(r["orphaned"]),
                      (r["spec_sha256"] or "-")[:12]])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"workflow {plan['workflow']}: {len(rows)} submission{'s' if len(rows) != 1 else ''}, newest first "
          f"(database {path})")
    for row in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0


def cmd_clean(args, compile_plan: CompileFn) -> int:
    from dhflow.backends import balsam as backend

    opened = _open_existing(args, compile_plan)
    if opened is None:
        return 1
    plan, path = opened
    wf = plan["workflow"]
    count = backend.count_workflow(wf)
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
    deleted = backend.delete_workflow(wf)
    print(f"deleted {deleted} jobs of workflow {wf} (working directories under {path}/data/{wf} are kept)")
    return 0


def cmd_db(args, compile_plan: CompileFn) -> int:
    from dhflow.backends.localdb import LocalDB, default_location

    plan = None
    if getattr(args, "file", None):
        plan = load_plan(args.file, compile_plan)
        if plan is None:
            return 1
    if args.db:
        path = os.path.abspath(os.path.expanduser(args.db))
    elif os.environ.get("BALSAM_DB_PATH"):
        path = os.path.abspath(os.path.expanduser(os.environ["BALSAM_DB_PATH"]))
    else:
        path = str(default_location(_spec_dir(plan, getattr(args, "file", None))))
    db = LocalDB(path)
    foreign = os.path.exists(os.path.join(path, "server-info")) and not LocalDB.is_managed(path)
    verb = args.verb
    if verb == "start":
        if foreign:
            raise UsageError(f"{path} is a Balsam DB not created by dhflow: start it with Balsam's tools "
                             "(`balsam server --connect`)")
        created = db.start()
        st = db.status()
        print(f"Balsam DB {'created and ' if created else ''}running on {st.host}:{st.port}")
        print(f"export BALSAM_DB_PATH={path}")
        return 0
    if verb == "stop":
        if foreign:
            raise UsageError(f"{path} is a Balsam DB not created by dhflow: stop it with Balsam's tools")
        if db.stop():
            print(f"stopped the Balsam DB in {path}")
        else:
            print(f"the Balsam DB in {path} is not running")
        return 0
    # status / show
    if foreign:
        info = db.server_info()
        print(f"Balsam DB (not managed by dhflow): {path}")
        print(f"server-info: {info.get('host') or '-'}:{info.get('port') or '-'}")
        return 0
    st = db.status()
    print(f"Balsam DB: {path}")
    print(f"state: {st.message}")
    if st.exists:
        print(f"data directory: {db.pgdata}")
    if st.reachable:
        print(f"export BALSAM_DB_PATH={path}")
    return 0 if st.exists else 3


# ----------------------------------------------------------------- wiring
def _guard(handler, compile_plan):
    def run(args) -> int:
        try:
            return handler(args, compile_plan)
        except BackendError as exc:
            _err(str(exc))
            return exc.exit_code
        except KeyboardInterrupt:
            _err("interrupted")
            return 130
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] in ("balsam", "django", "psycopg2"):
                _err(f"the Balsam backend is not installed ({exc.name} is missing): "
                     "pip install 'dhflow[balsam]'")
                return 3
            raise
        except NotADirectoryError as exc:
            _err(f"not a directory: {exc.filename}")
            return 2
        except Exception as exc:  # never a traceback for the user
            if os.environ.get("DHFLOW_DEBUG"):
                traceback.print_exc()
            name = type(exc).__module__ + "." + type(exc).__name__
            if name.startswith(("django.db", "psycopg2")):
                from dhflow.backends.env import database_error_message

                _err(database_error_message(exc, os.environ.get("BALSAM_DB_PATH")))
                return 3
            first = (str(exc).strip().splitlines() or [""])[0]
            _err(f"unexpected {type(exc).__name__}: {first} (DHFLOW_DEBUG=1 shows the traceback)")
            return 3
    return run


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


def _add_db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="DIR",
                   help="Balsam DB directory (default: $BALSAM_DB_PATH, else .dhflow/db next to FILE)")


def _add_reconcile_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rerun", choices=("failed", "all"), default=None,
                   help="reset these jobs (failed: FAILED/killed/errored ones) and their dependants so that "
                        "Balsam runs them again")
    p.add_argument("--prune", action="store_true",
                   help="delete the jobs of this workflow whose tasks are no longer in the file (orphans)")


def register(subparsers, compile_plan: CompileFn) -> None:
    """Add run, submit, status, results, clean and db to an argparse subparsers object."""
    p = subparsers.add_parser("run", help="write the jobs and run them on this machine with Balsam's launcher")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--job-mode", choices=("serial", "mpi"), default=None,
                   help="Balsam launcher job mode (default: serial when every task is single-rank)")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="S",
                   help="stop the launcher after S seconds (exit 3)")
    _add_reconcile_options(p)
    _add_db_option(p)
    p.set_defaults(func=_guard(cmd_run, compile_plan))

    p = subparsers.add_parser("submit", help="write the jobs and submit a Balsam launcher job")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--scheduler", choices=("cobalt", "slurm", "pbs", "local"), default=None)
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
    p.set_defaults(func=_guard(cmd_submit, compile_plan))

    p = subparsers.add_parser("status", help="job states per rule")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("table", "json"), default="table")
    _add_db_option(p)
    p.set_defaults(func=_guard(cmd_status, compile_plan))

    p = subparsers.add_parser("results", help="objectives of the tasks, best first")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    _add_db_option(p)
    p.set_defaults(func=_guard(cmd_results, compile_plan))

    p = subparsers.add_parser("history", help="the submissions of this workflow, newest first")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="the N newest only")
    _add_db_option(p)
    p.set_defaults(func=_guard(cmd_history, compile_plan))

    p = subparsers.add_parser("clean", help="delete this workflow's jobs (and no other workflow's)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    _add_db_option(p)
    p.set_defaults(func=_guard(cmd_clean, compile_plan))

    p = subparsers.add_parser("db", help="the project-local Balsam database")
    p.add_argument("verb", choices=("start", "stop", "status", "show"))
    p.add_argument("file", metavar="FILE", nargs="?", help="a .dhflow file (its directory holds .dhflow/db)")
    _add_db_option(p)
    p.set_defaults(func=_guard(cmd_db, compile_plan))


def _default_compile(path: str):
    """The compiler's compile_plan when it exists (used by ``python -m dhflow.runtime_cli``)."""
    try:
        from dhflow.cli import compile_plan
    except ImportError:
        _err(f"{path}: the dhflow compiler is not available; give a plan JSON file")
        return None
    return compile_plan(path)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point for the runtime commands (tests, development)."""
    parser = argparse.ArgumentParser(prog="dhflow")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub, _default_compile)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
