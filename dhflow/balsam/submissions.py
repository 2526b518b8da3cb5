"""dhflow's own table of submissions, ``dhflow_submission``: its schema and upgrades, the
one INSERT every write path records a submission with, its listing (``dhflow history``)
and the provenance each new job's data carries.

The table lives in the Balsam database beside ``core_balsamjob``; it is created (and
upgraded) IF NOT EXISTS inside the submission's own transaction.  Functions taking ``cur``
run on the caller's raw psycopg2 cursor, in the caller's transaction.
"""
from __future__ import annotations

import hashlib
import json

from dhflow.balsam.dberrors import database_errors

SUBMISSION_TABLE = "dhflow_submission"
SUBMISSION_DDL = f"""
CREATE TABLE IF NOT EXISTS {SUBMISSION_TABLE} (
    id             bigserial PRIMARY KEY,
    workflow       text        NOT NULL,
    submitted_at   timestamptz NOT NULL,
    command        text        NOT NULL DEFAULT '',
    options        text        NOT NULL DEFAULT '',
    spec_path      text,
    spec_sha256    text,
    git_commit     text,
    git_dirty      boolean,
    dhflow_version text        NOT NULL,
    added          integer     NOT NULL,
    kept           integer     NOT NULL,
    rerun          integer     NOT NULL,
    pruned         integer     NOT NULL,
    orphaned       integer     NOT NULL
);
CREATE INDEX IF NOT EXISTS {SUBMISSION_TABLE}_workflow_idx ON {SUBMISSION_TABLE} (workflow, id);
"""
#: Columns added after the first release (ALTER TABLE ... ADD COLUMN IF NOT EXISTS upgrades
#: existing tables): what a compile-free resubmission compares
#: (:func:`dhflow.balsam.store.submit_unchanged`): the input digest of the compile
#: (dhflow.compiler.api.input_digest), the digest of the plan's keys (:func:`keys_digest`),
#: and the largest node count / whether every task is single-rank (the launch checks of a
#: submission that does not compile).  NULL when not recorded.
SUBMISSION_EXTRA_COLUMNS = (("input_digest", "text"), ("keys_digest", "text"), ("max_nodes", "integer"),
                            ("all_serial", "boolean"),
                            # the keys' sum and the plan's tasks per rule (JSON), for reads that
                            # do not compile (dhflow.balsam.aggregates)
                            ("keys_sum", "text"), ("rule_tasks", "text"),
                            # the job-change log's count read at the start (dhflow.balsam.jobset)
                            ("job_changes", "bigint"))
#: The columns :func:`submissions` lists (those of the first release).
LISTED_COLUMNS = ("id", "workflow", "submitted_at", "command", "options", "spec_path", "spec_sha256",
                  "git_commit", "git_dirty", "dhflow_version", "added", "kept", "rerun", "pruned", "orphaned")
#: Serialises the one-time creation of the submission table across workflows.
_DDL_LOCK = int.from_bytes(hashlib.sha256(b"dhflow:ddl:" + SUBMISSION_TABLE.encode()).digest()[:8], "big",
                           signed=True)
#: The provenance fields copied into each new job's data (with the submission's id).
_JOB_PROVENANCE = ("spec_path", "spec_sha256", "git_commit", "git_dirty", "spec_committed", "dhflow_version",
                   "submitted_at")


# ------------------------------------------------------------------ pure
#: The keys_digest of a submission that records the keys' sum (keys_sum), which is what
#: proves its job set later: the sorted digest of a million keys (about a second after the
#: COPY, on the critical path) is not computed.  Not a digest, so an older dhflow that
#: compares digests sees a mismatch and compiles (slower, never wrong).
SUMMED = "see keys_sum"


def keys_digest(keys) -> str:
    """sha256 over the sorted content keys and their count (a multiset: duplicates count)."""
    keys = sorted(keys)
    h = hashlib.sha256(f"{len(keys)}\n".encode())
    for i in range(0, len(keys), 4096):  # "\n".join(keys), a piece at a time (no 65 MB text at 1M)
        h.update((b"\n" if i else b"") + "\n".join(keys[i:i + 4096]).encode())
    return h.hexdigest()


def job_provenance(provenance: dict, submission) -> tuple[dict, str]:
    """The provenance stored in each new job's data: (dict, its compact sorted JSON)."""
    prov = {k: provenance.get(k) for k in _JOB_PROVENANCE}
    prov["submission"] = submission
    return prov, json.dumps(prov, separators=(",", ":"), sort_keys=True)


def options_text(rerun: str | None = None, prune: bool = False) -> str:
    """The options column: the submit options that change what is written."""
    return " ".join(([f"--rerun {rerun}"] if rerun else []) + (["--prune"] if prune else []))


def table_columns(cur) -> set[str] | None:
    """The columns of the submission table, None when it does not exist."""
    cur.execute("SELECT to_regclass(%s)", [SUBMISSION_TABLE])
    if cur.fetchone()[0] is None:
        return None
    cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped", [SUBMISSION_TABLE])
    return {r[0] for r in cur.fetchall()}


def ensure_submission_table(cur) -> None:
    """Create dhflow's submission table when it is missing, and add the columns that later
    dhflow versions record (in the caller's transaction; an ALTER TABLE only when a column
    is missing, so that submissions of other workflows are not serialised behind it)."""
    from dhflow.balsam import jobs, jobset

    cols = table_columns(cur)
    if cols is not None and all(c in cols for c, _ in SUBMISSION_EXTRA_COLUMNS) and not jobs.missing_indexes(cur) \
            and not jobset.missing(cur):
        return
    cur.execute("SELECT pg_advisory_xact_lock(%s)", [_DDL_LOCK])
    jobs.ensure_indexes(cur)  # dhflow's index on the job table (workflow, state), once per database
    if jobset.missing(cur):
        jobset.ensure(cur)  # the job-change log and its triggers, once per database
    if cols is None:
        cur.execute(SUBMISSION_DDL)
    for col, typ in SUBMISSION_EXTRA_COLUMNS:
        cur.execute(f"ALTER TABLE {SUBMISSION_TABLE} ADD COLUMN IF NOT EXISTS {col} {typ}")


# ------------------------------------------------------------------ writes and reads
def insert_submission(cur, wf: str, provenance: dict, command: str, options: str, *, added=0, kept=0,
                      rerun=0, pruned=0, orphaned=0, input_digest=None, keys_digest=None, max_nodes=None,
                      all_serial=None, keys_sum=None, rule_tasks=None, job_changes=None) -> int:
    """Record one submission (creating the table when needed); returns its id."""
    ensure_submission_table(cur)
    cur.execute(
        f"INSERT INTO {SUBMISSION_TABLE} (workflow, submitted_at, command, options, spec_path, "
        "spec_sha256, git_commit, git_dirty, dhflow_version, added, kept, rerun, pruned, orphaned, "
        "input_digest, keys_digest, max_nodes, all_serial, keys_sum, rule_tasks, job_changes) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        [wf, provenance.get("submitted_at"), command, options, provenance.get("spec_path"),
         provenance.get("spec_sha256"), provenance.get("git_commit"), provenance.get("git_dirty"),
         provenance.get("dhflow_version") or "", added, kept, rerun, pruned, orphaned, input_digest, keys_digest,
         max_nodes, all_serial, keys_sum, rule_tasks, job_changes])
    return cur.fetchone()[0]


def update_counts(cur, submission: int, *, added: int, kept: int, pruned: int, orphaned: int,
                  input_digest: str | None, keys_digest: str, max_nodes: int, all_serial: bool,
                  keys_sum: str | None = None, rule_tasks: str | None = None, job_changes: int | None = None) -> None:
    """Fill in the counts and digests of a submission recorded before its tasks were known."""
    cur.execute(
        f"UPDATE {SUBMISSION_TABLE} SET added = %s, kept = %s, pruned = %s, orphaned = %s, "
        "input_digest = %s, keys_digest = %s, max_nodes = %s, all_serial = %s, keys_sum = %s, rule_tasks = %s, "
        "job_changes = %s WHERE id = %s",
        [added, kept, pruned, orphaned, input_digest, keys_digest, max_nodes, all_serial, keys_sum, rule_tasks,
         job_changes, submission])


def latest(cur, wf: str) -> tuple | None:
    """(input_digest, keys_digest, max_nodes, all_serial) of the workflow's latest submission."""
    cur.execute(f"SELECT input_digest, keys_digest, max_nodes, all_serial FROM {SUBMISSION_TABLE} "
                "WHERE workflow = %s ORDER BY id DESC LIMIT 1", [wf])
    return cur.fetchone()


def latest_job_changes(cur, wf: str, cols: set[str]) -> int | None:
    """The job-change count the workflow's latest submission recorded (None: not recorded;
    :mod:`dhflow.balsam.jobset`)."""
    if "job_changes" not in cols:
        return None
    cur.execute(f"SELECT job_changes FROM {SUBMISSION_TABLE} WHERE workflow = %s ORDER BY id DESC LIMIT 1", [wf])
    row = cur.fetchone()
    return row[0] if row else None


@database_errors()
def submissions(workflow: str, limit: int | None = None) -> list[dict]:
    """The recorded submissions of exactly this workflow, newest first (empty before the first)."""
    import datetime as _dt

    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", [SUBMISSION_TABLE])
        if cur.fetchone()[0] is None:
            return []
        cur.execute(f"SELECT {', '.join(LISTED_COLUMNS)} FROM {SUBMISSION_TABLE} WHERE workflow = %s "
                    "ORDER BY id DESC" + (" LIMIT %s" if limit else ""),
                    [workflow, limit] if limit else [workflow])
        out = []
        for row in cur.fetchall():
            rec = dict(zip(LISTED_COLUMNS, row))
            if rec["submitted_at"] is not None:
                rec["submitted_at"] = rec["submitted_at"].astimezone(_dt.timezone.utc).isoformat()
            out.append(rec)
        return out
