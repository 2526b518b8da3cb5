"""The compiled plan: frozen App/Task/Plan records, stable JSON, and content keys.

The plan is the contract between the pure compiler and the backends: `Plan.to_dict()` is
what `dhflow plan --format json` prints and what the Balsam backend consumes.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

TASK_FIELDS = ("name", "rule", "index", "point", "app", "args", "num_nodes", "ranks_per_node",
               "threads_per_rank", "threads_per_core", "node_packing_count", "cpu_affinity",
               "wall_time_minutes", "auto_timeout_retry", "environ_vars", "parents", "objective", "key")
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

    def to_dict(self) -> dict:
        d = {f: getattr(self, f) for f in TASK_FIELDS}
        d["parents"] = list(self.parents)
        return d

    @staticmethod
    def from_dict(d: dict) -> "Task":
        vals = {f: d[f] for f in TASK_FIELDS}
        vals["parents"] = tuple(d["parents"])
        return Task(**vals)


@dataclass(frozen=True)
class Plan:
    """Everything `dhflow` will write for one workflow, tasks in topological order."""

    workflow: str
    objective: str
    apps: tuple[App, ...]
    launch: dict | None
    tasks: tuple[Task, ...]
    source: dict = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict:
        return {
            "workflow": self.workflow,
            "objective": self.objective,
            "description": self.description,
            "source": dict(self.source),
            "apps": [a.to_dict() for a in self.apps],
            "launch": dict(self.launch) if self.launch is not None else None,
            "tasks": [t.to_dict() for t in self.tasks],
        }

    @staticmethod
    def from_dict(d: dict) -> "Plan":
        return Plan(d["workflow"], d["objective"], tuple(App(**a) for a in d["apps"]), d["launch"],
                    tuple(Task.from_dict(t) for t in d["tasks"]), d.get("source", {}), d.get("description", ""))

    def to_json(self) -> str:
        """Stable JSON: one task per line (readable diffs, and fast for 100k tasks)."""
        head = self.to_dict()
        head.pop("tasks")
        lines = ["{"]
        for k, v in head.items():
            lines.append(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
        lines.append('  "tasks": [')
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
        n = len(self.tasks)
        for i, t in enumerate(self.tasks):
            lines.append("    " + dumps(t.to_dict()) + ("," if i < n - 1 else ""))
        lines.append("  ]")
        lines.append("}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def from_json(text: str) -> "Plan":
        return Plan.from_dict(json.loads(text))

    def rules(self) -> list[str]:
        """Rule names in the order their first task appears."""
        seen: dict[str, None] = {}
        for t in self.tasks:
            seen.setdefault(t.rule, None)
        return list(seen)


_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode


def content_key(definition: dict, here: str, parent_keys: Iterable[str]) -> str:
    """sha256 of what defines a task: canonical JSON (key order, spacing and comments of the
    file do not matter), with the spec's directory replaced by `{here}` so that moving a
    checkout keeps its keys, chained with the parents' keys so upstream changes propagate."""
    text = _canonical(definition)
    if here:
        text = text.replace(json.dumps(here)[1:-1], "{here}")
    h = hashlib.sha256(text.encode("utf-8"))
    for pk in parent_keys:
        h.update(pk.encode("ascii"))
    return h.hexdigest()
