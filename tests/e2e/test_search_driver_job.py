"""`dhflow submit` of a search: the driver runs as a job inside the real launcher, with the
real database, in both job modes, and a SIGKILLed launcher (with its driver) followed by
`dhflow submit` or `dhflow run` again ends with exactly `evals` evaluations, none repeated,
the finished ones kept; a further run runs nothing and a further submit writes nothing.

MPI mode on this one-node machine is the case a driver holding a node would deadlock: dhflow's
launcher runs the driver beside itself (dhflow/balsam/shims/driver_beside.py)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

SEARCH = """workflow {wf}:
    objective: minimize

space:
    x: real(-5, 5)
    y: int(-3, 3)

search: tpe(evals={evals}, parallel=2, seed=3, initial=2)

rule evaluate:
    foreach: space
    shell: "python3 -c 'import time; time.sleep({sleep}); print(\\"DH-OUTPUT:\\", ({{x}} - 1) ** 2 + ({{y}} - 2) ** 2)'"
    objective: stdout("DH-OUTPUT")

launch:
    scheduler: local
    job_mode: {mode}
"""


EVALS = 8  # the kill test's budget: room for two kills before the end


def _project(root, wf, mode, sleep=0, evals=6):
    return make_project(root, wf, SEARCH.format(wf=wf, mode=mode, sleep=sleep, evals=evals))


def _trials(db, wf):
    return db_query(db, "SELECT trial, job_key FROM dhflow_search_trial WHERE workflow = %s ORDER BY trial", [wf])


def _evaluations(db, wf):
    return db_query(db, "SELECT data->>'dhflow_key', state FROM core_balsamjob WHERE workflow = %s "
                        "AND name <> 'search-driver'", [wf])


def _drivers(db, wf):
    return db_query(db, "SELECT state, state_history FROM core_balsamjob WHERE workflow = %s "
                        "AND name = 'search-driver'", [wf])


def _launcher_pid(r) -> int:
    m = re.search(r"launcher started in the background \(pid (\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    return int(m.group(1))


def _submit(path, env, *extra):
    """`dhflow submit`; a serial launcher waits for the host-wide serial lock other runs hold."""
    from dhflow.balsam.launcher import acquire_serial_lock

    deadline = time.monotonic() + 240
    while True:
        r = run_dhflow(["submit", path, *extra], env, cwd=path.parent)
        if "another Balsam serial launcher" not in r.stderr or time.monotonic() > deadline:
            return r
        os.close(acquire_serial_lock(wait=None))  # wait until it is free, then try again


def _stop(pid, sig=signal.SIGTERM):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def _wait(cond, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _driver_finished(db, wf):
    return lambda: [s for s, _ in _drivers(db, wf)] == ["JOB_FINISHED"]


def _assert_complete(db, wf, before=(), evals=6):
    trials = _trials(db, wf)
    assert [t for t, _ in trials] == list(range(evals))
    assert trials[:len(before)] == list(before)  # the trials before the kill are kept as they were
    jobs = _evaluations(db, wf)
    assert len(jobs) == len({k for k, _ in jobs}) == len({k for _, k in trials})  # none written twice
    assert all(state == "JOB_FINISHED" for _, state in jobs)


def test_submit_serial_runs_the_whole_search_as_a_job_of_the_launcher(balsam_db, e2e_root):
    db, env = balsam_db
    wf = "sdj_serial"
    path = _project(e2e_root, wf, "serial")
    r = _submit(path, env)
    assert r.returncode == 0, r.stderr
    pid = _launcher_pid(r)
    try:
        _wait(_driver_finished(db, wf), "the driver job to finish")
    finally:
        _stop(pid)
    _assert_complete(db, wf)
    (state, history), = _drivers(db, wf)
    out = next((e2e_root / "balsamdb" / "data" / wf).glob("search-driver_*/search-driver.out")).read_text()
    assert "6 evaluations (0 failed, 6 proposed by this run)" in out, out
    results = json.loads(run_dhflow(["results", path, "--format", "json"], env).stdout)
    assert sorted(rec["trial"] for rec in results) == list(range(6))
    again = run_dhflow(["submit", path, "--no-launch"], env, cwd=path.parent)
    assert again.returncode == 0 and "0 new jobs written" in again.stderr, again.stderr


def _kill_mid_search(db, wf, path, pid, finished):
    """SIGKILL the launcher's process group and the driver once `finished` evaluations are final."""
    _wait(lambda: sum(s == "JOB_FINISHED" for _, s in _evaluations(db, wf)) >= finished, f"{finished} evaluations")
    drivers = subprocess.run(["pgrep", "-f", f"search-driver {path}"], capture_output=True, text=True).stdout.split()
    assert drivers, "the driver is not running"
    _stop(pid, signal.SIGKILL)
    for d in drivers:
        try:
            os.kill(int(d), signal.SIGKILL)
        except ProcessLookupError:
            pass
    before = _trials(db, wf)
    final = sum(s == "JOB_FINISHED" for _, s in _evaluations(db, wf))
    assert final < len(before) or len(before) < EVALS, before  # killed mid-way
    assert [s for s, _ in _drivers(db, wf)] == ["RUNNING"]  # as the killed launcher left it
    return before


def test_mpi_driver_killed_then_submitted_then_run_again_ends_with_evals(balsam_db, e2e_root):
    """submit --no-launch; submit (the launcher); SIGKILL; submit again (the same driver job
    continues); SIGKILL; `dhflow run` (drives it here, the driver job superseded); run and
    submit again: nothing to do."""
    db, env = balsam_db
    wf = "sdj_mpi"
    path = _project(e2e_root, wf, "mpi", sleep=1, evals=EVALS)
    r = run_dhflow(["submit", path, "--no-launch"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    assert [s for s, _ in _drivers(db, wf)] == ["CREATED"]
    # --no-launch, then the launcher: `dhflow submit` again writes nothing and starts it
    r = run_dhflow(["submit", path], env, cwd=path.parent)
    assert r.returncode == 0 and "0 new jobs written" in r.stderr, r.stderr
    first = _kill_mid_search(db, wf, path, _launcher_pid(r), 2)
    again = run_dhflow(["submit", path], env, cwd=path.parent)
    assert again.returncode == 0 and "0 new jobs written" in again.stderr, again.stderr  # the same driver job
    second = _kill_mid_search(db, wf, path, _launcher_pid(again), 4)
    assert second[:len(first)] == first and len(second) > len(first)  # it went on from where it was
    (_, history), = _drivers(db, wf)
    # the one driver job ran twice: the killed launcher's lock was freed at once (RUNNING ->
    # RESTART_READY, as Balsam does after 3 minutes), and the second launcher started it again
    assert history.count(" RUNNING]") == 2, history
    run = run_dhflow(["run", path], env, cwd=path.parent)
    assert run.returncode == 0, run.stderr
    assert "resuming search" in run.stderr
    _assert_complete(db, wf, second, EVALS)
    assert [s for s, _ in _drivers(db, wf)] == ["USER_KILLED"]  # superseded: one driver at a time
    third = run_dhflow(["run", path], env, cwd=path.parent)
    assert third.returncode == 0 and "0 proposed by this run" in third.stderr, third.stderr
    # a finished search submitted again writes no new driver: nothing is left to drive
    fourth = run_dhflow(["submit", path, "--no-launch"], env, cwd=path.parent)
    assert fourth.returncode == 0 and "0 new jobs written" in fourth.stderr, fourth.stderr


def test_a_search_submitted_to_a_batch_scheduler_runs_in_the_allocation_without_pythonpath(
        balsam_db, e2e_root, tmp_path):
    """`dhflow submit` to PBS (a stub qsub keeps the script); the script then runs as the
    allocation would: a bare environment (no PYTHONPATH, no BALSAM_DB_PATH), one node in
    $PBS_NODEFILE, MPI mode. The driver runs beside the launcher and the search completes."""
    db, env = balsam_db
    wf = "sdj_pbs"
    text = SEARCH.format(wf=wf, mode="mpi", sleep=0, evals=4).replace(
        "scheduler: local", 'scheduler: pbs\n    nodes: 1\n    wall_time: 10\n    project: "p"\n    queue: "q"')
    path = make_project(e2e_root, wf, text)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "qsub").write_text('#!/bin/sh\necho "4242.pbs"\n')
    (bindir / "qsub").chmod(0o755)
    r = run_dhflow(["submit", path], dict(env, PATH=f"{bindir}{os.pathsep}{env['PATH']}"), cwd=path.parent)
    assert r.returncode == 0, r.stderr
    script = re.search(r"script: (\S+)", r.stdout).group(1)
    nodes = tmp_path / "nodes"
    nodes.write_text(subprocess.run(["hostname"], capture_output=True, text=True).stdout)
    bare = {"HOME": env["HOME"], "PATH": "/usr/bin:/bin", "PBS_NODEFILE": str(nodes), "PBS_JOBID": "4242.pbs",
            "PBS_O_WORKDIR": str(path.parent)}
    job = subprocess.Popen(["bash", script], env=bare, cwd=path.parent, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(_driver_finished(db, wf), "the driver job to finish in the allocation")
    finally:
        _stop(job.pid)
        job.wait(timeout=10)
    trials = _trials(db, wf)
    assert [t for t, _ in trials] == list(range(4))
    assert all(state == "JOB_FINISHED" for _, state in _evaluations(db, wf))


def test_submit_refuses_a_second_driver_while_another_process_drives_the_search(balsam_db, e2e_root):
    """While a `dhflow run` drives the search (it holds the workflow's driver lock), `dhflow
    submit` would write a driver job that could only fail on that lock: it is refused, and
    nothing is written; once the lock is free, the same submit writes the driver."""
    import getpass

    import psycopg2

    from dhflow.balsam.searchstore import _lock_key

    db, env = balsam_db
    wf = "sdj_busy"
    path = _project(e2e_root, wf, "serial")
    info = json.loads(open(os.path.join(db, "server-info")).read())
    holder = psycopg2.connect(host=info["host"], port=info["port"], dbname="balsam",
                              user=os.environ.get("BALSAM_USER") or getpass.getuser(), password=info.get("password"))
    holder.autocommit = True
    try:
        with holder.cursor() as cur:  # what `dhflow run`'s driver holds while it drives
            cur.execute("SELECT pg_advisory_lock(%s)", [_lock_key(wf)])
        r = run_dhflow(["submit", path, "--no-launch"], env, cwd=path.parent)
        assert r.returncode == 3, r.stderr
        assert "a search driver is running workflow sdj_busy now" in r.stderr and "nothing was written" in r.stderr
        assert "Traceback" not in r.stderr
        assert _drivers(db, wf) == [] and _evaluations(db, wf) == []
    finally:
        holder.close()  # the lock goes with the session
    r = run_dhflow(["submit", path, "--no-launch"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    assert [s for s, _ in _drivers(db, wf)] == ["CREATED"]
    # `dhflow status` shows the driver job and where its output goes (read by name, not by
    # reading every job of the workflow)
    st = run_dhflow(["status", path], env, cwd=path.parent)
    assert st.returncode == 0, st.stderr
    assert re.search(r"search driver job: CREATED; output: \S+/search-driver\.out", st.stdout), st.stdout
    st = json.loads(run_dhflow(["status", path, "--format", "json"], env, cwd=path.parent).stdout)
    assert st["search"]["driver_job"]["state"] == "CREATED"
    assert st["search"]["driver_job"]["output"].endswith("search-driver.out")
