"""Workflows cannot touch each other's apps: each workflow's apps have their own Balsam
names, and the jobs written by earlier versions (shared app names) move to them without a
rerun."""
from __future__ import annotations

import json

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

SPEC = '''
workflow @WF@:

space:
    x: choice(1, 2)

sample: grid(levels=2)

app trainer:
    executable: "@EXE@"

rule train:
    foreach: space
    app: trainer
    args: "{x}"
'''


def apps(db_path, *names):
    return dict(db_query(db_path, "SELECT name, executable FROM core_applicationdefinition WHERE name = ANY(%s)",
                         (list(names),)))


def job_apps(db_path, wf):
    return {name: app for name, app in db_query(
        db_path, "SELECT name, application FROM core_balsamjob WHERE workflow = %s", (wf,))}


def test_two_workflows_with_same_named_apps(balsam_db, e2e_root):
    db_path, env = balsam_db
    a = make_project(e2e_root, "isoa", SPEC.replace("@WF@", "isoa").replace("@EXE@", "/bin/echo A"))
    b = make_project(e2e_root, "isob", SPEC.replace("@WF@", "isob").replace("@EXE@", "/bin/echo B"))
    for spec in (a, b):
        proc = run_dhflow(["submit", spec, "--no-launch"], env)
        assert proc.returncode == 0, proc.stderr
    assert apps(db_path, "isoa.trainer", "isob.trainer", "trainer") == \
        {"isoa.trainer": "/bin/echo A", "isob.trainer": "/bin/echo B"}
    assert set(job_apps(db_path, "isoa").values()) == {"isoa.trainer"}
    assert set(job_apps(db_path, "isob").values()) == {"isob.trainer"}
    # the first workflow still sees its own app: nothing to change
    proc = run_dhflow(["plan", a, "--against-db", "--format", "json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rules"]["train"] == {"new": 0, "unchanged": 2, "rerun": 0, "orphaned": 0}
    # submitting each again, in turn, rewrites neither app row
    rows = lambda: db_query(db_path, "SELECT name, xmin::text, executable FROM core_applicationdefinition "  # noqa: E731
                                     "WHERE name IN ('isoa.trainer', 'isob.trainer') ORDER BY name")
    before = rows()
    for spec in (a, b, a):
        proc = run_dhflow(["submit", spec, "--no-launch"], env)
        assert proc.returncode == 0 and "0 new jobs written, 2 unchanged" in proc.stderr, proc.stderr
    assert rows() == before


def test_jobs_of_an_earlier_version_move_to_the_workflow_s_own_app(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "isomig", SPEC.replace("@WF@", "isomig").replace("@EXE@", "/bin/echo M"))
    proc = run_dhflow(["submit", spec, "--no-launch"], env)
    assert proc.returncode == 0, proc.stderr
    keys = db_query(db_path, "SELECT job_id::text, data::text FROM core_balsamjob WHERE workflow = 'isomig' ORDER BY 1")
    # what dhflow wrote before per-workflow app names: a shared app, here last written by
    # another workflow (its executable is not this workflow's)
    db_query(db_path, "INSERT INTO core_applicationdefinition (name, description, executable, preprocess, "
                      "envscript, postprocess) VALUES ('trainer', '', '/bin/echo OTHER', '', '', '') "
                      "ON CONFLICT (name) DO NOTHING")
    db_query(db_path, "UPDATE core_balsamjob SET application = 'trainer' WHERE workflow = 'isomig'")
    for args in (["plan", spec, "--against-db", "--format", "json"],):
        proc = run_dhflow(args, env)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["rules"]["train"]["unchanged"] == 2
    proc = run_dhflow(["submit", spec, "--no-launch"], env)
    assert proc.returncode == 0 and "0 new jobs written, 2 unchanged" in proc.stderr, proc.stderr
    assert "2 jobs moved to this workflow's own app names" in proc.stderr
    assert set(job_apps(db_path, "isomig").values()) == {"isomig.trainer"}
    assert apps(db_path, "isomig.trainer")["isomig.trainer"] == "/bin/echo M"
    # same jobs, same data (content keys): nothing reruns
    assert db_query(db_path, "SELECT job_id::text, data::text FROM core_balsamjob WHERE workflow = 'isomig' "
                             "ORDER BY 1") == keys
    # the shared row is left to whoever else uses it
    assert apps(db_path, "trainer") == {"trainer": "/bin/echo OTHER"}
