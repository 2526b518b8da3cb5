"""The proposer adapters and the pure driver loop (no database): seeds, bounds, failures,
resuming, where, several objectives."""
from __future__ import annotations

import pytest

from dhflow.compiler.api import compile_source
from dhflow.compiler.source import SourceFile
from dhflow.search.driver import Budget, InProcessBackend, drive
from dhflow.search.pareto import front_ranks
from dhflow.search.factory import make_proposer
from dhflow.search.proposer import Dimension, Evaluation, SearchSetup, setup_from_spec

DIMS = (Dimension("x", "real", -5.0, 5.0), Dimension("n", "int", 1, 64, log=True),
        Dimension("k", "const", values=(7,)))


def quad(p):
    return (p["x"] - 1.0) ** 2 + (p["n"] - 8) ** 2 / 100


def _run(method, seed, evals=30, parallel=3, dims=DIMS, fn=quad, directions=("minimize",), **kw):
    setup = SearchSetup(method, dims, directions, seed=seed)
    return drive(make_proposer(setup), InProcessBackend(fn), Budget(evals, parallel, evals), **kw)


@pytest.mark.parametrize("method", ["random", "tpe", "cmaes"])
def test_same_seed_same_proposals_within_bounds(method):
    a, b = _run(method, 5), _run(method, 5)
    assert [e.point for e in a.finished] == [e.point for e in b.finished]
    assert [e.trial for e in a.finished] == list(range(30))
    for e in a.finished:
        assert -5 <= e.point["x"] <= 5 and 1 <= e.point["n"] <= 64 and isinstance(e.point["n"], int)
        assert e.point["k"] == 7 and list(e.point) == ["x", "n", "k"]
    assert [e.point for e in _run(method, 6).finished] != [e.point for e in a.finished]


def test_tpe_learns_better_than_random():
    best = lambda out: min(e.values[0] for e in out.finished)  # noqa: E731
    tpe = sorted(best(_run("tpe", s, evals=60)) for s in range(3))
    rnd = sorted(best(_run("random", s, evals=60)) for s in range(3))
    assert tpe[1] < rnd[1]


def test_failures_are_told_as_failures_and_stop_at_max_failures():
    def sometimes(p):
        if p["x"] > 0:
            raise RuntimeError("diverged")
        return quad(p)

    setup = SearchSetup("tpe", DIMS, ("minimize",), seed=1)
    out = drive(make_proposer(setup), InProcessBackend(sometimes), Budget(40, 2, 3))
    # both evaluations in flight may fail together: the search stops at 3 or just past it
    assert 3 <= len(out.failures) <= 4 and out.stopped and "max_failures=3" in out.stopped
    assert all(e.values is None and e.reason == "diverged" for e in out.failures)
    told = make_proposer(setup)
    told.ask(1, out.finished, [], first=len(out.finished))
    states = [t.state.name for t in told.study.trials]
    assert states.count("FAIL") == len(out.failures)


def test_resume_continues_from_finished_and_in_flight():
    first = _run("tpe", 2, evals=10)
    done, flying = first.finished[:6], [Evaluation(e.trial, e.point) for e in first.finished[6:8]]
    setup = SearchSetup("tpe", DIMS, ("minimize",), seed=2)
    backend = InProcessBackend(quad)
    backend.submit([(e.trial, e.point) for e in flying])  # they were running; now they finish
    out = drive(make_proposer(setup, resumed_at=8), backend, Budget(10, 3, 10), finished=done, in_flight=flying)
    assert [e.trial for e in out.finished] == list(range(10))
    assert out.proposed == 2  # 6 finished + 2 waited for + 2 new
    # a rebuilt proposer does not draw the points of the first run again
    seen = [e.point for e in first.finished]
    assert all(e.point not in seen for e in out.finished[8:])


def test_initial_design_first_and_where():
    initial = [{"x": 0.5, "n": 2, "k": 7}, {"x": -0.5, "n": 3, "k": 7}]
    out = _run("tpe", 0, evals=12, initial=initial, keep=lambda p: p["x"] < 2)
    assert [e.point for e in out.finished[:2]] == initial
    assert all(e.point["x"] < 2 for e in out.finished) and len(out.finished) == 12


def test_nsga2_two_objectives_and_pareto_ranks():
    out = _run("nsga2", 4, evals=24, fn=lambda p: (p["x"] ** 2, (p["x"] - 2) ** 2),
               directions=("minimize", "minimize"))
    assert len(out.finished) == 24 and all(len(e.values) == 2 for e in out.finished)
    ranks = front_ranks([e.values for e in out.finished], ("minimize", "minimize"))
    front = [e for e, r in zip(out.finished, ranks) if r == 0]
    assert front and all(0 <= e.point["x"] <= 2 for e in front)  # the true front is x in [0, 2]
    assert front_ranks([(1, 1), (2, 2), (0, 3)], ("maximize", "minimize")) == [0, 0, 1]


SEARCH = """workflow s:
    objective: maximize, minimize
space:
    x: real(-1, 1)
    act: choice("a", "b")
search: nsga2(evals=8, parallel=2, seed=3, initial=4)
rule f:
    foreach: space
    shell: "echo A {x}"
    objective: stdout("A"), file("m.json", "t")
"""


def test_setup_from_spec_and_several_objectives_in_the_plan():
    r = compile_source(SourceFile.from_text(SEARCH, "s.dhflow"))
    assert r.ok, r.diagnostics
    setup = setup_from_spec(r.spec)
    assert setup.method == "nsga2" and setup.directions == ("maximize", "minimize") and setup.initial == 4
    assert [d.kind for d in setup.dimensions] == ["real", "choice"]
    assert r.plan.tasks == ()  # no sample: the points are proposed while the search runs
    r2 = compile_source(SourceFile.from_text(SEARCH.replace("search:", "sample: random(count=2, seed=1)\nsearch:"),
                                             "s.dhflow"))
    assert [t.objective["source"] for t in r2.plan.tasks] == ["several", "several"]
