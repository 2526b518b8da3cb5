"""`dhflow report` and `dhflow status --watch` on a real run (real PostgreSQL, Balsam and
launcher): the page opened in a real headless Chromium, the images written by Kaleido."""
from __future__ import annotations

import json
import os
import sys

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e
pytest.importorskip("plotly")

# The objective is written to a file too, so the test knows the best task without dhflow.
EVAL = r'''
import os, sys
index, x, kind = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
if index == 4:
    print("diverged: loss is nan")
    sys.exit(3)
value = -(x - 0.5) ** 2 + (0.3 if kind == "a" else 0.0)
here = os.path.dirname(os.path.abspath(__file__))
os.makedirs(os.path.join(here, "values"), exist_ok=True)
with open(os.path.join(here, "values", f"train.{index}"), "w") as fp:
    fp.write(repr(value))
print(f"OBJ: {value!r}")
'''

SPEC = '''
workflow e2ereport:
    description: "report of a real run"
    objective: maximize

space:
    x: real(-2, 2)
    kind: choice("a", "b")

sample: random(count=12, seed=5)

app evaluate:
    executable: "@PY@ {here}/eval.py"
    args: "{index} {x} {kind}"

rule train:
    foreach: space
    app: evaluate
    node_packing_count: 6
    objective: stdout("OBJ")
'''


@pytest.fixture(scope="module")
def report_run(balsam_db, e2e_root):
    db_path, env = balsam_db
    spec = make_project(e2e_root, "reportrun", SPEC.replace("@PY@", sys.executable), {"eval.py": EVAL})
    proc = run_dhflow(["run", spec, "--timeout", "240"], env, timeout=400)
    assert proc.returncode == 5, proc.stderr  # finished, train.4 failed
    values = {name: float((spec.parent / "values" / name).read_text())
              for name in os.listdir(spec.parent / "values")}
    return {"spec": spec, "env": env, "db": db_path, "values": values}


def test_report_page_of_a_real_run(report_run, tmp_path):
    out = tmp_path / "report.html"
    proc = run_dhflow(["report", report_run["spec"], "-o", out], report_run["env"])
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stderr and "12 tasks" in proc.stderr
    page = out.read_text(encoding="utf-8")
    best = max(report_run["values"], key=report_run["values"].get)
    assert f'<b class="best-name">{best}</b>' in page
    (sha,), = db_query(report_run["db"], "SELECT spec_sha256 FROM dhflow_submission WHERE workflow = %s "
                                         "ORDER BY id DESC LIMIT 1", ["e2ereport"])
    assert sha[:12] in page
    assert "train.4" in page and "exited with code 3: diverged: loss is nan" in page
    for fig in ("convergence", "parameters", "parallel", "importance", "running", "nodes", "ended"):
        assert f'id="fig-{fig}"' in page

    from tests.report.browser import Browser, find_browser
    from tests.report.test_report_browser import assert_report_seen

    if find_browser() is None and not os.environ.get("CI"):
        pytest.skip("chromium and chromedriver are not installed")
    with Browser() as browser:
        visit = browser.open(out)
        assert_report_seen(visit, out.as_uri(), best, ["convergence", "parameters", "parallel", "importance",
                                                        "running", "nodes", "ended"])
        browser.screenshot("report-e2e")


def test_report_images(report_run, tmp_path):
    pytest.importorskip("kaleido")
    out = tmp_path / "figures"
    proc = run_dhflow(["report", report_run["spec"], "--format", "svg", "-o", out], report_run["env"],
                      timeout=180)
    assert proc.returncode == 0, proc.stderr
    files = sorted(os.listdir(out))
    assert files == sorted(f"{f}.svg" for f in ("convergence", "parameters", "parallel", "importance",
                                                 "running", "nodes", "ended"))
    text = (out / "convergence.svg").read_text()
    assert text.lstrip().startswith("<svg") and "best so far" in text


def test_report_usage_errors(report_run, tmp_path):
    proc = run_dhflow(["report", report_run["spec"], "-o", tmp_path], report_run["env"])
    assert proc.returncode == 2 and "is a directory" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_dhflow(["report", tmp_path / "missing.dhflow"], report_run["env"])
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr


def test_status_watch_ends_when_final_without_a_flood(report_run):
    proc = run_dhflow(["status", report_run["spec"], "--watch", "0.2"], report_run["env"], timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout  # not a terminal: no cursor movement
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("[") and "train: 11 finished, 1 failed" in lines[0]
    best = max(report_run["values"], key=report_run["values"].get)
    assert f"best so far: {best} = " in lines[0]
    assert len(lines) == 2 and "11 JOB_FINISHED" in lines[1]
