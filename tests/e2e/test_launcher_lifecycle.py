"""The launcher's life: a background launcher for `scheduler: local`, and a launcher that
dies before the workflow is done (clear message, exit 3, jobs kept)."""
from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest

from .conftest import make_project, run_dhflow, workflow_counts

pytestmark = pytest.mark.e2e

SPEC = '''
workflow @WF@:

rule first:
    shell: "echo one > marker.txt"

rule second:
    after: first
    shell: "echo two"

launch:
    scheduler: local
    job_mode: mpi
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of another parent is gone for our purpose
        with open(f"/proc/{pid}/stat") as fp:
            return fp.read().split()[2] != "Z"
    except OSError:
        return False


def test_submit_local_starts_a_background_launcher(balsam_db, e2e_root):
    _, env = balsam_db
    spec = make_project(e2e_root, "bglocal", SPEC.replace("@WF@", "bglocal"))
    # jobs of a workflow whose name contains "bglocal": neither run nor waited for
    other = make_project(e2e_root, "bglocal2", SPEC.replace("@WF@", "bglocal2"))
    assert run_dhflow(["submit", other, "--no-launch"], env).returncode == 0
    proc = run_dhflow(["submit", spec], env)
    assert proc.returncode == 0, proc.stderr
    pid = int(re.search(r"pid (\d+)", proc.stdout).group(1))
    try:
        deadline = time.time() + 150
        rules = {}
        while time.time() < deadline:
            st = run_dhflow(["status", spec, "--format", "json"], env)
            rules = json.loads(st.stdout)["rules"]
            if rules == {"first": {"JOB_FINISHED": 1}, "second": {"JOB_FINISHED": 1}}:
                break
            time.sleep(2)
        assert rules == {"first": {"JOB_FINISHED": 1}, "second": {"JOB_FINISHED": 1}}
        # an MPI-mode launcher with nothing left to do exits by itself (~10 idle polls)
        deadline = time.time() + 60
        while _alive(pid) and time.time() < deadline:
            time.sleep(1)
        assert not _alive(pid)
        other_rules = json.loads(run_dhflow(["status", other, "--format", "json"], env).stdout)["rules"]
        assert other_rules == {"first": {"CREATED": 1}, "second": {"CREATED": 1}}
    finally:
        if _alive(pid):
            os.killpg(pid, signal.SIGTERM)


def test_launcher_dying_is_reported(balsam_db, e2e_root, tmp_path):
    db_path, env = balsam_db
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "mpirun"                # an "MPI" that cannot start anything
    fake.write_text("#!/bin/sh\necho 'mpirun: cannot connect to the process manager' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = dict(env, PATH=f"{bindir}{os.pathsep}{env['PATH']}")
    spec = make_project(e2e_root, "dying", SPEC.replace("@WF@", "dying"))
    proc = run_dhflow(["run", spec, "--job-mode", "serial", "--timeout", "120"], env, timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "launcher exited" in proc.stderr and "before workflow dying finished" in proc.stderr
    assert workflow_counts(db_path)["dying"] == 2


def test_timeout_stops_the_launcher_and_its_tasks(balsam_db, e2e_root):
    _, env = balsam_db
    marker = "sleep 120.4711"
    spec = make_project(e2e_root, "napper", f'''
workflow napper:

rule nap:
    shell: "{marker}"
''')
    proc = run_dhflow(["run", spec, "--timeout", "15"], env, timeout=200)
    assert proc.returncode == 3, proc.stderr
    assert "timed out after 15 s" in proc.stderr and "Traceback" not in proc.stderr
    st = json.loads(run_dhflow(["status", spec, "--format", "json"], env).stdout)["rules"]
    assert st["nap"] == {"RUN_TIMEOUT": 1}          # it was running, and was stopped
    time.sleep(1)
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and marker in _cmdline(p)]
    assert leftovers == []


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fp:
            return fp.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
