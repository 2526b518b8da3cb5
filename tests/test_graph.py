from dhflow.compiler.plan import graph

from .helpers import compile_text

SPEC = """
workflow w:
space:
    x: choice(1, 2)
sample: grid(levels=2)
rule a:
    shell: "a"
rule b:
    foreach: space
    after: a
    shell: "b {x}"
rule c:
    after: b
    shell: "c"
"""


def plan():
    r = compile_text(SPEC)
    assert r.ok
    return r.plan


def test_task_graph_edges():
    g = graph.task_graph(plan())
    assert sorted(g.edges) == [("a", "b.0"), ("a", "b.1"), ("b.0", "c"), ("b.1", "c")]
    assert graph.is_topological(plan())


def test_rule_graph_counts():
    g = graph.rule_graph(plan())
    assert list(g.edges) == [("a", "b"), ("b", "c")] and g.nodes["b"]["tasks"] == 2


def test_dot_and_mermaid_text():
    p = plan()
    dot = graph.to_dot(graph.task_graph(p), p.workflow)
    assert dot.startswith('digraph "w" {') and '"a" -> "b.0";' in dot and dot.rstrip().endswith("}")
    mm = graph.to_mermaid(graph.rule_graph(p), rules=True)
    assert mm.splitlines()[0] == "flowchart LR" and 'n1["b (2 tasks)"]' in mm and "n0 --> n1" in mm
