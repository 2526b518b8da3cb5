"""`dhflow run` with no BALSAM_DB_PATH: a project-local DB is created next to the file,
reused, and managed with `dhflow db`; the run uses MPI job mode through Balsam's
MPICHCommand, with dhflow's mpirun stand-in when no MPI is installed."""
from __future__ import annotations

import json
import shutil

import pytest

from .conftest import make_project, run_dhflow

pytestmark = pytest.mark.e2e

SPEC = '''
workflow localmpi:
    objective: maximize

rule wide:
    shell: "echo ranks=$PMI_SIZE; echo DH-OUT 7"
    ranks_per_node: 2

rule after:
    after: wide
    shell: "echo after"

rule sweep:
    after: wide
    shell: "echo DH-OUT 5"
'''


@pytest.fixture(scope="module")
def local_project(balsam_db, e2e_root):
    _, env = balsam_db
    env = dict(env)
    env.pop("BALSAM_DB_PATH")
    spec = make_project(e2e_root, "localmpi", SPEC)
    yield spec, env
    run_dhflow(["db", "stop", spec], env)


def test_run_creates_and_uses_a_project_db(local_project):
    spec, env = local_project
    dbdir = spec.parent / ".dhflow" / "db"
    assert not dbdir.exists()
    proc = run_dhflow(["run", spec, "--timeout", "180"], env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "creating a project-local Balsam DB" in proc.stderr
    assert "mpi mode" in proc.stderr                      # ranks_per_node 2: serial mode cannot run it
    assert (dbdir / "server-info").exists()
    out = list((dbdir / "data" / "localmpi").glob("wide_*/wide.out"))
    assert len(out) == 1
    text = out[0].read_text()
    assert "ranks=2" in text                              # mpirun -n 2 --ppn 2 reached the shim (or MPI)
    status = run_dhflow(["status", spec, "--format", "json"], env)
    assert json.loads(status.stdout)["rules"] == {"wide": {"JOB_FINISHED": 1}, "after": {"JOB_FINISHED": 1},
                                                  "sweep": {"JOB_FINISHED": 1}}


def test_serial_mode_refuses_mpi_tasks(local_project):
    spec, env = local_project
    proc = run_dhflow(["run", spec, "--job-mode", "serial"], env)
    assert proc.returncode == 2
    assert "ranks_per_node=2" in proc.stderr


def test_db_stop_status_start(local_project):
    spec, env = local_project
    proc = run_dhflow(["db", "status", spec], env)
    assert proc.returncode == 0 and "running on 127.0.0.1" in proc.stdout, proc.stdout
    proc = run_dhflow(["db", "stop", spec], env)
    assert proc.returncode == 0 and "stopped" in proc.stdout
    proc = run_dhflow(["db", "status", spec], env)
    assert "stopped" in proc.stdout
    # commands that need the DB start it again; the jobs are still there
    proc = run_dhflow(["status", spec], env)
    assert proc.returncode == 0, proc.stderr
    assert "JOB_FINISHED" in proc.stdout
    proc = run_dhflow(["db", "start", spec], env)
    assert proc.returncode == 0 and "export BALSAM_DB_PATH=" in proc.stdout


def test_no_database_yet(e2e_root, balsam_db):
    _, env = balsam_db
    env = dict(env)
    env.pop("BALSAM_DB_PATH")
    spec = make_project(e2e_root, "nodb", SPEC.replace("localmpi", "nodb"))
    proc = run_dhflow(["results", spec], env)
    assert proc.returncode == 3
    assert "nothing has been submitted" in proc.stderr
    assert not (spec.parent / ".dhflow").exists()


def test_postgres_binaries_missing(e2e_root, balsam_db):
    _, env = balsam_db
    env = dict(env, DHFLOW_PG_BIN=str(e2e_root / "no-pg-here"))
    env.pop("BALSAM_DB_PATH")
    spec = make_project(e2e_root, "nopg", SPEC.replace("localmpi", "nopg"))
    proc = run_dhflow(["run", spec], env)
    assert proc.returncode == 3
    assert "PostgreSQL server binaries not found (initdb, pg_ctl, postgres)" in proc.stderr
    assert "Traceback" not in proc.stderr
