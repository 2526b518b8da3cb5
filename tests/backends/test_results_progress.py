import json
import math
from collections import Counter
from dataclasses import dataclass

import pytest

from dhflow.results import progress

from dhflow.results import objectives as results

from .conftest import make_plan

HIST_OK = ("\n[11-22-2026 03:10:53.000000 CREATED] \n[11-22-2026 03:10:58.000000 RUNNING] \n"
           "[11-22-2026 03:11:00.500000 RUN_DONE] \n[11-22-2026 03:11:01.000000 JOB_FINISHED] ")
HIST_ERR = ("\n[11-22-2026 03:10:53.000000 CREATED] \n[11-22-2026 03:10:58.000000 RUNNING] \n"
            "[11-22-2026 03:11:00.000000 RUN_ERROR] nonzero return 3:     line one\n    about to fail: bad input\n"
            "[11-22-2026 03:11:01.000000 FAILED] ")
HIST_PARENT = ("\n[11-22-2026 03:10:53.000000 CREATED] \n[11-22-2026 03:10:54.000000 AWAITING_PARENTS] \n"
               "[11-22-2026 03:11:01.000000 FAILED] One or more parent jobs failed")


@dataclass
class Job:
    name: str
    state: str
    workdir: str
    data: dict
    state_history: str = HIST_OK


def test_history_and_runtime():
    entries = results.history(HIST_ERR)
    assert [s for _, s, _ in entries] == ["CREATED", "RUNNING", "RUN_ERROR", "FAILED"]
    assert "about to fail" in entries[2][2]
    assert results.runtime_seconds(HIST_OK) == pytest.approx(2.5)


def test_failure_reasons(tmp_path):
    job = Job("b", "FAILED", str(tmp_path), {}, HIST_ERR)
    assert results.failure_reason(job) == "exited with code 3: about to fail: bad input"
    job = Job("c", "FAILED", str(tmp_path), {}, HIST_PARENT)
    assert results.failure_reason(job) == "One or more parent jobs failed"


def test_stdout_objective(tmp_path):
    (tmp_path / "t.out").write_text("DH-OUTPUT: 5\nnoise\nDH-OUTPUT 0.25 extra\nDH-OUTPUT_STD: 0.1\nDH-OUTPUTX\n")
    job = Job("t", "JOB_FINISHED", str(tmp_path), {})
    # the marker must be a whole word: DH-OUTPUT_STD and DH-OUTPUTX are other markers
    assert results.read_objective({"source": "stdout", "marker": "DH-OUTPUT"}, job) == (0.25, None)
    (tmp_path / "t.out").write_text("DH-OUTPUT: 5\nDH-OUTPUT: oops\n")
    value, error = results.read_objective({"source": "stdout", "marker": "DH-OUTPUT"}, job)
    assert value is None and "not a number" in error
    (tmp_path / "t.out").write_text("\ufeffDH-OUTPUT: 12345678901234567891\r\n")
    assert results.read_objective({"source": "stdout", "marker": "DH-OUTPUT"}, job) == (12345678901234567891, None)
    (tmp_path / "t.out").write_text("DH-OUTPUT: 1_000\n")
    assert results.read_objective({"source": "stdout", "marker": "DH-OUTPUT"}, job)[0] is None
    (tmp_path / "t.out").write_text("DH-OUTPUT: 5\nnoise\nDH-OUTPUT 0.25 extra\n")
    assert results.read_objective({"source": "stdout", "marker": "DH-OUTPUT"}, job) == (0.25, None)
    (tmp_path / "t.out").write_text("DH-OUTPUT: nan\n")
    value, error = results.read_objective({"source": "stdout", "marker": "DH-OUTPUT"}, job)
    assert value is None and "finite" in error
    (tmp_path / "t.out").write_text("nothing\n")
    value, error = results.read_objective({"source": "stdout", "marker": "DH-OUTPUT"}, job)
    assert value is None and "no line" in error


def test_data_and_file_objectives(tmp_path):
    job = Job("t", "JOB_FINISHED", str(tmp_path), {"dh_objective": 0.5, "s": "1e-3", "b": True})
    assert results.read_objective({"source": "data", "key": "dh_objective"}, job) == (0.5, None)
    assert results.read_objective({"source": "data", "key": "s"}, job) == (0.001, None)
    assert results.read_objective({"source": "data", "key": "b"}, job)[0] is None
    assert "no key" in results.read_objective({"source": "data", "key": "zz"}, job)[1]
    spec = {"source": "file", "path": "m.json", "key": "val_r2"}
    assert "no file" in results.read_objective(spec, job)[1]
    (tmp_path / "m.json").write_text("{not json")
    assert "JSON" in results.read_objective(spec, job)[1]
    (tmp_path / "m.json").write_text(json.dumps({"val_r2": 0.9, "nested": {"a": 2}}))
    assert results.read_objective(spec, job) == (0.9, None)
    assert results.read_objective({"source": "file", "path": "m.json", "key": "nested.a"}, job) == (2, None)


def test_unfinished_jobs_have_reasons(tmp_path):
    spec = {"source": "data", "key": "k"}
    assert results.read_objective(spec, None) == (None, "not submitted (no job in the database)")
    job = Job("t", "RUNNING", str(tmp_path), {"k": 1})
    assert results.read_objective(spec, job) == (None, "not finished (state RUNNING)")
    job = Job("t", "FAILED", str(tmp_path), {"k": 1}, HIST_ERR)
    value, error = results.read_objective(spec, job)
    assert value is None and error.startswith("FAILED: exited with code 3")


@pytest.mark.parametrize("direction, expected", [("maximize", ["train.1", "train.0"]),
                                                 ("minimize", ["train.0", "train.1"])])
def test_collect_sorts_best_first(tmp_path, direction, expected):
    plan = make_plan(objective=direction)
    jobs = {}
    for t, value in (("train.0", 1), ("train.1", 2)):
        d = tmp_path / t
        d.mkdir()
        (d / f"{t}.out").write_text(f"DH-OUTPUT: {value}\n")
        key = next(x["key"] for x in plan["tasks"] if x["name"] == t)
        jobs[key] = Job(t, "JOB_FINISHED", str(d), {})
    records = results.collect(plan, jobs)
    assert [r["name"] for r in records] == expected
    assert set(records[0]) == {"rule", "name", "index", "point", "state", "objective", "error", "runtime", "trial"}
    # a task without a readable objective goes last
    jobs.pop("k-t1")
    records = results.collect(plan, jobs)
    assert records[-1]["name"] == "train.1" and records[-1]["objective"] is None
    assert records[-1]["state"] == "NOT_SUBMITTED"
    assert "train.0" in results.format_table(records)
    assert results.format_csv(records).splitlines()[0] == "rule,name,index,x,state,objective,runtime,error"


def test_progress_counts_and_lines(plan):
    states = {"prep": "JOB_FINISHED", "train.0": "RUNNING", "train.1": "AWAITING_PARENTS"}
    counts = progress.rule_counts(plan, states)
    assert counts["train"] == Counter({"RUNNING": 1, "AWAITING_PARENTS": 1})
    assert counts["report"] == Counter({"NOT_SUBMITTED": 1})
    assert not progress.all_final(counts)
    assert progress.one_line(counts) == ("prep: 1 finished | train: 1 waiting, 1 running | "
                                         "report: 1 not submitted")
    done = progress.rule_counts(plan, {t["name"]: "JOB_FINISHED" for t in plan["tasks"]})
    assert progress.all_final(done)

    import io
    buf = io.StringIO()
    live = progress.LiveProgress("wf", stream=buf, tty=False)
    live.update(counts, 1.0)
    live.update(counts, 2.0)           # unchanged: no new line
    live.update(done, 3.0)
    assert len(buf.getvalue().splitlines()) == 2
