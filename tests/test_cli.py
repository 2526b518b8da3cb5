"""The command line: exit codes, formats, no tracebacks (run as a real subprocess)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "polynome2" / "polynome2.dhflow"


def dhflow(*args, env=None):
    e = dict(os.environ)
    e.pop("BALSAM_DB_PATH", None)
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-m", "dhflow", *map(str, args)], capture_output=True, text=True, env=e)


def test_check_ok():
    p = dhflow("check", EXAMPLE)
    assert p.returncode == 0 and "ok" in p.stderr


def test_check_error_exit_1_without_traceback(tmp_path):
    f = tmp_path / "bad.dhflow"
    f.write_text('workflow w:\nrule a:\n    app: ghost\n')
    p = dhflow("check", f)
    assert p.returncode == 1
    assert f"{f}:3:10: error[DH102]" in p.stderr and "Traceback" not in p.stderr


def test_missing_file_is_a_diagnostic(tmp_path):
    p = dhflow("check", tmp_path / "nope.dhflow")
    assert p.returncode == 1 and "DH007" in p.stderr and "Traceback" not in p.stderr


def test_binary_file_is_a_diagnostic(tmp_path):
    f = tmp_path / "bin.dhflow"
    f.write_bytes(b"\xff\xfe\x00garbage")
    p = dhflow("check", f)
    assert p.returncode == 1 and "DH007" in p.stderr


def test_usage_error_exit_2():
    assert dhflow("plan").returncode == 2
    assert dhflow("plan", EXAMPLE, "--format", "yaml").returncode == 2


def test_plan_json_is_deterministic_across_processes():
    a = dhflow("plan", EXAMPLE, "--format", "json")
    b = dhflow("plan", EXAMPLE, "--format", "json", env={"PYTHONHASHSEED": "12345"})
    assert a.returncode == 0 and a.stdout == b.stdout
    assert json.loads(a.stdout)["workflow"] == "polynome2"


def test_plan_table_has_rows_and_summary():
    p = dhflow("plan", EXAMPLE)
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[1].split()[:3] == ["TASK", "RULE", "POINT"]
    assert any(line.startswith("train.0 ") for line in lines)
    assert "NODE-MINUTES" in p.stdout and lines[-1].startswith("total")


@pytest.mark.parametrize("fmt,marker", [("dot", "digraph"), ("mermaid", "flowchart LR")])
def test_graph_text_formats(fmt, marker):
    p = dhflow("graph", EXAMPLE, "--format", fmt)
    assert p.returncode == 0 and p.stdout.startswith(marker)
    r = dhflow("graph", EXAMPLE, "--format", fmt, "--rules")
    assert r.returncode == 0 and "train" in r.stdout and "train.0" not in r.stdout


def test_graph_svg(tmp_path):
    out = tmp_path / "g.svg"
    p = dhflow("graph", EXAMPLE, "--format", "svg", "-o", out)
    import shutil
    if shutil.which("dot"):
        assert p.returncode == 0 and out.read_text().lstrip().startswith("<")
    else:
        assert p.returncode == 3 and "Graphviz is not installed" in p.stderr


def test_graph_svg_without_graphviz(tmp_path):
    p = dhflow("graph", EXAMPLE, "--format", "png", "-o", tmp_path / "g.png", env={"PATH": str(tmp_path)})
    assert p.returncode == 3 and "Graphviz is not installed" in p.stderr


def test_check_json_format(tmp_path):
    f = tmp_path / "bad.dhflow"
    f.write_text('workflow w:\nspace:\n    lr: real(1, 0)\nrule a:\n    shell: "x"\n')
    p = dhflow("check", "--format", "json", f)
    recs = json.loads(p.stdout)
    assert recs[0]["code"] == "DH201" and recs[0]["line"] == 3 and recs[0]["col"] == 9


def test_pure_commands_never_import_balsam_or_django():
    code = (
        "import sys\n"
        "from dhflow.cli.main import main\n"
        f"main(['plan', {str(EXAMPLE)!r}, '--format', 'json', '-o', '/dev/null'])\n"
        f"main(['graph', {str(EXAMPLE)!r}, '-o', '/dev/null'])\n"
        f"main(['check', {str(EXAMPLE)!r}])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('balsam', 'django', 'psycopg2')))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stdout.strip().splitlines()[-1] == "[]", p.stdout + p.stderr
