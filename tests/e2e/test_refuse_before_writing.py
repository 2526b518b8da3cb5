"""Refused before anything is written (real PostgreSQL, real Balsam, real launcher):

* `dhflow run` whose app program does not exist on this machine (it was a DH114 warning,
  then each task failed after 6-10 s: 10 tasks took 49 s);
* `dhflow submit` to a scheduler whose submit command (sbatch, qsub) is not on PATH (the
  jobs were written, then "sbatch: not found", and every retry left another script).
"""
from __future__ import annotations

import os
import time

import pytest

from .conftest import db_query, make_project, run_dhflow, workflow_counts

pytestmark = pytest.mark.e2e

RUN_SPEC = """workflow {wf}:
space:
    x: int(0, 9)
sample: grid(levels=10)

app sim:
    executable: "{exe} --fast"

rule sim:
    foreach: space
    app: sim
    args: "{{x}}"
"""


@pytest.mark.parametrize("exe, shown", [
    ("dhflow-no-such-program", "not on PATH"),
    ("{here}/bin/sim", "no such file"),
])
def test_run_with_a_missing_program_writes_nothing(balsam_db, e2e_root, exe, shown):
    db, env = balsam_db
    wf = "refprog" + ("path" if "/" in exe else "name")
    path = make_project(e2e_root, wf, RUN_SPEC.format(wf=wf, exe=exe))
    program = exe.replace("{here}", str(path.parent))
    check = run_dhflow(["check", path], env)                # still only a warning for `check`
    if "/" in exe:
        assert check.returncode == 0 and "DH114" in check.stderr
    else:
        assert check.returncode == 0, check.stderr
    before = workflow_counts(db).get(wf, 0)
    t0 = time.monotonic()
    proc = run_dhflow(["run", path], env, cwd=path.parent)
    took = time.monotonic() - t0
    assert proc.returncode == 3, proc.stderr
    assert f"program {program} not found on this machine ({shown})" in proc.stderr
    assert "app `sim`" in proc.stderr and "nothing was written" in proc.stderr and "Traceback" not in proc.stderr
    assert workflow_counts(db).get(wf, 0) == before == 0
    assert took < 20, took                                   # no launcher, no task tried
    # with a database that does not exist yet: not even the database is created
    fresh = e2e_root / wf / "fresh-db"
    proc = run_dhflow(["run", path, "--db", fresh], env, cwd=path.parent)
    assert proc.returncode == 3 and "not found" in proc.stderr
    assert not fresh.exists()


def test_run_is_not_refused_for_a_program_a_parent_builds(balsam_db, e2e_root):
    """A task with parents may run what they build (as DH114 allows): not refused."""
    db, env = balsam_db
    wf = "refbuilt"
    spec = f"""workflow {wf}:
app tool:
    executable: "{{here}}/built/tool"

rule build:
    shell: "mkdir -p {{here}}/built && cp /bin/echo {{here}}/built/tool"

rule use:
    after: build
    app: tool
"""
    path = make_project(e2e_root, wf, spec)
    proc = run_dhflow(["run", path], env, cwd=path.parent)
    assert proc.returncode == 0, proc.stderr
    assert db_query(db, "SELECT state FROM core_balsamjob WHERE workflow = %s AND name = 'use'", [wf]) == [
        ("JOB_FINISHED",)]


SUBMIT_SPEC = """workflow {wf}:
space:
    x: choice(1, 2)
sample: grid(levels=2)

rule sim:
    foreach: space
    shell: "echo {{x}}"

launch:
    scheduler: {sched}
    project: "myproj"
    queue: "debug"
    nodes: 1
    wall_time: 10
"""


def _path_without(exe: str) -> str:
    """This machine's PATH minus any directory holding `exe` (none holds sbatch or qsub here)."""
    return os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not os.path.exists(os.path.join(d, exe)))


@pytest.mark.parametrize("sched, exe", [("slurm", "sbatch"), ("pbs", "qsub"), ("cobalt", "qsub")])
def test_submit_without_the_submit_command_writes_nothing(balsam_db, e2e_root, sched, exe):
    db, env = balsam_db
    env = dict(env, PATH=_path_without(exe))
    wf = f"refsub{sched}"
    path = make_project(e2e_root, wf, SUBMIT_SPEC.format(wf=wf, sched=sched))
    qsubmit = db / "qsubmit"
    scripts = set(os.listdir(qsubmit)) if qsubmit.exists() else set()
    launches = db_query(db, "SELECT count(*) FROM core_queuedlaunch")
    for attempt in range(2):                                  # a retry leaves nothing either
        proc = run_dhflow(["submit", path], env)
        assert proc.returncode == 3, proc.stderr
        assert f"{exe} not found on PATH" in proc.stderr and "nothing was written" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert workflow_counts(db).get(wf, 0) == 0
        assert (set(os.listdir(qsubmit)) if qsubmit.exists() else set()) == scripts
        assert db_query(db, "SELECT count(*) FROM core_queuedlaunch") == launches
    # the dry run says that a real submit would be refused, and why
    dry = run_dhflow(["submit", path, "--dry-run"], env)
    assert dry.returncode == 0 and "would be refused" in dry.stdout and f"{exe} not found" in dry.stdout
    # --no-launch submits no launcher: it needs no submit command
    ok = run_dhflow(["submit", path, "--no-launch"], env)
    assert ok.returncode == 0, ok.stderr
    assert workflow_counts(db)[wf] == 2


def test_search_run_with_a_missing_program_writes_nothing(balsam_db, e2e_root):
    db, env = balsam_db
    wf = "refsearch"
    spec = f"""workflow {wf}:
space:
    x: real(-5, 5)
search: random(evals=3, parallel=1)

app model:
    executable: "dhflow-no-such-model"

rule evaluate:
    foreach: space
    app: model
    args: "{{x}}"
    objective: stdout("DH-OUTPUT")
"""
    path = make_project(e2e_root, wf, spec)
    proc = run_dhflow(["run", path], env, cwd=path.parent)
    assert proc.returncode == 3, proc.stderr
    assert "program dhflow-no-such-model not found on this machine (not on PATH)" in proc.stderr
    assert workflow_counts(db).get(wf, 0) == 0
    if db_query(db, "SELECT to_regclass('dhflow_search_trial')") != [(None,)]:   # (made by the first search)
        assert db_query(db, "SELECT count(*) FROM dhflow_search_trial WHERE workflow = %s", [wf]) == [(0,)]
