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
