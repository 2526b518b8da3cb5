"""The Spec: the typed experiment definition that dhflow.compiler.check.builder makes of the
AST, and the language's vocabulary (blocks, keys, samplers).

Spec values are frozen dataclasses carrying the source spans of what they were built from,
so later stages (rules/, expand/) can point their diagnostics at the file. Balsam's own
names and limits (schedulers, job modes, columns) live in :mod:`dhflow.target`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dhflow.compiler.parse import nodes as n
from dhflow.compiler.source import SourceFile, Span

#: Resource keys of a rule, in the order a later key may refer to an earlier one.
RESOURCE_KEYS = ("nodes", "ranks_per_node", "threads_per_rank", "threads_per_core",
                 "node_packing_count", "wall_time")

BLOCKS = ("workflow", "values", "space", "sample", "search", "app", "rule", "launch")
WORKFLOW_KEYS = ("description", "objective")
APP_KEYS = ("executable", "args", "envscript", "preprocess", "postprocess", "env", "description")
RULE_KEYS = ("foreach", "after", "app", "shell", "args", *RESOURCE_KEYS, "cpu_affinity",
             "retry_on_timeout", "env", "objective", "inputs", "stage_in", "stage_out")
LAUNCH_KEYS = ("scheduler", "project", "queue", "nodes", "wall_time", "job_mode", "sched_flags", "setup")
SAMPLERS = ("grid", "random", "lhs", "points")


@dataclass(frozen=True)
class Param:
    """One parameter of the space: kind is int, real, choice or const."""

    name: str
    kind: str
    span: Span
    value_span: Span
    lo: Any = None
    hi: Any = None
    log: bool = False
    values: tuple = ()

    @property
    def constant(self) -> bool:
        return self.kind == "const"


@dataclass(frozen=True)
class SamplerSpec:
    kind: str
    span: Span
    levels: int | None = None
    count: int | None = None
    seed: int | None = None
    path: str | None = None
    path_span: Span | None = None
    where: n.Expr | None = None


@dataclass(frozen=True)
class TemplateStr:
    """A template string with the span of its literal in the source."""

    text: str
    span: Span
    raw: str | None = None  # the literal as written (escapes undecoded), for exact columns


@dataclass(frozen=True)
class AppSpec:
    name: str
    span: Span
    executable: TemplateStr | None
    args: TemplateStr | None = None
    envscript: TemplateStr | None = None
    preprocess: TemplateStr | None = None
    postprocess: TemplateStr | None = None
    description: str = ""
    env: tuple[tuple[str, TemplateStr], ...] = ()
    generated: bool = False  # made from a rule's `shell:`


@dataclass(frozen=True)
class ObjectiveSpec:
    source: str  # stdout | data | file
    span: Span
    marker: str | None = None
    key: str | None = None
    path: str | None = None

    def to_dict(self) -> dict:
        if self.source == "stdout":
            return {"source": "stdout", "marker": self.marker}
        if self.source == "data":
            return {"source": "data", "key": self.key}
        return {"source": "file", "path": self.path, "key": self.key}


@dataclass(frozen=True)
class RuleSpec:
    name: str
    span: Span
    foreach: bool = False
    foreach_span: Span | None = None
    after: tuple[tuple[str, Span], ...] = ()
    app: tuple[str, Span] | None = None
    shell: TemplateStr | None = None
    args: TemplateStr | None = None
    resources: tuple[tuple[str, n.Expr], ...] = ()  # in written order
    cpu_affinity: str = "none"
    retry_on_timeout: bool = True
    env: tuple[tuple[str, TemplateStr], ...] = ()
    objective: ObjectiveSpec | None = None
    objectives: tuple[ObjectiveSpec, ...] = ()  # every source, when the rule lists several
    # v2 fan-out (compiler/check/fanout_builder.py): every dimension of `foreach:` in written order
    # (`space` included; `foreach` above stays "fans out over space"), and files
    dims: tuple[tuple[str, Span], ...] = ()
    inputs: tuple[TemplateStr, ...] = ()
    stage_in: TemplateStr | None = None
    stage_out: tuple[TemplateStr, ...] = ()
    stage_out_url: TemplateStr | None = None
    inputs_span: Span | None = None

    @property
    def value_dims(self) -> tuple[str, ...]:
        """The `values` dimensions this rule fans out over (not `space`), in written order."""
        return tuple(d for d, _ in self.dims if d != "space")


@dataclass(frozen=True)
class ValuesSpec:
    """`values NAME: v1, v2, ...`: a named dimension of literals."""

    name: str
    span: Span
    values: tuple = ()
    value_spans: tuple[Span, ...] = ()


def value_label(v) -> str:
    """A value as it appears in task names (`train.cifar10.3`): letters, digits, `_`, `-`, `+`."""
    text = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-+") else "_" for c in text) or "_"


@dataclass(frozen=True)
class SearchSpec:
    """`search: METHOD(evals=, parallel=, seed=, initial=, max_failures=) [where EXPR]`."""

    method: str
    span: Span
    method_span: Span
    evals: int
    parallel: int | None = None
    seed: int = 0
    initial: int | None = None
    max_failures: int | None = None
    where: n.Expr | None = None


@dataclass(frozen=True)
class LaunchSpec:
    span: Span
    scheduler: str | None = None
    project: str | None = None
    queue: str | None = None
    nodes: int | None = None
    nodes_span: Span | None = None
    wall_time: int | None = None
    wall_time_span: Span | None = None
    job_mode: str | None = None
    sched_flags: str | None = None
    setup: str | None = None  # shell lines for the batch script, before the launcher

    def to_dict(self) -> dict:
        out = {"scheduler": self.scheduler, "project": self.project, "queue": self.queue,
               "nodes": self.nodes, "wall_time": self.wall_time, "job_mode": self.job_mode,
               "sched_flags": self.sched_flags}
        if self.setup:  # (only when given: plans without it stay as they were)
            out["setup"] = self.setup
        return out


@dataclass(frozen=True)
class Spec:
    source: SourceFile
    workflow: str
    workflow_span: Span
    description: str = ""
    objective: str = "maximize"
    params: tuple[Param, ...] = ()
    sampler: SamplerSpec | None = None
    apps: tuple[AppSpec, ...] = ()
    rules: tuple[RuleSpec, ...] = ()
    launch: LaunchSpec | None = None
    has_space: bool = False
    search: SearchSpec | None = None
    has_search: bool = False  # a `search:` line was written (even if it did not build)
    directions: tuple[tuple[str, Span], ...] = ()  # `objective: maximize, minimize` (several objectives)
    values: tuple[ValuesSpec, ...] = ()

    def dimension(self, name: str) -> ValuesSpec | None:
        return next((v for v in self.values if v.name == name), None)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def app(self, name: str) -> AppSpec | None:
        return _index(self, "apps").get(name)

    def rule(self, name: str) -> RuleSpec | None:
        return _index(self, "rules").get(name)


def _index(spec: "Spec", what: str) -> dict:
    """Name -> block of a frozen Spec, built once (a file of 40,000 rules looks each up)."""
    cache = spec.__dict__.get("_by_name")
    if cache is None:
        cache = {}
        object.__setattr__(spec, "_by_name", cache)
    if what not in cache:
        index: dict = {}
        for item in getattr(spec, what):
            index.setdefault(item.name, item)  # the first of duplicates, as before
        cache[what] = index
    return cache[what]
