"""Scheduler submission through Balsam's submit-launch (stub qsub/sbatch), dry runs,
clean, and failures (scheduler rejecting, database unreachable)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import db_query, make_project, run_dhflow, workflow_counts

pytestmark = pytest.mark.e2e

SPEC = '''
workflow @WF@:
    objective: maximize

space:
    x: choice(1, 2)

sample: grid(levels=2)

app sim:
    executable: "/bin/echo"
    env:
        SIM_MODE: "fast"

rule sim:
    foreach: space
    app: sim
    args: "{x}"
    nodes: 2
    objective: stdout("DH-OUTPUT")

rule gather:
    after: sim
    shell: "echo done"

launch:
    scheduler: @SCHED@
    project: "myproj"
    queue: "debug"
    nodes: 2
    wall_time: 30
    job_mode: mpi
'''

STUB = '''#!/bin/sh
# stub scheduler: keep the script it was given and the arguments, print a job id
for last; do :; done
cp "$last" "@DIR@/script-$(basename "$0").sh"
echo "$@" > "@DIR@/args-$(basename "$0").txt"
if [ -n "$STUB_REJECT" ]; then
    echo "$(basename "$0"): job rejected: project myproj has no allocation" >&2
    exit 1
fi
echo "${STUB_OUT:-@OUT@}"
'''


def spec_text(wf: str, sched: str) -> str:
    return SPEC.replace("@WF@", wf).replace("@SCHED@", sched)


@pytest.fixture()
def stubs(tmp_path, balsam_db):
    """A PATH whose first entry holds stub qsub and sbatch; returns (env, stub dir)."""
    _, env = balsam_db
    bindir = tmp_path / "bin"
    bindir.mkdir()
    outdir = tmp_path / "out"
    outdir.mkdir()
    for name, out in (("qsub", "4242"), ("sbatch", "Submitted batch job 4242")):
        stub = bindir / name
        stub.write_text(STUB.replace("@DIR@", str(outdir)).replace("@OUT@", out))
        stub.chmod(0o755)
    env = dict(env)
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    return env, outdir


def qlaunch_rows(db_path):
    return db_query(db_path, "SELECT scheduler_id, wf_filter, state, project, queue, nodes, wall_minutes, job_mode "
                             "FROM core_queuedlaunch")


@pytest.mark.parametrize("sched, exe", [("cobalt", "qsub"), ("slurm", "sbatch"), ("pbs", "qsub")])
def test_submit_hands_a_script_to_the_scheduler(balsam_db, e2e_root, stubs, sched, exe):
    db_path, _ = balsam_db
    env, outdir = stubs
    wf = f"sub{sched}"
    spec = make_project(e2e_root, wf, spec_text(wf, sched))
    before = len(qlaunch_rows(db_path))
    if sched == "pbs":
        env = dict(env, STUB_OUT="4242.pbs-server")      # PBS job ids carry the server name
    proc = run_dhflow(["submit", spec, "-q", "override-q", "--sched-flags", "--attrs foo=bar"], env)
    assert proc.returncode == 0, proc.stderr
    assert f"submitted {sched} job 4242" in proc.stdout
    script = (outdir / f"script-{exe}.sh").read_text()
    args = (outdir / f"args-{exe}.txt").read_text()
    header = {
        "cobalt": ["#COBALT -A myproj", "#COBALT -n 2", "#COBALT -q override-q", "#COBALT -t 30",
                   "#COBALT --attrs foo=bar"],
        "slurm": ["#SBATCH --account=myproj", "#SBATCH --partition=override-q", "#SBATCH --nodes=2",
                  "#SBATCH --time=30", "#SBATCH --attrs foo=bar"],
        "pbs": ["#PBS -A myproj", "#PBS -q override-q", "#PBS -l select=2", "#PBS -l walltime=00:30:00",
                "#PBS --attrs foo=bar"],
    }[sched]
    for line in header:
        assert line in script.splitlines(), script
    assert f"export BALSAM_DB_PATH=\"{db_path}\"" in script
    assert f"--wf-filter={wf} --job-mode=mpi --time-limit-minutes=28" in script
    assert "balsam_launcher.py" in script and sys.executable in script
    home = [ln for ln in script.splitlines() if ln.startswith("export DHFLOW_BALSAM_HOME=")][0].split("=", 1)[1].strip("\"")
    settings = json.loads((Path(home) / ".balsam" / "settings.json").read_text())
    assert settings["SCHEDULER_CLASS"] == {"cobalt": "CobaltScheduler", "slurm": "SlurmScheduler",
                                           "pbs": "PBSScheduler"}[sched]
    assert f"qlaunch" in args
    rows = qlaunch_rows(db_path)
    assert len(rows) == before + 1
    assert (4242, wf, "submitted", "myproj", "override-q", 2, 30, "mpi") in rows
    assert workflow_counts(db_path)[wf] == 3
    jobs = db_query(db_path, "SELECT name, num_nodes, environ_vars, parents, data->>'dhflow_rule' "
                             "FROM core_balsamjob WHERE workflow = %s ORDER BY name", (wf,))
    by_name = {r[0]: r for r in jobs}
    assert by_name["sim.0"][1] == 2 and by_name["sim.0"][2] == "SIM_MODE=fast"
    assert len(json.loads(by_name["gather"][3])) == 2
    assert by_name["sim.1"][4] == "sim"


def test_rejected_submission_leaves_no_launch_row(balsam_db, e2e_root, stubs):
    db_path, _ = balsam_db
    env, outdir = stubs
    env["STUB_REJECT"] = "1"
    spec = make_project(e2e_root, "subreject", spec_text("subreject", "cobalt"))
    before = qlaunch_rows(db_path)
    proc = run_dhflow(["submit", spec], env)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "rejected" in proc.stderr and "no allocation" in proc.stderr
    assert qlaunch_rows(db_path) == before
    # the jobs are kept (documented): submitting again reuses them by key
    assert workflow_counts(db_path)["subreject"] == 3
    env.pop("STUB_REJECT")
    again = run_dhflow(["submit", spec], env)
    assert again.returncode == 0, again.stderr
    assert "0 new jobs written, 3 unchanged" in again.stderr
    assert workflow_counts(db_path)["subreject"] == 3


def test_dry_run_touches_nothing(balsam_db, e2e_root, stubs):
    db_path, _ = balsam_db
    env, outdir = stubs
    spec = make_project(e2e_root, "subdry", spec_text("subdry", "slurm"))
    counts = workflow_counts(db_path)
    rows = qlaunch_rows(db_path)
    proc = run_dhflow(["submit", spec, "--dry-run", "-n", "4"], env)
    assert proc.returncode == 0, proc.stderr
    assert "#SBATCH --nodes=4" in proc.stdout
    assert "sim.0" in proc.stdout and "gather" in proc.stdout
    assert workflow_counts(db_path) == counts
    assert qlaunch_rows(db_path) == rows
    assert not any(outdir.iterdir())                       # the scheduler was never called
    # with a database directory that does not exist: nothing is created either
    missing = e2e_root / "no-such-db"
    env2 = dict(env, BALSAM_DB_PATH=str(missing))
    proc = run_dhflow(["submit", spec, "--dry-run"], env2)
    assert proc.returncode == 0, proc.stderr
    assert "database not reachable" in proc.stdout and "#SBATCH" in proc.stdout
    assert not missing.exists()


def test_submit_usage_errors(balsam_db, e2e_root, stubs):
    env, _ = stubs
    spec = make_project(e2e_root, "subusage", spec_text("subusage", "cobalt"))
    proc = run_dhflow(["submit", spec, "-n", "1", "--dry-run"], env)   # tasks need 2 nodes
    assert proc.returncode == 2
    assert "needs 2 nodes" in proc.stderr


def test_clean_spares_other_workflows(balsam_db, e2e_root):
    db_path, env = balsam_db
    a = make_project(e2e_root, "cw", spec_text("cw", "local").replace("nodes: 2\n    objective", "objective"))
    b = make_project(e2e_root, "cw2", spec_text("cw2", "local").replace("nodes: 2\n    objective", "objective"))
    for spec in (a, b):
        proc = run_dhflow(["submit", spec, "--no-launch"], env)
        assert proc.returncode == 0, proc.stderr
    assert workflow_counts(db_path)["cw"] == 3 and workflow_counts(db_path)["cw2"] == 3
    # no terminal, no --yes: refuse
    proc = run_dhflow(["clean", a], env)
    assert proc.returncode == 2 and "--yes" in proc.stderr
    assert workflow_counts(db_path)["cw"] == 3
    proc = run_dhflow(["clean", a, "--yes"], env)
    assert proc.returncode == 0, proc.stderr
    counts = workflow_counts(db_path)
    assert "cw" not in counts
    assert counts["cw2"] == 3
    proc = run_dhflow(["status", b, "--format", "json"], env)
    assert json.loads(proc.stdout)["rules"] == {"sim": {"CREATED": 2}, "gather": {"CREATED": 1}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_unreachable(balsam_db, e2e_root):
    _, env = balsam_db
    dead = e2e_root / "deaddb"
    dead.mkdir()
    (dead / "server-info").write_text(json.dumps({"host": "127.0.0.1", "port": _free_port()}))
    spec = make_project(e2e_root, "unreach", spec_text("unreach", "local").replace("nodes: 2\n    objective", "objective"))
    env = dict(env, BALSAM_DB_PATH=str(dead))
    for args in (["status", spec], ["run", spec, "--timeout", "30"], ["submit", spec, "--no-launch"],
                 ["results", spec], ["clean", spec, "--yes"]):
        proc = run_dhflow(args, env, timeout=120)
        assert proc.returncode == 3, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert "cannot reach the Balsam database" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
    env["BALSAM_DB_PATH"] = str(e2e_root / "nowhere")
    proc = run_dhflow(["status", spec], env)
    assert proc.returncode == 3 and "does not exist" in proc.stderr


def test_plan_the_backend_cannot_represent(balsam_db, e2e_root):
    """A plan JSON (dhflow plan --format json) that Balsam cannot hold is refused before the DB."""
    db_path, env = balsam_db
    spec = make_project(e2e_root, "badenv", spec_text("badenv", "local").replace("nodes: 2\n    objective", "objective"))
    proc = run_dhflow(["plan", spec, "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    plan["tasks"][1]["environ_vars"]["SIM_PATH"] = "/a:/b"
    path = spec.parent / "plan.json"
    path.write_text(json.dumps(plan))
    proc = run_dhflow(["submit", path, "--no-launch"], env)
    assert proc.returncode == 1
    assert "contains ':'" in proc.stderr and "Traceback" not in proc.stderr
    assert "badenv" not in workflow_counts(db_path)
    # the same plan JSON without the bad value is written like the .dhflow file
    del plan["tasks"][1]["environ_vars"]["SIM_PATH"]
    path.write_text(json.dumps(plan))
    proc = run_dhflow(["submit", path, "--no-launch"], env)
    assert proc.returncode == 0, proc.stderr
    assert workflow_counts(db_path)["badenv"] == 3
