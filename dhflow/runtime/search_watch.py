"""One frame of ``dhflow status FILE --watch`` on a search, and whether the search is final.

A sweep's watch ends when every task is final. A search's tasks are proposed while it
runs, so "every task final" holds between two proposals: the search is final only when
nothing drives it any more (no ``dhflow run`` or submitted driver job holds it) and no
task of it runs. That covers a complete search (``evals`` done) and a stopped one
(``max_failures``, a timeout, an interrupted run) alike; the frame says which.
"""
from __future__ import annotations

from dataclasses import dataclass

from dhflow.target import FINAL_STATES


@dataclass
class SearchFrame:
    """What one refresh shows: the status (per-rule states and the search's progress,
    :class:`dhflow.runtime.reading.StatusView`), whether a driver holds the search, and
    whether the search is final (nothing will change it until it is run again)."""

    view: object
    driving: bool
    final: bool

    @property
    def complete(self) -> bool:
        """Every evaluation of the budget is done."""
        s = self.view.search
        return s.done >= s.evals


def search_frame(exp) -> SearchFrame:
    """The current frame of the search ``exp`` (an :class:`dhflow.runtime.experiment.Experiment`)."""
    from dhflow.balsam import jobstore
    from dhflow.runtime.reading import open_existing, status

    open_existing(exp)
    # The driver is looked at BEFORE the states are read: a driver that has let go has
    # committed its last writes, so a frame that finds none shows the search's last state.
    held = jobstore.driver_busy(exp.workflow)
    view = status(exp)
    job = view.search.driver_job
    driving = held or (job is not None and job[0] not in FINAL_STATES)  # a submitted driver yet to end
    running = sum(c.get("RUNNING", 0) for c in view.counts.values())
    return SearchFrame(view, driving, final=not driving and running == 0)
