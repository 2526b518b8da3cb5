"""Reading a workflow at scale (real PostgreSQL, real Balsam models, `submit --no-launch`).

`status` of an unchanged file is answered by one aggregated query without compiling, and
says the same as the compiled, matched-by-key answer; a job deleted by hand makes it
compile again.  `history` and `clean` do not compile.  dhflow's (workflow, state) index
exists after a submission.  The progress poll of `dhflow run` counts what the jobs say.
"""
from __future__ import annotations

import json
import textwrap

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

SPEC = """
workflow @WF@:
    objective: minimize
space:
    x: int(1, 40)
sample: grid(levels=40)
rule prep:
    shell: "echo prep"
rule train:
    foreach: space
    after: prep
    shell: "echo DH-OUTPUT: {x}"
    objective: stdout("DH-OUTPUT")
rule report:
    after: train
    shell: "echo report"
"""

QUICK = "status: unchanged file, counted by the server"


def status(spec, env):
    proc = run_dhflow(["status", spec, "--format", "json"], dict(env, DHFLOW_TIMING="1"))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), QUICK in proc.stderr


def test_status_without_compiling_says_what_the_compiled_status_says(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "scale_status", SPEC.replace("@WF@", "scale_status"))
    assert run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], env).returncode == 0
    db_query(db_path, "UPDATE core_balsamjob SET state = 'JOB_FINISHED' WHERE workflow = %s AND name LIKE 'train%%' "
             "AND (data->'dhflow_point'->>'x')::int <= 5", ("scale_status",))
    quick, used = status(spec, env)
    assert used
    assert quick["rules"] == {"prep": {"CREATED": 1}, "train": {"CREATED": 35, "JOB_FINISHED": 5},
                              "report": {"CREATED": 1}}
    assert list(quick["rules"]) == ["prep", "train", "report"] and quick["stale_jobs"] == 0
    edited = spec.parent / "edited.dhflow"  # same workflow and tasks, another input digest: compiled
    edited.write_text(spec.read_text() + "# edited\n")
    compiled, used = status(edited, env)
    assert not used
    assert compiled == {**quick, "database": compiled["database"]}
    assert compiled["database"] == quick["database"]
    # a job deleted by hand: the keys' sum differs, so status compiles and reports it missing
    db_query(db_path, "DELETE FROM core_balsamjob WHERE workflow = %s AND name = 'prep'", ("scale_status",))
    after, used = status(spec, env)
    assert not used and after["rules"]["prep"] == {"NOT_SUBMITTED": 1}
    # the table view of the quick path (the same renderer)
    assert run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], env).returncode == 0
    proc = run_dhflow(["status", spec], dict(env, DHFLOW_TIMING="1"))
    assert proc.returncode == 0 and QUICK in proc.stderr and "train" in proc.stdout and "40 tasks" in proc.stdout


def test_history_and_clean_do_not_compile_and_the_index_exists(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "scale_hist", SPEC.replace("@WF@", "scale_hist"))
    assert run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], env).returncode == 0
    assert db_query(db_path, "SELECT indexdef FROM pg_indexes WHERE indexname = 'dhflow_job_workflow_state_idx'")
    # a file that checks but does not expand (a resource of 0 nodes) still names its workflow
    broken = spec.parent / "broken.dhflow"
    broken.write_text(spec.read_text().replace("    shell: \"echo DH-OUTPUT: {x}\"",
                                               "    shell: \"echo DH-OUTPUT: {x}\"\n    nodes: 0 if x > 3 else 1"))
    assert run_dhflow(["plan", broken], env).returncode == 1
    proc = run_dhflow(["history", broken, "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["added"] == 42
    proc = run_dhflow(["clean", broken, "--yes"], env)
    assert proc.returncode == 0, proc.stderr
    assert "deleted 42 jobs" in proc.stdout


POLL = textwrap.dedent("""
    import json, sys
    from dhflow.runtime.plans import load_plan_json
    from dhflow.runtime import database
    plan = load_plan_json(sys.argv[1])
    database.open_database(None, plan, sys.argv[1], create=False, quiet=True)
    from django.db import connection
    from dhflow.balsam.poll import ProgressPoll
    with connection.cursor() as cur:
        cur.execute("SELECT name, job_id::text FROM core_balsamjob WHERE workflow = %s", [plan["workflow"]])
        ids = dict(cur.fetchall())
    poll = ProgressPoll(plan, ids)
    first = poll.snapshot()
    with connection.cursor() as cur:
        cur.execute("UPDATE core_balsamjob SET state = 'FAILED' WHERE workflow = %s", [plan["workflow"]])
    last = poll.snapshot()  # every job final: the per-rule split is refreshed at once
    print(json.dumps([{r: dict(c) for r, c in first.items()}, {r: dict(c) for r, c in last.items()},
                      poll.detail_queries]))
""")


def test_progress_poll_counts_per_rule(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "scale_poll", SPEC.replace("@WF@", "scale_poll"))
    assert run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], env).returncode == 0
    plan_json = spec.parent / "plan.json"
    assert run_dhflow(["plan", spec, "--format", "json", "-o", plan_json], env).returncode == 0
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", POLL, str(plan_json)], env=env, capture_output=True, text=True,
                          cwd=spec.parent)
    assert proc.returncode == 0, proc.stderr
    first, last, detail = json.loads(proc.stdout)
    assert first == {"prep": {"CREATED": 1}, "train": {"CREATED": 40}, "report": {"CREATED": 1}}
    assert last == {"prep": {"FAILED": 1}, "train": {"FAILED": 40}, "report": {"FAILED": 1}}
    assert detail == 2
