"""Resource expressions: only parameters, earlier resource keys and known functions."""
from __future__ import annotations

from typing import Iterator

from dhflow.compiler.diagnostics import Diagnostic, did_you_mean
from dhflow.compiler.lang.expressions import FUNCTIONS
from dhflow.compiler.parse.nodes import Call, Name, Str, TupleExpr, Where, walk
from dhflow.compiler.check.model import RESOURCE_KEYS, Spec


def resource_names(spec: Spec) -> Iterator[Diagnostic]:
    """In a foreach rule a resource value may use the point's parameters and the resource
    keys written above it (or not written at all: their default); a single rule has no point."""
    params = [p.name for p in spec.params]
    for rule in spec.rules:
        written = [k for k, _ in rule.resources]
        for i, (key, expr) in enumerate(rule.resources):
            above = written[:i]
            allowed = set(above) | {k for k in RESOURCE_KEYS if k not in written}
            if rule.foreach:
                allowed |= set(params)
            allowed |= set(rule.value_dims)
            if isinstance(expr, (TupleExpr, Where)):
                yield Diagnostic("DH203", f"`{key}` takes one expression", expr.span)
                continue
            for e in walk(expr):
                if isinstance(e, Call) and e.func not in FUNCTIONS:
                    yield Diagnostic("DH105", f"unknown function `{e.func}`", e.func_span,
                                     help=did_you_mean(e.func, FUNCTIONS) or f"the functions are: {', '.join(FUNCTIONS)}")
                elif isinstance(e, Call):
                    yield from _call_shape(e)
                elif isinstance(e, Name) and e.id not in allowed:
                    if e.id in written:
                        msg = f"`{key}` uses `{e.id}`, which is defined below it in rule `{rule.name}`"
                        hint = f"move `{e.id}` above `{key}`"
                    elif spec.dimension(e.id) is not None:
                        yield Diagnostic("DH112", f"`{key}` uses `{e.id}`, but rule `{rule.name}` does not fan out "
                                                  f"over `{e.id}`", e.span,
                                         help=f"add `{e.id}` to the rule's `foreach`")
                        continue
                    elif e.id in params:
                        msg = f"`{key}` uses parameter `{e.id}`, but rule `{rule.name}` has no `foreach: space`"
                        hint = "a rule without foreach runs one task, with no point"
                    else:
                        msg = f"unknown name `{e.id}` in `{key}` of rule `{rule.name}`"
                        hint = did_you_mean(e.id, allowed) or (
                            f"names here: {', '.join(sorted(allowed))}" if allowed else None)
                    yield Diagnostic("DH104", msg, e.span, help=hint)
                elif isinstance(e, Str) and e is expr:
                    yield Diagnostic("DH203", f"`{key}` must be a number or an expression, not a string", e.span)


def _call_shape(e: Call) -> Iterator[Diagnostic]:
    """Known functions called with the right number of positional arguments, no keywords."""
    _, lo, hi = FUNCTIONS[e.func]
    if e.kwargs:
        yield Diagnostic("DH203", f"`{e.func}` takes no keyword arguments", e.kwargs[0].span)
    elif len(e.args) < lo or (hi is not None and len(e.args) > hi):
        want = f"{lo}" if lo == hi else (f"{lo} to {hi}" if hi else f"at least {lo}")
        yield Diagnostic("DH203", f"`{e.func}` takes {want} argument(s), got {len(e.args)}", e.span)


def where_calls(spec: Spec) -> Iterator[Diagnostic]:
    """The same call checks for a sampler's `where` filter."""
    if spec.sampler is not None and spec.sampler.where is not None:
        for e in walk(spec.sampler.where):
            if isinstance(e, Call) and e.func in FUNCTIONS:
                yield from _call_shape(e)


CHECKS = (resource_names, where_calls)
