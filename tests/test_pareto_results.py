"""Several objectives outside a search: the plan carries every direction, and `results` of a
sweep lists the Pareto fronts in order, by the ranking the search uses (one function)."""
from __future__ import annotations

import io
import json
import random

from dhflow.compiler.api import compile_file
from dhflow.results import objectives
from dhflow.results.pareto import dominates, front_ranks
from dhflow.results.stream import records, write_json

TWO = """workflow two:
    objective: maximize, minimize
space:
    x: int(0, 11)
sample: grid(levels=12)
rule train:
    foreach: space
    shell: "echo {x}"
    objective: data("acc"), data("seconds")
rule report:
    after: train
    shell: "echo done"
"""
HIST = ("[01-02-2026 10:00:00.000000 CREATED]\n[01-02-2026 10:00:01.000000 RUNNING]\n"
        "[01-02-2026 10:00:03.500000 RUN_DONE]\n")


def _peeled(values, directions):
    """The definition: front 0 is what nothing dominates; remove it, repeat."""
    signs = [1 if d == "maximize" else -1 for d in directions]
    ranks, left, rank = [-1] * len(values), set(range(len(values))), 0
    while left:
        front = {i for i in left if not any(dominates(values[j], values[i], signs) for j in left if j != i)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks


def test_front_ranks_are_the_peeled_fronts_with_ties_and_duplicates():
    rng = random.Random(4)
    for _ in range(1500):
        m = rng.choice([1, 2, 3, 4])
        dirs = [rng.choice(["maximize", "minimize"]) for _ in range(m)]
        vals = [tuple(rng.choice([rng.randint(0, 3), rng.random()]) for _ in range(m))
                for _ in range(rng.randint(0, 30))]
        if vals and rng.random() < 0.3:
            vals += rng.choices(vals, k=4)  # equal vectors share a front
        assert front_ranks(vals, dirs) == _peeled(vals, dirs), (vals, dirs)


def test_front_ranks_of_many_records_is_fast():
    import time

    rng = random.Random(1)
    vals = [(rng.random(), rng.random()) for _ in range(50_000)]
    start = time.perf_counter()
    ranks = front_ranks(vals, ("maximize", "minimize"))
    assert time.perf_counter() - start < 5  # the quadratic peeling took minutes
    assert ranks[max(range(len(vals)), key=lambda i: (vals[i][0], -vals[i][1]))] == 0


def _plan(tmp_path, text=TWO):
    path = tmp_path / "two.dhflow"
    path.write_text(text)
    result = compile_file(str(path))
    assert result.ok, [d.message for d in result.diagnostics]
    return result.plan


def _jobs(plan, tmp_path):
    from dhflow.balsam.jobs import JobView, LeanJob

    full, lean = {}, {}
    for t in plan["tasks"]:
        if t["rule"] != "train":
            continue
        x = t["point"]["x"]
        if x == 10:  # failed: no objectives, listed last
            full[t["key"]] = JobView(str(x), t["name"], "two", "FAILED",
                                     HIST + "[01-02-2026 10:00:04.000000 FAILED] boom\n", {}, str(tmp_path))
        elif x == 11:  # still running: its objectives are not read
            job = JobView(str(x), t["name"], "two", "RUNNING", HIST, {}, str(tmp_path))
            full[t["key"]], lean[t["key"]] = job, LeanJob(job.state, objectives.runtime_seconds(job.state_history))
        else:  # acc and seconds both grow with x up to 6, then acc falls: x <= 6 is the front
            acc = x if x <= 6 else 12 - x
            full[t["key"]] = JobView(str(x), t["name"], "two", "JOB_FINISHED", HIST,
                                     {"acc": acc, "seconds": x}, str(tmp_path))
    return full, {**full, **lean}


def test_plan_json_carries_every_direction(tmp_path):
    plan = _plan(tmp_path)
    assert plan.to_dict()["objective"] == ["maximize", "minimize"]
    assert json.loads(plan.to_json())["objective"] == ["maximize", "minimize"]
    from dhflow.compiler.plan.model import Plan
    from dhflow.compiler.plan.table import render_table

    assert Plan.from_json(plan.to_json()) == plan
    assert render_table(plan).splitlines()[0] == "workflow two (maximize, minimize)"
    one = _plan(tmp_path, TWO.replace("maximize, minimize", "minimize").replace(', data("seconds")', ""))
    assert one.to_dict()["objective"] == "minimize"  # one objective: a string, as before


def test_sweep_results_list_the_pareto_front_first(tmp_path):
    plan = _plan(tmp_path).to_dict()
    full, _ = _jobs(plan, tmp_path)
    recs = objectives.collect(plan, full)
    xs = [r["point"]["x"] for r in recs]
    # front 0: x = 0..6 (more accuracy costs more seconds), best accuracy first; then each x > 6
    # is beaten by 12 - x, one front each; the failed and the running tasks last, in plan order
    assert xs == [6, 5, 4, 3, 2, 1, 0, 7, 8, 9, 10, 11]
    assert [r.get("pareto_rank") for r in recs] == [0] * 7 + [1, 2, 3, None, None]
    assert all(list(r)[-1] == "pareto_rank" for r in recs[:9])
    assert recs[0]["objectives"] == [6, 6] and recs[0]["objective"] == 6
    front = [r["objectives"] for r in recs if r.get("pareto_rank") == 0]
    others = [r["objectives"] for r in recs if r.get("objectives")]
    for f in front:  # nothing beats a member of the front on both objectives
        assert not any(o[0] >= f[0] and o[1] <= f[1] and o != f for o in others)
    # the table and the CSV follow the same order
    table_names = [line.split()[1] for line in objectives.format_table(recs).splitlines()[2:]]
    assert table_names == [r["name"] for r in recs]
    csv_names = [line.split(",")[1] for line in objectives.format_csv(recs).splitlines()[1:]]
    assert csv_names == [r["name"] for r in recs]


def test_streamed_results_json_ranks_fronts_as_the_in_memory_json(tmp_path):
    plan = _plan(tmp_path).to_dict()
    full, mixed = _jobs(plan, tmp_path)
    want = objectives.format_json(objectives.collect(plan, full)) + "\n"
    got = io.StringIO()
    write_json(records(plan["tasks"], mixed), plan["objective"], got)
    assert got.getvalue() == want
    assert [r.get("pareto_rank") for r in json.loads(got.getvalue())][:8] == [0] * 7 + [1]


def test_the_report_of_a_two_objective_sweep_has_its_pareto_front(tmp_path):
    from dhflow.results.report import records as report_records
    from dhflow.results.report.build import from_plan

    plan = _plan(tmp_path).to_dict()
    full, _ = _jobs(plan, tmp_path)
    for key, job in full.items():
        job.data["dhflow_key"] = key  # how the report finds a task's job
    recs = report_records.task_records(plan, {k: j for k, j in full.items()})
    by_x = {r["point"]["x"]: r for r in recs if r["rule"] == "train"}
    assert by_x[7]["objectives"] == [5, 7] and by_x[10]["objectives"] is None
    report = from_plan(plan, list(full.values()))
    assert report.summary["directions"] == ["maximize", "minimize"]
    assert [r["point"]["x"] for r in report.summary["best"]] == [6, 5, 4, 3, 2, 1, 0]
    assert "pareto" in [f.id for f in report.figures]
