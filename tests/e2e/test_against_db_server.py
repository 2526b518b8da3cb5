"""`dhflow plan FILE --against-db` of an edited file, matched by key in the server
(dhflow.balsam.plan_match), says exactly what the whole-plan reconciliation says: the same
table and the same JSON bytes, on the real PostgreSQL, for each kind of edit."""
from __future__ import annotations

import difflib
import json
import subprocess
import sys

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

SPEC = """
workflow @WF@:
    objective: maximize
values dataset: @DATASETS@
space:
    x: choice(@XS@)
sample: grid(levels=@LEVELS@)
rule prep:
    foreach: dataset
    shell: "python3 {here}/prep.py {dataset}"
rule train:
    foreach: dataset * space
    after: prep
    shell: "@CMD@ {dataset} {x}"
    objective: stdout("DH-OUTPUT")
rule report:
    after: train
    shell: "echo report"
"""
V1 = {"@DATASETS@": '"a", "b"', "@XS@": "1, 2, 3", "@LEVELS@": "3", "@CMD@": "echo DH-OUTPUT:"}

# both paths, table and JSON, in one process: the streamed one (None: it fell back to the
# whole plan before printing anything) and the whole-plan one
BOTH = """
import contextlib, io, json, sys
from dhflow.cli import render_runtime
from dhflow.runtime import against_db as adb, experiment
f = sys.argv[1]
out = {}
for fmt in ('table', 'json'):
    def show(o):
        render_runtime.against_db(o, fmt)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        got = adb._streamed(experiment.load(f), show, fmt == 'json')
    streamed = None if got is None else (0, buf.getvalue())
    exp = experiment.load(f)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        show(adb._whole(exp, exp.plan(), None))
    out[fmt] = {'streamed': streamed, 'whole': (0, buf.getvalue())}
print(json.dumps(out))
"""

def spec_text(wf: str, **edits) -> str:
    text = SPEC.replace("@WF@", wf)
    for k, v in {**V1, **{f"@{k.upper()}@": v for k, v in edits.items()}}.items():
        text = text.replace(k, v)
    return text


def project(e2e_root, env, wf: str):
    spec = make_project(e2e_root, wf, spec_text(wf), files={"prep.py": "print('prep')\n"})
    proc = run_dhflow(["submit", spec, "--no-launch", "--scheduler", "local"], env)
    assert proc.returncode == 0, proc.stderr
    return spec


def both(spec, env) -> dict:
    proc = subprocess.run([sys.executable, "-c", BOTH, str(spec)], env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def same(out: dict, streamed: bool = True) -> dict:
    """The streamed answers equal the whole plan's (or, ``streamed=False``, it fell back);
    returns the JSON answer."""
    for fmt in ("table", "json"):
        got = out[fmt]
        if streamed:
            assert got["streamed"] is not None, fmt
            diff = "\n".join(difflib.unified_diff(got["whole"][1].splitlines(), got["streamed"][1].splitlines(),
                                                   "whole plan", "streamed", lineterm=""))
            assert got["streamed"] == got["whole"], diff
        else:
            assert got["streamed"] is None, fmt
    return json.loads(out["json"]["whole"][1])


def reasons(answer) -> dict:
    return answer["reasons"]


EDITS = {
    # a comment: another input digest, so the file is compiled; every task unchanged
    "unchanged": ({}, lambda a: a["tasks"] == [] and a["rules"]["train"]["unchanged"] == 6),
    "edited args": ({"cmd": "echo DH-OUTPUT: v2"},
                    lambda a: a["reasons"]["train"] == {"changed command": 6, "definition changed": 6}
                    and a["reasons"]["report"] == {"upstream changed": 1, "definition changed": 1}),
    "added points": ({"xs": "1, 2, 3, 4", "levels": "4"},
                     lambda a: a["reasons"]["train"] == {"new point": 2} and a["rules"]["train"]["unchanged"] == 6),
    "removed points": ({"xs": "1, 2", "levels": "2"},
                       lambda a: a["reasons"]["train"] == {"point removed": 2} and a["rules"]["train"]["new"] == 0),
    # 1 and 1.0 are one number to jsonb, not one identity to dhflow
    "1 becomes 1.0": ({"xs": "1.0, 2, 3"},
                      lambda a: a["reasons"]["train"] == {"new point": 2, "point removed": 2}),
    "added fan-out value": ({"datasets": '"a", "b", "c"'},
                            lambda a: a["rules"]["prep"]["new"] == 1 and a["rules"]["train"]["new"] == 3),
    "removed fan-out value": ({"datasets": '"a"'},
                              lambda a: a["reasons"]["prep"] == {"point removed": 1}
                              and a["reasons"]["train"] == {"point removed": 3}),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_streamed_plan_against_db_is_the_whole_plans(balsam_db, e2e_root, edit):
    _, env = balsam_db
    wf = "pms_" + edit.replace(" ", "_").replace("-", "_").replace(".", "")
    spec = project(e2e_root, env, wf)
    changes, check = EDITS[edit]
    spec.write_text(spec_text(wf, **changes) + "# edited\n")
    answer = same(both(spec, env))
    assert check(answer), answer


def test_removed_rule_and_duplicate_jobs(balsam_db, e2e_root):
    db_path, env = balsam_db
    wf = "pms_rule_dup"
    spec = project(e2e_root, env, wf)
    # two copies of a train job (same key): the one with the lowest job id is kept, the others are orphans
    cols = [c for (c,) in db_query(db_path, "SELECT column_name FROM information_schema.columns WHERE "
                                            "table_name = 'core_balsamjob' ORDER BY ordinal_position")]
    sel = ", ".join("gen_random_uuid()" if c == "job_id" else c for c in cols)
    for _ in range(2):
        db_query(db_path, f"INSERT INTO core_balsamjob SELECT {sel} FROM core_balsamjob WHERE workflow = %s "
                          "AND name = 'train.a.1' LIMIT 1", (wf,))
    spec.write_text(spec_text(wf).replace('rule report:\n    after: train\n    shell: "echo report"\n', ""))
    answer = same(both(spec, env))
    assert answer["reasons"] == {"train": {"duplicate job": 2}, "report": {"rule removed": 1}}, answer
    assert list(answer["rules"]) == ["prep", "train", "report"]
    kept = db_query(db_path, "SELECT job_id::text FROM core_balsamjob WHERE workflow = %s AND name = 'train.a.1' "
                             "ORDER BY job_id::text LIMIT 1", (wf,))[0][0]
    assert kept not in {t["job_id"] for t in answer["tasks"]}
    # an update of the kept job's state moves its row (a new row version at the table's end):
    # the choice does not move with it, and a submission with --prune deletes the others
    db_query(db_path, "UPDATE core_balsamjob SET state = 'RUN_DONE' WHERE job_id = %s::uuid", (kept,))
    assert same(both(spec, env)) == answer
    r = run_dhflow(["submit", str(spec), "--prune", "--no-launch"], env)
    assert r.returncode == 0, r.stderr
    left = db_query(db_path, "SELECT job_id::text FROM core_balsamjob WHERE workflow = %s AND name = 'train.a.1'",
                    (wf,))
    assert left == [(kept,)], left


def test_changed_code_falls_back_to_the_whole_plan(balsam_db, e2e_root):
    _, env = balsam_db
    wf = "pms_code"
    spec = project(e2e_root, env, wf)
    (spec.parent / "prep.py").write_text("print('prep, v2')\n")
    out = both(spec, env)
    same(out, streamed=False)
    answer = json.loads(out["json"]["whole"][1])
    assert answer["reasons"]["prep"] == {"code changed: prep.py": 2}, answer
    # and the command line takes that path by itself
    proc = run_dhflow(["plan", spec, "--against-db", "--format", "json"], env)
    assert proc.returncode == 0 and proc.stdout == out["json"]["whole"][1], proc.stderr


def test_a_workflow_without_jobs(balsam_db, e2e_root):
    _, env = balsam_db
    project(e2e_root, env, "pms_other")  # the database exists; this workflow has no jobs
    fresh = make_project(e2e_root, "pms_fresh", spec_text("pms_fresh"))
    answer = same(both(fresh, env))
    assert answer["reasons"]["train"] == {"new point": 6} and len(answer["tasks"]) == 9


STATUS = """
import json, sys
from dhflow.runtime import experiment, reading
f = sys.argv[1]
def shown(st):
    return [st.workflow, st.path, {r: dict(c) for r, c in st.counts.items()}, st.stale]
q = reading.status(experiment.load(f))
exp = experiment.load(f)
print(json.dumps([shown(q), shown(reading._plan_status(exp, exp.plan()))]))
"""

def test_status_of_an_edited_file_is_counted_in_the_server(balsam_db, e2e_root):
    """`dhflow status` of an edited file (dhflow.balsam.status_match): the same per-rule
    state counts (states in order of appearance) and stale jobs as the whole plan's."""
    db_path, env = balsam_db
    wf = "pms_status"
    spec = project(e2e_root, env, wf)
    db_query(db_path, "UPDATE core_balsamjob SET state = 'JOB_FINISHED' WHERE workflow = %s AND name IN "
                      "('train.b.1', 'train.a.2', 'prep.b')", (wf,))
    db_query(db_path, "UPDATE core_balsamjob SET state = 'FAILED' WHERE workflow = %s AND name = 'train.a.0'", (wf,))
    cols = [c for (c,) in db_query(db_path, "SELECT column_name FROM information_schema.columns WHERE "
                                            "table_name = 'core_balsamjob' ORDER BY ordinal_position")]
    sel = ", ".join("gen_random_uuid()" if c == "job_id" else c for c in cols)
    db_query(db_path, f"INSERT INTO core_balsamjob SELECT {sel} FROM core_balsamjob WHERE workflow = %s "
                      "AND name = 'train.b.1'", (wf,))  # a duplicate: counted once, not stale
    spec.write_text(spec_text(wf, xs="1, 2, 4", levels="3"))  # train.*.2 replaced by new points; report too
    proc = subprocess.run([sys.executable, "-c", STATUS, str(spec)], env=dict(env, DHFLOW_TIMING="1"),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "status: compiled and matched by key (streamed)" in proc.stderr
    streamed, whole = json.loads(proc.stdout.strip().splitlines()[-1])
    assert json.dumps(streamed) == json.dumps(whole)  # (in the same order too)
    assert whole[2]["train"] == {"FAILED": 1, "CREATED": 2, "JOB_FINISHED": 1, "NOT_SUBMITTED": 2}, whole
    assert whole[3] == 3  # train.a.2, train.b.2 and report (its upstream changed)
    cli = run_dhflow(["status", spec, "--format", "json"], env)
    assert cli.returncode == 0 and json.loads(cli.stdout)["rules"] == whole[2], cli.stderr


MALFORMED = """
import sys
from dhflow.balsam import rows
from dhflow.balsam.plan_diff import reconcile_stream
from dhflow.errors import PlanRejected
from dhflow.runtime import database
from dhflow.runtime.experiment import load
plan = load(sys.argv[1]).plan()
database.open_database(None, plan, sys.argv[1], create=False, quiet=True)
head = {k: v for k, v in plan.items() if k != "tasks"}
tasks = plan["tasks"]
child = next(i for i, t in enumerate(tasks) if t.get("parents"))
bad = {"twice": tasks[:3] + [dict(tasks[2])] + tasks[3:],
       "parent later": [tasks[child]] + tasks[:child] + tasks[child + 1:],
       "no key": tasks[:2] + [dict(tasks[2], key="")] + tasks[3:]}
for what, ts in bad.items():
    msgs = []
    for check in (lambda: rows.validate(dict(plan, tasks=ts)), lambda: reconcile_stream(head, iter(ts), lambda rec: None)):
        try:
            check()
            msgs.append(None)
        except PlanRejected as exc:
            msgs.append(str(exc))
    print(what, "|", msgs[0], "|", msgs[1])
"""


def test_a_malformed_plan_is_refused_as_the_whole_plan_refuses_it(balsam_db, e2e_root):
    """Names seen twice and parents that do not come earlier are checked in the server
    (no set of every name in Python): the same refusals as the whole plan's checks."""
    _, env = balsam_db
    spec = project(e2e_root, env, "pms_malformed")
    proc = subprocess.run([sys.executable, "-c", MALFORMED, str(spec)], env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    lines = [ln.split(" | ") for ln in proc.stdout.strip().splitlines()]
    assert [ln[0] for ln in lines] == ["twice", "parent later", "no key"]
    for what, whole, streamed in lines:
        assert whole != "None" and streamed == whole, (what, whole, streamed)


OUTSIDE = """
import json, sys
from django.db import connection
from dhflow.balsam.plan_diff import reconcile_stream
from dhflow.compiler.api import compile_file_streaming
from dhflow.runtime import database
stream = compile_file_streaming(sys.argv[1])
database.open_database(None, stream.head, sys.argv[1], create=False, quiet=True)
seen = {}
def show(rec, listing):
    seen[listing] = {"in_transaction": connection.in_atomic_block, "counts": rec.counts(),
                     "listed": len(list(rec.changed())) if listing else None}
    if not listing:
        try:
            rec.changed().__next__()
        except ValueError:
            seen[listing]["refused"] = True
for listing in (True, False):
    s = compile_file_streaming(sys.argv[1])
    reconcile_stream(s.head, s.tasks, lambda rec: show(rec, listing), listing=listing)
print(json.dumps(seen))
"""


def test_a_table_is_shown_after_the_matching_transaction_ends(balsam_db, e2e_root):
    """Only the JSON lists the decisions (read while the matching transaction is open);
    the table's counts are shown after it ended, so a slow reader keeps no snapshot open."""
    _, env = balsam_db
    wf = "pms_outside"
    spec = project(e2e_root, env, wf)
    spec.write_text(spec_text(wf, xs="1, 2, 4"))
    proc = subprocess.run([sys.executable, "-c", OUTSIDE, str(spec)], env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["true"]["in_transaction"] is True and seen["true"]["listed"] > 0
    assert seen["false"]["in_transaction"] is False and seen["false"].get("refused") is True
    assert seen["false"]["counts"] == seen["true"]["counts"]
