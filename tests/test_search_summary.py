"""What `check` and `plan` say of a search (dhflow/compiler/describe/search_summary.py): its
arguments, the defaults and where they come from, its space, the rules' roles and resources
over the space, and the upper bound of its budget's node-minutes."""
from __future__ import annotations

import json
import os
from pathlib import Path

from dhflow.compiler.api import compile_file, compile_source
from dhflow.compiler.describe import search_summary
from dhflow.compiler.describe.search_summary import AFTER, BEFORE, EACH, describe_search
from dhflow.compiler.describe.search_table import render_search, search_plan_json
from dhflow.compiler.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
POLYNOME2_SEARCH = ROOT / "examples" / "polynome2_search" / "polynome2_search.dhflow"

# Two objectives (nsga2), an initial design (`sample:` + `search:`), a `where`, a rule before
# the search, a fan-out over `seed` per evaluation whose resources depend on the point, and a
# gather after the search.
NSGA2 = """workflow pareto:
    objective: maximize, minimize

values seed: 1, 2

space:
    n: int(1, 4)
    lr: real(0.0001, 0.1, log)
    opt: choice("adam", "sgd")

sample: grid(levels=2)
search: nsga2(evals=40, seed=3, initial=6, max_failures=5) where n <= 3

rule prep:
    shell: "echo prep"
    nodes: 2
    wall_time: 5

rule train:
    foreach: seed * space
    after: prep
    shell: "echo train {n}"
    nodes: n
    ranks_per_node: 2
    wall_time: 10 * n

rule evaluate:
    foreach: space
    after: train
    shell: "echo A 1 B 2"
    wall_time: 3
    objective: stdout("A"), stdout("B")

rule summary:
    after: evaluate
    shell: "echo done"
    wall_time: 4

launch:
    scheduler: local
    nodes: 4
    wall_time: 60
    job_mode: mpi
"""


def _describe(text: str):
    r = compile_source(SourceFile.from_text(text, "/tmp/dhflow-test/s.dhflow"))
    assert r.ok, [d.message for d in r.diagnostics]
    return describe_search(r.spec, r.plan)


def test_polynome2_search_example():
    r = compile_file(str(POLYNOME2_SEARCH))
    s = describe_search(r.spec, r.plan)
    assert (s.workflow, s.method, s.evals, s.seed, s.initial) == ("polynome2_search", "tpe", 30, 7, 8)
    assert (s.parallel, s.parallel_from) == (2, search_summary.GIVEN)
    assert (s.max_failures, s.max_failures_given) == (30, False)  # not given: evals
    assert s.where is None and s.sample is None and s.design == ()
    assert [(p.name, p.kind, p.lo, p.hi, p.log) for p in s.space] == [
        (f"e{i}", "int", -10, 10, False) for i in range(10)]
    (rule,) = s.rules
    assert (rule.name, rule.role, rule.tasks, rule.nodes, rule.wall_time, rule.node_minutes, rule.varies) == (
        "evaluate", EACH, 1, (1, 1), (2, 2), 2, False)
    assert rule.objectives == (("maximize", 'stdout("DH-OUTPUT")'),)
    assert s.objective_rule == "evaluate" and s.directions == ("maximize",)
    # 1 node x 2 minutes per evaluation, 30 evaluations
    assert (s.node_minutes_per_evaluation, s.node_minutes, s.upper_bound) == (2, 60, False)


def test_two_objectives_design_roles_and_the_budget_bound():
    s = _describe(NSGA2)
    assert (s.method, s.evals, s.seed, s.initial, s.max_failures, s.max_failures_given) == (
        "nsga2", 40, 3, 6, 5, True)
    assert (s.parallel, s.parallel_from) == (4, search_summary.LAUNCH_NODES)  # not given: launch nodes
    assert s.where == "n <= 3" and s.sample == "grid(levels=2)"
    # grid(levels=2) of n, lr, opt: 8 points; `where` drops the 4 with n=4
    assert len(s.design) == 8 and s.design_kept == 4
    assert s.space[1].log and s.space[2].choices == ("adam", "sgd")
    roles = {r.name: r for r in s.rules}
    assert [(r.name, r.role) for r in s.rules] == [("prep", BEFORE), ("train", EACH), ("evaluate", EACH),
                                                   ("summary", AFTER)]
    train = roles["train"]
    # `where` keeps n in 1..3: nodes n, wall 10n; 2 tasks (one per seed) per evaluation
    assert (train.tasks, train.nodes, train.ranks_per_node, train.wall_time, train.varies) == (
        2, (1, 3), (2, 2), (10, 30), True)
    assert train.node_minutes == 2 * (3 * 30)
    assert roles["evaluate"].objectives == (("maximize", 'stdout("A")'), ("minimize", 'stdout("B")'))
    assert s.directions == ("maximize", "minimize")
    assert (s.node_minutes_per_evaluation, s.node_minutes_before, s.node_minutes_after) == (180 + 3, 2 * 5, 4)
    assert s.node_minutes == 183 * 40 + 10 + 4 and s.upper_bound


def test_resources_read_by_values_dimension_and_real_bounds():
    text = """workflow vd:
    objective: minimize

values scale: 1, 4

space:
    x: real(0.5, 3)
    k: int(1, 2)

search: tpe(evals=10)

rule train:
    foreach: scale * space
    shell: "true"
    nodes: scale * k
    wall_time: 1 + floor(x)

rule f:
    foreach: space
    after: train
    shell: "echo DH-OUTPUT 1"
    objective: stdout("DH-OUTPUT")

launch:
    nodes: 8
"""
    s = _describe(text)
    train = s.rules[0]
    # per scale, the largest task: scale 1 -> 2 nodes x 4 min, scale 4 -> 8 nodes x 4 min
    assert train.nodes == (1, 8) and train.wall_time == (1, 4)
    assert train.node_minutes == 2 * 4 + 8 * 4
    assert s.node_minutes == (40 + 1) * 10
    assert (s.parallel, s.max_failures) == (8, 10)


def test_parallel_without_launch_is_this_machines_cores_and_runtime_uses_the_same_rule():
    text = NSGA2.split("launch:")[0].replace("    nodes: 2\n", "").replace("    nodes: n\n", "")
    s = _describe(text)
    assert (s.parallel, s.parallel_from) == (max(1, os.cpu_count() or 1), search_summary.CORES)
    from dhflow.runtime import search_plan
    assert search_plan.default_parallel is search_summary.default_parallel  # one definition


def test_render_and_json():
    s = _describe(NSGA2)
    text = render_search(s)
    assert "parallel      4 (not given: the launch's nodes)" in text
    assert "8 point(s) of `sample: grid(levels=2)`, evaluated first (4 dropped by `where`)" in text
    assert "... and 3 more" in text  # 5 design points listed
    train = next(line for line in text.splitlines() if line.startswith("train"))
    assert train.split() == ["train", "each", "evaluation", "2", "1..3", "x", "2", "x", "1", "10..30m", "180",
                             "(at", "most)"]
    assert text.rstrip().endswith("= at most 7334 node-minutes")
    r = compile_source(SourceFile.from_text(NSGA2, "/tmp/dhflow-test/s.dhflow"))
    plan = json.loads("".join(search_plan_json(r.plan, s)))
    assert list(plan)[-2:] == ["search", "tasks"]
    assert plan["search"]["node_minutes"] == {"per_evaluation": 183, "before": 10, "after": 4, "total": 7334,
                                              "upper_bound": True}
    assert plan["search"]["rules"][1]["nodes"] == [1, 3] and plan["search"]["parallel_from"] == "launch.nodes"
    # the rest is the plan's own JSON
    assert {k: v for k, v in plan.items() if k != "search"} == json.loads(r.plan.to_json())
