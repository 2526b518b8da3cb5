"""Every command that takes a .dhflow FILE reads it through the compiler's bounded reader:
`/dev/zero`, a FIFO nobody writes and a file over 1 MiB get the same DH007 diagnostic at
once, a non-zero exit and no traceback (before, `status` and `submit --dry-run` of
/dev/zero ran out of memory and `status` of a FIFO waited for ever).

Each case is `python -m dhflow` in a subprocess with a timeout, so a command that blocks on
the FIFO fails the test instead of hanging the run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dhflow.compiler.limits import MAX_SOURCE_BYTES

ROOT = Path(__file__).resolve().parents[1]
#: Every command that reads a .dhflow FILE (as argv before the file, after it).
COMMANDS = [
    (["check"], []), (["plan"], []), (["plan"], ["--against-db"]), (["graph"], []),
    (["submit"], []), (["submit"], ["--dry-run"]), (["run"], []), (["status"], []), (["results"], []),
    (["clean"], ["--yes"]), (["history"], []), (["report"], []), (["fmt"], []), (["fmt"], ["--check"]),
    (["db", "status"], []), (["search-driver"], []), (["search-storage"], []),
]
#: A clean exit is prompt: the timeout only catches a command waiting on the FIFO.
TIMEOUT_S = 30


def _dhflow(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "BALSAM_DB_PATH": str(cwd / "db"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dhflow", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """name -> (path, the words of its DH007 diagnostic)."""
    d = tmp_path_factory.mktemp("bounded")
    fifo = d / "nobody_writes.dhflow"
    os.mkfifo(fifo)
    huge = d / "huge.dhflow"
    with open(huge, "wb") as fp:  # valid text, a comment line after line, past the limit
        line = b"# " + b"x" * 77 + b"\n"
        fp.write(b"workflow w:\nrule a:\n    shell: \"true\"\n" + line * (MAX_SOURCE_BYTES // len(line) + 1))
    return {
        "dev_zero": ("/dev/zero", "cannot read file: not a regular file (a character device)"),
        "fifo": (str(fifo), "cannot read file: not a regular file (a FIFO)"),
        "huge": (str(huge), f"over the limit of {MAX_SOURCE_BYTES:,}"),
    }


@pytest.mark.parametrize("kind", ["dev_zero", "fifo", "huge"])
@pytest.mark.parametrize("before,after", COMMANDS, ids=[" ".join(b + a) for b, a in COMMANDS])
def test_refused_at_once_with_the_same_diagnostic(inputs, kind, before, after, tmp_path):
    path, words = inputs[kind]
    try:
        p = _dhflow([*before, path, *after], tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`dhflow {' '.join(before)} {kind} {' '.join(after)}` still running after {TIMEOUT_S} s")
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert f"{path}:1:1: error[DH007]: " in p.stderr and words in p.stderr, p.stderr[-2000:]
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr


def test_a_plan_json_fifo_is_refused_too(tmp_path):
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)
    for argv in (["status", str(fifo)], ["submit", str(fifo), "--dry-run"]):
        p = _dhflow(argv, tmp_path)
        assert p.returncode == 2 and "not a regular file (a FIFO)" in p.stderr, p.stderr
