"""The compile-free resubmission's proof that a workflow's jobs did not change
(dhflow.balsam.jobset: the job-change log and a count), on the real PostgreSQL.

The proof is used when it holds; a job deleted, added, replaced by another (same count),
moved to another workflow or given another key by raw SQL is caught (the resubmission
compiles and repairs); the launcher's own updates are not changes; a submission recorded
without the log's count, or a database whose triggers were dropped, falls back to the
keys' sum and then records the count.
"""
from __future__ import annotations

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

SPEC = """
workflow @WF@:
    objective: minimize
space:
    x: int(1, 100)
sample: grid(levels=4)
rule train:
    foreach: space
    shell: "echo DH-OUTPUT: {x}"
    objective: stdout("DH-OUTPUT")
"""
PROVED = "jobs checked (job-change log and count)"
BY_KEYS = "jobs checked (keys)"
NOT_RECOMPILED = "not recompiled"


def submit(spec, env):
    proc = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], dict(env, DHFLOW_TIMING="1"))
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def count(db_path, wf) -> int:
    return db_query(db_path, "SELECT count(*) FROM core_balsamjob WHERE workflow = %s", (wf,))[0][0]


def copy_job(db_path, wf, name, key):
    """A copy of a job under a new id, with another content key (a job dhflow did not write)."""
    cols = [c for (c,) in db_query(db_path, "SELECT column_name FROM information_schema.columns WHERE "
                                            "table_name = 'core_balsamjob' ORDER BY ordinal_position")]
    sel = ", ".join("gen_random_uuid()" if c == "job_id" else
                    "jsonb_set(data, '{dhflow_key}', to_jsonb(%s::text))" if c == "data" else c for c in cols)
    db_query(db_path, f"INSERT INTO core_balsamjob SELECT {sel} FROM core_balsamjob WHERE workflow = %s AND name = %s",
             (key, wf, name))


def fresh(e2e_root, db_path, env, wf):
    spec = make_project(e2e_root, wf, SPEC.replace("@WF@", wf))
    assert "4 new jobs written" in submit(spec, env)
    again = submit(spec, env)
    assert NOT_RECOMPILED in again and PROVED in again, again
    return spec


def test_the_proof_is_used_and_the_launchers_updates_keep_it(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = fresh(e2e_root, db_path, env, "jsp_used")
    changes = db_query(db_path, "SELECT job_changes FROM dhflow_submission WHERE workflow = 'jsp_used' ORDER BY id")
    assert changes[0] == changes[1] and changes[0][0] is not None
    # what Balsam's launcher writes: state, history, lock, tick (and a job's data, by `dhflow emit`)
    db_query(db_path, "UPDATE core_balsamjob SET state = 'RUNNING', lock = 'host:1', tick = now(), "
                      "state_history = state_history || 'x' WHERE workflow = 'jsp_used'")
    db_query(db_path, "UPDATE core_balsamjob SET data = data || '{\"loss\": 1}' WHERE workflow = 'jsp_used'")
    again = submit(spec, env)
    assert NOT_RECOMPILED in again and PROVED in again, again


@pytest.mark.parametrize("change", ["delete", "add", "replace", "move", "rekey"])
def test_a_changed_job_set_is_caught(balsam_db, e2e_root, change):
    db_path, env = balsam_db
    wf = f"jsp_{change}"
    spec = fresh(e2e_root, db_path, env, wf)
    if change == "delete":
        db_query(db_path, "DELETE FROM core_balsamjob WHERE workflow = %s AND name = 'train.1'", (wf,))
    elif change == "add":
        copy_job(db_path, wf, "train.1", "f" * 64)
    elif change == "replace":  # one job deleted, a foreign one added: the same count
        copy_job(db_path, wf, "train.1", "e" * 64)
        db_query(db_path, "DELETE FROM core_balsamjob WHERE job_id = (SELECT job_id FROM core_balsamjob WHERE "
                          "workflow = %s AND name = 'train.1' AND data->>'dhflow_key' <> %s)", (wf, "e" * 64))
        assert count(db_path, wf) == 4
    elif change == "move":  # to another workflow, and a foreign job in its place
        copy_job(db_path, wf, "train.1", "d" * 64)
        db_query(db_path, "UPDATE core_balsamjob SET workflow = 'jsp_elsewhere' WHERE workflow = %s "
                          "AND name = 'train.1' AND data->>'dhflow_key' <> %s", (wf, "d" * 64))
        assert count(db_path, wf) == 4
    else:  # the key edited in place
        db_query(db_path, "UPDATE core_balsamjob SET data = jsonb_set(data, '{dhflow_key}', '\"cc\"') "
                          "WHERE workflow = %s AND name = 'train.1'", (wf,))
    healed = submit(spec, env)
    assert "input or jobs changed since the last submission: compiling" in healed, healed
    expect = "0 new jobs written, 4 unchanged" if change == "add" else "1 new job written, 3 unchanged"
    assert expect in healed, healed
    if change != "delete":
        assert "1 jobs of this workflow are no longer in the file" in healed, healed
    db_query(db_path, "DELETE FROM core_balsamjob WHERE workflow IN (%s, 'jsp_elsewhere')", (wf,))


def test_older_records_and_dropped_triggers_fall_back_to_the_keys(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = fresh(e2e_root, db_path, env, "jsp_old")
    # a submission recorded by a dhflow before the log: the keys' sum, then the count recorded
    db_query(db_path, "UPDATE dhflow_submission SET job_changes = NULL WHERE workflow = 'jsp_old'")
    old = submit(spec, env)
    assert NOT_RECOMPILED in old and BY_KEYS in old, old
    again = submit(spec, env)
    assert NOT_RECOMPILED in again and PROVED in again, again
    # another workflow's delete is a logged change too: the keys once, then the log again
    db_query(db_path, "DELETE FROM core_balsamjob WHERE workflow = 'jsp_nothing_here'")
    other = submit(spec, env)
    assert NOT_RECOMPILED in other and BY_KEYS in other, other
    # without the triggers nothing is logged: the keys' sum, and the next submission restores them
    db_query(db_path, "DROP TRIGGER dhflow_job_change_delete ON core_balsamjob")
    dropped = submit(spec, env)
    assert NOT_RECOMPILED in dropped and BY_KEYS in dropped, dropped
    names = {n for (n,) in db_query(db_path, "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'dhflow_job_change%%'")}
    assert names == {"dhflow_job_change_delete", "dhflow_job_change_truncate", "dhflow_job_change_move"}
    # the triggers are put back before that submission reads the log, and their gap is logged
    # as a change: the count it recorded proves the next one
    assert PROVED in submit(spec, env)
    # and the log records again: a deletion is caught
    db_query(db_path, "DELETE FROM core_balsamjob WHERE workflow = 'jsp_old' AND name = 'train.2'")
    assert "1 new job written, 3 unchanged" in submit(spec, env)


def against_db(spec, env, *extra):
    proc = run_dhflow(["plan", spec, "--against-db", "--format", "json", *extra], dict(env, DHFLOW_TIMING="1"))
    assert proc.returncode == 0, proc.stderr
    import json

    return json.loads(proc.stdout), "not compiled" in proc.stderr


def test_plan_against_db_answers_unchanged_files_without_compiling_and_stays_truthful(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = fresh(e2e_root, db_path, env, "jsp_plan")
    quick, skipped = against_db(spec, env)
    assert skipped
    assert quick == {"workflow": "jsp_plan", "reasons": {}, "tasks": [],
                     "rules": {"train": {"new": 0, "unchanged": 4, "rerun": 0, "orphaned": 0}}}
    edited = spec.parent / "edited.dhflow"  # another input digest: compiled, matched by key, the same answer
    edited.write_text(spec.read_text() + "# edited\n")
    compiled, skipped = against_db(edited, env)
    assert not skipped and compiled == quick
    # a job replaced behind dhflow's back (same count): not claimed unchanged
    copy_job(db_path, "jsp_plan", "train.1", "b" * 64)
    db_query(db_path, "DELETE FROM core_balsamjob WHERE workflow = 'jsp_plan' AND name = 'train.1' "
                      "AND data->>'dhflow_key' <> %s", ("b" * 64,))
    after, skipped = against_db(spec, env)
    assert not skipped
    assert after["rules"] == {"train": {"new": 1, "unchanged": 3, "rerun": 0, "orphaned": 1}}
    # the foreign job carries train.1's rule and point: matched with it, nothing else differs
    assert after["reasons"] == {"train": {"changed definition": 1, "definition changed": 1}}, after
    assert [(t["name"], t["status"]) for t in after["tasks"]] == [("train.1", "new"), ("train.1", "orphaned")]
    # --rerun goes through the whole plan: the same counts for the tasks it does not reset
    rerun, _ = against_db(spec, env, "--rerun", "failed")
    assert rerun["rules"] == after["rules"] and rerun["tasks"] == after["tasks"]
