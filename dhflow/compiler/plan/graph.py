"""Plan <-> networkx: the task DAG and the rule DAG, rendered as DOT or mermaid.

Graph logic only: no I/O except `render_image`, which pipes DOT through Graphviz.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import networkx as nx

from dhflow.compiler.plan.model import Plan


class GraphvizMissing(RuntimeError):
    """Graphviz's `dot` is not installed."""


def task_graph(plan: Plan) -> nx.DiGraph:
    """Tasks as nodes (with rule and index), an edge parent -> child."""
    g = nx.DiGraph()
    for t in plan.tasks:
        g.add_node(t.name, rule=t.rule, index=t.index, nodes=t.num_nodes)
    for t in plan.tasks:
        for p in t.parents:
            g.add_edge(p, t.name)
    return g


def rule_graph(plan: Plan) -> nx.DiGraph:
    """Rules as nodes (with their task counts); an edge when some task of b has a parent in a."""
    g = nx.DiGraph()
    rule_of = {}
    for t in plan.tasks:
        rule_of[t.name] = t.rule
        if t.rule in g:
            g.nodes[t.rule]["tasks"] += 1
        else:
            # v2: the dimensions a rule fans out over (none for v1 plans: labels unchanged)
            dims = (*t.values, *(("space",) if t.index is not None else ())) if t.values else ()
            g.add_node(t.rule, tasks=1, dims=dims)
    for t in plan.tasks:
        for p in t.parents:
            g.add_edge(rule_of[p], t.rule)
    return g


def is_topological(plan: Plan) -> bool:
    """Whether every task comes after all of its parents (the plan's invariant)."""
    seen: set[str] = set()
    for t in plan.tasks:
        if any(p not in seen for p in t.parents):
            return False
        seen.add(t.name)
    return True


def _q(s: str) -> str:
    return json.dumps(s)


def _label(g: nx.DiGraph, node: str, rules: bool) -> str:
    if rules:
        n = g.nodes[node]["tasks"]
        dims = g.nodes[node].get("dims")
        over = f" per {' x '.join(dims)}" if dims else ""
        return f"{node}{over} ({n} task{'s' if n != 1 else ''})"
    return node


def to_dot(g: nx.DiGraph, name: str, rules: bool = False) -> str:
    """Graphviz DOT text, nodes in insertion (topological) order."""
    lines = [f"digraph {_q(name)} {{", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Helvetica"];']
    for node in g.nodes:
        lines.append(f"  {_q(node)} [label={_q(_label(g, node, rules))}];")
    for u, v in g.edges:
        lines.append(f"  {_q(u)} -> {_q(v)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(g: nx.DiGraph, rules: bool = False) -> str:
    """Mermaid flowchart text; node ids are n0, n1, ... (task names may hold dots)."""
    ids = {node: f"n{i}" for i, node in enumerate(g.nodes)}
    lines = ["flowchart LR"]
    for node, nid in ids.items():
        label = _label(g, node, rules).replace('"', "#quot;")
        lines.append(f'  {nid}["{label}"]')
    for u, v in g.edges:
        lines.append(f"  {ids[u]} --> {ids[v]}")
    return "\n".join(lines) + "\n"


def render_image(dot_text: str, fmt: str) -> bytes:
    """SVG or PNG bytes through Graphviz; GraphvizMissing when `dot` is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing("Graphviz is not installed (no `dot` on PATH); install it "
                              "(Debian: apt-get install graphviz) or use --format dot|mermaid")
    proc = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout
