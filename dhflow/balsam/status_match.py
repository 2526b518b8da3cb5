"""``dhflow status`` of an edited file: the plan's tasks, streamed from the compiler into a
temporary table (rule, content key, plan order), their jobs' states counted in the server.

What :func:`dhflow.runtime.reading.status` gives from the whole plan and every job's key
and state held in Python: per rule (plan order), the tasks per state of the first job of
their key (the lowest job id), states in the order they first appear, NOT_SUBMITTED for
a task without a job; and how many jobs no task claims (stale).  Here Python holds a chunk
of COPY text and the per-rule counts.
"""
from __future__ import annotations

from collections import Counter

from dhflow.balsam.dberrors import database_errors
from dhflow.balsam.copy import esc
from dhflow.balsam.copy import copy_text
from dhflow.errors import phase

_DDL = "CREATE TEMP TABLE dhflow_status (ord int, rule text, key text) ON COMMIT DROP"
# (OFFSET 0: the jobs' keys are projected before any hash, not their whole data)
_COUNTS_SQL = """
SELECT t.rule, coalesce(nullif(f.state, ''), 'NOT_SUBMITTED'), count(*)
FROM dhflow_status t
LEFT JOIN (SELECT DISTINCT ON (k) k, state FROM (SELECT data->>'dhflow_key' AS k, state, job_id::text AS id
           FROM core_balsamjob WHERE workflow = %s OFFSET 0) j WHERE k IS NOT NULL ORDER BY k, id) f ON f.k = t.key
GROUP BY 1, 2 ORDER BY min(t.ord)"""
_STALE_SQL = """
SELECT count(*) FROM (SELECT data->>'dhflow_key' AS k FROM core_balsamjob WHERE workflow = %s OFFSET 0) j
WHERE NOT EXISTS (SELECT 1 FROM dhflow_status t WHERE t.key = j.k)"""


def _lines(tasks):
    buf: list[str] = []
    for n, t in enumerate(tasks):
        buf.append(f"{n}\t{esc(t.get('rule') or t['name'])}\t{esc(t['key'])}\n")
        if len(buf) >= 2000:
            yield "".join(buf).encode()
            buf = []
    if buf:
        yield "".join(buf).encode()


@database_errors()
def rule_states(workflow: str, tasks) -> tuple[dict[str, Counter], int]:
    """(rule -> Counter(state) in plan order, jobs no task claims) of the tasks (dicts, in
    plan order) against the workflow's jobs, in one read-only snapshot."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
        cur.execute(_DDL)
        copy_text(cur, "COPY dhflow_status FROM STDIN", _lines(tasks), threaded=True)
        cur.execute("ANALYZE dhflow_status")
        phase("status: plan compiled and copied")
        cur.execute("SET LOCAL transaction_read_only = on")  # nothing of Balsam's is written
        cur.execute(_COUNTS_SQL, [workflow])
        counts: dict[str, Counter] = {}
        for rule, state, n in cur.fetchall():  # (rules, and states in a rule, as they first appear)
            counts.setdefault(rule, Counter())[state] = n
        phase("status: counted")
        cur.execute(_STALE_SQL, [workflow])
        return counts, cur.fetchone()[0]
