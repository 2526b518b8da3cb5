"""The shape of a call value shared by `sample:` and `search:`: `NAME(key=value, ...)`,
optionally followed by `where EXPR`.

Both blocks name one of a fixed set of functions, take keyword arguments from a fixed
list, and accept a `where` filter; the checks and their diagnostics are written once here.
Each function takes the builder (for its ``err``) and reports with the caller's code.
"""
from __future__ import annotations

from typing import Callable, Iterable

from dhflow.compiler.diagnostics import did_you_mean
from dhflow.compiler.parse import nodes as n


def known_call(b, e: n.Expr, names: Iterable[str], code: str, noun: str,
               help_for: Callable[[str | None], str | None]) -> tuple[n.Call, n.Expr | None, n.Expr] | None:
    """(call, where condition or None, the whole value) when `e` calls one of `names`;
    else a diagnostic "unknown NOUN `NAME`" with ``help_for(NAME)`` and None."""
    where, whole = None, e
    if isinstance(e, n.Where):
        where, e = e.cond, e.base
    if isinstance(e, n.Call) and e.func in names:
        return e, where, whole
    fname = e.func if isinstance(e, n.Call) else None
    b.err(code, f"unknown {noun}" + (f" `{fname}`" if fname else ""),
          e.func_span if isinstance(e, n.Call) else e.span, help=help_for(fname))
    return None


def keywords_known(b, call: n.Call, allowed: Iterable[str], code: str) -> bool:
    """False (after a diagnostic with a did-you-mean) when the call names an argument it
    does not take."""
    allowed = tuple(allowed)
    for k in call.kwargs:
        if k.name not in allowed:
            b.err(code, f"{call.func}() has no argument `{k.name}`", k.span,
                  help=did_you_mean(k.name, allowed) or (f"it takes {', '.join(allowed)}" if allowed else None))
            return False
    return True
