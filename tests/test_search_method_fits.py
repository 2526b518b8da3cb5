"""Every search method against every number of objectives and kind of space: a file that
`dhflow check` accepts runs to its end through the real proposer and the real driver (an
in-process backend instead of Balsam), and every file the proposers cannot run is refused
at compile time (DH604, at the method), never by Optuna once the search has started."""
from __future__ import annotations

import warnings

import pytest

from dhflow.compiler.api import compile_source
from dhflow.compiler.source import SourceFile
from dhflow.search.driver import Budget, InProcessBackend, drive
from dhflow.search.factory import make_proposer
from dhflow.search.proposer import setup_from_spec

SPACES = {
    "int and real": "    x: real(-1, 1)\n    n: int(1, 16, log)\n",
    "one real": "    x: real(0.1, 1, log)\n",
    "with a choice": "    x: real(-1, 1)\n    act: choice(\"relu\", \"tanh\")\n",
    "with a constant": "    x: real(-1, 1)\n    k: 3\n",
}
METHODS = ("random", "tpe", "cmaes", "nsga2", "cbo")
#: The pairs the proposers cannot run: everything else must compile and run.
REFUSED = {("cmaes", 2, "with a choice"), ("cmaes", 1, "with a choice"), ("cmaes", 2, "int and real"),
           ("cmaes", 2, "one real"), ("cmaes", 2, "with a constant"),
           *(("nsga2", 1, s) for s in SPACES)}


def _file(method: str, objectives: int, space: str) -> str:
    directions = "maximize, minimize" if objectives == 2 else "minimize"
    sources = 'stdout("A"), stdout("B")' if objectives == 2 else 'stdout("A")'
    return (f"workflow fits:\n    objective: {directions}\n\nspace:\n{SPACES[space]}\n"
            f"search: {method}(evals=4, parallel=2, seed=1, initial=2)\n\n"
            f"rule f:\n    foreach: space\n    shell: \"echo A {{x}}; echo B {{x}}\"\n    objective: {sources}\n")


#: DeepHyper's CBO takes seconds a proposal (tests/test_search_cbo.py covers its spaces):
#: here one mixed space, with one objective and with two.
CASES = [(m, o, s) for m in METHODS for o in (1, 2) for s in SPACES if m != "cbo" or s == "with a choice"]


@pytest.mark.parametrize("method, objectives, space", CASES)
def test_check_accepts_exactly_what_the_proposer_runs(method, objectives, space):
    text = _file(method, objectives, space)
    r = compile_source(SourceFile.from_text(text, "fits.dhflow"))
    errors = [d for d in r.diagnostics if d.severity == "error"]
    if (method, objectives, space) in REFUSED:
        assert errors and {d.code for d in errors} == {"DH604"}, errors  # cmaes, 2, choice: both reasons
        return
    assert r.ok, errors
    fn = (lambda p: (p["x"] ** 2, (p["x"] - 1) ** 2)) if objectives == 2 else (lambda p: p["x"] ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the libraries' own (experimental features, scikit-learn)
        out = drive(make_proposer(setup_from_spec(r.spec)), InProcessBackend(fn), Budget(4, 2, 4))
    assert out.stopped is None and [e.trial for e in out.finished] == list(range(4))
    assert all(e.values is not None and len(e.values) == objectives for e in out.finished)


def test_cmaes_with_several_objectives_points_at_the_method_and_names_the_alternatives():
    text = _file("cmaes", 2, "int and real")
    r = compile_source(SourceFile.from_text(text, "fits.dhflow"))
    (d,) = [d for d in r.diagnostics if d.severity == "error"]
    line = text.splitlines().index("search: cmaes(evals=4, parallel=2, seed=1, initial=2)") + 1
    assert (d.code, d.span.line, d.span.col, d.span.end_col) == ("DH604", line, 9, 14)
    assert "one objective" in d.message and "has 2" in d.message
    assert "`nsga2`" in d.help and "`tpe`" in d.help
    assert d.labels and d.labels[0].span.line == 2  # the directions
