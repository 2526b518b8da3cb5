"""v2 fan-out: `values` dimensions, `foreach` products, `after` on shared dimensions, files
between rules, and code fingerprints (compiler, reconcile and rows; no database)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dhflow.compiler.api import compile_file
from dhflow.compiler.plan import graph
from dhflow.compiler.plan.model import Plan
from dhflow.reconcile.code import CodeChanged
from dhflow.reconcile.decision import ExistingJob, PartsMaker, StreamTally, plan_parts, reconcile

from .helpers import codes, compile_text

SHAPES = Path(__file__).parent / "fanout" / "shapes.dhflow"
GOLDEN = Path(__file__).parent / "fanout" / "golden"


def _plan(path=SHAPES) -> Plan:
    r = compile_file(str(path))
    assert r.ok, [d.message for d in r.diagnostics]
    return r.plan


def _parents(plan: Plan) -> dict[str, list[str]]:
    return {t.name: list(t.parents) for t in plan.tasks}


def test_golden_shapes(update_goldens):
    plan = _plan()
    here = plan.source["here"]
    outputs = {"plan.json": plan.to_json().replace(json.dumps(here)[1:-1], "{here}"),
               "rules.mmd": graph.to_mermaid(graph.rule_graph(plan), rules=True)}
    for name, text in outputs.items():
        target = GOLDEN / name
        if update_goldens:
            GOLDEN.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        assert target.read_text() == text, f"{target} differs; if intended, run pytest --update-goldens"


def test_product_order_names_and_values():
    plan = _plan()
    train = [t for t in plan.tasks if t.rule == "train"]
    # the order written, the last dimension varying fastest; names carry every coordinate
    assert [t.name for t in train] == [f"train.{d}.{s}.{i}" for d in "ab" for s in (1, 2) for i in (0, 1)]
    assert train[5].values == {"dataset": "b", "seed": 1} and train[5].index == 1
    assert train[5].point == {"lr": 0.2} and train[5].num_nodes == 2  # `{dataset}` in an expression
    assert train[0].args == "'train a 1 0.1'" and train[0].input_files == "a.csv"
    assert len({t.name for t in plan.tasks}) == len(plan.tasks)


def test_after_matches_shared_dimensions():
    p = _parents(_plan())
    assert p["train.b.2.1"] == ["prepare.b"]                                   # one to one (dataset)
    assert p["summarize.a"] == ["train.a.1.0", "train.a.1.1", "train.a.2.0", "train.a.2.1"]  # gather
    assert p["per_point.1"] == ["train.a.1.1", "train.a.2.1", "train.b.1.1", "train.b.2.1"]  # on space
    assert p["train_b.2"] == ["setup", "summarize.a", "summarize.b"]            # scatter + gather
    assert p["report"] == ["per_point.0", "per_point.1", "train_b.1", "train_b.2"]


def test_files_and_stage_fields():
    plan = _plan()
    s = next(t for t in plan.tasks if t.name == "summarize.b")
    assert (s.stage_out_files, s.stage_out_url) == ("summary.json *.log", "file:///tmp/out/b")
    b = next(t for t in plan.tasks if t.name == "train_b.2")
    assert b.stage_in_url == "file:///data/seed2" and b.input_files == ""
    again = Plan.from_json(plan.to_json())
    assert again.to_json() == plan.to_json() and again.tasks[2].values == {"dataset": "a", "seed": 1}


def test_rows_carry_the_file_columns_and_values():
    from dhflow.balsam.rows import dry_run_rows  # pure: the COPY text decoded, no database

    rows = {r["name"]: r for r in dry_run_rows(_plan().to_dict())}
    assert rows["train.a.2.0"]["input_files"] == "a.csv"
    assert rows["summarize.a"]["stage_out_files"] == "summary.json *.log"
    # the plan keeps the file's `file:///...`; the row holds the path Balsam's transfer takes
    planned = {t["name"]: t for t in _plan().to_dict()["tasks"]}
    assert planned["summarize.a"]["stage_out_url"] == "file:///tmp/out/a"
    assert rows["summarize.a"]["stage_out_url"] == "/tmp/out/a"
    assert rows["train_b.1"]["stage_in_url"] == "/data/seed1"
    assert rows["prepare.a"]["input_files"] == "" and rows["train.a.2.0"]["data"]["dhflow_values"] == \
        {"dataset": "a", "seed": 2}
    assert "dhflow_values" not in rows["setup"]["data"]


V1 = """
workflow w:
space:
    x: choice(1, 2)
sample: grid(levels=2)
rule a:
    foreach: space
    shell: "a {x}"
rule b:
    foreach: space
    after: a
    shell: "b {x}"
"""


def test_space_only_is_exactly_v1():
    """`foreach: space` written as a one-factor product gives the same plan, byte for byte."""
    plain = compile_text(V1).plan
    assert [t.name for t in plain.tasks] == ["a.0", "a.1", "b.0", "b.1"]
    assert _parents(plain)["b.1"] == ["a.1"]
    assert all(t.values is None and "values" not in t.to_dict() for t in plain.tasks)
    with_values = compile_text(V1 + 'values unused: "u"\n').plan
    assert with_values.to_json() == plain.to_json().replace(
        json.dumps(plain.source["sha256"]), json.dumps(with_values.source["sha256"]))


@pytest.mark.parametrize("text,code", [
    ('values d: "a"\nrule r:\n    foreach: e\n    shell: "x"\n', "DH110"),
    ('values d: "a"\nrule r:\n    foreach: d * d\n    shell: "x"\n', "DH111"),
    ('values d: "a"\nrule r:\n    shell: "x {d}"\n', "DH112"),
    ('values d: "a"\nrule r:\n    nodes: 2 if d == "a" else 1\n    shell: "x"\n', "DH112"),
    ('values index: 1\nrule r:\n    shell: "x"\n', "DH113"),
    ('values d:\nrule r:\n    shell: "x"\n', "DH212"),
    ('values d: "a", "a"\nrule r:\n    shell: "x"\n', "DH101"),
    ('values d: "a", x\nrule r:\n    shell: "x"\n', "DH203"),
    ('values d: "a"\nrule r:\n    foreach: d + space\n    shell: "x"\n', "DH206"),
    ('rule r:\n    stage_out: "a"\n    shell: "x"\n', "DH206"),
    ('rule r:\n    inputs: "a b"\n    shell: "x"\n', "DH206"),
])
def test_bad_fanout_input(text, code):
    r = compile_text("workflow w:\n" + text)
    assert code in codes(r), [(d.code, d.message) for d in r.diagnostics]
    assert not r.ok


# ---------------------------------------------------------------- code fingerprints
CODE = """
workflow c:
values d: "x", "y"
rule prep:
    foreach: d
    shell: "python3 {here}/prep.py {d}"
rule fit:
    foreach: d
    after: prep
    shell: "python3 {here}/fit.py {d}"
rule report:
    after: fit
    shell: "echo done"
"""


def _code_plan(tmp_path: Path) -> dict:
    for name in ("prep.py", "fit.py"):
        if not (tmp_path / name).exists():
            (tmp_path / name).write_text(f"# {name}\n")
    r = compile_text(CODE, str(tmp_path / "c.dhflow"))
    assert r.ok, [d.message for d in r.diagnostics]
    return r.plan.to_dict()


def _jobs(plan: dict, *, record_code: bool = True) -> list[ExistingJob]:
    parts = plan_parts(plan)
    out = []
    for t in plan["tasks"]:
        code = {k: v for k, v in parts[t["name"]].items() if k.startswith("code:")} if record_code else None
        out.append(ExistingJob(f"id-{t['name']}", t["name"], t["key"], "JOB_FINISHED", t["rule"], t["point"],
                               parts[t["name"]], t.get("values"), code or None))
    return out


def test_code_is_a_fingerprint_part_not_the_key(tmp_path):
    plan = _code_plan(tmp_path)
    parts = plan_parts(plan)
    assert set(k for k in parts["fit.x"] if k.startswith("code:")) == {"code:fit.py"}
    assert not any(k.startswith("code:") for k in parts["report"])
    (tmp_path / "fit.py").write_text("# edited\n")
    assert _code_plan(tmp_path)["tasks"] == plan["tasks"]  # keys (and the plan) do not change
    maker = PartsMaker(plan)
    assert json.loads(maker.json(plan["tasks"][2])) == maker(plan["tasks"][2])


def test_edited_code_reruns_its_tasks_and_dependants(tmp_path):
    plan = _code_plan(tmp_path)
    jobs = _jobs(plan)
    (tmp_path / "fit.py").write_text("# edited\n")
    rec = reconcile(_code_plan(tmp_path), jobs)
    got = {d.name: (d.status, d.reasons) for d in rec.decisions}
    assert got["prep.x"] == ("unchanged", ()) and got["prep.y"] == ("unchanged", ())
    assert got["fit.x"] == ("rerun", ("code changed: fit.py",)) == got["fit.y"]
    assert got["report"] == ("rerun", ("upstream code changed",))
    assert "code changed: fit.py (2)" in rec.render()


def test_jobs_that_recorded_no_code_are_kept(tmp_path):
    """Jobs written before dhflow recorded code: upgrading dhflow alone reruns nothing."""
    plan = _code_plan(tmp_path)
    jobs = _jobs(plan, record_code=False)
    (tmp_path / "fit.py").write_text("# edited\n")
    rec = reconcile(_code_plan(tmp_path), jobs)
    assert {d.status for d in rec.decisions} == {"unchanged"}


def test_streaming_write_hands_code_changes_to_the_rerun_path(tmp_path):
    plan = _code_plan(tmp_path)
    jobs = _jobs(plan)
    (tmp_path / "prep.py").write_text("# edited\n")
    tally = StreamTally("c", jobs)
    maker = PartsMaker(plan)
    with pytest.raises(CodeChanged):
        for t in plan["tasks"]:
            tally.task(t, maker)


def test_dataset_removed_is_an_orphan_added_is_new(tmp_path):
    plan = _code_plan(tmp_path)
    jobs = _jobs(plan)
    text = CODE.replace('values d: "x", "y"', 'values d: "x", "z"')
    new = compile_text(text, str(tmp_path / "c.dhflow")).plan.to_dict()
    rec = reconcile(new, jobs)
    got = {(d.name, d.status): d.reasons for d in rec.decisions}
    assert got[("prep.z", "new")] == ("new task",) and got[("prep.x", "unchanged")] == ()
    assert got[("prep.y", "orphaned")] == ("point removed",)


def test_only_code_is_fingerprinted(tmp_path):
    """Data and markers a task writes under {here} are not code: they never rerun anything."""
    (tmp_path / "marker").write_text("")
    (tmp_path / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "tool").chmod(0o755)
    text = ('workflow m:\nrule r:\n    shell: "test -e {here}/marker; {here}/tool {here}/data.csv '
            '{here}/absent.py"\n')
    plan = compile_text(text, str(tmp_path / "m.dhflow")).plan.to_dict()
    assert sorted(k for k in plan_parts(plan)["r"] if k.startswith("code:")) == ["code:tool"]
