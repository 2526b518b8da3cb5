"""`dhflow init` makes experiments that `dhflow run` runs as they are (real launcher)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from .conftest import run_dhflow

pytestmark = pytest.mark.e2e

CASES = [("sweep", "evaluate", 12), ("fortran", "evaluate", 8), ("datasets", "train", 6), ("search", "evaluate", 30)]


@pytest.mark.parametrize("template,rule,count", CASES, ids=[c[0] for c in CASES])
def test_template_runs_as_it_is(e2e_root, balsam_db, template, rule, count):
    _, env = balsam_db
    env = dict(env, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    target = e2e_root / f"init-{template}"
    proc = run_dhflow(["init", target, "--template", template], env)
    assert proc.returncode == 0, proc.stderr
    os.chmod(target, 0o755)
    exp = target / f"init_{template}.dhflow"
    proc = run_dhflow(["run", exp], env, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = run_dhflow(["results", exp, "--format", "json"], env)
    records = [r for r in json.loads(res.stdout) if r["rule"] == rule]
    assert len(records) == count
    assert all(r["state"] == "JOB_FINISHED" and isinstance(r["objective"], (int, float)) for r in records), records


def test_container_template_says_when_it_runs_without_the_container(e2e_root, balsam_db):
    """Fresh: the image is missing, `--or-direct` runs the model directly and every task's
    .out says so. Without `--or-direct` a missing image fails the tasks, with the reason."""
    db, env = balsam_db
    env = dict(env, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    target = e2e_root / "init-container"
    assert run_dhflow(["init", target, "--template", "container"], env).returncode == 0
    os.chmod(target, 0o755)
    exp = target / "init_container.dhflow"
    proc = run_dhflow(["run", exp], env, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = json.loads(run_dhflow(["results", exp, "--format", "json"], env).stdout)
    assert len(records) == 6 and all(isinstance(r["objective"], (int, float)) for r in records), records
    outs = list((Path(db) / "data" / "init_container").glob("train.*_*/train.*.out"))
    assert len(outs) == 6 and all("running WITHOUT the container" in p.read_text() for p in outs)
    exp.write_text(exp.read_text().replace("run-in-container.sh --or-direct ", "run-in-container.sh "))
    proc = run_dhflow(["run", exp], env, timeout=400)
    assert proc.returncode == 5, proc.stdout[-2000:] + proc.stderr[-3000:]
    records = json.loads(run_dhflow(["results", exp, "--format", "json"], env).stdout)
    assert len(records) == 6 and all(r["state"] == "FAILED" and r["objective"] is None for r in records), records
    assert all("not running" in r["error"] for r in records), records
