"""The AST: frozen dataclasses, every node with the span of the text it came from."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from dhflow.compiler.source import Span


# ---- expressions -------------------------------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: int | float
    span: Span


@dataclass(frozen=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True)
class KwArg:
    name: str
    value: "Expr"
    span: Span


@dataclass(frozen=True)
class Call:
    func: str
    func_span: Span
    args: tuple["Expr", ...]
    kwargs: tuple[KwArg, ...]
    span: Span


@dataclass(frozen=True)
class BinOp:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class UnaryOp:
    op: str  # "-", "+", "not"
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and", "or"
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class IfExp:
    body: "Expr"
    test: "Expr"
    orelse: "Expr"
    span: Span


@dataclass(frozen=True)
class TupleExpr:
    items: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True)
class Where:
    base: "Expr"
    cond: "Expr"
    span: Span


@dataclass(frozen=True)
class To:
    """`"a", "b" to "URL"` (`stage_out:`): items and a destination."""

    items: tuple["Expr", ...]
    url: "Expr"
    span: Span


Expr = Union[Num, Str, Bool, Name, Call, BinOp, UnaryOp, BoolOp, Compare, IfExp, TupleExpr, Where, To]


# ---- statements --------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """`key [label]: value` on one line."""

    key: str
    key_span: Span
    label: str | None
    label_span: Span | None
    value: Expr
    span: Span


@dataclass(frozen=True)
class Section:
    """`key [label]:` followed by an indented body (possibly empty)."""

    key: str
    key_span: Span
    label: str | None
    label_span: Span | None
    body: tuple["Stmt", ...]
    span: Span


Stmt = Union[Entry, Section]


@dataclass(frozen=True)
class Document:
    stmts: tuple[Stmt, ...]


def walk(expr: Expr):
    """Yield an expression and all its sub-expressions, depth first."""
    stack = [expr]
    while stack:
        e = stack.pop()
        yield e
        if isinstance(e, Call):
            stack.extend(e.args)
            stack.extend(k.value for k in e.kwargs)
        elif isinstance(e, (BinOp, BoolOp, Compare)):
            stack.extend((e.left, e.right))
        elif isinstance(e, UnaryOp):
            stack.append(e.operand)
        elif isinstance(e, IfExp):
            stack.extend((e.body, e.test, e.orelse))
        elif isinstance(e, TupleExpr):
            stack.extend(e.items)
        elif isinstance(e, Where):
            stack.extend((e.base, e.cond))
        elif isinstance(e, To):
            stack.extend((*e.items, e.url))
