"""The initial design (`sample:` with `search:`) and the search's `where`: a design point that
`where` rejects is dropped (DH607 says so at compile time) and never stops the search. The
real driver and proposer, with an in-process backend in place of Balsam."""
from __future__ import annotations

from dhflow.compiler.api import compile_source
from dhflow.compiler.source import SourceFile
from dhflow.runtime.experiment import load_search as load
from dhflow.search.driver import Budget, InProcessBackend, drive
from dhflow.search.factory import make_proposer
from dhflow.search.proposer import Dimension, Evaluation, SearchSetup

TEXT = """workflow design:
    objective: minimize

space:
    x: real(-5, 5)

sample: grid(levels=5)
search: tpe(evals=8, parallel=2, seed=4) where x > 0

rule f:
    foreach: space
    shell: "echo DH-OUTPUT {x}"
    objective: stdout("DH-OUTPUT")
"""


def quad(p):
    return (p["x"] - 1.0) ** 2


def test_check_warns_how_many_design_points_where_drops():
    r = compile_source(SourceFile.from_text(TEXT, "design.dhflow"))
    assert r.ok
    (d,) = [d for d in r.diagnostics if d.code == "DH607"]
    assert d.severity == "warning"
    assert "drops 3 of the 5 design point(s)" in d.message and "x=-5.0" in d.message
    assert (d.span.line, d.span.col) == (8, 48)  # the `where` expression
    every = compile_source(SourceFile.from_text(TEXT.replace("x > 0", "x > 7"), "design.dhflow"))
    assert [d.message for d in every.diagnostics if d.code == "DH607"][0].startswith(
        "the search's `where` drops 5 of the 5 design point(s)")
    kept = compile_source(SourceFile.from_text(TEXT.replace("x > 0", "x > -9"), "design.dhflow"))
    assert not [d for d in kept.diagnostics if d.code == "DH607"]


def test_the_search_runs_past_rejected_design_points(tmp_path):
    path = tmp_path / "design.dhflow"
    path.write_text(TEXT)
    ctx = load(str(path))
    assert [p["x"] for p in ctx.initial] == [-5.0, -2.5, 0.0, 2.5, 5.0]
    out = drive(make_proposer(ctx.setup), InProcessBackend(quad), ctx.budget, initial=ctx.initial, keep=ctx.keep)
    assert out.stopped is None
    assert [e.trial for e in out.finished] == list(range(8)) and out.proposed == 8
    # the kept design points first, as trials 0 and 1; nothing `where` rejects was run
    assert [e.point for e in out.finished[:2]] == [{"x": 2.5}, {"x": 5.0}]
    assert all(e.point["x"] > 0 and e.values == (quad(e.point),) for e in out.finished)


def test_resuming_keeps_the_numbers_of_the_kept_design_points():
    dims = (Dimension("x", "real", -5.0, 5.0),)
    design = [{"x": -1.0}, {"x": 1.0}, {"x": -2.0}, {"x": 2.0}, {"x": 3.0}]
    keep = lambda p: p["x"] > 0  # noqa: E731
    setup = SearchSetup("random", dims, ("minimize",), seed=2)
    first = drive(make_proposer(setup), InProcessBackend(quad), Budget(2, 1, 2), initial=design, keep=keep)
    assert [(e.trial, e.point) for e in first.finished] == [(0, {"x": 1.0}), (1, {"x": 2.0})]
    again = drive(make_proposer(setup, resumed_at=2), InProcessBackend(quad), Budget(5, 2, 5),
                  finished=first.finished, initial=design, keep=keep)
    assert again.stopped is None and again.proposed == 3
    assert again.finished[2] == Evaluation(2, {"x": 3.0}, (quad({"x": 3.0}),))
    assert all(e.point["x"] > 0 for e in again.finished)


def test_every_design_point_rejected_still_searches():
    dims = (Dimension("x", "real", -5.0, 5.0),)
    setup = SearchSetup("tpe", dims, ("minimize",), seed=1)
    out = drive(make_proposer(setup), InProcessBackend(quad), Budget(5, 2, 5),
                initial=[{"x": -1.0}, {"x": -2.0}], keep=lambda p: p["x"] > 0)
    assert out.stopped is None and len(out.finished) == 5
    assert all(e.point["x"] > 0 for e in out.finished)
