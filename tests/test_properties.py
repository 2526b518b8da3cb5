"""Hypothesis properties: sampled values in bounds, determinism, round trips, and no input
that makes the compiler raise anything but diagnostics."""
from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhflow.compiler.api import compile_source
from dhflow.compiler.plan.model import Plan
from dhflow.compiler.source import SourceFile

from .helpers import compile_text

ROOT_EXAMPLE = """
workflow w:
space:
    i: int({ilo}, {ihi}{ilog})
    r: real({rlo}, {rhi}{rlog})
    c: choice("a", "b", 3)
sample: {sampler}
rule t:
    foreach: space
    shell: "run {{point:json}}"
"""


@st.composite
def spaces(draw):
    ilo = draw(st.integers(1, 1000))
    ihi = ilo + draw(st.integers(1, 10_000))
    rlo = draw(st.floats(1e-6, 1e3, allow_nan=False, allow_infinity=False))
    rhi = rlo * (1 + draw(st.floats(0.01, 1e3)))
    kind = draw(st.sampled_from(["random", "lhs", "grid"]))
    seed = draw(st.integers(0, 2**32))
    count = draw(st.integers(1, 30))
    sampler = f"grid(levels={min(count, 6)})" if kind == "grid" else f"{kind}(count={count}, seed={seed})"
    text = ROOT_EXAMPLE.format(ilo=ilo, ihi=ihi, ilog=draw(st.sampled_from(["", ", log"])), rlo=repr(rlo),
                               rhi=repr(rhi), rlog=draw(st.sampled_from(["", ", log"])), sampler=sampler)
    return text, (ilo, ihi, rlo, rhi)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces())
def test_sampled_values_in_bounds_and_deterministic(case):
    text, (ilo, ihi, rlo, rhi) = case
    r1 = compile_text(text)
    assert r1.ok, [d.message for d in r1.diagnostics]
    for t in r1.plan.tasks:
        p = t.point
        assert isinstance(p["i"], int) and ilo <= p["i"] <= ihi
        assert isinstance(p["r"], float) and rlo <= p["r"] <= rhi
        assert p["c"] in ("a", "b", 3)
    r2 = compile_text(text)
    assert r2.plan.to_json() == r1.plan.to_json()
    assert Plan.from_json(r1.plan.to_json()) == r1.plan
    keys = [t.key for t in r1.plan.tasks]
    points = [tuple(t.point.items()) for t in r1.plan.tasks]
    assert len(set(keys)) == len(set(points))  # same point <=> same key within a rule


VALID = """workflow w:
    objective: minimize
space:
    bs: choice(32, 64, 128)
    lr: real(1e-4, 1e-1, log)
sample: random(count=3, seed=1) where bs > 32
app run:
    executable: "python3 {here}/m.py"
    args: "{point:json}"
rule prep:
    shell: "echo hi"
rule t:
    foreach: space
    after: prep
    app: run
    nodes: ceil(bs / 64)
    objective: stdout("DH-OUTPUT")
launch:
    nodes: 2
"""

ALPHABET = string.ascii_letters + string.digits + " \t\n:#\"\\(){},.=<>+-*/%_'"


def _compiles_without_exception(text: str) -> None:
    r = compile_source(SourceFile.from_text(text, "/tmp/fuzz/f.dhflow"))
    for d in r.diagnostics:
        assert d.code.startswith("DH") and d.message
        if d.span is not None:
            assert d.span.line >= 1 and d.span.col >= 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=200))
def test_random_text_gives_diagnostics_not_exceptions(text):
    _compiles_without_exception(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(0, 40), st.text(alphabet=ALPHABET, max_size=8))
def test_mutated_valid_file_gives_diagnostics_not_exceptions(pos, cut, insert):
    _compiles_without_exception(VALID[:pos] + insert + VALID[pos + cut:])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(VALID.splitlines()), max_size=30))
def test_shuffled_lines_give_diagnostics_not_exceptions(lines):
    _compiles_without_exception("\n".join(lines))
