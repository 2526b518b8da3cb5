"""A search's proposals written one at a time (only the new trial's tasks and its row) give
exactly the jobs a full write of the plan of every trial would: a full-plan dry run finds
nothing to add, rerun or orphan, and every job row is, column by column, the row the full
write's dry run shows (ids, stamps and provenance aside). A before rule, a chain of two
foreach rules and a repeated point are in it; the space is not in alphabetical order (points read
back from jsonb have their keys in another order: they must key the same tasks). No launcher runs."""
from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import db_query, make_project

pytestmark = pytest.mark.e2e

SPEC = """workflow sq_incr:
    objective: minimize

space:
    x: int(0, 3)
    n: int(1, 2)

search: random(evals=20, parallel=1, seed=5)

rule prepare:
    shell: "echo prepared"

rule build:
    foreach: space
    after: prepare
    shell: "echo build {x}"

rule evaluate:
    foreach: space
    after: build
    nodes: n
    shell: "echo DH-OUTPUT: {x}"
    objective: stdout("DH-OUTPUT")
"""

SCRIPT = r"""
import json, sys
from dhflow.balsam import rows as balsam_rows, searchstore, store
from dhflow.runtime import database
from dhflow.runtime.provenance import provenance
from dhflow.runtime.search import BalsamBackend, NoLauncher
from dhflow.runtime.experiment import load_search as load
from dhflow.runtime.search_plan import plan_of

ctx = load(sys.argv[1])
first = plan_of(ctx, [])
database.open_database(sys.argv[2], first, ctx.file, create=True, quiet=True)
prov = provenance(first)
trials = searchstore.load_trials(ctx.workflow, ctx.fingerprint)
searchstore.write_batch(plan_of(ctx, trials), ctx.fingerprint, [], provenance=prov)
backend = BalsamBackend(ctx, trials, NoLauncher(), provenance=prov, job_mode=None)
points = [{"x": 1, "n": 1}, {"x": 2, "n": 2}, {"x": 1, "n": 1}, {"x": 3, "n": 1}, {"x": 0, "n": 2}]
for t, p in enumerate(points):
    backend.submit([(t, p)])
backend.submit([(5, {"x": 0, "n": 1})])
full = plan_of(ctx, searchstore.load_trials(ctx.workflow, ctx.fingerprint))
dry = store.apply(full, provenance=prov, dry_run=True)
from django.db import connection
with connection.cursor() as c:
    c.execute("SELECT name, job_id::text FROM core_balsamjob WHERE workflow = %s", [ctx.workflow])
    ids = dict(c.fetchall())
    c.execute("SELECT * FROM core_balsamjob WHERE workflow = %s", [ctx.workflow])
    cols = [d[0] for d in c.description]
    db_rows = {r[cols.index("name")]: dict(zip(cols, r)) for r in c.fetchall()}
want = {r["name"]: r for r in balsam_rows.dry_run_rows(full, None, provenance=prov)}
skip = {"job_id", "tick", "state_history", "parents", "lock", "queued_launch_id"}
diff = []
for name, row in want.items():
    got = db_rows.get(name)
    if got is None:
        diff.append(f"{name}: missing")
        continue
    for col, value in row.items():
        if col in skip:
            continue
        have = got[col]
        if col == "data":
            have = json.loads(have) if isinstance(have, str) else dict(have)
            for d in (have, value):
                d.pop("dhflow_provenance", None)
        if str(have) != str(value) and have != value:
            diff.append(f"{name}.{col}: {have!r} != {value!r}")
    parents = sorted(json.loads(got["parents"]))
    wanted = sorted(ids[p] for p in next(t for t in full["tasks"] if t["name"] == name).get("parents") or [])
    if parents != wanted:
        diff.append(f"{name}.parents: {parents} != {wanted}")
print(json.dumps({"created": len(dry.created), "rerun": len(dry.rerun), "orphaned": dry.orphaned,
                  "kept": len(dry.kept), "jobs": len(db_rows), "extra": sorted(set(db_rows) - set(want)),
                  "diff": diff}))
"""


def test_incremental_writes_are_what_a_full_write_of_every_trial_gives(balsam_db, e2e_root):
    import json

    db, env = balsam_db
    path = make_project(e2e_root, "sq_incr", SPEC)
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(path), db], env=env, capture_output=True, text=True,
                         cwd=path.parent, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # prepare + (build, evaluate) for 5 distinct points (trial 2 repeats trial 0's point)
    assert (got["created"], got["rerun"], got["orphaned"], got["extra"], got["diff"]) == (0, 0, 0, [], [])
    assert got["jobs"] == got["kept"] == 1 + 2 * 5
    # one submission per proposal, as every write records
    subs = db_query(db, "SELECT command, added FROM dhflow_submission WHERE workflow = 'sq_incr' ORDER BY id")
    assert [a for c, a in subs if c == "search"] == [1, 2, 2, 0, 2, 2, 2]
