"""A search and `values` dimensions: the objective rule cannot fan out over values (DH608:
each value's task would claim the trial, and only the first one's decided it); the work fans
out in one rule and a `foreach: space` rule after it combines it, which compiles (no point
yet: a gather over values of zero points) and plans one objective task per trial."""
from __future__ import annotations

from dhflow.balsam.searchstore import TrialRow
from dhflow.compiler.api import compile_source
from dhflow.compiler.source import SourceFile
from dhflow.runtime.experiment import load_search as load
from dhflow.runtime.search_plan import plan_of, trial_key

FAN = """workflow sv:
    objective: minimize

values dataset: "a", "b"

space:
    x: real(-5, 5)

search: random(evals=3, parallel=1, seed=3)

rule evaluate:
    foreach: dataset * space
    shell: "echo DH-OUTPUT {x}"
    objective: stdout("DH-OUTPUT")
"""

GATHER = """workflow sv:
    objective: minimize

values dataset: "a", "b"

space:
    x: real(-5, 5)

search: random(evals=3, parallel=1, seed=3)

rule train:
    foreach: dataset * space
    shell: "echo {dataset} {x} > score.txt"

rule score:
    foreach: space
    after: train
    inputs: "score.txt"
    shell: "cat score*.txt; echo DH-OUTPUT 1"
    objective: stdout("DH-OUTPUT")
"""


def test_objective_rule_over_values_is_refused_at_its_dimension():
    r = compile_source(SourceFile.from_text(FAN, "sv.dhflow"))
    assert not r.ok
    (d,) = [d for d in r.diagnostics if d.severity == "error"]
    assert d.code == "DH608" and (d.span.line, d.span.col) == (12, 14)
    assert r.source.text[d.span.start:d.span.end] == "dataset"
    assert "`evaluate`" in d.message and "one result" in d.message
    assert "`foreach: space`" in d.help and "`after:`" in d.help
    assert d.labels[0].span.line == 14  # the objective
    sweep = compile_source(SourceFile.from_text(FAN.replace("search:", "sample: random(count=2, seed=1)\n#"),
                                                "sv.dhflow"))
    assert sweep.ok  # outside a search, an objective per dataset is what a sweep wants


def test_fan_out_then_combine_compiles_and_plans_one_objective_task_per_trial(tmp_path):
    path = tmp_path / "sv.dhflow"
    path.write_text(GATHER)
    ctx = load(str(path))  # compiled with no point: this once raised ValueError (exit 4)
    assert ctx.objective_rule == "score" and ctx.foreach_rules == {"train", "score"}
    a, b = {"x": 0.5}, {"x": -1.5}
    rows = [TrialRow(0, a, trial_key(ctx, 0, a)), TrialRow(1, b, trial_key(ctx, 1, b))]
    tasks = {t["name"]: t for t in plan_of(ctx, rows)["tasks"]}
    assert sorted(tasks) == ["score.0", "score.1", "train.a.0", "train.a.1", "train.b.0", "train.b.1"]
    assert tasks["score.0"]["parents"] == ["train.a.0", "train.b.0"]
    assert tasks["score.1"]["parents"] == ["train.a.1", "train.b.1"]
    assert rows[0].job_key == tasks["score.0"]["key"] and tasks["score.0"]["trial"] == 0
