"""Size and depth limits of the source text, checked before and right after parsing.

The parser's cost grows with tokens (~15 us each) and later stages recurse over the tree,
so an absurd line, token count or nesting gets one diagnostic here instead of a hang or a
RecursionError later (limits in :mod:`dhflow.compiler.limits`).
"""
from __future__ import annotations

import re

from lark import Tree

from dhflow.compiler.diagnostics import Diagnostic, DiagnosticError
from dhflow.compiler.limits import MAX_DEPTH, MAX_LINE_CHARS, MAX_TOKENS
from dhflow.compiler.source import SourceFile

# Strings and comments are skipped (a `(` in them is text); every other match is a token
# or a parenthesis. Counting with a C-level regex keeps this pass linear and fast.
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[A-Za-z_0-9.]+|\*\*|//|[<>=!]=|[^\s]')
_LONG_LINE = re.compile(r"^[^\n]{%d,}" % (MAX_LINE_CHARS + 1), re.M)


def check_text(src: SourceFile) -> None:
    """Refuse lines over MAX_LINE_CHARS, more than MAX_TOKENS tokens and parentheses
    nested over MAX_DEPTH (DH008, DH009), before the parser sees the text."""
    text = src.text
    m = _LONG_LINE.search(text)
    if m:
        at = m.start() + MAX_LINE_CHARS
        line = src.position(at)[0]
        raise DiagnosticError([Diagnostic(
            "DH008", f"line {line} is longer than {MAX_LINE_CHARS:,} characters", src.span(at, at + 1),
            help="split it: inside parentheses an expression may continue on the next lines")])
    depth = count = 0
    for tok in _TOKENS.finditer(text):
        ch = tok.group()
        if ch[0] == "#":
            continue
        count += 1
        if count > MAX_TOKENS:
            raise DiagnosticError([Diagnostic(
                "DH008", f"the file has more than {MAX_TOKENS:,} tokens", src.span(tok.start(), tok.end()),
                help="generate fewer values here (for example a points() file instead of a huge choice)")])
        if ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise DiagnosticError([_too_deep(src, tok.start(), "parentheses are")])
        elif ch == ")":
            depth = max(0, depth - 1)


def _too_deep(src: SourceFile, at: int, what: str) -> Diagnostic:
    return Diagnostic("DH009", f"{what} nested more than {MAX_DEPTH} levels deep", src.span(at, at + 1),
                      help="split it into simpler expressions")


def check_depth(src: SourceFile, tree: Tree) -> None:
    """Refuse a parse tree deeper than MAX_DEPTH (blocks in blocks, operator chains such
    as `- - - 1` or `1 + 1 + ... + 1`): later stages walk it recursively. Iterative."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            at = meta.start_pos if not meta.empty else 0
            raise DiagnosticError([_too_deep(src, at, "expressions or blocks are")])
        stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
