"""The canonical layout of a .dhflow file (`dhflow fmt`, LSP formatting).

Pure and token based: the file must parse (so the layout cannot change what it means), then
each logical line (a statement, with newlines inside parentheses joined) is re-spaced from its
tokens. The rules:

- four spaces per block level; `key label: value` with one space after the colon;
- inside values: one space around binary operators and keywords, none inside parentheses,
  before `,` or `(` of a call, around a keyword argument's `=` or after a unary sign;
- numbers and strings exactly as written (their text is what the compiler reads);
- the values of a `space:` block aligned in one column (blank lines start a new
  column), trailing comments of consecutive lines aligned two spaces after the longest line;
- comments kept where they were: a trailing comment stays on its line, a comment line keeps
  its place and takes the indentation of the block it sits in; a statement with a comment
  inside its parentheses is kept as written;
- at most one blank line in a row, none at the start or end, `\\n` line endings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from dhflow.compiler.diagnostics import DiagnosticError
from dhflow.compiler.source import SourceFile
from dhflow.compiler.parse.syntax import parse_tree
from dhflow.compiler.fmt.tokens import Tok, tokenize

INDENT = "    "
#: Where the parser breaks lines (grammar/dhflow.lark's `_NL`); str.splitlines breaks at more.
_CODE_LINE_BREAK = re.compile(r"\r?\n")
#: Blocks whose entries are a table of parameters, aligned on the value column.
ALIGNED_BLOCKS = ("space",)


@dataclass
class _Line:
    """One logical line of the input."""

    indent: int = 0                      # width of the leading whitespace
    code: list[Tok] = field(default_factory=list)
    trailing: str | None = None          # a comment after the code, at paren depth 0
    interior: bool = False               # a comment inside parentheses
    comment_only: str | None = None      # the text of a comment line
    raw: str = ""                        # the text from the first token to the end
    level: int = 0
    block: str | None = None             # key of the enclosing section header

    @property
    def blank(self) -> bool:
        return not self.code and self.comment_only is None


def _logical_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    cur = _Line()
    depth = 0
    at_start = True
    first = None
    for tok in tokenize(text):
        if tok.kind == "NEWLINE" and depth == 0:
            if first is not None:
                cur.raw = text[first:tok.start]
            lines.append(cur)
            cur, at_start, first = _Line(), True, None
            continue
        if tok.kind in ("SPACE", "NEWLINE"):
            if at_start and tok.kind == "SPACE":
                cur.indent = len(tok.text.expandtabs(8))
            continue
        at_start = False
        if first is None:
            first = tok.start
        if tok.kind == "COMMENT":
            if depth > 0:
                cur.interior = True
            elif cur.code:
                cur.trailing = tok.text.rstrip()
            else:
                cur.comment_only = tok.text.rstrip()
            continue
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth = max(0, depth - 1)
        cur.code.append(tok)
    if first is not None:
        cur.raw = text[first:]
    if cur.code or cur.comment_only is not None:
        lines.append(cur)
    return lines


def _assign_levels(lines: list[_Line]) -> None:
    """Block level of every code line (from indentation, which the parser has validated),
    then of every comment line (the block it sits in, between its neighbours' levels)."""
    widths: list[int] = [0]
    keys: list[str | None] = [None]
    prev_header = False
    for ln in lines:
        if not ln.code:
            continue
        if ln.indent > widths[-1] and prev_header:
            widths.append(ln.indent)
        while ln.indent < widths[-1]:
            widths.pop()
        ln.level = len(widths) - 1
        ln.block = keys[ln.level] if ln.level < len(keys) else None
        prev_header = ln.code[-1].text == ":"
        del keys[ln.level + 1:]
        if prev_header:
            keys.append(ln.code[0].text)
    # Comment lines: the deepest level their column reaches, clamped so that they stay inside
    # the block around them.
    stack: list[int] = [0]
    prev_level, prev_is_header = 0, False
    for i, ln in enumerate(lines):
        if ln.code:
            del stack[ln.level + 1:]
            while len(stack) <= ln.level:
                stack.append(ln.indent)
            stack[ln.level] = ln.indent
            prev_level, prev_is_header = ln.level, ln.code[-1].text == ":"
            continue
        if ln.comment_only is None:
            continue
        nxt = next((m.level for m in lines[i + 1:] if m.code), 0)
        by_column = sum(1 for w in stack[1:prev_level + 1] if ln.indent >= w)
        if prev_is_header and ln.indent > stack[min(prev_level, len(stack) - 1)]:
            by_column = prev_level + 1
        hi = max(nxt, prev_level + (1 if prev_is_header else 0))
        ln.level = min(max(by_column, nxt), hi)


def _unary_at(toks: list[Tok], i: int) -> bool:
    t = toks[i]
    if t.text not in ("-", "+"):
        return False
    if i == 0:
        return True
    p = toks[i - 1]
    return p.text in ("(", ",", "=") or (p.kind == "OP" and p.text != ")") or \
        (p.kind == "KEYWORD" and p.text not in ("true", "false"))


def format_value(toks: list[Tok]) -> str:
    """The canonical spacing of an expression's tokens."""
    out: list[str] = []
    for i, t in enumerate(toks):
        if i:
            p = toks[i - 1]
            tight = (t.text in (")", ",") or p.text == "(" or t.text == "=" or p.text == "="
                     or (t.text == "(" and p.kind == "NAME") or _unary_at(toks, i - 1))
            if not tight:
                out.append(" ")
        out.append(t.text)
    return "".join(out)


def _header(toks: list[Tok]) -> tuple[str, list[Tok]]:
    colon = next(i for i, t in enumerate(toks) if t.text == ":")
    return " ".join(t.text for t in toks[:colon]) + ":", toks[colon + 1:]


def _render_code(lines: list[_Line]) -> list[tuple[_Line, str]]:
    """Each code line's text without its trailing comment; table blocks aligned."""
    rendered: dict[int, str] = {}
    run: list[tuple[int, str, str]] = []

    def flush():
        width = max((len(h) for _, h, _ in run), default=0)
        for idx, head, value in run:
            rendered[idx] = f"{head.ljust(width)} {value}"
        run.clear()

    for i, ln in enumerate(lines):
        if not ln.code:
            if ln.blank:
                flush()
            continue
        indent = INDENT * ln.level
        if ln.interior:
            flush()
            # the parser's line breaks only: a vertical tab or a form feed in a comment is text
            rendered[i] = indent + "\n".join(s.rstrip() for s in _CODE_LINE_BREAK.split(ln.raw))
            continue
        head, value = _header(ln.code)
        if not value:
            flush()
            rendered[i] = indent + head
        elif ln.block in ALIGNED_BLOCKS:
            if run and (lines[run[-1][0]].block != ln.block or lines[run[-1][0]].level != ln.level):
                flush()
            run.append((i, indent + head, format_value(value)))
        else:
            flush()
            rendered[i] = f"{indent}{head} {format_value(value)}"
    flush()
    return [(ln, rendered.get(i, "")) for i, ln in enumerate(lines)]


def _align_comments(out: list[tuple[str, str | None]]) -> list[str]:
    """Append trailing comments, aligned over each run of consecutive commented lines."""
    result: list[str] = []
    i = 0
    while i < len(out):
        code, comment = out[i]
        if comment is None:
            result.append(code)
            i += 1
            continue
        j = i
        while j < len(out) and out[j][1] is not None:
            j += 1
        col = max(len(c) for c, _ in out[i:j]) + 2
        result.extend(f"{c.ljust(col)}{m}" for c, m in out[i:j])
        i = j
    return result


def format_text(text: str, path: str = "<string>") -> str:
    """The canonical layout of `text`; raises DiagnosticError when it does not parse."""
    if text.startswith("\ufeff"):
        text = text[1:]
    parse_tree(SourceFile.from_text(text, path))  # a file that does not parse is not touched
    lines = _logical_lines(text)
    _assign_levels(lines)
    out: list[tuple[str, str | None]] = []
    blank_pending = False
    for ln, code in _render_code(lines):
        if ln.blank:
            blank_pending = bool(out)
            continue
        if blank_pending:
            out.append(("", None))
            blank_pending = False
        if ln.comment_only is not None:
            out.append((INDENT * ln.level + ln.comment_only, None))
        else:
            out.append((code, None if ln.interior else ln.trailing))
    return "\n".join(_align_comments(out)) + "\n" if out else ""


def is_formatted(text: str) -> bool:
    """Whether `text` is already in the canonical layout."""
    try:
        return format_text(text) == text
    except DiagnosticError:
        return False
