"""Aggregated reads of a workflow's jobs, computed by the server: no job row reaches dhflow.

A submission records, beside its keys' digest, a *keys sum* (:func:`keys_sum`): the number
of content keys and two sums of 60-bit slices of them.  Unlike the digest (which needs the
keys sorted, so every key fetched), the server computes the same sum in one aggregated scan;
equal sums mean the workflow's jobs carry exactly the keys the submission wrote (an
accidental match is a 2**-120 event; the keys are sha256 digests).  Two reads use it:

* a compile-free resubmission checks that the jobs are unchanged (:func:`workflow_keys_sum`);
* ``dhflow status`` of an unchanged file answers from one GROUP BY (rule, state), without
  compiling (:func:`counts_if_unchanged`), with the plan's per-rule task counts that the
  submission recorded.
"""
from __future__ import annotations

import json
from collections import Counter

from dhflow.balsam.dberrors import database_errors

# One scan; the key is read once per row (the subquery is materialised by OFFSET 0).
_KEYED = ("(SELECT data->>'dhflow_key' AS k, coalesce(data->>'dhflow_rule', data->>'dhflow_task', name) AS r, "
          "state FROM core_balsamjob WHERE workflow = %s OFFSET 0) AS j")
_SLICES = ("sum(('x' || substr(k, 1, 15))::bit(60)::bigint), sum(('x' || substr(k, 16, 15))::bit(60)::bigint)")


def keys_sum(keys) -> str:
    """``"COUNT:SUM1:SUM2"`` of content keys (hex sha256): a multiset digest the server can
    compute without sorting."""
    n = s1 = s2 = 0
    for k in keys:
        n += 1
        s1 += int(k[:15], 16)
        s2 += int(k[15:30], 16)
    return f"{n}:{s1}:{s2}"


def _sum_text(n, nkeys, s1, s2) -> str | None:
    if n != nkeys:  # a job without a content key: not dhflow's
        return None
    return f"{n}:{int(s1 or 0)}:{int(s2 or 0)}"


def workflow_keys_sum(cur, workflow: str) -> str | None:
    """:func:`keys_sum` of the workflow's jobs, computed by the server (None: a job has no key)."""
    cur.execute(f"SELECT count(*), count(k), {_SLICES} FROM {_KEYED}", [workflow])
    return _sum_text(*cur.fetchone())


def latest_sums(cur, workflow: str) -> tuple | None:
    """(input_digest, keys_sum, rule_tasks) of the workflow's latest submission (None: none
    recorded, or a table without those columns)."""
    from dhflow.balsam import submissions as subs

    cols = subs.table_columns(cur)
    if cols is None or not {"input_digest", "keys_sum", "rule_tasks"} <= cols:
        return None
    cur.execute(f"SELECT input_digest, keys_sum, rule_tasks FROM {subs.SUBMISSION_TABLE} WHERE workflow = %s "
                "ORDER BY id DESC LIMIT 1", [workflow])
    return cur.fetchone()


@database_errors()
def counts_if_unchanged(workflow: str, input_digest: str) -> dict[str, Counter] | None:
    """rule -> Counter(state) of the workflow, when its latest submission was of this very
    input and its jobs carry exactly that submission's keys (so they are the plan's tasks,
    one job each); None otherwise (the caller compiles and matches jobs by key)."""
    from django.db import connection

    with connection.cursor() as cur:
        row = latest_sums(cur, workflow)
        if row is None or row[0] != input_digest or not row[1] or not row[2]:
            return None
        cur.execute(f"SELECT r, state, count(*), count(k), {_SLICES} FROM {_KEYED} GROUP BY 1, 2", [workflow])
        found = cur.fetchall()
    n = sum(f[2] for f in found)
    total = _sum_text(n, sum(f[3] for f in found), sum(f[4] or 0 for f in found), sum(f[5] or 0 for f in found))
    if total is None or total != row[1]:
        return None
    counts: dict[str, Counter] = {rule: Counter() for rule in json.loads(row[2])}
    for rule, state, k, *_ in found:
        if rule not in counts:
            return None
        counts[rule][state] += k
    return counts
