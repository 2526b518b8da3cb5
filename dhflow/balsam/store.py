"""Plan dict -> legacy Balsam rows (ApplicationDefinition, BalsamJob), written in one transaction.

Two halves:

* pure: :func:`validate`, :func:`app_rows`, :func:`plan_job_rows` turn a plan dict (the
  output of ``Plan.to_dict()``) into plain row dicts; no Balsam, no database;
* effects: :func:`apply` writes them (Balsam must be activated first, see
  :mod:`dhflow.balsam.env`), :func:`fetch_jobs`, :func:`delete_workflow` read and delete.

Every query selects a workflow's jobs with ``workflow = NAME`` (never Balsam's substring
filters).

Submitting is reconciling (upsert by content key)
-------------------------------------------------
Each job carries ``data["dhflow_key"]`` (the task's content key).  :func:`apply` brings the
workflow's jobs in line with the plan, in one transaction under a per-workflow advisory
lock (``pg_advisory_xact_lock``: concurrent submissions of a workflow queue up, and the
later one sees the earlier one's jobs):

* the workflow's jobs are read with one narrow query (id, key, state; name, rule, point and
  fingerprints for the orphans only) and :func:`dhflow.reconcile.decision.reconcile` decides;
* unchanged tasks keep their jobs: no INSERT, no UPDATE (their ids, states and results stay);
* new tasks are streamed into ``core_balsamjob`` with ``COPY ... FROM STDIN`` on Django's
  connection (psycopg2's ``copy_expert``), every column given (:data:`JOB_COLUMNS`), rows
  produced one chunk at a time by a generator (:func:`copy_lines`) in a producer thread;
  their parents may be jobs already in the database (Balsam's ``check_parents`` makes a
  new child of a finished parent READY on the launcher's first pass);
* ``rerun`` ("failed" or "all") resets those jobs and their dependants to CREATED
  (:func:`_reset_for_rerun`); ``prune`` deletes the orphans (jobs whose key left the plan),
  which are otherwise only reported;
* the submission is recorded in dhflow's own table ``dhflow_submission`` (created IF NOT
  EXISTS in the same transaction) and its provenance is written into each new job's data.

:func:`apply_stream` is the same for a plan still being compiled (``submit`` without
``--rerun``/``--dry-run``): the COPY's producer thread pulls each task from the streaming
compiler, validates it and keeps or writes it, so compiling overlaps the server's work; the
orphans (existing keys no task claimed) are known after the COPY.  A compile error half-way
aborts the transaction.  :func:`submit_unchanged` is the compile-free resubmission: each
submission records the input digest of its compile and a digest of the plan's keys
(:func:`keys_digest`); when both still hold, nothing can change and only the submission is
recorded.

A workflow holding jobs that dhflow did not create is refused.  All or nothing: a
submission killed half-way leaves no trace.

Job fields
----------
``workflow, name, description, application, args, num_nodes, ranks_per_node,
threads_per_rank, threads_per_core, node_packing_count, cpu_affinity, wall_time_minutes,
auto_timeout_retry, environ_vars ("K=V:K2=V2"), parents`` (a JSON list of the job ids dhflow
assigns with uuid4) and ``data``::

    {"dhflow_key": ..., "dhflow_task": name, "dhflow_rule": ..., "dhflow_index": ...,
     "dhflow_point": {...} | null, "dhflow_objective": {...} | null,
     "dhflow_parts": {"command": fp, "app": fp, "resources": fp, "env": fp, "objective": fp,
                      "upstream": fp},                  # dhflow.reconcile.decision.task_parts
     "dhflow_spec": "/abs/x.dhflow", "dhflow_sha256": "...",
     "dhflow_provenance": {"spec_path", "spec_sha256", "git_commit", "git_dirty", "spec_committed",
                           "dhflow_version", "submitted_at", "submission"},
     "dhflow_rerun": {...}}                             # after a rerun: submission, at, previous_state

Envscripts
----------
Balsam runs an app's envscript as ``source ENVSCRIPT && CMD`` through ``/bin/sh``; on
Debian that is dash, which has no ``source``, so the job fails.  dhflow therefore stores
``envscript`` empty and folds it into the executable, portable to every POSIX shell::

    /bin/sh -c '. "$0" && exec "$@"' /abs/env.sh  <executable> <args>

(the script is sourced with ``.`` in the shell that then ``exec``s the command; Balsam's
whitespace collapsing leaves this intact).  The environment it sets therefore applies to
each rank rather than to ``mpirun`` itself.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import uuid
from dataclasses import dataclass, field

from dhflow.errors import BackendError, PlanRejected, phase

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENVSCRIPT_WRAPPER = """/bin/sh -c '. "$0" && exec "$@"'"""

FINAL_STATES = ("JOB_FINISHED", "FAILED", "USER_KILLED")
STATE_ORDER = (
    "CREATED", "AWAITING_PARENTS", "READY", "STAGED_IN", "PREPROCESSED", "RESTART_READY",
    "RUNNING", "RUN_DONE", "POSTPROCESSED", "RUN_TIMEOUT", "RUN_ERROR",
    "JOB_FINISHED", "FAILED", "USER_KILLED",
)


# --------------------------------------------------------------------------- pure
def env_string(environ_vars: dict, *, task: str = "?") -> str:
    """``{"A": "1", "B": "x"}`` -> ``"A=1:B=x"``; refuses what Balsam cannot represent."""
    parts = []
    for key, value in (environ_vars or {}).items():
        value = "" if value is None else str(value)
        if not ENV_NAME.match(str(key)):
            raise PlanRejected(f"task {task}: environment variable name {key!r} is not a valid name")
        if ":" in value:
            raise PlanRejected(
                f"task {task}: environment variable {key}={value!r} contains ':', which Balsam's "
                "environ_vars (K=V:K2=V2) cannot hold; pass it another way (args, a file, or the job data)")
        if "\n" in value or "\0" in value:
            raise PlanRejected(f"task {task}: environment variable {key} contains a newline or NUL")
        parts.append(f"{key}={value}")
    return ":".join(parts)


def _here(plan: dict) -> str:
    return (plan.get("source") or {}).get("here") or os.getcwd()


def app_executable(app: dict, here: str) -> str:
    """The executable stored in the ApplicationDefinition (envscript folded in)."""
    exe = app.get("executable") or ""
    script = (app.get("envscript") or "").strip()
    if not script:
        return exe
    path = os.path.expanduser(script)
    if not os.path.isabs(path):
        path = os.path.normpath(os.path.join(here, path))
    if re.search(r"\s\s|[\t\n\r]", path):
        raise PlanRejected(f"app {app.get('name')}: envscript path {path!r} contains runs of whitespace, "
                           "which Balsam collapses")
    return f"{ENVSCRIPT_WRAPPER} {shlex.quote(path)} {exe}"


def app_rows(plan: dict) -> list[dict]:
    here = _here(plan)
    rows = []
    for app in plan.get("apps", []):
        rows.append({
            "name": app["name"],
            "description": app.get("description") or "",
            "executable": app_executable(app, here),
            "envscript": "",
            "preprocess": app.get("preprocess") or "",
            "postprocess": app.get("postprocess") or "",
        })
    return rows


def validate(plan: dict) -> None:
    """Structural checks a backend relies on; raises PlanRejected."""
    for key in ("workflow", "tasks", "apps"):
        if key not in plan:
            raise PlanRejected(f"not a dhflow plan: missing {key!r}")
    wf = plan["workflow"]
    if not isinstance(wf, str) or not wf:
        raise PlanRejected("the plan has no workflow name")
    apps = {a["name"] for a in plan["apps"]}
    seen: set[str] = set()
    envs_ok: dict[int, dict] = {}  # environments checked, by identity (tasks of a rule share one)
    for task in plan["tasks"]:
        name = task["name"]
        if name in seen:
            raise PlanRejected(f"task name {name!r} appears twice in workflow {wf}")
        for parent in task.get("parents") or ():
            if parent not in seen:
                raise PlanRejected(f"task {name}: parent {parent!r} is not an earlier task of the plan")
        if task.get("app") not in apps:
            raise PlanRejected(f"task {name}: app {task.get('app')!r} is not defined in the plan")
        if task.get("cpu_affinity", "none") not in ("none", "depth"):
            raise PlanRejected(f"task {name}: cpu_affinity must be 'none' or 'depth'")
        if not task.get("key"):
            raise PlanRejected(f"task {name}: no content key")
        env = task.get("environ_vars") or {}
        if id(env) not in envs_ok:
            env_string(env, task=name)
            envs_ok[id(env)] = env
        seen.add(name)


def job_data(plan: dict, task: dict) -> dict:
    source = plan.get("source") or {}
    return {
        "dhflow_key": task["key"],
        "dhflow_task": task["name"],
        "dhflow_rule": task.get("rule"),
        "dhflow_index": task.get("index"),
        "dhflow_point": task.get("point"),
        "dhflow_objective": task.get("objective"),
        "dhflow_spec": source.get("path"),
        "dhflow_sha256": source.get("sha256"),
    }


def plan_job_rows(plan: dict, existing: dict[str, str] | None = None,
                  new_id=lambda: str(uuid.uuid4())) -> tuple[list[dict], dict[str, str], list[str]]:
    """Rows for the tasks not yet in the DB.

    ``existing`` maps content key -> job id of the workflow's jobs already in the DB.
    Returns (new rows, job id of every task by name, names of the tasks kept).
    """
    existing = existing or {}
    wf = plan["workflow"]
    ids: dict[str, str] = {}
    kept: list[str] = []
    rows: list[dict] = []
    for task in plan["tasks"]:
        name = task["name"]
        if task["key"] in existing:
            ids[name] = existing[task["key"]]
            kept.append(name)
            continue
        ids[name] = new_id()
        rows.append({
            "job_id": ids[name],
            "workflow": wf,
            "name": name,
            "description": f"dhflow {wf}/{task.get('rule')}",
            "application": task["app"],
            "args": task.get("args") or "",
            "num_nodes": int(task.get("num_nodes", 1)),
            "ranks_per_node": int(task.get("ranks_per_node", 1)),
            "threads_per_rank": int(task.get("threads_per_rank", 1)),
            "threads_per_core": int(task.get("threads_per_core", 1)),
            "node_packing_count": int(task.get("node_packing_count", 1)),
            "cpu_affinity": task.get("cpu_affinity") or "none",
            "wall_time_minutes": int(task.get("wall_time_minutes", 1)),
            "auto_timeout_retry": bool(task.get("auto_timeout_retry", True)),
            "environ_vars": env_string(task.get("environ_vars") or {}, task=name),
            "parents": json.dumps([ids[p] for p in task.get("parents") or []]),
            "data": job_data(plan, task),
        })
    return rows, ids, kept


# ------------------------------------------------------------------------ effects
#: Every column of core_balsamjob (balsam-flow 0.5.0), in the order dhflow's COPY gives them.
#: All are NOT NULL without database defaults (Django's defaults live in Python), except
#: queued_launch_id.
JOB_COLUMNS = (
    "job_id", "workflow", "name", "description", "lock", "tick", "parents", "input_files",
    "stage_in_url", "stage_out_files", "stage_out_url", "wall_time_minutes", "num_nodes",
    "coschedule_num_nodes", "ranks_per_node", "cpu_affinity", "threads_per_rank", "threads_per_core",
    "node_packing_count", "environ_vars", "mpi_flags", "application", "args", "user_workdir",
    "wait_for_parents", "post_error_handler", "post_timeout_handler", "auto_timeout_retry", "state",
    "state_history", "data", "queued_launch_id",
)
COPY_SQL = f"COPY core_balsamjob ({', '.join(JOB_COLUMNS)}) FROM STDIN"

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
#: existing tables): what a compile-free resubmission compares (:func:`submit_unchanged`):
#: the input digest of the compile (dhflow.compiler.api.input_digest), the digest of the plan's keys
#: (:func:`keys_digest`), and the largest node count / whether every task is single-rank
#: (the launch checks of a submission that does not compile).  NULL when not recorded.
SUBMISSION_EXTRA_COLUMNS = (("input_digest", "text"), ("keys_digest", "text"), ("max_nodes", "integer"),
                            ("all_serial", "boolean"))
#: Serialises the one-time creation of the submission table across workflows.
_DDL_LOCK = int.from_bytes(hashlib.sha256(b"dhflow:ddl:" + SUBMISSION_TABLE.encode()).digest()[:8], "big",
                           signed=True)


@dataclass
class WriteResult:
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
    ids: dict[str, str] = field(default_factory=dict)
    submission_id: int | None = None
    reconciliation: object = None  # dhflow.reconcile.decision.Reconciliation
    unchanged_input: bool = False  # a compile-free resubmission (submit_unchanged)
    max_nodes: int | None = None    # the largest num_nodes of the plan's tasks (streaming, unchanged)
    all_serial: bool | None = None  # every task single-node, single-rank (streaming, unchanged)

    @property
    def stale(self) -> int:  # the older name of `orphaned`
        return self.orphaned

    def summary(self) -> str:
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
        if self.unchanged_input:
            text += " (file and jobs unchanged since the last submission: not recompiled)"
        if self.submission_id is not None:
            text += f" [submission {self.submission_id}]"
        return text


def _lock_id(workflow: str) -> int:
    return int.from_bytes(hashlib.sha256(b"dhflow:" + workflow.encode()).digest()[:8], "big", signed=True)


def _db_errors():
    """Database errors through Django's cursors, and through the raw psycopg2 cursor (COPY)."""
    from django.db import DatabaseError, InterfaceError
    import psycopg2

    return (DatabaseError, InterfaceError, psycopg2.Error)


def _db_failure(exc) -> BackendError:
    from dhflow.balsam.env import database_error_message

    return BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH")))


def _json(value):
    """jsonb from psycopg2: Django 3.1+ makes the driver return it as text."""
    if isinstance(value, (str, bytes, bytearray)):
        return json.loads(value)
    return value


@dataclass
class _Existing:
    jobs: list            # ExistingJob, one per dhflow job of the workflow
    locks: dict           # job id -> Balsam lock string, for the locked jobs only (filled on demand)


def _fetch_existing(cur, plan: dict) -> _Existing:
    """The workflow's jobs as reconciliation needs them: one narrow query, no ORM objects.

    Only the orphans' points and fingerprints are read (a second query), since only they
    are matched against new tasks.
    """
    # name, rule, point and parts are read below for the orphans only (kept jobs need just
    # their id, key and state)
    jobs = _fetch_narrow(cur, plan["workflow"])
    plan_keys = {t["key"] for t in plan["tasks"]}
    seen: set[str] = set()
    orphans: dict[str, int] = {}
    for pos, j in enumerate(jobs):
        if j.key not in plan_keys or j.key in seen:
            orphans[j.job_id] = pos
        seen.add(j.key)
    if orphans:
        cur.execute("SELECT job_id::text, name, data->>'dhflow_rule', data->'dhflow_point', data->'dhflow_parts' "
                    "FROM core_balsamjob WHERE job_id = ANY(%s::uuid[])", [list(orphans)])
        for jid, name, rule, point, parts in cur.fetchall():
            parts = _json(parts)
            jobs[orphans[jid]] = jobs[orphans[jid]]._replace(
                name=name, rule=rule, point=_json(point), parts=parts if isinstance(parts, dict) else None)
    return _Existing(jobs, {})


def _locked(cur, job_ids: list[str]) -> dict[str, str]:
    """job id -> lock of those jobs that a Balsam launcher holds right now."""
    if not job_ids:
        return {}
    cur.execute("SELECT job_id::text, lock FROM core_balsamjob WHERE job_id = ANY(%s::uuid[]) AND lock <> ''",
                [job_ids])
    return dict(cur.fetchall())


def _uuid4s(n: int):
    """n random (version 4) UUID strings, fast."""
    raw = os.urandom(16 * n)
    for i in range(0, 16 * n, 16):
        x = bytearray(raw[i:i + 16])
        x[6] = (x[6] & 0x0F) | 0x40
        x[8] = (x[8] & 0x3F) | 0x80
        h = x.hex()
        yield f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _esc(text: str) -> str:
    """A value in COPY's text format (backslash, tab, newline and CR escaped)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def balsam_time(when=None) -> str:
    """Balsam's state-history timestamp format (balsam.core.models.TIME_FMT, UTC like Django)."""
    import datetime as _dt

    when = when or _dt.datetime.now(_dt.timezone.utc)
    return when.strftime("%m-%d-%Y %H:%M:%S.%f")


def history_line(state: str, message: str, when=None) -> str:
    """One line of a job's state_history, exactly as balsam.core.models.history_line writes it."""
    return f"\n[{balsam_time(when)} {state}] ".rjust(46) + message


def copy_lines(plan: dict, tasks, ids: dict[str, str], *, provenance_json: str, tick: str, history: str,
               parts_of=None, chunk_rows: int = 1000):
    """COPY text of the new jobs, in chunks of ``chunk_rows`` lines (bytes), one task at a time.

    ``tasks``: the plan tasks to write (iterated once); ``ids``: job id of every task by
    name (new and existing: parents may be jobs already in the database).
    """
    from dhflow.compiler.plan.jsonfast import compact
    from dhflow.reconcile.decision import PartsMaker

    from json.encoder import encode_basestring_ascii as jstr

    parts_of = parts_of or PartsMaker(plan)
    parts_json = getattr(parts_of, "json", None) or (lambda t: compact(parts_of(t)))
    wf = plan["workflow"]
    source = plan.get("source") or {}
    e_wf = _esc(wf)
    tail_data = (f',"dhflow_spec":{jstr(source.get("path") or "") if source.get("path") else "null"}'
                 f',"dhflow_sha256":{jstr(source.get("sha256")) if source.get("sha256") else "null"}'
                 f',"dhflow_provenance":{provenance_json}}}')
    e_hist = _esc(history)
    env_cache: dict[int, tuple] = {}
    desc_cache: dict[str, str] = {}
    res_cache: dict[tuple, tuple] = {}
    obj_cache: dict[int, tuple] = {}
    fixed_mid = "\t\t\t\t"  # input_files, stage_in_url, stage_out_files, stage_out_url (all '')
    buf: list[str] = []
    for t in tasks:
        name = t["name"]
        rule = t.get("rule")
        env = t.get("environ_vars") or {}
        hit = env_cache.get(id(env))
        if hit is None:
            hit = env_cache[id(env)] = (env, _esc(env_string(env, task=name)))
        e_env = hit[1]
        desc = desc_cache.get(rule)
        if desc is None:
            desc = desc_cache[rule] = _esc(f"dhflow {wf}/{rule}")
        obj = t.get("objective")
        ohit = obj_cache.get(id(obj))
        if ohit is None:
            ohit = obj_cache[id(obj)] = (obj, "null" if obj is None else compact(obj))
        parents = t.get("parents") or ()
        parents_json = ('["' + '", "'.join([ids[p] for p in parents]) + '"]') if parents else "[]"
        point = t.get("point")
        index = t.get("index")
        data = (f'{{"dhflow_key":{jstr(t["key"])},"dhflow_task":{jstr(name)},'
                f'"dhflow_rule":{jstr(rule) if rule is not None else "null"},'
                f'"dhflow_index":{"null" if index is None else int(index)},'
                f'"dhflow_point":{"null" if point is None else compact(point)},'
                f'"dhflow_objective":{ohit[1]},"dhflow_parts":{parts_json(t)}' + tail_data)
        if "\\" in data:
            data = data.replace("\\", "\\\\")
        # the columns from wall_time_minutes to application: shared by the tasks of a rule
        rk = (desc, t.get('wall_time_minutes', 1), t.get('num_nodes', 1), t.get('ranks_per_node', 1),
              t.get('cpu_affinity'), t.get('threads_per_rank', 1), t.get('threads_per_core', 1),
              t.get('node_packing_count', 1), e_env, t['app'])
        mid = res_cache.get(rk)
        if mid is None:
            mid = res_cache[rk] = (
                f"{desc}\t\t{tick}\t",
                f"\t{fixed_mid}{int(rk[1])}\t{int(rk[2])}\t0\t{int(rk[3])}\t{_esc(rk[4] or 'none')}\t"
                f"{int(rk[5])}\t{int(rk[6])}\t{int(rk[7])}\t{e_env}\t\t{_esc(rk[9])}\t")
        retry = 't' if t.get('auto_timeout_retry', True) else 'f'
        buf.append(
            f"{ids[name]}\t{e_wf}\t{_esc(name)}\t{mid[0]}{parents_json}{mid[1]}{_esc(t.get('args') or '')}\t\t"
            f"t\tf\tf\t{retry}\tCREATED\t{e_hist}\t{data}\t\\N\n")
        if len(buf) >= chunk_rows:
            yield "".join(buf).encode("utf-8")
            buf.clear()
    if buf:
        yield "".join(buf).encode("utf-8")


class _GeneratorReader:
    """A read()-able file over a generator of byte chunks (what copy_expert pulls from).

    With ``threaded``, a producer thread runs the generator while psycopg2 sends the
    previous chunks (libpq releases the GIL while it writes to the socket), so generating
    rows overlaps the server's parsing and indexing instead of alternating with it.  At
    most ``depth`` chunks wait in between: memory stays bounded whatever the plan size.
    """

    def __init__(self, chunks, *, threaded: bool = False, depth: int = 8):
        self.rows = 0
        self.error: BaseException | None = None  # what the generator raised (psycopg2 wraps it)
        self._chunks = iter(chunks)
        self._queue = None
        self._stop = False
        if threaded:
            import queue
            import threading

            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._produce, name="dhflow-copy-rows", daemon=True)
            self._thread.start()

    def _produce(self) -> None:
        import queue

        try:
            for chunk in self._chunks:
                while not self._stop:
                    try:
                        self._queue.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop:
                    return
            item = b""
        except BaseException as exc:  # handed to the reading side, which raises it
            item = exc
        while not self._stop:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1) -> bytes:
        if self._queue is not None:
            chunk = self._queue.get()
            if isinstance(chunk, BaseException):
                self.error = chunk
                raise chunk
        else:
            try:
                chunk = next(self._chunks, b"")
            except BaseException as exc:
                self.error = exc
                raise
        self.rows += chunk.count(b"\n")
        return chunk

    readline = read

    def close(self) -> None:
        """Stop the producer (after a failed COPY) and wait for it."""
        self._stop = True
        if self._queue is not None:
            self._thread.join(timeout=5)


def _submission_columns(cur) -> set[str] | None:
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
    cols = _submission_columns(cur)
    if cols is not None and all(c in cols for c, _ in SUBMISSION_EXTRA_COLUMNS):
        return
    cur.execute("SELECT pg_advisory_xact_lock(%s)", [_DDL_LOCK])
    if cols is None:
        cur.execute(SUBMISSION_DDL)
    for col, typ in SUBMISSION_EXTRA_COLUMNS:
        cur.execute(f"ALTER TABLE {SUBMISSION_TABLE} ADD COLUMN IF NOT EXISTS {col} {typ}")


def _sync_apps(plan: dict, result: WriteResult, *, write: bool) -> None:
    """ApplicationDefinitions created or updated to match; rows that match are not touched."""
    from balsam.core.models import ApplicationDefinition

    apps = app_rows(plan)
    fields = ("description", "executable", "envscript", "preprocess", "postprocess")
    current = {a.name: a for a in ApplicationDefinition.objects.filter(name__in=[r["name"] for r in apps])}
    changed = []
    for row in apps:
        app = current.get(row["name"])
        if app is None:
            result.apps_created.append(row["name"])
        elif any(getattr(app, f) != row[f] for f in fields):
            changed.append(row)
            result.apps_updated.append(row["name"])
    if not write:
        return
    new = [ApplicationDefinition(**r) for r in apps if r["name"] in result.apps_created]
    if new:
        ApplicationDefinition.objects.bulk_create(new)
    if changed:
        locked = {a.name: a for a in ApplicationDefinition.objects.select_for_update()
                  .filter(name__in=[r["name"] for r in changed])}
        for row in changed:
            app = locked[row["name"]]
            for f in fields:
                setattr(app, f, row[f])
        ApplicationDefinition.objects.bulk_update(list(locked.values()), list(fields))


def reconcile_with_db(plan: dict, rerun: str | None = None, *, validated: bool = False):
    """The reconciliation of a plan with the database, read-only (Balsam must be activated)."""
    from django.db import connection, transaction
    from dhflow.reconcile.decision import reconcile

    if not validated:
        validate(plan)
    try:
        with transaction.atomic():
            with connection.cursor() as wrapper:
                existing = _fetch_existing(wrapper.cursor, plan)
            return reconcile(plan, existing.jobs, rerun)
    except BackendError:
        raise
    except _db_errors() as exc:
        raise _db_failure(exc) from None


def workdir_top() -> str:
    from django.conf import settings

    return settings.BALSAM_WORK_DIRECTORY


def _job_dir(top: str, workflow: str, name: str, job_id: str) -> str:
    """Balsam's working directory of a job (BalsamJob.working_directory, no user_workdir)."""
    path = os.path.join(top, workflow) if workflow else top
    return os.path.join(path, name.strip().replace(" ", "_") + "_" + str(job_id)[:8])


def apply(plan: dict, *, rerun: str | None = None, prune: bool = False, dry_run: bool = False,
          provenance: dict | None = None, command: str = "submit", validated: bool = False) -> WriteResult:
    """Bring the database in line with the plan, in one transaction (Balsam must be activated).

    Under a per-workflow advisory lock: reconcile the plan with the workflow's jobs; COPY the
    new tasks' jobs; reset the jobs to rerun (and their dependants) to CREATED; delete the
    orphans when ``prune``; record the submission in ``dhflow_submission``.  An unchanged
    plan writes no job row and updates none.
    """
    from django.db import connection, transaction
    from dhflow.reconcile.decision import NEW, ORPHANED, RERUN, UNCHANGED, PartsMaker, reconcile

    if not validated:
        validate(plan)
    wf = plan["workflow"]
    result = WriteResult(wf)
    if provenance is None:
        from dhflow.runtime.provenance import provenance as make_provenance

        provenance = make_provenance(plan)
    moved: list[tuple[str, str]] = []
    try:
        with transaction.atomic():
            with connection.cursor() as wrapper:
                cur = wrapper.cursor  # the raw psycopg2 cursor
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(wf)])
                phase("apply: lock")
                existing = _fetch_existing(cur, plan)
                phase(f"apply: fetch {len(existing.jobs)} existing jobs")
                parts_of = PartsMaker(plan)
                rec = reconcile(plan, existing.jobs, rerun, parts_of)
                result.reconciliation = rec
                phase("apply: reconcile")
                ids: dict[str, str] = {}
                new_names: list[str] = []
                rerun_ids: list[str] = []
                orphan_ids: list[str] = []
                for d in rec.decisions:
                    status = d.status
                    if status == UNCHANGED:
                        ids[d.name] = d.job_id
                        result.kept.append(d.name)
                    elif status == NEW:
                        new_names.append(d.name)
                    elif status == RERUN:
                        ids[d.name] = d.job_id
                        result.kept.append(d.name)
                        result.rerun.append(d.name)
                        rerun_ids.append(d.job_id)
                    elif status == ORPHANED:
                        orphan_ids.append(d.job_id)
                for name, jid in zip(new_names, _uuid4s(len(new_names))):
                    ids[name] = jid
                result.ids = ids
                result.created = new_names
                result.orphaned = 0 if prune else len(orphan_ids)
                if not prune and orphan_ids:
                    states = {j.job_id: j.state for j in existing.jobs}
                    result.orphaned_pending = sum(1 for jid in orphan_ids if states.get(jid) not in FINAL_STATES)
                result.pruned = len(orphan_ids) if prune else 0
                busy = _locked(cur, rerun_ids + (orphan_ids if prune else []))
                if busy:
                    held = next(iter(busy.values()))
                    raise BackendError(
                        f"{len(busy)} of the jobs to {'rerun or prune' if prune else 'rerun'} are held by a "
                        f"running Balsam launcher (lock {held}); wait for it to finish or stop it first")
                _sync_apps(plan, result, write=not dry_run)
                if dry_run:
                    transaction.set_rollback(True)
                    return result
                ensure_submission_table(cur)
                cur.execute(
                    f"INSERT INTO {SUBMISSION_TABLE} (workflow, submitted_at, command, options, spec_path, "
                    "spec_sha256, git_commit, git_dirty, dhflow_version, added, kept, rerun, pruned, orphaned) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    [wf, provenance.get("submitted_at"), command,
                     " ".join(([f"--rerun {rerun}"] if rerun else []) + (["--prune"] if prune else [])),
                     provenance.get("spec_path"), provenance.get("spec_sha256"), provenance.get("git_commit"),
                     provenance.get("git_dirty"), provenance.get("dhflow_version") or "",
                     len(new_names), len(result.kept) - len(rerun_ids), len(rerun_ids), result.pruned,
                     result.orphaned])
                result.submission_id = cur.fetchone()[0]
                prov = {k: provenance.get(k) for k in ("spec_path", "spec_sha256", "git_commit", "git_dirty",
                                                      "spec_committed", "dhflow_version", "submitted_at")}
                prov["submission"] = result.submission_id
                prov_json = json.dumps(prov, separators=(",", ":"), sort_keys=True)
                if prune and orphan_ids:
                    cur.execute("DELETE FROM core_balsamjob WHERE job_id = ANY(%s::uuid[])", [orphan_ids])
                if rerun_ids:
                    moved = _reset_for_rerun(cur, plan, result, rerun_ids, rerun, prov)
                if new_names:
                    import datetime as _dt

                    now = _dt.datetime.now(_dt.timezone.utc)
                    by_name = set(new_names)
                    tasks = (t for t in plan["tasks"] if t["name"] in by_name)
                    reader = _GeneratorReader(copy_lines(
                        plan, tasks, ids, provenance_json=prov_json, tick=now.isoformat(),
                        history=history_line("CREATED", f"dhflow submission {result.submission_id}", now),
                        parts_of=parts_of, chunk_rows=200), threaded=len(new_names) > 2000)
                    try:
                        cur.copy_expert(COPY_SQL, reader, size=1 << 16)
                    except _db_errors():
                        if reader.error is not None:  # our own failure, reported as itself
                            raise reader.error from None
                        raise
                    finally:
                        reader.close()
                    result.rows_written = reader.rows
                    phase(f"apply: COPY {reader.rows} rows")
        phase("apply: commit")
    except BaseException as exc:
        for src, dst in reversed(moved):  # the transaction is rolled back: put the outputs back
            with contextlib.suppress(OSError):
                os.rename(dst, src)
        if isinstance(exc, BackendError):
            raise
        if isinstance(exc, _db_errors()):
            raise _db_failure(exc) from None
        raise
    return result


def keys_digest(keys) -> str:
    """sha256 over the sorted content keys and their count (a multiset: duplicates count)."""
    keys = sorted(keys)
    h = hashlib.sha256(f"{len(keys)}\n".encode())
    h.update("\n".join(keys).encode())
    return h.hexdigest()


def _uuid4_stream(batch: int = 4096):
    """Random (version 4) UUID strings, without end."""
    while True:
        yield from _uuid4s(batch)


def _fetch_narrow(cur, wf: str) -> list:
    """The workflow's jobs as ExistingJob (id, key, state only); refuses foreign jobs."""
    from dhflow.reconcile.decision import ExistingJob

    cur.execute("SELECT job_id::text, NULL, data->>'dhflow_key', state, NULL, NULL, NULL "
                "FROM core_balsamjob WHERE workflow = %s", [wf])
    jobs = list(map(ExistingJob._make, cur.fetchall()))
    foreign = [j.job_id for j in jobs if not j.key]
    if foreign:
        cur.execute("SELECT name FROM core_balsamjob WHERE job_id = %s::uuid", [foreign[0]])
        raise BackendError(
            f"workflow {wf} already has {len(foreign)} jobs not created by dhflow "
            f"(e.g. {cur.fetchone()[0]!r}); choose another workflow name or remove them "
            f"(`dhflow clean` removes every job of workflow {wf})")
    return jobs


def _orphan_details(cur, orphans: list) -> list:
    """The orphans again, with their name, rule, point and fingerprints."""
    if not orphans:
        return []
    cur.execute("SELECT job_id::text, name, data->>'dhflow_rule', data->'dhflow_point', data->'dhflow_parts' "
                "FROM core_balsamjob WHERE job_id = ANY(%s::uuid[])", [[j.job_id for j in orphans]])
    got = {}
    for jid, name, rule, point, parts in cur.fetchall():
        parts = _json(parts)
        got[jid] = (name, rule, _json(point), parts if isinstance(parts, dict) else None)
    out = []
    for j in orphans:
        if j.job_id in got:
            name, rule, point, parts = got[j.job_id]
            j = j._replace(name=name, rule=rule, point=point, parts=parts)
        out.append(j)
    return out


def _insert_submission(cur, wf: str, provenance: dict, command: str, options: str, *, added=0, kept=0,
                       rerun=0, pruned=0, orphaned=0, input_digest=None, keys_digest=None, max_nodes=None,
                       all_serial=None) -> int:
    ensure_submission_table(cur)
    cur.execute(
        f"INSERT INTO {SUBMISSION_TABLE} (workflow, submitted_at, command, options, spec_path, "
        "spec_sha256, git_commit, git_dirty, dhflow_version, added, kept, rerun, pruned, orphaned, "
        "input_digest, keys_digest, max_nodes, all_serial) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        [wf, provenance.get("submitted_at"), command, options, provenance.get("spec_path"),
         provenance.get("spec_sha256"), provenance.get("git_commit"), provenance.get("git_dirty"),
         provenance.get("dhflow_version") or "", added, kept, rerun, pruned, orphaned, input_digest, keys_digest,
         max_nodes, all_serial])
    return cur.fetchone()[0]


def _validate_head(head: dict) -> None:
    for key in ("workflow", "apps"):
        if key not in head:
            raise PlanRejected(f"not a dhflow plan: missing {key!r}")
    wf = head["workflow"]
    if not isinstance(wf, str) or not wf:
        raise PlanRejected("the plan has no workflow name")


def apply_stream(head: dict, tasks, *, prune: bool = False, provenance: dict | None = None,
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
    from django.db import connection, transaction
    from dhflow.reconcile.decision import PartsMaker, StreamTally

    _validate_head(head)
    wf = head["workflow"]
    apps = {a["name"] for a in head["apps"]}
    result = WriteResult(wf)
    if provenance is None:
        from dhflow.runtime.provenance import provenance as make_provenance

        provenance = make_provenance(head)
    stats = {"max_nodes": 0, "all_serial": True}
    try:
        with transaction.atomic():
            with connection.cursor() as wrapper:
                cur = wrapper.cursor
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(wf)])
                phase("apply: lock")
                existing = _fetch_narrow(cur, wf)
                phase(f"apply: fetch {len(existing)} existing jobs")
                tally = StreamTally(wf, existing)
                result.reconciliation = tally
                _sync_apps(head, result, write=True)
                sub_id = _insert_submission(cur, wf, provenance, command, "--prune" if prune else "")
                result.submission_id = sub_id
                prov = {k: provenance.get(k) for k in ("spec_path", "spec_sha256", "git_commit", "git_dirty",
                                                      "spec_committed", "dhflow_version", "submitted_at")}
                prov["submission"] = sub_id
                prov_json = json.dumps(prov, separators=(",", ":"), sort_keys=True)
                ids: dict[str, str] = {}
                keys_by_name: dict[str, str] = {}
                parts_of = PartsMaker(head, keys_by_name=keys_by_name)
                created, kept = result.created, result.kept
                new_ids = _uuid4_stream()

                def new_tasks():
                    for t in tasks:
                        name = t["name"]
                        if name in ids:
                            raise PlanRejected(f"task name {name!r} appears twice in workflow {wf}")
                        for parent in t.get("parents") or ():
                            if parent not in ids:
                                raise PlanRejected(f"task {name}: parent {parent!r} is not an earlier task of "
                                                   "the plan")
                        if t.get("app") not in apps:
                            raise PlanRejected(f"task {name}: app {t.get('app')!r} is not defined in the plan")
                        if t.get("cpu_affinity", "none") not in ("none", "depth"):
                            raise PlanRejected(f"task {name}: cpu_affinity must be 'none' or 'depth'")
                        key = t.get("key")
                        if not key:
                            raise PlanRejected(f"task {name}: no content key")
                        nodes = int(t.get("num_nodes", 1))
                        if nodes > stats["max_nodes"]:
                            stats["max_nodes"] = nodes
                        if nodes != 1 or int(t.get("ranks_per_node", 1)) != 1:
                            stats["all_serial"] = False
                        if check_task is not None:
                            check_task(t)
                        keys_by_name[name] = key
                        job = tally.task(t, parts_of)
                        if job is not None:
                            ids[name] = job.job_id
                            kept.append(name)
                            continue
                        ids[name] = next(new_ids)
                        created.append(name)
                        yield t  # copy_lines checks the environment (env_string)

                import datetime as _dt

                now = _dt.datetime.now(_dt.timezone.utc)
                reader = _GeneratorReader(copy_lines(
                    head, new_tasks(), ids, provenance_json=prov_json, tick=now.isoformat(),
                    history=history_line("CREATED", f"dhflow submission {sub_id}", now),
                    parts_of=parts_of, chunk_rows=200), threaded=True)
                try:
                    cur.copy_expert(COPY_SQL, reader, size=1 << 16)
                except _db_errors():
                    if reader.error is not None:  # our own failure (or the compiler's), raised as itself
                        raise reader.error from None
                    raise
                finally:
                    reader.close()
                if reader.error is not None:
                    raise reader.error
                result.rows_written = reader.rows
                result.ids = ids
                phase(f"apply: COPY {reader.rows} rows (compiling meanwhile)")
                orphans = _orphan_details(cur, tally.orphans())
                tally.finish(orphans)
                orphan_ids = [j.job_id for j in orphans]
                if prune and orphan_ids:
                    busy = _locked(cur, orphan_ids)
                    if busy:
                        held = next(iter(busy.values()))
                        raise BackendError(
                            f"{len(busy)} of the jobs to prune are held by a running Balsam launcher "
                            f"(lock {held}); wait for it to finish or stop it first")
                    cur.execute("DELETE FROM core_balsamjob WHERE job_id = ANY(%s::uuid[])", [orphan_ids])
                    result.pruned = len(orphan_ids)
                else:
                    result.orphaned = len(orphan_ids)
                    result.orphaned_pending = sum(1 for j in orphans if j.state not in FINAL_STATES)
                cur.execute(
                    f"UPDATE {SUBMISSION_TABLE} SET added = %s, kept = %s, pruned = %s, orphaned = %s, "
                    "input_digest = %s, keys_digest = %s, max_nodes = %s, all_serial = %s WHERE id = %s",
                    [len(created), len(kept), result.pruned, result.orphaned, input_digest,
                     keys_digest(keys_by_name.values()), stats["max_nodes"], stats["all_serial"], sub_id])
                result.max_nodes, result.all_serial = stats["max_nodes"], stats["all_serial"]
                phase("apply: orphans and history")
        phase("apply: commit")
    except BaseException as exc:
        if isinstance(exc, BackendError):
            raise
        if isinstance(exc, _db_errors()):
            raise _db_failure(exc) from None
        raise
    return result


def submit_unchanged(head: dict, input_digest: str, *, command: str = "submit", provenance: dict | None = None,
                     accept=None) -> WriteResult | None:
    """A compile-free resubmission: when the workflow's latest submission was of the same
    input (``input_digest``) and the workflow's jobs are still exactly that plan's (the
    digest of their keys), record a submission that keeps them all and return its result;
    else None (nothing written: the caller compiles and submits as usual).

    ``accept(max_nodes, all_serial)`` may refuse (False) when the launch checks of this
    submission need the plan.  Apps are synced from ``head`` (another workflow may have
    changed an app of the same name).  One transaction, under the workflow's lock.
    """
    from django.db import connection, transaction

    _validate_head(head)
    wf = head["workflow"]
    try:
        with transaction.atomic():
            with connection.cursor() as wrapper:
                cur = wrapper.cursor
                cols = _submission_columns(cur)
                if cols is None or "input_digest" not in cols:
                    return None
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(wf)])
                cur.execute(f"SELECT input_digest, keys_digest, max_nodes, all_serial FROM {SUBMISSION_TABLE} "
                            "WHERE workflow = %s ORDER BY id DESC LIMIT 1", [wf])
                row = cur.fetchone()
                if row is None or row[0] != input_digest or not row[1]:
                    return None
                _, kdigest, max_nodes, all_serial = row
                if accept is not None and not accept(max_nodes, all_serial):
                    return None
                cur.execute("SELECT data->>'dhflow_key' FROM core_balsamjob WHERE workflow = %s", [wf])
                keys = [k for (k,) in cur.fetchall()]
                if any(k is None for k in keys) or keys_digest(keys) != kdigest:
                    return None
                phase(f"unchanged: {len(keys)} keys checked")
                result = WriteResult(wf)
                result.unchanged_input = True
                result.kept = keys  # one entry per kept job (their names are not needed)
                result.max_nodes, result.all_serial = max_nodes, all_serial
                _sync_apps(head, result, write=True)
                if provenance is None:
                    from dhflow.runtime.provenance import provenance as make_provenance

                    provenance = make_provenance(head)
                result.submission_id = _insert_submission(
                    cur, wf, provenance, command, "", kept=len(keys), input_digest=input_digest,
                    keys_digest=kdigest, max_nodes=max_nodes, all_serial=all_serial)
                return result
    except BackendError:
        raise
    except _db_errors() as exc:
        raise _db_failure(exc) from None


def _reset_for_rerun(cur, plan: dict, result: WriteResult, job_ids: list[str], rerun: str | None,
                     prov: dict) -> list[tuple[str, str]]:
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
    top = workdir_top()
    aside = os.path.join(top, wf, ".dhflow-rerun", str(result.submission_id))
    rerun_info = {"submission": result.submission_id, "at": prov.get("submitted_at"),
                  "previous_outputs": aside}
    cur.execute(
        "UPDATE core_balsamjob SET state = 'CREATED', lock = '', state_history = state_history || %s, "
        "data = (data - %s::text[]) || jsonb_build_object('dhflow_rerun', "
        "%s::jsonb || jsonb_build_object('previous_state', state)) "
        "WHERE job_id = ANY(%s::uuid[]) RETURNING job_id::text, name",
        [note, data_keys, json.dumps(rerun_info), job_ids])
    moved = []
    for job_id, name in cur.fetchall():
        src = _job_dir(top, wf, name, job_id)
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


@dataclass
class JobView:
    """What the rest of dhflow needs to know about one BalsamJob."""

    job_id: str
    name: str
    workflow: str
    state: str
    state_history: str
    data: dict
    workdir: str
    application: str = ""

    @property
    def key(self) -> str | None:
        return (self.data or {}).get("dhflow_key")


def fetch_jobs(workflow: str) -> list[JobView]:
    """Every job of exactly this workflow (Balsam must be activated); plain rows, no ORM objects."""
    from django.conf import settings
    from balsam.core.models import BalsamJob

    try:
        top = settings.BALSAM_WORK_DIRECTORY
        out = []
        for job_id, name, wf, state, hist, data, user_workdir, app in BalsamJob.objects.filter(
                workflow=workflow).values_list("job_id", "name", "workflow", "state", "state_history", "data",
                                               "user_workdir", "application").iterator(chunk_size=5000):
            data = _json(data) if data is not None else {}
            if user_workdir and os.path.isdir(user_workdir):
                workdir = user_workdir
            else:
                workdir = _job_dir(top, wf, name, str(job_id))
            out.append(JobView(str(job_id), name, wf, state, hist, data if isinstance(data, dict) else {},
                               workdir, app))
        return out
    except _db_errors() as exc:
        raise _db_failure(exc) from None


def state_counts(workflow: str, job_ids: list[str] | None = None) -> dict[str, str]:
    """job id -> state for a workflow (one cheap query, used while polling)."""
    from balsam.core.models import BalsamJob

    try:
        qs = BalsamJob.objects.filter(workflow=workflow)
        if job_ids is not None:
            qs = qs.filter(job_id__in=job_ids)
        return {str(pk): state for pk, state in qs.values_list("job_id", "state")}
    except _db_errors() as exc:
        from dhflow.balsam.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None


def count_workflow(workflow: str) -> int:
    from balsam.core.models import BalsamJob

    try:
        return BalsamJob.objects.filter(workflow=workflow).count()
    except _db_errors() as exc:
        from dhflow.balsam.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None


def delete_workflow(workflow: str) -> int:
    """Delete every job of exactly this workflow, in one transaction; returns the count."""
    from django.db import transaction
    from balsam.core.models import BalsamJob

    try:
        with transaction.atomic():
            deleted, _ = BalsamJob.objects.filter(workflow=workflow).delete()
        return deleted
    except _db_errors() as exc:
        from dhflow.balsam.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None


def workflows_containing(workflow: str) -> list[str]:
    """Other workflow names that contain this one (Balsam's substring filters would mix them)."""
    from balsam.core.models import BalsamJob

    try:
        names = (BalsamJob.objects.filter(workflow__contains=workflow).exclude(workflow=workflow)
                 .values_list("workflow", flat=True).distinct())
        return sorted(set(names))
    except _db_errors() as exc:
        from dhflow.balsam.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None


def ping() -> None:
    """Raise BackendError when the database cannot be reached."""
    from django.db import connection

    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except _db_errors() as exc:
        from dhflow.balsam.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None


def submissions(workflow: str, limit: int | None = None) -> list[dict]:
    """The recorded submissions of exactly this workflow, newest first (empty before the first)."""
    from django.db import connection

    cols = ("id", "workflow", "submitted_at", "command", "options", "spec_path", "spec_sha256", "git_commit",
            "git_dirty", "dhflow_version", "added", "kept", "rerun", "pruned", "orphaned")
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", [SUBMISSION_TABLE])
            if cur.fetchone()[0] is None:
                return []
            cur.execute(f"SELECT {', '.join(cols)} FROM {SUBMISSION_TABLE} WHERE workflow = %s "
                        "ORDER BY id DESC" + (" LIMIT %s" if limit else ""),
                        [workflow, limit] if limit else [workflow])
            out = []
            for row in cur.fetchall():
                rec = dict(zip(cols, row))
                if rec["submitted_at"] is not None:
                    import datetime as _dt

                    rec["submitted_at"] = rec["submitted_at"].astimezone(_dt.timezone.utc).isoformat()
                out.append(rec)
            return out
    except _db_errors() as exc:
        raise _db_failure(exc) from None
