"""Adaptive search with the real database and launcher: a tpe search of a quadratic ends with
exactly `evals` trials; killed with SIGKILL (dhflow and its launcher) and run again it ends
with `evals` trials, none repeated; a third run runs nothing; nsga2 gives a Pareto front;
failed evaluations count as failures and `max_failures` ends the run with exit 5.

MPI job mode: the serial mode's host-wide lock would line these runs up behind others."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

QUAD = """workflow {wf}:
    objective: minimize

space:
    x: real(-5, 5)
    y: int(-3, 3)

search: tpe(evals={evals}, parallel=2, seed=3, initial=2)

rule evaluate:
    foreach: space
    shell: "python3 -c 'print(\\"DH-OUTPUT:\\", ({{x}} - 1) ** 2 + ({{y}} - 2) ** 2)'"
    objective: stdout("DH-OUTPUT")
"""


def _trials(db, wf):
    return db_query(db, "SELECT trial, job_key FROM dhflow_search_trial WHERE workflow = %s ORDER BY trial", [wf])


def _jobs(db, wf):
    return db_query(db, "SELECT data->>'dhflow_key', state FROM core_balsamjob WHERE workflow = %s", [wf])


def _results(path, env):
    r = run_dhflow(["results", path, "--format", "json"], env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_tpe_search_runs_evals_trials_and_a_third_run_runs_nothing(balsam_db, e2e_root):
    db, env = balsam_db
    path = make_project(e2e_root, "sq_tpe", QUAD.format(wf="sq_tpe", evals=6))
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    trials = _trials(db, "sq_tpe")
    assert [t for t, _ in trials] == list(range(6))
    jobs = _jobs(db, "sq_tpe")
    assert len(jobs) == len({k for k, _ in jobs}) == len({k for _, k in trials})
    assert all(state == "JOB_FINISHED" for _, state in jobs)
    records = _results(path, env)
    assert sorted(rec["trial"] for rec in records) == list(range(6))
    values = [rec["objective"] for rec in records]
    assert all(isinstance(v, float) for v in values) and values == sorted(values)  # minimize: best first
    for rec in records:
        p = rec["point"]
        assert rec["objective"] == pytest.approx((p["x"] - 1) ** 2 + (p["y"] - 2) ** 2, rel=1e-6)
    again = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert again.returncode == 0, again.stderr
    assert "0 proposed by this run" in again.stderr
    assert len(_jobs(db, "sq_tpe")) == len(jobs)
    status = run_dhflow(["status", path, "--format", "json"], env)
    search = json.loads(status.stdout)["search"]
    assert (search["done"], search["running"], search["failed"], search["evals"]) == (6, 0, 0, 6)
    # never two drivers for one workflow: a held driver lock refuses a second one
    import getpass
    import psycopg2

    from dhflow.balsam.searchstore import _lock_key

    with open(os.path.join(db, "server-info")) as fp:
        info = json.load(fp)
    conn = psycopg2.connect(host=info["host"], port=info["port"], dbname="balsam",
                            user=os.environ.get("BALSAM_USER") or getpass.getuser(), password=info.get("password"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", [_lock_key("sq_tpe")])
        held = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
        assert held.returncode == 3 and "another search driver" in held.stderr, held.stderr
    finally:
        conn.close()
    # raising evals continues the same search; `plan --against-db` says it is the same one
    path.write_text(QUAD.format(wf="sq_tpe", evals=8))
    plan = run_dhflow(["plan", path, "--against-db"], env)
    assert "the same search" in plan.stdout, plan.stdout + plan.stderr
    path.write_text(QUAD.format(wf="sq_tpe", evals=8).replace("seed=3", "seed=4"))
    plan = run_dhflow(["plan", path, "--against-db"], env)
    assert "a NEW search" in plan.stdout, plan.stdout + plan.stderr


def _launcher_pids(wf):
    out = subprocess.run(["pgrep", "-f", f"balsam_launcher.py --wf-filter {wf} "], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_search_killed_and_run_again_ends_with_evals_none_repeated(balsam_db, e2e_root):
    db, env = balsam_db
    wf = "sq_kill"
    path = make_project(e2e_root, wf, QUAD.format(wf=wf, evals=6))
    proc = subprocess.Popen([sys.executable, "-m", "dhflow", "run", str(path), "--job-mode", "mpi"], env=env,
                            cwd=path.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len([s for _, s in _jobs(db, wf) if s == "JOB_FINISHED"]) >= 2 and len(_trials(db, wf)) >= 3:
            break
        time.sleep(0.3)
    launchers = _launcher_pids(wf)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for pid in launchers:  # the launcher runs in its own session: kill its whole group
        os.killpg(pid, signal.SIGKILL)
    before = _trials(db, wf)
    assert 3 <= len(before) < 6  # killed mid-way
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    after = _trials(db, wf)
    assert [t for t, _ in after] == list(range(6))
    assert after[:len(before)] == before  # the first run's trials are kept as they were
    jobs = _jobs(db, wf)
    assert len(jobs) == len({k for k, _ in jobs})  # no evaluation written twice
    assert all(state == "JOB_FINISHED" for _, state in jobs)
    # the Optuna study in the database, reconciled with the trials: each evaluation once
    import optuna

    storage = run_dhflow(["search-storage", path], env)
    name = storage.stderr.split("Optuna study '")[1].split("'")[0]
    study = optuna.load_study(study_name=name, storage=storage.stdout.strip())
    done = {t.user_attrs["dhflow_trial"]: t.values[0] for t in study.get_trials()
            if t.state == optuna.trial.TrialState.COMPLETE}
    assert done == pytest.approx({r["trial"]: r["objective"] for r in _results(path, env)})
    assert sorted(done) == list(range(6))


NSGA = """workflow sq_nsga:
    objective: minimize, minimize

space:
    x: real(0, 4)

search: nsga2(evals=4, parallel=4, seed=1, initial=4)

rule prepare:
    shell: "echo prepared"

rule evaluate:
    foreach: space
    after: prepare
    shell: "python3 -c 'x={x}; print(\\"F1:\\", x * x); print(\\"F2:\\", (x - 2) ** 2)'"
    objective: stdout("F1"), stdout("F2")

rule report:
    after: evaluate
    shell: "echo report"
"""


def test_nsga2_two_objectives_lists_the_pareto_front_first(balsam_db, e2e_root):
    db, env = balsam_db
    path = make_project(e2e_root, "sq_nsga", NSGA)
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    records = _results(path, env)
    assert sorted(rec["trial"] for rec in records) == [0, 1, 2, 3]
    for rec in records:
        x = rec["point"]["x"]
        assert rec["objectives"] == pytest.approx([x * x, (x - 2) ** 2])
    ranks = [rec["pareto_rank"] for rec in records]
    assert ranks == sorted(ranks) and ranks[0] == 0
    # the single rule before ran first; the gather after ran once, over every evaluation
    rows = dict((n, (st, p)) for n, st, p in db_query(
        db, "SELECT name, state, parents FROM core_balsamjob WHERE workflow = 'sq_nsga'", []))
    assert rows["prepare"][0] == rows["report"][0] == "JOB_FINISHED"
    assert len(json.loads(rows["report"][1])) == 4
    front = [rec["objectives"] for rec in records if rec["pareto_rank"] == 0]
    for f in front:  # nothing beats a front member on both objectives
        assert not any(o[0] < f[0] and o[1] < f[1] for o in (rec["objectives"] for rec in records))


FAILING = """workflow sq_fail:
    objective: maximize

space:
    x: real(0, 1)

search: random(evals=5, parallel=2, max_failures=2)

rule evaluate:
    foreach: space
    shell: "python3 -c 'import sys; print(\\"no objective here\\"); sys.exit(3 if {x} > 2 else 0)'"
    objective: stdout("DH-OUTPUT")
"""


def test_failed_evaluations_are_failures_and_max_failures_stops_with_exit_5(balsam_db, e2e_root):
    db, env = balsam_db
    path = make_project(e2e_root, "sq_fail", FAILING)
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 5, r.stderr
    assert "max_failures=2" in r.stderr
    records = _results(path, env)
    assert len(records) >= 2 and all(rec["objective"] is None and "DH-OUTPUT" in rec["error"] for rec in records)


def test_submit_no_launch_writes_the_search_driver_job(balsam_db, e2e_root):
    db, env = balsam_db
    text = QUAD.format(wf="sq_submit", evals=4) + "\nlaunch:\n    scheduler: local\n    job_mode: serial\n"
    path = make_project(e2e_root, "sq_submit", text)
    r = run_dhflow(["submit", path, "--no-launch"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    rows = db_query(db, "SELECT name, args, node_packing_count, state FROM core_balsamjob WHERE workflow = %s",
                    ["sq_submit"])
    assert len(rows) == 1
    name, args, packing, state = rows[0]
    assert name == "search-driver" and args.startswith("search-driver ") and str(path) in args
    assert packing > 1 and state == "CREATED"
    again = run_dhflow(["submit", path, "--no-launch"], env, cwd=path.parent)
    assert again.returncode == 0 and "0 new jobs written" in again.stderr, again.stderr
    # MPI mode on one node: dhflow's launcher runs the driver beside it (no worker node taken)
    mpi = run_dhflow(["submit", path, "--no-launch", "--job-mode", "mpi"], env, cwd=path.parent)
    assert mpi.returncode == 0 and "0 new jobs written" in mpi.stderr, mpi.stderr
