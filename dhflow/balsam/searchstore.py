"""A search's trials in the Balsam database: the ``dhflow_search_trial`` table, written in
the same transaction as the trial's jobs, and the advisory lock that keeps one driver per
workflow.

A trial row says which point a proposal was and which job (by content key) evaluates it;
a proposal equal to a finished point points at that point's job; a proposal that could not
become a job (invalid resources) has no key and keeps its reason. The jobs stay the truth
for states and objectives. ``search`` is the search's fingerprint: a changed search starts
again at trial 0 under a new fingerprint, and its old rows stay for history.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from dhflow.balsam.dberrors import database_errors
from dhflow.errors import BackendError

TABLE = "dhflow_search_trial"
_DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    workflow text NOT NULL,
    search text NOT NULL,
    trial integer NOT NULL,
    point jsonb NOT NULL,
    job_key text,
    reason text,
    created timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow, search, trial))"""


@dataclass(frozen=True)
class TrialRow:
    """One proposal: its number, its point, its job's key (None: no job) and why not."""

    trial: int
    point: dict
    job_key: str | None
    reason: str | None = None


def _cursor():
    from django.db import connection

    return connection.cursor()


def ensure_table() -> None:
    """Create the trials table if this database has none yet."""
    with database_errors(), _cursor() as c:
        c.execute(_DDL)


def load_trials(workflow: str, search: str) -> list[TrialRow]:
    """The trials of one search of a workflow, by number."""
    ensure_table()
    with database_errors(), _cursor() as c:
        c.execute(f"SELECT trial, point, job_key, reason FROM {TABLE} WHERE workflow = %s AND search = %s "
                  "ORDER BY trial", [workflow, search])
        rows = c.fetchall()
    return [TrialRow(t, json.loads(p) if isinstance(p, str) else p, k, r) for t, p, k, r in rows]


def searches_of(workflow: str) -> list[tuple[str, int]]:
    """(fingerprint, trials) of every search this workflow has held, newest first."""
    ensure_table()
    with database_errors(), _cursor() as c:
        c.execute(f"SELECT search, count(*), max(created) FROM {TABLE} WHERE workflow = %s GROUP BY search "
                  "ORDER BY 3 DESC", [workflow])
        return [(s, n) for s, n, _ in c.fetchall()]


def delete_trials(workflow: str) -> None:
    """Forget every search of the workflow (`dhflow clean`: its jobs are gone too)."""
    with _cursor() as c:
        c.execute("SELECT to_regclass(%s)", [TABLE])
        if c.fetchone()[0] is not None:
            c.execute(f"DELETE FROM {TABLE} WHERE workflow = %s", [workflow])


def write_batch(plan: dict, search: str, rows: list[TrialRow], *, provenance: dict):
    """Record the trials and write their new jobs (the plan of every trial so far), in ONE
    transaction: a crash leaves both or neither. Returns the store's WriteResult."""
    from django.db import transaction

    from dhflow.balsam import store

    with database_errors(), transaction.atomic():
        with _cursor() as c:
            _insert_rows(c, plan["workflow"], search, rows)
        return store.apply(plan, provenance=provenance, command="search")


def append_batch(plan: dict, search: str, rows: list[TrialRow], *, provenance: dict):
    """Record the trials and write the jobs of ``plan`` that the workflow does not hold yet
    (the new trials' tasks and the single tasks they hang from: not the plan of every trial),
    in ONE transaction under the workflow's lock (:func:`dhflow.balsam.incremental.append`).
    The jobs are those :func:`write_batch` would write for the plan of every trial."""
    from django.db import transaction

    from dhflow.balsam import incremental

    def insert(cur):
        _insert_rows(cur, plan["workflow"], search, rows)

    with database_errors(), transaction.atomic():
        return incremental.append(plan, provenance=provenance, command="search", inside=insert)


def _insert_rows(cur, workflow: str, search: str, rows: list[TrialRow]) -> None:
    for r in rows:
        cur.execute(f"INSERT INTO {TABLE} (workflow, search, trial, point, job_key, reason) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    [workflow, search, r.trial, json.dumps(r.point), r.job_key, r.reason])


def _lock_key(workflow: str) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(b"dhflow-search:" + workflow.encode()).digest()[:8], "big", signed=True)


def driver_busy(workflow: str) -> bool:
    """Whether a search driver holds the workflow's lock now. Read from ``pg_locks``, never
    taken: a look (`status --watch` looks every refresh) must not refuse a driver starting
    at that instant. A bigint advisory key shows as its high and low 32 bits, objsubid 1."""
    key = _lock_key(workflow) & 0xFFFFFFFFFFFFFFFF
    with database_errors(), _cursor() as c:
        c.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                  "AND classid::bigint = %s AND objid::bigint = %s "
                  "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                  [key >> 32, key & 0xFFFFFFFF])
        return c.fetchone()[0] > 0


@contextlib.contextmanager
def driver_lock(workflow: str):
    """Hold the workflow's search-driver lock (a session advisory lock) or refuse at once."""
    with database_errors(), _cursor() as c:
        c.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(workflow)])
        got = c.fetchone()[0]
    if not got:
        raise BackendError(f"another search driver is running workflow {workflow} (a `dhflow run` or the "
                           "submitted driver job); wait for it or stop it first")
    try:
        yield
    finally:
        with contextlib.suppress(Exception), _cursor() as c:
            c.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(workflow)])
