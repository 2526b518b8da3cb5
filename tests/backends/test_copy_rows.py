"""The COPY text dhflow streams into core_balsamjob (pure: no database, no Balsam import)."""
from __future__ import annotations

import json
import re
import uuid

import pytest

from dhflow.errors import PlanRejected
from dhflow.balsam import copy as backend
from dhflow.balsam.rows import copy_lines
from dhflow.reconcile.decision import PartsMaker

from .conftest import make_plan

# balsam/core/models.py STATE_TIME_PATTERN (0.5.0)
STATE_TIME = re.compile(r"^\[(\d+-\d+-\d\d\d\d\s+\d+:\d+:\d+\.\d+)\s+(\w+)\s*\]", re.MULTILINE)


def unescape(field: str):
    """COPY text format -> value (None for \\N)."""
    if field == "\\N":
        return None
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\":
            nxt = field[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def rows_of(plan, tasks=None, ids=None):
    ids = ids or {t["name"]: str(uuid.uuid4()) for t in plan["tasks"]}
    text = b"".join(copy_lines(
        plan, tasks if tasks is not None else plan["tasks"], ids, provenance_json='{"submission":7}',
        tick="2026-01-01T00:00:00+00:00", history=backend.history_line("CREATED", "dhflow submission 7"),
        chunk_rows=2)).decode()
    assert text.endswith("\n")
    rows = []
    for line in text[:-1].split("\n"):
        fields = line.split("\t")
        assert len(fields) == len(backend.JOB_COLUMNS)
        rows.append(dict(zip(backend.JOB_COLUMNS, map(unescape, fields))))
    # the decoder the dry run uses reads the same values
    assert backend.decode_lines([text.encode()]) == rows
    return rows, ids


def test_every_column_is_given_and_matches_the_plan(plan):
    plan["tasks"][1]["args"] = "a\\b\tc\nd '{\"s\":\"x\\u0020y\"}'"
    rows, ids = rows_of(plan)
    assert [r["name"] for r in rows] == ["prep", "train.0", "train.1", "report"]
    t0 = rows[1]
    assert t0["job_id"] == ids["train.0"] and t0["workflow"] == "wf"
    assert t0["args"] == plan["tasks"][1]["args"]                  # escapes round-trip
    assert t0["environ_vars"] == "A=1:B=two" and t0["application"] == "wf.run"
    assert (t0["lock"], t0["input_files"], t0["stage_in_url"], t0["mpi_flags"], t0["user_workdir"]) == ("",) * 5
    assert t0["state"] == "CREATED" and t0["queued_launch_id"] is None
    assert (t0["wait_for_parents"], t0["post_error_handler"], t0["post_timeout_handler"],
            t0["auto_timeout_retry"]) == ("t", "f", "f", "t")
    assert t0["coschedule_num_nodes"] == "0" and t0["num_nodes"] == "1"
    assert json.loads(t0["parents"]) == [ids["prep"]]
    assert json.loads(rows[3]["parents"]) == [ids["train.0"], ids["train.1"]]
    assert rows[0]["parents"] == "[]"
    # the parents column is what Balsam's set_parents writes (json.dumps of a list of str)
    assert rows[3]["parents"] == json.dumps([ids["train.0"], ids["train.1"]])
    data = json.loads(t0["data"])
    assert data["dhflow_key"] == "k-t0" and data["dhflow_point"] == {"x": 1}
    assert data["dhflow_objective"] == {"source": "stdout", "marker": "DH-OUTPUT"}
    assert data["dhflow_spec"] == "/abs/dir/x.dhflow" and data["dhflow_sha256"] == "ab" * 32
    assert data["dhflow_provenance"] == {"submission": 7}
    assert data["dhflow_parts"] == PartsMaker(plan)(plan["tasks"][1])
    # state_history: one line Balsam's own parser reads
    assert STATE_TIME.findall(t0["state_history"])[0][1] == "CREATED"
    assert t0["state_history"].endswith("dhflow submission 7")


def test_only_the_given_tasks_are_written_with_existing_parents(plan):
    ids = {t["name"]: str(uuid.uuid4()) for t in plan["tasks"]}
    rows, _ = rows_of(plan, tasks=[plan["tasks"][3]], ids=ids)
    assert [r["name"] for r in rows] == ["report"]
    assert json.loads(rows[0]["parents"]) == [ids["train.0"], ids["train.1"]]


def test_uuid4s_are_valid_and_distinct():
    ids = list(backend.uuid4s(1000))
    assert len(set(ids)) == 1000
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)


@pytest.mark.parametrize("threaded", [False, True])
def test_reader_streams_chunks_and_hands_back_errors(threaded):
    reader = backend.GeneratorReader((f"{i}\n".encode() for i in range(50)), threaded=threaded, depth=2)
    got = []
    while True:
        chunk = reader.read(65536)
        if not chunk:
            break
        got.append(chunk)
    reader.close()
    assert got == [f"{i}\n".encode() for i in range(50)] and reader.rows == 50

    def failing():
        yield b"a\n"
        raise PlanRejected("bad row")

    reader = backend.GeneratorReader(failing(), threaded=threaded)
    assert reader.read() == b"a\n"
    with pytest.raises(PlanRejected, match="bad row"):
        reader.read()
    assert isinstance(reader.error, PlanRejected)
    reader.close()


def test_history_line_matches_balsam():
    line = backend.history_line("CREATED", "note")
    assert line.startswith(" ") and "\n[" in line                # Balsam right-justifies to 46 columns
    assert STATE_TIME.findall(line)[0][1] == "CREATED" and line.endswith("] note")


def test_reconcile_kept_jobs_without_points(plan):
    # the backend reads points and fingerprints for orphans only
    from dhflow.reconcile.decision import ExistingJob, reconcile

    jobs = [ExistingJob(f"id-{t['name']}", t["name"], t["key"], "JOB_FINISHED", t["rule"]) for t in plan["tasks"]]
    old = ExistingJob("id-old", "train.2", "k-gone", "CREATED", "train", {"x": 3}, None)
    rec = reconcile(plan, jobs + [old])
    assert [(d.name, d.status, d.reasons) for d in rec.of("orphaned")] == [("train.2", "orphaned", ("point removed",))]
    assert len(rec.of("unchanged")) == 4
