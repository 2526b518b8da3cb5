"""Version-controlled experiments: submitting a .dhflow file again brings the database in
line with it (real PostgreSQL, real Balsam models; `submit --no-launch`, no launcher).

Unchanged file: no row written or updated.  An edited point range: only the new points
(and what depends on them) are new.  A changed command: the rule's tasks are new, the old
jobs orphaned until `--prune`.  Two concurrent submissions: no duplicates.  A submission
killed in the middle of its COPY: all or nothing.  History and provenance.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

SWEEP = """
workflow @WF@:
    objective: minimize
space:
    x: int(1, @HI@)
sample: grid(levels=100)
rule prep:
    shell: "echo prep"
rule train:
    foreach: space
    after: prep
    shell: "echo DH-OUTPUT: {x}"
    objective: stdout("DH-OUTPUT")
rule report:
    after: train
    shell: "echo report"
"""


def sweep(wf: str, hi: int = 3, command: str = "echo DH-OUTPUT: {x}") -> str:
    return SWEEP.replace("@WF@", wf).replace("@HI@", str(hi)).replace("echo DH-OUTPUT: {x}", command)


def jobs(db_path, wf) -> dict:
    """name -> (job_id, xmin, state) of the workflow's jobs (xmin changes with every UPDATE)."""
    rows = db_query(db_path, "SELECT name, job_id::text, xmin::text, state FROM core_balsamjob WHERE workflow = %s",
                    (wf,))
    out = {}
    for name, job_id, xmin, state in rows:
        assert name not in out, f"duplicate job {name}"
        out[name] = (job_id, xmin, state)
    return out


def history(spec, env) -> list[dict]:
    proc = run_dhflow(["history", spec, "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def submit(spec, env, *extra):
    proc = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local", *extra], env)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_resubmit_unchanged_writes_and_updates_nothing(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "rsu", sweep("rsu"))
    first = submit(spec, env)
    assert "5 new jobs written" in first.stderr
    before = jobs(db_path, "rsu")
    assert len(before) == 5 and {s for _, _, s in before.values()} == {"CREATED"}
    apps_before = db_query(db_path, "SELECT name, xmin::text FROM core_applicationdefinition WHERE name LIKE 'rsu.%%'")
    again = submit(spec, env)
    assert "0 new jobs written, 5 unchanged" in again.stderr
    # same rows, same ids, and not one UPDATE (xmin is the id of the last writing transaction)
    assert jobs(db_path, "rsu") == before
    assert db_query(db_path, "SELECT name, xmin::text FROM core_applicationdefinition WHERE name LIKE 'rsu.%%'") \
        == apps_before
    subs = history(spec, env)
    assert [(s["added"], s["kept"], s["rerun"], s["pruned"], s["orphaned"]) for s in subs] == \
        [(0, 5, 0, 0, 0), (5, 0, 0, 0, 0)]


def test_edit_point_range_adds_only_the_new_points(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "rsr", sweep("rsr", hi=3))
    submit(spec, env)
    before = jobs(db_path, "rsr")
    spec.write_text(sweep("rsr", hi=5))
    # the plan explains itself first (and writes nothing)
    dry = run_dhflow(["submit", spec, "--dry-run", "--no-launch", "--scheduler", "local"], env)
    assert dry.returncode == 0, dry.stderr
    assert "new point (2)" in dry.stdout and "upstream changed (1)" in dry.stdout
    assert jobs(db_path, "rsr") == before
    proc = submit(spec, env)
    assert "3 new jobs written, 4 unchanged" in proc.stderr
    assert "1 jobs of this workflow are no longer in the file" in proc.stderr  # the old gather
    after = jobs_by_id(db_path, "rsr")
    assert len(after) == 8
    for name in ("prep", "train.0", "train.1", "train.2", "report"):
        job_id, xmin, _ = before[name]
        assert after[job_id] == (name, xmin)                   # kept (or orphaned): same job, untouched
    new = {name: jid for jid, (name, _) in after.items() if jid not in {v[0] for v in before.values()}}
    assert sorted(new) == ["report", "train.3", "train.4"]
    # the new points' jobs hang under the existing prep job; the new report gathers all five
    parents = dict(db_query(db_path, "SELECT job_id::text, parents FROM core_balsamjob WHERE workflow = 'rsr'"))
    assert json.loads(parents[new["train.3"]]) == [before["prep"][0]]
    trains = [before[f"train.{i}"][0] for i in range(3)] + [new["train.3"], new["train.4"]]
    assert sorted(json.loads(parents[new["report"]])) == sorted(trains)


def jobs_by_id(db_path, wf) -> dict:
    return {jid: (name, xmin) for name, jid, xmin in
            db_query(db_path, "SELECT name, job_id::text, xmin::text FROM core_balsamjob WHERE workflow = %s", (wf,))}


def test_changed_command_renews_the_rule_and_prune_removes_orphans(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "rsc", sweep("rsc"))
    submit(spec, env)
    old = jobs_by_id(db_path, "rsc")
    spec.write_text(sweep("rsc", command="echo DH-OUTPUT: {x}; echo v2"))
    plan = run_dhflow(["submit", spec, "--dry-run", "--no-launch", "--scheduler", "local"], env)
    assert "changed command (3)" in plan.stdout, plan.stdout
    proc = submit(spec, env)
    assert "4 new jobs written, 1 unchanged" in proc.stderr
    assert "4 jobs of this workflow are no longer in the file" in proc.stderr
    now = jobs_by_id(db_path, "rsc")
    assert len(now) == 9 and set(old) <= set(now)
    status = run_dhflow(["status", spec, "--format", "json"], env)
    assert json.loads(status.stdout)["stale_jobs"] == 4
    # --prune deletes exactly the orphans; the kept prep job is untouched
    pruned = submit(spec, env, "--prune")
    assert "4 orphaned jobs removed" in pruned.stderr
    final = jobs_by_id(db_path, "rsc")
    assert len(final) == 5
    kept = [jid for jid, (name, _) in old.items() if name == "prep"][0]
    assert final[kept] == old[kept]
    assert not set(final) & (set(old) - {kept})
    subs = history(spec, env)
    assert [(s["added"], s["kept"], s["pruned"], s["orphaned"]) for s in subs] == \
        [(0, 5, 4, 0), (4, 1, 0, 4), (5, 0, 0, 0)]
    assert subs[0]["options"] == "--prune"


def _connect(db_path):
    import psycopg2

    info = json.loads((Path(db_path) / "server-info").read_text())
    conn = psycopg2.connect(host=info["host"], port=info["port"], dbname="balsam",
                            user=os.environ.get("BALSAM_USER") or getpass.getuser(), password=info.get("password"))
    conn.autocommit = True
    return conn


def test_concurrent_submissions_create_no_duplicates(balsam_db, e2e_root):
    """Two processes submit the same file at once; the workflow's advisory lock serialises them."""
    from dhflow.balsam.store import _lock_id

    db_path, env = balsam_db
    spec = make_project(e2e_root, "rscc", sweep("rscc").replace("levels=100", "levels=3000")
                        .replace("int(1, 3)", "int(1, 3000)"))
    cmd = [sys.executable, "-m", "dhflow", "submit", str(spec), "--no-launch", "--scheduler", "local"]
    conn = _connect(db_path)
    cur = conn.cursor()
    # hold the workflow's lock so that both submissions are inside their transactions, waiting
    cur.execute("SELECT pg_advisory_lock(%s)", [_lock_id("rscc")])
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        waiting = 0
        while time.monotonic() < deadline and waiting < 2:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE '%%pg_advisory_xact_lock%%'")
            waiting = cur.fetchone()[0]
            time.sleep(0.05)
        assert waiting == 2, [p.poll() for p in procs]
    finally:
        cur.execute("SELECT pg_advisory_unlock(%s)", [_lock_id("rscc")])
        conn.close()
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    count, distinct = db_query(db_path, "SELECT count(*), count(DISTINCT data->>'dhflow_key') FROM core_balsamjob "
                                        "WHERE workflow = 'rscc'")[0]
    assert count == distinct == 3002
    subs = history(spec, env)
    assert sorted((s["added"], s["kept"]) for s in subs) == [(0, 3002), (3002, 0)]
    assert sorted("3002 new jobs written" in err for _, err in outs) == [False, True]


def test_interrupted_submission_leaves_all_or_nothing(balsam_db, e2e_root):
    """SIGKILL while the COPY of a big plan is in progress: the transaction dies with it."""
    db_path, env = balsam_db
    n = 40000
    spec = make_project(e2e_root, "rsk", sweep("rsk").replace("levels=100", f"levels={n}")
                        .replace("int(1, 3)", f"int(1, {n})"))
    conn = _connect(db_path)
    cur = conn.cursor()
    proc = subprocess.Popen([sys.executable, "-m", "dhflow", "submit", str(spec), "--no-launch", "--scheduler",
                             "local"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        seen = False
        while time.monotonic() < deadline and proc.poll() is None:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                        "AND query LIKE 'COPY core_balsamjob%%'")
            if cur.fetchone()[0]:
                seen = True
                break
            time.sleep(0.005)
        assert seen, "the COPY was never observed in progress"
        time.sleep(0.05)                       # inside the COPY of 40k rows (about a second)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # the server notices the dead client and rolls its transaction back
        for _ in range(200):
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY core_balsamjob%%' "
                        "AND pid <> pg_backend_pid()")
            if cur.fetchone()[0] == 0:
                break
            time.sleep(0.05)
        cur.execute("SELECT count(*) FROM core_balsamjob WHERE workflow = 'rsk'")
        count = cur.fetchone()[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        conn.close()
    assert proc.returncode == -signal.SIGKILL
    assert count == 0, "killed mid-COPY, so nothing may be visible"
    # the submission record went with it; submitting again writes everything once
    assert history(spec, env) == []
    again = submit(spec, env)
    assert f"{n + 2} new jobs written" in again.stderr
    assert db_query(db_path, "SELECT count(*) FROM core_balsamjob WHERE workflow = 'rsk'")[0][0] == n + 2


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def test_provenance_in_job_data_and_history(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "rsp", sweep("rsp"), {"notes.txt": "v1\n"})
    _git(spec.parent, "init", "-q")
    _git(spec.parent, "add", "rsp.dhflow", "notes.txt")
    _git(spec.parent, "commit", "-qm", "experiment v1")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=spec.parent, capture_output=True, text=True).stdout.strip()
    submit(spec, env)
    data = db_query(db_path, "SELECT data FROM core_balsamjob WHERE workflow = 'rsp' AND name = 'train.0'")[0][0]
    data = data if isinstance(data, dict) else json.loads(data)
    prov = data["dhflow_provenance"]
    assert prov["spec_path"] == str(spec.resolve())
    assert prov["spec_sha256"] == hashlib.sha256(spec.read_bytes()).hexdigest()
    assert prov["git_commit"] == head and prov["git_dirty"] is False and prov["spec_committed"] is True
    assert prov["dhflow_version"] and prov["submitted_at"].endswith("+00:00")
    assert isinstance(prov["submission"], int)
    assert set(data["dhflow_parts"]) == {"command", "app", "resources", "env", "objective", "upstream"}
    # an uncommitted edit elsewhere in the work tree, and a new point: the new jobs say so
    (spec.parent / "notes.txt").write_text("v2\n")
    spec.write_text(sweep("rsp", hi=4))
    submit(spec, env)
    rows = db_query(db_path, "SELECT name, data FROM core_balsamjob WHERE workflow = 'rsp' AND name LIKE 'train.%%'")
    provs = {name: (d if isinstance(d, dict) else json.loads(d))["dhflow_provenance"] for name, d in rows}
    assert provs["train.0"]["git_dirty"] is False            # kept jobs keep their own provenance
    assert provs["train.3"]["git_dirty"] is True and provs["train.3"]["spec_committed"] is False
    assert provs["train.3"]["submission"] > provs["train.0"]["submission"]
    subs = history(spec, env)
    assert [s["git_dirty"] for s in subs] == [True, False]
    assert all(s["git_commit"] == head for s in subs)
    assert [(s["added"], s["kept"], s["orphaned"]) for s in subs] == [(2, 4, 1), (5, 0, 0)]
    table = run_dhflow(["history", spec], env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "2 submissions, newest first" in lines[0]
    assert lines[1].split()[:3] == ["#", "submitted", "(UTC)"]
    assert head[:10] in lines[2] and " yes " in lines[2] and " no " in lines[3]


def test_plan_against_db(balsam_db, e2e_root):
    """cli.runtime_commands.cmd_plan_against_db / add_against_db_options, as `dhflow plan` wires them."""
    db_path, env = balsam_db
    spec = make_project(e2e_root, "rsa", sweep("rsa"))
    submit(spec, env)
    spec.write_text(sweep("rsa", hi=4))
    script = (
        "import argparse, sys\n"
        "from dhflow.cli import runtime_commands as runtime_cli\n"
        "p = argparse.ArgumentParser()\n"
        "p.add_argument('file')\n"
        "p.add_argument('--format', default='table')\n"
        "runtime_cli.add_against_db_options(p)\n"
        "args = p.parse_args(sys.argv[1:])\n"
        "assert args.against_db\n"
        "sys.exit(runtime_cli.guarded(runtime_cli.cmd_plan_against_db)(args))\n")
    proc = subprocess.run([sys.executable, "-c", script, str(spec), "--against-db"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "RULE" in proc.stdout and "new point (1)" in proc.stdout
    train = [ln for ln in proc.stdout.splitlines() if ln.startswith("train")][0].split()
    assert train[1:5] == ["1", "3", "0", "0"]
    proc = subprocess.run([sys.executable, "-c", script, str(spec), "--against-db", "--format", "json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["rules"]["train"] == {"new": 1, "unchanged": 3, "rerun": 0, "orphaned": 0}
    assert out["rules"]["report"] == {"new": 1, "unchanged": 0, "rerun": 0, "orphaned": 1}
    # nothing was written by looking
    assert db_query(db_path, "SELECT count(*) FROM core_balsamjob WHERE workflow = 'rsa'")[0][0] == 5
    # no database yet (nothing submitted): every task is new, exit 0
    dead = dict(env, BALSAM_DB_PATH=str(e2e_root / "no-db-here"))
    proc = subprocess.run([sys.executable, "-c", script, str(spec), "--against-db"], env=dead,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "not created yet, every task is new" in proc.stdout, proc.stderr
    train = [ln for ln in proc.stdout.splitlines() if ln.startswith("train")][0].split()
    assert train[1:5] == ["4", "0", "0", "0"]
    # a database that exists but cannot be reached: exit 3, one line
    unreachable = e2e_root / "db-not-running"
    unreachable.mkdir(exist_ok=True)
    (unreachable / "server-info").write_text(json.dumps({"host": "127.0.0.1", "port": 1}))
    proc = subprocess.run([sys.executable, "-c", script, str(spec), "--against-db"],
                          env=dict(env, BALSAM_DB_PATH=str(unreachable)), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
