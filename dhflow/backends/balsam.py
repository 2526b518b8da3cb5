"""Plan dict -> legacy Balsam rows (ApplicationDefinition, BalsamJob), written in one transaction.

Two halves:

* pure: :func:`validate`, :func:`app_rows`, :func:`plan_job_rows` turn a plan dict (the
  output of ``Plan.to_dict()``) into plain row dicts; no Balsam, no database;
* effects: :func:`apply` writes them (Balsam must be activated first, see
  :mod:`dhflow.backends.env`), :func:`fetch_jobs`, :func:`delete_workflow` read and delete.

Every query selects a workflow's jobs with ``workflow = NAME`` (never Balsam's substring
filters).

Upsert by content key
---------------------
Each job carries ``data["dhflow_key"]`` (the task's content key).  Writing a plan again
keeps the jobs whose key is already in the workflow (their state, results and ids are
untouched), adds the tasks whose key is new, and duplicates nothing; jobs of the workflow
whose key is no longer in the plan (an edited definition) are left alone and reported as
*stale*.  A workflow holding jobs that dhflow did not create is refused.  Everything happens
in one transaction under a per-workflow advisory lock, with bulk inserts: all or nothing.

Job fields
----------
``workflow, name, description, application, args, num_nodes, ranks_per_node,
threads_per_rank, threads_per_core, node_packing_count, cpu_affinity, wall_time_minutes,
auto_timeout_retry, environ_vars ("K=V:K2=V2"), parents`` (a JSON list of the job ids dhflow
assigns with uuid4) and ``data``::

    {"dhflow_key": ..., "dhflow_task": name, "dhflow_rule": ..., "dhflow_index": ...,
     "dhflow_point": {...} | null, "dhflow_objective": {...} | null,
     "dhflow_spec": "/abs/x.dhflow", "dhflow_sha256": "..."}

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

import hashlib
import json
import os
import re
import shlex
import uuid
from dataclasses import dataclass, field

from dhflow.backends import BackendError, PlanRejected

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
    for task in plan["tasks"]:
        name = task["name"]
        if name in seen:
            raise PlanRejected(f"task name {name!r} appears twice in workflow {wf}")
        for parent in task.get("parents") or []:
            if parent not in seen:
                raise PlanRejected(f"task {name}: parent {parent!r} is not an earlier task of the plan")
        if task.get("app") not in apps:
            raise PlanRejected(f"task {name}: app {task.get('app')!r} is not defined in the plan")
        if task.get("cpu_affinity", "none") not in ("none", "depth"):
            raise PlanRejected(f"task {name}: cpu_affinity must be 'none' or 'depth'")
        if not task.get("key"):
            raise PlanRejected(f"task {name}: no content key")
        env_string(task.get("environ_vars") or {}, task=name)
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
@dataclass
class WriteResult:
    workflow: str
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    stale: int = 0
    apps_created: list[str] = field(default_factory=list)
    apps_updated: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        n = len(self.created)
        text = f"workflow {self.workflow}: {n} job{'' if n == 1 else 's'} written"
        if self.kept:
            text += f", {len(self.kept)} already in the database (unchanged)"
        if self.stale:
            text += (f"; {self.stale} older jobs of this workflow are not in the plan "
                     "(`dhflow clean` removes them)")
        return text


def _lock_id(workflow: str) -> int:
    return int.from_bytes(hashlib.sha256(b"dhflow:" + workflow.encode()).digest()[:8], "big", signed=True)


def _db_errors():
    from django.db import DatabaseError, InterfaceError

    return (DatabaseError, InterfaceError)


def apply(plan: dict, *, dry_run: bool = False) -> WriteResult:
    """Write the plan's apps and jobs in one transaction (Balsam must be activated)."""
    validate(plan)
    from django.db import connection, transaction
    from balsam.core.models import ApplicationDefinition, BalsamJob

    wf = plan["workflow"]
    result = WriteResult(wf)
    apps = app_rows(plan)
    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(wf)])
            existing_rows = list(BalsamJob.objects.filter(workflow=wf).values_list("job_id", "data", "name"))
            existing: dict[str, str] = {}
            foreign = []
            for job_id, data, name in existing_rows:
                key = (data or {}).get("dhflow_key") if isinstance(data, dict) else None
                if not key:
                    foreign.append(name)
                else:
                    existing.setdefault(key, str(job_id))
            if foreign:
                raise BackendError(
                    f"workflow {wf} already has {len(foreign)} jobs not created by dhflow "
                    f"(e.g. {foreign[0]!r}); choose another workflow name or remove them "
                    f"(`dhflow clean` removes every job of workflow {wf})")
            rows, ids, kept = plan_job_rows(plan, existing)
            plan_keys = {t["key"] for t in plan["tasks"]}
            result.stale = sum(1 for k in existing if k not in plan_keys)
            result.kept, result.ids = kept, ids
            result.created = [r["name"] for r in rows]
            # applications: created or updated to match
            current = {a.name: a for a in ApplicationDefinition.objects.select_for_update()
                       .filter(name__in=[r["name"] for r in apps])}
            fields = ("description", "executable", "envscript", "preprocess", "postprocess")
            to_update = []
            to_create = []
            for row in apps:
                app = current.get(row["name"])
                if app is None:
                    to_create.append(ApplicationDefinition(**row))
                    result.apps_created.append(row["name"])
                elif any(getattr(app, f) != row[f] for f in fields):
                    for f in fields:
                        setattr(app, f, row[f])
                    to_update.append(app)
                    result.apps_updated.append(row["name"])
            if dry_run:
                transaction.set_rollback(True)
                return result
            if to_create:
                ApplicationDefinition.objects.bulk_create(to_create)
            if to_update:
                ApplicationDefinition.objects.bulk_update(to_update, list(fields))
            jobs = [BalsamJob(**{**r, "job_id": uuid.UUID(r["job_id"])}) for r in rows]
            BalsamJob.objects.bulk_create(jobs, batch_size=2000)
    except BackendError:
        raise
    except _db_errors() as exc:
        from dhflow.backends.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None
    return result


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


def _workdir(job, top: str) -> str:
    if job.user_workdir and os.path.isdir(job.user_workdir):
        return job.user_workdir
    path = os.path.join(top, job.workflow) if job.workflow else top
    return os.path.join(path, job.name.strip().replace(" ", "_") + "_" + str(job.pk)[:8])


def fetch_jobs(workflow: str) -> list[JobView]:
    """Every job of exactly this workflow (Balsam must be activated)."""
    from django.conf import settings
    from balsam.core.models import BalsamJob

    try:
        top = settings.BALSAM_WORK_DIRECTORY
        return [JobView(str(j.job_id), j.name, j.workflow, j.state, j.state_history,
                        j.data if isinstance(j.data, dict) else {}, _workdir(j, top), j.application)
                for j in BalsamJob.objects.filter(workflow=workflow)]
    except _db_errors() as exc:
        from dhflow.backends.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None


def state_counts(workflow: str, job_ids: list[str] | None = None) -> dict[str, str]:
    """job id -> state for a workflow (one cheap query, used while polling)."""
    from balsam.core.models import BalsamJob

    try:
        qs = BalsamJob.objects.filter(workflow=workflow)
        if job_ids is not None:
            qs = qs.filter(job_id__in=job_ids)
        return {str(pk): state for pk, state in qs.values_list("job_id", "state")}
    except _db_errors() as exc:
        from dhflow.backends.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None


def count_workflow(workflow: str) -> int:
    from balsam.core.models import BalsamJob

    try:
        return BalsamJob.objects.filter(workflow=workflow).count()
    except _db_errors() as exc:
        from dhflow.backends.env import database_error_message

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
        from dhflow.backends.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None


def workflows_containing(workflow: str) -> list[str]:
    """Other workflow names that contain this one (Balsam's substring filters would mix them)."""
    from balsam.core.models import BalsamJob

    try:
        names = (BalsamJob.objects.filter(workflow__contains=workflow).exclude(workflow=workflow)
                 .values_list("workflow", flat=True).distinct())
        return sorted(set(names))
    except _db_errors() as exc:
        from dhflow.backends.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None


def ping() -> None:
    """Raise BackendError when the database cannot be reached."""
    from django.db import connection

    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
    except _db_errors() as exc:
        from dhflow.backends.env import database_error_message

        raise BackendError(database_error_message(exc, os.environ.get("BALSAM_DB_PATH"))) from None
