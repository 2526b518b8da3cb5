"""Launch policy, pure: which job mode, which launcher options, which tasks can run where.

Plain values in (the plan dict and the command's overrides), plain values out; process
control and scheduler submission live in :mod:`dhflow.balsam.launcher` and
:mod:`dhflow.balsam.scheduler`.
"""
from __future__ import annotations

from dataclasses import dataclass

from dhflow.errors import UsageError
from dhflow.target import SCHEDULERS, LaunchOptions, serial_compatible


def choose_job_mode(plan: dict, requested: str | None) -> str:
    """``requested`` if given, else a local ``launch.job_mode``, else serial when every task
    is single-node and single-rank, else mpi."""
    if requested:
        return requested
    launch = plan.get("launch") or {}
    if launch.get("scheduler") == "local" and launch.get("job_mode"):
        return launch["job_mode"]
    return "serial" if all(serial_compatible(t) for t in plan["tasks"]) else "mpi"


def check_local_resources(plan: dict, job_mode: str) -> None:
    """Refuse tasks that a launcher on this one machine could never start."""
    for task in plan["tasks"]:
        if int(task.get("num_nodes", 1)) > 1:
            raise UsageError(
                f"task {task['name']} needs {task['num_nodes']} nodes; a launcher on this machine has 1 "
                "(use `dhflow submit` with a scheduler)")
        if job_mode == "serial" and not serial_compatible(task):
            raise UsageError(
                f"task {task['name']} has ranks_per_node={task['ranks_per_node']}; Balsam's serial mode only "
                "runs single-rank tasks: use --job-mode mpi")


def check_scheduler_resources(plan: dict, nodes: int, job_mode: str) -> None:
    """Refuse tasks that a batch launcher of ``nodes`` nodes in ``job_mode`` could never start."""
    for task in plan["tasks"]:
        if int(task.get("num_nodes", 1)) > nodes:
            raise UsageError(f"task {task['name']} needs {task['num_nodes']} nodes but the launcher job has {nodes}")
        if job_mode == "serial" and not serial_compatible(task):
            raise UsageError(f"task {task['name']} is an MPI task (num_nodes={task['num_nodes']}, "
                             f"ranks_per_node={task['ranks_per_node']}); Balsam's serial mode cannot run it: "
                             "use --job-mode mpi")


@dataclass
class LaunchOverrides:
    """What the command line says about the launcher (None: take the file's ``launch:``)."""

    scheduler: str | None = None
    project: str | None = None
    queue: str | None = None
    nodes: int | None = None
    wall_time: int | None = None
    job_mode: str | None = None
    sched_flags: str | None = None


def launch_options(plan: dict, overrides: LaunchOverrides) -> LaunchOptions:
    """The file's ``launch:`` block with the command line's overrides on top."""
    launch = plan.get("launch") or {}

    def pick(attr, key):
        value = getattr(overrides, attr, None)
        return value if value is not None else launch.get(key)

    scheduler = pick("scheduler", "scheduler") or "local"
    if scheduler not in SCHEDULERS:
        raise UsageError(f"unknown scheduler {scheduler!r} (one of {', '.join(SCHEDULERS)})")
    job_mode = overrides.job_mode or launch.get("job_mode") or choose_job_mode(plan, None)
    return LaunchOptions(scheduler, pick("project", "project"), pick("queue", "queue"),
                         pick("nodes", "nodes"), pick("wall_time", "wall_time"), job_mode,
                         pick("sched_flags", "sched_flags") or "", launch.get("setup") or "")


def setup_lines(opts: LaunchOptions) -> list[str]:
    """The ``launch: setup:`` shell lines (e.g. ``module load ...``) of a batch script, in order."""
    return [line.strip() for line in (opts.setup or "").splitlines() if line.strip()]


def checked_options(plan: dict, overrides: LaunchOverrides) -> LaunchOptions:
    """:func:`launch_options`, refusing a batch submission that lacks a required option."""
    opts = launch_options(plan, overrides)
    missing = opts.missing()
    if missing:
        raise UsageError(f"submitting to {opts.scheduler} needs " + ", ".join(missing))
    return opts


def launch_fits(opts: LaunchOptions, explicit_mode: str | None, max_nodes, all_serial) -> bool:
    """Would the launch checks pass for a plan with these figures (recorded at an earlier
    submission)?  False when unknown: the submission then compiles and checks each task."""
    if max_nodes is None or all_serial is None:
        return False
    if explicit_mode == "serial" and not all_serial:
        return False
    limit = 1 if opts.scheduler == "local" else int(opts.nodes)
    return max_nodes <= limit


def minutes(seconds: float | None) -> float | None:
    """Seconds rounded up to whole minutes (None stays None)."""
    import math

    return None if seconds is None else math.ceil(seconds / 60.0)
