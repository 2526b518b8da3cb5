"""The backend's surface for launching: Balsam's launcher here, and batch submissions.

One of the three modules :mod:`dhflow.runtime` imports from the backend (with
:mod:`dhflow.balsam.servers` and :mod:`dhflow.balsam.jobstore`): the launcher process and
its lifetime (:mod:`dhflow.balsam.launcher`, :mod:`dhflow.balsam.live_launcher`), the batch
script and the scheduler's submit command (:mod:`dhflow.balsam.scheduler`,
:mod:`dhflow.balsam.submit_command`).
"""
from __future__ import annotations

from dhflow.balsam.launcher import RunOutcome, launcher_command, run_local, start_background
from dhflow.balsam.live_launcher import LiveLauncher
from dhflow.balsam.scheduler import render_script, submit_scheduler
from dhflow.balsam.submit_command import require_submit_command

__all__ = ["LiveLauncher", "RunOutcome", "launcher_command", "render_script", "require_submit_command",
           "run_local", "start_background", "submit_scheduler"]
