"""The backend's surface for launching: Balsam's launcher here, and batch submissions.

One of the three modules :mod:`dhflow.runtime` imports from the backend (with
:mod:`dhflow.balsam.servers` and :mod:`dhflow.balsam.jobstore`): the launcher process and
its lifetime (:mod:`dhflow.balsam.launcher`, :mod:`dhflow.balsam.live_launcher`), the batch
script and the scheduler's submit command (:mod:`dhflow.balsam.scheduler`,
:mod:`dhflow.balsam.submit_command`).
"""
from __future__ import annotations

from dhflow.balsam.lazy_names import loader

#: name -> (module of dhflow.balsam, its name there): imported on first use (PEP 562).
_NAMES = {
    "RunOutcome": ("launcher", "RunOutcome"), "launcher_command": ("launcher", "launcher_command"),
    "run_local": ("launcher", "run_local"), "start_background": ("launcher", "start_background"),
    "LiveLauncher": ("live_launcher", "LiveLauncher"), "render_script": ("scheduler", "render_script"),
    "submit_scheduler": ("scheduler", "submit_scheduler"),
    "require_submit_command": ("submit_command", "require_submit_command"),
}


__getattr__ = loader(globals(), _NAMES)

__all__ = ["LiveLauncher", "RunOutcome", "launcher_command", "render_script", "require_submit_command",
           "run_local", "start_background", "submit_scheduler"]
