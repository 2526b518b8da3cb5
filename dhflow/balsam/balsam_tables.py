"""The ``balsam`` database and Balsam's tables in a new project-local server."""
from __future__ import annotations

import os
import subprocess
import sys

from dhflow.errors import BackendError


def create_database(connect: dict) -> None:
    """CREATE DATABASE balsam, unless it exists (``connect``: psycopg2.connect arguments)."""
    import psycopg2

    conn = None
    try:
        conn = psycopg2.connect(**connect, dbname="postgres", connect_timeout=10)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = 'balsam'")
            if cur.fetchone() is None:
                cur.execute("CREATE DATABASE balsam")
    except psycopg2.Error as exc:
        raise BackendError(f"cannot create the 'balsam' database: {str(exc).strip().splitlines()[0]}") from None
    finally:
        if conn is not None:
            conn.close()


def migrate(path: str | os.PathLike, *, quiet: bool = True) -> None:
    """Run Balsam's migrations (balsam.scripts.init.run_migrations) on the DB directory
    ``path``, in a subprocess (importing Balsam has process-wide side effects)."""
    from dhflow.balsam import env as envmod

    env = envmod.subprocess_env(str(path), "local")
    code = (
        "import os, sys\n"
        "os.environ['HOME'] = os.environ['DHFLOW_BALSAM_HOME']\n"
        "from balsam.scripts.init import run_migrations\n"
        "run_migrations()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise BackendError("Balsam migrations failed: " + (lines[-1] if lines else f"exit {proc.returncode}"))
    if not quiet:
        print(f"dhflow: created Balsam tables in {path}", file=sys.stderr)
