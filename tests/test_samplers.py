import math

from dhflow.compiler.expand.rng import Stream
from dhflow.compiler.expand.space import grid_levels
from dhflow.compiler.check.model import Param
from dhflow.compiler.source import Span

from .helpers import compile_text

S = Span.point(1, 1)


def points(text):
    r = compile_text(text)
    assert r.ok, [d.message for d in r.diagnostics]
    return [t.point for t in r.plan.tasks if t.rule == "t"]


BASE = """
workflow w:
space:
    a: choice("x", "y")
    b: int(1, 3)
    c: 7
sample: {sampler}
rule t:
    foreach: space
    shell: "echo"
"""


def test_grid_full_factorial_last_fastest():
    pts = points(BASE.format(sampler="grid(levels=5)"))
    assert [(p["a"], p["b"], p["c"]) for p in pts] == [
        ("x", 1, 7), ("x", 2, 7), ("x", 3, 7), ("y", 1, 7), ("y", 2, 7), ("y", 3, 7)]
    assert list(pts[0]) == ["a", "b", "c"]  # parameter order is key order


def test_grid_levels_int_real_log():
    assert grid_levels(Param("n", "int", S, S, lo=1, hi=100), 4) == [1, 34, 67, 100]
    assert grid_levels(Param("n", "int", S, S, lo=1, hi=1000, log=True), 4) == [1, 10, 100, 1000]
    assert grid_levels(Param("n", "int", S, S, lo=1, hi=3, log=True), 8) == [1, 2, 3]
    assert grid_levels(Param("r", "real", S, S, lo=0.0, hi=1.0), 3) == [0.0, 0.5, 1.0]
    assert grid_levels(Param("r", "real", S, S, lo=1e-4, hi=1e-1, log=True), 4) == [1e-4, 1e-3, 1e-2, 1e-1]


def test_grid_drops_duplicate_rounded_ints():
    levels = grid_levels(Param("n", "int", S, S, lo=1, hi=10, log=True), 9)
    assert len(levels) == len(set(levels))


def test_where_filters_before_numbering():
    pts = points(BASE.format(sampler='grid(levels=3) where a == "y" and b != 2'))
    assert [(p["a"], p["b"]) for p in pts] == [("y", 1), ("y", 3)]


def test_random_reproducible_and_pinned():
    text = BASE.format(sampler="random(count=4, seed=7)")
    assert points(text) == points(text)
    # Pinned: a change here changes every user's experiment (see dhflow/compiler/expand/rng.py).
    s = Stream(2026, "random")
    assert [round(s.uniform(), 12) for _ in range(3)] == PINNED


PINNED = [0.776561857609, 0.481531052361, 0.314628034548]


def test_random_where_draws_more():
    pts = points(BASE.format(sampler='random(count=5, seed=1) where a == "x"'))
    assert len(pts) == 5 and all(p["a"] == "x" for p in pts)


def test_lhs_stratifies_each_parameter():
    text = """
    workflow w:
    space:
        x: real(0, 1)
        y: int(0, 9)
    sample: lhs(count=10, seed=3)
    rule t:
        foreach: space
        shell: "echo"
    """
    pts = points(text)
    assert sorted(math.floor(p["x"] * 10) for p in pts) == list(range(10))
    assert sorted(p["y"] for p in pts) == list(range(10))


def test_points_csv_and_json(tmp_path):
    (tmp_path / "p.csv").write_text("a,b\nx,2\ny,3\n")
    (tmp_path / "p.json").write_text('[{"a": "y", "b": 1}]')
    for name, want in (("p.csv", [("x", 2), ("y", 3)]), ("p.json", [("y", 1)])):
        r = compile_text(BASE.format(sampler=f'points("{name}")'), path=str(tmp_path / "t.dhflow"))
        assert r.ok, [d.message for d in r.diagnostics]
        assert [(t.point["a"], t.point["b"], t.point["c"]) for t in r.plan.tasks] == [w + (7,) for w in want]


def test_points_row_errors_name_the_row(tmp_path):
    (tmp_path / "p.csv").write_text("a,b,zz\nx,2,1\nq,9,1\n")
    r = compile_text(BASE.format(sampler='points("p.csv")'), path=str(tmp_path / "t.dhflow"))
    msgs = [d.message for d in r.diagnostics]
    assert any("p.csv:2: `zz` is not a parameter" in m for m in msgs)
    assert any("p.csv:3: `a` = 'q' is not in choice" in m for m in msgs)
    assert any("p.csv:3: `b` = 9 is outside int(1, 3)" in m for m in msgs)
