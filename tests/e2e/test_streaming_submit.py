"""`dhflow submit` compiles while it writes (streaming) and skips compiling an unchanged
experiment (real PostgreSQL, real Balsam models; `submit --no-launch`, no launcher).

Streaming writes the same rows as the full path; an expansion error half-way leaves no
row and exits 1 with the diagnostic; an unchanged file (same input digest, same jobs)
writes nothing and records a submission; an edited points file, a `dhflow clean` or a job
deleted by hand make the submission compile again and write what is missing.
"""
from __future__ import annotations

import json

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
    env:
        MODE: "fast"
rule train:
    foreach: space
    after: prep
    shell: "echo DH-OUTPUT: {x}"
    ranks_per_node: 1
    wall_time: 5 + x
    objective: stdout("DH-OUTPUT")
rule report:
    after: train
    shell: "echo report"
"""

POINTS = """
workflow @WF@:
    objective: minimize
space:
    x: int(1, 100)
sample: points("points.csv")
rule train:
    foreach: space
    shell: "echo DH-OUTPUT: {x}"
    objective: stdout("DH-OUTPUT")
"""


def submit(spec, env, *extra, ok=True):
    proc = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local", *extra], env)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def history(spec, env) -> list[dict]:
    proc = run_dhflow(["history", spec, "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def rows(db_path, wf, *, by="name") -> dict:
    """name (or content key) -> every job field dhflow writes (data without the provenance), and the xmin."""
    out = {}
    for r in db_query(db_path,
                      "SELECT name, job_id::text, xmin::text, description, application, args, num_nodes, "
                      "ranks_per_node, threads_per_rank, threads_per_core, node_packing_count, cpu_affinity, "
                      "wall_time_minutes, auto_timeout_retry, environ_vars, parents, state, data "
                      "FROM core_balsamjob WHERE workflow = %s", (wf,)):
        name, job_id, xmin, *fields, data = r
        data = data if isinstance(data, dict) else json.loads(data)
        data.pop("dhflow_provenance", None)
        ident = name if by == "name" else data["dhflow_key"]
        assert ident not in out, f"duplicate job {ident}"
        out[ident] = {"job_id": job_id, "xmin": xmin, "fields": fields, "data": data}
    return out


def plan_of(spec, env) -> dict:
    proc = run_dhflow(["plan", spec, "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def check_against_plan(db_path, wf, plan, kept=()):
    """Every task of the plan has a job whose fields are the task's; parents are job ids."""
    by_key = rows(db_path, wf, by="key")
    got = {t["name"]: by_key[t["key"]] for t in plan["tasks"]}
    id_of = {name: r["job_id"] for name, r in got.items()}
    for t in plan["tasks"]:
        r = got[t["name"]]
        (description, application, args, num_nodes, ranks_per_node, threads_per_rank, threads_per_core,
         node_packing_count, cpu_affinity, wall_time, retry, environ_vars, parents, state) = r["fields"]
        assert description == f"dhflow {wf}/{t['rule']}"
        assert application == f"{plan['workflow']}.{t['app']}" and args == (t.get("args") or "")
        assert (num_nodes, ranks_per_node, threads_per_rank, threads_per_core, node_packing_count) == \
            (t["num_nodes"], t["ranks_per_node"], t["threads_per_rank"], t["threads_per_core"],
             t["node_packing_count"])
        assert cpu_affinity == t["cpu_affinity"] and wall_time == t["wall_time_minutes"]
        assert retry == t["auto_timeout_retry"]
        assert environ_vars == ":".join(f"{k}={v}" for k, v in (t.get("environ_vars") or {}).items())
        assert sorted(json.loads(parents)) == sorted(id_of[p] for p in t.get("parents") or [])
        d = r["data"]
        assert (d["dhflow_key"], d["dhflow_task"], d["dhflow_rule"], d["dhflow_index"], d["dhflow_point"],
                d["dhflow_objective"]) == (t["key"], t["name"], t["rule"], t.get("index"), t.get("point"),
                                           t.get("objective"))
        assert set(d["dhflow_parts"]) == {"command", "app", "resources", "env", "objective", "upstream"}
        assert d["dhflow_spec"] == plan["source"]["path"]
        if t["name"] not in kept:  # kept jobs keep the digest of the file that created them
            assert d["dhflow_sha256"] == plan["source"]["sha256"]
    return got


def test_streaming_submit_writes_the_plans_rows(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "sts", SWEEP.replace("@WF@", "sts").replace("@HI@", "3"))
    first = submit(spec, env)
    assert "5 new jobs written" in first.stderr
    before = check_against_plan(db_path, "sts", plan_of(spec, env))
    assert len(before) == 5 and {r["fields"][-1] for r in before.values()} == {"CREATED"}
    # the fingerprints equal the full path's (a dry run sees every task unchanged)
    dry = run_dhflow(["submit", spec, "--dry-run", "--no-launch", "--scheduler", "local"], env)
    assert dry.returncode == 0 and "0 new jobs of workflow sts would be written" in dry.stdout, dry.stdout
    # edit: two new points; their parent is the existing prep job, the new report's parents
    # include the kept train jobs
    spec.write_text(SWEEP.replace("@WF@", "sts").replace("@HI@", "5"))
    again = submit(spec, env)
    assert "3 new jobs written, 4 unchanged" in again.stderr, again.stderr
    assert "new point (2)" in again.stderr and "upstream changed (1)" in again.stderr
    assert "1 jobs of this workflow are no longer in the file" in again.stderr
    after = check_against_plan(db_path, "sts", plan_of(spec, env), kept=("prep", "train.0", "train.1", "train.2"))
    for name in ("prep", "train.0", "train.1", "train.2"):
        assert after[name]["job_id"] == before[name]["job_id"] and after[name]["xmin"] == before[name]["xmin"]
    assert json.loads(after["train.3"]["fields"][-2]) == [before["prep"]["job_id"]]
    assert len(db_query(db_path, "SELECT 1 FROM core_balsamjob WHERE workflow = 'sts'")) == 8  # 7 + the orphan
    subs = history(spec, env)
    assert [(s["added"], s["kept"], s["orphaned"]) for s in subs] == [(3, 4, 1), (5, 0, 0)]
    # --prune removes the old report, and says why it was orphaned
    pruned = submit(spec, env, "--prune")
    assert "0 new jobs written, 7 unchanged, 1 orphaned jobs removed" in pruned.stderr, pruned.stderr
    assert len(db_query(db_path, "SELECT 1 FROM core_balsamjob WHERE workflow = 'sts'")) == 7


def test_expansion_error_half_way_writes_nothing(balsam_db, e2e_root):
    db_path, env = balsam_db
    text = """
workflow ste:
    objective: minimize
space:
    x: int(1, 4000)
sample: grid(levels=4000)
rule train:
    foreach: space
    shell: "echo DH-OUTPUT: {x}"
    wall_time: 1 if x < 3990 else 0
"""
    spec = make_project(e2e_root, "ste", text)
    proc = submit(spec, env, ok=False)
    assert proc.returncode == 1, proc.stderr
    assert "error[DH404]" in proc.stderr and "x=3990" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "new jobs written" not in proc.stderr
    assert db_query(db_path, "SELECT count(*) FROM core_balsamjob WHERE workflow = 'ste'")[0][0] == 0
    assert db_query(db_path, "SELECT count(*) FROM dhflow_submission WHERE workflow = 'ste'")[0][0] == 0
    # a resource check failing half-way (a task needing 2 nodes on this one machine): exit 2, nothing written
    spec.write_text(text.replace("wall_time: 1 if x < 3990 else 0", "nodes: 1 if x < 3990 else 2"))
    proc = submit(spec, env, ok=False)
    assert proc.returncode == 2 and "needs 2 nodes" in proc.stderr, proc.stderr
    assert db_query(db_path, "SELECT count(*) FROM core_balsamjob WHERE workflow = 'ste'")[0][0] == 0
    # fixed: everything written at once
    spec.write_text(text.replace("wall_time: 1 if x < 3990 else 0", "wall_time: 2"))
    ok = submit(spec, env)
    assert "4000 new jobs written" in ok.stderr
    assert db_query(db_path, "SELECT count(*) FROM core_balsamjob WHERE workflow = 'ste'")[0][0] == 4000


def test_unchanged_resubmission_does_not_compile(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "stu", POINTS.replace("@WF@", "stu"), {"points.csv": "x\n1\n2\n3\n"})
    first = submit(spec, env)
    assert "3 new jobs written" in first.stderr
    before = rows(db_path, "stu")
    again = submit(spec, env)
    assert "0 new jobs written, 3 unchanged" in again.stderr and "not recompiled" in again.stderr, again.stderr
    assert rows(db_path, "stu") == before
    subs = history(spec, env)
    assert [(s["added"], s["kept"], s["rerun"], s["pruned"], s["orphaned"]) for s in subs] == \
        [(0, 3, 0, 0, 0), (3, 0, 0, 0, 0)]
    digests = db_query(db_path, "SELECT input_digest, keys_digest, max_nodes, all_serial FROM dhflow_submission "
                                "WHERE workflow = 'stu' ORDER BY id")
    assert digests[0] == digests[1] and digests[0][0] and digests[0][1] and digests[0][2:] == (1, True)

    # the points file changed (the .dhflow file did not): compiled again, the new point written
    (spec.parent / "points.csv").write_text("x\n1\n2\n3\n4\n")
    edited = submit(spec, env)
    assert "1 new job written, 3 unchanged" in edited.stderr and "not recompiled" not in edited.stderr
    now = rows(db_path, "stu")
    assert len(now) == 4 and all(now[n] == before[n] for n in before)
    assert "not recompiled" in submit(spec, env).stderr

    # a job deleted by hand: the keys differ, so the submission compiles and writes it again
    db_query(db_path, "DELETE FROM core_balsamjob WHERE workflow = 'stu' AND name = 'train.1'")
    healed = submit(spec, env)
    assert "1 new job written, 3 unchanged" in healed.stderr and "not recompiled" not in healed.stderr
    assert sorted(rows(db_path, "stu")) == ["train.0", "train.1", "train.2", "train.3"]

    # `dhflow clean`: every job written again
    clean = run_dhflow(["clean", spec, "--yes"], env)
    assert clean.returncode == 0, clean.stderr
    refilled = submit(spec, env)
    assert "4 new jobs written" in refilled.stderr and "not recompiled" not in refilled.stderr
    assert len(rows(db_path, "stu")) == 4
    assert "not recompiled" in submit(spec, env).stderr


def test_unchanged_resubmission_keeps_the_launch_checks(balsam_db, e2e_root):
    """The recorded node counts still refuse a launch that cannot run the plan."""
    db_path, env = balsam_db
    text = """
workflow stl:
    objective: minimize
rule big:
    shell: "echo big"
    nodes: 2
"""
    spec = make_project(e2e_root, "stl", text)
    ok = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "slurm", "-A", "p", "-q", "q", "-n", "2",
                     "-t", "5"], env)
    assert ok.returncode == 0 and "1 new job written" in ok.stderr, ok.stderr
    small = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "slurm", "-A", "p", "-q", "q", "-n", "1",
                        "-t", "5"], env)
    assert small.returncode == 2 and "needs 2 nodes" in small.stderr, small.stderr
    local = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], env)
    assert local.returncode == 2 and "needs 2 nodes" in local.stderr, local.stderr
    again = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "slurm", "-A", "p", "-q", "q", "-n", "4",
                        "-t", "5"], env)
    assert again.returncode == 0 and "not recompiled" in again.stderr, again.stderr
    assert db_query(db_path, "SELECT count(*) FROM core_balsamjob WHERE workflow = 'stl'")[0][0] == 1


def test_older_submission_table_is_upgraded(balsam_db, e2e_root):
    """A database whose dhflow_submission predates the digests: columns added, then used."""
    db_path, env = balsam_db
    spec = make_project(e2e_root, "stg", POINTS.replace("@WF@", "stg"), {"points.csv": "x\n1\n2\n"})
    submit(spec, env)
    db_query(db_path, "ALTER TABLE dhflow_submission DROP COLUMN input_digest, DROP COLUMN keys_digest, "
                      "DROP COLUMN max_nodes, DROP COLUMN all_serial")
    again = submit(spec, env)  # no digest recorded yet: compiled, nothing written
    assert "0 new jobs written, 2 unchanged" in again.stderr and "not recompiled" not in again.stderr
    cols = {c for (c,) in db_query(db_path, "SELECT column_name FROM information_schema.columns "
                                            "WHERE table_name = 'dhflow_submission'")}
    assert {"input_digest", "keys_digest", "max_nodes", "all_serial"} <= cols
    assert "not recompiled" in submit(spec, env).stderr
    assert [s["added"] for s in history(spec, env)] == [0, 0, 2]
