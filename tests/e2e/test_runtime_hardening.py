"""Failure paths that end with a clear line and the documented exit code, `dhflow emit`
from a shell-script app, and the password-authenticated database served to compute nodes."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

HUGE = "9" * 5000

# A shell-script app: no Python, no Balsam; it records its results with `dhflow emit`.
APP = r'''#!/bin/sh
set -e
index=$1
x=$2
dhflow emit objective "$x"
dhflow emit data note "task $index says hello"
dhflow emit data sizes '[1, 2, 3]'
if [ "$index" = 2 ]; then
    dhflow emit data score "@HUGE@"
fi
'''.replace("@HUGE@", HUGE)

SPEC = '''
workflow hardemit:
    objective: maximize

space:
    x: choice(0.25, 0.5, 0.75)

sample: grid(levels=3)

app step:
    executable: "{here}/app.sh"

rule score:
    foreach: space
    app: step
    args: "{index} {x}"
    objective: data("score")

app ghost:
    executable: "{here}/no-such-program"

rule missing:
    # after a parent (which might build it), so that `dhflow run` lets it reach Balsam: a first
    # task's missing program is refused before anything is written (test_refuse_before_writing)
    after: score
    app: ghost
    args: "--flag"
'''


@pytest.fixture(scope="module")
def emitted(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "hardemit", SPEC, {"app.sh": APP})
    os.chmod(spec.parent / "app.sh", 0o755)
    proc = run_dhflow(["run", spec, "--timeout", "240"], env, timeout=400)
    return {"proc": proc, "spec": spec, "db": db_path, "env": env}


def test_emit_records_objective_and_data_from_a_shell_script(emitted):
    proc = emitted["proc"]
    # one task's objective has 5,000 digits and a task's program is missing: exit 5, no crash
    assert proc.returncode == 5, proc.stderr[-3000:]
    assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr
    res = run_dhflow(["results", emitted["spec"], "--format", "json"], emitted["env"])
    assert res.returncode == 0, res.stderr
    records = {r["name"]: r for r in json.loads(res.stdout)}
    assert records["score.0"]["objective"] == 0.25 and records["score.1"]["objective"] == 0.5
    assert records["score.2"]["objective"] is None
    assert "integer of 5000 digits" in records["score.2"]["error"]
    assert [r["name"] for r in json.loads(res.stdout)][:2] == ["score.1", "score.0"]  # best first
    data = dict(db_query(emitted["db"], "SELECT name, data::text FROM core_balsamjob WHERE workflow = 'hardemit'"))
    d0 = json.loads(data["score.0"])
    assert d0["note"] == "task 0 says hello" and d0["sizes"] == [1, 2, 3] and d0["score"] == 0.25
    assert d0["dhflow_key"]  # dhflow's own keys untouched
    # the table prints the huge value's reason; the run names the unread objective
    table = run_dhflow(["results", emitted["spec"]], emitted["env"])
    assert table.returncode == 0 and "integer of 5000 digits" in table.stdout, table.stderr
    assert "score.2 finished, but its objective could not be read" in proc.stderr


def test_missing_executable_is_named(emitted):
    proc = emitted["proc"]
    line = next(ln for ln in proc.stderr.splitlines() if "task missing" in ln)
    assert line.endswith("task missing FAILED: executable not found: " + str(emitted["spec"].parent / "no-such-program"))
    assert "12345" not in proc.stderr


def test_results_into_a_closed_pipe_exit_quietly(emitted):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line (`... | head -0`)
    try:
        proc = subprocess.run([sys.executable, "-m", "dhflow", "results", str(emitted["spec"]), "--format", "json"],
                              env=emitted["env"], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_emit_outside_a_job_and_bad_values(balsam_db, tmp_path):
    _, env = balsam_db
    env = {k: v for k, v in env.items() if k != "BALSAM_JOB_ID"}
    proc = run_dhflow(["emit", "objective", "0.5"], env)
    assert proc.returncode == 2 and "BALSAM_JOB_ID" in proc.stderr
    inside = dict(env, BALSAM_JOB_ID="00000000-0000-0000-0000-000000000000")
    assert run_dhflow(["emit", "objective", "fast"], inside).returncode == 2
    assert run_dhflow(["emit", "objective", HUGE], inside).returncode == 2
    assert run_dhflow(["emit", "data", "dhflow_key", "x"], inside).returncode == 2
    proc = run_dhflow(["emit", "data", "k", "1"], inside)  # a job id that is not in the DB
    assert proc.returncode == 3 and "no job" in proc.stderr


def test_malformed_server_info_is_one_line(balsam_db, e2e_root, tmp_path):
    _, env = balsam_db
    spec = make_project(e2e_root, "hardinfo", SPEC)
    for content in ("", "{not json", "[1, 2]"):
        bad = tmp_path / f"db{len(content)}"
        bad.mkdir()
        (bad / "server-info").write_text(content)
        proc = run_dhflow(["status", spec], dict(env, BALSAM_DB_PATH=str(bad)))
        assert proc.returncode == 3 and "server-info" in proc.stderr, proc.stderr
        assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_plan_against_db_before_the_first_submit(balsam_db, e2e_root):
    _, env = balsam_db
    spec = make_project(e2e_root, "hardfresh", SPEC)
    env = {k: v for k, v in env.items() if k != "BALSAM_DB_PATH"}  # the project-local DB: not created
    proc = run_dhflow(["plan", spec, "--against-db", "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rules"]["score"] == {"new": 3, "unchanged": 0, "rerun": 0, "orphaned": 0}
    assert not (spec.parent / ".dhflow" / "db").exists()


# ----------------------------------------------------------------- the served database
def test_database_requires_the_password_on_tcp(balsam_db):
    import psycopg2

    db_path, _ = balsam_db
    info_path = Path(db_path) / "server-info"
    assert stat.S_IMODE(info_path.stat().st_mode) == 0o600
    info = json.loads(info_path.read_text())
    assert info["user"] and info["password"]
    conn = psycopg2.connect(host=info["host"], port=info["port"], dbname="balsam", user=info["user"],
                            password=info["password"], connect_timeout=10)
    conn.close()
    for password in (None, "wrong"):
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(host=info["host"], port=info["port"], dbname="balsam", user=info["user"],
                             password=password, connect_timeout=10)
    hba = db_query(db_path, "SELECT type, auth_method FROM pg_hba_file_rules")
    assert hba and all(t == "host" and m == "scram-sha-256" for t, m in hba)


def test_served_database_keeps_serving_after_an_on_demand_start(balsam_db, e2e_root):
    import psycopg2

    db_path, env = balsam_db
    spec = make_project(e2e_root, "hardserve", SPEC)
    assert run_dhflow(["db", "stop", "--db", db_path], env).returncode == 0
    proc = run_dhflow(["status", spec], env)  # starts it on demand
    assert proc.returncode == 0, proc.stderr
    proc = run_dhflow(["db", "status", "--db", db_path], env)
    assert "served to compute nodes: on 127.0.0.1" in proc.stdout
    info = json.loads((Path(db_path) / "server-info").read_text())
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(host=info["host"], port=info["port"], dbname="balsam", user=info["user"], connect_timeout=10)


BATCH = '''
workflow hardbatch:

app a:
    executable: "/bin/true"

rule r:
    app: a

launch:
    scheduler: slurm
    project: "p"
    queue: "q"
    nodes: 1
    wall_time: 10
    setup: "module load gcc/12 && module load cuda"
'''


def test_batch_submit_with_a_loopback_only_db_is_refused_before_writing(balsam_db, e2e_root):
    _, env = balsam_db
    spec = make_project(e2e_root, "hardbatch", BATCH)
    fresh = e2e_root / "hardbatch" / "fresh-db"
    proc = run_dhflow(["submit", spec, "--db", fresh], env)
    assert proc.returncode == 3, proc.stderr
    assert "127.0.0.1 only" in proc.stderr and "dhflow db start" in proc.stderr and "--listen" in proc.stderr
    assert not fresh.exists()  # nothing written, not even a database created


def test_launch_setup_lines_go_before_the_launcher(balsam_db, e2e_root, tmp_path):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "hardbatch", BATCH)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    stub = bindir / "sbatch"
    stub.write_text(f'#!/bin/sh\nfor last; do :; done\ncp "$last" "{tmp_path}/script.sh"\n'
                    'echo "Submitted batch job 777"\n')
    stub.chmod(0o755)
    env = dict(env, PATH=f"{bindir}{os.pathsep}{env['PATH']}")
    proc = run_dhflow(["submit", spec], env)  # the session DB is served (--listen 127.0.0.1)
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "script.sh").read_text().splitlines()
    setup = lines.index("module load gcc/12 && module load cuda")
    launcher = next(i for i, ln in enumerate(lines) if ln.startswith("exec ") and "balsam_launcher.py" in ln)
    assert setup < launcher
    dry = run_dhflow(["submit", spec, "--dry-run"], env)
    assert dry.returncode == 0 and "module load gcc/12 && module load cuda" in dry.stdout, dry.stderr
    assert "would be refused" not in dry.stdout  # the session DB is served


def test_dry_run_warns_that_a_batch_submit_would_be_refused(balsam_db, e2e_root):
    _, env = balsam_db
    spec = make_project(e2e_root, "hardbatch", BATCH)
    fresh = e2e_root / "hardbatch" / "fresh-dry-db"
    proc = run_dhflow(["submit", spec, "--db", fresh, "--dry-run"], env)
    assert proc.returncode == 0, proc.stderr
    assert "# warning: a real submit would be refused" in proc.stdout and "--listen" in proc.stdout
    assert "#SBATCH" in proc.stdout  # the script is still shown
    assert not fresh.exists()


def test_serving_on_another_address_is_refused_while_clients_are_connected(balsam_db):
    import psycopg2

    db_path, env = balsam_db
    info = json.loads((Path(db_path) / "server-info").read_text())
    conn = psycopg2.connect(host=info["host"], port=info["port"], dbname="balsam", user=info["user"],
                            password=info["password"], connect_timeout=10)
    try:
        proc = run_dhflow(["db", "start", "--db", db_path, "--listen", "127.0.0.2"], env)
        assert proc.returncode == 3, proc.stderr
        assert "client connection" in proc.stderr and "nothing was changed" in proc.stderr
        with conn.cursor() as cur:  # not cut off
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()
    assert json.loads((Path(db_path) / "server-info").read_text())["host"] == info["host"]
    proc = run_dhflow(["db", "status", "--db", db_path], env)
    assert "served to compute nodes: on 127.0.0.1" in proc.stdout


def test_clients_are_not_counted_as_none_when_the_server_refuses_the_credentials(balsam_db):
    """A server that answers but refuses the password (or sends no answer) may have clients:
    `db start --listen` must not take that for "nobody connected" (it would restart the
    server under them); only a refused connection means nobody listens."""
    from dhflow.balsam import auth
    from dhflow.balsam.localdb import free_port

    db_path, _ = balsam_db
    info = json.loads((Path(db_path) / "server-info").read_text())
    args = {"host": info["host"], "port": info["port"], "user": info["user"], "password": info["password"]}
    assert isinstance(auth.other_clients(args), int)
    assert "authentication failed" in auth.other_clients(dict(args, password="wrong-" + info["password"]))
    assert isinstance(auth.other_clients({k: v for k, v in args.items() if k != "password"}), str)
    assert auth.other_clients(dict(args, port=free_port("127.0.0.1"))) == 0  # nobody answers
