"""Search traps, with the real database and launcher: a design point that the search's
`where` rejects is dropped and the search runs to `evals` (it once stopped with "`where`
rejected 1000 proposals" and 0 evaluations); the DH608 help's pattern (work fanned out over
a `values` dimension, combined by a `foreach: space` rule that carries the objective) runs,
and each trial's objective combines every dataset's task of its point."""
from __future__ import annotations

import json

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

DESIGN = """workflow st_design:
    objective: minimize

space:
    x: real(-5, 5)

sample: grid(levels=3)
search: random(evals=3, parallel=1, seed=3) where x > 0

rule evaluate:
    foreach: space
    shell: "python3 -c 'print(\\"DH-OUTPUT:\\", ({x} - 1) ** 2)'"
    objective: stdout("DH-OUTPUT")
"""

COMBINE = """workflow st_combine:
    objective: minimize

values dataset: "a", "b"

space:
    x: real(-5, 5)

search: random(evals=2, parallel=1, seed=3)

rule train:
    foreach: dataset * space
    shell: "python3 -c 'print(({x} - 1) ** 2 + (100 if \\"{dataset}\\" == \\"b\\" else 0))' > score.txt"

rule score:
    foreach: space
    after: train
    inputs: "score.txt"
    shell: "python3 -c 'import glob; print(\\"DH-OUTPUT:\\", sum(float(open(f).read()) for f in glob.glob(\\"score*.txt\\")))'"
    objective: stdout("DH-OUTPUT")
"""


def _results(path, env):
    r = run_dhflow(["results", path, "--format", "json"], env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_rejected_design_point_is_dropped_and_the_search_ends(balsam_db, e2e_root):
    db, env = balsam_db
    path = make_project(e2e_root, "st_design", DESIGN)
    check = run_dhflow(["check", path], env)
    assert check.returncode == 0 and "DH607" in check.stderr and "drops 2 of the 3" in check.stderr
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    assert "rejected" not in r.stderr
    records = sorted(_results(path, env), key=lambda rec: rec["trial"])
    assert [rec["trial"] for rec in records] == [0, 1, 2]
    assert records[0]["point"] == {"x": 5.0}  # the one design point `where` keeps, first
    assert all(rec["point"]["x"] > 0 and rec["objective"] == pytest.approx((rec["point"]["x"] - 1) ** 2)
               for rec in records)
    rows = db_query(db, "SELECT count(*) FROM dhflow_search_trial WHERE workflow = %s", ["st_design"])
    assert rows[0][0] == 3


def test_values_fanned_out_then_combined_by_the_objective_rule(balsam_db, e2e_root):
    db, env = balsam_db
    path = make_project(e2e_root, "st_combine", COMBINE)
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    records = _results(path, env)
    assert sorted(rec["trial"] for rec in records) == [0, 1] and {rec["rule"] for rec in records} == {"score"}
    for rec in records:  # both datasets' results, not only the first one's
        x = rec["point"]["x"]
        assert rec["objective"] == pytest.approx(2 * (x - 1) ** 2 + 100, rel=1e-9)
    states = db_query(db, "SELECT name, state FROM core_balsamjob WHERE workflow = %s", ["st_combine"])
    assert len(states) == 6 and all(s == "JOB_FINISHED" for _, s in states)
