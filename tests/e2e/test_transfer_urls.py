"""`stage_in:` and `stage_out:` URLs with the real launcher: Balsam 0.5's transfer knows a
plain path and `local:PATH`, and takes anything else for a path under its own directory, so a
`file:///PATH` used to fail the task ("Nothing matches <cwd>/file:/PATH"). dhflow writes a
local `file:` URL as its path: every form below stages its file in and out."""
from __future__ import annotations

import json

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

FLOW = """workflow transfer_urls:
    objective: maximize

rule by_file_url:
    stage_in: "file://{root}/in/seed.txt"
    shell: "cat seed.txt > out_file.txt"
    stage_out: "out_*.txt" to "file://{root}/dest_file"

rule by_localhost_url:
    stage_in: "file://localhost{root}/in/seed.txt"
    shell: "cat seed.txt > out_localhost.txt"
    stage_out: "out_*.txt" to "file://localhost{root}/dest%20spaced/../dest_localhost"

rule by_local:
    stage_in: "local:{root}/in/seed.txt"
    shell: "cat seed.txt > out_local.txt"
    stage_out: "out_*.txt" to "local:{root}/dest_local"

rule by_path:
    stage_in: "{root}/in/seed.txt"
    shell: "cat seed.txt > out_path.txt"
    stage_out: "out_*.txt" to "{root}/dest_path"
"""


def test_file_urls_stage_in_and_out_like_paths(balsam_db, e2e_root):
    db, env = balsam_db
    root = e2e_root / "transfer_urls" / "area"
    for sub in ("in", "dest_file", "dest_localhost", "dest_local", "dest_path"):
        (root / sub).mkdir(parents=True)
    (root / "in" / "seed.txt").write_text("seeded\n")
    path = make_project(e2e_root, "transfer_urls", FLOW.replace("{root}", str(root)))

    # the plan keeps what the file says; the dry run shows what is written: the path
    plan = json.loads(run_dhflow(["plan", path, "--format", "json"], env).stdout)
    urls = {t["name"]: t["stage_out_url"] for t in plan["tasks"]}
    assert urls["by_file_url"] == f"file://{root}/dest_file"

    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = dict((name, (state, url_in, url_out)) for name, state, url_in, url_out in db_query(
        db, "SELECT name, state, stage_in_url, stage_out_url FROM core_balsamjob "
            "WHERE workflow = 'transfer_urls'"))
    assert {name: state for name, (state, _, _) in rows.items()} == dict.fromkeys(
        ["by_file_url", "by_localhost_url", "by_local", "by_path"], "JOB_FINISHED")
    assert rows["by_file_url"][1:] == (f"{root}/in/seed.txt", f"{root}/dest_file")
    assert rows["by_localhost_url"][2] == f"{root}/dest spaced/../dest_localhost"
    for form in ("file", "localhost", "local", "path"):
        # staged in (the task copied what it received), then staged out under its own name
        assert (root / f"dest_{form}" / f"out_{form}.txt").read_text() == "seeded\n", form
