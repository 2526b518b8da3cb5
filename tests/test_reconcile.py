"""Reconciliation of a plan with a workflow's existing jobs (pure: no database)."""
from __future__ import annotations

from dhflow.reconcile.decision import ExistingJob, plan_parts, reconcile

from .helpers import compile_text

SPEC = """
workflow w:
space:
    x: choice(1, 2, 3)
sample: grid(levels=3)
rule prep:
    shell: "prep"
rule train:
    foreach: space
    after: prep
    shell: "train {x}"
    nodes: 1
rule report:
    after: train
    shell: "report"
"""


def plan_dict(text=SPEC):
    r = compile_text(text)
    assert r.ok, [d.message for d in r.diagnostics]
    return r.plan.to_dict()


def jobs_of(plan, state="JOB_FINISHED", states=None):
    parts = plan_parts(plan)
    return [ExistingJob(f"id-{t['name']}", t["name"], t["key"], (states or {}).get(t["name"], state), t["rule"],
                        t["point"], parts[t["name"]]) for t in plan["tasks"]]


def statuses(rec):
    """Plan tasks' decisions by name (orphans may share a name with a new task)."""
    return {d.name: (d.status, d.reasons) for d in rec.decisions if d.status != "orphaned"}


def test_unchanged_file_changes_nothing():
    p = plan_dict()
    rec = reconcile(p, jobs_of(p))
    assert {d.status for d in rec.decisions} == {"unchanged"}
    assert rec.counts()["train"]["unchanged"] == 3


def test_new_points_are_new_and_gather_reruns():
    old = plan_dict()
    new = plan_dict(SPEC.replace("choice(1, 2, 3)", "choice(1, 2, 3, 4)").replace("levels=3", "levels=4"))
    s = statuses(reconcile(new, jobs_of(old)))
    assert s["train.3"] == ("new", ("new point",))
    assert s["train.0"][0] == "unchanged" and s["prep"][0] == "unchanged"
    assert s["report"] == ("new", ("upstream changed",))
    rec = reconcile(new, jobs_of(old))
    assert [(d.name, d.reasons) for d in rec.of("orphaned")] == [("report", ("definition changed",))]


def test_changed_command_renews_the_rule_and_downstream():
    old = plan_dict()
    new = plan_dict(SPEC.replace('"train {x}"', '"train2 {x}"'))
    rec = reconcile(new, jobs_of(old))
    s = statuses(rec)
    assert all(s[f"train.{i}"] == ("new", ("changed command",)) for i in range(3))
    assert s["report"] == ("new", ("upstream changed",))
    assert s["prep"][0] == "unchanged"
    assert rec.counts()["train"]["orphaned"] == 3


def test_changed_resources_reason():
    old = plan_dict()
    new = plan_dict(SPEC.replace("nodes: 1", "nodes: 1\n    wall_time: 5"))
    assert statuses(reconcile(new, jobs_of(old)))["train.1"] == ("new", ("changed resources",))


def test_removed_points_are_orphans():
    old = plan_dict()
    new = plan_dict(SPEC.replace("grid(levels=3)", "grid(levels=3) where x < 3"))
    rec = reconcile(new, jobs_of(old))
    assert [(d.name, d.reasons) for d in rec.of("orphaned") if d.rule == "train"] == [("train.2", ("point removed",))]


def test_rerun_failed_takes_dependants():
    p = plan_dict()
    rec = reconcile(p, jobs_of(p, states={"train.1": "FAILED", "report": "FAILED"}), rerun="failed")
    s = statuses(rec)
    assert s["train.1"] == ("rerun", ("failed",))
    assert s["report"][0] == "rerun"
    assert s["train.0"][0] == "unchanged" and s["prep"][0] == "unchanged"


def test_rerun_all():
    p = plan_dict()
    rec = reconcile(p, jobs_of(p), rerun="all")
    assert {d.status for d in rec.decisions} == {"rerun"}


def test_render_lists_rules_and_reasons():
    old = plan_dict()
    new = plan_dict(SPEC.replace('"train {x}"', '"train2 {x}"'))
    text = reconcile(new, jobs_of(old)).render()
    assert "train" in text and "changed command (3)" in text and text.splitlines()[-1].startswith("total")


def test_memoised_parts_equal_task_parts():
    from dhflow.reconcile.decision import PartsMaker, task_parts

    p = plan_dict(SPEC.replace("nodes: 1", "nodes: 1\n    env:\n        A: \"{x}\""))
    keys = {t["name"]: t["key"] for t in p["tasks"]}
    apps = {a["name"]: a for a in p["apps"]}
    make = PartsMaker(p)
    for t in p["tasks"]:
        assert make(t) == task_parts(t, keys, apps)


def test_kept_jobs_need_no_point_or_parts():
    p = plan_dict()
    bare = [ExistingJob(f"id-{t['name']}", t["name"], t["key"], "JOB_FINISHED") for t in p["tasks"]]
    rec = reconcile(p, bare)
    assert {d.status for d in rec.decisions} == {"unchanged"}
    assert {d.job_id for d in rec.decisions} == {f"id-{t['name']}" for t in p["tasks"]}
