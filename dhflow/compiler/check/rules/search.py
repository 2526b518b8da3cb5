"""Checks of `search:` and of several objectives (the v2 adaptive search)."""
from __future__ import annotations

import importlib.util
from typing import Iterator

from dhflow.compiler.check.model import Spec
from dhflow.compiler.check.rules.sampling import filter_names
from dhflow.compiler.diagnostics import Diagnostic, Label, did_you_mean

#: The pip extra that installs DeepHyper for `search: cbo(...)`.
DEEPHYPER_EXTRA = "dhflow[deephyper]"


def objective_rules(spec: Spec) -> list:
    """The foreach rules that carry an objective."""
    return [r for r in spec.rules if r.foreach and r.objective is not None]


def objective_count(spec: Spec) -> int:
    """How many objectives the workflow has (its directions, else its rules' sources)."""
    if spec.directions:
        return len(spec.directions)
    rules = objective_rules(spec)
    return max((len(r.objectives) or 1 for r in rules), default=1)


def search_structure(spec: Spec) -> Iterator[Diagnostic]:
    """A search needs a foreach rule, and exactly one foreach rule carrying the objective."""
    s = spec.search
    if s is None:
        return
    if not any(r.foreach for r in spec.rules):
        yield Diagnostic("DH603", "`search:` proposes points, but no rule has `foreach: space`", s.method_span,
                         help="add `foreach: space` to the rule that evaluates a point")
        return
    rules = objective_rules(spec)
    if not rules:
        yield Diagnostic("DH603", "`search:` needs an objective to learn from, but no foreach rule has `objective:`",
                         s.method_span, help='add e.g. `objective: stdout("DH-OUTPUT")` to the evaluating rule')
    elif len(rules) > 1:
        yield Diagnostic("DH603", f"`search:` needs exactly one foreach rule with `objective:`, "
                                  f"found {len(rules)} ({', '.join(r.name for r in rules)})",
                         rules[1].objective.span, labels=(Label(rules[0].objective.span, "first objective here"),),
                         help="keep the objective on the rule whose result the search should learn from")


def search_method_fits(spec: Spec) -> Iterator[Diagnostic]:
    """cmaes needs int/real parameters only and one objective; nsga2 needs several objectives;
    cbo needs DeepHyper (which optimizes one objective or several). random and tpe take any
    space and any number of objectives (tests/test_search_method_fits.py runs every pair)."""
    s = spec.search
    if s is None:
        return
    if s.method == "cmaes":
        for p in spec.params:
            if p.kind == "choice":
                yield Diagnostic("DH604", f"`cmaes` searches int and real parameters only, but `{p.name}` is a choice",
                                 p.value_span, labels=(Label(s.method_span, "method chosen here"),),
                                 help="use `tpe` (it handles choices), or make the parameter an int()")
                break
    if s.method == "cmaes" and objective_count(spec) > 1:
        # Optuna's CmaEsSampler refuses a study of several objectives when the search runs
        yield Diagnostic("DH604", f"`cmaes` optimizes one objective, but the workflow has {objective_count(spec)}",
                         s.method_span, labels=(Label(spec.directions[0][1], "objectives given here"),)
                         if spec.directions else (),
                         help="use `nsga2` or `tpe` (both optimize several objectives), or keep one objective")
    if s.method == "nsga2" and objective_count(spec) < 2:
        yield Diagnostic("DH604", "`nsga2` optimizes several objectives, but the workflow has one", s.method_span,
                         help="list one direction per objective (`objective: maximize, minimize` in the workflow) "
                              "and as many sources on the rule, or use `tpe`")
    if s.method == "cbo" and importlib.util.find_spec("deephyper") is None:
        yield Diagnostic("DH606", "`cbo` is DeepHyper's search, and DeepHyper is not installed", s.method_span,
                         help=f"install it with `pip install '{DEEPHYPER_EXTRA}'`, or use `tpe`")


def objective_lengths(spec: Spec) -> Iterator[Diagnostic]:
    """Several directions need as many sources on the objective rule, and the other way round."""
    want = len(spec.directions) or 1
    for r in objective_rules(spec):
        got = len(r.objectives) or 1
        if got != want:
            span = (r.objectives[0].span if r.objectives else r.objective.span)
            labels = (Label(spec.directions[0][1], "directions given here"),) if spec.directions else ()
            yield Diagnostic("DH605", f"rule `{r.name}` gives {got} objective source(s), but the workflow has "
                                      f"{want} direction(s)", span, labels=labels,
                             help="give one direction per source: `objective: maximize, minimize` in the "
                                  "workflow block and two sources on the rule")


def objective_rule_values(spec: Spec) -> Iterator[Diagnostic]:
    """A trial is one point and one result: the objective rule of a search cannot fan out
    over `values` (its tasks per value would each claim the trial; only the first decided)."""
    if spec.search is None:
        return
    for r in objective_rules(spec):
        dims = [(d, span) for d, span in r.dims if d != "space"]
        if dims:
            name, span = dims[0]
            yield Diagnostic(
                "DH608", f"rule `{r.name}` carries the search's objective, but it fans out over `{name}`: "
                         f"a trial is one point with one result, not one per `{name}`", span,
                labels=(Label(r.objective.span, "objective here"),),
                help=f"fan the work out in a rule with `foreach: {name} * space` and move the objective to a "
                     f"rule with `foreach: space` and `after:` it, which gets every `{name}`'s task of its point "
                     f"and prints one value that combines them (e.g. their mean)")


def search_where_names(spec: Spec) -> Iterator[Diagnostic]:
    """`search: ... where EXPR` reads only parameters and known functions."""
    if spec.search is not None and spec.search.where is not None:
        yield from filter_names(spec, spec.search.where)


CHECKS = (search_structure, search_method_fits, objective_lengths, objective_rule_values, search_where_names)
