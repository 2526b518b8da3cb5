"""Pure parts of the runtime hardening: objective values of any size, `dhflow emit`'s value
rules, server-info validation, the --listen address rules and the batch script's setup lines."""
from __future__ import annotations

import json
import os
import stat
from types import SimpleNamespace

import pytest

from dhflow.errors import BackendError, UsageError
from dhflow.results import objectives

HUGE = "9" * 5000


def finished(data=None, workdir="/nonexistent"):
    return SimpleNamespace(state="JOB_FINISHED", state_history="", data=data or {}, workdir=workdir, name="t",
                           executable="")


@pytest.mark.parametrize("value", [HUGE, "-" + HUGE])
def test_huge_integer_objectives_are_refused_with_the_reason(value):
    got, why = objectives.read_objective({"source": "data", "key": "k"}, finished({"k": value}))
    assert got is None and "integer of 5000 digits" in why


def test_huge_objectives_from_stdout_and_files(tmp_path):
    (tmp_path / "t.out").write_text(f"DH-OUTPUT: {HUGE}\n")
    (tmp_path / "m.json").write_text('{"score": ' + HUGE + "}")
    job = finished(workdir=str(tmp_path))
    assert "5000 digits" in objectives.read_objective({"source": "stdout", "marker": "DH-OUTPUT"}, job)[1]
    assert "5000 digits" in objectives.read_objective({"source": "file", "path": "m.json", "key": "score"}, job)[1]
    big = "9" * 4000  # kept exactly, printed, sorted
    (tmp_path / "t.out").write_text(f"DH-OUTPUT: {big}\n")
    value, why = objectives.read_objective({"source": "stdout", "marker": "DH-OUTPUT"}, job)
    assert why is None and value == int(big)
    rec = {"rule": "r", "name": "t", "index": 0, "point": {}, "state": "JOB_FINISHED", "objective": value,
           "error": None, "runtime": None}
    # the table shortens it (%.6g-style, exactly: no float overflow); JSON and CSV keep it whole
    table = objectives.format_table([rec])
    assert "1e+4000" in table and big not in table
    assert big in objectives.format_json([rec]) and big in objectives.format_csv([rec])


def test_database_rows_with_huge_integers_load():
    from dhflow.balsam.jobs import json_value

    assert json_value('{"k": ' + HUGE + ', "n": 3}') == {"k": HUGE, "n": 3}


def test_missing_executable_reason(tmp_path):
    hist = "[11-29-2026 04:00:00.000000 RUN_ERROR] nonzero return 12345: \n"
    job = SimpleNamespace(state="FAILED", state_history=hist, data={}, workdir=str(tmp_path), name="t",
                          executable=f"{tmp_path}/nope --flag")
    assert objectives.failure_reason(job) == f"executable not found: {tmp_path}/nope"
    job.executable = "/bin/sh -c"
    assert objectives.failure_reason(job).startswith("exited with code 12345")


def test_emit_values():
    from dhflow.runtime import emit

    assert emit.objective_json("0.25") == "0.25" and emit.objective_json(" 7 ") == "7"
    for bad in ("fast", "nan", "inf", "1e400", HUGE, ""):
        with pytest.raises(UsageError):
            emit.objective_json(bad)
    assert json.loads(emit.data_json("[1, 2]")) == [1, 2]
    assert json.loads(emit.data_json('{"a": 1}')) == {"a": 1}
    assert json.loads(emit.data_json("hello world")) == "hello world"
    assert json.loads(emit.data_json("NaN")) == "NaN" and json.loads(emit.data_json("1e400")) == "1e400"
    assert json.loads(emit.data_json(HUGE)) == HUGE
    with pytest.raises(UsageError):
        emit.check_key("dhflow_key")
    with pytest.raises(UsageError, match="BALSAM_JOB_ID"):
        emit.job_from_env({"BALSAM_DB_PATH": "/x"})
    assert emit.job_from_env({"BALSAM_JOB_ID": "j", "BALSAM_DB_PATH": "/x"}) == ("j", "/x")


@pytest.mark.parametrize("content, what", [("", "empty"), ("{nope", "not valid JSON"), ("[1]", "not a JSON object"),
                                           ("\xff", "not valid JSON")])
def test_malformed_server_info(tmp_path, content, what):
    from dhflow.balsam.serverinfo import read_server_info

    (tmp_path / "server-info").write_text(content, encoding="latin-1")
    with pytest.raises(BackendError, match=what):
        read_server_info(tmp_path)


def test_server_info_is_private(tmp_path):
    from dhflow.balsam.serverinfo import read_server_info, write_server_info

    write_server_info(tmp_path, {"host": "h", "port": 1, "password": "p"})
    assert stat.S_IMODE(os.stat(tmp_path / "server-info").st_mode) == 0o600
    assert read_server_info(tmp_path)["password"] == "p"


def test_listen_addresses():
    from dhflow.balsam import auth

    for ok in ("127.0.0.1", "10.1.2.3", "login1.cluster", "*", "::1"):
        assert auth.check_listen(ok) == ok
    for bad in ("", "a b", "1.2.3.4,5.6.7.8", "'; drop", "$(x)"):
        with pytest.raises(UsageError):
            auth.check_listen(bad)
    assert auth.advertised_host(None) == "127.0.0.1" and auth.advertised_host("10.1.2.3") == "10.1.2.3"
    assert auth.is_loopback("127.0.0.1") and auth.is_loopback("localhost") and not auth.is_loopback("10.1.2.3")
    assert "trust" not in auth.HBA.replace("# ", "").split("\n", 2)[2]


def test_setup_lines_in_the_batch_script():
    from dhflow.balsam.scheduler import render_script
    from dhflow.target import LaunchOptions

    opts = LaunchOptions("slurm", "p", "q", 1, 10, "mpi", "", "module load gcc\nmodule load cuda")
    lines = render_script(opts, "wf", "/tmp/db").splitlines()
    launcher = next(i for i, ln in enumerate(lines) if ln.startswith("exec "))
    assert lines.index("module load gcc") < lines.index("module load cuda") < launcher
    opts.setup = ""
    assert "# launch: setup:" not in render_script(opts, "wf", "/tmp/db")


def test_app_names_are_per_workflow():
    from dhflow.balsam.rows import balsam_name
    from dhflow.balsam.rows import app_rows

    plan = {"workflow": "wf", "apps": [{"name": "trainer", "executable": "/bin/true"}], "source": {"here": "/"}}
    assert [r["name"] for r in app_rows(plan)] == ["wf.trainer"] == [balsam_name("wf", "trainer")]
