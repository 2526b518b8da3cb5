"""End-to-end fixtures: a real PostgreSQL (dhflow's localdb), real Balsam, real launcher.

The session starts one project-local Balsam DB in a temporary directory whose parents are
not private (the PostgreSQL server runs as the `postgres` user when the tests run as
root), with HOME pointed at a private directory and BALSAM_DB_PATH set for the dhflow
subprocesses.  dhflow is driven through `python -m dhflow ...` subprocesses: importing
Balsam has process-wide side effects that must not leak into the test process.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]




@pytest.fixture(scope="session")
def e2e_root():
    # not pytest's tmp_path: its parents are 0700 and the postgres user must reach the DB
    root = Path(tempfile.mkdtemp(prefix="dhflow-e2e-", dir="/tmp" if os.path.isdir("/tmp") else None))
    os.chmod(root, 0o755)
    yield root
    if not os.environ.get("DHFLOW_E2E_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def balsam_db(e2e_root):
    """(db path, env for dhflow subprocesses) of a running Balsam DB, torn down at the end."""
    from importlib.util import find_spec

    if find_spec("balsam") is None:
        pytest.skip("balsam-flow is not installed")
    from dhflow.balsam.localdb import LocalDB, find_pg_binary

    missing = [b for b in ("initdb", "pg_ctl", "postgres") if find_pg_binary(b) is None]
    if missing:
        pytest.skip("PostgreSQL server binaries not found: " + ", ".join(missing))
    home = e2e_root / "home"
    home.mkdir()
    db = LocalDB(e2e_root / "balsamdb")
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        # served with --listen's authentication (a password on every TCP connection): the
        # tests that submit to stub batch schedulers need a DB served to "compute nodes"
        db.ensure_started(quiet=True, listen="127.0.0.1")
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home
    env = dict(os.environ)
    env.update({
        "HOME": str(home),
        "BALSAM_DB_PATH": str(db.path),
        "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.pop("DHFLOW_BALSAM_HOME", None)
    env.pop("DHFLOW_USER_HOME", None)
    yield db.path, env
    if os.environ.get("DHFLOW_E2E_KEEP"):
        db.stop()
    else:
        db.destroy()


def run_dhflow(args, env, *, cwd=None, timeout=300, stdin=subprocess.DEVNULL):
    """`python -m dhflow ARGS` -> CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "dhflow", *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, stdin=stdin)


def db_query(db_path, sql, params=()):
    """Rows of a query against the test DB, through psycopg2 (independent of dhflow); committed."""
    import getpass

    import psycopg2

    info = json.loads((Path(db_path) / "server-info").read_text())
    conn = psycopg2.connect(host=info["host"], port=info["port"], dbname="balsam",
                            user=os.environ.get("BALSAM_USER") or getpass.getuser(), password=info.get("password"))
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


def workflow_counts(db_path) -> dict:
    return dict(db_query(db_path, "SELECT workflow, count(*) FROM core_balsamjob GROUP BY workflow"))


def make_project(root: Path, name: str, text: str, files: dict | None = None) -> Path:
    """A directory (world-readable) holding NAME.dhflow and helper files; returns the .dhflow path."""
    proj = root / name
    proj.mkdir(parents=True, exist_ok=True)
    os.chmod(proj, 0o755)
    for fname, content in (files or {}).items():
        (proj / fname).write_text(content)
    path = proj / f"{name}.dhflow"
    path.write_text(text)
    return path
