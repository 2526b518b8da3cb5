"""A real run: scatter, one-to-one and gather dependencies, three objective sources, a
failing task whose dependants never run, an envscript on dash, and the exact workflow
filter (a workflow whose name contains this one's is left alone)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import db_query, make_project, run_dhflow, workflow_counts

pytestmark = pytest.mark.e2e

STEP = r'''
import json, os, sys, time
phase = sys.argv[1]
index = sys.argv[2] if len(sys.argv) > 2 else "-"
x = float(sys.argv[3]) if len(sys.argv) > 3 else None
here = os.path.dirname(os.path.abspath(__file__))
rec = {"phase": phase, "index": index, "start": time.time(), "cwd": os.getcwd(),
       "envscript": os.environ.get("E2E_FROM_ENVSCRIPT"), "env": os.environ.get("E2E_VAR"),
       "ranks": os.environ.get("DHFLOW_MPI_NUM_RANKS")}
time.sleep(0.2)
if phase == "train":
    print("DH-OUTPUT: 999")
    print("some log line")
    print(f"DH-OUTPUT: {x * x}")
elif phase == "evaluate":
    with open("metrics.json", "w") as fp:
        json.dump({"score": 10 - x} if x != 3 else {"other": 1}, fp)
elif phase == "score":
    from balsam.launcher import dag
    dag.current_job.data["dh_objective"] = x / 10
    dag.current_job.save(update_fields=["data"])
rec["end"] = time.time()
os.makedirs(os.path.join(here, "events"), exist_ok=True)
with open(os.path.join(here, "events", f"{phase}-{index}.json"), "w") as fp:
    json.dump(rec, fp)
if phase == "broken":
    print("about to fail: bad input")
    sys.exit(3)
'''

DAG = '''
workflow @WF@:
    objective: minimize

space:
    x: choice(1, 2, 3)

sample: grid(levels=3)

app step:
    executable: "@PY@ {here}/step.py"
    envscript: "{here}/env.sh"
    env:
        E2E_VAR: "from-env"

rule prepare:
    shell: "@PY@ {here}/step.py prepare"

rule train:
    foreach: space
    after: prepare
    app: step
    args: "train {index} {x}"
    node_packing_count: 4
    objective: stdout("DH-OUTPUT")

rule score:
    foreach: space
    after: prepare
    app: step
    args: "score {index} {x}"
    node_packing_count: 4
    objective: data("dh_objective")

rule broken:
    after: prepare
    shell: "@PY@ {here}/step.py broken"

rule downstream:
    after: broken
    shell: "@PY@ {here}/step.py downstream"

rule evaluate:
    foreach: space
    after: train
    app: step
    args: "evaluate {index} {x}"
    node_packing_count: 4
    objective: file("metrics.json", "score")

rule report:
    after: evaluate
    shell: "@PY@ {here}/step.py report"
'''

# /bin/sh is dash on Debian: Balsam's own `source ENVSCRIPT && CMD` would fail there
ENVSCRIPT = "E2E_FROM_ENVSCRIPT=yes\nexport E2E_FROM_ENVSCRIPT\n"


def dag_text(wf: str) -> str:
    return DAG.replace("@WF@", wf).replace("@PY@", sys.executable)


@pytest.fixture(scope="module")
def dag_run(balsam_db, e2e_root):
    db_path, env = balsam_db
    # the jobs of the `score` rule import balsam: give the (private) HOME its ~/.balsam first
    subprocess.run([sys.executable, "-c", "import balsam"], env=env, check=True, capture_output=True)
    spec = make_project(e2e_root, "dag", dag_text("e2edag"), {"step.py": STEP, "env.sh": ENVSCRIPT})
    other = spec.parent / "e2edag2.dhflow"          # a workflow whose name contains "e2edag"
    other.write_text(dag_text("e2edag2"))
    pre = run_dhflow(["submit", other, "--no-launch", "--scheduler", "local"], env)
    assert pre.returncode == 0, pre.stderr
    proc = run_dhflow(["run", spec, "--timeout", "240"], env, timeout=400)
    events = {}
    for name in os.listdir(spec.parent / "events") if (spec.parent / "events").exists() else []:
        with open(spec.parent / "events" / name) as fp:
            events[name[:-5]] = json.load(fp)
    return {"proc": proc, "spec": spec, "other": other, "events": events, "db": db_path, "env": env}


def results_json(run):
    proc = run_dhflow(["results", run["spec"], "--format", "json"], run["env"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_run_finishes(dag_run):
    proc = dag_run["proc"]
    assert proc.returncode == 5, proc.stderr          # finished, with failed tasks (broken, downstream)
    assert "Traceback" not in proc.stderr
    assert "workflow e2edag done" in proc.stderr


def test_dependencies_in_order(dag_run):
    ev = dag_run["events"]
    prepare = ev["prepare--"]
    for i in range(3):
        # scatter: every train task after prepare
        assert ev[f"train-{i}"]["start"] >= prepare["end"]
        assert ev[f"score-{i}"]["start"] >= prepare["end"]
        # one to one: evaluate i after train i
        assert ev[f"evaluate-{i}"]["start"] >= ev[f"train-{i}"]["end"]
    # gather: report after every evaluate
    assert ev["report--"]["start"] >= max(ev[f"evaluate-{i}"]["end"] for i in range(3))


def test_envscript_and_env_reach_the_job(dag_run):
    ev = dag_run["events"]
    assert ev["train-0"]["envscript"] == "yes"
    assert ev["train-0"]["env"] == "from-env"
    # each job runs in its own Balsam working directory
    assert ev["train-0"]["cwd"] != ev["train-1"]["cwd"]


def test_objectives_from_three_sources(dag_run):
    records = results_json(dag_run)
    by_name = {r["name"]: r for r in records}
    assert {r["rule"] for r in records} == {"train", "score", "evaluate"}
    for i, x in enumerate((1, 2, 3)):
        assert by_name[f"train.{i}"]["objective"] == pytest.approx(x * x), records  # last marker line wins
        assert by_name[f"score.{i}"]["objective"] == pytest.approx(x / 10)
        assert by_name[f"train.{i}"]["point"] == {"x": x}
        assert by_name[f"train.{i}"]["index"] == i
        assert by_name[f"train.{i}"]["state"] == "JOB_FINISHED"
        assert by_name[f"train.{i}"]["error"] is None
        assert by_name[f"train.{i}"]["runtime"] is not None
    assert by_name["evaluate.0"]["objective"] == pytest.approx(9)
    assert by_name["evaluate.1"]["objective"] == pytest.approx(8)
    # an unreadable objective is reported with a reason, never a number
    bad = by_name["evaluate.2"]
    assert bad["state"] == "JOB_FINISHED"
    assert bad["objective"] is None
    assert "score" in bad["error"]
    # minimize: best (smallest) first, tasks without an objective last
    values = [r["objective"] for r in records if r["objective"] is not None]
    assert values == sorted(values)
    assert records[-1]["objective"] is None


def test_failure_is_reported_and_dependants_do_not_run(dag_run):
    ev = dag_run["events"]
    assert "broken--" in ev            # it ran ...
    assert "downstream--" not in ev    # ... and its dependant never did
    proc = run_dhflow(["status", dag_run["spec"], "--format", "json"], dag_run["env"])
    assert proc.returncode == 0, proc.stderr
    rules = json.loads(proc.stdout)["rules"]
    assert rules["broken"] == {"FAILED": 1}
    assert rules["downstream"] == {"FAILED": 1}
    assert rules["train"] == {"JOB_FINISHED": 3}
    assert rules["report"] == {"JOB_FINISHED": 1}
    stderr = dag_run["proc"].stderr
    assert "task broken FAILED: exited with code 3" in stderr
    assert "task downstream FAILED: One or more parent jobs failed" in stderr


def test_status_table(dag_run):
    proc = run_dhflow(["status", dag_run["spec"]], dag_run["env"])
    assert proc.returncode == 0, proc.stderr
    assert "train" in proc.stdout and "3 JOB_FINISHED" in proc.stdout
    assert "1 FAILED" in proc.stdout


def test_results_formats(dag_run):
    csv_out = run_dhflow(["results", dag_run["spec"], "--format", "csv"], dag_run["env"])
    assert csv_out.returncode == 0
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0].startswith("rule,name,index,x,state,objective")
    assert len(lines) == 1 + 9
    table = run_dhflow(["results", dag_run["spec"]], dag_run["env"])
    assert table.returncode == 0 and "train.0" in table.stdout


def test_superstring_workflow_untouched(dag_run):
    states = db_query(dag_run["db"], "SELECT DISTINCT state FROM core_balsamjob WHERE workflow = %s",
                      ("e2edag2",))
    assert states == [("CREATED",)]
    assert workflow_counts(dag_run["db"])["e2edag2"] == 13


def test_rerun_is_idempotent(dag_run):
    before = workflow_counts(dag_run["db"])["e2edag"]
    proc = run_dhflow(["run", dag_run["spec"], "--timeout", "60"], dag_run["env"])
    assert proc.returncode == 5, proc.stderr          # still the same two failed tasks
    assert "0 new jobs written, 13 unchanged" in proc.stderr
    assert workflow_counts(dag_run["db"])["e2edag"] == before == 13


def test_balsam_ls_shows_the_jobs(dag_run):
    env = dict(dag_run["env"])
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "balsam"), "ls", "--wf", "e2edag"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "train.0" in proc.stdout and "report" in proc.stdout
