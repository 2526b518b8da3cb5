"""`dhflow results` with the real database and launcher: a search's table has a `trial` column
(the trial numbers of the records); a sweep whose two rules carry objectives has a `rule`
column, and `--rule R` keeps R's records only (an unknown rule: exit 2, naming the rules).

MPI job mode: the serial mode's host-wide lock would line these runs up behind others."""
from __future__ import annotations

import json

import pytest

from .conftest import make_project, run_dhflow

pytestmark = pytest.mark.e2e

SEARCH = """workflow {wf}:
    objective: minimize

space:
    x: int(-3, 3)

search: random(evals=3, parallel=2, seed=5)

rule evaluate:
    foreach: space
    shell: "echo DH-OUTPUT {{x}}"
    objective: stdout("DH-OUTPUT")
"""

TWO_RULES = """workflow {wf}:
    objective: minimize

space:
    x: int(1, 3)

sample: grid(levels=3)

rule a:
    foreach: space
    shell: "echo DH-OUTPUT {{x}}"
    objective: stdout("DH-OUTPUT")

rule b:
    foreach: space
    after: a
    shell: "echo SCORE 1{{x}}"
    objective: stdout("SCORE")
"""


def _table_rows(stdout: str) -> tuple[list[str], list[list[str]]]:
    lines = stdout.splitlines()
    return lines[0].split(), [line.split() for line in lines[2:]]


def test_search_results_table_shows_the_trials(balsam_db, e2e_root):
    db, env = balsam_db
    path = make_project(e2e_root, "res_trial", SEARCH.format(wf="res_trial"))
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    table = run_dhflow(["results", path], env)
    assert table.returncode == 0, table.stderr
    header, rows = _table_rows(table.stdout)
    assert header[:3] == ["#", "trial", "task"]
    records = json.loads(run_dhflow(["results", path, "--format", "json"], env).stdout)
    # the table's trial and task columns are the records' own, in the same (best first) order
    assert [(row[1], row[2]) for row in rows] == [(str(rec["trial"]), rec["name"]) for rec in records]
    assert sorted(int(row[1]) for row in rows) == [0, 1, 2]
    csv_lines = run_dhflow(["results", path, "--format", "csv"], env).stdout.splitlines()
    assert csv_lines[0].startswith("rule,name,index,trial,")


def test_rule_filter_on_a_sweep_with_two_objective_rules(balsam_db, e2e_root):
    db, env = balsam_db
    path = make_project(e2e_root, "res_rule", TWO_RULES.format(wf="res_rule"))
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    both = run_dhflow(["results", path], env)
    assert both.returncode == 0, both.stderr
    header, rows = _table_rows(both.stdout)
    assert header[:3] == ["#", "rule", "task"] and sorted(row[1] for row in rows) == ["a"] * 3 + ["b"] * 3
    only_b = run_dhflow(["results", path, "--rule", "b"], env)
    assert only_b.returncode == 0, only_b.stderr
    header, rows = _table_rows(only_b.stdout)
    assert "rule" not in header  # one rule left: no rule column
    objective = header.index("objective")
    assert [(row[1], row[objective]) for row in rows] == [("b.0", "11"), ("b.1", "12"), ("b.2", "13")]
    as_json = json.loads(run_dhflow(["results", path, "--rule", "a", "--format", "json"], env).stdout)
    assert [(rec["rule"], rec["objective"]) for rec in as_json] == [("a", 1), ("a", 2), ("a", 3)]
    unknown = run_dhflow(["results", path, "--rule", "c"], env)
    assert unknown.returncode == 2 and "the rules that do: a, b" in unknown.stderr
    assert "Traceback" not in unknown.stderr
