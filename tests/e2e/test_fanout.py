"""v2 fan-out for real: the datasets example runs with the real launcher, `prepare`'s file
reaches `train` through Balsam's stage-in (`inputs:`), results carry the dimension values,
and editing the model script reruns exactly its tasks and their dependants."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import REPO, db_query, run_dhflow

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def datasets(e2e_root, balsam_db):
    dest = e2e_root / "fanout" / "datasets"
    shutil.copytree(REPO / "examples" / "datasets", dest, ignore=shutil.ignore_patterns(".dhflow"))
    for d in (dest.parent, dest):
        os.chmod(d, 0o755)
    _, env = balsam_db
    env = dict(env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return dest / "datasets.dhflow", env


def _jobs(db, wf="datasets"):
    rows = db_query(db, "SELECT name, state, input_files, job_id::text FROM core_balsamjob "
                        "WHERE workflow = %s", [wf])
    # Balsam's working directory of a job: <db>/data/<workflow>/<name>_<first 8 of its id>
    return {r[0]: (r[1], r[2], str(Path(db) / "data" / wf / f"{r[0]}_{r[3][:8]}")) for r in rows}


def _total(text: str) -> list[str]:
    """NEW, UNCHANGED, RERUN, ORPHANED of the `total` line of `plan --against-db`."""
    return next(line.split()[1:5] for line in text.splitlines() if line.startswith("total"))


def test_datasets_run_with_files_flowing(datasets, balsam_db):
    path, env = datasets
    db, _ = balsam_db
    proc = run_dhflow(["run", path], env, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    jobs = _jobs(db)
    assert len(jobs) == 13 and all(state == "JOB_FINISHED" for state, _, _ in jobs.values()), jobs
    # train.* read data.csv through Balsam's stage-in: a link into its own dataset's prepare dir
    state, input_files, workdir = jobs["train.noisy.1"]
    assert input_files == "data.csv"
    link = Path(workdir) / "data.csv"
    assert link.is_symlink() and Path(os.readlink(link)).parent == Path(jobs["prepare.noisy"][2])
    assert jobs["prepare.noisy"][1] == ""  # no inputs: nothing linked
    res = run_dhflow(["results", path, "--format", "json"], env)
    assert res.returncode == 0, res.stderr
    records = json.loads(res.stdout)
    assert sorted(r["name"] for r in records) == sorted(n for n in jobs if n.startswith("train."))
    assert all(isinstance(r["objective"], float) and r["error"] is None for r in records), records
    assert {r["values"]["dataset"] for r in records} == {"linear", "quadratic", "noisy"}
    # the same point fits its own dataset: the objectives differ between datasets
    by_point = {}
    for r in records:
        by_point.setdefault(r["index"], {})[r["values"]["dataset"]] = r["objective"]
    assert all(len(set(v.values())) == 3 for v in by_point.values()), by_point
    table = run_dhflow(["results", path], env)
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:4] == ["#", "task", "dataset", "degree"]


def test_editing_the_model_reruns_its_tasks_and_dependants(datasets, balsam_db):
    path, env = datasets
    db, _ = balsam_db
    before = run_dhflow(["plan", path, "--against-db", "--format", "json"], env)
    assert before.returncode == 0, before.stderr
    with open(path.parent / "train.py", "a") as f:
        f.write("# edited\n")
    proc = run_dhflow(["plan", path, "--against-db"], env)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[2:] if line.strip()}
    assert rows["prepare"][1:5] == ["0", "3", "0", "0"], proc.stdout
    assert rows["train"][1:5] == ["0", "0", "6", "0"] and "code changed: train.py (6)" in proc.stdout
    assert rows["summarize"][1:5] == ["0", "0", "3", "0"] and rows["report"][1:5] == ["0", "0", "1", "0"]
    assert "upstream code changed" in proc.stdout
    sub = run_dhflow(["submit", path, "--no-launch"], env)  # the streaming path falls back to the rerun path
    assert sub.returncode == 0, sub.stdout + sub.stderr
    states = {n: s for n, (s, _, _) in _jobs(db).items()}
    assert {n for n, s in states.items() if s == "CREATED"} == {n for n in states if not n.startswith("prepare.")}
    assert all(states[f"prepare.{d}"] == "JOB_FINISHED" for d in ("linear", "quadratic", "noisy"))
    again = run_dhflow(["plan", path, "--against-db"], env)  # the rerun jobs recorded the new code
    assert again.returncode == 0 and "code changed" not in again.stdout, again.stdout
    assert _total(again.stdout) == ["0", "13", "0", "0"], again.stdout


def test_jobs_without_code_fingerprints_are_kept(datasets, balsam_db):
    """Jobs written before dhflow recorded code (no `code:` parts) keep their jobs when the
    code changes: upgrading dhflow alone reruns nothing."""
    path, env = datasets
    db, _ = balsam_db
    db_query(db, "UPDATE core_balsamjob SET data = jsonb_set(data, '{dhflow_parts}', "
                 "(data->'dhflow_parts') - 'code:train.py' - 'code:prepare.py' - 'code:summarize.py') "
                 "WHERE workflow = 'datasets'")
    with open(path.parent / "train.py", "a") as f:
        f.write("# edited again\n")
    proc = run_dhflow(["plan", path, "--against-db"], env)
    assert proc.returncode == 0, proc.stderr
    assert _total(proc.stdout) == ["0", "13", "0", "0"], proc.stdout
