"""`dhflow run` on the event-driven launcher (dhflow/balsam/shims/fast_launcher.py): dependencies
still order the tasks; a 3-rank task runs 3 processes (a real MPICH when installed, and
dhflow's mpirun stand-in when forced); the wake-up channel itself."""
from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
import threading

import pytest

from .conftest import make_project, run_dhflow

pytestmark = pytest.mark.e2e

STAMP = r'''
import json, os, sys, time
name = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
start = time.time()
time.sleep(0.05)
os.makedirs(os.path.join(here, "events"), exist_ok=True)
with open(os.path.join(here, "events", name + ".json"), "w") as fp:
    json.dump({"start": start, "end": time.time()}, fp)
'''

CHAIN = '''
workflow fastchain:
    objective: maximize
space:
    k: choice(1, 2, 3, 4)
sample: grid(levels=4)
rule first:
    shell: "@PY@ {here}/stamp.py first"
rule second:
    after: first
    shell: "@PY@ {here}/stamp.py second"
rule fan:
    foreach: space
    after: second
    shell: "@PY@ {here}/stamp.py fan-{index}"
rule gather:
    after: fan
    shell: "@PY@ {here}/stamp.py gather"
rule last:
    after: gather
    shell: "@PY@ {here}/stamp.py last"
'''


def test_chain_order_under_the_fast_launcher(balsam_db, e2e_root):
    _, env = balsam_db
    spec = make_project(e2e_root, "fastchain", CHAIN.replace("@PY@", sys.executable),
                        {"stamp.py": STAMP})
    proc = run_dhflow(["run", spec, "--timeout", "240"], env, timeout=400)
    assert proc.returncode == 0, proc.stderr
    events = {p.stem: json.loads(p.read_text()) for p in (spec.parent / "events").glob("*.json")}
    fans = [k for k in events if k.startswith("fan-")]
    assert len(fans) == 4 and {"first", "second", "gather", "last"} <= set(events)
    assert events["second"]["start"] >= events["first"]["end"]
    for fan in fans:
        assert events[fan]["start"] >= events["second"]["end"]
    assert events["gather"]["start"] >= max(events[f]["end"] for f in fans)
    assert events["last"]["start"] >= events["gather"]["end"]
    status = run_dhflow(["status", spec, "--format", "json"], env)
    rules = json.loads(status.stdout)["rules"]
    assert rules == {"first": {"JOB_FINISHED": 1}, "second": {"JOB_FINISHED": 1}, "fan": {"JOB_FINISHED": 4},
                     "gather": {"JOB_FINISHED": 1}, "last": {"JOB_FINISHED": 1}}


RANKS = '''
workflow @WF@:
    objective: maximize
rule wide:
    shell: "echo rank=$PMI_RANK size=$PMI_SIZE pid=$$ standin=${{DHFLOW_MPI_RANK:-no}}"
    ranks_per_node: 3
'''


def _rank_lines(spec, wf):
    out = list((spec.parent / ".dhflow" / "db" / "data" / wf).glob("wide_*/wide.out"))
    assert len(out) == 1
    rows = []
    for line in out[0].read_text().splitlines():
        label = re.match(r"\[(\d+)\] ", line)  # MPICH labels a multi-rank task's lines (`-l`)
        body = line[label.end():] if label else line
        if body.startswith("rank="):
            rows.append(dict(kv.split("=", 1) for kv in body.split()))
            if label:
                assert label.group(1) == rows[-1]["rank"], line
    return sorted(rows, key=lambda r: r["rank"])


def _project_env(balsam_db):
    _, env = balsam_db
    env = dict(env)
    env.pop("BALSAM_DB_PATH")  # a project-local DB: its data directory is next to the file
    return env


def test_three_rank_task_runs_three_mpi_processes(balsam_db, e2e_root):
    from dhflow.balsam.env import real_mpirun_kind

    if real_mpirun_kind() != "mpich":
        pytest.skip("no MPICH mpirun on PATH (scripts/setup.sh installs Debian's mpich as root)")
    env = _project_env(balsam_db)
    env.pop("DHFLOW_MPIRUN_SHIM", None)
    spec = make_project(e2e_root, "mpiranks", RANKS.replace("@WF@", "mpiranks"))
    try:
        proc = run_dhflow(["run", spec, "--job-mode", "mpi", "--timeout", "180"], env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        rows = _rank_lines(spec, "mpiranks")
        assert [r["rank"] for r in rows] == ["0", "1", "2"]
        assert {r["size"] for r in rows} == {"3"}
        assert len({r["pid"] for r in rows}) == 3
        assert {r["standin"] for r in rows} == {"no"}       # MPICH's launcher, not dhflow's stand-in
        assert "stand-in" not in proc.stderr
    finally:
        run_dhflow(["db", "stop", spec], env)


def test_stand_in_runs_one_process_per_rank(balsam_db, e2e_root):
    env = _project_env(balsam_db)
    env["DHFLOW_MPIRUN_SHIM"] = "1"  # the stand-in even where an MPI is installed
    spec = make_project(e2e_root, "standinranks", RANKS.replace("@WF@", "standinranks"))
    try:
        proc = run_dhflow(["run", spec, "--job-mode", "mpi", "--timeout", "180"], env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        rows = _rank_lines(spec, "standinranks")
        assert [r["rank"] for r in rows] == ["0", "1", "2"]
        assert {r["size"] for r in rows} == {"3"}
        assert len({r["pid"] for r in rows}) == 3
        assert [r["standin"] for r in rows] == ["0", "1", "2"]
        assert "mpirun stand-in" in proc.stderr              # the run summary says so
    finally:
        run_dhflow(["db", "stop", spec], env)


def test_waker_wakes_on_notify_and_filters_releases(balsam_db):
    """The LISTEN/NOTIFY channel: a state change wakes a waiting process, a transition
    process's lock release does not wake another transition process."""
    import psycopg2

    from dhflow.balsam.shims import pg_wakeup

    db_path, _ = balsam_db
    info = json.loads((db_path / "server-info").read_text())
    kwargs = {"host": info["host"], "port": info["port"], "dbname": "balsam",
              "user": os.environ.get("BALSAM_USER") or getpass.getuser(), "password": info.get("password")}
    waker = pg_wakeup.Waker(kwargs, ignore_releases_from=("t",), signals=False)

    def send(payload):
        conn = psycopg2.connect(**kwargs)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_notify(%s, %s)", [pg_wakeup.CHANNEL, payload])
        conn.close()

    try:
        assert waker.wait(0.05) == "timeout"
        send("r:t:1")                                   # a release by a transition process
        assert waker.wait(0.3) == "timeout"
        timer = threading.Timer(0.2, send, ["s:t:1"])   # a state change, while waiting
        timer.start()
        assert waker.wait(60) == "notify"
        timer.join()
        send("r:l:1")                                   # a release by the launcher
        assert waker.wait(60) == "notify"
    finally:
        waker.close_db()
