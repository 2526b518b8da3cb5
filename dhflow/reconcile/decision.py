"""Plan vs database: which tasks are new, unchanged, to rerun, or orphaned, and why.

Pure: it compares a plan dict with records of the workflow's existing jobs and decides;
the Balsam backend fetches the records and carries the decision out in one transaction.

A task is identified across edits by its rule and its point (not by its name or index, which
shift when points are added or removed). Its content key says whether anything that defines
it changed; the per-part fingerprints stored with each job (`task_parts`) say what changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, NamedTuple

from dhflow.compiler.jsonfast import canonical
from dhflow.reconcile import code as _code
from dhflow.reconcile.parts import PartsMaker, plan_parts, task_parts  # noqa: F401 (re-exported)

NEW, UNCHANGED, RERUN, ORPHANED = "new", "unchanged", "rerun", "orphaned"
STATUSES = (NEW, UNCHANGED, RERUN, ORPHANED)
#: Balsam states that count as failed for `--rerun failed`.
FAILED_STATES = frozenset({"FAILED", "RUN_ERROR", "RUN_TIMEOUT", "USER_KILLED"})
PART_REASONS = {
    "command": "changed command",
    "app": "changed app",
    "resources": "changed resources",
    "env": "changed environment",
    "objective": "changed objective source",
    "upstream": "upstream changed",
}


def identity(task: dict) -> str:
    """What makes a task 'the same task' across edits: its rule, its point and (fan-out)
    its values on the `values` dimensions."""
    values = task.get("values")
    if values is None:
        return canonical([task.get("rule"), task.get("point")])
    return canonical([task.get("rule"), task.get("point"), values])


def _job_identity(j: "ExistingJob") -> str:
    if j.values is None:
        return canonical([j.rule, j.point])
    return canonical([j.rule, j.point, j.values])


def part_reasons(old: dict, mine: dict) -> tuple[str, ...]:
    """What changed between a job's recorded fingerprints and a task's: a reason per part
    that differs, else "changed definition"."""
    reasons = [PART_REASONS[p] for p in PART_REASONS if old.get(p) != mine.get(p)]
    reasons += [f"code changed: {rel}" for rel in _code.changed(old, mine)]
    return tuple(reasons) or ("changed definition",)


def new_task_reasons(has_point: bool, replaced: bool, old_parts: dict | None = None,
                     mine: dict | None = None) -> tuple[str, ...]:
    """Why a task with no job is new. `replaced`: an orphan of the task's identity (rule,
    point, values) is there; `old_parts`: that orphan's fingerprints (empty for a job an
    older dhflow wrote); `mine`: the task's own, needed only with `old_parts`."""
    if not replaced:
        return ("new point",) if has_point else ("new task",)
    if not old_parts:
        return ("changed definition",)
    return part_reasons(old_parts, mine or {})


def orphan_reason(rule_in_plan: bool, identity_in_plan: bool, duplicate: bool) -> str:
    """Why a job no task keeps is orphaned, first cause first: its rule left the plan, its
    point (identity) did, it is a second job of a key the plan has, or its task changed."""
    if not rule_in_plan:
        return "rule removed"
    if not identity_in_plan:
        return "point removed"
    return "duplicate job" if duplicate else "definition changed"


class ExistingJob(NamedTuple):
    """What reconciliation needs to know of a job already in the database.

    A named tuple: the backend builds 100k of these straight from database rows."""

    job_id: str
    name: str
    key: str
    state: str
    rule: str | None = None
    point: dict | None = None
    parts: dict | None = None
    values: dict | None = None  # fan-out tasks: the values on the `values` dimensions
    code: dict | None = None    # the `code:PATH` fingerprints the job recorded (kept jobs too)


@dataclass(slots=True)
class Decision:
    name: str
    rule: str
    status: str
    reasons: tuple[str, ...] = ()
    job_id: str | None = None  # the existing job (unchanged, rerun, orphaned)


@dataclass
class Reconciliation:
    """The decision for every task of the plan and every orphaned job."""

    workflow: str
    decisions: list[Decision] = field(default_factory=list)

    def of(self, status: str) -> list[Decision]:
        return [d for d in self.decisions if d.status == status]

    def counts(self) -> dict[str, dict[str, int]]:
        """rule -> status -> count (rules in first-appearance order)."""
        out: dict[str, dict[str, int]] = {}
        for d in self.decisions:
            out.setdefault(d.rule, {s: 0 for s in STATUSES})[d.status] += 1
        return out

    def reason_counts(self) -> dict[str, dict[str, int]]:
        """rule -> reason -> count, over new, rerun and orphaned tasks."""
        out: dict[str, dict[str, int]] = {}
        for d in self.decisions:
            for r in d.reasons:
                out.setdefault(d.rule, {}).setdefault(r, 0)
                out[d.rule][r] += 1
        return out

    def render(self) -> str:
        """A per-rule table: new, unchanged, rerun, orphaned, and the reasons."""
        counts = self.counts()
        reasons = self.reason_counts()
        rows = [("RULE", "NEW", "UNCHANGED", "RERUN", "ORPHANED", "WHY")]
        for rule, c in counts.items():
            why = ", ".join(f"{r} ({n})" for r, n in sorted(reasons.get(rule, {}).items(), key=lambda x: -x[1]))
            rows.append((rule, str(c[NEW]), str(c[UNCHANGED]), str(c[RERUN]), str(c[ORPHANED]), why or "-"))
        tot = {s: sum(c[s] for c in counts.values()) for s in STATUSES}
        rows.append(("total", str(tot[NEW]), str(tot[UNCHANGED]), str(tot[RERUN]), str(tot[ORPHANED]), ""))
        w = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"workflow {self.workflow}: plan against the database"]
        for r in rows:
            lines.append("  ".join([r[0].ljust(w[0])] + [r[i].rjust(w[i]) for i in range(1, 5)] + [r[5]]).rstrip())
        return "\n".join(lines) + "\n"


def _dependants(plan: dict, names: set[str]) -> set[str]:
    """The given tasks and every task downstream of them in the plan (tasks are topological)."""
    out = set(names)
    for t in plan["tasks"]:
        if t["name"] not in out and any(p in out for p in t.get("parents") or ()):
            out.add(t["name"])
    return out


def job_order(job: "ExistingJob") -> str:
    """The order of a workflow's jobs where one must be chosen or listed: by job id (fixed for
    a job's life, unlike its row's place, which every update of its state moves)."""
    return job.job_id


def first_by_key(existing: list["ExistingJob"]) -> dict[str, "ExistingJob"]:
    """key -> the job a task of that key keeps: of several jobs with one key (duplicates), the
    one with the lowest job id; the others are orphans ("duplicate job")."""
    by_key: dict[str, ExistingJob] = {}
    for job in existing:
        cur = by_key.get(job.key)
        if cur is None or job.job_id < cur.job_id:
            by_key[job.key] = job
    return by_key


def reconcile(plan: dict, existing: Iterable[ExistingJob], rerun: str | None = None,
              parts_of: "PartsMaker | None" = None) -> Reconciliation:
    """Decide, for each plan task and each existing job, what a submission does.

    rerun: None, "failed" (jobs in a failed state, and their dependants) or "all".
    Kept jobs need only ``job_id``, ``name``, ``key`` and ``state``; ``rule``, ``point`` and
    ``parts`` are read for orphans (to match them with the new tasks that replace them and
    to say why).  Fingerprints are computed only for new tasks that replace an orphan.
    """
    if rerun not in (None, "failed", "all"):
        raise ValueError(f"rerun must be None, 'failed' or 'all', not {rerun!r}")
    existing = list(existing)
    by_key = first_by_key(existing)
    tasks = plan["tasks"]
    plan_keys = {t["key"] for t in tasks}
    orphans = sorted((j for j in existing if j.key not in plan_keys or by_key[j.key] is not j), key=job_order)
    orphan_by_identity: dict[str, ExistingJob] = {}
    for j in orphans:
        if j.rule is not None:
            orphan_by_identity.setdefault(_job_identity(j), j)
    parts_of = parts_of or PartsMaker(plan)

    kept = {t["name"]: by_key[t["key"]] for t in tasks if t["key"] in by_key}
    by_name = {t["name"]: t for t in tasks}
    if rerun == "all":
        to_rerun = _dependants(plan, set(kept))
    elif rerun == "failed":
        to_rerun = _dependants(plan, {n for n, j in kept.items() if j.state in FAILED_STATES})
    else:
        to_rerun = set()
    # code a kept job recorded and that changed since: that task and its dependants run again
    code_changed = {n: c for n, j in kept.items() if j.code and (c := _code.changed(j.code, parts_of.code(
        by_name[n])))} if any(j.code for j in kept.values()) else {}
    code_rerun = _dependants(plan, set(code_changed)) - to_rerun if code_changed else set()

    result = Reconciliation(plan["workflow"])
    decisions = result.decisions
    for t in tasks:
        name, rule = t["name"], t["rule"]
        job = kept.get(name)
        if job is not None:
            if name in code_rerun:
                why = tuple(f"code changed: {f}" for f in code_changed[name]) if name in code_changed \
                    else ("upstream code changed",)
                decisions.append(Decision(name, rule, RERUN, why, job.job_id))
            elif name in to_rerun:
                why = "failed" if job.state in FAILED_STATES else ("upstream rerun" if rerun == "failed" else "rerun all")
                decisions.append(Decision(name, rule, RERUN, (why,), job.job_id))
            else:
                decisions.append(Decision(name, rule, UNCHANGED, (), job.job_id))
            continue
        old = orphan_by_identity.get(identity(t)) if orphan_by_identity else None
        has_point = t.get("point") is not None
        if old is not None and old.parts:
            reasons = new_task_reasons(has_point, True, old.parts, parts_of(t))
        else:
            reasons = new_task_reasons(has_point, old is not None)
        decisions.append(Decision(name, rule, NEW, reasons))
    if orphans:
        plan_rules = {t["rule"] for t in tasks}
        plan_identities = {identity(t) for t in tasks}
        for j in orphans:
            why = orphan_reason(j.rule in plan_rules, _job_identity(j) in plan_identities,
                                by_key.get(j.key) is not j and j.key in plan_keys)
            decisions.append(Decision(j.name, j.rule or "?", ORPHANED, (why,), j.job_id))
    return result


class StreamTally(Reconciliation):
    """The reconciliation of a plan whose tasks go by one at a time (a streaming submit).

    Gives the same counts and reasons as :func:`reconcile` (``rerun`` is not supported)
    without keeping a decision per task: :meth:`task` decides for one task (returns the
    existing job it keeps, or None for a new task); after the last task, :meth:`orphans`
    lists the jobs no task claimed and :meth:`finish` takes them back with their rule,
    point and fingerprints to say why.  Per-task state is kept only when the workflow
    already has jobs (an identity per task, the fingerprints of the new ones).  With
    ``keep_new`` the new tasks' decisions are kept too (in plan order, before the orphans',
    as :func:`reconcile` gives them): what ``plan --against-db --format json`` lists.
    """

    def __init__(self, workflow: str, existing: Iterable[ExistingJob], keep_new: bool = False):
        super().__init__(workflow)
        self._keep_new = keep_new
        self._existing = list(existing)
        self._by_key = first_by_key(self._existing)
        self._track = bool(self._existing)
        self._claimed: set[str] = set()   # keys of existing jobs that a task keeps
        self._identities: set[str] = set()
        self._pending: list[tuple] = []   # new tasks: (rule, identity, has point, parts)
        self._counts: dict[str, dict[str, int]] = {}
        self._reasons: dict[str, dict[str, int]] = {}

    def _count(self, rule: str, status: str) -> None:
        c = self._counts.get(rule)
        if c is None:
            c = self._counts[rule] = {s: 0 for s in STATUSES}
        c[status] += 1

    def _reason(self, rule: str, why: str) -> None:
        r = self._reasons.setdefault(rule, {})
        r[why] = r.get(why, 0) + 1

    def task(self, task: dict, parts_of) -> ExistingJob | None:
        rule = task["rule"]
        job = self._by_key.get(task["key"])
        if self._track:
            ident = identity(task)
            self._identities.add(ident)
        if job is not None:
            if job.code and _code.changed(job.code, getattr(parts_of, "code", lambda t: {})(task)):
                raise _code.CodeChanged(task["name"])
            self._claimed.add(job.key)  # (the job's string: the task's is not kept alive)
            self._count(rule, UNCHANGED)
            return job
        self._count(rule, NEW)
        name = task["name"] if self._keep_new else None
        if self._track:
            self._pending.append((rule, ident, task.get("point") is not None, parts_of(task), name))
        else:
            why = "new point" if task.get("point") is not None else "new task"
            self._reason(rule, why)
            if name is not None:
                self.decisions.append(Decision(name, rule, NEW, (why,)))
        return None

    def orphans(self) -> list[ExistingJob]:
        """The existing jobs that no task keeps (keys left the plan, or duplicates)."""
        return sorted((j for j in self._existing if j.key not in self._claimed or self._by_key[j.key] is not j),
                      key=job_order)

    def finish(self, orphans: list[ExistingJob]) -> None:
        """Reasons of the new tasks and of the orphans (given with rule, point and parts)."""
        orphan_by_identity: dict[str, ExistingJob] = {}
        for j in orphans:
            if j.rule is not None:
                orphan_by_identity.setdefault(_job_identity(j), j)
        for rule, ident, has_point, mine, name in self._pending:
            old = orphan_by_identity.get(ident)
            reasons = new_task_reasons(has_point, old is not None, old.parts if old is not None else None, mine)
            for why in reasons:
                self._reason(rule, why)
            if name is not None:
                self.decisions.append(Decision(name, rule, NEW, reasons))
        self._pending = []
        plan_rules = set(self._counts)
        for j in orphans:
            why = orphan_reason(j.rule in plan_rules, _job_identity(j) in self._identities,
                                self._by_key.get(j.key) is not j and j.key in self._claimed)
            self.decisions.append(Decision(j.name, j.rule or "?", ORPHANED, (why,), j.job_id))
            self._count(j.rule or "?", ORPHANED)
            self._reason(j.rule or "?", why)

    def counts(self) -> dict[str, dict[str, int]]:
        return self._counts

    def reason_counts(self) -> dict[str, dict[str, int]]:
        return self._reasons

    def of(self, status: str) -> list[Decision]:
        if status != ORPHANED and not (status == NEW and self._keep_new):
            raise ValueError("a streaming reconciliation keeps the decisions of its orphans (and new tasks) only")
        return [d for d in self.decisions if d.status == status]
