"""The progress poll of ``dhflow run``: per-rule state counts at a bounded cost per tick.

Each tick is one aggregated query: the workflow's jobs counted per state, answered from
dhflow's (workflow, state) index (:data:`dhflow.balsam.jobs.JOB_INDEXES`), with no job row
sent to dhflow.  The per-rule breakdown (a second aggregated query, which reads the jobs'
data) is refreshed only when those totals changed, and at most so often that it takes about
a tenth of the time: on a million-job workflow the poll stays well below what Balsam's own
launcher spends on each of its ticks.  When every job is final the breakdown is always
refreshed, so the counts a run ends with are exact.

A workflow that holds jobs outside the plan (orphans of an older definition kept without
``--prune``) is polled per job id, as before: only the plan's own jobs count.
"""
from __future__ import annotations

import time
from collections import Counter

from dhflow.balsam import jobs
from dhflow.target import FINAL_STATES

#: The per-rule breakdown may take this share of the wall time at most.
DETAIL_SHARE = 0.1


class ProgressPoll:
    """``snapshot()`` -> rule -> Counter(state), in plan order, like progress.rule_counts."""

    def __init__(self, plan: dict, job_ids: dict[str, str], clock=time.monotonic):
        self.plan = plan
        self.workflow = plan["workflow"]
        self.job_ids = job_ids
        self.clock = clock
        self.tasks_per_rule: dict[str, int] = Counter()
        for task in plan.get("tasks", []):
            self.tasks_per_rule[task.get("rule") or task["name"]] += 1
        self._totals: dict[str, int] | None = None
        self._counts: dict[str, Counter] | None = None
        self._next_detail = 0.0
        self.detail_queries = 0

    def _per_job(self) -> dict[str, Counter]:
        from dhflow.results import progress

        states = jobs.state_counts(self.workflow, list(self.job_ids.values()))
        names_by_id = {jid: name for name, jid in self.job_ids.items()}
        return progress.rule_counts(self.plan, {names_by_id[jid]: st for jid, st in states.items()})

    def _detail(self) -> dict[str, Counter]:
        found = jobs.rule_state_counts(self.workflow)
        counts: dict[str, Counter] = {}
        for rule, n in self.tasks_per_rule.items():
            c = counts[rule] = Counter()
            for (r, state), k in found.items():
                if r == rule:
                    c[state] += k
            if n > sum(c.values()):
                c["NOT_SUBMITTED"] += n - sum(c.values())
        return counts

    def snapshot(self) -> dict[str, Counter]:
        """The counts now (the per-rule split may be up to a few ticks old while jobs run)."""
        totals = jobs.state_totals(self.workflow)
        if sum(totals.values()) != len(self.job_ids):
            return self._per_job()  # other jobs share the workflow: count the plan's own
        now = self.clock()
        final = all(state in FINAL_STATES for state in totals)
        if self._counts is None or (totals != self._totals and (final or now >= self._next_detail)):
            self._counts = self._detail()
            self.detail_queries += 1
            cost = self.clock() - now
            self._next_detail = now + cost / DETAIL_SHARE
            self._totals = totals
        return self._counts
