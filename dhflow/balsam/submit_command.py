"""The scheduler's submit command (``sbatch``, ``qsub``), found before anything is written.

Balsam 0.5.0 runs ``sbatch`` from PATH for Slurm, and the profile's
``SCHEDULER_SUBMIT_EXE`` (``qsub`` unless a user edited the profile's settings.json) for
Cobalt and PBS (:mod:`dhflow.balsam.shims.pbs_scheduler`).  Without it on this machine,
``dhflow submit`` would write the jobs, render the batch script, and only then fail
("sbatch: not found"), leaving a script in ``qsubmit/`` at every retry: refused first.
Reads the settings file only; Balsam is not imported.
"""
from __future__ import annotations

import json
import os
import shutil

from dhflow.errors import BackendError


def submit_command(scheduler: str, db_path: str | os.PathLike) -> tuple[str, str | None]:
    """(the command Balsam runs to submit to ``scheduler``, the settings file naming it or None)."""
    if scheduler == "slurm":
        return "sbatch", None   # SlurmScheduler hard-codes it
    from dhflow.balsam.env import PROFILE_DEFAULTS, profile_home

    settings = profile_home(db_path, scheduler) / ".balsam" / "settings.json"
    try:
        exe = json.loads(settings.read_text()).get("SCHEDULER_SUBMIT_EXE")
    except (OSError, ValueError, AttributeError):
        exe = None
    if isinstance(exe, str) and exe.strip():
        return exe.strip(), str(settings)
    return PROFILE_DEFAULTS[scheduler]["SCHEDULER_SUBMIT_EXE"], None


def require_submit_command(scheduler: str, db_path: str | os.PathLike) -> None:
    """Refuse (exit 3) a batch submission whose submit command this machine does not have."""
    exe, settings = submit_command(scheduler, db_path)
    if shutil.which(exe) is not None:
        return
    where = "not found" if "/" in exe else "not found on PATH"
    named = f" (SCHEDULER_SUBMIT_EXE in {settings})" if settings else ""
    raise BackendError(f"{exe} {where}{named}: a {scheduler} launcher job cannot be submitted from this machine, "
                       "so nothing was written; run `dhflow submit` where the scheduler's commands are "
                       f"(the cluster's login node), or put {os.path.basename(exe)} on PATH")
