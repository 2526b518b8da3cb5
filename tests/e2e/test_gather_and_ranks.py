"""Files gathered from several parents and objectives of several ranks, with the real launcher.

* A gather over four parents that each write `result.json` receives every file, each with its
  extension and its parent's task name (`result.make.a.json`, ...), in serial and in MPI mode:
  the gather script's `glob("*.json")` sees all four.
* A 4-rank task (real MPICH) whose ranks all print `DH-OUTPUT`: the objective is rank 0's last
  line, whatever order the ranks' lines reach the `.out` in.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e

GATHER = '''
workflow @WF@:
    objective: maximize

values part: "a", "b", "c", "d"

rule make:
    foreach: part
    shell: "python3 {here}/make.py {part}"

rule gather:
    after: make
    inputs: "result.json"
    shell: "python3 {here}/gather.py"
'''

MAKE = '''import json, sys
json.dump({"part": sys.argv[1]}, open("result.json", "w"))
'''

GATHER_PY = '''import glob, json
seen = {name: json.load(open(name)) for name in sorted(glob.glob("*.json"))}
json.dump(seen, open("seen.out.txt", "w"))
print("gathered", len(seen))
'''


def _env(balsam_db):
    _, env = balsam_db
    return dict(env, PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))


def _workdir(db, wf, name):
    (job_id,), = db_query(db, "SELECT job_id::text FROM core_balsamjob WHERE workflow = %s AND name = %s",
                          [wf, name])
    return Path(db) / "data" / wf / f"{name}_{job_id[:8]}"


@pytest.mark.parametrize("mode", ["serial", "mpi"])
def test_gather_sees_every_parents_file(balsam_db, e2e_root, mode):
    db, _ = balsam_db
    env = _env(balsam_db)
    wf = f"gather_{mode}"
    spec = make_project(e2e_root, wf, GATHER.replace("@WF@", wf), {"make.py": MAKE, "gather.py": GATHER_PY})
    proc = run_dhflow(["run", spec, "--job-mode", mode, "--timeout", "240"], env, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    gather_dir = _workdir(db, wf, "gather")
    seen = json.loads((gather_dir / "seen.out.txt").read_text())
    # every parent's file, its extension kept, named after the parent it came from
    assert seen == {f"result.make.{p}.json": {"part": p} for p in "abcd"}
    for p in "abcd":
        link = gather_dir / f"result.make.{p}.json"
        assert link.is_symlink() and Path(os.readlink(link)) == _workdir(db, wf, f"make.{p}") / "result.json"
    assert not list(gather_dir.glob("result.json*"))  # no Balsam `_<job id>` names


RANKS = '''
workflow ranks4:
    objective: maximize

space:
    x: choice(1, 2)

sample: grid(levels=2)

rule wide:
    foreach: space
    ranks_per_node: 4
    shell: "python3 {here}/ranks.py {x}"
    objective: stdout("DH-OUTPUT")
'''

# Every rank prints three epochs' values (different per rank); rank 3 then prints one more,
# half a second after the others are done, so the file's last marked line is rank 3's and a
# "last line of the file" rule would read 999: the documented rule reads rank 0's last line.
RANKS_PY = '''import os, sys, time
rank, x = int(os.environ["PMI_RANK"]), int(sys.argv[1])
for epoch in range(3):
    print("DH-OUTPUT", 100 * x + 10 * rank + epoch, flush=True)
    time.sleep(0.05)
if rank == 3:
    time.sleep(0.5)
    print("DH-OUTPUT", 999, flush=True)
'''


def test_four_ranks_objective_is_rank_zeros_last_line(balsam_db, e2e_root):
    from dhflow.balsam.env import real_mpirun_kind

    if real_mpirun_kind() != "mpich":
        pytest.skip("no MPICH mpirun on PATH (scripts/setup.sh installs Debian's mpich as root)")
    db, _ = balsam_db
    env = _env(balsam_db)
    env.pop("DHFLOW_MPIRUN_SHIM", None)
    spec = make_project(e2e_root, "ranks4", RANKS, {"ranks.py": RANKS_PY})
    proc = run_dhflow(["run", spec, "--job-mode", "mpi", "--timeout", "240"], env, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    res = run_dhflow(["results", spec, "--format", "json"], env)
    assert res.returncode == 0, res.stderr
    got = {r["point"]["x"]: r["objective"] for r in json.loads(res.stdout)}
    assert got == {1: 102, 2: 202}  # rank 0's last epoch, not rank 3's later 999
    out = (_workdir(db, "ranks4", "wide.0") / "wide.0.out").read_text()
    labelled = [line for line in out.splitlines() if line.split(" ", 1)[0] in ("[0]", "[1]", "[2]", "[3]")]
    assert {line.split(" ", 1)[0] for line in labelled} == {"[0]", "[1]", "[2]", "[3]"}, out
    last = out.rstrip().splitlines()[-1]  # the file's last line is rank 3's (in pieces when unbuffered)
    assert last.startswith("[3] DH-OUTPUT") and last.endswith(" 999"), out
