"""Writing the stored study off the driver's path: one background thread applies, in order,
the changes the proposer made to its in-memory study.

Optuna's RDB storage writes a trial with one round trip per parameter and attribute (about
forty for ten parameters): tens of milliseconds that the driver would otherwise spend
between an evaluation's end and the next job. The stored study is derived (dhflow's trials
are the truth, and every start of the driver reconciles it with them), so a change still
queued when the driver dies is repaired at the next start, and a write that fails stops the
mirroring (the next start rebuilds what is missing) without stopping the search.
"""
from __future__ import annotations

import queue
import threading


class Mirror:
    """Apply ``fn(study, *args)`` to the stored study in a background thread, in call order."""

    def __init__(self, study):
        self.study = study
        self.error: str | None = None
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def do(self, fn, *args) -> None:
        """Queue one change (returns at once)."""
        if self.error is not None:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="dhflow-study-mirror", daemon=True)
            self._thread.start()
        self._queue.put((fn, args))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self.error is None:
                    fn, args = item
                    fn(self.study, *args)
            except Exception as exc:  # noqa: BLE001 - reported by the driver; the next start repairs
                self.error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every queued change is written."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        """Write what is queued and stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
