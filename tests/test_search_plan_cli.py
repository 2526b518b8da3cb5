"""`dhflow check` and `dhflow plan` (table and JSON) of a search describe it, run as real
subprocesses; a sweep's plan JSON has no `search` object."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCH = ROOT / "examples" / "polynome2_search" / "polynome2_search.dhflow"
SWEEP = ROOT / "examples" / "polynome2" / "polynome2.dhflow"


def dhflow(*args):
    env = dict(os.environ)
    env.pop("BALSAM_DB_PATH", None)
    return subprocess.run([sys.executable, "-m", "dhflow", *map(str, args)], capture_output=True, text=True, env=env)


def test_check_of_a_search_describes_it():
    p = dhflow("check", SEARCH)
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    assert lines[0] == f"{SEARCH}: ok, workflow polynome2_search: a search of 30 evaluations, 60 node-minutes"
    assert "  parallel      2 (given)" in lines and "  initial       8 (random points before the model takes over)" in lines
    assert "e9         int   -10 .. 10" in lines
    assert p.stdout == ""


def test_plan_table_of_a_search():
    p = dhflow("plan", SEARCH)
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[0] == "workflow polynome2_search (maximize): a search"
    assert "  method        tpe" in out and "  max_failures  30 (not given: evals)" in out
    row = next(line for line in out if line.startswith("evaluate"))
    assert row.split() == ["evaluate", "each", "evaluation", "1", "1", "x", "1", "x", "1", "2m", "2", "maximize",
                           'stdout("DH-OUTPUT")']
    assert out[-1] == "budget: 2 node-minutes per evaluation x 30 evaluations = 60 node-minutes"
    assert "0 tasks" not in p.stdout and "TASK " not in p.stdout


def test_plan_json_of_a_search_and_of_a_sweep(tmp_path):
    p = dhflow("plan", SEARCH, "--format", "json")
    assert p.returncode == 0, p.stderr
    plan = json.loads(p.stdout)
    s = plan["search"]
    assert (s["method"], s["evals"], s["parallel"], s["parallel_from"], s["seed"], s["initial"]) == (
        "tpe", 30, 2, "search", 7, 8)
    assert s["node_minutes"]["total"] == 60 and len(s["space"]) == 10 and plan["tasks"] == []
    out = tmp_path / "plan.json"
    assert dhflow("plan", SEARCH, "--format", "json", "-o", out).returncode == 0
    assert out.read_text() == p.stdout
    sweep = dhflow("plan", SWEEP, "--format", "json")
    assert sweep.returncode == 0 and "search" not in json.loads(sweep.stdout)


def test_plan_json_of_a_search_checks_its_space(tmp_path):
    f = tmp_path / "bad.dhflow"
    f.write_text("""workflow bad:
    objective: minimize

space:
    n: int(0, 2)

search: tpe(evals=5)

rule f:
    foreach: space
    shell: "echo DH-OUTPUT 1"
    nodes: n
    objective: stdout("DH-OUTPUT")
""")
    for fmt in ("json", "table"):
        p = dhflow("plan", f, "--format", fmt)
        assert p.returncode == 1 and "DH404" in p.stderr and "(n=0)" in p.stderr and p.stdout == ""
