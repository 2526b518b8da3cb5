"""A streamed plan matched by content key with a workflow's jobs inside PostgreSQL.

``dhflow plan FILE --against-db`` of an edited file: the plan's tasks, as the streaming
compiler gives them, are copied (``COPY ... FROM STDIN``, a producer thread) into a
temporary table of one transaction, with what the reconciliation compares: plan order,
name, rule, content key, identity text (:func:`dhflow.reconcile.decision.identity`),
whether it has a point, its fingerprints (:class:`dhflow.reconcile.parts.PartsMaker`, the
upstream one left out) and its parents.  The workflow's jobs are read once into a narrow
table (content key, job id, row position); joins then give what
:func:`dhflow.reconcile.decision.reconcile` decides, read through server-side cursors and
aggregated as the rows go by:

* the kept jobs' recorded ``code:`` fingerprints beside the task's, grouped (few distinct
  pairs), each pair judged by :func:`dhflow.reconcile.code.changed` (:class:`CodeChanged`:
  the caller takes the whole-plan path, which says which tasks run again);
* the orphans (jobs whose key left the plan, and every job of a duplicated key but the
  first), in the order of the table, each with its identity text (:func:`identity`, here:
  canonical text, not jsonb equality, which says 1 == 1.0); they go to a second temporary
  table, and the facts their reason depends on are joined and counted in the server;
* the new tasks in plan order, each with the first orphan of its identity and, then, its
  fingerprints (the upstream one from its parents' keys, read from the plan table).

The SQL gives facts only (jobs by key, fingerprints, counts): every reason is decided by
:mod:`dhflow.reconcile.decision` (:func:`~dhflow.reconcile.decision.orphan_reason`,
:func:`~dhflow.reconcile.decision.new_task_reasons`), as for a whole-plan reconciliation.
The Python side holds a batch of rows and the per-rule counts, never the plan or the jobs.
"The first job of a key" is the one with the lowest job id, as everywhere
(:func:`dhflow.reconcile.decision.first_by_key`); orphans are listed by job id.
"""
from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as jstr

from dhflow.balsam.copy import copy_text, esc
from dhflow.balsam.dberrors import database_errors
from dhflow.errors import phase
from dhflow.reconcile import code
from dhflow.reconcile.decision import (NEW, ORPHANED, RERUN, STATUSES, UNCHANGED, Decision, PartsMaker, Reconciliation,
                                       identity, new_task_reasons, orphan_reason)
from dhflow.reconcile.parts import upstream_fingerprint

BATCH = 20000
PIECE = 10000  # parents per piece of a big gather's row
_PLAN_DDL = ("CREATE TEMP TABLE dhflow_plan (ord int, name text, rule text, key text, ident text, has_point bool, "
             "parts text, parents text) ON COMMIT DROP")
_ORPHAN_DDL = ("CREATE TEMP TABLE dhflow_orphan (ord int, job_id text, name text, rule text, ident text, "
               "parts text, in_plan bool) ON COMMIT DROP")
# the workflow's jobs, narrow: content key, job id and row position in this snapshot (read
# once; the joins hash these; the position fetches an orphan's details by a TID scan)
_JOBS_SQL = ("CREATE TEMP TABLE dhflow_jobs ON COMMIT DROP AS SELECT data->>'dhflow_key' AS key, "
             "job_id::text AS id, ctid AS pos FROM core_balsamjob WHERE workflow = %s")
# the first job of each duplicated key (the lowest job id, as dhflow.reconcile.decision.
# first_by_key chooses: fixed for a job's life, unlike its row's place); the others are orphans
_DUP_SQL = ("CREATE TEMP TABLE dhflow_dup ON COMMIT DROP AS SELECT key, min(id) AS first FROM dhflow_jobs "
            "GROUP BY key HAVING count(*) > 1")
# the kept jobs (the first of their key) that recorded code: each distinct pair of their
# recorded `code:` fingerprints and the task's now for those files, with its first task
_CODE_SQL = """
SELECT min(t.ord), c.recorded::text, c.now::text FROM core_balsamjob j
JOIN dhflow_plan t ON t.key = j.data->>'dhflow_key'
LEFT JOIN dhflow_dup d ON d.key = t.key
CROSS JOIN LATERAL (SELECT jsonb_object_agg(k, v) AS recorded, jsonb_object_agg(k, t.parts::jsonb ->> k) AS now
                    FROM jsonb_each_text(j.data->'dhflow_parts') AS e(k, v) WHERE k LIKE 'code:%%') c
WHERE j.workflow = %s AND (d.key IS NULL OR j.job_id::text = d.first) AND (j.data->>'dhflow_parts') LIKE '%%"code:%%'
GROUP BY 2, 3"""
# the orphans' row positions, by job id: jobs whose key left the plan, and every job of a
# duplicated key but the first (in_plan: its key is a task's)
_ORPHAN_SQL = """
SELECT k.pos, false, k.id FROM dhflow_jobs k WHERE NOT EXISTS (SELECT 1 FROM dhflow_plan t WHERE t.key = k.key)
UNION ALL
SELECT k.pos, true, k.id FROM dhflow_jobs k JOIN dhflow_dup d ON d.key = k.key AND k.id <> d.first
WHERE EXISTS (SELECT 1 FROM dhflow_plan t WHERE t.key = k.key)
ORDER BY 3"""
# what an orphan's identity and reason need, for a batch of row positions (a TID scan)
_DETAILS_SQL = """
SELECT ctid::text, job_id::text, name, data->>'dhflow_rule', (data->'dhflow_point')::text,
       (data->'dhflow_values')::text, (data->'dhflow_parts')::text
FROM core_balsamjob WHERE ctid = ANY(%s::tid[])"""
# what each orphan's reason depends on (dhflow.reconcile.decision.orphan_reason's arguments):
# its rule is a task's, its identity is a task's (a join, which may spill to disk, not a
# subquery per orphan), it is a duplicate of a key the plan has
_ORPHAN_FACTS_SQL = """
SELECT o.ord, o.name, o.rule, o.job_id, coalesce(o.rule = ANY(%s), false) AS rule_in_plan,
       p.ident IS NOT NULL AS identity_in_plan, o.in_plan AS duplicate
FROM dhflow_orphan o LEFT JOIN (SELECT DISTINCT ident FROM dhflow_plan) p ON p.ident = o.ident"""
# new tasks in plan order (narrow rows: the sort stays small), with the first orphan (with a
# rule) of the same identity
_NEW_SQL = """
SELECT t.ord, t.name, t.rule, t.has_point, f.ord, r.reasons
FROM dhflow_plan t
LEFT JOIN (SELECT ident, min(ord) AS ord FROM dhflow_orphan WHERE rule IS NOT NULL GROUP BY ident) f
  ON f.ident = t.ident
LEFT JOIN dhflow_reasons r ON r.ord = t.ord
WHERE NOT EXISTS (SELECT 1 FROM dhflow_jobs j WHERE j.key = t.key)
ORDER BY t.ord"""
# for a batch of such tasks: the orphans' fingerprints, then the tasks' own and (with parents)
# the parents' keys, as the earlier tasks of the plan give them
_OLD_PARTS_SQL = "SELECT ord, parts FROM dhflow_orphan WHERE ord = ANY(%s)"
_MINE_SQL = """
SELECT t.ord, t.parts, CASE WHEN t.parents IS NOT NULL THEN
         (SELECT array_agg(coalesce(p.key, u.n)) FROM json_array_elements_text(t.parents::json) AS u(n)
          LEFT JOIN dhflow_plan p ON p.name = u.n AND p.ord < t.ord) END
FROM dhflow_plan t WHERE t.ord = ANY(%s)"""


class _NoNames:
    """TaskChecker's container of names seen, holding none: unique names and parents that
    come earlier are checked in the server (:func:`_check_names`), not in a set of a million."""

    def __contains__(self, name) -> bool:
        return False


class ServerMatch(Reconciliation):
    """The reconciliation of a plan matched in the server: counts and reasons held, the
    listed decisions (new tasks in plan order, then orphans) read again when iterated
    (:meth:`changed`), while the transaction that holds the temporary tables is open."""

    def __init__(self, workflow: str, counts: dict, reasons: dict, cur, new_rows, rules: list[str]):
        super().__init__(workflow)
        self._counts, self._reasons = counts, reasons
        self._cur, self._new_rows, self._rules = cur, new_rows, rules

    def counts(self) -> dict[str, dict[str, int]]:
        return self._counts

    def reason_counts(self) -> dict[str, dict[str, int]]:
        return self._reasons

    def changed(self):
        """The decisions of the tasks that change: new ones in plan order, then orphans."""
        if self._cur is None:
            raise ValueError("matched without listing: the decisions were not kept")
        for name, rule, reasons in self._new_rows():
            yield Decision(name, rule, NEW, reasons)
        for _, name, rule, job_id, *facts in _named(self._cur, _ORPHAN_FACTS_SQL + " ORDER BY o.ord", [self._rules]):
            yield Decision(name, rule or "?", ORPHANED, (orphan_reason(*facts),), job_id)

    def of(self, status: str) -> list[Decision]:
        if status == UNCHANGED:
            raise ValueError("a reconciliation matched in the server lists the tasks that change only")
        return [d for d in self.changed() if d.status == status]


def _named(cur, sql: str, params, name: str = "dhflow_plan_match"):
    """The rows of a query through a server-side cursor, a batch at a time."""
    with cur.connection.cursor(name=name) as named:
        named.itersize = BATCH
        named.execute(sql, params)
        yield from named


def _plan_lines(head: dict, tasks, rule_tasks: dict, flags: dict):
    """COPY text of the plan table, in chunks; ``rule_tasks`` gets the tasks per rule (plan
    order) and ``flags['parents']`` whether any task has parents."""
    from dhflow.balsam.rows import TaskChecker

    check = TaskChecker(head, names=_NoNames())
    # fingerprints without the upstream one (the parents' keys are read back for the few
    # tasks that need it): no name -> key map of the whole plan
    parts_of = PartsMaker(head, keys_by_name={})
    buf: list[str] = []
    size = 0  # characters of parents' JSON in buf
    for n, t in enumerate(tasks):
        parents = t.get("parents")
        bare = {**t, "parents": ()} if parents else t
        check(bare)
        rule = t["rule"]
        rule_tasks[rule] = rule_tasks.get(rule, 0) + 1
        if parents:
            flags["parents"] = True
        head_ = (f"{n}\t{esc(t['name'])}\t{esc(rule)}\t{esc(t['key'])}\t{esc(identity(t))}\t"
                 f"{'f' if t.get('point') is None else 't'}\t{esc(parts_of.json(bare))}\t")
        if not parents:
            buf.append(head_ + "\\N\n")
        elif len(parents) <= PIECE:
            buf.append(head_ + esc("[" + ",".join(map(jstr, parents)) + "]") + "\n")
            size += len(buf[-1])
        else:  # a big gather: its parents' JSON sent a piece at a time, never whole
            buf.append(head_ + "[")
            for i in range(0, len(parents), PIECE):
                buf.append(esc(("," if i else "") + ",".join(map(jstr, parents[i:i + PIECE]))))
                yield "".join(buf).encode()
                buf = []
            buf.append("]\n")
        if len(buf) >= 1000 or size >= 1 << 20:  # rows with many parents: bounded by size too
            yield "".join(buf).encode()
            buf, size = [], 0
    if buf:
        yield "".join(buf).encode()


def _check_names(cur, workflow: str, parents: bool) -> None:
    """The task names are unique and each parent is an earlier task (PlanRejected)."""
    from dhflow.errors import PlanRejected

    from psycopg2 import IntegrityError

    cur.execute("SAVEPOINT dhflow_names")
    try:  # (the index also finds the parents' keys; its uniqueness is the check, for free)
        cur.execute("CREATE UNIQUE INDEX ON dhflow_plan (name)")
    except IntegrityError:
        cur.execute("ROLLBACK TO SAVEPOINT dhflow_names")
        cur.execute("SELECT name FROM dhflow_plan GROUP BY name HAVING count(*) > 1 "
                    "ORDER BY (array_agg(ord ORDER BY ord))[2] LIMIT 1")
        raise PlanRejected(f"task name {cur.fetchone()[0]!r} appears twice in workflow {workflow}") from None
    if parents:
        cur.execute("SELECT t.name, u.n FROM dhflow_plan t, json_array_elements_text(t.parents::json) AS u(n) "
                    "WHERE t.parents IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dhflow_plan p "
                    "WHERE p.name = u.n AND p.ord < t.ord) ORDER BY t.ord LIMIT 1")
        row = cur.fetchone()
        if row is not None:
            raise PlanRejected(f"task {row[0]}: parent {row[1]!r} is not an earlier task of the plan")


def _orphans(cur, plan_rules: list[str]) -> tuple[dict, dict]:
    """Stream the orphans into ``dhflow_orphan`` with their identity text; returns (rule ->
    orphans, rule -> reason -> count), both in the orphans' order."""
    from dhflow.balsam.jobs import json_value

    rows = _named(cur, _ORPHAN_SQL, [], name="dhflow_orphans")
    n = 0
    while True:
        batch = [(str(pos), in_plan) for pos, in_plan, _ in (r for _, r in zip(range(BATCH), rows))]
        if not batch:
            break
        cur.execute(_DETAILS_SQL, [[pos for pos, _ in batch]])
        details = {row[0]: row[1:] for row in cur.fetchall()}
        lines = []
        for pos, in_plan in batch:
            job_id, name, rule, point, values, parts = details[pos]
            ident = None
            if rule is not None:
                ident = identity({"rule": rule, "point": json_value(point) if point is not None else None,
                                  "values": json_value(values) if values is not None else None})
            lines.append(f"{n}\t{esc(job_id)}\t{_opt(name)}\t{_opt(rule)}\t{_opt(ident)}\t{_opt(parts)}\t"
                         f"{'t' if in_plan else 'f'}\n")
            n += 1
        copy_text(cur, "COPY dhflow_orphan FROM STDIN", ["".join(lines).encode()], threaded=False)
    counts: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    if n:
        cur.execute("ANALYZE dhflow_orphan")
        cur.execute(f"SELECT coalesce(rule, '?'), rule_in_plan, identity_in_plan, duplicate, count(*) "
                    f"FROM ({_ORPHAN_FACTS_SQL}) AS r GROUP BY 1, 2, 3, 4 ORDER BY min(ord)", [plan_rules])
        for rule, *facts, k in cur.fetchall():  # (rules and reasons in the order they first appear)
            counts[rule] = counts.get(rule, 0) + k
            rr = reasons.setdefault(rule, {})
            why = orphan_reason(*facts)
            rr[why] = rr.get(why, 0) + k
    return counts, reasons


def _opt(text) -> str:
    return "\\N" if text is None else esc(text)


def _upstream(parent_keys: list[str], memo: dict) -> str:
    """The upstream fingerprint of a task whose parents have these keys (memoised for a
    single parent, the tasks of a scatter share it; the memo stays small)."""
    if len(parent_keys) != 1:
        return upstream_fingerprint(parent_keys)
    h = memo.get(parent_keys[0])
    if h is None:
        if len(memo) >= 4096:
            memo.clear()
        h = memo[parent_keys[0]] = upstream_fingerprint(parent_keys)
    return h


def _new_rows(cur, stored: bool = False):
    """(name, rule, reasons) of each new task, in plan order, read a batch at a time.  The
    reasons that compare fingerprints are kept in ``dhflow_reasons`` (``stored``: read
    from there, the second time: what the JSON lists)."""
    from dhflow.balsam.jobs import json_value

    memo: dict[str, str] = {}
    rows = _named(cur, _NEW_SQL, [], "dhflow_new")
    while True:
        batch = [r for _, r in zip(range(BATCH), rows)]
        if not batch:
            return
        olds: dict = {}
        mine: dict = {}
        matched = [o for *_, o, _ in batch if o is not None]
        if matched and not stored:
            cur.execute(_OLD_PARTS_SQL, [matched])
            for o, parts in cur.fetchall():
                parts = json_value(parts) if parts is not None else None
                if isinstance(parts, dict) and parts:
                    olds[o] = parts
            wanted = [t for t, *_, o, _ in batch if o in olds]
            if wanted:
                cur.execute(_MINE_SQL, [wanted])
                mine = {t: (parts, keys) for t, parts, keys in cur.fetchall()}
        keep = []
        for t, name, rule, has_point, o, known in batch:
            if known is not None:  # decided the first time, kept
                yield name, rule, tuple(json.loads(known))
            elif o not in olds:  # no orphan of its identity, or one without fingerprints
                yield name, rule, new_task_reasons(has_point, o is not None)
            else:
                parts, parent_keys = mine[t]
                parts = json.loads(parts)
                if parent_keys is not None:
                    parts["upstream"] = _upstream(parent_keys, memo)
                why = new_task_reasons(has_point, True, olds[o], parts)
                keep.append(f"{t}\t{esc('[' + ','.join(map(jstr, why)) + ']')}\n")
                yield name, rule, why
        if keep:
            copy_text(cur, "COPY dhflow_reasons FROM STDIN", ["".join(keep).encode()], threaded=False)


def _refuse_changed_code(cur, workflow: str) -> None:
    """CodeChanged for the first task (plan order) whose kept job recorded code that changed."""
    cur.execute(_CODE_SQL, [workflow])
    changed = [first for first, recorded, now in cur.fetchall()
               if recorded and code.changed(json.loads(recorded), json.loads(now or "{}"))]
    if changed:
        cur.execute("SELECT name FROM dhflow_plan WHERE ord = %s", [min(changed)])
        raise code.CodeChanged(cur.fetchone()[0])


def _refuse_foreign(cur, workflow: str) -> None:
    from dhflow.balsam.jobs import refuse_foreign

    cur.execute("SELECT count(*), min(name) FROM core_balsamjob WHERE workflow = %s AND "
                "(data->>'dhflow_key' IS NULL OR data->>'dhflow_key' = '')", [workflow])
    n, name = cur.fetchone()
    if n:
        refuse_foreign(workflow, n, name)


@database_errors()
def match_in_server(head: dict, tasks, show, *, listing: bool = True):
    """``show(reconciliation)`` of the plan whose tasks (dicts, parents first) are ``tasks``
    against the workflow's jobs, matched in the server, in one transaction: open while
    ``show`` runs with ``listing`` (the listed decisions are read as it iterates them);
    without it, ``show`` gets the counts and reasons only, after the transaction ended (a
    slow reader of a table keeps no snapshot open).  Raises PlanRejected for a malformed
    task, CodeChanged when a kept job's code changed."""
    from django.db import connection, transaction

    workflow = head["workflow"]
    with transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor
        # one snapshot for every read; the temporary tables are this transaction's only writes
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # the joins' hash tables in the server's memory; no JIT (its compile costs more than it
        # saves here); cursors planned for reading every row (as they are), not the first ones
        cur.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off; SET LOCAL cursor_tuple_fraction = 1.0")
        _refuse_foreign(cur, workflow)
        cur.execute(_PLAN_DDL)
        cur.execute(_ORPHAN_DDL)
        cur.execute("CREATE INDEX ON dhflow_orphan (ord)")
        cur.execute("CREATE TEMP TABLE dhflow_reasons (ord int PRIMARY KEY, reasons text) ON COMMIT DROP")
        rule_tasks: dict[str, int] = {}
        flags = {"parents": False}
        copy_text(cur, "COPY dhflow_plan FROM STDIN", _plan_lines(head, tasks, rule_tasks, flags), threaded=True)
        phase("against-db: plan compiled and copied")
        _check_names(cur, workflow, flags["parents"])
        cur.execute("CREATE INDEX ON dhflow_plan (ord)")
        cur.execute("ANALYZE dhflow_plan")
        cur.execute(_JOBS_SQL, [workflow])
        cur.execute("ANALYZE dhflow_jobs")
        cur.execute(_DUP_SQL)
        cur.execute("ANALYZE dhflow_dup")
        cur.execute("SET LOCAL transaction_read_only = on")  # nothing of Balsam's is written
        phase("against-db: plan checked, jobs' keys read")
        _refuse_changed_code(cur, workflow)
        phase("against-db: code checked")
        rules = list(rule_tasks)
        orphan_counts, orphan_reasons = _orphans(cur, rules)
        phase("against-db: orphans")
        new_counts: dict[str, int] = {}
        reasons: dict[str, dict[str, int]] = {}
        for _, rule, why in _new_rows(cur):
            new_counts[rule] = new_counts.get(rule, 0) + 1
            rr = reasons.setdefault(rule, {})
            for w in why:
                rr[w] = rr.get(w, 0) + 1
        cur.execute("ANALYZE dhflow_reasons")
        phase("against-db: new tasks")
        counts = {r: {NEW: new_counts.get(r, 0), UNCHANGED: n - new_counts.get(r, 0), RERUN: 0,
                      ORPHANED: orphan_counts.get(r, 0)} for r, n in rule_tasks.items()}
        for r, n in orphan_counts.items():
            counts.setdefault(r, {s: 0 for s in STATUSES})[ORPHANED] = n
        for r, got in orphan_reasons.items():  # orphans come after the new tasks
            rr = reasons.setdefault(r, {})
            for w, n in got.items():
                rr[w] = rr.get(w, 0) + n
        if listing:
            return show(ServerMatch(workflow, counts, reasons, cur, lambda: _new_rows(cur, stored=True), rules))
    return show(ServerMatch(workflow, counts, reasons, None, None, rules))
