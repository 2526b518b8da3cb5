"""DeepHyper's CBO behind the proposer interface (the optional extra dhflow[deephyper]):
the space's kinds, seeds, failures told as failures, points in flight, the initial design,
resuming and several objectives, through the pure driver loop (no database).

CBO refits its model at every tell (about half a second), so the runs here are short.
"""
from __future__ import annotations

import importlib.util
import math

import pytest

from dhflow.compiler.api import compile_source
from dhflow.compiler.source import SourceFile
from dhflow.search.driver import Budget, InProcessBackend, drive
from dhflow.search.factory import make_proposer
from dhflow.search.proposer import Dimension, Evaluation, SearchSetup

pytestmark = pytest.mark.skipif(importlib.util.find_spec("deephyper") is None,
                                reason="optional extra dhflow[deephyper] not installed")

CHOICES = (1, 2.5, True, "a")
DIMS = (Dimension("x", "real", -5.0, 5.0), Dimension("n", "int", 1, 64, log=True),
        Dimension("c", "choice", values=CHOICES), Dimension("k", "const", values=(7,)))


def quad(p):
    return (p["x"] - 1.0) ** 2 + (p["n"] - 8) ** 2 / 100 + (0.0 if p["c"] == "a" else 1.0)


def _setup(seed=1, directions=("minimize",), initial=3, dims=DIMS):
    return SearchSetup("cbo", dims, directions, seed=seed, initial=initial)


def _run(seed, evals=8, parallel=2, fn=quad, **kw):
    return drive(make_proposer(_setup(seed)), InProcessBackend(fn), Budget(evals, parallel, evals), **kw)


def _key(point):
    return tuple((k, type(v).__name__, v) for k, v in point.items())


def test_seeded_proposals_in_the_space_with_its_types():
    a, b = _run(4, evals=7), _run(4, evals=7)
    assert [_key(e.point) for e in a.finished] == [_key(e.point) for e in b.finished]
    assert [e.trial for e in a.finished] == list(range(7))
    for e in a.finished:
        p = e.point
        assert list(p) == ["x", "n", "c", "k"] and p["k"] == 7
        assert type(p["x"]) is float and -5 <= p["x"] <= 5
        assert type(p["n"]) is int and 1 <= p["n"] <= 64
        # a choice's values come back exactly as written: True is not 1, 2.5 stays a float
        assert any(p["c"] == v and type(p["c"]) is type(v) for v in CHOICES)
    assert len({_key(e.point) for e in a.finished}) == 7  # never the same point twice
    assert [_key(e.point) for e in _run(5, evals=4).finished] != [_key(e.point) for e in a.finished]


def test_points_in_flight_are_not_proposed_again():
    proposer = make_proposer(_setup(initial=3))
    start = [Evaluation(i, p, (quad(p),)) for i, p in enumerate(
        {"x": x, "n": n, "c": c, "k": 7} for x, n, c in ((0.0, 4, "a"), (2.0, 16, 1), (-3.0, 2, True), (4.0, 60, 2.5)))]
    first = proposer.ask(1, start, [], first=4)[0]  # the model is fit: the optimum of its acquisition
    # the same question again, with that point in flight and one the proposer never made
    # (as the `sample:` design or an earlier run of the driver leaves them)
    other = {"x": 1.0, "n": 8, "c": "a", "k": 7}
    flying = [Evaluation(4, first), Evaluation(5, other)]
    second = proposer.ask(1, [], flying, first=6)[0]
    third = proposer.ask(1, [], [*flying, Evaluation(6, second)], first=7)[0]
    assert len({_key(first), _key(second), _key(third), _key(other)}) == 4


def test_failures_and_rejections_are_told_as_failures():
    def sometimes(p):
        if p["x"] > 2:
            raise RuntimeError("diverged")
        return math.nan if p["c"] is True else quad(p)

    out = _run(2, evals=8, fn=sometimes, keep=lambda p: p["n"] < 60)
    failed = [e for e in out.finished if e.values is None or not math.isfinite(e.values[0])]
    assert failed and all(e.point["n"] < 60 for e in out.finished)
    told = make_proposer(_setup(2))
    rejected = [Evaluation(-1, {"x": 0.0, "n": 63, "c": 1, "k": 7}, None, "rejected by `where`")]
    told.ask(1, [*out.finished, *rejected], [], first=8)
    ys = told.search._opt.yi
    assert len(ys) == 9 and ys.count("F") == len(failed) + 1  # "F", DeepHyper's failure marker


def test_resume_tells_a_fresh_cbo_and_continues():
    first = _run(3, evals=6)
    done, flying = first.finished[:4], [Evaluation(e.trial, e.point) for e in first.finished[4:6]]
    backend = InProcessBackend(quad)
    backend.submit([(e.trial, e.point) for e in flying])  # they were running; now they finish
    out = drive(make_proposer(_setup(3), resumed_at=6), backend, Budget(8, 2, 8), finished=done, in_flight=flying)
    assert [e.trial for e in out.finished] == list(range(8)) and out.proposed == 2
    seen = {_key(e.point) for e in first.finished}
    assert all(_key(e.point) not in seen for e in out.finished[6:])


def test_initial_design_first_and_where():
    initial = [{"x": 0.5, "n": 2, "c": "a", "k": 7}, {"x": -0.5, "n": 3, "c": 2.5, "k": 7}]
    out = _run(0, evals=6, initial=initial, keep=lambda p: p["x"] < 3)
    assert [e.point for e in out.finished[:2]] == initial
    assert len(out.finished) == 6 and all(e.point["x"] < 3 for e in out.finished)


def test_two_objectives_each_in_its_direction():
    dims = (Dimension("x", "real", 0.0, 2.0),)
    setup = _setup(directions=("maximize", "minimize"), initial=2, dims=dims)
    fn = lambda p: (p["x"], (p["x"] - 1.5) ** 2)  # noqa: E731
    out = drive(make_proposer(setup), InProcessBackend(fn), Budget(5, 2, 5))  # with a point in flight
    assert len(out.finished) == 5 and all(len(e.values) == 2 for e in out.finished)
    told = make_proposer(setup)
    told.ask(1, out.finished, [], first=5)
    # CBO maximizes and its optimizer minimizes the negation: maximize x -> -x, minimize y -> +y
    assert told.search._opt.yi[0] == pytest.approx([-out.finished[0].values[0], out.finished[0].values[1]])


def test_a_cbo_file_compiles_with_several_objectives():
    text = """workflow s:
    objective: maximize, minimize
space:
    x: real(-1, 1)
search: cbo(evals=4)
rule f:
    foreach: space
    shell: "echo A {x}"
    objective: stdout("A"), stdout("B")
"""
    r = compile_source(SourceFile.from_text(text, "s.dhflow"))
    assert r.ok, r.diagnostics
