"""A cheap proof that a workflow's set of jobs has not changed since a submission.

A compile-free resubmission (:func:`dhflow.balsam.store.submit_unchanged`) must know that
the workflow's jobs are still exactly the ones its latest submission left (nobody ran
``balsam rm``, added a job, or moved one between workflows).  Summing the content keys
of every job proves it, but reads each job's jsonb ``data``: 1.5-2 s at a million jobs.

The job-change log
------------------
dhflow installs three triggers on Balsam's job table that append the id of the
*transaction* to ``dhflow_job_change`` (at most one row per transaction, ``ON CONFLICT DO
NOTHING``) whenever it may have taken a job out of a workflow or changed a job's content
key:

* any DELETE or TRUNCATE statement (statement-level: no per-row cost, whatever the size);
* an UPDATE that changes a row's ``workflow``, ``job_id`` or ``data->'dhflow_key'``
  (row-level, ``WHEN`` those differ; declared ``UPDATE OF workflow, job_id, data`` so that
  it is not even considered for the launcher's updates, which set only ``state``,
  ``state_history``, ``lock``, ``tick`` and ``queued_launch``).

INSERTs (COPY included) fire nothing: the COPY of a first submission costs the same.

The proof
---------
A submission reads the log's row count ``C`` first, before it reads the workflow's jobs,
and records it (``dhflow_submission.job_changes``) with the plan's job count ``N`` (the
first field of its keys' sum).  Later, the workflow's jobs are still that very set when

    the log still holds ``C`` rows, and the workflow still holds ``N`` jobs

(``count(*)`` from dhflow's ``(workflow, state)`` index; both read in one statement, so one
snapshot: a change committed between two reads cannot pass).  Why: a job can leave the
workflow only by a DELETE/TRUNCATE or an UPDATE of its ``workflow``/``job_id`` (logged);
with none committed since, no job left, so ``N`` jobs now means none arrived either.  The
log is transactional: a change committed before ``C`` was read is already visible to the
submission's own reads that follow (READ COMMITTED); a change committed after (or still
in flight) adds a row, so ``C`` no longer matches.  A rolled-back change adds nothing.

What this does not see, and why that is acceptable: edits in place of a job's other
columns (its command, resources, state) by raw SQL; neither did the keys' sum, which read
only the key (an edit of the key *is* logged), and Balsam's own ``balsam modify`` of a
job's arguments or resources (it changes neither its workflow, id nor key).  Triggers
switched off for a while and on again (``DISABLE TRIGGER``, ``session_replication_role =
replica`` as restore tools set it) miss what happened meanwhile.  Any logged change anywhere in the database (another
workflow's ``--prune``, ``dhflow clean``) only sends the next resubmission of every
workflow to the full check (the keys' sum), which then records the new ``C``.  A database
without the triggers (dropped, or older dhflow) has no ``C``: the full check again.
"""
from __future__ import annotations

CHANGE_TABLE = "dhflow_job_change"
_FUNCTION = "dhflow_job_change_note"
#: (trigger name, its definition after ``CREATE TRIGGER name``)
TRIGGERS = (
    ("dhflow_job_change_delete", f"AFTER DELETE ON core_balsamjob FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"),
    ("dhflow_job_change_truncate",
     f"AFTER TRUNCATE ON core_balsamjob FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"),
    ("dhflow_job_change_move",
     "AFTER UPDATE OF workflow, job_id, data ON core_balsamjob FOR EACH ROW WHEN "
     "(OLD.workflow IS DISTINCT FROM NEW.workflow OR OLD.job_id IS DISTINCT FROM NEW.job_id "
     "OR OLD.data->'dhflow_key' IS DISTINCT FROM NEW.data->'dhflow_key') "
     f"EXECUTE FUNCTION {_FUNCTION}()"),
)
_DDL = f"""
CREATE TABLE IF NOT EXISTS {CHANGE_TABLE} (
    xact bigint      PRIMARY KEY,
    at   timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO public.{CHANGE_TABLE} (xact) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
"""


def missing(cur) -> bool:
    """True when the log or one of its triggers is missing (or disabled)."""
    return changes(cur) is None


def ensure(cur) -> None:
    """Create the log and its triggers when missing (caller's transaction, under dhflow's
    DDL lock: CREATE TRIGGER locks the job table against writes until the commit, so the
    caller runs this in a short transaction of its own)."""
    cur.execute(_DDL)
    cur.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'core_balsamjob'::regclass")
    present = dict(cur.fetchall())
    made = False
    for name, definition in TRIGGERS:
        if present.get(name, "D") != "D":
            continue
        if name in present:
            cur.execute(f"DROP TRIGGER {name} ON core_balsamjob")  # disabled: made anew
        cur.execute(f"CREATE TRIGGER {name} {definition}")
        made = True
    if made:
        # what happened while a trigger was missing went unlogged: count the gap as a change,
        # so that no count recorded before it proves anything after it
        cur.execute(f"INSERT INTO {CHANGE_TABLE} (xact) VALUES (txid_current()) ON CONFLICT DO NOTHING")


def changes(cur) -> int | None:
    """The number of logged job-set changes (C), None when the log is not maintained (a
    trigger missing or disabled): then nothing can be proved from it."""
    cur.execute("SELECT to_regclass(%s), (SELECT count(*) FROM pg_trigger WHERE tgrelid = "
                "to_regclass('core_balsamjob') AND tgname = ANY(%s) AND tgenabled <> 'D')",
                [CHANGE_TABLE, [n for n, _ in TRIGGERS]])
    table, enabled = cur.fetchone()
    if table is None or enabled != len(TRIGGERS):
        return None
    cur.execute(f"SELECT count(*) FROM {CHANGE_TABLE}")
    return cur.fetchone()[0]


def own_changes(cur) -> int:
    """Rows the current transaction itself added to the log (its own prune): counted in the
    C a submission records, since its own deletes are part of what it leaves."""
    cur.execute(f"SELECT count(*) FROM {CHANGE_TABLE} WHERE xact = txid_current()")
    return cur.fetchone()[0]


def same_jobs(cur, workflow: str, recorded_changes: int | None, changes_now: int | None, jobs: int) -> bool:
    """True when the workflow provably holds the very jobs it held when ``recorded_changes``
    was read, and there are ``jobs`` of them (see the module's docstring)."""
    if recorded_changes is None or changes_now is None or changes_now != recorded_changes:
        return False
    # the log again and the jobs in one statement (one snapshot): a change committed since
    # ``changes_now`` was read shows in the log, not only in the count
    cur.execute(f"SELECT (SELECT count(*) FROM {CHANGE_TABLE}), "
                "(SELECT count(*) FROM core_balsamjob WHERE workflow = %s)", [workflow])
    log, count = cur.fetchone()
    return log == recorded_changes and count == jobs
