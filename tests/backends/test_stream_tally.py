"""The streaming reconciliation (StreamTally) says what reconcile() says, task by task."""
from __future__ import annotations

import pytest

from dhflow.reconcile.decision import Decision, ExistingJob, PartsMaker, StreamTally, plan_parts, reconcile

from ..helpers import compile_text

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


def jobs_of(plan, prefix="id"):
    parts = plan_parts(plan)
    return [ExistingJob(f"{prefix}-{t['name']}", t["name"], t["key"], "JOB_FINISHED", t["rule"], t["point"],
                        parts[t["name"]]) for t in plan["tasks"]]


def streamed(plan, existing, keep_new=False):
    head = {k: v for k, v in plan.items() if k != "tasks"}
    keys: dict = {}
    parts_of = PartsMaker(head, keys_by_name=keys)
    narrow = [ExistingJob(j.job_id, None, j.key, j.state) for j in existing]
    tally = StreamTally(plan["workflow"], narrow, keep_new=keep_new)
    kept = {}
    for t in plan["tasks"]:
        keys[t["name"]] = t["key"]
        job = tally.task(t, parts_of)
        if job is not None:
            kept[t["name"]] = job.job_id
    full = {j.job_id: j for j in existing}
    tally.finish([full[j.job_id] for j in tally.orphans()])
    return tally, kept


EDITS = {
    "unchanged": lambda s: s,
    "new points": lambda s: s.replace("choice(1, 2, 3)", "choice(1, 2, 3, 4)").replace("levels=3", "levels=4"),
    "fewer points": lambda s: s.replace("choice(1, 2, 3)", "choice(1, 2)").replace("levels=3", "levels=2"),
    "changed command": lambda s: s.replace('"train {x}"', '"train2 {x}"'),
    "changed resources": lambda s: s.replace("nodes: 1", "nodes: 2"),
    "rule removed": lambda s: s.replace('rule report:\n    after: train\n    shell: "report"\n', ""),
    "upstream": lambda s: s.replace('shell: "prep"', 'shell: "prep2"'),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_stream_tally_matches_reconcile(edit):
    old = plan_dict()
    existing = jobs_of(old)
    if edit == "upstream":  # and a job that is there twice
        existing.append(existing[0]._replace(job_id="dup-prep"))
    new = plan_dict(EDITS[edit](SPEC))
    rec = reconcile(new, existing)
    tally, kept = streamed(new, existing)
    assert tally.counts() == rec.counts()
    assert tally.reason_counts() == rec.reason_counts()
    assert tally.render() == rec.render()
    assert [(d.name, d.job_id, d.reasons) for d in tally.of("orphaned")] == \
        [(d.name, d.job_id, d.reasons) for d in rec.of("orphaned")]
    assert kept == {d.name: d.job_id for d in rec.decisions if d.status == "unchanged"}


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("fresh", [False, True])
def test_kept_new_decisions_are_reconciles(edit, fresh):
    """With keep_new (`plan --against-db` streamed) the listed decisions, new tasks then
    orphans in order, are those of the whole-plan reconciliation."""
    existing = [] if fresh else jobs_of(plan_dict())
    new = plan_dict(EDITS[edit](SPEC))
    rec = reconcile(new, existing)
    tally, _ = streamed(new, existing, keep_new=True)
    listed = [(d.name, d.rule, d.status, d.reasons, d.job_id) for d in tally.decisions]
    assert listed == [(d.name, d.rule, d.status, d.reasons, d.job_id) for d in rec.decisions if d.status != "unchanged"]
    assert tally.of("new") == rec.of("new") and tally.render() == rec.render()
    with pytest.raises(ValueError):
        tally.of("unchanged")


def test_stream_tally_of_a_fresh_workflow_keeps_no_per_task_state():
    new = plan_dict()
    tally, kept = streamed(new, [])
    assert kept == {} and tally.render() == reconcile(new, []).render()
    assert not tally._identities and not tally._pending


def test_streaming_fingerprints_equal_the_full_plans():
    plan = plan_dict(EDITS["new points"](SPEC))
    head = {k: v for k, v in plan.items() if k != "tasks"}
    keys: dict = {}
    parts_of = PartsMaker(head, keys_by_name=keys)
    full = plan_parts(plan)
    for t in plan["tasks"]:
        keys[t["name"]] = t["key"]
        assert parts_of(t) == full[t["name"]]


def test_all_unchanged_from_counts_is_the_reconciliation_of_an_unchanged_plan():
    from dhflow.cli.render import reconciliation_json
    from dhflow.reconcile.all_unchanged import AllUnchanged

    plan = plan_dict()
    rec = reconcile(plan, jobs_of(plan))
    counted = AllUnchanged("w", {"prep": 1, "train": 3, "report": 1})
    assert counted.render() == rec.render() and reconciliation_json(counted) == reconciliation_json(rec)
    assert counted.of("new") == [] and counted.of("orphaned") == []


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("fresh", [False, True])
def test_json_written_in_pieces_is_json_dumps_of_the_whole(edit, fresh):
    """`plan --against-db --format json` writes its tasks one at a time: the bytes are those
    of json.dumps(..., indent=2) of the whole object (no tasks, some, unicode names)."""
    import json

    from dhflow.cli.render import reconciliation_json, reconciliation_json_chunks

    existing = [] if fresh else jobs_of(plan_dict())
    new = plan_dict(EDITS[edit](SPEC))
    rec = reconcile(new, existing)
    rec.decisions[0].name = "pr\u00e9p \"quoted\"\n"
    rec.decisions.append(Decision("no reasons \\", "r", "new", ()))
    whole = json.dumps({"workflow": rec.workflow, "rules": rec.counts(), "reasons": rec.reason_counts(),
                        "tasks": [{"name": d.name, "rule": d.rule, "status": d.status, "reasons": list(d.reasons),
                                   "job_id": d.job_id} for d in rec.decisions if d.status != "unchanged"]}, indent=2)
    assert "".join(reconciliation_json_chunks(rec)) == whole == reconciliation_json(rec)
    tally, _ = streamed(new, existing, keep_new=True)
    assert reconciliation_json(tally) == reconciliation_json(reconcile(new, existing))
