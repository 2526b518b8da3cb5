"""The rule graph: `after` cycles, shown edge by edge."""
from __future__ import annotations

from typing import Iterator

import networkx as nx

from dhflow.compiler.diagnostics import Diagnostic, Label
from dhflow.compiler.check.model import Spec


def rule_graph(spec: Spec) -> nx.DiGraph:
    """Rules as nodes, an edge a -> b when b runs after a (edges keep the `after` span)."""
    g = nx.DiGraph()
    for rule in spec.rules:
        g.add_node(rule.name)
    known = set(g.nodes)
    for rule in spec.rules:
        for dep, span in rule.after:
            if dep in known:
                g.add_edge(dep, rule.name, span=span)
    return g


def cycles(spec: Spec) -> Iterator[Diagnostic]:
    """A cycle among rules is an error; each distinct cycle is reported once with its edges."""
    g = rule_graph(spec)
    seen: set[frozenset] = set()
    for comp in nx.strongly_connected_components(g):
        if len(comp) == 1:
            node = next(iter(comp))
            if not g.has_edge(node, node):
                continue
        sub = g.subgraph(comp)
        cycle = nx.find_cycle(sub)
        key = frozenset(cycle)
        if key in seen:
            continue
        seen.add(key)
        order = [u for u, _ in cycle]
        spans = [g.edges[u, v]["span"] for u, v in cycle]
        first = min(range(len(spans)), key=lambda i: (spans[i].line, spans[i].col))
        path = " -> ".join(order[first:] + order[:first] + [order[first]])
        labels = tuple(Label(g.edges[u, v]["span"], f"`{v}` runs after `{u}`")
                       for i, (u, v) in enumerate(cycle) if i != first)
        u, v = cycle[first]
        yield Diagnostic("DH301", f"dependency cycle: {path}", spans[first], labels=labels,
                         help=f"`{v}` runs after `{u}`; remove one `after` of the cycle")


CHECKS = (cycles,)
