"""A `cbo` search (DeepHyper, the optional extra dhflow[deephyper]) with the real database and
launcher: the `sample:` design first, exactly `evals` evaluations, distinct points, a failed
evaluation kept as a failure with its reason, and a second run that runs nothing. MPI job mode, as tests/e2e/test_search.py."""
from __future__ import annotations

import importlib.util
import json

import pytest

from .conftest import make_project, run_dhflow

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(importlib.util.find_spec("deephyper") is None,
                                                  reason="optional extra dhflow[deephyper] not installed")]

CBO = """workflow sq_cbo:
    objective: minimize

space:
    x: real(-5, 5)
    y: int(-3, 3)
    act: choice("relu", "tanh")

# the initial design: one point that fails (x > 3), one that does not
sample: points("design.json")
search: cbo(evals=5, parallel=2, seed=3, initial=2, max_failures=5)

rule evaluate:
    foreach: space
    # no objective when x > 3: a failed evaluation
    shell: "python3 -c 'x = {x}; print(\\"DH-OUTPUT:\\", (x - 1) ** 2 + ({y} - 2) ** 2) if x <= 3 else None'"
    objective: stdout("DH-OUTPUT")
"""


def test_cbo_search_runs_evals_and_a_second_run_runs_nothing(balsam_db, e2e_root):
    db, env = balsam_db
    design = [{"x": 4.0, "y": 0, "act": "tanh"}, {"x": 0.5, "y": 2, "act": "relu"}]
    path = make_project(e2e_root, "sq_cbo", CBO, {"design.json": json.dumps(design)})
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    out = run_dhflow(["results", path, "--format", "json"], env)
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert sorted(rec["trial"] for rec in records) == list(range(5))
    by_trial = {rec["trial"]: rec for rec in records}
    assert [by_trial[t]["point"] for t in (0, 1)] == design
    assert by_trial[0]["objective"] is None and by_trial[1]["objective"] == pytest.approx(0.25)
    assert len({json.dumps(rec["point"], sort_keys=True) for rec in records}) == 5
    for rec in records:
        p = rec["point"]
        assert -5 <= p["x"] <= 5 and p["y"] in range(-3, 4) and p["act"] in ("relu", "tanh")
        if p["x"] > 3:
            assert rec["objective"] is None and "DH-OUTPUT" in rec["error"]
        else:
            assert rec["objective"] == pytest.approx((p["x"] - 1) ** 2 + (p["y"] - 2) ** 2, rel=1e-6)
    assert not list(path.parent.glob("results*.csv"))  # CBO's own checkpoint stays off
    again = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert again.returncode == 0, again.stderr
    assert "0 proposed by this run" in again.stderr
