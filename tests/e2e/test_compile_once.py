"""Every command reads, parses and checks its FILE once, and compiles it at most once.

The count is the compiler's own (``dhflow.compiler.api.COUNTS``), printed on exit with
``DHFLOW_COUNT_COMPILES=1``; each command runs for real against the session's database,
on a sweep and on a search (``plan --against-db`` of a search used to compile it 3 times,
``submit`` to parse it twice).
"""
from __future__ import annotations

import re

import pytest

from .conftest import make_project, run_dhflow

pytestmark = pytest.mark.e2e

SWEEP = """workflow {wf}:
    objective: maximize
space:
    x: int(1, 4)
sample: grid(levels=4)
rule train:
    foreach: space
    shell: "echo DH-OUTPUT: {{x}}"
    objective: stdout("DH-OUTPUT")
launch:
    scheduler: local
"""

SEARCH = """workflow {wf}:
    objective: minimize
space:
    x: real(-5, 5)
search: random(evals=2, parallel=2, seed=1)
rule evaluate:
    foreach: space
    shell: "echo DH-OUTPUT: {{x}}"
    objective: stdout("DH-OUTPUT")
launch:
    scheduler: local
"""


def counted(args, env) -> tuple[int, int, object]:
    """(parses, compiles, the finished process) of `dhflow ARGS`."""
    proc = run_dhflow(args, dict(env, DHFLOW_COUNT_COMPILES="1"))
    found = re.findall(r"dhflow: parses=(\d+) compiles=(\d+)", proc.stderr)
    assert found, proc.stderr
    parses, compiles = map(int, found[-1])
    return parses, compiles, proc


def once(args, env, *, compiles: int | None = None):
    parses, got, proc = counted(args, env)
    assert proc.returncode in (0, 5), (args, proc.stderr)
    assert parses == 1, (args, parses, proc.stderr)
    assert got <= 1 if compiles is None else got == compiles, (args, got, proc.stderr)
    return proc


def test_each_command_of_a_sweep_parses_once_and_compiles_at_most_once(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "cmp_once", SWEEP.format(wf="cmp_once"))
    for args in (["check", spec], ["plan", spec], ["plan", spec, "--format", "json"], ["graph", spec],
                 ["plan", spec, "--against-db"], ["submit", spec, "--dry-run"]):
        once(args, env, compiles=1)
    once(["run", spec], env, compiles=1)
    once(["submit", spec, "--no-launch"], env, compiles=1)  # records the input digest the run's write does not
    # unchanged since that submission: answered without compiling
    for args in (["status", spec], ["plan", spec, "--against-db"], ["submit", spec, "--no-launch"]):
        once(args, env, compiles=0)
    for args in (["results", spec], ["results", spec, "--format", "json"], ["status", spec, "--format", "json"]):
        once(args, env)
    for args in (["history", spec], ["clean", spec, "--yes"]):
        once(args, env, compiles=0)


def test_each_command_of_a_search_parses_once_and_compiles_once(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "cmp_once_s", SEARCH.format(wf="cmp_once_s"))
    for args in (["check", spec], ["plan", spec], ["plan", spec, "--format", "json"], ["submit", spec, "--dry-run"]):
        once(args, env, compiles=1)
    once(["run", spec], env, compiles=1)
    for args in (["plan", spec, "--against-db"], ["status", spec], ["results", spec],
                 ["results", spec, "--format", "json"], ["submit", spec, "--no-launch"]):
        once(args, env, compiles=1)
    once(["history", spec], env, compiles=0)


UNSAFE = """workflow {wf}:
space:
    name: choice("a b", "c")
sample: grid(levels=2)
rule train:
    foreach: space
    shell: "echo DH-OUTPUT: 1 {{name}}"
    objective: stdout("DH-OUTPUT")
"""


def test_warnings_found_while_compiling_are_shown_once_by_every_command(balsam_db, e2e_root):
    """A warning of the expansion (DH408: a value the shell splits) is shown by `run`, which
    compiles after loading, and by `status`; once each."""
    db_path, env = balsam_db
    spec = make_project(e2e_root, "cmp_warn", UNSAFE.format(wf="cmp_warn"))
    check = run_dhflow(["check", spec], env)
    assert check.returncode == 0 and "DH408" in check.stderr, check.stderr
    for args in (["run", spec], ["status", spec], ["results", spec]):
        proc = once(args, env)
        assert proc.stderr.count("DH408") == check.stderr.count("DH408"), (args, proc.stderr)
