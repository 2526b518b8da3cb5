"""`foreach` needs points: a sampler when the space has a non-constant parameter."""
from __future__ import annotations

from typing import Iterator

from dhflow.compiler.diagnostics import Diagnostic, did_you_mean
from dhflow.compiler.lang.expressions import FUNCTIONS, free_names
from dhflow.compiler.parse.nodes import Call, walk
from dhflow.compiler.check.model import Spec


def foreach_without_sampler(spec: Spec) -> Iterator[Diagnostic]:
    """A foreach rule over a space with free parameters needs `sample:`; an empty space has no point."""
    for rule in spec.rules:
        if not rule.foreach:
            continue
        if not spec.params:
            if spec.has_space:
                continue  # the space block itself was reported broken
            yield Diagnostic("DH401", f"rule `{rule.name}` runs for each point, but there is no `space:`",
                             rule.foreach_span, help="add a `space:` block, or remove `foreach`")
        elif spec.sampler is None and not spec.has_search and any(not p.constant for p in spec.params):
            free = [p.name for p in spec.params if not p.constant]
            yield Diagnostic("DH401", f"rule `{rule.name}` runs for each point, but there is no `sample:` "
                                      f"to draw points of {', '.join(free)}", rule.foreach_span,
                             help="add e.g. `sample: random(count=20, seed=1)` or `sample: grid(levels=5)`")


def where_names(spec: Spec) -> Iterator[Diagnostic]:
    """A `sample: ... where` filter reads only parameters and known functions."""
    if spec.sampler is not None and spec.sampler.where is not None:
        yield from filter_names(spec, spec.sampler.where)


def filter_names(spec: Spec, cond) -> Iterator[Diagnostic]:
    """The diagnostics of a `where` condition (of `sample:` or `search:`): unknown functions
    (DH105) and names that are not parameters (DH104)."""
    params = [p.name for p in spec.params]
    for e in walk(cond):
        if isinstance(e, Call) and e.func not in FUNCTIONS:
            yield Diagnostic("DH105", f"unknown function `{e.func}`", e.func_span,
                             help=did_you_mean(e.func, FUNCTIONS) or f"the functions are: {', '.join(FUNCTIONS)}")
    for name in free_names(cond):
        if name not in params:
            span = next(e.span for e in walk(cond) if getattr(e, "id", None) == name)
            yield Diagnostic("DH104", f"`where` uses `{name}`, which is not a parameter", span,
                             help=did_you_mean(name, params) or f"the parameters are: {', '.join(params)}")


CHECKS = (foreach_without_sampler, where_names)
