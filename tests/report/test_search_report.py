"""A search in the report and in `status --watch`, from plain records and frames: the
convergence is drawn by trial number, trials without their own job get a record, the page
shows the evaluation count, and the watch ends only on a final frame."""
from __future__ import annotations

import io
from collections import Counter
from types import SimpleNamespace

import pytest

from dhflow.cli.watch import watch_search
from dhflow.results.report import build, records
from dhflow.runtime.report import summary, trials_without_own_job
from dhflow.runtime.search_watch import SearchFrame

from .fixtures import sweep

pytest.importorskip("plotly")


def _search_records(n: int = 12):
    """A sweep's records made a search's: task i is trial n-1-i, so the finishing order
    (plan order here) and the trial order disagree."""
    plan, jobs = sweep(n)
    for i, task in enumerate(plan["tasks"]):
        task["trial"] = n - 1 - i
    return plan, records.task_records(plan, build._jobs_by_key(jobs))


def test_convergence_of_a_search_is_by_trial_number():
    plan, recs = _search_records()
    assert [r["trial"] for r in recs] == list(range(11, -1, -1))
    report = build.from_records(recs, workflow="s", directions=["maximize"],
                                search={"method": "tpe", "evals": 12, "trials": 12, "done": 12, "failed": 0})
    conv = next(f.figure for f in report.figures if f.id == "convergence")
    points, line = conv.data
    assert list(points.x) == list(range(12)) and conv.layout.xaxis.title.text == "trial"
    by_trial = {r["trial"]: r["objective"] for r in recs}
    assert list(points.y) == [by_trial[t] for t in range(12)]
    assert line.y[-1] == max(by_trial.values())  # the best so far ends at the best
    page = build.to_html(report)
    assert 'id="search"' in page and "<b>12 of 12 evaluations</b>" in page


def test_a_sweep_keeps_the_finishing_order():
    plan, jobs = sweep(12)
    report = build.from_plan(plan, jobs)
    conv = next(f.figure for f in report.figures if f.id == "convergence")
    assert conv.layout.xaxis.title.text.startswith("evaluation") and 'id="search"' not in build.to_html(report)


def test_repeated_and_jobless_trials_get_records():
    _, recs = _search_records(4)  # trials 3, 2, 1, 0 have their own jobs
    first = next(r for r in recs if r["trial"] == 1)
    rows = [SimpleNamespace(trial=t, point=p, job_key=k, reason=w) for t, p, k, w in [
        (0, {}, "key-3", None), (1, {}, "key-2", None), (2, {}, "key-1", None), (3, {}, "key-0", None),
        (4, {"lr": 1.0}, "key-2", None),                       # the point of trial 1 again
        (5, {"lr": 9.0}, None, "invalid point: too many nodes")]]
    extra = trials_without_own_job("train", rows, recs)
    assert [r["trial"] for r in extra] == [4, 5]
    same, invalid = extra
    assert same["objective"] == first["objective"] and same["name"] == "train.4" and same["point"] == {"lr": 1.0}
    assert same["start"] is None and first["start"] is not None  # that one run is counted once
    assert invalid["state"] == "NOT_RUN" and invalid["objective"] is None
    assert records.failures(extra) == [{"name": "train.5", "rule": "train", "state": "NOT_RUN",
                                        "reason": "invalid point: too many nodes"}]
    ctx = SimpleNamespace(objective_rule="train", setup=SimpleNamespace(method="tpe"),
                          budget=SimpleNamespace(evals=8))
    assert summary(ctx, rows, recs + extra) == {"method": "tpe", "evals": 8, "trials": 6, "done": 6, "failed": 1}


def _frame(done, running, *, driving=True, evals=4):
    counts = {"evaluate": +Counter({"JOB_FINISHED": done, "RUNNING": running})}  # +: zero counts dropped
    s = SimpleNamespace(method="tpe", evals=evals, done=done, running=running, waiting=0, failed=0,
                        best=[1.5] if done else None)
    view = SimpleNamespace(workflow="w", counts=counts, search=s)
    return SearchFrame(view, driving, final=not driving and running == 0)


def test_watch_of_a_search_ends_on_the_final_frame_only():
    # all its tasks so far final, and the driver still proposing: not the end
    frames = iter([_frame(0, 2), _frame(2, 0), _frame(2, 0), _frame(3, 1), _frame(4, 0, driving=False)])
    out, sleeps = io.StringIO(), []
    assert watch_search(lambda: next(frames), file="f.dhflow", stream=out, tty=False, sleep=sleeps.append) == 0
    lines = out.getvalue().splitlines()
    assert len(sleeps) == 4
    shown = [ln for ln in lines if ln.startswith("[")]
    assert len(shown) == 4  # the repeated frame is not printed again
    assert "evaluate: 2 running | search (tpe): 0 of 4 evaluations done, 2 running" in shown[0]
    assert "4 of 4 evaluations done, 0 running, 0 waiting, 0 failed; best so far: 1.5" in shown[-1]
    assert "not running" not in out.getvalue()


def test_watch_of_a_stopped_search_says_so():
    frames = iter([_frame(1, 1), _frame(2, 0, driving=False)])
    out = io.StringIO()
    watch_search(lambda: next(frames), file="f.dhflow", stream=out, tty=True, sleep=lambda s: None)
    text = out.getvalue()
    assert text.count("\x1b[2F") == 1  # redrawn in place on a terminal
    assert "the search is not running: 2 of 4 evaluations done (`dhflow run f.dhflow` continues it)" in text
