"""The compiled plan: frozen App/Task/Plan records, stable JSON, and content keys.

The plan is the contract between the pure compiler and the backends: `Plan.to_dict()` is
what `dhflow plan --format json` prints and what the Balsam backend consumes.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from dhflow.compiler.jsonfast import canonical as _canonical, plan_line, string as _str

TASK_FIELDS = ("name", "rule", "index", "point", "app", "args", "num_nodes", "ranks_per_node",
               "threads_per_rank", "threads_per_core", "node_packing_count", "cpu_affinity",
               "wall_time_minutes", "auto_timeout_retry", "environ_vars", "parents", "objective", "key")
V2_FILE_FIELDS = ("input_files", "stage_in_url", "stage_out_files", "stage_out_url")
APP_FIELDS = ("name", "executable", "envscript", "preprocess", "postprocess", "description")


@dataclass(frozen=True, slots=True)
class App:
    """A Balsam ApplicationDefinition."""

    name: str
    executable: str
    envscript: str = ""
    preprocess: str = ""
    postprocess: str = ""
    description: str = ""

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in APP_FIELDS}


@dataclass(frozen=True, slots=True)
class Task:
    """One BalsamJob: its fields, its parents (task names) and its content key."""

    name: str
    rule: str
    index: int | None
    point: dict | None
    app: str
    args: str
    num_nodes: int
    ranks_per_node: int
    threads_per_rank: int
    threads_per_core: int
    node_packing_count: int
    cpu_affinity: str
    wall_time_minutes: int
    auto_timeout_retry: bool
    environ_vars: dict
    parents: tuple[str, ...]
    objective: dict | None
    key: str
    # v2 (fan-out and files): written to the plan JSON only when set, so v1 plans are unchanged
    values: dict | None = None
    input_files: str = ""
    stage_in_url: str = ""
    stage_out_files: str = ""
    stage_out_url: str = ""

    def to_dict(self) -> dict:
        # Written out (not a loop over TASK_FIELDS): this runs once per task of 100k-task plans.
        return {"name": self.name, "rule": self.rule, "index": self.index, "point": self.point,
                "app": self.app, "args": self.args, "num_nodes": self.num_nodes,
                "ranks_per_node": self.ranks_per_node, "threads_per_rank": self.threads_per_rank,
                "threads_per_core": self.threads_per_core, "node_packing_count": self.node_packing_count,
                "cpu_affinity": self.cpu_affinity, "wall_time_minutes": self.wall_time_minutes,
                "auto_timeout_retry": self.auto_timeout_retry, "environ_vars": self.environ_vars,
                "parents": list(self.parents), "objective": self.objective, "key": self.key,
                **self.v2_dict()}

    def v2_dict(self) -> dict:
        """The fan-out and file fields that are set (none for a v1 task)."""
        out: dict = {}
        if self.values is not None:
            out["values"] = self.values
        for f in V2_FILE_FIELDS:
            if getattr(self, f):
                out[f] = getattr(self, f)
        return out

    @staticmethod
    def dict_of(name, rule, index, point, app, args, num_nodes, ranks_per_node, threads_per_rank, threads_per_core,
                node_packing_count, cpu_affinity, wall_time_minutes, auto_timeout_retry, environ_vars, parents,
                objective, key, values=None, input_files="", stage_in_url="", stage_out_files="",
                stage_out_url="") -> dict:
        """``Task(...).to_dict()`` without the Task (a streaming compile makes a million)."""
        d = {"name": name, "rule": rule, "index": index, "point": point, "app": app, "args": args,
             "num_nodes": num_nodes, "ranks_per_node": ranks_per_node, "threads_per_rank": threads_per_rank,
             "threads_per_core": threads_per_core, "node_packing_count": node_packing_count,
             "cpu_affinity": cpu_affinity, "wall_time_minutes": wall_time_minutes,
             "auto_timeout_retry": auto_timeout_retry, "environ_vars": environ_vars, "parents": list(parents),
             "objective": objective, "key": key}
        if values is not None:
            d["values"] = values
        if input_files or stage_in_url or stage_out_files or stage_out_url:
            for f, v in zip(V2_FILE_FIELDS, (input_files, stage_in_url, stage_out_files, stage_out_url)):
                if v:
                    d[f] = v
        return d

    @staticmethod
    def from_dict(d: dict) -> "Task":
        vals = {f: d[f] for f in TASK_FIELDS}
        vals["parents"] = tuple(d["parents"])
        vals.update({f: d[f] for f in ("values", *V2_FILE_FIELDS) if f in d})
        return Task(**vals)


@dataclass(frozen=True)
class Plan:
    """Everything `dhflow` will write for one workflow, tasks in topological order."""

    workflow: str
    objective: str | list[str]  # "maximize"/"minimize", or one direction per objective
    apps: tuple[App, ...]
    launch: dict | None
    tasks: tuple[Task, ...]
    source: dict = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict:
        return {**self._head(), "tasks": [t.to_dict() for t in self.tasks]}

    def _head(self) -> dict:
        return {
            "workflow": self.workflow,
            "objective": self.objective,
            "description": self.description,
            "source": dict(self.source),
            "apps": [a.to_dict() for a in self.apps],
            "launch": dict(self.launch) if self.launch is not None else None,
        }

    @staticmethod
    def from_dict(d: dict) -> "Plan":
        return Plan(d["workflow"], d["objective"], tuple(App(**a) for a in d["apps"]), d["launch"],
                    tuple(Task.from_dict(t) for t in d["tasks"]), d.get("source", {}), d.get("description", ""))

    def iter_json(self, tasks: Iterable["Task"] | None = None):
        """The stable JSON text in pieces (one task per line), for streaming 100k-task plans.

        ``tasks`` (an iterable of Task, e.g. a streaming compile's) replaces the plan's own,
        so that a plan head and lazily produced tasks print without ever holding them all."""
        yield "{\n"
        for k, v in self._head().items():
            yield f"  {json.dumps(k)}: {plan_line(v)},\n"
        yield '  "tasks": [\n'
        shared: dict[int, str] = {}
        prev = None
        for t in self.tasks if tasks is None else tasks:
            if prev is not None:
                yield "    " + task_json(prev, shared) + ",\n"
            prev = t
        if prev is not None:
            yield "    " + task_json(prev, shared) + "\n"
        yield "  ]\n}\n"

    def to_json(self) -> str:
        """Stable JSON: one task per line (readable diffs, and fast for 100k tasks)."""
        return "".join(self.iter_json())

    @staticmethod
    def from_json(text: str) -> "Plan":
        return Plan.from_dict(json.loads(text))

    def rules(self) -> list[str]:
        """Rule names in the order their first task appears."""
        seen: dict[str, None] = {}
        for t in self.tasks:
            seen.setdefault(t.rule, None)
        return list(seen)


def content_key(definition: dict, here: str, parent_keys: Iterable[str]) -> str:
    """sha256 of what defines a task: canonical JSON (key order, spacing and comments of the
    file do not matter), with the spec's directory replaced by `{here}` so that moving a
    checkout keeps its keys, chained with the parents' keys so upstream changes propagate."""
    return content_key_text(_canonical(definition), here, parent_keys)


@functools.lru_cache(maxsize=16)
def _here_in_json(here: str) -> str:
    """`here` as it appears inside a JSON string (what content keys replace by `{here}`)."""
    return json.dumps(here)[1:-1]


def content_key_text(text: str, here: str, parent_keys: Iterable[str]) -> str:
    """content_key of a definition already written as canonical text."""
    if here:
        text = text.replace(_here_in_json(here), "{here}")
    h = hashlib.sha256(text.encode("utf-8"))
    if isinstance(parent_keys, (list, tuple)) and len(parent_keys) < 2:  # (most tasks: 0 or 1 parent)
        if parent_keys:
            h.update(parent_keys[0].encode("ascii"))
        return h.hexdigest()
    pks = sorted(parent_keys)  # the order of `after:` is not part of the definition
    for i in range(0, len(pks), 4096):  # (the digest of the keys one after another)
        h.update("".join(pks[i:i + 4096]).encode("ascii"))
    return h.hexdigest()


def _b(v: bool) -> str:
    return "true" if v else "false"


def _shared(obj, cache: dict[int, str] | None) -> str:
    """plan_line(obj), remembered by identity: a rule's tasks share their environment and
    objective dicts, so each is encoded once (the objects outlive the cache)."""
    if cache is None:
        return plan_line(obj)
    text = cache.get(id(obj))
    if text is None:
        text = cache[id(obj)] = plan_line(obj)
    return text


def task_json(t: Task, cache: dict[int, str] | None = None) -> str:
    """`plan_line(t.to_dict())`, byte for byte, without building the dict (hot path)."""
    return (f'{{"name": {_str(t.name)}, "rule": {_str(t.rule)}, '
            f'"index": {"null" if t.index is None else t.index}, '
            f'"point": {"null" if t.point is None else plan_line(t.point)}, "app": {_str(t.app)}, '
            f'"args": {_str(t.args)}, "num_nodes": {t.num_nodes}, "ranks_per_node": {t.ranks_per_node}, '
            f'"threads_per_rank": {t.threads_per_rank}, "threads_per_core": {t.threads_per_core}, '
            f'"node_packing_count": {t.node_packing_count}, "cpu_affinity": {_str(t.cpu_affinity)}, '
            f'"wall_time_minutes": {t.wall_time_minutes}, "auto_timeout_retry": {_b(t.auto_timeout_retry)}, '
            f'"environ_vars": {_shared(t.environ_vars, cache) if t.environ_vars else "{}"}, '
            f'"parents": {_names_json(t.parents)}, '
            f'"objective": {"null" if t.objective is None else _shared(t.objective, cache)}, '
            f'"key": {_str(t.key)}' + (_v2_json(t) if t.values is not None or t.input_files or t.stage_in_url
                                        or t.stage_out_files or t.stage_out_url else "") + "}")


def _names_json(names) -> str:
    """The JSON list of ``names`` as task_json writes it; a big gather's a piece at a time (a
    join over a million names would first hold each one's JSON text as a string of its own)."""
    if len(names) <= 4096:
        return "[" + ", ".join(map(_str, names)) + "]"
    return "[" + ", ".join([", ".join(map(_str, names[i:i + 4096])) for i in range(0, len(names), 4096)]) + "]"


def _v2_json(t: Task) -> str:
    return "".join(f", {json.dumps(k)}: {plan_line(v)}" for k, v in t.v2_dict().items())
