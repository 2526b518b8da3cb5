"""The search driver job `dhflow submit` writes (no database): which driver generation a
submission writes, the job's shape, the command it runs, and the dead-lock rule of dhflow's
launcher wrapper. The driver inside the real launcher: tests/e2e/test_search_driver_job.py."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys

from dhflow.balsam.shims.dead_locks import dead_local_locks
from dhflow.runtime.experiment import load_search as load
from dhflow.runtime.search_submit import (DRIVER_PACKING, choose_generation, dhflow_command, driver_key,
                                          driver_task)

TEXT = """workflow ss:
    objective: minimize
space:
    x: real(-5, 5)
search: tpe(evals=EVALS, parallel=2, seed=1)
rule f:
    foreach: space
    shell: "echo DH-OUTPUT {x}"
    objective: stdout("DH-OUTPUT")
"""


def _ctx(tmp_path, evals=6):
    path = tmp_path / "ss.dhflow"
    path.write_text(TEXT.replace("EVALS", str(evals)))
    return load(str(path))


def test_a_driver_is_kept_until_it_failed_and_the_search_is_not_complete(tmp_path):
    ctx = _ctx(tmp_path)
    k0, k1 = driver_key(ctx, 0), driver_key(ctx, 1)
    assert k0 != k1
    assert choose_generation(ctx, {}, complete=False) == 0
    for state in ("CREATED", "RUNNING", "RESTART_READY", "RUN_TIMEOUT", "JOB_FINISHED"):
        assert choose_generation(ctx, {k0: state}, complete=False) == 0, state  # the same job goes on
    for state in ("FAILED", "USER_KILLED"):
        assert choose_generation(ctx, {k0: state}, complete=False) == 1  # a new driver continues
        assert choose_generation(ctx, {k0: state}, complete=True) == 0  # nothing left to drive
    assert choose_generation(ctx, {k0: "FAILED", k1: "RUNNING"}, complete=False) == 1
    assert choose_generation(ctx, {k0: "FAILED", k1: "USER_KILLED"}, complete=False) == 2
    # raising evals is a new driver (its key holds evals), of the same search
    more = _ctx(tmp_path, evals=9)
    assert more.fingerprint == ctx.fingerprint and driver_key(more, 0) not in (k0, k1)


def test_the_driver_task_shares_a_node_and_finds_its_database_in_its_job(tmp_path):
    task = driver_task(_ctx(tmp_path))
    assert (task["name"], task["num_nodes"], task["ranks_per_node"]) == ("search-driver", 1, 1)
    assert task["auto_timeout_retry"] is True
    assert "--db" not in task["args"]  # Balsam sets BALSAM_DB_PATH in every job's environment
    assert task["args"] == f"search-driver {shlex.quote(str((tmp_path / 'ss.dhflow').resolve()))}"
    # Balsam's serial worker starts a task while its node's occupancy stays within 1.001: a
    # node running a whole-node evaluation (occupancy 1) must still take the driver
    assert task["node_packing_count"] == DRIVER_PACKING and 1.0 + 1.0 / DRIVER_PACKING <= 1.001


def test_the_driver_command_runs_this_dhflow_without_pythonpath(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = "import dhflow, sys; print(dhflow.__file__)"
    cmd = shlex.split(dhflow_command())
    assert cmd[0] == sys.executable
    boot = cmd[:-1] + [cmd[-1].replace("runpy.run_module('dhflow', run_name='__main__', alter_sys=True)", probe)] \
        if cmd[1] == "-c" else [sys.executable, "-c", probe]
    out = subprocess.run(boot, env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    import dhflow

    assert os.path.realpath(out) == os.path.realpath(dhflow.__file__)
    version = subprocess.run(cmd + ["--version"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip(), version.stderr


def test_locks_of_dead_processes_of_this_host_only_are_dead():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = os.getppid()
    locks = [f"h1:{gone.pid}", f"h1:{alive}", f"h2:{gone.pid}", "", "h1:notapid", f"h1:{os.getpid()}"]
    assert dead_local_locks(locks, "h1") == [f"h1:{gone.pid}"]
