"""A Balsam launcher kept running while a search writes jobs one batch at a time.

Balsam's launcher leaves when it has nothing to do; a search has nothing to do for a moment
after each batch is final. :class:`LiveLauncher` starts the launcher through
:func:`dhflow.balsam.launcher.start_launcher` and starts it again whenever it has left while
jobs of the workflow are still to run; it is stopped (with its whole process group) on exit,
whatever ends the driver.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from dhflow.balsam import launcher
from dhflow.errors import BackendError

#: Restarts of a launcher that left with work pending, before the driver gives up.
MAX_RESTARTS = 50


class LiveLauncher:
    """Context manager: the workflow's launcher, restarted on demand, stopped at exit."""

    def __init__(self, db_path: str, workflow: str, job_mode: str):
        self.db_path, self.workflow, self.job_mode = db_path, workflow, job_mode
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.log_path = Path(db_path) / "log" / f"dhflow-launcher-{workflow}-{stamp}.out"
        self.proc = None
        self.starts = 0
        self._lock_fd = None
        self._previous = {}

    def __enter__(self) -> "LiveLauncher":
        if self.job_mode == "serial":
            self._lock_fd = launcher.acquire_serial_lock(announce=lambda m: print(f"dhflow: {m}", file=sys.stderr))
        self._previous = launcher._raise_on_termination()
        return self

    def ensure_running(self, work_pending: bool) -> None:
        """Start the launcher if it is not running and there is work for it."""
        if self.proc is not None and self.proc.poll() is None:
            return
        if not work_pending:
            return
        if self.starts > MAX_RESTARTS:
            tail = launcher.log_tail(self.log_path)
            raise BackendError(f"the Balsam launcher keeps exiting with work pending; log: {self.log_path}"
                               + (f" [{tail}]" if tail else ""))
        self.starts += 1
        self.proc = launcher.start_launcher(self.db_path, self.workflow, self.job_mode, log_path=self.log_path,
                                            owned=True)

    def __exit__(self, *exc) -> None:
        ignored = {sig: signal.signal(sig, signal.SIG_IGN) for sig in launcher._TERMINATING}
        try:
            if self.proc is not None:
                launcher.stop_launcher(self.proc)
            if self._lock_fd is not None:
                os.close(self._lock_fd)
        finally:
            for sig in launcher._TERMINATING:
                signal.signal(sig, self._previous.get(sig, ignored[sig]))
