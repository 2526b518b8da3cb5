"""The database reads of ``dhflow report``: a workflow's jobs and its submissions.

Balsam must be activated (:func:`dhflow.balsam.env.activate`). This module only
composes the backend's own reads (:func:`dhflow.balsam.jobs.fetch_jobs`, whose rows
carry the points' keys, states and Balsam's state history with its timestamps, and
:func:`dhflow.balsam.submissions.submissions`, with the spec sha and git commit of each
submission); the report itself (:mod:`dhflow.results.report`) never imports Balsam.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ReportInputs:
    """What the report needs from the database, as plain rows."""

    jobs: list  # dhflow.balsam.jobs.JobView
    submissions: list[dict]  # newest first


def read_report_inputs(workflow: str) -> ReportInputs:
    """Every job of exactly this workflow and its recorded submissions."""
    from dhflow.balsam import jobs, submissions

    return ReportInputs(jobs=jobs.fetch_jobs(workflow), submissions=submissions.submissions(workflow))
