"""Resubmission with the real Balsam launcher (tiny DAGs): `--rerun failed` resets a failed
job and its dependants and Balsam runs them again; a new task whose parent finished long ago
becomes runnable (Balsam's check_parents: CREATED -> READY when every parent is
JOB_FINISHED); results survive an edit; a rerun never reports the previous objective.

Each test has a project and a workflow of its own and brings it to the state it needs with
real runs, asserting that they did: a broken setup fails the test."""
from __future__ import annotations

import json
import os

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

# train.1 fails the first time (it leaves a marker file) and succeeds the second time
FLAKY = """
workflow @WF@:
    objective: maximize
space:
    x: int(1, @HI@)
sample: grid(levels=10)
rule prep:
    shell: "echo prep"
rule train:
    foreach: space
    after: prep
    shell: "test {x} != 2 || test -e {here}/marker || {{ touch {here}/marker; exit 3; }}; echo DH-OUTPUT: {x}"
    objective: stdout("DH-OUTPUT")
rule score:
    foreach: space
    after: prep
    shell: "dhflow emit objective {x}"
    objective: data("dh_objective")
rule report:
    after: train
    shell: "echo report"
"""


def flaky(hi: int, workflow: str) -> str:
    return FLAKY.replace("@HI@", str(hi)).replace("@WF@", workflow)


def new_project(balsam_db, e2e_root, workflow: str, hi: int) -> dict:
    """A project of its own: workflow WORKFLOW of FLAKY with x in 1..hi, nothing run yet."""
    db_path, env = balsam_db
    spec = make_project(e2e_root, workflow, flaky(hi, workflow))
    return {"spec": spec, "db": db_path, "env": env, "wf": workflow}


def run_to_completion(p) -> None:
    """Run the workflow with train.1 already healed (its marker exists): every task finishes."""
    (p["spec"].parent / "marker").touch()
    proc = run_dhflow(["run", p["spec"], "--timeout", "240"], p["env"], timeout=400)
    assert proc.returncode == 0, proc.stderr
    assert {v[1] for v in jobs(p).values()} == {"JOB_FINISHED"}


def jobs(p) -> dict:
    """job id -> (name, state, state_history, data) of the project's workflow."""
    out = {}
    for jid, name, state, hist, data in db_query(
            p["db"], "SELECT job_id::text, name, state, state_history, data FROM core_balsamjob "
                     "WHERE workflow = %s", (p["wf"],)):
        out[jid] = (name, state, hist, data if isinstance(data, dict) else json.loads(data))
    return out


def by_name(js: dict) -> dict:
    return {name: (jid, state, hist, data) for jid, (name, state, hist, data) in js.items()}


def results(p) -> dict:
    proc = run_dhflow(["results", p["spec"], "--format", "json"], p["env"])
    assert proc.returncode == 0, proc.stderr
    return {r["name"]: r for r in json.loads(proc.stdout)}


def workdir(p, name, job_id) -> str:
    return os.path.join(p["db"], "data", p["wf"], f"{name}_{job_id[:8]}")


def test_rerun_failed_resets_the_failed_job_and_its_dependants(balsam_db, e2e_root):
    p = new_project(balsam_db, e2e_root, "rsflaky", 2)
    first = run_dhflow(["run", p["spec"], "--timeout", "240"], p["env"], timeout=400)
    assert first.returncode == 5, first.stderr                 # finished, with failed tasks
    assert "task train.1 FAILED" in first.stderr and "--rerun failed" in first.stderr
    before = by_name(jobs(p))
    assert before["train.1"][1] == "FAILED" and before["report"][1] == "FAILED"
    assert before["train.0"][1] == "JOB_FINISHED"
    old_out = os.path.join(workdir(p, "train.1", before["train.1"][0]), "train.1.out")
    assert os.path.exists(old_out)

    again = run_dhflow(["run", p["spec"], "--timeout", "240", "--rerun", "failed"], p["env"], timeout=400)
    assert again.returncode == 0, again.stderr
    assert "0 new jobs written, 4 unchanged, 2 reset to run again" in again.stderr
    after = by_name(jobs(p))
    assert set(after) == set(before)
    assert {n: v[0] for n, v in after.items()} == {n: v[0] for n, v in before.items()}   # same jobs
    assert {n: v[1] for n, v in after.items()} == {n: "JOB_FINISHED" for n in after}
    # exactly the failed job and its dependant were reset; the others were not touched
    for name in ("prep", "train.0", "score.0", "score.1"):
        assert after[name][2] == before[name][2]
    for name in ("train.1", "report"):
        hist = after[name][2]
        assert "reset to run again (--rerun failed)" in hist
        assert hist.index("FAILED") < hist.index("reset to run again") < hist.rindex("JOB_FINISHED")
        assert after[name][3]["dhflow_rerun"]["previous_state"] == "FAILED"
    assert results(p)["train.1"]["objective"] == 2
    # the failed run's output was moved aside, not mixed with the new one
    sub = after["train.1"][3]["dhflow_rerun"]["submission"]
    aside = os.path.join(p["db"], "data", p["wf"], ".dhflow-rerun", str(sub),
                         f"train.1_{before['train.1'][0][:8]}", "train.1.out")
    assert os.path.exists(aside) and "DH-OUTPUT" not in open(aside).read()
    hist = run_dhflow(["history", p["spec"], "--format", "json"], p["env"])
    subs = json.loads(hist.stdout)
    assert [(s["command"], s["added"], s["kept"], s["rerun"]) for s in subs][:2] == \
        [("run", 0, 4, 2), ("run", 6, 0, 0)]


def test_new_task_under_a_finished_parent_runs_and_results_survive(balsam_db, e2e_root):
    p = new_project(balsam_db, e2e_root, "flakyparent", 2)
    run_to_completion(p)                                        # the first version, finished
    state = by_name(jobs(p))
    prep_id, prep_state, prep_hist, _ = state["prep"]
    assert prep_state == "JOB_FINISHED"
    p["spec"].write_text(flaky(3, p["wf"]))
    sub = run_dhflow(["submit", p["spec"], "--no-launch", "--scheduler", "local"], p["env"])
    assert sub.returncode == 0, sub.stderr
    assert "3 new jobs written, 5 unchanged" in sub.stderr        # train.2, score.2, report
    # results after the edit: the kept tasks' objectives next to the new tasks' states
    res = results(p)
    assert res["train.0"]["objective"] == 1 and res["train.1"]["objective"] == 2
    assert res["train.2"]["state"] == "CREATED" and res["train.2"]["objective"] is None
    assert "not finished" in res["train.2"]["error"]
    new = by_name(jobs(p))
    assert json.loads(db_query(p["db"], "SELECT parents FROM core_balsamjob WHERE job_id = %s",
                               (new["train.2"][0],))[0][0]) == [prep_id]
    proc = run_dhflow(["run", p["spec"], "--timeout", "240"], p["env"], timeout=400)
    assert proc.returncode == 0, proc.stderr
    done = by_name(jobs(p))
    assert done["train.2"][1] == "JOB_FINISHED"                 # its parent had finished long before
    assert done["prep"][2] == prep_hist                         # and the parent did not run again
    assert results(p)["train.2"]["objective"] == 3
    # the new gather ran; the old one is an orphan, reported, not deleted
    reports = [v for v in jobs(p).values() if v[0] == "report"]
    assert len(reports) == 2 and {r[1] for r in reports} == {"JOB_FINISHED"}
    assert "1 jobs of this workflow are no longer in the file" in proc.stderr


def test_rerun_all_never_reports_the_previous_objective(balsam_db, e2e_root):
    """No launcher: right after `--rerun all`, no task may show its old objective."""
    p = new_project(balsam_db, e2e_root, "flakyrerun", 3)
    run_to_completion(p)                                        # a finished workflow, x in 1..3
    # an objective the app wrote into the job's data (a data("dh_objective") source)
    db_query(p["db"], "UPDATE core_balsamjob SET data = data || '{\"dh_objective\": 0.5}'::jsonb "
                      "WHERE workflow = %s AND name = 'score.0'", (p["wf"],))
    before = results(p)
    assert before["score.0"]["objective"] == 0.5 and before["train.0"]["objective"] == 1
    proc = run_dhflow(["submit", p["spec"], "--no-launch", "--scheduler", "local", "--rerun", "all"], p["env"])
    assert proc.returncode == 0, proc.stderr
    assert "reset to run again" in proc.stderr
    after = results(p)
    for name in ("score.0", "train.0", "train.1", "train.2"):
        assert after[name]["objective"] is None and after[name]["state"] == "CREATED", after[name]
    data = by_name(jobs(p))["score.0"][3]
    assert "dh_objective" not in data and data["dhflow_rerun"]["previous_state"] == "JOB_FINISHED"
