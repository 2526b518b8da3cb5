import json
import os
import shlex
import subprocess
import uuid

import pytest

from dhflow.balsam import rows as backend
from dhflow.balsam.copy import JOB_COLUMNS
from dhflow.balsam.dberrors import database_errors
from dhflow.balsam.submissions import job_provenance
from dhflow.errors import BackendError, PlanRejected
from dhflow.reconcile.decision import PartsMaker

from .conftest import make_plan


def test_env_string():
    assert backend.env_string({}) == ""
    assert backend.env_string({"A": "1", "B": "x=y"}) == "A=1:B=x=y"
    with pytest.raises(PlanRejected, match="contains ':'"):
        backend.env_string({"PATH": "/a:/b"}, task="t")
    with pytest.raises(PlanRejected, match="not a valid name"):
        backend.env_string({"A-B": "1"})


def test_rows_carry_every_plan_field(plan):
    rows = backend.dry_run_rows(plan)
    by_name = {r["name"]: r["job_id"] for r in rows}
    assert [r["name"] for r in rows] == ["prep", "train.0", "train.1", "report"]
    assert all(uuid.UUID(r["job_id"]).version == 4 for r in rows) and len(set(by_name.values())) == 4
    assert all(tuple(r) == JOB_COLUMNS for r in rows)            # every column Balsam stores
    t0 = rows[1]
    assert t0["workflow"] == "wf" and t0["application"] == "wf.run"
    assert t0["args"] == "'{\"x\":1}'"
    assert t0["environ_vars"] == "A=1:B=two"
    assert t0["cpu_affinity"] == "none" and t0["auto_timeout_retry"] is True
    assert (t0["num_nodes"], t0["ranks_per_node"], t0["wall_time_minutes"]) == (1, 1, 1)
    assert t0["description"] == "dhflow wf/train" and t0["state"] == "CREATED"
    assert json.loads(t0["parents"]) == [by_name["prep"]]
    assert json.loads(rows[3]["parents"]) == [by_name["train.0"], by_name["train.1"]]
    data = dict(t0["data"])
    assert data.pop("dhflow_parts") == PartsMaker(plan)(plan["tasks"][1])
    assert data.pop("dhflow_provenance") is None                 # no provenance given
    assert data == {
        "dhflow_key": "k-t0", "dhflow_task": "train.0", "dhflow_rule": "train", "dhflow_index": 0,
        "dhflow_point": {"x": 1}, "dhflow_objective": {"source": "stdout", "marker": "DH-OUTPUT"},
        "dhflow_spec": "/abs/dir/x.dhflow", "dhflow_sha256": "ab" * 32}


def test_dry_run_rows_are_the_written_rows(plan):
    """The dry run decodes the COPY text of the real write: same values, every escape undone."""
    plan["tasks"][1]["args"] = "a\\b\tc\nd '{\"s\":\"x\\u0020y\"}'"
    prov = {"spec_path": "/abs/dir/x.dhflow", "spec_sha256": "ab" * 32, "git_commit": None, "git_dirty": None,
            "spec_committed": False, "dhflow_version": "0.1", "submitted_at": "2026-01-01T00:00:00+00:00",
            "not_in_job_data": 1}
    rows = backend.dry_run_rows(plan, {"train.0"}, provenance=prov)
    assert [r["name"] for r in rows] == ["train.0"]
    assert rows[0]["args"] == plan["tasks"][1]["args"]
    assert rows[0]["data"]["dhflow_provenance"] == job_provenance(prov, None)[0]
    assert "not_in_job_data" not in rows[0]["data"]["dhflow_provenance"]
    assert rows[0]["state_history"].endswith("] dhflow submission None")


def test_upsert_keeps_known_keys_and_links_new_jobs_to_them(plan):
    existing = {"prep": "11111111-1111-1111-1111-111111111111", "train.0": "22222222-2222-2222-2222-222222222222"}
    rows = backend.dry_run_rows(plan, {"train.1", "report"}, ids=existing)
    assert [r["name"] for r in rows] == ["train.1", "report"]
    assert json.loads(rows[0]["parents"]) == [existing["prep"]]
    assert json.loads(rows[1]["parents"]) == [existing["train.0"], rows[0]["job_id"]]
    # a parent in the database whose id the caller does not know
    rows = backend.dry_run_rows(plan, {"report"})
    assert json.loads(rows[0]["parents"]) == [backend.IN_THE_DB, backend.IN_THE_DB]
    # everything known: nothing to write
    assert backend.dry_run_rows(plan, set()) == []


def test_validate_head_and_task_checker(plan):
    backend.validate_head({"workflow": "wf", "apps": []})
    with pytest.raises(PlanRejected, match="missing 'apps'"):
        backend.validate_head({"workflow": "wf"})
    with pytest.raises(PlanRejected, match="no workflow name"):
        backend.validate_head({"workflow": "", "apps": []})
    check = backend.TaskChecker(plan, environment=False)
    bad_env = dict(plan["tasks"][0], environ_vars={"P": "/a:/b"})
    check(bad_env)                               # the environment is left to the row builder
    with pytest.raises(PlanRejected, match="twice"):
        check(plan["tasks"][0])
    with pytest.raises(PlanRejected, match="contains ':'"):
        backend.TaskChecker(plan)(bad_env)


def test_database_errors_become_one_line_backend_errors(monkeypatch):
    import psycopg2

    monkeypatch.delenv("BALSAM_DB_PATH", raising=False)

    with pytest.raises(BackendError, match=r"^cannot reach the Balsam database: could not connect$"):
        with database_errors():
            raise psycopg2.OperationalError("could not connect\nis the server running?")
    with pytest.raises(PlanRejected, match="as itself"):   # other errors pass unchanged
        with database_errors():
            raise PlanRejected("as itself")

    @database_errors()
    def query():
        raise psycopg2.errors.UndefinedTable("relation \"x\" does not exist")

    with pytest.raises(BackendError, match=r"refused a query \(UndefinedTable\)"):
        query()


def test_validate_rejects_broken_plans(plan):
    backend.validate(plan)
    bad = make_plan()
    bad["tasks"][1]["parents"] = ["nope"]
    with pytest.raises(PlanRejected, match="parent"):
        backend.validate(bad)
    bad = make_plan()
    bad["tasks"][2]["name"] = "train.0"
    with pytest.raises(PlanRejected, match="twice"):
        backend.validate(bad)
    bad = make_plan()
    bad["tasks"][0]["app"] = "ghost"
    with pytest.raises(PlanRejected, match="app"):
        backend.validate(bad)


def balsam_like_run(executable: str, args: str, env=None):
    """What Balsam does with a job's command: join, collapse whitespace, shlex.split, no shell."""
    line = f"{executable} {args}"
    cmd = " ".join(os.path.expanduser(w) for w in line.split())
    return subprocess.run(shlex.split(cmd), capture_output=True, text=True, env=env, timeout=30)


def test_envscript_is_sourced_portably(tmp_path):
    script = tmp_path / "env setup.sh"          # a space in the path, too
    script.write_text("DHFLOW_TEST_VAR='from envscript'\nexport DHFLOW_TEST_VAR\n")
    app = {"name": "a", "executable": "/bin/sh -c", "envscript": str(script)}
    exe = backend.app_executable(app, str(tmp_path))
    assert exe.startswith(backend.ENVSCRIPT_WRAPPER)
    proc = balsam_like_run(exe, shlex.quote('echo "$DHFLOW_TEST_VAR" "$#"; exit 0'))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "from envscript 0"
    # relative envscripts are relative to the .dhflow file's directory
    rel = backend.app_executable({"name": "a", "executable": "x", "envscript": "env setup.sh"}, str(tmp_path))
    assert shlex.quote(str(script)) in rel
    # a failing envscript stops the command
    script.write_text("false\n")
    proc = balsam_like_run(exe, shlex.quote("echo should-not-run"))
    assert proc.returncode != 0 and "should-not-run" not in proc.stdout


def test_app_rows_store_no_envscript(plan):
    plan["apps"][0]["envscript"] = "/abs/env.sh"
    rows = backend.app_rows(plan)
    assert rows[0]["envscript"] == ""
    assert rows[0]["executable"].endswith("'/abs/env.sh' python3 /abs/model.py") or \
        rows[0]["executable"].endswith("/abs/env.sh python3 /abs/model.py")
    assert rows[1]["executable"] == "/bin/sh -c"
