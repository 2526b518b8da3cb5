"""A sweep (`sample:`, no search) with two objectives, run by the real launcher: its plan
carries both directions, and `dhflow results` in every format lists the Pareto front first,
each ranked record with its `pareto_rank`, as a search's results do."""
from __future__ import annotations

import csv
import io
import json

import pytest

from .conftest import make_project, run_dhflow

pytestmark = pytest.mark.e2e

SWEEP = """workflow two_objectives:
    objective: maximize, minimize

space:
    x: int(0, 6)

sample: grid(levels=7)

rule evaluate:
    foreach: space
    shell: "python3 {here}/evaluate.py {x}"
    objective: stdout("ACC"), file("metrics.json", "seconds")
"""

# Accuracy rises with x up to 3, then falls; the cost in seconds always rises: x = 0..3 is
# the front, then x = 4, 5, 6 are each beaten by the one before (fronts 1, 2, 3).
EVALUATE = """import json, sys
x = int(sys.argv[1])
print("ACC:", x if x <= 3 else 6 - x)
json.dump({"seconds": x}, open("metrics.json", "w"))
"""


def test_a_two_objective_sweep_lists_its_pareto_front_first(balsam_db, e2e_root):
    _, env = balsam_db
    path = make_project(e2e_root, "two_objectives", SWEEP, {"evaluate.py": EVALUATE})
    plan = run_dhflow(["plan", path, "--format", "json"], env)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["objective"] == ["maximize", "minimize"]

    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr

    r = run_dhflow(["results", path, "--format", "json"], env)
    assert r.returncode == 0, r.stderr
    records = json.loads(r.stdout)
    assert [rec["state"] for rec in records] == ["JOB_FINISHED"] * 7
    for rec in records:  # both objectives were read back from where the program put them
        x = rec["point"]["x"]
        assert rec["objectives"] == [x if x <= 3 else 6 - x, x]
    assert [rec["point"]["x"] for rec in records] == [3, 2, 1, 0, 4, 5, 6]
    assert [rec["pareto_rank"] for rec in records] == [0, 0, 0, 0, 1, 2, 3]
    everyone = [rec["objectives"] for rec in records]
    for rec in records:  # the front is exactly what no other record dominates
        beaten = any(o[0] >= rec["objectives"][0] and o[1] <= rec["objectives"][1] and o != rec["objectives"]
                     for o in everyone)
        assert beaten == (rec["pareto_rank"] > 0)

    names = [rec["name"] for rec in records]
    r = run_dhflow(["results", path, "--format", "csv"], env)
    assert r.returncode == 0, r.stderr
    assert [row["name"] for row in csv.DictReader(io.StringIO(r.stdout))] == names
    r = run_dhflow(["results", path], env)
    assert r.returncode == 0, r.stderr
    assert [line.split()[1] for line in r.stdout.splitlines()[2:]] == names
