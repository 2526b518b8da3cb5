"""The database reads of ``dhflow report``: a workflow's jobs and its submissions.

Balsam must be activated (:func:`dhflow.backends.env.activate`). This module only
composes the backend's own reads (:func:`dhflow.backends.balsam.fetch_jobs`, whose rows
carry the points' keys, states and Balsam's state history with its timestamps, and
:func:`dhflow.backends.balsam.submissions`, with the spec sha and git commit of each
submission); the report itself (:mod:`dhflow.report`) never imports Balsam.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ReportInputs:
    """What the report needs from the database, as plain rows."""

    jobs: list  # dhflow.backends.balsam.JobView
    submissions: list[dict]  # newest first


def read_report_inputs(workflow: str) -> ReportInputs:
    """Every job of exactly this workflow and its recorded submissions."""
    from dhflow.backends import balsam as backend

    return ReportInputs(jobs=backend.fetch_jobs(workflow), submissions=backend.submissions(workflow))
