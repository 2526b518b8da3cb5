"""A reconciliation known from counts alone: every task of the plan unchanged.

``dhflow plan FILE --against-db`` of a file whose input digest is that of the workflow's
latest submission, with the workflow still holding exactly that submission's jobs, needs
no compile: the plan is the one submitted (compiling is deterministic), and each of its
tasks has its job.  The submission recorded its tasks per rule; that is the whole answer.
"""
from __future__ import annotations

from dhflow.reconcile.decision import STATUSES, UNCHANGED, Decision, Reconciliation


class AllUnchanged(Reconciliation):
    """Every task unchanged: per-rule counts (plan order), no reasons, no decision kept."""

    def __init__(self, workflow: str, rule_tasks: dict[str, int]):
        super().__init__(workflow)
        self._counts = {rule: {s: (n if s == UNCHANGED else 0) for s in STATUSES} for rule, n in rule_tasks.items()}

    def counts(self) -> dict[str, dict[str, int]]:
        """Per rule, the tasks per status: all unchanged."""
        return self._counts

    def reason_counts(self) -> dict[str, dict[str, int]]:
        """No task changes, so no reasons."""
        return {}

    def of(self, status: str) -> list[Decision]:
        """The decisions of a status: none but unchanged, which are not listed."""
        if status == UNCHANGED:
            raise ValueError("the unchanged tasks of a reconciliation from counts are not listed")
        return []
