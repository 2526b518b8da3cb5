"""lark tree -> AST nodes (a lark Transformer with positions), string escapes decoded."""
from __future__ import annotations

import ast
import re

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import VisitError

from dhflow.compiler.parse import nodes as n
from dhflow.compiler.diagnostics import Diagnostic, DiagnosticError
from dhflow.compiler.source import SourceFile, Span

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_ESC = re.compile(r"\\(.)", re.S)


def _tok_span(src: SourceFile, tok: Token) -> Span:
    return src.span(tok.start_pos, tok.end_pos)


class _Lower(Transformer):
    def __init__(self, src: SourceFile):
        super().__init__()
        self.src = src
        self.errors: list[Diagnostic] = []

    def _span(self, meta) -> Span:
        return self.src.span(meta.start_pos, meta.end_pos)

    # -- atoms
    def number(self, children):
        tok = children[0]
        try:
            # Python's own literal syntax (ast.literal_eval parses, never executes): rejects
            # `007`, `1__0`, `1_` exactly as Python does, accepts 0x/0o/0b.
            value: int | float = ast.literal_eval(tok.value)
            if not isinstance(value, (int, float)):
                raise ValueError(tok.value)
        except (ValueError, SyntaxError):
            self.errors.append(Diagnostic("DH001", f"invalid number `{tok.value}`", _tok_span(self.src, tok),
                                          help="numbers are written as in Python: 20, 0.5, 1e-4, 1_000"))
            value = 0
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))) \
                or isinstance(value, int) and abs(value) >= 2 ** 63:
            # Out of the range every later stage (and Balsam's integer columns) can represent.
            self.errors.append(Diagnostic("DH001", f"number `{tok.value}` is out of range", _tok_span(self.src, tok)))
            value = 0
        return n.Num(value, _tok_span(self.src, tok))

    def string(self, children):
        tok = children[0]
        raw = tok.value[1:-1]

        def repl(m: re.Match) -> str:
            ch = m.group(1)
            if ch in _ESCAPES:
                return _ESCAPES[ch]
            pos = tok.start_pos + 1 + m.start()
            self.errors.append(Diagnostic("DH005", f"invalid escape `\\{ch}` in a string",
                                          self.src.span(pos, pos + 2),
                                          help='the escapes are \\" \\\\ \\n \\t'))
            return ch

        nul = raw.find("\0")
        if nul >= 0:
            # PostgreSQL text cannot hold NUL (the submit would fail in the database); no
            # escape writes one, so it is the file's own character: point at it.
            pos = tok.start_pos + 1 + nul
            self.errors.append(Diagnostic("DH216", "a NUL character in a string: the database cannot store it",
                                          self.src.span(pos, pos + 1),
                                          help="remove it (an editor may show it as ^@ or not at all)"))
        return n.Str(_ESC.sub(repl, raw), _tok_span(self.src, tok))

    @v_args(meta=True)
    def true(self, meta, _children):
        return n.Bool(True, self._span(meta))

    @v_args(meta=True)
    def false(self, meta, _children):
        return n.Bool(False, self._span(meta))

    def name(self, children):
        tok = children[0]
        return n.Name(tok.value, _tok_span(self.src, tok))

    @v_args(meta=True)
    def call(self, meta, children):
        func = children[0]
        args, kwargs = [], []
        for c in children[1:]:
            if c is None:
                continue
            if isinstance(c, n.KwArg):
                kwargs.append(c)
            else:
                if kwargs:
                    self.errors.append(Diagnostic("DH001", "positional argument after a keyword argument", c.span))
                args.append(c)
        return n.Call(func.value, _tok_span(self.src, func), tuple(args), tuple(kwargs), self._span(meta))

    @v_args(meta=True)
    def kwarg(self, meta, children):
        return n.KwArg(children[0].value, children[1], self._span(meta))

    # -- operators
    @v_args(meta=True)
    def binop(self, meta, c):
        return n.BinOp(c[1].value, c[0], c[2], self._span(meta))

    @v_args(meta=True)
    def compare(self, meta, c):
        # Python semantics: `a < b <= c` is `a < b and b <= c`.
        links = [n.Compare(c[i + 1].value, c[i], c[i + 2],
                           self.src.span(c[i].span.start, c[i + 2].span.end)) for i in range(0, len(c) - 2, 2)]
        expr = links[0]
        for link in links[1:]:
            expr = n.BoolOp("and", expr, link, self.src.span(expr.span.start, link.span.end))
        return expr if len(links) > 1 else n.Compare(expr.op, expr.left, expr.right, self._span(meta))

    @v_args(meta=True)
    def unary(self, meta, c):
        return n.UnaryOp(c[0].value, c[1], self._span(meta))

    @v_args(meta=True)
    def not_(self, meta, c):
        return n.UnaryOp("not", c[0], self._span(meta))

    @v_args(meta=True)
    def and_(self, meta, c):
        return n.BoolOp("and", c[0], c[1], self._span(meta))

    @v_args(meta=True)
    def or_(self, meta, c):
        return n.BoolOp("or", c[0], c[1], self._span(meta))

    @v_args(meta=True)
    def ifexp(self, meta, c):
        return n.IfExp(c[0], c[1], c[2], self._span(meta))

    @v_args(meta=True)
    def tuple(self, meta, c):
        return n.TupleExpr(tuple(c), self._span(meta))

    @v_args(meta=True)
    def where(self, meta, c):
        return n.Where(c[0], c[1], self._span(meta))

    @v_args(meta=True)
    def to(self, meta, c):
        return n.To(tuple(c[:-1]), c[-1], self._span(meta))

    # -- statements
    @v_args(meta=True)
    def entry(self, meta, c):
        key, label, value = c
        return n.Entry(key.value, _tok_span(self.src, key), label.value if label else None,
                       _tok_span(self.src, label) if label else None, value,
                       self.src.span(key.start_pos, value.span.end))

    @v_args(meta=True)
    def section(self, meta, c):
        key, label, suite = c
        head_end = (label or key).end_pos
        return n.Section(key.value, _tok_span(self.src, key), label.value if label else None,
                         _tok_span(self.src, label) if label else None, tuple(suite or ()),
                         self.src.span(key.start_pos, head_end))

    def suite(self, c):
        return [s for s in c if isinstance(s, (n.Entry, n.Section))]

    def start(self, c):
        return n.Document(tuple(s for s in c if isinstance(s, (n.Entry, n.Section))))


def _deepest_line(src: SourceFile, tree: Tree) -> Span:
    """The span of the longest top-level line (where the deep nesting almost surely is)."""
    lines = src.text.split("\n")
    i = max(range(len(lines)), key=lambda k: len(lines[k])) if lines else 0
    start = sum(len(x) + 1 for x in lines[:i])
    stripped = len(lines[i]) - len(lines[i].lstrip()) if lines else 0
    return src.span(start + stripped, start + max(len(lines[i]), stripped + 1))


def to_ast(src: SourceFile, tree: Tree) -> n.Document:
    """Lower a parse tree to the AST; lexical errors (bad escapes, numbers) stop here."""
    lowering = _Lower(src)
    try:
        doc = lowering.transform(tree)
    except (VisitError, RecursionError) as exc:
        # lark wraps errors raised while transforming; the only one expected is a
        # RecursionError from absurdly deep nesting. Point at the statement it came from.
        orig = getattr(exc, "orig_exc", exc)
        if not isinstance(orig, RecursionError):
            raise
        raise DiagnosticError([Diagnostic("DH001", "expression nested too deeply", _deepest_line(src, tree),
                                          help="split it into simpler expressions")]) from None
    if lowering.errors:
        raise DiagnosticError(lowering.errors)
    return doc
