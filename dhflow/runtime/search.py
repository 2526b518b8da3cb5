"""The search use cases: drive a search next to the launcher (`dhflow run`), and read its
progress and results (`status`, `results`).

:class:`BalsamBackend` is the driver loop's backend: a batch of proposals becomes trial rows
and jobs in one transaction (:func:`dhflow.balsam.searchstore.write_batch`), evaluations are
final when the objective rule's job is, and their objectives are read by the same code as
`dhflow results`. Resuming is reading the trial rows back: finished ones are told, running
ones waited for, and trials without a job are failures.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from dhflow.compiler.expand.tasks import objective_dict
from dhflow.errors import SearchTimeout, UsageError
from dhflow.runtime import database, launching, programs
from dhflow.runtime.search_study import study_store
from dhflow.runtime.search_plan import SearchContext, check_point, plan_of, probe_point, trial_key
from dhflow.search.driver import SearchOutcome, drive
from dhflow.search.pareto import front_ranks
from dhflow.search.factory import make_proposer
from dhflow.search.proposer import Evaluation, usable
from dhflow.target import FAILED_FINAL_STATES, FINAL_STATES




class BalsamBackend:
    """Trials as Balsam jobs of the workflow, with the launcher kept running."""

    def __init__(self, ctx: SearchContext, rows, live, *, provenance: dict, job_mode: str, poll: float = 1.0,
                 deadline: float | None = None):
        self.ctx, self.live, self.provenance, self.job_mode = ctx, live, provenance, job_mode
        self.rows = {r.trial: r for r in rows}
        self.poll_s, self.deadline = poll, deadline
        self.objective = objective_dict(ctx.spec.rule(ctx.objective_rule))
        self.pending = True

    def _jobs(self, keys=None) -> dict:
        """The workflow's jobs by content key; with `keys`, only those (an indexed read)."""
        from dhflow.balsam import jobstore

        found = jobstore.fetch_jobs(self.ctx.workflow, keys)
        if keys is None:
            self.pending = any(j.state not in FINAL_STATES for j in found)
        else:
            self.pending = jobstore.any_pending(self.ctx.workflow, FINAL_STATES)
        return {j.key: j for j in found if j.key}

    def _reason(self, trial: int, point: dict) -> str | None:
        reason = check_point(self.ctx, trial, point)
        if reason is None and self.job_mode:  # a launcher on this machine: one node
            try:
                launching.check_local_resources({"tasks": _single(self.ctx, trial, point)}, self.job_mode)
            except UsageError as exc:
                reason = str(exc)
        return reason

    def submit(self, proposals):
        from dhflow.balsam import jobstore

        new, final_now = [], []
        for trial, point in proposals:
            reason = self._reason(trial, point)
            if reason is not None:
                row = jobstore.TrialRow(trial, point, None, f"invalid point: {reason}")
                final_now.append(Evaluation(trial, point, None, row.reason))
            else:
                row = jobstore.TrialRow(trial, point, trial_key(self.ctx, trial, point))
            new.append(row)
            self.rows[trial] = row
        # only the new trials' tasks (and the single tasks they hang from): the cost of a
        # proposal does not grow with the trials already run
        jobstore.append_batch(plan_of(self.ctx, new), self.ctx.fingerprint, new, provenance=self.provenance)
        self.live.ensure_running(True)
        return final_now

    def evaluation(self, trial: int, point: dict, by_key: dict) -> Evaluation | None:
        """The trial's evaluation when final (values, or None with the reason); None while running."""
        row = self.rows.get(trial)
        if row is None or row.job_key is None:
            return Evaluation(trial, point, None, row.reason if row and row.reason else
                              "no job was written for this trial (the driver stopped before writing it)")
        job = by_key.get(row.job_key)
        if job is None:
            return Evaluation(trial, point, None, "its job is no longer in the database")
        if job.state not in FINAL_STATES:
            return None
        from dhflow.results.objectives import read_values

        values, reason = read_values(self.objective, job)
        good = usable(values)
        return Evaluation(trial, point, good, None if good else (reason or "objective is not a finite number"))

    def poll(self, in_flight):
        keys = {r.job_key for e in in_flight if (r := self.rows.get(e.trial)) is not None and r.job_key}
        by_key = self._jobs(keys)
        out = [self.evaluation(e.trial, e.point, by_key) for e in in_flight]
        return [e for e in out if e is not None]

    def wait(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise SearchTimeout()
        self.live.ensure_running(self.pending)
        time.sleep(self.poll_s)

    def wait_for(self, plan: dict, rules) -> list[tuple[str, str, str]]:
        """Wait until the plan's tasks of `rules` are final; their failures (name, state, reason)."""
        from dhflow.results.objectives import failure_reason

        keys = {t["key"]: t["name"] for t in plan["tasks"] if t["rule"] in rules}
        while True:
            by_key = self._jobs()
            jobs = {k: by_key.get(k) for k in keys}
            if all(j is not None and j.state in FINAL_STATES for j in jobs.values()):
                return [(keys[k], j.state, failure_reason(j)) for k, j in jobs.items() if j.state in FAILED_FINAL_STATES]
            self.live.ensure_running(True)
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise SearchTimeout()
            time.sleep(self.poll_s)


def _single(ctx: SearchContext, trial: int, point: dict) -> list[dict]:
    from dhflow.balsam.jobstore import TrialRow

    return [t for t in plan_of(ctx, [TrialRow(trial, point, "probe")])["tasks"] if t["rule"] in ctx.foreach_rules]


def resume_state(backend: BalsamBackend) -> tuple[list[Evaluation], list[Evaluation]]:
    """(finished, in flight) evaluations of the trials already recorded."""
    by_key = backend._jobs()
    finished, flying = [], []
    for trial, row in sorted(backend.rows.items()):
        ev = backend.evaluation(trial, row.point, by_key)
        if ev is None:
            flying.append(Evaluation(trial, row.point))
        else:
            finished.append(ev)
    return finished, flying


@dataclass
class SearchRun:
    """How `dhflow run` of a search ended."""

    outcome: SearchOutcome
    path: str
    job_mode: str
    resumed: int = 0                   # trials found from an earlier run
    failed_rules: list = field(default_factory=list)  # before/after tasks that failed
    seconds: float = 0.0
    records: list = field(default_factory=list)       # the results table's records, once it ended


class NoLauncher:
    """The driver running as a job (`dhflow search-driver`): the allocation's launcher runs the jobs."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def ensure_running(self, work_pending: bool) -> None:
        return None


def run_search(ctx: SearchContext, *, db: str | None, job_mode: str | None, timeout: float | None,
               on_change=None, announce=None, launch: bool = True) -> SearchRun:
    """Drive the search to its end (resuming an earlier run): with a launcher on this machine,
    or, with `launch=False`, as a job that the allocation's launcher runs."""
    from dhflow.balsam import jobstore
    from dhflow.balsam.launchers import LiveLauncher
    from dhflow.runtime.provenance import provenance

    start = time.monotonic()
    first = plan_of(ctx, [])
    point = ctx.initial[0] if ctx.initial else probe_point(ctx.spec)
    probe = first | {"tasks": first["tasks"] + _single(ctx, 0, point)}
    mode = launching.choose_job_mode(probe, job_mode)
    if launch:
        launching.check_local_resources(first, mode)
        programs.require_programs(probe)   # a trial's tasks would all fail here: refused before any write
    jobstore.validate(first)
    path = database.open_database(db, first, ctx.file, create=True)
    prov = provenance(first)
    with jobstore.driver_lock(ctx.workflow):
        if launch:  # this process drives: its launcher must not start a submitted driver job too
            from dhflow.balsam import jobstore

            jobstore.supersede(ctx.workflow, "search-driver", "superseded: `dhflow run` drove this search")
        trials = jobstore.load_trials(ctx.workflow, ctx.fingerprint)
        with (LiveLauncher(path, ctx.workflow, mode) if launch else NoLauncher()) as live:
            deadline = start + timeout if timeout else None
            backend = BalsamBackend(ctx, trials, live, provenance=prov, job_mode=mode if launch else None,
                                    deadline=deadline)
            jobstore.write_batch(plan_of(ctx, trials), ctx.fingerprint, [], provenance=prov)
            before = {t["rule"] for t in first["tasks"]}
            failed = backend.wait_for(first, before) if before else []
            if failed:
                out = SearchOutcome(stopped=f"{len(failed)} task(s) the search depends on failed")
                return SearchRun(out, path, mode, len(trials), failed, time.monotonic() - start)
            finished, flying = resume_state(backend)
            if announce and trials:
                announce(f"resuming search: {len(finished)} evaluations final, {len(flying)} running")
            proposer = make_proposer(ctx.setup, resumed_at=max((t.trial + 1 for t in trials), default=0),
                                     store=study_store(ctx))
            out = drive(proposer, backend, ctx.budget, finished=finished, in_flight=flying, initial=ctx.initial,
                        keep=ctx.keep, on_change=on_change)
            if not out.stopped and ctx.after_rules:
                last = plan_of(ctx, backend.rows.values(), with_after=True)
                jobstore.write_batch(last, ctx.fingerprint, [], provenance=prov)
                failed = backend.wait_for(last, ctx.after_rules)
    return SearchRun(out, path, mode, len(trials), failed, time.monotonic() - start)


# ------------------------------------------------------------------ status and results
@dataclass
class SearchStatus:
    """A search's progress: evaluations done, running, failed; its budget; the best so far."""

    evals: int
    done: int
    running: int                 # evaluations with a task Balsam runs now (RUNNING)
    failed: int
    best: list | None
    plan: dict
    waiting: int = 0             # evaluations in flight with no task running (PREPROCESSED, ...)


def trials_and_plan(ctx: SearchContext, db: str | None):
    """(database path, this search's trial rows, the plan of those trials and the gathers)."""
    from dhflow.balsam import jobstore

    first = plan_of(ctx, [])
    path = database.open_database(db, first, ctx.file, create=False, quiet=True)
    rows = jobstore.load_trials(ctx.workflow, ctx.fingerprint)
    return path, rows, plan_of(ctx, rows, with_after=True)


def search_status(ctx: SearchContext, db: str | None) -> tuple[str, SearchStatus]:
    """The database path and the search's progress."""
    path, rows, plan = trials_and_plan(ctx, db)
    backend = BalsamBackend(ctx, rows, None, provenance={}, job_mode="serial")
    finished, flying = resume_state(backend)
    good = [e for e in finished if e.values is not None]
    best = None
    if good:
        if len(ctx.setup.directions) == 1:
            sign = 1 if ctx.setup.directions[0] == "maximize" else -1
            best = list(max(good, key=lambda e: sign * e.values[0]).values)
        else:
            ranks = front_ranks([e.values for e in good], ctx.setup.directions)
            best = [list(e.values) for e, r in zip(good, ranks) if r == 0]
    running = running_trials(ctx, backend, plan, flying)
    return path, SearchStatus(ctx.budget.evals, len(finished), running, len(finished) - len(good), best, plan,
                              waiting=len(flying) - running)


def running_trials(ctx: SearchContext, backend: BalsamBackend, plan: dict, flying) -> int:
    """How many in-flight evaluations have a task in Balsam's RUNNING state: an evaluation
    proposed but waiting for free nodes (PREPROCESSED) is in flight, not running."""
    by_key = backend._jobs()
    running = {t["trial"] for t in plan["tasks"] if "trial" in t
               and getattr(by_key.get(t["key"]), "state", None) == "RUNNING"}
    first: dict[str, int] = {}   # a repeated point's trial shares the first one's jobs
    for row in sorted(backend.rows.values(), key=lambda r: r.trial):
        if row.job_key is not None:
            first.setdefault(row.job_key, row.trial)
    return sum(1 for e in flying
               if first.get(getattr(backend.rows.get(e.trial), "job_key", None), e.trial) in running)


def search_results(ctx: SearchContext, db: str | None) -> list[dict]:
    """One record per trial (`trial` set), best first; with several objectives the Pareto
    front first (then the next front, ...); trials without a job carry their reason."""
    from dhflow.runtime.plan_jobs import plan_records

    path, rows, plan = trials_and_plan(ctx, db)
    records = [r for r in plan_records(db, plan, ctx.file) if r["rule"] == ctx.objective_rule]
    by_trial = {r["trial"]: r for r in records}
    first_of_key: dict[str, int] = {}
    for row in rows:
        if row.job_key is not None:
            first_of_key.setdefault(row.job_key, row.trial)
    for row in rows:
        if row.trial in by_trial:
            continue
        name = f"{ctx.objective_rule}.{row.trial}"
        if row.job_key is not None and first_of_key.get(row.job_key) in by_trial:
            same = dict(by_trial[first_of_key[row.job_key]])
            same.update(name=name, index=row.trial, trial=row.trial,
                        error=same["error"] or None, point=row.point)
            same["note"] = f"same point as trial {first_of_key[row.job_key]}: its result"
            records.append(same)
        else:
            records.append({"rule": ctx.objective_rule, "name": name, "index": row.trial, "point": row.point,
                            "state": "NOT_RUN", "objective": None, "error": row.reason, "runtime": None,
                            "trial": row.trial})
    return order_records(records, ctx.setup.directions)


def order_records(records: list[dict], directions) -> list[dict]:
    """Best first (one objective), or Pareto fronts first (several); no objective last."""
    def values(r):
        if len(directions) > 1:
            return r.get("objectives")
        return None if r["objective"] is None else [r["objective"]]

    have = [r for r in records if values(r)]
    rest = sorted((r for r in records if not values(r)), key=lambda r: r["trial"])
    ranks = front_ranks([values(r) for r in have], directions)
    sign = 1 if directions[0] == "maximize" else -1
    order = sorted(zip(ranks, have), key=lambda rr: (rr[0], -sign * rr[1]["objective"], rr[1]["trial"]))
    for rank, r in order:
        if len(directions) > 1:
            r["pareto_rank"] = rank
    return [r for _, r in order] + rest


def search_history(ctx: SearchContext, db: str | None) -> tuple[int, list]:
    """(trials of this very search, [(fingerprint, trials) of the workflow's other searches])."""
    from dhflow.balsam import jobstore

    database.open_database(db, plan_of(ctx, []), ctx.file, create=False, quiet=True)
    found = jobstore.searches_of(ctx.workflow)
    same = next((n for s, n in found if s == ctx.fingerprint), 0)
    return same, [(s, n) for s, n in found if s != ctx.fingerprint]
