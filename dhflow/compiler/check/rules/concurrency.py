"""DH411: a search's `parallel` that the launch cannot run at once.

The search driver keeps `parallel` evaluations in flight, but Balsam's launcher starts an
evaluation's task only when the nodes it needs are free (balsam 0.5.0):

* in `mpi` job mode a task takes `nodes` whole nodes (`node_packing_count` is not read);
* in `serial` job mode a task takes 1/`node_packing_count` of a node;

and a launcher on this machine (`dhflow run`, `scheduler: local`, no `launch:`) has one
node.  So `parallel=4` with whole-node tasks and one node runs one evaluation at a time,
and the other three wait (PREPROCESSED).  Only values that do not depend on the point are
used: when a rule's node use depends on it, that rule is not judged (no false alarm).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterator

from dhflow.compiler.check.model import RESOURCE_KEYS, RuleSpec, Spec
from dhflow.compiler.diagnostics import WARNING, Diagnostic, Label
from dhflow.compiler.lang.expressions import CompiledExpr, EvalError

_PARALLEL = re.compile(r"\bparallel\s*=\s*\d+")


@dataclass(frozen=True)
class Capacity:
    """How many tasks of one rule the launch runs at once, and why."""

    rule: RuleSpec
    tasks: int
    nodes: int             # the launch's nodes
    task_nodes: int        # nodes per task
    packing: int           # node_packing_count
    mode: str              # serial | mpi
    written: bool          # nodes from `launch: nodes:` (else a launcher on this machine)

    def why(self) -> str:
        """The launch's nodes and the rule's node use, as the message says them."""
        where = (f"{self.nodes} node{'s' if self.nodes != 1 else ''}" if self.written
                 else "a launcher on this machine has 1 node")
        if self.mode == "serial":
            return (f"{where}, and rule `{self.rule.name}` puts {self.packing} task{'s' if self.packing != 1 else ''} "
                    f"on a node (serial mode, `node_packing_count: {self.packing}`)")
        whole = "a whole node" if self.task_nodes == 1 else f"{self.task_nodes} whole nodes"
        return f"{where}, and a task of rule `{self.rule.name}` takes {whole} (mpi mode)"


def constant_resources(spec: Spec, rule: RuleSpec) -> dict[str, int]:
    """The rule's resource values that are the same for every point (a key that reads the
    point, or a key that does, is left out; so is one that cannot be evaluated)."""
    point_names = {p.name for p in spec.params} | {v.name for v in spec.values} | {"point", "index"}
    env: dict = {k: 1 for k in RESOURCE_KEYS}
    known = set(RESOURCE_KEYS)
    for key, expr in rule.resources:
        fn = CompiledExpr(expr)
        if set(fn.names) & point_names or not set(fn.names) <= known:
            known.discard(key)
            continue
        try:
            value = fn(env)
        except EvalError:
            known.discard(key)
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            known.discard(key)  # DH404 reports it
            continue
        env[key] = value
    return {k: env[k] for k in known}


def launch_nodes(spec: Spec) -> int | None:
    """The nodes a launcher of this file has: `launch: nodes:` (the batch job's), else one,
    on this machine (no `launch:`, `scheduler: local`, or no scheduler and no nodes); None
    for a batch scheduler without `nodes:` (submit refuses it: not judged here)."""
    launch = spec.launch
    if launch is None or launch.scheduler == "local":
        return 1
    if launch.nodes is None:
        return None if launch.scheduler else 1
    return launch.nodes


def nodes_written(spec: Spec) -> bool:
    """Whether the launch's nodes are `launch: nodes:` (else a launcher on this machine)."""
    return spec.launch is not None and spec.launch.scheduler != "local" and spec.launch.nodes is not None


def job_mode(spec: Spec, shapes: list[tuple[int, int] | None]) -> str | None:
    """`launch: job_mode:`, else what dhflow chooses (serial when every task is one node and
    one rank); None when that depends on the points."""
    if spec.launch is not None and spec.launch.job_mode:
        return spec.launch.job_mode
    if all(s == (1, 1) for s in shapes):
        return "serial"
    if any(s is not None and s != (1, 1) for s in shapes):
        return "mpi"
    return None


def capacities(spec: Spec) -> list[Capacity]:
    """Per foreach rule whose node use is known: how many of its tasks run at once."""
    nodes = launch_nodes(spec)
    if nodes is None:
        return []
    rules = [r for r in spec.rules if r.foreach]
    values = {r.name: constant_resources(spec, r) for r in spec.rules}
    shapes = [(v["nodes"], v["ranks_per_node"]) if "nodes" in v and "ranks_per_node" in v else None
              for v in values.values()]
    mode = job_mode(spec, shapes)
    out = []
    for rule in rules:
        v = values[rule.name]
        if mode is None or "nodes" not in v or (mode == "serial" and "node_packing_count" not in v):
            continue
        if mode == "serial":
            out.append(Capacity(rule, nodes * v["node_packing_count"], nodes, 1, v["node_packing_count"], mode,
                                nodes_written(spec)))
        elif v["nodes"] <= nodes:  # (more nodes than the launch has: DH405)
            out.append(Capacity(rule, nodes // v["nodes"], nodes, v["nodes"], v.get("node_packing_count", 1), mode,
                                nodes_written(spec)))
    return out


def parallel_beyond_launch(spec: Spec) -> Iterator[Diagnostic]:
    """`search: ...(parallel=P)` when the launch runs fewer than P evaluations at once."""
    s = spec.search
    if s is None or s.parallel is None:
        return
    caps = capacities(spec)
    if not caps:
        return
    cap = min(caps, key=lambda c: c.tasks)
    if cap.tasks >= s.parallel:
        return
    p = s.parallel
    text = spec.source.text
    m = _PARALLEL.search(text, s.span.start, s.span.end)
    span = spec.source.span(m.start(), m.end()) if m else s.span
    fixes = []
    if nodes_written(spec):
        need = p * cap.task_nodes if cap.mode == "mpi" else math.ceil(p / cap.packing)
        fixes.append(f"raise `nodes` in `launch:` to {need}")
    else:  # a launcher on this machine has one node
        fixes.append("submit it to a batch scheduler with more nodes (`launch:` `scheduler:` and `nodes:`)")
    if cap.task_nodes == 1:
        per = math.ceil(p / cap.nodes)
        fixes.append(f"set `node_packing_count: {per}` on rule `{cap.rule.name}` (tasks sharing a node"
                     + (", with `job_mode: serial`: mpi mode does not pack)" if cap.mode == "mpi" else ")"))
    fixes.append(f"lower `parallel` to {cap.tasks}")
    labels = (Label(spec.launch.nodes_span, "launch nodes"),) if nodes_written(spec) and spec.launch.nodes_span else ()
    yield Diagnostic(
        "DH411", f"`parallel={p}` asks for {p} evaluations at once, but the launch runs at most {cap.tasks} "
                 f"at once: {cap.why()}; {_waiting(p - cap.tasks)}", span, severity=WARNING, labels=labels,
        help="; or ".join(fixes))


def _waiting(n: int) -> str:
    return "the other one waits" if n == 1 else f"the other {n} wait"


CHECKS = (parallel_beyond_launch,)
