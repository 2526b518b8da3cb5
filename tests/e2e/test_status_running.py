"""`dhflow status` counts as running what Balsam runs: a search with `parallel=4` and
whole-node evaluations on a launcher with one node (the real one, `dhflow run`) runs one
evaluation at a time; the other three are in flight but wait (PREPROCESSED), and status
says so while it runs. The file itself draws DH411 from `dhflow check`."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from .conftest import make_project, run_dhflow

pytestmark = pytest.mark.e2e

SPEC = """workflow {wf}:
space:
    x: int(0, 100)

search: random(evals=4, parallel=4, seed=1)

rule evaluate:
    foreach: space
    shell: "sleep 3; echo DH-OUTPUT {{x}}"
    objective: stdout("DH-OUTPUT")

launch:
    nodes: 1
    job_mode: mpi
"""


def test_status_counts_waiting_evaluations_as_waiting(balsam_db, e2e_root):
    _, env = balsam_db
    wf = "stat_wait"
    path = make_project(e2e_root, wf, SPEC.format(wf=wf))
    check = run_dhflow(["check", path], env)
    assert check.returncode == 0 and "DH411" in check.stderr and "runs at most 1 at once" in check.stderr
    run = subprocess.Popen([sys.executable, "-m", "dhflow", "run", str(path)], env=env, cwd=path.parent,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 240
        while run.poll() is None and time.monotonic() < deadline:
            st = run_dhflow(["status", path, "--format", "json"], env)
            if st.returncode == 0:
                doc = json.loads(st.stdout)
                s = doc["search"]
                states = doc["rules"].get("evaluate", {})
                seen.append((s["running"], s["waiting"], states.get("RUNNING", 0), states.get("PREPROCESSED", 0)))
            time.sleep(0.5)
        out, err = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    # one launcher node, whole-node tasks: never two evaluations running at once
    assert seen and all(running <= 1 and jobs_running <= 1 for running, _, jobs_running, _ in seen), seen
    # and at some moment one ran while three were in flight, waiting in PREPROCESSED
    assert any(running == 1 and waiting == 3 and prepro >= 1 for running, waiting, _, prepro in seen), seen
    # the table says the same: "running" is RUNNING only
    text = run_dhflow(["status", path], env).stdout
    assert "0 running, 0 waiting" in text and "4 of 4 evaluations done" in text
