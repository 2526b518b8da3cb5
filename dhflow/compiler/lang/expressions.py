"""The expression language: a small, safe evaluator over the AST (never `eval`).

Expressions are compiled once into nested Python closures, then called per point. The
closure tree only knows literals, the names it is given, the arithmetic/comparison/boolean
operators and the functions in FUNCTIONS: there is no attribute access, import or I/O.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from dhflow.compiler.limits import INT_LIMIT
from dhflow.compiler.parse import nodes as n
from dhflow.compiler.source import Span


class EvalError(Exception):
    """An expression could not be evaluated for a given set of values."""

    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.message = message
        self.span = span


def _num(x: Any, fname: str) -> float | int:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{fname}() needs a number, got {type_name(x)}")
    return x


def _ceil(x):
    return math.ceil(_num(x, "ceil"))


def _floor(x):
    return math.floor(_num(x, "floor"))


def _round(x, nd=None):
    _num(x, "round")
    return round(x) if nd is None else round(x, int(_num(nd, "round")))


def _log2(x):
    if _num(x, "log2") <= 0:
        raise ValueError("log2() of a number <= 0")
    return math.log2(x)


def _sqrt(x):
    if _num(x, "sqrt") < 0:
        raise ValueError("sqrt() of a negative number")
    return math.sqrt(x)


def _int(x):
    if isinstance(x, str):
        return int(x.strip())
    return int(x)


def _str(x):
    return format_value(x)


def _min(*xs):
    if not xs:
        raise TypeError("min() needs at least one argument")
    return min(xs)


def _max(*xs):
    if not xs:
        raise TypeError("max() needs at least one argument")
    return max(xs)


#: The functions an expression may call, with their (min, max) argument counts.
FUNCTIONS: dict[str, tuple[Callable, int, int | None]] = {
    "ceil": (_ceil, 1, 1),
    "floor": (_floor, 1, 1),
    "round": (_round, 1, 2),
    "abs": (lambda x: abs(_num(x, "abs")), 1, 1),
    "min": (_min, 1, None),
    "max": (_max, 1, None),
    "log2": (_log2, 1, 1),
    "sqrt": (_sqrt, 1, 1),
    "int": (_int, 1, 1),
    "float": (lambda x: float(x), 1, 1),
    "str": (_str, 1, 1),
}


def type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "real"
    if isinstance(v, str):
        return "string"
    return type(v).__name__


_INT_BITS = INT_LIMIT.bit_length() - 1


def format_value(v: Any) -> str:
    """How a value is written into a template: booleans as true/false, floats by repr."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _pow(a, b):
    # Bound the result before computing it: |a| ** b has about b * bit_length(|a|) bits,
    # and `((2 ** 4096) ** 4096) ** 4096` must not be computed to be refused.
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 \
            and b * (abs(a).bit_length() - 1) >= _INT_BITS:
        raise OverflowError(f"{a} ** {b} is too large (integers stay below 2**{_INT_BITS} in magnitude)")
    return a ** b


def _bounded(value):
    """An integer result of 2**63 or more in magnitude is an error (literals have the same
    bound, Balsam's columns a smaller one); operands are then always small, so no
    operation of the language can build a huge integer."""
    if type(value) is int and not -INT_LIMIT < value < INT_LIMIT:
        raise OverflowError(f"integer result out of range (at least 2**{_INT_BITS} in magnitude)")
    return value


_BINOPS: dict[str, Callable] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, "**": _pow,
}
_CMPOPS: dict[str, Callable] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


def _check_operands(op: str, a: Any, b: Any) -> None:
    # Python would happily do "ab" * 3 or True + 1; the language keeps types honest.
    if op in ("==", "!="):
        return
    a_num = isinstance(a, (int, float)) and not isinstance(a, bool)
    b_num = isinstance(b, (int, float)) and not isinstance(b, bool)
    if a_num and b_num:
        return
    if op in ("+", "<", "<=", ">", ">=") and isinstance(a, str) and isinstance(b, str):
        return
    raise TypeError(f"`{op}` does not apply to {type_name(a)} and {type_name(b)}")


def free_names(expr: n.Expr) -> list[str]:
    """The variable names an expression reads, in first-use order (function names excluded)."""
    out: list[str] = []
    for e in _in_order(expr):
        if isinstance(e, n.Name) and e.id not in out:
            out.append(e.id)
    return out


def _in_order(expr: n.Expr):
    yield expr
    if isinstance(expr, n.Call):
        for a in expr.args:
            yield from _in_order(a)
        for k in expr.kwargs:
            yield from _in_order(k.value)
    elif isinstance(expr, (n.BinOp, n.BoolOp, n.Compare)):
        yield from _in_order(expr.left)
        yield from _in_order(expr.right)
    elif isinstance(expr, n.UnaryOp):
        yield from _in_order(expr.operand)
    elif isinstance(expr, n.IfExp):
        yield from _in_order(expr.test)
        yield from _in_order(expr.body)
        yield from _in_order(expr.orelse)
    elif isinstance(expr, (n.TupleExpr,)):
        for i in expr.items:
            yield from _in_order(i)
    elif isinstance(expr, n.Where):
        yield from _in_order(expr.base)
        yield from _in_order(expr.cond)


Env = Mapping[str, Any]
Fn = Callable[[Env], Any]


def _wrap(span: Span, fn: Callable[..., Any], *parts: Fn) -> Fn:
    def run(env: Env):
        values = [p(env) for p in parts]
        try:
            return _bounded(fn(*values))
        except EvalError:
            raise
        except (ArithmeticError, TypeError, ValueError) as exc:
            msg = str(exc) or type(exc).__name__
            if isinstance(exc, ZeroDivisionError):
                msg = "division by zero"
            raise EvalError(msg, span) from None

    return run


def compile_expr(expr: n.Expr) -> Fn:
    """Compile an expression AST into a function of an environment mapping names to values."""
    if isinstance(expr, (n.Num, n.Str, n.Bool)):
        value = expr.value
        return lambda env: value
    if isinstance(expr, n.Name):
        name, span = expr.id, expr.span

        def lookup(env: Env):
            try:
                return env[name]
            except KeyError:
                raise EvalError(f"unknown name `{name}`", span) from None

        return lookup
    if isinstance(expr, n.BinOp):
        op = expr.op
        f = _BINOPS[op]

        def binop(a, b):
            _check_operands(op, a, b)
            return f(a, b)

        return _wrap(expr.span, binop, compile_expr(expr.left), compile_expr(expr.right))
    if isinstance(expr, n.Compare):
        op = expr.op
        f = _CMPOPS[op]

        def cmp(a, b):
            _check_operands(op, a, b)
            return f(a, b)

        return _wrap(expr.span, cmp, compile_expr(expr.left), compile_expr(expr.right))
    if isinstance(expr, n.UnaryOp):
        inner = compile_expr(expr.operand)
        if expr.op == "not":
            return lambda env: not _truth(inner(env), expr.operand.span)

        sign = -1 if expr.op == "-" else 1

        def neg(a):
            if isinstance(a, bool) or not isinstance(a, (int, float)):
                raise TypeError(f"unary `{expr.op}` does not apply to {type_name(a)}")
            return -a if sign < 0 else a

        return _wrap(expr.span, neg, inner)
    if isinstance(expr, n.BoolOp):
        left, right = compile_expr(expr.left), compile_expr(expr.right)
        lspan = expr.left.span
        if expr.op == "and":
            return lambda env: right(env) if _truth(left(env), lspan) else False
        return lambda env: True if _truth(left(env), lspan) else right(env)
    if isinstance(expr, n.IfExp):
        body, test, orelse = compile_expr(expr.body), compile_expr(expr.test), compile_expr(expr.orelse)
        tspan = expr.test.span
        return lambda env: body(env) if _truth(test(env), tspan) else orelse(env)
    if isinstance(expr, n.Call):
        if expr.func not in FUNCTIONS:
            span = expr.func_span
            fname = expr.func

            def unknown(env):
                raise EvalError(f"unknown function `{fname}`", span)

            return unknown
        if expr.kwargs:
            kw = expr.kwargs[0]

            def kwerr(env):
                raise EvalError(f"`{expr.func}` takes no keyword arguments", kw.span)

            return kwerr
        fn, lo, hi = FUNCTIONS[expr.func]
        if len(expr.args) < lo or (hi is not None and len(expr.args) > hi):
            want = f"{lo}" if lo == hi else (f"{lo} to {hi}" if hi else f"at least {lo}")
            msg = f"`{expr.func}` takes {want} argument(s), got {len(expr.args)}"

            def arity(env):
                raise EvalError(msg, expr.span)

            return arity
        return _wrap(expr.span, fn, *[compile_expr(a) for a in expr.args])
    span = expr.span

    def unsupported(env):
        raise EvalError("this form is not an expression here", span)

    return unsupported


def _truth(v: Any, span: Span) -> bool:
    if isinstance(v, bool):
        return v
    raise EvalError(f"a condition must be true or false, got {type_name(v)} `{format_value(v)}`", span)


@dataclass
class CompiledExpr:
    """A compiled expression memoised on the values of the names it reads.

    Resource rules usually read one or two parameters (batch_size), so a 100k-point sweep
    evaluates each distinct combination once.
    """

    expr: n.Expr
    fn: Fn
    names: tuple[str, ...]

    def __init__(self, expr: n.Expr):
        self.expr = expr
        self.fn = compile_expr(expr)
        self.names = tuple(free_names(expr))
        self._memo: dict[tuple, Any] = {}

    def __call__(self, env: Env) -> Any:
        try:
            key = tuple((type(env[k]), env[k]) for k in self.names)
        except KeyError:
            return self.fn(env)
        try:
            return self._memo[key]
        except KeyError:
            pass
        value = self.fn(env)
        if len(self._memo) < 65536:
            self._memo[key] = value
        return value
