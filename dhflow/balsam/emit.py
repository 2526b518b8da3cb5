"""``dhflow emit``'s write: one value into the running job's own ``data``, over psycopg2.

No Balsam or Django import (an app may emit many values; each ``dhflow emit`` is a short
process): the job's row is updated with one statement, on the connection that the DB
directory's ``server-info`` describes (host, port, user, password; see
:mod:`dhflow.balsam.serverinfo`).  Only the named key changes; Balsam's own state updates
write ``state``, ``state_history`` and ``lock`` only, so they never undo it.
"""
from __future__ import annotations

import getpass
import json
import os

from dhflow.balsam.auth import connect_args
from dhflow.balsam.serverinfo import read_server_info
from dhflow.errors import BackendError


def _connect(db_path: str):
    import psycopg2

    info = read_server_info(db_path)
    if not info.get("host") or not info.get("port"):
        raise BackendError(f"the Balsam DB {db_path} is not running (its server-info has no host and port)")
    user = os.environ.get("BALSAM_USER") or getpass.getuser()
    try:
        return psycopg2.connect(**connect_args(info, user), dbname="balsam", connect_timeout=30)
    except psycopg2.Error as exc:
        raise BackendError(f"cannot reach the Balsam database at {info['host']}:{info['port']}: "
                           f"{str(exc).strip().splitlines()[0]}") from None


def objective_spec(db_path: str, job_id: str) -> dict | None:
    """The job's ``dhflow_objective`` (where results read its objective), or None."""
    import psycopg2

    conn = _connect(db_path)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT data->'dhflow_objective' FROM core_balsamjob WHERE job_id = %s::uuid", [job_id])
            row = cur.fetchone()
    except psycopg2.Error as exc:
        raise BackendError(f"cannot read job {job_id}: {str(exc).strip().splitlines()[0]}") from None
    finally:
        conn.close()
    if row is None:
        raise BackendError(f"no job {job_id} (BALSAM_JOB_ID) in the Balsam DB {db_path}")
    spec = row[0]
    if isinstance(spec, str):
        spec = json.loads(spec)
    return spec if isinstance(spec, dict) else None


def put(db_path: str, job_id: str, key: str, value_json: str) -> None:
    """Set ``data[key]`` of job ``job_id`` to the JSON value ``value_json`` (one statement)."""
    import psycopg2

    conn = _connect(db_path)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("UPDATE core_balsamjob SET data = data || jsonb_build_object(%s::text, %s::jsonb) "
                        "WHERE job_id = %s::uuid", [key, value_json, job_id])
            if cur.rowcount != 1:
                raise BackendError(f"no job {job_id} (BALSAM_JOB_ID) in the Balsam DB {db_path}")
    except psycopg2.Error as exc:
        raise BackendError(f"cannot write data[{key!r}] of job {job_id}: "
                           f"{str(exc).strip().splitlines()[0]}") from None
    finally:
        conn.close()


def command_dir(db_path: str) -> str:
    """A directory holding a ``dhflow`` command that runs this dhflow (this interpreter, this
    package), for the PATH of the jobs a local launcher runs: apps call ``dhflow emit``
    whether or not dhflow is on the user's PATH.  (A batch script's PATH starts with the
    directory of the ``balsam`` command, where pip installs ``dhflow`` too.)"""
    import shlex
    import sys

    import dhflow

    target = os.path.join(db_path, "dhflow", "bin")
    os.makedirs(target, exist_ok=True)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(dhflow.__file__)))
    text = ("#!/bin/sh\n# dhflow's command for the jobs of this Balsam DB (see dhflow.balsam.emit)\n"
            f"PYTHONPATH={shlex.quote(package_parent)}${{PYTHONPATH:+:$PYTHONPATH}} "
            f"exec {shlex.quote(sys.executable)} -m dhflow \"$@\"\n")
    path = os.path.join(target, "dhflow")
    try:
        with open(path) as fp:
            current = fp.read()
    except OSError:
        current = None
    if current != text:
        tmp = path + ".tmp"
        with open(tmp, "w") as fp:
            fp.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    return target
