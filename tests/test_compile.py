"""LANGUAGE.md rules, end to end through the pure compiler (no database)."""
from __future__ import annotations

import json
import shlex

from dhflow.compiler.plan.graph import is_topological
from dhflow.compiler.plan.model import Plan

from .helpers import codes, compile_text

DAG = """
workflow w:
    objective: minimize
space:
    bs: choice(32, 256)
    lr: real(0.1, 0.2)
sample: grid(levels=2)
app run:
    executable: "python3 {here}/m.py"
    args: "{point:json}"
    env:
        A: "app"
        B: "app"
rule prep:
    shell: "make data > log.txt 2>&1"
rule train:
    foreach: space
    after: prep
    app: run
    nodes: ceil(bs / 128)
    ranks_per_node: 4 if bs >= 128 else 1
    threads_per_rank: 64 // ranks_per_node
    wall_time: 30
    env:
        B: "rule-{index}"
    objective: file("metrics.json", "loss")
rule evaluate:
    foreach: space
    after: train
    shell: "eval {task} {lr:quote}"
rule report:
    after: evaluate
    shell: "summarize"
launch:
    nodes: 4
"""


def plan_of(text: str, **kw) -> Plan:
    r = compile_text(text, **kw)
    assert r.ok, [(d.code, d.message) for d in r.diagnostics]
    return r.plan


def test_dependencies_scatter_one_to_one_gather():
    plan = plan_of(DAG)
    by = {t.name: t for t in plan.tasks}
    assert [t.name for t in plan.tasks][:1] == ["prep"]
    assert by["train.0"].parents == ("prep",)  # scatter
    assert by["evaluate.3"].parents == ("train.3",)  # one to one, by point
    assert by["report"].parents == tuple(f"evaluate.{i}" for i in range(4))  # gather
    assert is_topological(plan)


def test_single_to_single_is_one_to_one():
    plan = plan_of("""
    workflow w:
    rule a:
        shell: "x"
    rule b:
        after: a
        shell: "y"
    """)
    assert plan.tasks[1].parents == ("a",)


def test_resources_follow_the_point_and_earlier_keys():
    plan = plan_of(DAG)
    t = {x.name: x for x in plan.tasks}
    assert (t["train.0"].num_nodes, t["train.0"].ranks_per_node, t["train.0"].threads_per_rank) == (1, 1, 64)
    assert (t["train.2"].num_nodes, t["train.2"].ranks_per_node, t["train.2"].threads_per_rank) == (2, 4, 16)
    assert t["train.2"].wall_time_minutes == 30
    assert t["prep"].num_nodes == 1 and t["prep"].wall_time_minutes == 1  # defaults
    assert t["prep"].cpu_affinity == "none" and t["prep"].auto_timeout_retry is True


def test_shell_rule_makes_its_own_app_and_quotes_once():
    plan = plan_of(DAG)
    apps = {a.name: a for a in plan.apps}
    assert apps["w.prep"].executable == "/bin/sh -c"
    prep = plan.tasks[0]
    assert prep.app == "w.prep"
    assert shlex.split(prep.args) == ["make data > log.txt 2>&1"]
    ev = next(t for t in plan.tasks if t.name == "evaluate.0")
    assert shlex.split(ev.args) == ["eval evaluate.0 0.1"]


def test_env_merges_rule_over_app_and_renders():
    plan = plan_of(DAG)
    t = next(t for t in plan.tasks if t.name == "train.1")
    assert t.environ_vars == {"A": "app", "B": "rule-1"}


def test_args_are_point_json_one_argument():
    plan = plan_of(DAG)
    t = next(t for t in plan.tasks if t.name == "train.3")
    words = shlex.split(t.args)
    assert len(words) == 1 and json.loads(words[0]) == t.point == {"bs": 256, "lr": 0.2}


def test_objective_sources():
    plan = plan_of(DAG)
    t = next(t for t in plan.tasks if t.name == "train.0")
    assert t.objective == {"source": "file", "path": "metrics.json", "key": "loss"}
    assert plan.objective == "minimize"


def test_here_is_the_file_directory():
    plan = plan_of(DAG, path="/some/where/x.dhflow")
    assert plan.apps[0].executable == "python3 /some/where/m.py"


def test_keys_ignore_formatting_and_comments_but_not_definitions():
    base = plan_of(DAG)
    reformatted = DAG.replace("    nodes: ceil(bs / 128)", "    # a comment\n    nodes:    ceil( bs/128 )")
    assert [t.key for t in plan_of(reformatted).tasks] == [t.key for t in base.tasks]
    changed = plan_of(DAG.replace("make data", "make data2"))
    old, new = {t.name: t.key for t in base.tasks}, {t.name: t.key for t in changed.tasks}
    assert all(old[n] != new[n] for n in old)  # prep changed, and every task downstream of it
    moved = plan_of(DAG, path="/elsewhere/x.dhflow")
    assert [t.key for t in moved.tasks] == [t.key for t in base.tasks]  # {here} is not part of a key
    rs = plan_of(DAG.replace("wall_time: 30", "wall_time: 31"))
    assert {t.name: t.key for t in rs.tasks}["prep"] == old["prep"]
    assert {t.name: t.key for t in rs.tasks}["train.0"] != old["train.0"]


def test_plan_json_round_trip_and_stability():
    plan = plan_of(DAG)
    text = plan.to_json()
    assert Plan.from_json(text) == plan
    assert Plan.from_json(text).to_json() == text
    assert plan_of(DAG).to_json() == text


def test_plan_json_has_the_contract_fields():
    d = json.loads(plan_of(DAG).to_json())
    assert {"workflow", "objective", "apps", "launch", "tasks"} <= set(d)
    assert set(d["apps"][0]) == {"name", "executable", "envscript", "preprocess", "postprocess", "description"}
    assert list(d["tasks"][1]) == ["name", "rule", "index", "point", "app", "args", "num_nodes", "ranks_per_node",
                                   "threads_per_rank", "threads_per_core", "node_packing_count", "cpu_affinity",
                                   "wall_time_minutes", "auto_timeout_retry", "environ_vars", "parents",
                                   "objective", "key"]


def test_all_constant_space_needs_no_sampler():
    plan = plan_of("""
    workflow w:
    space:
        epochs: 20
    rule t:
        foreach: space
        shell: "train {epochs}"
    """)
    assert [t.point for t in plan.tasks] == [{"epochs": 20}]


def test_order_of_blocks_does_not_matter():
    text = """
    rule t:
        shell: "x"
    workflow w:
    """
    assert plan_of(text).workflow == "w"


def test_all_semantic_errors_in_one_run():
    r = compile_text("""
    workflow w:
        objective: maxi
    space:
        lr: real(1, 0)
    rule a:
        app: nope
        after: ghost
    rule a:
        shell: "x"
    """)
    assert {"DH206", "DH201", "DH102", "DH103", "DH101"} <= set(codes(r))


def test_resource_referring_to_a_key_below_is_an_error():
    r = compile_text("""
    workflow w:
    rule a:
        shell: "x"
        threads_per_rank: 64 // ranks_per_node
        ranks_per_node: 4
    """)
    assert codes(r) == ["DH104"]
    assert "defined below" in r.diagnostics[0].message


def test_app_executable_takes_only_static_names():
    r = compile_text("""
    workflow w:
    space:
        lr: real(0.1, 0.2)
    sample: grid(levels=2)
    app a:
        executable: "run {lr}"
    rule t:
        foreach: space
        app: a
    """)
    assert codes(r) == ["DH106"]


def test_warnings_do_not_fail_the_compile():
    r = compile_text("""
    workflow w:
    rule a:
        shell: "x"
        wall_time: 90
    launch:
        wall_time: 60
    """)
    assert r.ok and codes(r) == ["DH406"]


def test_fast_task_line_equals_json_dumps():
    from dhflow.compiler.plan.model import task_json
    plan = plan_of(DAG.replace('"rule-{index}"', '"ré gle {index}"'))
    for t in plan.tasks:
        assert task_json(t) == json.dumps(t.to_dict(), ensure_ascii=False, separators=(", ", ": "))


def test_the_language_reference_example_compiles_as_described():
    """The complete example of LANGUAGE.md, verbatim (tests/fixtures/language_example.dhflow)."""
    from pathlib import Path

    from dhflow.compiler.api import compile_file
    r = compile_file(str(Path(__file__).parent / "fixtures" / "language_example.dhflow"))
    assert r.ok, [d.message for d in r.diagnostics]
    plan = r.plan
    assert plan.workflow == "polynome2" and plan.objective == "maximize"
    assert [t.name for t in plan.tasks][0] == "prepare" and plan.tasks[-1].name == "report"
    train = [t for t in plan.tasks if t.rule == "train"]
    assert len(train) == 20 and [t.index for t in train] == list(range(20))
    for t in train:
        bs = t.point["batch_size"]
        assert t.num_nodes == -(-bs // 128)
        assert t.ranks_per_node == (4 if bs >= 128 else 1)
        assert t.threads_per_rank == 64 // t.ranks_per_node
        assert t.wall_time_minutes == 30 and t.parents == ("prepare",)
        assert t.environ_vars == {"KERAS_BACKEND": "tensorflow"}
        assert t.objective == {"source": "stdout", "marker": "DH-OUTPUT"}
        assert 1e-4 <= t.point["lr"] <= 1e-1 and 1 <= t.point["units"] <= 100
        assert list(t.point) == ["units", "activation", "lr", "batch_size", "epochs"]
    assert plan.tasks[-1].parents == tuple(t.name for t in train)
    assert plan.launch == {"scheduler": "cobalt", "project": "datascience", "queue": "debug-cache-quad",
                           "nodes": 4, "wall_time": 60, "job_mode": "mpi", "sched_flags": None}


def test_streaming_compile_yields_the_same_tasks(tmp_path):
    from dhflow.compiler.api import compile_file, compile_file_streaming
    f = tmp_path / "x.dhflow"
    f.write_text(DAG)
    s = compile_file_streaming(str(f))
    assert s.ok and list(s.tasks) == compile_file(str(f)).plan.to_dict()["tasks"]


def test_streaming_compile_stops_at_the_first_expansion_error(tmp_path):
    import pytest

    from dhflow.compiler.api import compile_file_streaming
    from dhflow.compiler.diagnostics import DiagnosticError
    f = tmp_path / "x.dhflow"
    f.write_text(DAG.replace("ceil(bs / 128)", "bs // 128"))
    s = compile_file_streaming(str(f))
    with pytest.raises(DiagnosticError) as exc:
        list(s.tasks)
    assert exc.value.diagnostics[0].code == "DH404"


def test_input_digest_tracks_text_directory_and_points_file(tmp_path):
    from dhflow.compiler.api import compile_file, input_digest
    spec = ("workflow w:\nspace:\n    a: int(0, 9)\nsample: points(\"p.csv\")\n"
            "rule t:\n    foreach: space\n    shell: \"x {a}\"\n")
    (tmp_path / "p.csv").write_text("a\n1\n")
    f = tmp_path / "x.dhflow"
    f.write_text(spec)
    d1 = input_digest(compile_file(str(f)).spec)
    assert input_digest(compile_file(str(f)).spec) == d1
    (tmp_path / "p.csv").write_text("a\n2\n")
    d2 = input_digest(compile_file(str(f)).spec)
    f.write_text(spec + "# a comment\n")
    d3 = input_digest(compile_file(str(f)).spec)
    assert len({d1, d2, d3}) == 3
