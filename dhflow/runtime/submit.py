"""The submit verb: bring the database in line with the experiment, then launch.

:func:`submit` picks the path (never the CLI); one outcome type:

* a sweep without ``--rerun``: when the workflow's latest submission had the same input
  digest and its jobs still carry exactly that plan's keys, nothing can change: record the
  submission and launch without compiling.  Else compile in streaming mode: the COPY pulls
  the tasks from the compiler, so compiling overlaps the server's work; an expansion error
  half-way aborts the transaction (nothing written);
* ``--rerun``, plan JSON files and a kept job whose code changed: the whole plan compiled,
  then written;
* a search: the trials recorded so far, the rules before them and the search's driver job.

:func:`dry_run` (``--dry-run``): what would change and what would be written, from the same
rows as a real write; nothing written, nothing submitted.  The experiment is parsed once,
compiled at most once.  Plain values in, result objects out; ``notify`` receives the
one-line notes a user sees while it happens.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from dhflow.errors import CompileFailed, phase
from dhflow.runtime import database, launching
from dhflow.runtime.experiment import Experiment
from dhflow.runtime.launching import LaunchOverrides
from dhflow.runtime.provenance import provenance
from dhflow.reconcile.code import CodeChanged

Notify = Callable[[str], None]


@dataclass
class SubmitRequest:
    """What ``dhflow submit`` was asked to do."""

    file: str
    db: str | None = None
    overrides: LaunchOverrides = field(default_factory=LaunchOverrides)
    rerun: str | None = None
    prune: bool = False
    no_launch: bool = False


@dataclass
class LaunchReport:
    """How the launcher was started (None fields: not started)."""

    scheduler: str
    job_mode: str
    pid: int | None = None
    log: str | None = None
    scheduler_id: object = None
    script: str | None = None
    nodes: int | None = None
    wall_time: int | None = None


@dataclass
class SubmitOutcome:
    """A finished submission: the write, the compile's warnings, and the launch."""

    path: str
    written: object                      # dhflow.balsam.store.WriteResult
    warnings: list = field(default_factory=list)
    source: object = None
    opts: object = None                  # dhflow.target.LaunchOptions
    mode: str | None = None              # the launcher's job mode


def _explicit_job_mode(req: SubmitRequest, head: dict) -> str | None:
    """The job mode given on the command line or in the file (None: chosen from the tasks)."""
    return req.overrides.job_mode or (head.get("launch") or {}).get("job_mode") or None


def submit(exp: Experiment, req: SubmitRequest, notify: Notify, on_written=None) -> tuple[SubmitOutcome, object]:
    """``dhflow submit``: the jobs written (:func:`write`), ``on_written(outcome, workflows
    whose names contain this one's)`` told, then the launcher started; (the outcome, its
    :class:`LaunchReport` or None with ``--no-launch``)."""
    outcome = write(exp, req, notify)
    wf = outcome.written.workflow
    if on_written is not None:
        on_written(outcome, workflows_sharing_name(wf))
    return outcome, launch_after_submit(req, outcome.opts, outcome.mode, outcome.path, wf, notify)


def launch_after_submit(req: SubmitRequest, opts, job_mode: str, path: str, wf: str,
                        notify: Notify) -> LaunchReport | None:
    """Start the launcher the submission asks for (None with ``--no-launch``)."""
    if req.no_launch:
        notify("--no-launch: no launcher submitted")
        return None
    opts.job_mode = job_mode
    if opts.scheduler == "local":
        from dhflow.balsam import launchers

        pid, log = launchers.start_background(wf, path, job_mode, time_limit_minutes=opts.wall_time)
        return LaunchReport("local", job_mode, pid=pid, log=log)
    from dhflow.balsam import launchers

    sched_id, script = launchers.submit_scheduler(opts, wf, setup=launching.setup_lines(opts))
    return LaunchReport(opts.scheduler, job_mode, scheduler_id=sched_id, script=script, nodes=opts.nodes,
                        wall_time=opts.wall_time)


def _require_reachable(req: SubmitRequest, opts, head: dict) -> None:
    """A launcher on compute nodes needs the scheduler's submit command here (sbatch, qsub)
    and a database they can reach: both checked before any write."""
    if opts.scheduler != "local" and not req.no_launch:
        from dhflow.balsam.launchers import require_submit_command

        database.require_reachable_from_nodes(req.db, head, req.file)
        require_submit_command(opts.scheduler, database.locate(req.db, head, req.file).path)


def _task_checker(opts, mode_for_checks: str):
    """A per-task launch check for the streaming write (a task is checked as it is compiled).

    The checks read a task's num_nodes and ranks_per_node only: each pair is checked once
    (a sweep has a handful), a failing one with the first task that has it."""
    one = {"tasks": ()}
    passed: set = set()
    if opts.scheduler == "local":
        def check(task):
            launching.check_local_resources(one, mode_for_checks)
    else:
        nodes = int(opts.nodes)

        def check(task):
            launching.check_scheduler_resources(one, nodes, mode_for_checks)

    def check_task(task):
        shape = (task.get("num_nodes", 1), task.get("ranks_per_node", 1))
        if shape not in passed:
            one["tasks"] = (task,)
            check(task)
            passed.add(shape)
    return check_task


def _try_unchanged(exp: Experiment, req: SubmitRequest):
    """(outcome or None, path or None) of the compile-free path."""
    head = exp.head()
    opts = launching.checked_options({"launch": head.get("launch"), "tasks": ()}, req.overrides)
    explicit = _explicit_job_mode(req, head)
    _require_reachable(req, opts, head)
    where = database.locate(req.db, head, req.file)
    if not where.exists:  # a database that has never been created has no earlier submission
        return None, None
    path = database.open_database(req.db, head, req.file, create=True, profile=opts.profile)
    phase("parse and check; database up, Balsam activated")
    if req.prune:  # (nothing to prune when the keys are the plan's exactly, but say so the usual way)
        return None, path
    from dhflow.balsam import jobstore

    written = jobstore.submit_unchanged(head, exp.digest(), command="submit", provenance=provenance(head),
                                     accept=lambda mx, ser: launching.launch_fits(opts, explicit, mx, ser))
    if written is None:
        phase("input or jobs changed since the last submission: compiling")
        return None, path
    mode = explicit or ("serial" if written.all_serial else "mpi")
    return SubmitOutcome(path, written, opts=opts, mode=mode), path


def write(exp: Experiment, req: SubmitRequest, notify: Notify) -> SubmitOutcome:
    """The jobs of the experiment written (the launcher is not started yet: call
    :func:`launch_after_submit` with ``outcome.opts`` and ``outcome.mode`` once the write
    has been reported)."""
    if exp.is_search:
        head = exp.head()  # a batch submission the nodes could not serve: refused before the DB exists
        _require_reachable(req, launching.checked_options({"launch": head.get("launch"), "tasks": ()},
                                                          req.overrides), head)
        return submit_plan(req, search_plan(exp, req, dry_run=False))
    if exp.spec is None or req.rerun:
        return submit_plan(req, exp.plan())
    return _write_streaming(exp, req, notify)


def _write_streaming(exp: Experiment, req: SubmitRequest, notify: Notify) -> SubmitOutcome:
    """A sweep without ``--rerun``: compile-free when unchanged, else compiled while written."""
    from dhflow.compiler.diagnostics import DiagnosticError

    unchanged, path = _try_unchanged(exp, req)
    if unchanged is not None:
        return unchanged
    digest0 = exp.digest()
    stream = exp.streaming()
    if not stream.ok:
        raise CompileFailed(stream.diagnostics, stream.source)
    head = stream.head
    phase("parse, check and sample")
    opts = launching.checked_options(head | {"tasks": ()}, req.overrides)
    explicit = _explicit_job_mode(req, head)
    check_task = _task_checker(opts, explicit or "mpi")  # chosen from the tasks: only node counts can fail
    if path is None:
        path = database.open_database(req.db, head, req.file, create=True, profile=opts.profile)
        phase("database up, Balsam activated")
    from dhflow.balsam import jobstore

    try:
        written = jobstore.apply_stream(
            head, stream.tasks, prune=req.prune, command="submit", check_task=check_task, provenance=provenance(head),
            # recorded only when the code the file names did not change while it was compiled
            input_digest=digest0 if exp.digest() == digest0 else None)
    except DiagnosticError as exc:
        diags = list(stream.diagnostics)
        diags += [d for d in exc.diagnostics if not any(d is x for x in diags)]
        raise CompileFailed(diags, stream.source) from None
    except CodeChanged:
        # a kept job's code changed: the streaming write (rolled back) cannot rerun jobs;
        # the whole-plan path resets those tasks and their dependants
        notify("code named by the workflow changed: its tasks and their dependants run again")
        return submit_plan(req, exp.plan())
    exp.warnings = list(stream.diagnostics)
    mode = explicit or ("serial" if written.all_serial else "mpi")
    return SubmitOutcome(path, written, opts=opts, mode=mode)


def search_plan(exp: Experiment, req: SubmitRequest, *, dry_run: bool) -> dict:
    """The plan a submission of a search writes: trials so far, rules before them, its driver job."""
    from dhflow.runtime.search_submit import submit_plan as plan_for_submit

    ctx = exp.search()
    profile = launching.launch_options(ctx.head | {"tasks": ()}, req.overrides).profile  # the one the write activates
    return plan_for_submit(ctx, req.db, dry_run=dry_run, profile=profile)


def _checked_launch(req: SubmitRequest, plan: dict):
    """The launch options of a whole plan, its tasks checked against them (local or batch)."""
    opts = launching.checked_options(plan, req.overrides)
    if opts.scheduler == "local":
        launching.check_local_resources(plan, opts.job_mode)
    else:
        launching.check_scheduler_resources(plan, int(opts.nodes), opts.job_mode)
    return opts


def submit_plan(req: SubmitRequest, plan: dict) -> SubmitOutcome:
    """``submit --rerun`` and plan JSON files: the whole plan compiled, then written."""
    from dhflow.balsam import jobstore

    phase("compile (and Plan.to_dict)")
    jobstore.validate(plan)
    opts = _checked_launch(req, plan)
    phase("validate and check resources")
    _require_reachable(req, opts, plan)
    path = database.open_database(req.db, plan, req.file, create=True, profile=opts.profile)
    phase("database up, Balsam activated")
    written = jobstore.apply(plan, rerun=req.rerun, prune=req.prune, command="submit", validated=True,
                          provenance=provenance(plan))
    return SubmitOutcome(path, written, opts=opts, mode=opts.job_mode)


@dataclass
class DryRun:
    """What ``submit --dry-run`` shows: nothing is written, nothing submitted."""

    path: str
    apps: list
    reconciliation: object          # None when the database could not be read
    why_unread: str | None
    rows: list                      # the new jobs' rows, exactly as they would be written
    opts: object
    script: str | None = None       # the batch script (scheduler) or launcher command (local)
    refused: str | None = None      # why a real batch submit would be refused before writing


def reconcile_if_reachable(db: str | None, file: str | None, plan: dict, rerun: str | None):
    """(Reconciliation, path, None) when the DB can be read, else (None, path, why not).

    Never creates a database; a project-local one that exists is started on demand.
    """
    from dhflow.balsam import jobstore
    from dhflow.errors import BackendError

    where = database.locate(db, plan, file)
    if not where.exists:
        return None, where.path, f"no Balsam database at {where.path} yet"
    try:
        path = database.open_database(db, plan, file, create=False, quiet=True)
        return jobstore.reconcile_with_db(plan, rerun, validated=True), path, None
    except BackendError as exc:
        return None, where.path, str(exc)


def dry_run(exp: Experiment, req: SubmitRequest) -> tuple[DryRun, dict]:
    """(the reconciliation with the database when reachable, and the rows a submit would
    write; the plan they come from)."""
    from dhflow.balsam import jobstore, launchers
    from dhflow.errors import BackendError

    plan = search_plan(exp, req, dry_run=True) if exp.is_search else exp.plan()
    jobstore.validate(plan)
    opts = _checked_launch(req, plan)
    rec, path, why = reconcile_if_reachable(req.db, req.file, plan, req.rerun)
    if rec is None:
        new = {t["name"] for t in plan["tasks"]}
    else:
        new = {d.name for d in rec.of("new")}
    job_rows = jobstore.dry_run_rows(plan, new)
    out = DryRun(path, jobstore.app_rows(plan), rec, why, job_rows, opts)
    if not req.no_launch:
        if opts.scheduler == "local":
            out.script = " ".join(launchers.launcher_command(plan["workflow"], opts.job_mode, opts.wall_time))
        else:
            out.script = launchers.render_script(opts, plan["workflow"], path)
            try:  # the same check a real submit makes before writing anything
                _require_reachable(req, opts, plan)
            except BackendError as exc:
                out.refused = str(exc)
    return out, plan


def workflows_sharing_name(workflow: str) -> list[str]:
    """Other workflows whose names contain this one (Balsam's own `--wf` filters mix them)."""
    from dhflow.balsam import jobstore

    return jobstore.workflows_containing(workflow)

