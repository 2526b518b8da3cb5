"""Plan dict -> legacy Balsam rows (ApplicationDefinition, BalsamJob): pure, no database.

:func:`validate` (and :func:`validate_head` with :class:`TaskChecker` for a plan whose
tasks still come one at a time) refuses what Balsam cannot hold; :func:`app_rows` gives
the applications; :func:`copy_lines` is the one builder of job rows, in COPY's text format,
used by every write (:mod:`dhflow.balsam.store`) and by :func:`dry_run_rows`, which decodes
its output, so that a dry run shows exactly the rows a submission writes.

Job fields
----------
``workflow, name, description, application`` (``<workflow>.<app>``, see
:mod:`dhflow.balsam.apps`), ``args, num_nodes, ranks_per_node,
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

import json
import operator
import os
import shlex
from collections.abc import Collection

from dhflow.balsam.copy import decode_lines, esc, new_job_stamps, uuid4s
from dhflow.balsam.submissions import job_provenance
from dhflow.errors import PlanRejected
from dhflow.target import ENV_FORBIDDEN, ENV_NAME, ENV_SEPARATOR, WHITESPACE_RUN, transfer_url

ENVSCRIPT_WRAPPER = """/bin/sh -c '. "$0" && exec "$@"'"""

#: The placeholder job id a dry run shows for a parent already in the database.
IN_THE_DB = "(in the DB)"


# ------------------------------------------------------------------ applications
#: Separates the workflow from the app in a Balsam application name (see dhflow.balsam.apps).
APP_SEPARATOR = "."


def balsam_name(workflow: str, app: str) -> str:
    """The name of a workflow's app in Balsam's (global) ApplicationDefinition table."""
    return f"{workflow}{APP_SEPARATOR}{app}"


def env_string(environ_vars: dict, *, task: str = "?") -> str:
    """``{"A": "1", "B": "x"}`` -> ``"A=1:B=x"``; refuses what Balsam cannot represent."""
    parts = []
    for key, value in (environ_vars or {}).items():
        value = "" if value is None else str(value)
        if not ENV_NAME.match(str(key)):
            raise PlanRejected(f"task {task}: environment variable name {key!r} is not a valid name")
        if ENV_SEPARATOR in value:
            raise PlanRejected(
                f"task {task}: environment variable {key}={value!r} contains ':', which Balsam's "
                "environ_vars (K=V:K2=V2) cannot hold; pass it another way (args, a file, or the job data)")
        if any(c in value for c in ENV_FORBIDDEN):
            raise PlanRejected(f"task {task}: environment variable {key} contains a newline or NUL")
        parts.append(f"{key}={value}")
    return ENV_SEPARATOR.join(parts)


def app_executable(app: dict, here: str) -> str:
    """The executable stored in the ApplicationDefinition (envscript folded in)."""
    exe = app.get("executable") or ""
    script = (app.get("envscript") or "").strip()
    if not script:
        return exe
    path = os.path.expanduser(script)
    if not os.path.isabs(path):
        path = os.path.normpath(os.path.join(here, path))
    if WHITESPACE_RUN.search(path):
        raise PlanRejected(f"app {app.get('name')}: envscript path {path!r} contains runs of whitespace, "
                           "which Balsam collapses")
    return f"{ENVSCRIPT_WRAPPER} {shlex.quote(path)} {exe}"


def app_rows(plan: dict) -> list[dict]:
    """The ApplicationDefinition rows of a plan (or of a plan's head), as column dicts."""
    here = (plan.get("source") or {}).get("here") or os.getcwd()
    rows = []
    for app in plan.get("apps", []):
        rows.append({
            "name": balsam_name(plan["workflow"], app["name"]),
            "description": app.get("description") or "",
            "executable": app_executable(app, here),
            "envscript": "",
            "preprocess": app.get("preprocess") or "",
            "postprocess": app.get("postprocess") or "",
        })
    return rows


# ------------------------------------------------------------------ validation
def _require(plan: dict, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key not in plan:
            raise PlanRejected(f"not a dhflow plan: missing {key!r}")
    wf = plan["workflow"]
    if not isinstance(wf, str) or not wf:
        raise PlanRejected("the plan has no workflow name")


def validate_head(head: dict) -> None:
    """The checks of a plan's head (a plan without its tasks); raises PlanRejected."""
    _require(head, ("workflow", "apps"))


class TaskChecker:
    """The structural checks of a plan's tasks, one task after another (parents first):
    unique names, parents already seen, a known app, a valid cpu_affinity, a content key
    and (with ``environment``) an environment Balsam can hold.  Raises PlanRejected."""

    def __init__(self, head: dict, *, environment: bool = True, names=None):
        self.workflow = head["workflow"]
        self.apps = {a["name"] for a in head["apps"]}
        # the names seen: our own set, or the caller's container, which the caller fills
        # after each call (a streaming write's job ids by name: no second set of a million)
        self.seen = set() if names is None else names
        self._add = self.seen.add if names is None else None
        # environments checked, by identity (tasks of a rule share one); None: not checked here
        self._envs: dict[int, dict] | None = {} if environment else None

    def __call__(self, task: dict) -> None:
        name = task["name"]
        if name in self.seen:
            raise PlanRejected(f"task name {name!r} appears twice in workflow {self.workflow}")
        for parent in task.get("parents") or ():
            if parent not in self.seen:
                raise PlanRejected(f"task {name}: parent {parent!r} is not an earlier task of the plan")
        if task.get("app") not in self.apps:
            raise PlanRejected(f"task {name}: app {task.get('app')!r} is not defined in the plan")
        if task.get("cpu_affinity", "none") not in ("none", "depth"):
            raise PlanRejected(f"task {name}: cpu_affinity must be 'none' or 'depth'")
        if not task.get("key"):
            raise PlanRejected(f"task {name}: no content key")
        if self._envs is not None:
            env = task.get("environ_vars") or {}
            if id(env) not in self._envs:
                env_string(env, task=name)
                self._envs[id(env)] = env  # (kept: its id stays unique while it is in the dict)
        if self._add is not None:
            self._add(name)


def validate(plan: dict) -> None:
    """Structural checks a backend relies on; raises PlanRejected."""
    _require(plan, ("workflow", "tasks", "apps"))
    check = TaskChecker(plan)
    for task in plan["tasks"]:
        check(task)


# ------------------------------------------------------------------ job rows
_NO = object()  # a field the task does not give (its column's default), unlike one given as None
#: The fields that make a task's class in :func:`copy_lines` (with its environment and objective).
_CLASS_FIELDS = ("rule", "app", "wall_time_minutes", "num_nodes", "ranks_per_node", "cpu_affinity",
                 "threads_per_rank", "threads_per_core", "node_packing_count", "auto_timeout_retry")


def copy_lines(plan: dict, tasks, ids: dict[str, str], *, provenance_json: str, tick: str, history: str,
               parts_of=None, chunk_rows: int = 1000):
    """COPY text of the new jobs, in chunks of ``chunk_rows`` lines (bytes), one task at a time.

    ``tasks``: the plan tasks to write (iterated once); ``ids``: job id of every task by
    name (new and existing: parents may be jobs already in the database).  Every column of
    :data:`dhflow.balsam.copy.JOB_COLUMNS` is given.

    Tasks of a rule with the same app, resources, environment and objective (a *class*: a
    sweep has a handful) share most of their row: it is formatted once per class, and each
    task adds only what is its own (id, name, parents, args, key, point, parts).
    """
    from dhflow.compiler.jsonfast import compact, compact_point
    from dhflow.reconcile.decision import PartsMaker

    from json.encoder import encode_basestring_ascii as jstr

    parts_of = parts_of or PartsMaker(plan)
    by_class = getattr(parts_of, "json_of_class", None)
    parts_json = getattr(parts_of, "json", None) or (lambda t: compact(parts_of(t)))
    wf = plan["workflow"]
    source = plan.get("source") or {}
    tail_data = (f',"dhflow_spec":{jstr(source.get("path") or "") if source.get("path") else "null"}'
                 f',"dhflow_sha256":{jstr(source.get("sha256")) if source.get("sha256") else "null"}'
                 f',"dhflow_provenance":{provenance_json}}}')
    e_hist = esc(history)
    after_id = f"\t{esc(wf)}\t"
    classes: dict[tuple, tuple] = {}
    class_fields = operator.itemgetter(*_CLASS_FIELDS)
    no_files = "\t\t\t\t"  # input_files, stage_in_url, stage_out_files, stage_out_url (all '')
    buf: list[str] = []
    append = buf.append
    for t in tasks:
        get = t.get
        name = t["name"]
        env = get("environ_vars") or {}
        obj = get("objective")
        try:  # (a compiled task gives every field)
            ck = (class_fields(t), id(env), id(obj))
        except KeyError:
            ck = (*[get(k, _NO) for k in _CLASS_FIELDS], id(env), id(obj))
        cls = classes.get(ck)
        if cls is None:
            cls = classes[ck] = _row_class(t, env, obj, wf, tick, e_hist, compact, jstr,
                                           by_class(t) if by_class is not None else parts_json)
        parents = get("parents")
        index = get("index")
        point = get("point")
        values = get("values")
        data = (f'{{"dhflow_key":{jstr(t["key"])},"dhflow_task":{jstr(name)}{cls[4]}'
                f'"dhflow_index":{"null" if index is None else int(index)},'
                f'"dhflow_point":{"null" if point is None else compact_point(point)},{cls[5]}{cls[6](t)}'
                + (tail_data if values is None else f',"dhflow_values":{compact(values)}{tail_data}'))
        if "\\" in data:
            data = data.replace("\\", "\\\\")
        files = _files(t) if ("input_files" in t or "stage_in_url" in t or "stage_out_files" in t
                              or "stage_out_url" in t) else ""
        rest = f"\t{files or no_files}{cls[3]}{esc(get('args') or '')}{cls[7]}{data}\t\\N\n"
        if parents and len(parents) > _PIECE:  # a big gather: its parents go a piece at a time
            append(f"{ids[name]}{after_id}{esc(name)}{cls[2]}")
            yield from _parents_in_pieces(buf, parents, ids)
            append(rest)
            continue
        append(f"{ids[name]}{after_id}{esc(name)}{cls[2]}"
               + (('["' + '", "'.join([ids[p] for p in parents]) + '"]') if parents else "[]") + rest)
        if len(buf) >= chunk_rows:
            yield "".join(buf).encode("utf-8")
            buf.clear()
    if buf:
        yield "".join(buf).encode("utf-8")


_PIECE = 4096


def _parents_in_pieces(buf: list[str], parents, ids: dict[str, str]):
    """The rows in ``buf`` and then a parents column's JSON, as COPY chunks of ``_PIECE`` job
    ids (a row may span chunks): a million-parent gather is never one 40 MB string."""
    buf.append('["')
    yield "".join(buf).encode("utf-8")
    buf.clear()
    for i in range(0, len(parents), _PIECE):
        yield (('", "' if i else "") + '", "'.join([ids[p] for p in parents[i:i + _PIECE]])).encode("utf-8")
    buf.append('"]')


def _row_class(t: dict, env: dict, obj, wf: str, tick: str, e_hist: str, compact, jstr, parts_json) -> tuple:
    """What the tasks of one class share in their rows (see :func:`copy_lines`):
    (env, objective: kept alive so that their ids stay theirs while cached; text from
    description to tick; text from wall_time_minutes to application; the data's rule;
    the data's objective; the parts' JSON function; text from user_workdir to state_history)."""
    rule = t.get("rule")
    e_env = esc(env_string(env, task=t["name"]))
    return (
        env, obj,
        f"\t{esc(f'dhflow {wf}/{rule}')}\t\t{tick}\t",
        f"{int(t.get('wall_time_minutes', 1))}\t{int(t.get('num_nodes', 1))}\t0\t{int(t.get('ranks_per_node', 1))}\t"
        f"{esc(t.get('cpu_affinity') or 'none')}\t{int(t.get('threads_per_rank', 1))}\t"
        f"{int(t.get('threads_per_core', 1))}\t{int(t.get('node_packing_count', 1))}\t{e_env}\t\t"
        f"{esc(balsam_name(wf, t['app']))}\t",
        f',"dhflow_rule":{jstr(rule) if rule is not None else "null"},',
        f'"dhflow_objective":{"null" if obj is None else compact(obj)},"dhflow_parts":',
        parts_json,
        f"\t\tt\tf\tf\t{'t' if t.get('auto_timeout_retry', True) else 'f'}\tCREATED\t{e_hist}\t",
    )


def _files(t: dict) -> str:
    """The four file columns (Balsam's stage-in from parents, stage in, stage out), or ''.

    The URLs as Balsam's transfer takes them: it does not know `file://` (see
    :func:`dhflow.target.transfer_url`), which users write for a folder on this machine."""
    cols = [t.get("input_files") or "", transfer_url(t.get("stage_in_url") or ""),
            t.get("stage_out_files") or "", transfer_url(t.get("stage_out_url") or "")]
    return "".join(esc(c) + "\t" for c in cols) if any(cols) else ""


_INT_COLUMNS = ("wall_time_minutes", "num_nodes", "coschedule_num_nodes", "ranks_per_node", "threads_per_rank",
                "threads_per_core", "node_packing_count")
_BOOL_COLUMNS = ("wait_for_parents", "post_error_handler", "post_timeout_handler", "auto_timeout_retry")


def dry_run_rows(plan: dict, new: Collection[str] | None = None, *, ids: dict[str, str] | None = None,
                 provenance: dict | None = None, submission: object = None) -> list[dict]:
    """The job rows a submission of ``plan`` would write for the tasks named in ``new``
    (None: every task), in plan order: :func:`copy_lines`' output decoded back into one
    dict per row (:data:`~dhflow.balsam.copy.JOB_COLUMNS`), so a dry run shows exactly
    what the real write sends.  Integer and boolean columns are ints and bools, ``data``
    a dict; ``parents`` stays the JSON text Balsam stores.

    ``ids``: job ids of the tasks already in the database, by name (others show as
    :data:`IN_THE_DB` when a new task names them as parents); new jobs get fresh uuid4s.
    ``provenance``: the submission's provenance (:mod:`dhflow.runtime.provenance`), stored
    in each row's data as the real write stores it (``submission``: its id, unknown before
    it is recorded); None shows ``dhflow_provenance`` as null.
    """
    tasks = plan["tasks"]
    new_tasks = tasks if new is None else [t for t in tasks if t["name"] in new]
    all_ids = {t["name"]: IN_THE_DB for t in tasks}
    all_ids.update(ids or {})
    all_ids.update(zip((t["name"] for t in new_tasks), uuid4s(len(new_tasks))))
    prov_json = "null" if provenance is None else job_provenance(provenance, submission)[1]
    tick, history = new_job_stamps(submission)
    rows = decode_lines(copy_lines(plan, new_tasks, all_ids, provenance_json=prov_json, tick=tick,
                                   history=history))
    for row in rows:
        for col in _INT_COLUMNS:
            row[col] = int(row[col])
        for col in _BOOL_COLUMNS:
            row[col] = row[col] == "t"
        row["data"] = json.loads(row["data"])
    return rows
