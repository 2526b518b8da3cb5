"""A search in `dhflow status --watch` and `dhflow report`, on real runs (real PostgreSQL,
Balsam and launcher; the page opened in a real headless Chromium).

The watch is started beside a running tpe search and must stream until the search is
final, not stop at the first frame where the tasks proposed so far are all final; the
report of the finished search draws its trials (convergence by trial number), and a
two-objective nsga2 search's report has the Pareto front.

MPI job mode: the serial mode's host-wide lock would line these runs up behind others."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from .conftest import db_query, make_project, run_dhflow

pytestmark = pytest.mark.e2e
pytest.importorskip("plotly")

EVALS = 10  # parameter importance needs 10 evaluations

# each evaluation sleeps: the watch sees the search while most evaluations are to come
SLOW = """workflow {wf}:
    objective: minimize

space:
    x: real(-5, 5)
    y: int(-3, 3)

search: tpe(evals={evals}, parallel=2, seed=3, initial=2)

rule evaluate:
    foreach: space
    shell: "sleep 1; python3 -c 'print(\\"DH-OUTPUT:\\", ({{x}} - 1) ** 2 + ({{y}} - 2) ** 2)'"
    objective: stdout("DH-OUTPUT")
"""

NSGA = """workflow {wf}:
    objective: minimize, minimize

space:
    x: real(0, 4)

search: nsga2(evals=4, parallel=4, seed=1, initial=4)

rule evaluate:
    foreach: space
    shell: "python3 -c 'x={{x}}; print(\\"F1:\\", x * x); print(\\"F2:\\", (x - 2) ** 2)'"
    objective: stdout("F1"), stdout("F2")
"""

FRAME = re.compile(r"search \(tpe\): (\d+) of (\d+) evaluations done, (\d+) running, (\d+) waiting, (\d+) failed")


def _trials(db, wf):
    if db_query(db, "SELECT to_regclass('dhflow_search_trial')")[0][0] is None:
        return []  # the first search of this database has not made its table yet
    return db_query(db, "SELECT trial, point FROM dhflow_search_trial WHERE workflow = %s ORDER BY trial", [wf])


@pytest.fixture(scope="module")
def watched_search(balsam_db, e2e_root):
    """A tpe search run in the background, `status --watch 0.5` beside it from its first trial."""
    db, env = balsam_db
    wf = "sw_watch"
    path = make_project(e2e_root, wf, SLOW.format(wf=wf, evals=EVALS))
    run = subprocess.Popen([sys.executable, "-m", "dhflow", "run", str(path), "--job-mode", "mpi"], env=env,
                           cwd=path.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while not _trials(db, wf) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # the driver holds the search once it has written a trial
        assert run.poll() is None, run.communicate()[1]
        watch = run_dhflow(["status", path, "--watch", "0.5"], env, timeout=300)
        jobs_then = db_query(db, "SELECT state FROM core_balsamjob WHERE workflow = %s", [wf])
        trials_then = len(_trials(db, wf))
        _, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, err
    return {"db": db, "env": env, "path": path, "wf": wf, "watch": watch, "jobs_then": jobs_then,
            "trials_then": trials_then}


def test_status_watch_streams_until_the_search_is_final(watched_search):
    watch = watched_search["watch"]
    assert watch.returncode == 0, watch.stderr
    assert "Traceback" not in watch.stderr
    frames = [FRAME.search(line) for line in watch.stdout.splitlines() if line.startswith("[")]
    assert all(frames), watch.stdout  # each frame has the search line
    done = [int(m.group(1)) for m in frames]
    assert {int(m.group(2)) for m in frames} == {EVALS}
    assert len(frames) >= 3 and done[0] < EVALS // 2, watch.stdout  # it began with most to come
    assert done == sorted(done) and len(set(done)) >= 3, watch.stdout  # growing, seen on the way
    assert all(line.split("] ", 1)[1].startswith("evaluate: ") for line in watch.stdout.splitlines()
               if line.startswith("["))  # with the per-rule states
    last = frames[-1]
    assert (int(last.group(1)), int(last.group(3)), int(last.group(4))) == (EVALS, 0, 0), watch.stdout
    assert "not running" not in watch.stdout  # complete, not stopped
    # it ended only once the search was: every trial written, every job final
    assert watched_search["trials_then"] == EVALS
    assert watched_search["jobs_then"] and all(s == "JOB_FINISHED" for (s,) in watched_search["jobs_then"])


def test_status_watch_of_a_finished_search_prints_one_frame(watched_search):
    again = run_dhflow(["status", watched_search["path"], "--watch", "0.2"], watched_search["env"], timeout=60)
    assert again.returncode == 0, again.stderr
    frames = [line for line in again.stdout.splitlines() if line.startswith("[")]
    assert len(frames) == 1 and f"{EVALS} of {EVALS} evaluations done, 0 running" in frames[0]


def _open(page, figure_ids, best_names):
    """The page in headless Chromium: every figure drawn, nothing fetched, no error; returns
    the search line and the best table shown, and the convergence figure's x values and axis title."""
    from tests.report.browser import Browser, find_browser
    from tests.report.test_report_browser import assert_report_seen

    if find_browser() is None and not os.environ.get("CI"):
        pytest.skip("chromium and chromedriver are not installed")
    with Browser() as browser:
        visit = browser.open(page)
        shown = visit.js("return document.querySelector('.best-name') ? "
                         "document.querySelector('.best-name').innerText : ''")
        assert shown in best_names
        assert_report_seen(visit, page.as_uri(), shown, figure_ids)
        seen = {"search": visit.js("return document.getElementById('search').innerText"),
                "best": visit.js("return document.getElementById('best-table').innerText"),
                "convergence": visit.js("const g = document.getElementById('fig-convergence');"
                                        "return [g.data[0].x, g.layout.xaxis.title.text];")}
        browser.screenshot(page.stem)
    return seen


def test_report_of_a_search_draws_its_trials(watched_search, tmp_path):
    db, wf = watched_search["db"], watched_search["wf"]
    out = tmp_path / "search-report.html"
    proc = run_dhflow(["report", watched_search["path"], "-o", out], watched_search["env"])
    assert proc.returncode == 0, proc.stderr
    assert f"{EVALS} of {EVALS} evaluations" in proc.stderr and "0 figures" not in proc.stderr, proc.stderr
    # the best trial, from the points in the database (not from dhflow's reading)
    points = {t: p for t, p in _trials(db, wf)}
    value = {t: (p["x"] - 1) ** 2 + (p["y"] - 2) ** 2 for t, p in points.items()}
    low = min(value.values())
    best_names = {f"evaluate.{t}" for t, v in value.items() if v <= low * (1 + 1e-9) + 1e-12}
    figures = ["convergence", "parameters", "parallel", "importance", "running", "nodes", "ended"]
    seen = _open(out, figures, best_names)
    xs, x_title = seen["convergence"]
    assert f"{EVALS} of {EVALS} evaluations" in seen["search"] and "tpe" in seen["search"]
    assert x_title == "trial" and sorted(xs) == sorted(set(xs)) and set(xs) <= set(points)
    assert len(xs) >= EVALS - 2  # a repeated point is drawn once, at its first trial


def test_report_of_a_two_objective_search_has_the_pareto_front(balsam_db, e2e_root, tmp_path):
    db, env = balsam_db
    wf = "sw_nsga"
    path = make_project(e2e_root, wf, NSGA.format(wf=wf))
    r = run_dhflow(["run", path, "--job-mode", "mpi"], env, cwd=path.parent)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "nsga-report.html"
    proc = run_dhflow(["report", path, "-o", out], env)
    assert proc.returncode == 0, proc.stderr
    assert "4 of 4 evaluations" in proc.stderr, proc.stderr
    records = json.loads(run_dhflow(["results", path, "--format", "json"], env).stdout)
    front = {rec["name"] for rec in records if rec["pareto_rank"] == 0}
    # independently: the trials no other trial beats on both objectives
    objs = {f"evaluate.{t}": (p["x"] ** 2, (p["x"] - 2) ** 2) for t, p in _trials(db, wf)}
    assert front == {n for n, o in objs.items()
                     if not any(q[0] <= o[0] and q[1] <= o[1] and q != o for q in objs.values())}
    page = out.read_text(encoding="utf-8")
    assert 'id="fig-pareto"' in page and "Pareto front: " in page
    seen = _open(out, ["pareto", "convergence", "parameters", "parallel", "running", "nodes", "ended"],
                 {""})  # several objectives: the page names the front, not one best task
    assert "4 of 4 evaluations" in seen["search"] and "nsga2" in seen["search"]
    assert {n for n in objs if n in seen["best"]} == front
