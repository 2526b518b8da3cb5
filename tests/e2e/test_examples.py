"""Every example runs for real: `dhflow run` with the real Balsam launcher, then every
objective of the sweep comes back as a number (stdout, job data and file sources)."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import REPO, run_dhflow

pytestmark = pytest.mark.e2e

CASES = [
    ("polynome2/polynome2.dhflow", "train", 8),
    ("container_trainer/container_trainer.dhflow", "train", 7),
    ("fortran_model/handpicked.dhflow", "evaluate", 8),
]


@pytest.fixture(scope="module")
def examples_copy(e2e_root):
    dest = e2e_root / "examples"
    shutil.copytree(REPO / "examples", dest, ignore=shutil.ignore_patterns(".dhflow", "data", "model", "*.o"))
    for d in [dest, *dest.rglob("*")]:
        if d.is_dir():
            os.chmod(d, 0o755)
    return dest


@pytest.mark.parametrize("relpath,rule,count", CASES, ids=[c[0].split("/")[0] for c in CASES])
def test_example_runs_end_to_end(examples_copy, balsam_db, relpath, rule, count):
    _, env = balsam_db
    env = dict(env)
    # The jobs' `python3` must be this interpreter (the trainer imports Balsam to report).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    path = examples_copy / relpath
    proc = run_dhflow(["run", path], env, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = run_dhflow(["results", path, "--format", "json"], env)
    assert res.returncode == 0, res.stderr
    records = [r for r in json.loads(res.stdout) if r["rule"] == rule]
    assert len(records) == count
    assert all(r["state"] == "JOB_FINISHED" and isinstance(r["objective"], (int, float)) for r in records), records
    assert all(r["error"] is None for r in records)
