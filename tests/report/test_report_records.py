"""The pure part of the report: records, best and Pareto front, sampling, the timeline's
occupancy integral, parameter importance."""
from __future__ import annotations

import random

import pytest

from dhflow.results.report import records, sampling, timeline
from dhflow.results.report.build import _jobs_by_key

from .fixtures import Job, history, sweep

pytest.importorskip("plotly")


def test_records_carry_objective_times_failure_and_missing_jobs():
    plan, jobs = sweep(6, fail_every=3)
    plan["tasks"].append({"name": "report", "rule": "report", "index": None, "point": None, "key": "nokey",
                          "num_nodes": 2, "objective": None})
    recs = records.task_records(plan, _jobs_by_key(jobs))
    assert [r["name"] for r in recs] == [f"train.{i}" for i in range(6)] + ["report"]
    ok, failed, missing = recs[0], recs[2], recs[-1]
    assert ok["state"] == "JOB_FINISHED" and ok["objective"] == jobs[0].data["obj"]
    assert ok["end"] - ok["start"] == pytest.approx(8.0)
    assert ok["nodes"] == 0.5  # two tasks packed per node
    assert failed["objective"] is None and "exited with code 2" in failed["error"]
    assert missing["state"] == "NOT_SUBMITTED" and missing["start"] is None and missing["nodes"] == 2
    fails = records.failures(recs)
    assert [f["name"] for f in fails] == ["train.2", "train.5"]
    assert fails[0]["reason"].startswith("exited with code 2")


def test_evaluations_are_in_finishing_order():
    jobs = [Job("a", "JOB_FINISHED", history(50, 60), {"dhflow_key": "a", "obj": 1}),
            Job("b", "JOB_FINISHED", history(0, 5), {"dhflow_key": "b", "obj": 2})]
    plan = {"workflow": "w", "tasks": [
        {"name": n, "rule": "r", "key": n, "point": {"x": i}, "objective": {"source": "data", "key": "obj"}}
        for i, n in enumerate("ab")]}
    recs = records.task_records(plan, _jobs_by_key(jobs))
    assert [r["name"] for r in records.evaluations(recs)] == ["b", "a"]


def test_best_and_best_so_far_follow_the_direction():
    recs = [{"name": str(i), "objective": v, "point": {}} for i, v in enumerate([3.0, 1.0, 2.0, 0.5])]
    assert [r["name"] for r in records.best(recs, ["maximize"], 2)] == ["0", "2"]
    assert [r["name"] for r in records.best(recs, ["minimize"], 1)] == ["3"]
    assert records.best_so_far([3, 1, 4, 2], "maximize") == [3, 3, 4, 4]
    assert records.best_so_far([3, 1, 4, 0], "minimize") == [3, 1, 1, 0]


def test_pareto_front_matches_brute_force():
    rnd = random.Random(5)
    evals = [{"name": str(i), "objective": 0.0, "point": {},
              "objectives": [round(rnd.random(), 2), round(rnd.random(), 2)]} for i in range(300)]
    dirs = ["maximize", "minimize"]
    front = {r["name"] for r in records.best(evals, dirs)}

    def dominates(a, b):  # a better or equal on both (max first, min second) and not equal
        return a[0] >= b[0] and a[1] <= b[1] and a != b

    expected = {r["name"] for r in evals
                if not any(dominates(o["objectives"], r["objectives"]) for o in evals)}
    assert front == expected and len(front) >= 3


def test_sampling_keeps_the_best_and_is_deterministic():
    evals = [{"name": str(i), "objective": float(i)} for i in range(10_000)]
    drawn = sampling.sample(evals, "maximize", limit=1000, keep_best=50)
    assert len(drawn) == 1000
    names = {r["name"] for r in drawn}
    assert {str(i) for i in range(9950, 10_000)} <= names
    assert drawn == sampling.sample(evals, "maximize", limit=1000, keep_best=50)
    assert [int(r["name"]) for r in drawn] == sorted(int(r["name"]) for r in drawn)  # original order kept
    assert sampling.sample(evals[:10], "maximize", limit=1000) == evals[:10]


def test_occupancy_is_the_exact_mean_over_each_interval():
    import numpy as np

    rnd = random.Random(2)
    spans = [(s, s + rnd.uniform(0.1, 5)) for s in (rnd.uniform(0, 20) for _ in range(200))]
    weights = [rnd.choice([1, 0.5, 4]) for _ in spans]
    grid = np.linspace(-1, 27, 15)
    got = timeline.occupancy([s for s, _ in spans], [e for _, e in spans], weights, grid)
    for k in range(len(grid) - 1):  # brute force: overlap of every span with the interval
        a, b = grid[k], grid[k + 1]
        want = sum(w * max(0.0, min(e, b) - max(s, a)) for (s, e), w in zip(spans, weights)) / (b - a)
        assert got[k] == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_importance_finds_the_parameter_that_matters():
    pytest.importorskip("optuna")
    from dhflow.results.report.importance import parameter_importance

    plan, jobs = sweep(120)
    recs = records.evaluations(records.task_records(plan, _jobs_by_key(jobs)))
    scores = parameter_importance([r["point"] for r in recs], [r["objective"] for r in recs], "maximize")
    assert list(scores)[0] == "lr"
    assert "epochs" not in scores  # a constant cannot matter
    assert parameter_importance([r["point"] for r in recs[:9]], [r["objective"] for r in recs[:9]],
                                "maximize") is None


def test_timeline_counts_running_tasks_per_rule():
    plan, jobs = sweep(8)  # 4 tasks at a time, 8 s each, starting every 10 s
    recs = records.task_records(plan, _jobs_by_key(jobs))
    figs = {f.id: f for f in timeline.timeline_figures(recs, allocation_nodes=2)}
    assert set(figs) == {"running", "nodes", "ended"}
    running = figs["running"].figure.data[0]
    assert max(running.y) == 4
    assert max(figs["nodes"].figure.data[0].y) == 2  # 4 tasks packed 2 per node
    ended = figs["ended"].figure.data[0]
    assert ended.y[-1] == 8


def test_timeline_steps_at_each_end_time_and_merges_millisecond_gaps():
    from datetime import datetime

    plan, jobs = sweep(8, fail_every=4)
    # the next batch starts 2 ms after the previous one ended: no dip to the floor
    for i, job in enumerate(jobs):
        start = (i // 4) * 8.002
        job.state_history = history(start, start + 8, failed=job.state == "FAILED")
    recs = records.task_records(plan, _jobs_by_key(jobs))
    figs = {f.id: f for f in timeline.timeline_figures(recs)}
    assert min(figs["running"].figure.data[0].y[:-1]) > 3.9
    failed = figs["ended"].figure.data[1]
    assert failed.name == "failed or killed" and list(failed.y) == [0, 1, 2, 2]
    first_fail = next(r for r in recs if r["state"] == "FAILED")
    assert failed.x[1] == datetime.fromtimestamp(first_fail["end"]).isoformat(sep=" ", timespec="milliseconds")
