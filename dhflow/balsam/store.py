"""Writing a plan into the Balsam database: each submission is one transaction.

Balsam must be activated first (:mod:`dhflow.balsam.env`).  The rows come from
:mod:`dhflow.balsam.rows`, travel by COPY (:mod:`dhflow.balsam.copy`), and each submission
is recorded in ``dhflow_submission`` (:mod:`dhflow.balsam.submissions`).

Submitting is reconciling (upsert by content key)
-------------------------------------------------
Each job carries ``data["dhflow_key"]`` (the task's content key).  Every write runs in
:func:`_workflow_transaction`: one transaction under a per-workflow advisory lock
(``pg_advisory_xact_lock``: concurrent submissions of a workflow queue up, and the later
one sees the earlier one's jobs).  :func:`apply` brings the workflow's jobs in line with a
whole plan:

* the workflow's jobs are read with one narrow query (id, key, state; name, rule, point and
  fingerprints for the orphans only) and :func:`dhflow.reconcile.decision.reconcile` decides;
* unchanged tasks keep their jobs: no INSERT, no UPDATE (their ids, states and results stay);
* new tasks are streamed into ``core_balsamjob`` with ``COPY ... FROM STDIN`` on Django's
  connection (psycopg2's ``copy_expert``), every column given, rows produced one chunk at a
  time by a generator (:func:`dhflow.balsam.rows.copy_lines`) in a producer thread; their
  parents may be jobs already in the database (Balsam's ``check_parents`` makes a new child
  of a finished parent READY on the launcher's first pass);
* ``rerun`` ("failed" or "all") resets those jobs and their dependants to CREATED
  (:func:`_reset_for_rerun`); ``prune`` deletes the orphans (jobs whose key left the plan),
  which are otherwise only reported;
* the submission is recorded and its provenance is written into each new job's data.

:func:`apply_stream` is the same for a plan still being compiled (``submit`` without
``--rerun``/``--dry-run``): the COPY's producer thread pulls each task from the streaming
compiler, validates it and keeps or writes it, so compiling overlaps the server's work; the
orphans (existing keys no task claimed) are known after the COPY.  A compile error half-way
aborts the transaction.  :func:`submit_unchanged` is the compile-free resubmission: each
submission records the input digest of its compile, a digest of the plan's keys and the
job-change log's count (:mod:`dhflow.balsam.jobset`); when the input is the same and the
jobs are provably the same (the log and a count, else the keys), nothing can change and
only the submission is recorded.

A workflow holding jobs that dhflow did not create is refused.  All or nothing: a
submission killed half-way leaves no trace.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field

from dhflow.balsam import aggregates, jobs, jobset, submissions as subs
from dhflow.balsam.apps import sync_apps as _sync_apps
from dhflow.balsam.copy import copy_in, history_line, new_job_stamps, uuid4_stream, uuid4s
from dhflow.balsam.dberrors import database_errors
from dhflow.balsam.rows import TaskChecker, copy_lines, validate, validate_head
from dhflow.errors import BackendError, phase
from dhflow.target import FINAL_STATES, serial_fits


@dataclass
class WriteResult:
    """What a submission did (or, for a dry run, would do)."""

    workflow: str
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    rerun: list[str] = field(default_factory=list)
    orphaned: int = 0
    orphaned_pending: int = 0  # orphans not in a final state: a launcher of the workflow would still run them
    pruned: int = 0
    rows_written: int = 0
    apps_created: list[str] = field(default_factory=list)
    apps_updated: list[str] = field(default_factory=list)
    apps_migrated: int = 0          # jobs moved off an app name of an earlier dhflow (dhflow.balsam.apps)
    ids: dict[str, str] = field(default_factory=dict)
    submission_id: int | None = None
    reconciliation: object = None  # dhflow.reconcile.decision.Reconciliation
    unchanged_input: bool = False  # a compile-free resubmission (submit_unchanged)
    max_nodes: int | None = None    # the largest num_nodes of the plan's tasks (streaming, unchanged)
    all_serial: bool | None = None  # every task single-node, single-rank (streaming, unchanged)

    def summary(self) -> str:
        """One line saying what was written, kept, reset and left over."""
        n = len(self.created)
        text = f"workflow {self.workflow}: {n} new job{'' if n == 1 else 's'} written"
        unchanged = len(self.kept) - len(self.rerun)
        if unchanged:
            text += f", {unchanged} unchanged"
        if self.rerun:
            text += f", {len(self.rerun)} reset to run again"
        if self.pruned:
            text += f", {self.pruned} orphaned jobs removed"
        if self.orphaned:
            text += (f"; {self.orphaned} jobs of this workflow are no longer in the file (orphans; "
                     "`--prune` removes them)")
            if self.orphaned_pending:
                text += (f"; {self.orphaned_pending} of them have not finished and a launcher of this "
                         "workflow would still run them")
        if self.apps_migrated:
            text += (f"; {self.apps_migrated} jobs moved to this workflow's own app names "
                     "(written by an earlier dhflow; nothing reruns)")
        if self.unchanged_input:
            text += " (file and jobs unchanged since the last submission: not recompiled)"
        if self.submission_id is not None:
            text += f" [submission {self.submission_id}]"
        return text


# ------------------------------------------------------------------ shared by every write
def _lock_id(workflow: str) -> int:
    """The key of the workflow's advisory lock (tests hold it to line submissions up)."""
    return int.from_bytes(hashlib.sha256(b"dhflow:" + workflow.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def _workflow_transaction(workflow: str, prepare: bool = True):
    """One transaction on Django's connection, under the workflow's advisory lock; yields the
    raw psycopg2 cursor.  Database errors (the commit's too) become one-line BackendErrors.
    ``prepare=False``: dhflow's tables are known to be there (a search's proposals, after
    the driver's first write)."""
    from django.db import connection, transaction

    # dhflow's tables, indexes and triggers first, in a short transaction of their own: built
    # inside the long one, their locks on the job table would stall every launcher until the
    # commit (then the check inside is a no-op)
    if prepare:
        with database_errors(), transaction.atomic(), connection.cursor() as wrapper:
            subs.ensure_submission_table(wrapper.cursor)
    with database_errors(), transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(workflow)])
        yield cur


def _refuse_held(cur, job_ids: list[str], what: str) -> None:
    """Refuse to change jobs that a running Balsam launcher holds (``what``: the change)."""
    busy = jobs.held_by_launcher(cur, job_ids)
    if busy:
        held = next(iter(busy.values()))
        raise BackendError(f"{len(busy)} of the jobs to {what} are held by a running Balsam launcher "
                           f"(lock {held}); wait for it to finish or stop it first")


def _count_orphans(result: WriteResult, orphans: list, prune: bool) -> None:
    """The orphans (ExistingJob) pruned, or reported with those a launcher would still run."""
    if prune:
        result.pruned = len(orphans)
    else:
        result.orphaned = len(orphans)
        result.orphaned_pending = sum(1 for j in orphans if j.state not in FINAL_STATES)


def _delete_jobs(cur, job_ids: list[str]) -> None:
    if job_ids:
        cur.execute("DELETE FROM core_balsamjob WHERE job_id = ANY(%s::uuid[])", [job_ids])


def _write_new(cur, plan: dict, tasks, ids: dict[str, str], provenance: dict, submission: int, parts_of, *,
               threaded: bool) -> int:
    """COPY the jobs of ``tasks`` (the submission's new tasks); returns the rows written."""
    _, prov_json = subs.job_provenance(provenance, submission)
    tick, history = new_job_stamps(submission)
    return copy_in(cur, copy_lines(plan, tasks, ids, provenance_json=prov_json, tick=tick, history=history,
                                   parts_of=parts_of, chunk_rows=200), threaded=threaded)


# ------------------------------------------------------------------ a whole plan
def reconcile_with_db(plan: dict, rerun: str | None = None, *, validated: bool = False):
    """The reconciliation of a plan with the database, read-only (Balsam must be activated)."""
    from django.db import connection, transaction
    from dhflow.reconcile.decision import reconcile

    if not validated:
        validate(plan)
    with database_errors(), transaction.atomic(), connection.cursor() as wrapper:
        return reconcile(plan, jobs.jobs_for_reconcile(wrapper.cursor, plan), rerun)


def _sort_decisions(rec, result: WriteResult) -> tuple[list[str], list[str], list[str]]:
    """(new task names, job ids to rerun, orphan job ids); fills result's kept, rerun, ids."""
    from dhflow.reconcile.decision import NEW, ORPHANED, RERUN, UNCHANGED

    new_names: list[str] = []
    rerun_ids: list[str] = []
    orphan_ids: list[str] = []
    for d in rec.decisions:
        status = d.status
        if status == UNCHANGED:
            result.ids[d.name] = d.job_id
            result.kept.append(d.name)
        elif status == NEW:
            new_names.append(d.name)
        elif status == RERUN:
            result.ids[d.name] = d.job_id
            result.kept.append(d.name)
            result.rerun.append(d.name)
            rerun_ids.append(d.job_id)
        elif status == ORPHANED:
            orphan_ids.append(d.job_id)
    result.ids.update(zip(new_names, uuid4s(len(new_names))))
    result.created = new_names
    return new_names, rerun_ids, orphan_ids


def apply(plan: dict, *, rerun: str | None = None, prune: bool = False, dry_run: bool = False,
          provenance: dict, command: str = "submit", validated: bool = False) -> WriteResult:
    """Bring the database in line with the plan, in one transaction (Balsam must be activated).

    Under a per-workflow advisory lock: reconcile the plan with the workflow's jobs; COPY the
    new tasks' jobs; reset the jobs to rerun (and their dependants) to CREATED; delete the
    orphans when ``prune``; record the submission in ``dhflow_submission``.  An unchanged
    plan writes no job row and updates none.
    """
    from django.db import transaction
    from dhflow.reconcile.decision import PartsMaker, reconcile

    if not validated:
        validate(plan)
    wf = plan["workflow"]
    result = WriteResult(wf)
    moved: list[tuple[str, str]] = []
    try:
        with _workflow_transaction(wf) as cur:
            phase("apply: lock")
            existing = jobs.jobs_for_reconcile(cur, plan)
            phase(f"apply: fetch {len(existing)} existing jobs")
            parts_of = PartsMaker(plan)
            rec = result.reconciliation = reconcile(plan, existing, rerun, parts_of)
            phase("apply: reconcile")
            new_names, rerun_ids, orphan_ids = _sort_decisions(rec, result)
            gone = set(orphan_ids)
            _count_orphans(result, [j for j in existing if j.job_id in gone] if gone else [], prune)
            _refuse_held(cur, rerun_ids + (orphan_ids if prune else []), "rerun or prune" if prune else "rerun")
            _sync_apps(plan, result, write=not dry_run)
            if dry_run:
                transaction.set_rollback(True)
                return result
            result.submission_id = subs.insert_submission(
                cur, wf, provenance, command, subs.options_text(rerun, prune), added=len(new_names),
                kept=len(result.kept) - len(rerun_ids), rerun=len(rerun_ids), pruned=result.pruned,
                orphaned=result.orphaned)
            if prune:
                _delete_jobs(cur, orphan_ids)
            if rerun_ids:
                moved = _reset_for_rerun(cur, plan, result, rerun_ids, rerun, provenance)
                jobs.record_parts(cur, plan, dict(zip(result.rerun, rerun_ids)), parts_of)  # code now
            if new_names:
                by_name = set(new_names)
                result.rows_written = _write_new(
                    cur, plan, (t for t in plan["tasks"] if t["name"] in by_name), result.ids, provenance,
                    result.submission_id, parts_of, threaded=len(new_names) > 2000)
                phase(f"apply: COPY {result.rows_written} rows")
        phase("apply: commit")
    except BaseException:
        for src, dst in reversed(moved):  # the transaction is rolled back: put the outputs back
            with contextlib.suppress(OSError):
                os.rename(dst, src)
        raise
    return result


def _reset_for_rerun(cur, plan: dict, result: WriteResult, job_ids: list[str], rerun: str | None,
                     provenance: dict) -> list[tuple[str, str]]:
    """Reset jobs so that Balsam runs them again; returns the (old, new) workdirs moved aside.

    What Balsam itself does to run a job again (``balsam modify jobs ID state ...``,
    ``BalsamJob.update_state``): set ``state`` and append a line to ``state_history``.
    dhflow sets CREATED (the launcher's first transition checks the parents: READY when
    they are all JOB_FINISHED, else AWAITING_PARENTS), frees the lock, notes why in the
    history, removes objective values the app wrote into the job's data
    (``data("key")`` sources) and records ``data["dhflow_rerun"]``.  The previous working
    directory (its ``<name>.out``, files) is moved to ``<wf>/.dhflow-rerun/<submission>/``
    so that neither stdout nor file objectives of the old run can be read as the new result.
    """
    wf = plan["workflow"]
    by_name = {t["name"]: t for t in plan["tasks"]}
    data_keys = sorted({(by_name[n].get("objective") or {}).get("key") for n in result.rerun
                        if (by_name[n].get("objective") or {}).get("source") == "data"} - {None})
    note = history_line("CREATED", f"dhflow submission {result.submission_id}: reset to run again"
                        + (f" (--rerun {rerun})" if rerun else ""))
    top = jobs.workdir_top()
    aside = os.path.join(top, wf, ".dhflow-rerun", str(result.submission_id))
    rerun_info = {"submission": result.submission_id, "at": provenance.get("submitted_at"),
                  "previous_outputs": aside}
    cur.execute(
        "UPDATE core_balsamjob SET state = 'CREATED', lock = '', state_history = state_history || %s, "
        "data = (data - %s::text[]) || jsonb_build_object('dhflow_rerun', "
        "%s::jsonb || jsonb_build_object('previous_state', state)) "
        "WHERE job_id = ANY(%s::uuid[]) RETURNING job_id::text, name",
        [note, data_keys, json.dumps(rerun_info), job_ids])
    moved = []
    for job_id, name in cur.fetchall():
        src = jobs.job_dir(top, wf, name, job_id)
        if os.path.isdir(src):
            os.makedirs(aside, exist_ok=True)
            dst = os.path.join(aside, os.path.basename(src))
            try:
                os.rename(src, dst)
            except OSError as exc:
                raise BackendError(f"cannot move the previous outputs of {name} aside ({src}): {exc.strerror}") \
                    from None
            moved.append((src, dst))
    return moved


# ------------------------------------------------------------------ a plan being compiled
def _claim_or_yield(head: dict, tasks, result: WriteResult, tally, parts_of, keys_by_name: dict[str, str],
                    check_task, rule_tasks: dict[str, int]):
    """The tasks of ``tasks`` to write, as they come: each one checked, kept when the
    workflow has its key (``tally``), else given a new id and yielded.  Fills ``result``'s
    ids, created, kept, max_nodes and all_serial, the key of every task by name and the
    number of tasks per rule (plan order)."""
    ids, created, kept = result.ids, result.created, result.kept
    # (copy_lines checks the environment it writes; every task seen gets an id below)
    check = TaskChecker(head, environment=False, names=ids)
    new_ids = uuid4_stream()
    result.max_nodes, result.all_serial = 0, True
    shapes: set = set()  # the (num_nodes, ranks_per_node) seen: a sweep has a handful
    for t in tasks:
        check(t)
        name = t["name"]
        rule = t.get("rule") or name
        rule_tasks[rule] = rule_tasks.get(rule, 0) + 1
        shape = (t.get("num_nodes", 1), t.get("ranks_per_node", 1))
        if shape not in shapes:
            nodes = int(shape[0])
            if nodes > result.max_nodes:
                result.max_nodes = nodes
            if not serial_fits(nodes, int(shape[1])):
                result.all_serial = False
            shapes.add(shape)
        if check_task is not None:
            check_task(t)
        keys_by_name[name] = t["key"]
        job = tally.task(t, parts_of)
        if job is not None:
            ids[name] = job.job_id
            kept.append(name)
            continue
        ids[name] = next(new_ids)
        created.append(name)
        yield t


def apply_stream(head: dict, tasks, *, prune: bool = False, provenance: dict,
                 command: str = "submit", check_task=None, input_digest: str | None = None) -> WriteResult:
    """:func:`apply` for tasks that are still being compiled (no ``rerun``, no dry run).

    ``head``: the plan dict without its tasks; ``tasks``: task dicts in topological order
    (parents first), pulled one at a time by the COPY's producer thread, so compiling the
    plan overlaps the server's work.  In one transaction under the workflow's advisory lock:
    the existing jobs are read (id, key, state), the apps synced, each task validated (and
    checked by ``check_task``), kept when its key is there (no write), else written by the
    COPY with a new id; then the orphans (existing keys no task claimed) are reported, or
    deleted with ``prune``, and the submission is recorded.  Anything ``tasks`` raises (a
    compile error half-way) aborts the transaction and is raised as itself: nothing written.

    Only what the summary needs is kept per task: the job id by name (parents of later
    tasks), the key by name (fingerprints of their upstream) and the keys (their digest).
    """
    from dhflow.reconcile.decision import PartsMaker, StreamTally

    validate_head(head)
    wf = head["workflow"]
    result = WriteResult(wf)
    with _workflow_transaction(wf) as cur:
        phase("apply: lock")
        subs.ensure_submission_table(cur)
        changes = jobset.changes(cur)  # read before the jobs: see dhflow.balsam.jobset
        existing = jobs.existing_jobs(cur, wf)
        phase(f"apply: fetch {len(existing)} existing jobs")
        tally = result.reconciliation = StreamTally(wf, existing)
        _sync_apps(head, result, write=True)
        sub_id = result.submission_id = subs.insert_submission(cur, wf, provenance, command,
                                                               subs.options_text(prune=prune))
        keys_by_name: dict[str, str] = {}
        parts_of = PartsMaker(head, keys_by_name=keys_by_name)
        rule_tasks: dict[str, int] = {}  # the plan's tasks per rule, in plan order (for `status`)
        new_tasks = _claim_or_yield(head, tasks, result, tally, parts_of, keys_by_name, check_task, rule_tasks)
        result.rows_written = _write_new(cur, head, new_tasks, result.ids, provenance, sub_id, parts_of,
                                         threaded=True)
        phase(f"apply: COPY {result.rows_written} rows (compiling meanwhile)")
        orphans = jobs.with_details(cur, tally.orphans())
        tally.finish(orphans)
        if prune:
            _refuse_held(cur, [j.job_id for j in orphans], "prune")
            _delete_jobs(cur, [j.job_id for j in orphans])
        _count_orphans(result, orphans, prune)
        subs.update_counts(cur, sub_id, added=len(result.created), kept=len(result.kept), pruned=result.pruned,
                           orphaned=result.orphaned, input_digest=input_digest,
                           keys_digest=subs.SUMMED, max_nodes=result.max_nodes,
                           all_serial=result.all_serial, keys_sum=aggregates.keys_sum(keys_by_name.values()),
                           rule_tasks=json.dumps(rule_tasks),
                           job_changes=None if changes is None else changes + jobset.own_changes(cur))
        phase("apply: orphans and history")
    phase("apply: commit")
    return result


# ------------------------------------------------------------------ nothing changed
def submit_unchanged(head: dict, input_digest: str, *, command: str = "submit", provenance: dict,
                     accept=None) -> WriteResult | None:
    """A compile-free resubmission: when the workflow's latest submission was of the same
    input (``input_digest``) and the workflow's jobs are still exactly that plan's (the
    digest of their keys), record a submission that keeps them all and return its result;
    else None (nothing written: the caller compiles and submits as usual).

    ``accept(max_nodes, all_serial)`` may refuse (False) when the launch checks of this
    submission need the plan.  Apps are synced from ``head`` (another workflow may have
    changed an app of the same name).  One transaction, under the workflow's lock.
    """
    validate_head(head)
    wf = head["workflow"]
    with _workflow_transaction(wf) as cur:
        cols = subs.table_columns(cur)
        if cols is None or "input_digest" not in cols:
            return None
        changes = jobset.changes(cur)  # read before the jobs: see dhflow.balsam.jobset
        row = subs.latest(cur, wf)
        if row is None or row[0] != input_digest or not row[1]:
            return None
        _, kdigest, max_nodes, all_serial = row
        if accept is not None and not accept(max_nodes, all_serial):
            return None
        sums = aggregates.latest_sums(cur, wf)
        ksum, rule_tasks = (sums[1], sums[2]) if sums else (None, None)
        if ksum:  # the job set proved unchanged (a count), else the server sums the keys
            keys = [""] * int(ksum.split(":")[0])
            proved = jobset.same_jobs(cur, wf, subs.latest_job_changes(cur, wf, cols), changes, len(keys))
            if not proved and aggregates.workflow_keys_sum(cur, wf) != ksum:
                return None
        else:  # a submission recorded before the keys' sum: fetch and digest the keys
            proved = False
            cur.execute("SELECT data->>'dhflow_key' FROM core_balsamjob WHERE workflow = %s", [wf])
            keys = [k for (k,) in cur.fetchall()]
            if any(k is None for k in keys) or subs.keys_digest(keys) != kdigest:
                return None
        phase(f"unchanged: {len(keys)} jobs checked ({'job-change log and count' if proved else 'keys'})")
        # one entry per kept job (their names are not needed)
        result = WriteResult(wf, kept=keys, unchanged_input=True, max_nodes=max_nodes, all_serial=all_serial)
        # the same input digest means the same dhflow version, whose submissions move the jobs
        # to per-workflow app names; with the very same jobs since, none is left to move
        _sync_apps(head, result, write=True, migrate=not proved)
        result.submission_id = subs.insert_submission(
            cur, wf, provenance, command, "", kept=len(keys), input_digest=input_digest,
            keys_digest=kdigest, max_nodes=max_nodes, all_serial=all_serial, keys_sum=ksum, rule_tasks=rule_tasks,
            job_changes=changes)
        return result
