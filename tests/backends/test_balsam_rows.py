import json
import os
import shlex
import subprocess

import pytest

from dhflow.errors import PlanRejected
from dhflow.balsam import store as backend

from .conftest import make_plan


def test_env_string():
    assert backend.env_string({}) == ""
    assert backend.env_string({"A": "1", "B": "x=y"}) == "A=1:B=x=y"
    with pytest.raises(PlanRejected, match="contains ':'"):
        backend.env_string({"PATH": "/a:/b"}, task="t")
    with pytest.raises(PlanRejected, match="not a valid name"):
        backend.env_string({"A-B": "1"})


def test_rows_carry_every_plan_field(plan):
    ids = iter(f"00000000-0000-0000-0000-00000000000{i}" for i in range(10))
    rows, by_name, kept = backend.plan_job_rows(plan, {}, new_id=lambda: next(ids))
    assert kept == []
    assert [r["name"] for r in rows] == ["prep", "train.0", "train.1", "report"]
    t0 = rows[1]
    assert t0["workflow"] == "wf" and t0["application"] == "run"
    assert t0["args"] == "'{\"x\":1}'"
    assert t0["environ_vars"] == "A=1:B=two"
    assert t0["cpu_affinity"] == "none" and t0["auto_timeout_retry"] is True
    assert json.loads(t0["parents"]) == [by_name["prep"]]
    assert json.loads(rows[3]["parents"]) == [by_name["train.0"], by_name["train.1"]]
    assert t0["data"] == {
        "dhflow_key": "k-t0", "dhflow_task": "train.0", "dhflow_rule": "train", "dhflow_index": 0,
        "dhflow_point": {"x": 1}, "dhflow_objective": {"source": "stdout", "marker": "DH-OUTPUT"},
        "dhflow_spec": "/abs/dir/x.dhflow", "dhflow_sha256": "ab" * 32}


def test_upsert_keeps_known_keys_and_links_new_jobs_to_them(plan):
    existing = {"k-prep": "11111111-1111-1111-1111-111111111111", "k-t0": "22222222-2222-2222-2222-222222222222"}
    rows, ids, kept = backend.plan_job_rows(plan, existing)
    assert kept == ["prep", "train.0"]
    assert [r["name"] for r in rows] == ["train.1", "report"]
    assert json.loads(rows[0]["parents"]) == [existing["k-prep"]]
    assert json.loads(rows[1]["parents"]) == [existing["k-t0"], ids["train.1"]]
    # everything known: nothing to write
    all_known = {t["key"]: f"id-{t['name']}" for t in plan["tasks"]}
    rows, _, kept = backend.plan_job_rows(plan, all_known)
    assert rows == [] and len(kept) == 4


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
