"""The builder's part for adaptive search: `search:`, and several objectives.

Kept apart from :mod:`dhflow.compiler.check.builder` (which calls these three functions) so
that the v1 builder stays as it was. Each function takes the builder (for its ``err`` and
``objective`` helpers) and an AST value, and returns plain spec values.
"""
from __future__ import annotations

from dhflow.compiler.check.calls import keywords_known, known_call
from dhflow.compiler.check.model import ObjectiveSpec, SearchSpec
from dhflow.compiler.diagnostics import did_you_mean
from dhflow.compiler.parse import nodes as n
from dhflow.compiler.source import Span

#: The search methods, in the order the docs list them.
SEARCH_METHODS = ("random", "tpe", "cmaes", "cbo", "nsga2")
#: Arguments of every method, with their smallest allowed value.
SEARCH_ARGS = {"evals": 1, "parallel": 1, "seed": 0, "initial": 0, "max_failures": 1}
DIRECTIONS = ("maximize", "minimize")


def _items(e: n.Expr) -> tuple[n.Expr, ...]:
    return e.items if isinstance(e, n.TupleExpr) else (e,)


def directions_of(b, e: n.Expr) -> tuple[tuple[str, Span], ...]:
    """`objective: maximize` or `objective: maximize, minimize` of the workflow."""
    out = []
    for it in _items(e):
        word = b.word(it, "objective", DIRECTIONS)
        if word is not None:
            out.append((word, it.span))
    return tuple(out)


def objectives_of(b, e: n.Expr) -> tuple[ObjectiveSpec, ...]:
    """The rule's objective source, or its list of sources (one per objective)."""
    out = []
    for it in _items(e):
        o = b.objective(it)
        if o is not None:
            out.append(o)
    return tuple(out)


def search_of(b, e: n.Expr) -> SearchSpec | None:
    """`search: METHOD(evals=N, ...)` with an optional `where EXPR`; None after a diagnostic."""
    def methods_help(fname: str | None) -> str:
        hint = did_you_mean(fname, SEARCH_METHODS) if fname else None
        return ((f"{hint} " if hint else "")
                + f"the methods are: {', '.join(SEARCH_METHODS)}, e.g. `search: tpe(evals=100)`")

    found = known_call(b, e, SEARCH_METHODS, "DH601", "search method", methods_help)
    if found is None:
        return None
    e, where, whole = found
    if e.args:
        b.err("DH602", f"{e.func}() takes keyword arguments: evals=N, parallel=P, seed=S, initial=N, "
                       "max_failures=F", e.args[0].span)
        return None
    if not keywords_known(b, e, SEARCH_ARGS, "DH602"):
        return None
    values: dict[str, int] = {}
    for k in e.kwargs:
        v = k.value
        if not (isinstance(v, n.Num) and isinstance(v.value, int)) and not (
                isinstance(v, n.UnaryOp) and v.op == "-" and isinstance(v.operand, n.Num)):
            b.err("DH602", f"`{k.name}` must be a whole number", v.span)
            return None
        value = v.value if isinstance(v, n.Num) else -v.operand.value
        if not isinstance(value, int) or value < SEARCH_ARGS[k.name]:
            b.err("DH602", f"`{k.name}` must be at least {SEARCH_ARGS[k.name]}, got {value}", v.span,
                  help=f"write e.g. `{k.name}={max(SEARCH_ARGS[k.name], 1)}`")
            return None
        values[k.name] = value
    if "evals" not in values:
        b.err("DH602", f"{e.func}() needs `evals=`: how many evaluations in all", e.span,
              help=f"write `search: {e.func}(evals=50)`")
        return None
    return SearchSpec(e.func, whole.span, e.func_span, values["evals"], values.get("parallel"),
                      values.get("seed", 0), values.get("initial"), values.get("max_failures"), where)
