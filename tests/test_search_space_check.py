"""A search's resource expressions checked at compile time over its space (LANGUAGE.md, v2:
"checked over the whole space where it is finite and, for real parameters, at the bounds and
over a sample"): the first offending point named, `where` honoured, and fast."""
from __future__ import annotations

import time

from dhflow.compiler.api import compile_source
from dhflow.compiler.expand import search_space
from dhflow.compiler.source import SourceFile

HEAD = "workflow sp:\n    objective: minimize\n\n"
RULE = "\nrule f:\n    foreach: space\n    shell: \"echo DH-OUTPUT 1\"\n    objective: stdout(\"DH-OUTPUT\")\n"


def _compile(space: str, resources: str, *, search: str = "search: tpe(evals=5)", extra: str = ""):
    text = f"{HEAD}{extra}space:\n{space}\n{search}\n{RULE}{resources}"
    return compile_source(SourceFile.from_text(text, "sp.dhflow"))


def _errors(r):
    return [(d.code, d.message) for d in r.diagnostics if d.severity == "error"]


def test_finite_space_names_the_first_offending_point_per_key():
    r = _compile("    n: int(0, 3)\n    x: real(0, 1)", "    nodes: n\n",
                 extra="launch:\n    nodes: 2\n\n")
    assert not r.ok
    assert _errors(r) == [
        ("DH404", "`nodes` of rule `f` gives 0 for the search space's point (n=0)"),
        ("DH405", "rule `f` needs 3 nodes for the search space's point (n=3), but the launcher has 2"),
    ]
    d = next(d for d in r.diagnostics if d.code == "DH404")
    assert r.source.text[d.span.start:d.span.end] == "n" and "`where` after `search:`" in d.help


def test_where_keeps_the_offending_points_out():
    ok = _compile("    n: int(0, 3)", "    nodes: n\n", search="search: tpe(evals=5) where n >= 1 and n <= 2",
                  extra="launch:\n    nodes: 2\n\n")
    assert ok.ok, _errors(ok)
    half = _compile("    n: int(0, 3)", "    nodes: n\n", search="search: tpe(evals=5) where n <= 2",
                    extra="launch:\n    nodes: 2\n\n")
    assert [c for c, _ in _errors(half)] == ["DH404"]


def test_choice_int_and_values_are_enumerated_in_order():
    r = _compile("    bs: choice(16, 32, 64)\n    k: int(1, 4)", "    ranks_per_node: bs // 32 * k\n")
    assert _errors(r) == [("DH404", "`ranks_per_node` of rule `f` gives 0 for the search space's point (bs=16, k=1)")]
    text = (f"{HEAD}values scale: 1, 4\n\nspace:\n    n: int(1, 2)\n\nsearch: tpe(evals=5)\n\nlaunch:\n    nodes: 4\n"
            "\nrule train:\n    foreach: scale * space\n    shell: \"true\"\n    nodes: scale * n\n"
            "\nrule f:\n    foreach: space\n    after: train\n    shell: \"echo DH-OUTPUT 1\"\n"
            "    objective: stdout(\"DH-OUTPUT\")\n")
    r = compile_source(SourceFile.from_text(text, "sp.dhflow"))
    assert _errors(r) == [("DH405", "rule `train` needs 8 nodes for the search space's point (n=2, scale=4), "
                                    "but the launcher has 4")]


def test_real_parameters_at_the_bounds_and_over_a_sample():
    bound = _compile("    x: real(0.5, 3)", "    nodes: floor(x)\n")
    assert _errors(bound) == [("DH404", "`nodes` of rule `f` gives 0 for the search space's point (x=0.5)")]
    # 1 at both bounds, 0 inside (-0.5, 0.5): only the sample finds it
    inside = _compile("    x: real(-1, 1)", "    nodes: round(abs(x))\n")
    (code, message), = _errors(inside)
    assert code == "DH404" and message.startswith("`nodes` of rule `f` gives 0 for the search space's point (x=")
    x = float(message.split("x=")[1].rstrip(")"))
    assert -0.5 <= x <= 0.5
    assert _errors(_compile("    x: real(-1, 1)", "    nodes: round(abs(x))\n")) == _errors(inside)  # seeded


def test_constant_resources_of_a_search_without_sample():
    r = _compile("    x: real(0, 1)", "    nodes: 3\n", extra="launch:\n    nodes: 2\n\n")
    assert _errors(r) == [("DH405", "rule `f` needs 3 nodes for every point of the search space, "
                                    "but the launcher has 2")]


def test_the_design_points_are_checked_once():
    r = _compile("    n: int(0, 3)", "    nodes: n\n", search="sample: grid(levels=4)\nsearch: tpe(evals=5)")
    assert [c for c, _ in _errors(r)] == ["DH404"]  # the design's own (point 0), not twice
    assert "point 0 (n=0)" in _errors(r)[0][1]


def test_a_sweep_is_not_affected():
    r = _compile("    n: int(0, 3)", "    nodes: n\n", search="sample: grid(levels=2) where n >= 1")
    assert r.ok, _errors(r)


def test_ten_parameters_stay_fast():
    space = "\n".join(f"    p{i}: int(1, {10 ** (i % 4 + 1)})" for i in range(9)) + "\n    x: real(0.001, 1, log)"
    resources = ("    nodes: " + " + ".join(f"p{i}" for i in range(9)) + "\n"
                 "    ranks_per_node: max(1, floor(p3 * x))\n    wall_time: p2 + 1\n")
    t0 = time.perf_counter()
    r = _compile(space, resources, search="search: tpe(evals=5) where p0 + p1 > 2 and x > 0.01")
    assert r.ok, _errors(r)
    assert time.perf_counter() - t0 < 1.0
    # the biggest space checked whole, every point read by the expression: also under a second
    side = int(search_space.MAX_ENUMERATED ** 0.5)
    t0 = time.perf_counter()
    r = _compile(f"    a: int(1, {side})\n    b: int(1, {side})", "    nodes: max(1, a * b - a * b)\n")
    assert r.ok, _errors(r)
    assert time.perf_counter() - t0 < 1.0
