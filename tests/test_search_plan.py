"""A search file as plans (pure): the fingerprint that says whether it is the same search,
the trials' tasks built as v1 builds them, and the order of results."""
from __future__ import annotations

from dhflow.balsam.searchstore import TrialRow
from dhflow.runtime.search import order_records
from dhflow.runtime.experiment import load_search as load
from dhflow.runtime.search_plan import check_point, plan_of, trial_key

TEXT = """workflow sp:
    objective: minimize
space:
    x: real(-5, 5)
    n: int(1, 8)
search: tpe(evals=EVALS, parallel=2, seed=1) where n <= 4
rule prepare:
    shell: "echo prep"
rule f:
    foreach: space
    after: prepare
    nodes: n
    shell: "echo DH-OUTPUT {x}"
    objective: stdout("DH-OUTPUT")
rule report:
    after: f
    shell: "echo done"
launch:
    scheduler: local
    nodes: 4
"""


def _ctx(tmp_path, text):
    path = tmp_path / "sp.dhflow"
    path.write_text(text)
    return load(str(path))


def test_fingerprint_ignores_evals_only(tmp_path):
    base = _ctx(tmp_path, TEXT.replace("EVALS", "6")).fingerprint
    assert _ctx(tmp_path, TEXT.replace("EVALS", "9")).fingerprint == base
    assert _ctx(tmp_path, TEXT.replace("EVALS", "6").replace("seed=1", "seed=2")).fingerprint != base
    assert _ctx(tmp_path, TEXT.replace("EVALS", "6").replace("echo DH-OUTPUT", "echo  DH-OUTPUT")).fingerprint != base
    assert _ctx(tmp_path, TEXT.replace("EVALS", "6").replace("real(-5, 5)", "real(-5, 6)")).fingerprint != base


def test_trial_tasks_roles_and_invalid_points(tmp_path):
    ctx = _ctx(tmp_path, TEXT.replace("EVALS", "6"))
    assert ctx.objective_rule == "f" and ctx.after_rules == {"report"} and ctx.foreach_rules == {"f"}
    a, b = {"x": 0.5, "n": 2}, {"x": 1.5, "n": 3}
    rows = [TrialRow(0, a, trial_key(ctx, 0, a)), TrialRow(1, b, trial_key(ctx, 1, b)),
            TrialRow(2, a, trial_key(ctx, 2, a)),  # the same point again: reuses trial 0's job
            TrialRow(3, {"x": 0.0, "n": 7}, None, "invalid")]
    assert rows[2].job_key == rows[0].job_key
    plan = plan_of(ctx, rows)
    assert [(t["name"], t.get("trial")) for t in plan["tasks"]] == [("prepare", None), ("f.0", 0), ("f.1", 1)]
    assert plan["tasks"][1]["parents"] == ["prepare"] and plan["tasks"][2]["num_nodes"] == 3
    last = plan_of(ctx, rows, with_after=True)
    assert last["tasks"][-1]["name"] == "report" and last["tasks"][-1]["parents"] == ["f.0", "f.1"]
    assert check_point(ctx, 4, {"x": 0.0, "n": 7}) and "launcher has 4" in check_point(ctx, 4, {"x": 0.0, "n": 7})
    assert check_point(ctx, 4, {"x": 0.0, "n": 4}) is None


def test_order_records_best_first_and_pareto_fronts():
    def rec(trial, obj, objs=None):
        return {"trial": trial, "objective": obj, "objectives": objs}

    one = order_records([rec(0, 3.0), rec(1, None), rec(2, 1.0)], ("minimize",))
    assert [r["trial"] for r in one] == [2, 0, 1]
    several = order_records([rec(0, 1.0, [1.0, 5.0]), rec(1, 2.0, [2.0, 6.0]), rec(2, 0.0, [0.0, 9.0])],
                            ("minimize", "minimize"))
    assert [(r["trial"], r["pareto_rank"]) for r in several] == [(2, 0), (0, 0), (1, 1)]


def test_a_point_read_back_in_another_key_order_keys_the_same_tasks(tmp_path):
    # jsonb gives {"n": .., "x": ..}: the trial must be keyed as when it was proposed
    ctx = _ctx(tmp_path, TEXT.replace("EVALS", "6"))
    proposed, read_back = {"x": 1.5, "n": 2}, {"n": 2, "x": 1.5}
    assert trial_key(ctx, 0, read_back) == trial_key(ctx, 0, proposed)
    keys = [t["key"] for t in plan_of(ctx, [TrialRow(0, read_back, "k")])["tasks"]]
    assert keys == [t["key"] for t in plan_of(ctx, [TrialRow(0, proposed, "k")])["tasks"]]
